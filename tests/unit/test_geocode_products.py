"""Radar products name their latitude and longitude rasters, so that geocode needs only the
file: ISCE2 images (lat.rdr/lon.rdr in ../geom_reference; GDAL opens the image itself, so
geocode asks the product reader) and MintPy files converted by load_product
(core/products/resolve.py; geometryRadar.h5 latitude/longitude in the metadata)."""

import h5py
import numpy as np

from displacement_toolkit.core import geocode as gc
from displacement_toolkit.core.products import open_product
from displacement_toolkit.core.products.resolve import resolve_raster
from displacement_toolkit.core.raster_io import raster_info, read_block
from displacement_toolkit.core.synthetic_geometry import RadarGeometry

from .test_products_isce2 import write_isce


def _check_geocoded(path, geometry, truth_of_lonlat, tmp_path, band=1):
    out = str(tmp_path / "geo.tif")
    gc.geocode(path, None, out, resolution=100.0)
    info = raster_info(out)
    got = read_block(out, band).astype(np.float64)
    gt = info.geotransform
    r, c = np.mgrid[0:info.height, 0:info.width] + 0.5
    lon, lat = gt[0] + c * gt[1], gt[3] + r * gt[5]
    col, row = geometry.to_radar(lon, lat)
    inside = (col > 0.5) & (col < geometry.width - 0.5) & (row > 0.5) & (row < geometry.height - 0.5)
    assert inside.sum() > 20
    assert np.isfinite(got[inside]).all()
    # linear in lon/lat: bilinear interpolation through the radar grid is exact up to the
    # grid's curvature (a few 1e-4 here)
    assert np.abs(got - truth_of_lonlat(lon, lat))[inside].max() < 5e-3
    return info


def test_isce2_radar_interferogram_geocodes_from_its_metadata(tmp_path):
    h, w = 5, 7
    g = RadarGeometry(w, h, range_pixel=300.0, azimuth_pixel=400.0, skew=30.0)
    lon, lat = g.lonlat(*g.pixel_centres())
    merged, geom = tmp_path / "merged", tmp_path / "geom_reference"
    merged.mkdir()
    geom.mkdir()
    write_isce(geom / "lat.rdr", [lat], dtype="DOUBLE")
    write_isce(geom / "lon.rdr", [lon], dtype="DOUBLE")
    phase = (100.0 * (lon - g.lon0) + 50.0 * (lat - g.lat0) + 1.0).astype(np.float32)
    write_isce(merged / "filt_topophase.unw", [np.full((h, w), 5.0, np.float32), phase])
    path = str(merged / "filt_topophase.unw")
    product = open_product(path)
    assert product.geolocation[gc.LATITUDE_KEY] == str(geom / "lat.rdr")
    assert product.geolocation[gc.LONGITUDE_KEY] == str(geom / "lon.rdr")
    # GDAL opens the image with its .xml (band 2 = phase): geocode asks the product reader
    _check_geocoded(path, g, lambda lo, la: 100.0 * (lo - g.lon0) + 50.0 * (la - g.lat0) + 1.0,
                    tmp_path, band=2)


def test_mintpy_radar_velocity_geocodes_from_geometry_radar(tmp_path):
    h, w = 6, 8
    g = RadarGeometry(w, h, range_pixel=300.0, azimuth_pixel=400.0, skew=-20.0)
    lon, lat = g.lonlat(*g.pixel_centres())
    velocity = (0.1 * (lon - g.lon0) - 0.2 * (lat - g.lat0)).astype(np.float32)
    attrs = {"LENGTH": str(h), "WIDTH": str(w), "UNIT": "m/year"}
    with h5py.File(tmp_path / "velocity.h5", "w") as f:
        f.attrs.update(dict(attrs, FILE_TYPE="velocity"))
        f.create_dataset("velocity", data=velocity)
    with h5py.File(tmp_path / "geometryRadar.h5", "w") as f:
        f.attrs.update(dict(attrs, FILE_TYPE="geometry"))
        f.create_dataset("incidenceAngle", data=np.full((h, w), 35.0, np.float32))
        f.create_dataset("latitude", data=lat.astype(np.float32))
        f.create_dataset("longitude", data=lon.astype(np.float32))
    path, product = resolve_raster(str(tmp_path / "velocity.h5"), str(tmp_path / "work"))
    assert product.geolocation[gc.LATITUDE_KEY].endswith('geometryRadar.h5"://latitude')
    info = _check_geocoded(path, g, lambda lo, la: 0.1 * (lo - g.lon0) - 0.2 * (la - g.lat0),
                           tmp_path)
    assert info.band_metadata[0]["units"] == "m/yr"    # the product reader's unit name
