"""displacement:geocode through processing.run, and the radar-geometry tutorial model
(docs/models/earthquake_decomposition_radar.model3): SLC pair -> offset_tracking -> geocode ->
decompose on the demo's earthquake scene in radar geometry, against the Okada truth."""

import importlib.util

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import QgsProcessingException

from displacement_toolkit.core import geocode as gc
from displacement_toolkit.core.raster_io import raster_info, read_block, write_array
from displacement_toolkit.core.synthetic_geometry import RadarGeometry
from displacement_toolkit.processing_provider.geocode import Geocode
from displacement_toolkit.processing_provider.offset_tracking import OffsetTracking

from ..conftest import REPO, run_algorithm
from ..unit.test_geocode import write_float64
from .test_tutorial_model import _check_against_truth

IDENTITY = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
MODEL = REPO / "docs" / "models" / "earthquake_decomposition_radar.model3"


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def radar(tmp_path):
    g = RadarGeometry(120, 150, range_pixel=150.0, azimuth_pixel=120.0, skew=10.0)
    lon, lat = g.lonlat(*g.pixel_centres())
    values = (1000.0 * (lon - g.lon0) - 400.0 * (lat - g.lat0)).astype(np.float32)
    src = write_array(str(tmp_path / "los.tif"), np.stack([values, 2 * values]), IDENTITY, "",
                      ["LOS 2021-04-01", "LOS 2021-04-13"],
                      [{"units": "mm", "quantity": "los_displacement", "date": d}
                       for d in ("2021-04-01", "2021-04-13")])
    return g, src, write_float64(tmp_path / "lat.tif", lat), write_float64(tmp_path / "lon.tif", lon)


def test_geocode_algorithm_with_latitude_longitude(provider, radar, tmp_path):
    g, src, lat, lon = radar
    out = str(tmp_path / "geo.tif")
    res = run_algorithm(Geocode().create(), {"INPUT": src, "LATITUDE": lat, "LONGITUDE": lon,
                                             "LOCAL_UTM": True, "RESOLUTION": 150.0,
                                             "OUTPUT": out})
    info = raster_info(out)
    assert osr.SpatialReference(wkt=info.crs_wkt).GetUTMZone() == 5
    assert info.geotransform[1] == 150.0 and info.geotransform[5] == -150.0
    assert info.descriptions == raster_info(src).descriptions
    assert info.descriptions[1].startswith("LOS 2021-04-13")
    assert [m["date"] for m in info.band_metadata] == ["2021-04-01", "2021-04-13"]
    assert info.band_metadata[0]["units"] == "mm"
    assert "geolocation" in info.metadata and gc.RADAR_TRANSFORM_KEY not in info.metadata
    assert 0.3 < res["VALID_FRACTION"] < 1.0
    # the values: linear in lon/lat, so bilinear interpolation is exact up to the
    # (small) curvature of lon/lat in the radar grid and of UTM
    x, y = np.meshgrid(info.geotransform[0] + (np.arange(info.width) + 0.5) * 150.0,
                       info.geotransform[3] - (np.arange(info.height) + 0.5) * 150.0)
    srs = osr.SpatialReference(wkt=info.crs_wkt)
    from displacement_toolkit.core.raster_io import transform_xy, wgs84_wkt
    mlon, mlat = transform_xy(x, y, srs.ExportToWkt(), wgs84_wkt())
    got = read_block(out, 2).astype(np.float64)
    truth = 2 * (1000.0 * (mlon - g.lon0) - 400.0 * (mlat - g.lat0))
    col, row = g.to_radar(mlon, mlat)
    inside = (col > 0.5) & (col < 119.5) & (row > 0.5) & (row < 149.5)
    assert np.isfinite(got[inside]).all()
    assert np.abs(got - truth)[inside].max() < 0.01
    assert (tmp_path / "geo.qml").exists()
    assert 'label="' in (tmp_path / "geo.qml").read_text() and " mm" in (tmp_path / "geo.qml").read_text()


def test_missing_geolocation_and_half_pairs_are_named(provider, radar, tmp_path):
    _g, src, lat, _lon = radar
    with pytest.raises(QgsProcessingException, match="LATITUDE and LONGITUDE"):
        run_algorithm(Geocode().create(), {"INPUT": src, "OUTPUT": str(tmp_path / "a.tif")})
    with pytest.raises(QgsProcessingException, match="LATITUDE.*give both"):
        run_algorithm(Geocode().create(), {"INPUT": src, "LATITUDE": lat,
                                           "OUTPUT": str(tmp_path / "b.tif")})
    assert not (tmp_path / "a.tif").exists() and not (tmp_path / "b.tif").exists()


@pytest.fixture(scope="module")
def scene(earthquake_scene):
    module, out, _description = earthquake_scene
    if not all((out / name).exists() for name in module.RADAR_FILES):
        module.make_radar_geometry(out, log=lambda *_: None)
    return module, out


