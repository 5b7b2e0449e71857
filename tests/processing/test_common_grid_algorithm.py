"""displacement:common_grid through processing.run: grids, values against gdal.Warp, styling, errors."""

import os
import re

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsProject, QgsRasterLayer

from displacement_toolkit.core.raster_io import crs_from_epsg, raster_info, read_block

from ..conftest import recording_feedback, run_algorithm

ALG = "displacement:common_grid"
WGS84 = crs_from_epsg(4326)


@pytest.fixture
def pair(make_raster):
    rng = np.random.default_rng(7)
    asc = rng.normal(0, 0.01, (120, 100)).astype(np.float32)
    asc[40:50, 40:50] = np.nan
    desc = rng.normal(0, 0.01, (60, 50)).astype(np.float32)
    a = make_raster(asc, "asc.tif", geotransform=(500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0),
                    band_metadata=[{"units": "m", "quantity": "los_displacement"}])
    d = make_raster(desc, "desc.tif", geotransform=(500300.0, 50.0, 0.0, 3999500.0, 0.0, -50.0),
                    band_metadata=[{"units": "", "quantity": "coherence"}])
    return a, d


def test_intersection_coarsest_matches_gdal_warp_and_is_styled(provider, pair, tmp_path):
    a, d = pair
    folder = tmp_path / "out"
    feedback = recording_feedback()
    result = run_algorithm(ALG, {"LAYERS": [a, d], "OUTPUT_FOLDER": str(folder)}, feedback=feedback)
    outs = result["OUTPUT_LAYERS"]
    assert [os.path.basename(p) for p in outs] == ["asc_grid.tif", "desc_grid.tif"]
    # intersection x 500300..502800, y 3996500..3999500 at 50 m (coarsest)
    infos = [raster_info(p) for p in outs]
    for info in infos:
        assert info.geotransform == (500300.0, 50.0, 0.0, 3999500.0, 0.0, -50.0)
        assert (info.width, info.height) == (50, 60)
    # values identical to gdal.Warp with the same settings (average when coarsening)
    ref = gdal.Warp("", a, format="MEM", outputBounds=(500300, 3996500, 502800, 3999500), xRes=50,
                    yRes=50, resampleAlg="average", srcNodata="nan", dstNodata="nan",
                    outputType=gdal.GDT_Float32).ReadAsArray()
    assert np.array_equal(read_block(outs[0]), ref, equal_nan=True)
    assert np.array_equal(read_block(outs[1]), read_block(d), equal_nan=True)  # already on the grid
    assert infos[0].band_metadata[0]["units"] == "m"
    log = "\n".join(feedback.lines)
    assert "Common grid: CRS EPSG:32633" in log and "size 50 x 60 pixels" in log
    assert "resolution 50 x 50 m (about 50 m x 50 m)" in log
    assert "asc.tif: 1 band(s), resampling average" in log
    assert "desc.tif: 1 band(s), copied (its pixels are pixels of the grid: values unchanged)" in log
    # styles: diverging (symmetric, unit labels) for displacement, sequential for coherence
    qml_a = (folder / "asc_grid.qml").read_text()
    values = [float(v) for v in re.findall(r'<item[^>]*value="([^"]+)"', qml_a)]
    assert values == pytest.approx([-v for v in reversed(values)])
    assert ' m"' in qml_a
    qml_d = (folder / "desc_grid.qml").read_text()
    assert "#440154" in qml_d.lower() and "#2166ac" not in qml_d.lower()
    assert QgsRasterLayer(outs[0], "a", "gdal").renderer().type() == "singlebandpseudocolor"


def test_union_finest_custom_and_reference(provider, pair, make_raster, tmp_path):
    a, d = pair
    res = run_algorithm(ALG, {"LAYERS": [a, d], "EXTENT": 1, "RESOLUTION": 1, "RESAMPLING": 4,
                              "OUTPUT_FOLDER": str(tmp_path / "u")})
    info = raster_info(res["OUTPUT_LAYERS"][1])
    # union x 500000..503000, y 3996400..4000000 at the finest resolution, 30 m: the pixel size
    # of asc, in the target CRS, whose grid is kept: asc comes out on its own grid, copied
    assert info.geotransform == raster_info(a).geotransform == (500000.0, 30.0, 0.0, 4000000.0,
                                                                0.0, -30.0)
    assert (info.width, info.height) == (100, 120)
    assert read_block(res["OUTPUT_LAYERS"][0]).tobytes() == read_block(a).tobytes()
    # custom resolution and extent (in the target CRS)
    res = run_algorithm(ALG, {"LAYERS": [a, d], "EXTENT": 3, "RESOLUTION": 3, "CUSTOM_RESOLUTION": 100,
                              "CUSTOM_EXTENT": "500310,501290,3998010,3998990 [EPSG:32633]",
                              "OUTPUT_FOLDER": str(tmp_path / "c")})
    info = raster_info(res["OUTPUT_LAYERS"][0])
    assert info.geotransform == (500300.0, 100.0, 0.0, 3999000.0, 0.0, -100.0)
    assert (info.width, info.height) == (10, 10)
    # reference layer with an odd origin: outputs reproduce its grid exactly
    ref = make_raster(np.zeros((20, 20), np.float32), "ref.tif",
                      geotransform=(500417.5, 40.0, 0.0, 3999211.0, 0.0, -40.0))
    res = run_algorithm(ALG, {"LAYERS": [a, d], "REFERENCE_LAYER": ref, "EXTENT": 2, "RESOLUTION": 2,
                              "OUTPUT_FOLDER": str(tmp_path / "r")})
    for path in res["OUTPUT_LAYERS"]:
        info = raster_info(path)
        assert info.geotransform == (500417.5, 40.0, 0.0, 3999211.0, 0.0, -40.0)
        assert (info.width, info.height) == (20, 20)


