"""displacement:load_product through processing.run: georeferenced, dated, styled outputs."""

import os
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

from displacement_toolkit.core.raster_io import raster_info, read_block

from ..conftest import run_algorithm
from ..unit.test_products_mintpy import GEO_ATTRS, ramp  # noqa: F401 (fixture helpers)
from ..unit.test_products_mintpy import mintpy_dir  # noqa: F401 (pytest fixture)

ROIPAC = Path(__file__).resolve().parents[1] / "data" / "pyrate_sydney_envisat" / "geo_060619-061002.unw"


def test_timeseries_becomes_one_dated_multiband_raster(provider, mintpy_dir, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    res = run_algorithm("displacement:load_product", {
        "INPUT": str(mintpy_dir / "timeseries.h5"), "LAYERS": "", "OUTPUT_FOLDER": str(out)})
    assert res["OUTPUT_LAYERS"] == [str(out / "timeseries_timeseries.tif")]
    path = res["OUTPUT_LAYERS"][0]
    info = raster_info(path)
    assert info.band_count == 4
    assert info.geotransform == pytest.approx((-155.3, 0.001, 0.0, 19.5, 0.0, -0.001))
    assert "4326" in info.crs_wkt or "WGS 84" in info.crs_wkt
    assert [m["date"] for m in info.band_metadata] == ["2020-01-01", "2020-01-13", "2020-01-25", "2020-02-06"]
    assert all(m["units"] == "m" and m["quantity"] == "los_displacement" for m in info.band_metadata)
    assert info.metadata["reference_date"] == "2020-01-01"
    assert info.metadata["processor"] == "MintPy"
    assert info.metadata["reference_point"].startswith("col=3")
    expected = ramp(0.003)
    expected[1, 1] = np.nan                       # the maskTempCoh.h5 beside it (MASK default on)
    np.testing.assert_allclose(read_block(path, 4), expected, rtol=1e-6)
    assert gdal.Open(path).GetRasterBand(1).GetUnitType() == "m"
    assert os.path.exists(str(out / "timeseries_timeseries.qml"))


def test_selected_layers_with_geometry_metadata(provider, mintpy_dir, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    res = run_algorithm("displacement:load_product", {
        "INPUT": str(mintpy_dir / "velocity.h5"), "LAYERS": "velocity, incidenceAngle",
        "OUTPUT_FOLDER": str(out)})
    vel, inc = res["OUTPUT_LAYERS"]
    info = raster_info(vel)
    assert info.band_metadata[0]["units"] == "m/yr"
    assert info.metadata["geometry_heading"] == "-12.1"
    assert info.metadata["geometry_incidence_layer"] == "incidenceAngle"
    assert info.metadata["geometry_look_direction"] == "right"
    assert float(info.metadata["geometry_wavelength"]) == pytest.approx(0.05546576)
    v = read_block(vel)
    assert np.isnan(v[0, 0]) and v[2, 3] == pytest.approx(0.019)
    i = read_block(inc)
    assert np.isnan(i[5, 7]) and i[0, 0] == pytest.approx(34.0)
    # by default, the sibling geometry file's layers are not written
    res = run_algorithm("displacement:load_product", {
        "INPUT": str(mintpy_dir / "velocity.h5"), "OUTPUT_FOLDER": str(tmp_path / "all")})
    assert sorted(os.path.basename(p) for p in res["OUTPUT_LAYERS"]) == [
        "velocity_velocity.tif", "velocity_velocityStd.tif"]


def test_real_roipac_interferogram(provider, tmp_path):
    res = run_algorithm("displacement:load_product", {
        "INPUT": str(ROIPAC), "LAYERS": "unwrapped_phase", "OUTPUT_FOLDER": str(tmp_path)})
    path = res["OUTPUT_LAYERS"][0]
    info = raster_info(path)
    assert info.geotransform == pytest.approx((150.91, 0.000833333, 0.0, -34.17, 0.0, -0.000833333))
    assert info.band_metadata[0]["date_pair"] == "2006-06-19/2006-10-02"
    assert info.band_metadata[0]["units"] == "rad"
    phase = read_block(path)
    raw = np.fromfile(ROIPAC, "<f4").reshape(72, 2, 47)[:, 1, :]
    assert np.isnan(phase).sum() == int((raw == 0).sum()) == 89
    np.testing.assert_array_equal(phase[raw != 0], raw[raw != 0])


def test_unknown_layer_and_bad_file_are_refused(provider, mintpy_dir, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    with pytest.raises(QgsProcessingException, match=r"LAYERS = 'speed'.*Choose among: velocity"):
        run_algorithm("displacement:load_product", {
            "INPUT": str(mintpy_dir / "velocity.h5"), "LAYERS": "speed", "OUTPUT_FOLDER": str(out)})
    assert not out.exists() or not list(out.glob("*.tif"))
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(QgsProcessingException, match=r"INPUT = .*broken\.h5"):
        run_algorithm("displacement:load_product", {"INPUT": str(bad), "OUTPUT_FOLDER": str(out)})


def test_outputs_open_again_as_products_with_dates_and_geometry(provider, mintpy_dir, tmp_path):  # noqa: F811
    """Round trip: what load_product writes is read back by open_product (generic reader)."""
    from displacement_toolkit.core.products import open_product

    res = run_algorithm("displacement:load_product", {
        "INPUT": str(mintpy_dir / "timeseries.h5"), "MASK": False, "OUTPUT_FOLDER": str(tmp_path / "ts")})
    back = open_product(res["OUTPUT_LAYERS"][0])
    layer = back.layers[0]
    assert layer.bands == 4 and layer.units == "m" and layer.quantity == "los_displacement"
    assert [d.isoformat() for d in layer.dates] == ["2020-01-01", "2020-01-13", "2020-01-25", "2020-02-06"]
    assert back.reference_date.isoformat() == "2020-01-01"
    np.testing.assert_allclose(back.read(layer.name, 3), ramp(0.002), rtol=1e-6)
    res = run_algorithm("displacement:load_product", {
        "INPUT": str(mintpy_dir / "velocity.h5"), "LAYERS": "velocity", "OUTPUT_FOLDER": str(tmp_path / "v")})
    back = open_product(res["OUTPUT_LAYERS"][0])
    assert back.geometry.heading == pytest.approx(-12.1)
    assert back.geometry.look_direction == "right"
    np.testing.assert_allclose(back.los_azimuth(0, 0, 1, 1), 102.1)
    with pytest.raises(ValueError, match="set the incidence angle parameter"):
        back.incidence()   # the per-pixel incidence stayed in geometryGeo.h5 (not written)


def test_gamma_par_and_folder_as_users_hold_them(provider, tmp_path):
    """The .par itself loads the binary it describes; a folder of GAMMA outputs loads as a
    dated stack (one band per interferogram) with the geometry of the first pair."""
    import shutil

    data = ROIPAC.parent
    res = run_algorithm("displacement:load_product", {
        "INPUT": str(data / "20060619_utm_dem.par"), "OUTPUT_FOLDER": str(tmp_path / "dem")})
    dem = np.fromfile(data / "20060619_utm.dem", ">f4").reshape(72, 47)
    assert len(res["OUTPUT_LAYERS"]) == 1
    np.testing.assert_array_equal(read_block(res["OUTPUT_LAYERS"][0]), dem)
    folder = tmp_path / "gamma"
    folder.mkdir()
    for name in ("20060619-20061002_utm.unw", "20061106-20061211_utm.unw", "20060619_utm_dem.par",
                 "20060619_slc.par"):
        shutil.copy(data / name, folder / name)
    res = run_algorithm("displacement:load_product", {"INPUT": str(folder),
                                                      "OUTPUT_FOLDER": str(tmp_path / "out")})
    info = raster_info(res["OUTPUT_LAYERS"][0])
    assert info.band_count == 2
    assert [m["date_pair"] for m in info.band_metadata] == ["2006-06-19/2006-10-02",
                                                           "2006-11-06/2006-12-11"]
    assert float(info.metadata["geometry_incidence"]) == pytest.approx(22.9671)
    phase = np.fromfile(data / "20061106-20061211_utm.unw", ">f4").reshape(72, 47).astype(np.float32)
    phase[phase == 0] = np.nan
    np.testing.assert_array_equal(read_block(res["OUTPUT_LAYERS"][0], 2), phase)


def test_mask_beside_and_area_of_interest(provider, mintpy_dir, tmp_path):  # noqa: F811
    """MintPy's maskTempCoh.h5 beside the time series is applied (logged; MASK off reads every
    pixel) and EXTENT reads only the pixels of an area of interest, georeferenced."""
    from ..conftest import recording_feedback

    feedback = recording_feedback()
    res = run_algorithm("displacement:load_product", {
        "INPUT": str(mintpy_dir / "timeseries.h5"), "OUTPUT_FOLDER": str(tmp_path / "m")},
        feedback=feedback)
    assert np.isnan(read_block(res["OUTPUT_LAYERS"][0], 2)[1, 1])
    assert any("Masked with maskTempCoh.h5 (mask, 0 = masked) beside the product" in x
               for x in feedback.lines)
    res = run_algorithm("displacement:load_product", {
        "INPUT": str(mintpy_dir / "timeseries.h5"), "MASK": False,
        "EXTENT": "-155.2975,-155.2945,19.4962,19.4985 [EPSG:4326]",
        "OUTPUT_FOLDER": str(tmp_path / "aoi")}, feedback=feedback)
    info = raster_info(res["OUTPUT_LAYERS"][0])
    assert (info.width, info.height) == (4, 3)
    assert info.geotransform == pytest.approx((-155.298, 0.001, 0.0, 19.499, 0.0, -0.001))
    np.testing.assert_allclose(read_block(res["OUTPUT_LAYERS"][0], 2), ramp(0.001)[1:4, 2:6], rtol=1e-6)
    assert any("EXTENT: read rows 1..3, columns 2..5 of 6 x 8 pixels only" in x for x in feedback.lines)
    with pytest.raises(QgsProcessingException, match="EXTENT.*does not overlap"):
        run_algorithm("displacement:load_product", {
            "INPUT": str(mintpy_dir / "timeseries.h5"), "EXTENT": "10,11,10,11 [EPSG:4326]",
            "OUTPUT_FOLDER": str(tmp_path / "none")})