def test_offset_tracking_output_names_its_geolocation(provider, scene, tmp_path):
    """A user gives only the offsets: their metadata hold the window-centre transform and the
    reference SLC's latitude/longitude rasters."""
    module, data = scene
    out = str(tmp_path / "dx.tif")
    run_algorithm(OffsetTracking().create(), {
        "REFERENCE": str(data / "asc_radar_reference_slc.tif"),
        "SECONDARY": str(data / "asc_radar_secondary_slc.tif"),
        "WINDOW_X": 64, "WINDOW_Y": 64, "SEARCH_X": 8, "SEARCH_Y": 8, "STEP_X": 32, "STEP_Y": 32,
        "COARSE_SEARCH": False, "OUTPUT_X": out, "OUTPUT_Y": str(tmp_path / "dy.tif"),
        "OUTPUT_SNR": str(tmp_path / "snr.tif"), "OUTPUT_SIGMA": str(tmp_path / "sigma.tif")})
    meta = raster_info(out).metadata
    assert meta[gc.RADAR_TRANSFORM_KEY].split() == ["24", "32", "0", "24", "0", "32"]
    assert meta[gc.LATITUDE_KEY].endswith("asc_radar_latitude.tif")
    geo = str(tmp_path / "dx_geo.tif")
    run_algorithm(Geocode().create(), {"INPUT": out, "TARGET_CRS": "EPSG:32611",
                                       "RESOLUTION": 100.0, "OUTPUT": geo})
    # the geocoded range offsets against the truth (pixels) at the same map points: the
    # truth raster is on the track's affine ground grid (scripts/make_sample_data.py)
    got = read_block(geo).astype(np.float64)
    info = raster_info(geo)
    truth_ds = gdal.Open(str(data / "asc_truth_range_offset.tif"))
    tgt = truth_ds.GetGeoTransform()
    truth = truth_ds.ReadAsArray().astype(np.float64)
    truth_ds = None
    r, c = np.mgrid[0:info.height, 0:info.width] + 0.5
    x = info.geotransform[0] + c * info.geotransform[1]
    y = info.geotransform[3] + r * info.geotransform[5]
    det = tgt[1] * tgt[5] - tgt[2] * tgt[4]
    col = (tgt[5] * (x - tgt[0]) - tgt[2] * (y - tgt[3])) / det
    row = (-tgt[4] * (x - tgt[0]) + tgt[1] * (y - tgt[3])) / det
    inner = (col > 120) & (col < 1024 - 120) & (row > 120) & (row < 512 - 120) & np.isfinite(got)
    assert inner.sum() > 300
    from scipy import ndimage
    # the truth averaged over a window (64 px) as the correlation measures it
    smooth = ndimage.uniform_filter(truth, 64, mode="nearest")
    expected = ndimage.map_coordinates(smooth, [row[inner] - 0.5, col[inner] - 0.5], order=1)
    assert np.sqrt(np.mean((got[inner] - expected) ** 2)) < 0.02


def test_radar_model_matches_the_builder_and_recovers_the_truth(provider, scene, tmp_path):
    from qgis.core import QgsProcessingModelAlgorithm

    module, data = scene
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(MODEL))
    children = sorted(child.algorithmId() for child in model.childAlgorithms().values())
    assert children == (["displacement:decompose"] + ["displacement:geocode"] * 8
                        + ["displacement:offset_tracking"] * 2)
    valid, issues = model.validate()
    assert valid, issues
    builder = _load(REPO / "scripts" / "build_tutorial_model.py", "build_tutorial_model")
    built = builder.build_radar_model()
    assert sorted(p.name() for p in built.parameterDefinitions()) == \
        sorted(p.name() for p in model.parameterDefinitions())
    for cid, child in built.childAlgorithms().items():
        assert sorted(child.parameterSources()) == sorted(model.childAlgorithm(cid).parameterSources())

    params = {"grid_crs": "EPSG:32611", "grid_resolution": 100.0,
              "sigma_range": 0.014, "sigma_azimuth": 0.084}
    for track in ("asc", "desc"):
        for key, name in (("reference", "reference_slc"), ("secondary", "secondary_slc"),
                          ("incidence", "incidence"), ("heading", "heading"),
                          ("latitude", "latitude"), ("longitude", "longitude")):
            params[f"{track}_{key}"] = str(data / f"{track}_radar_{name}.tif")
    for p in model.parameterDefinitions():
        if p.isDestination():
            safe = "".join(ch if ch.isalnum() else "_" for ch in p.name())
            params[p.name()] = str(tmp_path / f"{safe}.tif")
    results = run_algorithm(model, params)
    # the same truth and limits as the tutorial model on the georeferenced SLCs
    _check_against_truth(module, results)
