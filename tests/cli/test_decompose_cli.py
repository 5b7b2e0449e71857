"""displacement:decompose through the real qgis_process: the worked Sentinel-1 example."""

import numpy as np
import pytest

from displacement_toolkit.core.raster_io import crs_from_epsg, read_block, write_array

pytestmark = pytest.mark.cli


def test_qgis_process_decomposes_the_worked_example(qgis_process, tmp_path):
    gt, crs = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0), crs_from_epsg(32633)
    # LOS of (E, N, U) = (0.010, 0, -0.020) m for asc theta 34 / heading -12, desc 39 / -168
    write_array(str(tmp_path / "asc.tif"), np.full((5, 6), -0.0220504838, np.float32), gt, crs,
                band_metadata=[{"units": "m"}])
    write_array(str(tmp_path / "desc.tif"), np.full((5, 6), -0.0093872418, np.float32), gt, crs,
                band_metadata=[{"units": "m"}])
    out = qgis_process(
        "run", "displacement:decompose", "--",
        f"OBS_1={tmp_path / 'asc.tif'}", "INCIDENCE_ANGLE_1=34", "HEADING_ANGLE_1=-12",
        f"OBS_2={tmp_path / 'desc.tif'}", "INCIDENCE_ANGLE_2=39", "HEADING_ANGLE_2=-168",
        f"OUTPUT_EAST={tmp_path / 'east.tif'}", f"OUTPUT_UP={tmp_path / 'up.tif'}",
        f"OUTPUT_SIGMA={tmp_path / 'sigma.tif'}", json_output=True)
    assert out["results"]["OUTPUT_UP"] == str(tmp_path / "up.tif")
    assert read_block(str(tmp_path / "east.tif")) == pytest.approx(np.full((5, 6), 0.010), abs=1e-8)
    assert read_block(str(tmp_path / "up.tif")) == pytest.approx(np.full((5, 6), -0.020), abs=1e-8)
    assert (tmp_path / "up.qml").exists()
