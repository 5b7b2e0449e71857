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