def test_geographic_target_with_metre_resolution(provider, pair, tmp_path):
    a, d = pair
    feedback = recording_feedback()
    res = run_algorithm(ALG, {"LAYERS": [a, d], "TARGET_CRS": "EPSG:4326", "RESOLUTION": 3,
                              "CUSTOM_RESOLUTION": 60, "RESOLUTION_IN_METRES": True,
                              "OUTPUT_FOLDER": str(tmp_path / "g")}, feedback=feedback)
    infos = [raster_info(p) for p in res["OUTPUT_LAYERS"]]
    assert infos[0].geotransform == infos[1].geotransform
    assert (infos[0].width, infos[0].height) == (infos[1].width, infos[1].height)
    dy = -infos[0].geotransform[5]
    assert dy == pytest.approx(60.0 / (np.pi / 180 * 6371008.8), rel=1e-12)
    log = "\n".join(feedback.lines)
    assert re.search(r"resolution 60 m x 60 m converted at the extent's centre latitude 36\.\d+ deg", log)
    assert "EPSG:4326" in log and "about 60 m x 60 m" in log


def test_mismatched_band_counts(provider, make_raster, tmp_path):
    three = np.stack([np.full((10, 10), v, np.float32) for v in (1, 2, 3)])
    m = make_raster(three, "m.tif")
    s = make_raster(np.full((5, 5), 4.0, np.float32), "s.tif",
                    geotransform=(500000.0, 60.0, 0.0, 4000000.0, 0.0, -60.0))
    res = run_algorithm(ALG, {"LAYERS": [m, s], "OUTPUT_FOLDER": str(tmp_path / "b")})
    im, is_ = (raster_info(p) for p in res["OUTPUT_LAYERS"])
    assert (im.band_count, is_.band_count) == (3, 1)
    # the coarsest resolution is s's 60 m, and s is in the target CRS: its grid is kept
    # (500000..500300 x 3999700..4000000, the intersection) and s is copied
    assert im.geotransform == is_.geotransform == (500000.0, 60.0, 0.0, 4000000.0, 0.0, -60.0)
    assert (im.width, im.height) == (is_.width, is_.height) == (5, 5)
    assert [float(read_block(res["OUTPUT_LAYERS"][0], b)[2, 2]) for b in (1, 2, 3)] == [1, 2, 3]
    assert read_block(res["OUTPUT_LAYERS"][1]).tobytes() == read_block(s).tobytes()


def test_errors_are_clear_and_write_nothing(provider, pair, make_raster, tmp_path):
    a, d = pair
    far = make_raster(np.zeros((5, 5), np.float32), "far.tif",
                      geotransform=(700000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0))
    folder = tmp_path / "e"
    with pytest.raises(QgsProcessingException, match="EXTENT = 'intersection'.*do not overlap"):
        run_algorithm(ALG, {"LAYERS": [a, far], "OUTPUT_FOLDER": str(folder)})
    with pytest.raises(QgsProcessingException, match="LAYERS.*1 raster.*two or more"):
        run_algorithm(ALG, {"LAYERS": [a], "OUTPUT_FOLDER": str(folder)})
    with pytest.raises(QgsProcessingException, match="EXTENT.*no REFERENCE_LAYER"):
        run_algorithm(ALG, {"LAYERS": [a, d], "EXTENT": 2, "OUTPUT_FOLDER": str(folder)})
    with pytest.raises(QgsProcessingException, match="CUSTOM_RESOLUTION.*positive"):
        run_algorithm(ALG, {"LAYERS": [a, d], "RESOLUTION": 3, "OUTPUT_FOLDER": str(folder)})
    assert not folder.exists() or not any(f.endswith(".tif") for f in os.listdir(folder))


def test_outputs_load_into_the_project_styled(provider, pair, tmp_path, qgis_iface):
    import processing

    a, d = pair
    QgsProject.instance().removeAllMapLayers()
    processing.runAndLoadResults(ALG, {"LAYERS": [a, d], "OUTPUT_FOLDER": str(tmp_path / "l")})
    names = sorted(lyr.name() for lyr in QgsProject.instance().mapLayers().values())
    assert names == ["asc_grid", "desc_grid"]
    for lyr in QgsProject.instance().mapLayers().values():
        assert lyr.renderer().type() == "singlebandpseudocolor"
    QgsProject.instance().removeAllMapLayers()


