"""Generic GDAL rasters on real files: the geepers Kilauea crop of an OPERA-style DISP-S1
product (tests/data/geepers_hawaii, see its SOURCE.txt): single-date displacement GeoTIFFs
named displacement_<reference>_<secondary>.tif and a 3-band LOS unit-vector raster."""

from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from displacement_toolkit.core.products import ProductError, open_product

HAWAII = Path(__file__).resolve().parents[1] / "data" / "geepers_hawaii" / "hawaii"


def test_displacement_geotiff_dates_from_the_name():
    p = open_product(str(HAWAII / "displacement_20160711_20160804.tif"))
    layer = p.layers[0]
    assert [d.isoformat() for d in layer.dates] == ["2016-08-04"]
    assert p.reference_date.isoformat() == "2016-07-11"
    assert p.geotransform == pytest.approx((252930.0, 30.0, 0.0, 2146890.0, 0.0, -30.0))
    ds = gdal.Open(str(HAWAII / "displacement_20160711_20160804.tif"))
    raw = ds.GetRasterBand(1).ReadAsArray().astype(np.float32)
    np.testing.assert_array_equal(p.read(layer.name), raw)
    with pytest.raises(ProductError, match="set the incidence angle parameter"):
        p.incidence()


def test_los_enu_raster_gives_per_pixel_geometry():
    p = open_product(str(HAWAII / "hawaii_los_enu.tif"))
    assert p.layer_names == ["los_east", "los_north", "los_up"]
    assert p.geometry.enu_layers == ("los_east", "los_north", "los_up")
    ds = gdal.Open(str(HAWAII / "hawaii_los_enu.tif"))
    e, n, u = (ds.GetRasterBand(b).ReadAsArray().astype(np.float64) for b in (1, 2, 3))
    valid = u != 0
    inc, az = p.incidence(), p.los_azimuth()
    norm = np.sqrt(e ** 2 + n ** 2 + u ** 2)
    np.testing.assert_allclose(inc[valid], np.degrees(np.arccos(u[valid] / norm[valid])), atol=1e-6)
    np.testing.assert_allclose(az[valid], np.degrees(np.arctan2(-e[valid], n[valid])), atol=1e-6)
    assert np.isnan(inc[~valid]).all()
    # Sentinel-1 ascending over Kilauea: incidence ~31-46 deg, LOS azimuth ~ +100 deg (satellite to the west)
    assert 30 < np.nanmin(inc) and np.nanmax(inc) < 47
    assert 95 < np.nanmedian(az) < 105
