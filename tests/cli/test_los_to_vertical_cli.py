"""displacement:los_to_vertical through the real qgis_process."""

import math

import numpy as np
import pytest

from displacement_toolkit.core.raster_io import raster_info, read_block

pytestmark = pytest.mark.cli


def test_phase_to_vertical_from_the_command_line(qgis_process, make_raster, tmp_path):
    wavelength = 0.05546576
    phase = np.full((8, 8), -4 * math.pi / wavelength * 0.01, np.float32)
    src = make_raster(phase, "unw.tif")
    out = tmp_path / "up.tif"
    result = qgis_process("run", "displacement:los_to_vertical", "--", f"INPUT={src}", "QUANTITY=2",
                          "PHASE_SIGN=1", "INCIDENCE_ANGLE=60", "OUTPUT_UNITS=2", f"OUTPUT={out}",
                          json_output=True)
    assert result["results"]["MASKED_PIXELS"] == 0
    # 1 cm toward the satellite at 60 degrees incidence = 20 mm up
    assert np.allclose(read_block(str(out)), 20.0, rtol=1e-5)
    meta = raster_info(str(out)).band_metadata[0]
    assert meta["units"] == "mm" and meta["phase_convention"].startswith("mintpy")
    assert (tmp_path / "up.qml").exists()


def test_mintpy_velocity_h5_path_from_the_command_line(qgis_process, tmp_path):
    """A MintPy velocity.h5 typed as INPUT: read as a product, geometry from geometryGeo.h5."""
    from ..processing.test_los_to_vertical_algorithm import MH, MW, write_mintpy

    r, c = np.mgrid[0:MH, 0:MW]
    vel = 0.002 * (r - c) + 0.01
    inc = 30.0 + 1.5 * c
    src = write_mintpy(tmp_path / "mintpy", vel, inc, np.full((MH, MW), 102.0))
    out = tmp_path / "up.tif"
    qgis_process("run", "displacement:los_to_vertical", "--", f"INPUT={src}", "QUANTITY=1",
                 "OUTPUT_UNITS=2", f"OUTPUT={out}", json_output=True)
    assert np.allclose(read_block(str(out)), 1000 * vel / np.cos(np.radians(inc)), rtol=1e-5)
    assert raster_info(str(out)).geotransform == pytest.approx((-155.3, 0.001, 0.0, 19.5, 0.0, -0.001))