def test_a_mintpy_product_is_used_directly_with_its_georeferencing(provider, make_raster, tmp_path):
    """A MintPy velocity.h5 (georeferenced only by its attributes, which GDAL's HDF5 driver
    ignores) goes straight into a layer list next to a GeoTIFF on the same grid."""
    import h5py

    rows, cols = np.mgrid[0:6, 0:8]
    velocity = (0.001 * (rows * 8 + cols)).astype(np.float32)
    velocity[0, 0] = np.nan
    h5 = tmp_path / "velocity.h5"
    with h5py.File(h5, "w") as f:
        for key, value in {"LENGTH": "6", "WIDTH": "8", "X_FIRST": "-155.3", "Y_FIRST": "19.5",
                           "X_STEP": "0.001", "Y_STEP": "-0.001", "X_UNIT": "degrees",
                           "Y_UNIT": "degrees", "FILE_TYPE": "velocity", "UNIT": "m/year"}.items():
            f.attrs[key] = value
        f.create_dataset("velocity", data=velocity)
    tif = make_raster(2 * velocity, "double.tif", geotransform=(-155.3, 0.001, 0.0, 19.5, 0.0, -0.001),
                      crs_wkt=crs_from_epsg(4326))
    res = run_algorithm(ALG, {"LAYERS": [f'HDF5:"{h5}"://velocity', tif],
                              "RESAMPLING": 4, "OUTPUT_FOLDER": str(tmp_path / "out")})
    first, second = res["OUTPUT_LAYERS"]
    info = raster_info(first)
    assert info.geotransform == pytest.approx((-155.3, 0.001, 0.0, 19.5, 0.0, -0.001))
    assert info.band_metadata[0]["units"] == "m/yr"
    got = read_block(first)
    assert np.isnan(got[0, 0]) and np.allclose(got[1:], velocity[1:])
    assert np.allclose(read_block(second)[1:], 2 * velocity[1:])


def test_layers_on_one_grid_come_out_on_it_copied(provider, make_raster, tmp_path):
    """Issue 17: two identical 128 x 128 grids came out 129 x 129, shifted by 20 m, averaged."""
    gt = (500020.0, 30.0, 0.0, 4000010.0, 0.0, -30.0)
    values = np.random.default_rng(5).normal(0, 0.01, (128, 128)).astype(np.float32)
    values[:3, :3] = np.nan
    a = make_raster(values, "a.tif", geotransform=gt)
    b = make_raster(-values, "b.tif", geotransform=gt)
    feedback = recording_feedback()
    res = run_algorithm(ALG, {"LAYERS": [a, b], "RESAMPLING": 1, "OUTPUT_FOLDER": str(tmp_path / "o")},
                        feedback=feedback)
    for path, source in zip(res["OUTPUT_LAYERS"], (values, -values)):
        info = raster_info(path)
        assert info.geotransform == gt and (info.width, info.height) == (128, 128)
        got = read_block(path)
        # bit-identical values; NaN where the source is NaN (-values flips the NaNs' sign bit)
        assert np.array_equal(np.isnan(got), np.isnan(source))
        assert got[np.isfinite(got)].tobytes() == source[np.isfinite(source)].tobytes()
    log = "\n".join(feedback.lines)
    assert "size 128 x 128 pixels" in log
    assert log.count("copied (its pixels are pixels of the grid: values unchanged)") == 2


def test_utm_neighbours_keep_the_first_layers_30_m_grid(provider, make_raster, tmp_path):
    """Issue 17: two 30 m UTM rasters (zones 33 and 34) got 30.0093 m pixels by default, so the
    one already in the target CRS was resampled too."""
    from osgeo import osr

    values = np.random.default_rng(6).normal(size=(64, 64)).astype(np.float32)
    u33 = make_raster(values, "u33.tif", geotransform=(800000.0, 30.0, 0.0, 4500000.0, 0.0, -30.0))
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromEPSG(32633)
    dst.ImportFromEPSG(32634)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    x, y, _ = osr.CoordinateTransformation(src, dst).TransformPoint(800000.0, 4500000.0)
    u34 = make_raster(values, "u34.tif", crs_wkt=crs_from_epsg(32634),
                      geotransform=(round(x / 30) * 30, 30.0, 0.0, round(y / 30) * 30, 0.0, -30.0))
    feedback = recording_feedback()
    res = run_algorithm(ALG, {"LAYERS": [u33, u34], "OUTPUT_FOLDER": str(tmp_path / "o")},
                        feedback=feedback)
    first, second = (raster_info(p) for p in res["OUTPUT_LAYERS"])
    assert first.geotransform == second.geotransform == (800000.0, 30.0, 0.0, 4500000.0, 0.0, -30.0)
    assert (first.width, first.height) == (64, 64)
    assert read_block(res["OUTPUT_LAYERS"][0]).tobytes() == values.tobytes()
    log = "\n".join(feedback.lines)
    assert re.search(r"resolution 30\.0\d+ x 30\.0\d+ m \(coarsest\) snapped to 30 x 30, the pixel "
                     r"size of u33\.tif in the same CRS", log)
    assert "u33.tif: 1 band(s), copied" in log and "u34.tif: 1 band(s), resampling bilinear" in log
