"""displacement:offset_tracking through the real qgis_process (defaults, coarse search)."""

import numpy as np
import pytest

from displacement_toolkit.core import synthetic_sar as s
from displacement_toolkit.core.raster_io import raster_info, read_block

pytestmark = pytest.mark.cli


def test_large_shift_with_default_parameters(qgis_process, make_raster, tmp_path):
    ref, sec = s.speckle_pair((384, 384), 23.4, -11.6, coherence=0.95, seed=21)
    a = make_raster(ref, "ref.tif", geotransform=(500000.0, 2.5, 0.0, 4000000.0, 0.0, -2.5))
    b = make_raster(sec, "sec.tif", geotransform=(500000.0, 2.5, 0.0, 4000000.0, 0.0, -2.5))
    result = qgis_process("run", "displacement:offset_tracking", "--", f"REFERENCE={a}",
                          f"SECONDARY={b}", f"OUTPUT_X={tmp_path / 'x.tif'}",
                          f"OUTPUT_Y={tmp_path / 'y.tif'}",
                          f"OUTPUT_Y_METRES={tmp_path / 'ym.tif'}", json_output=True)
    out = result["results"]
    dx, dy = read_block(out["OUTPUT_X"]), read_block(out["OUTPUT_Y"])
    ok = np.isfinite(dx)
    assert ok.sum() >= 16
    np.testing.assert_allclose(dx[ok], 23.4, atol=0.02)
    np.testing.assert_allclose(dy[ok], -11.6, atol=0.02)
    np.testing.assert_allclose(read_block(out["OUTPUT_Y_METRES"])[ok], -11.6 * 2.5, atol=0.05)
    assert raster_info(out["OUTPUT_X"]).geotransform[1] == pytest.approx(80.0)
    assert (tmp_path / "x.qml").exists()
