"""ISCE2 geometry rasters (``los.rdr``) use 0 as fill outside the swath without declaring a
nodata value.  ISCE2's topo (components/zerodop/topozero, ``topo.f90``/``topozero.py``)
initialises its output arrays to 0 and writes only pixels that fall on the DEM, so a
pixel outside the swath has incidence 0 and azimuth 0; MintPy's prep_isce/readfile
likewise treat ``los.rdr`` 0 incidence as no data.  A real ISCE2 geometry must therefore
work out of the box, while a plain GeoTIFF with a declared 0 incidence is still refused.
"""

import numpy as np
import pytest
from qgis.core import QgsProcessingException

from displacement_toolkit.core.raster_io import raster_info, read_block

from ..conftest import run_algorithm
from ..unit.test_products_isce2 import H, W, field, write_isce

ALG = "displacement:los_to_vertical"
WAVELENGTH = 0.05546576   # WAVELENGTH_PRESET 0, Sentinel-1


def test_isce2_los_rdr_fill_is_nodata_not_an_incidence_of_zero(provider, tmp_path):
    d = tmp_path / "merged"
    d.mkdir()
    inc = field(30.0, 0.1)
    inc[0, :2] = 0.0                    # outside the swath: ISCE2's 0 fill in both bands
    az = np.full((H, W), -102.0, np.float32)
    az[0, :2] = 0.0
    write_isce(d / "los.rdr", [inc, az])
    phase = np.full((H, W), -2.0, np.float32)      # rad; LOS = -phase * lambda / (4 pi)
    unw = write_isce(d / "filt_topophase.unw", [np.ones((H, W), np.float32), phase])
    out = str(tmp_path / "up.tif")
    res = run_algorithm(ALG, {"INPUT": unw, "BAND": 2, "QUANTITY": 2, "WAVELENGTH_PRESET": 0,
                              "INCIDENCE": str(d / "los.rdr"), "OUTPUT": out})
    up = read_block(res["OUTPUT"], 1)
    assert raster_info(res["OUTPUT"]).width == W
    los_m = 2.0 * WAVELENGTH / (4 * np.pi)
    assert np.isnan(up[0, :2]).all()
    np.testing.assert_allclose(up[1:], los_m / np.cos(np.radians(inc[1:])), rtol=1e-5)
    np.testing.assert_allclose(up[0, 2:], los_m / np.cos(np.radians(inc[0, 2:])), rtol=1e-5)


def test_a_declared_zero_incidence_is_still_refused(provider, make_raster, tmp_path):
    inc = np.full((H, W), 35.0, np.float32)
    inc[0, 0] = 0.0
    path = make_raster(np.full((H, W), 0.01, np.float32), name="los.tif")
    incp = make_raster(inc, name="inc.tif")   # NaN nodata: 0 is a declared value
    with pytest.raises(QgsProcessingException, match=r"INCIDENCE.*1 of 35 valid pixels"):
        run_algorithm(ALG, {"INPUT": path, "INCIDENCE": incp, "OUTPUT": str(tmp_path / "bad.tif")})
    assert not (tmp_path / "bad.tif").exists()
