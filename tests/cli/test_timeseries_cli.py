"""displacement:timeseries_velocity through the real qgis_process binary on the Kilauea series
(several INPUT values, dates in two formats)."""

import glob

import numpy as np
import pytest

from displacement_toolkit.core.raster_io import raster_info, read_block

from ..conftest import TEST_DATA

pytestmark = pytest.mark.cli

KILAUEA = sorted(glob.glob(str(TEST_DATA / "geepers_hawaii" / "hawaii" / "displacement_*.tif")))


def test_qgis_process_velocity_of_the_kilauea_series(qgis_process, tmp_path):
    outs = {k: str(tmp_path / f"{k.lower()}.tif") for k in ("VELOCITY", "VELOCITY_SIGMA",
                                                             "RMS_RESIDUAL")}
    args = [f"INPUT={p}" for p in KILAUEA] + ["START_DATE=20160711", "END_DATE=2016-09-21"]
    args += [f"{k}={v}" for k, v in outs.items()]
    result = qgis_process("run", "displacement:timeseries_velocity", "--", *args, json_output=True)
    res = result["results"]
    assert res["ACQUISITIONS"] == 6      # five files + the reference date at zero
    assert (res["START_DATE_USED"], res["END_DATE_USED"]) == ("2016-07-11", "2016-09-21")
    # independent least squares over all valid pixels
    t = np.array([0, 12, 24, 36, 60, 72]) / 365.25
    cube = np.stack([np.zeros((400, 400), np.float32)] + [read_block(p) for p in KILAUEA])
    cube = cube.reshape(6, -1).astype(np.float64)
    ok = np.isfinite(cube).all(axis=0)
    A = np.column_stack([np.ones(6), t])
    x = np.linalg.lstsq(A, cube[:, ok], rcond=None)[0]
    vel = read_block(outs["VELOCITY"]).reshape(-1)
    assert res["VALID_PIXELS"] == ok.sum()
    assert vel[ok] == pytest.approx(x[1], rel=1e-4, abs=1e-6)
    assert raster_info(outs["VELOCITY"]).band_metadata[0]["units"] == "m/yr"
    assert (tmp_path / "velocity_sigma.qml").exists()
