"""core.products.resolve: products used directly as algorithm inputs (GeoTIFF on demand)."""

import os
import shutil

import h5py
import numpy as np
import pytest
from osgeo import gdal

from displacement_toolkit.core import geometry as geo
from displacement_toolkit.core.products import ProductError
from displacement_toolkit.core.products.resolve import (
    geometry_raster,
    is_product_source,
    resolve_raster,
    split_source,
)
from displacement_toolkit.core.raster_io import read_block as read_band

PYRATE = os.path.join(os.path.dirname(__file__), "..", "data", "pyrate_sydney_envisat")
H, W = 6, 8
ATTRS = {"LENGTH": str(H), "WIDTH": str(W), "X_FIRST": "-155.3", "Y_FIRST": "19.5",
         "X_STEP": "0.001", "Y_STEP": "-0.001", "X_UNIT": "degrees", "Y_UNIT": "degrees",
         "WAVELENGTH": "0.05546576", "HEADING": "-12.1", "ANTENNA_SIDE": "-1",
         "REF_Y": "2", "REF_X": "3", "PROCESSOR": "isce"}


def _h5(path, datasets, **attrs):
    with h5py.File(path, "w") as f:
        for k, v in {**ATTRS, **attrs}.items():
            f.attrs[k] = v
        for name, data in datasets.items():
            f.create_dataset(name, data=data)
    return str(path)


@pytest.fixture
def mintpy(tmp_path):
    r, c = np.mgrid[0:H, 0:W]
    vel = (0.001 * (r * W + c)).astype(np.float32)
    vel[0, 0] = np.nan
    _h5(tmp_path / "velocity.h5", {"velocity": vel, "velocityStd": np.full((H, W), 0.002, np.float32)},
        FILE_TYPE="velocity", UNIT="m/year", REF_DATE="20200101")
    inc = (34.0 + 0.01 * (r * W + c)).astype(np.float32)
    _h5(tmp_path / "geometryGeo.h5", {"incidenceAngle": inc,
                                      "azimuthAngle": np.full((H, W), 102.0, np.float32)},
        FILE_TYPE="geometry")
    return tmp_path, vel, inc


def test_split_source():
    assert split_source('HDF5:"/d/velocity.h5"://velocity') == ("/d/velocity.h5", "velocity")
    assert split_source("/d/a.unw|layername=unwrapped_phase") == ("/d/a.unw", "unwrapped_phase")
    assert split_source("/d/a.tif") == ("/d/a.tif", None)


def test_mintpy_velocity_written_once_georeferenced_with_metadata(mintpy, tmp_path):
    folder, vel, _ = mintpy
    work = str(tmp_path / "work")
    path, product = resolve_raster(str(folder / "velocity.h5"), work)
    assert product.processor == "MintPy" and path.endswith(".tif")
    ds = gdal.Open(path)
    assert ds.GetGeoTransform() == pytest.approx((-155.3, 0.001, 0.0, 19.5, 0.0, -0.001))
    data = read_band(path, 1)
    np.testing.assert_allclose(data, vel)             # velocity (the main layer), NaN kept
    assert ds.GetRasterBand(1).GetMetadataItem("units") == "m/yr"
    assert float(ds.GetMetadataItem("geometry_wavelength")) == pytest.approx(0.05546576)
    assert ds.GetMetadataItem("geometry_incidence_layer") == "incidenceAngle"
    stamp = os.stat(path).st_mtime_ns
    again, _ = resolve_raster(f'HDF5:"{folder / "velocity.h5"}"://velocity', work)
    assert again == path and os.stat(path).st_mtime_ns == stamp      # written once
    std, _ = resolve_raster(f'HDF5:"{folder / "velocity.h5"}"://velocityStd', work)
    assert std != path and np.allclose(read_band(std, 1), 0.002)
    with pytest.raises(ProductError, match="velocity, velocityStd"):
        resolve_raster(f'HDF5:"{folder / "velocity.h5"}"://nothing', work)


def test_geotiff_passes_through(tmp_path):
    tif = os.path.join(PYRATE, "geo_060619-061002_unw.tif")
    assert not is_product_source(tif)
    assert resolve_raster(tif, str(tmp_path)) == (tif, None)
    assert not os.listdir(tmp_path)


def test_roipac_unw_phase_matches_gdal_driver(tmp_path):
    unw = os.path.join(PYRATE, "geo_060619-061002.unw")
    path, product = resolve_raster(unw, str(tmp_path))
    assert product.processor == "ROI_PAC"
    ds = gdal.Open(path)        # the bands QGIS shows for the .unw: 1 amplitude, 2 phase
    assert ds.RasterCount == 2 and ds.GetRasterBand(2).GetMetadataItem("units") == "rad"
    truth = gdal.Open(unw)      # GDAL's own ROI_PAC driver
    for band in (1, 2):
        expected = truth.GetRasterBand(band).ReadAsArray().astype(np.float32)
        expected[expected == 0] = np.nan
        np.testing.assert_allclose(read_band(path, band), expected, equal_nan=True)
    phase_only, _ = resolve_raster(unw + "|layername=unwrapped_phase", str(tmp_path))
    assert gdal.Open(phase_only).RasterCount == 1
    np.testing.assert_allclose(read_band(phase_only, 1), read_band(path, 2), equal_nan=True)
    assert ds.GetGeoTransform() == pytest.approx(truth.GetGeoTransform())
    assert float(ds.GetMetadataItem("geometry_wavelength")) == pytest.approx(0.0562356424)
    with pytest.raises(ProductError, match="incidence angle parameter"):
        geometry_raster(product, "incidence", str(tmp_path))


def test_gamma_binary_and_geometry_rasters(tmp_path):
    src = str(tmp_path / "gamma")
    shutil.copytree(PYRATE, src)
    path, product = resolve_raster(os.path.join(src, "20060619-20061002_utm.unw"), str(tmp_path))
    assert product.processor == "GAMMA" and gdal.Open(path).GetGeoTransform()[1] > 0
    inc = read_band(geometry_raster(product, "incidence", str(tmp_path)), 1)
    assert np.nanmax(np.abs(inc - 22.9671)) < 1e-4
    head = read_band(geometry_raster(product, "heading", str(tmp_path)), 1)
    assert np.nanmax(np.abs(geo.wrap_degrees(head - 193.1522256))) < 1e-4


def test_mintpy_geometry_rasters_from_sibling_file(mintpy, tmp_path):
    folder, _, inc = mintpy
    _, product = resolve_raster(str(folder / "velocity.h5"), str(tmp_path))
    np.testing.assert_allclose(read_band(geometry_raster(product, "incidence", str(tmp_path)), 1), inc)
    geometry_file, _ = resolve_raster(str(folder / "geometryGeo.h5"), str(tmp_path))
    np.testing.assert_allclose(read_band(geometry_file, 1), inc)     # a geometry file: its incidence
    az = read_band(geometry_raster(product, "los_azimuth", str(tmp_path)), 1)
    assert np.allclose(az, 102.0)
    head = read_band(geometry_raster(product, "heading", str(tmp_path)), 1)
    assert np.allclose(head, geo.los_azimuth_to_heading(102.0, "right"), atol=1e-4)
    east = read_band(geometry_raster(product, "east", str(tmp_path)), 1)
    e0, _, _ = geo.los_unit_vector(inc.astype(float), 102.0)
    np.testing.assert_allclose(east, e0, atol=1e-6)
