"""displacement:offset_tracking through processing.run: values, grids, metres, vectors, errors."""

import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsVectorLayer

from displacement_toolkit.core import synthetic_sar as s
from displacement_toolkit.core.raster_io import map_to_pixel, pixel_to_map, raster_info, read_block

from ..conftest import run_algorithm

ALG = "displacement:offset_tracking"
GT = (500000.0, 2.5, 0.0, 4000000.0, 0.0, -2.5)    # 2.5 m pixels, UTM 33N (make_raster default CRS)


@pytest.fixture
def slc_pair(make_raster):
    """Complex pair with a fault: dy = -0.5 px west of column 159.5, +0.5 px east; dx = 0.3."""
    shape = (256, 320)
    fx, fy = s.fault_field(shape, slip=1.0)
    ref, sec = s.speckle_pair(shape, fx + 0.3, fy, coherence=0.97, seed=12)
    return (make_raster(ref, "ref.tif", geotransform=GT),
            make_raster(sec, "sec.tif", geotransform=GT))


def _outputs(tmp_path, **extra):
    out = {k: str(tmp_path / f"{k.lower()}.tif") for k in ("OUTPUT_X", "OUTPUT_Y", "OUTPUT_SNR",
                                                             "OUTPUT_SIGMA")}
    out.update(extra)
    return out


def test_complex_fault_offsets_on_the_documented_grid(provider, slc_pair, tmp_path):
    ref, sec = slc_pair
    params = {"REFERENCE": ref, "SECONDARY": sec, "COARSE_SEARCH": False,
              "OUTPUT_X_METRES": str(tmp_path / "xm.tif"), "OUTPUT_PEAK": str(tmp_path / "pk.tif"),
              "OUTPUT_VECTORS": str(tmp_path / "vectors.gpkg"), **_outputs(tmp_path)}
    res = run_algorithm(ALG, params)
    info = raster_info(res["OUTPUT_X"])
    # windows: tops 8, 40, ..., i.e. (256 - 64 - 16) // 32 + 1 = 6 rows, (320 - 80) // 32 + 1 = 8
    assert (info.height, info.width) == (6, 8)
    # first output pixel centred on the first window centre (8 + 32 px): corner 16 px before
    assert info.geotransform == pytest.approx((500000.0 + 24 * 2.5, 80.0, 0.0,
                                               4000000.0 - 24 * 2.5, 0.0, -80.0))
    dx, dy = read_block(res["OUTPUT_X"]), read_block(res["OUTPUT_Y"])
    # every output pixel sits on the ground position its window measured: its map position,
    # taken back to reference pixels, is the window centre; windows entirely east of the fault
    # (column 159.5 in pixel indices = 160.0 in GDAL fractional position) see +0.5
    rows, cols = np.mgrid[0:6, 0:8]
    mx, my = pixel_to_map(info.geotransform, cols + 0.5, rows + 0.5)
    c, r = map_to_pixel(GT, mx, my)
    np.testing.assert_allclose(c[0], 8 + 32 + 32 * np.arange(8))
    np.testing.assert_allclose(r[:, 0], 8 + 32 + 32 * np.arange(6))
    east, west = c - 32 >= 160, c + 32 <= 160
    np.testing.assert_allclose(dy[east], 0.5, atol=0.02)
    np.testing.assert_allclose(dy[west], -0.5, atol=0.02)
    np.testing.assert_allclose(dx[east | west], 0.3, atol=0.02)
    np.testing.assert_allclose(read_block(res["OUTPUT_X_METRES"]), dx * 2.5, rtol=1e-5)
    assert res["PIXEL_SIZE_X"] == pytest.approx(2.5)
    assert info.band_metadata[0]["units"] == "px"
    assert os.path.exists(os.path.splitext(res["OUTPUT_X"])[0] + ".qml")
    sigma = raster_info(res["OUTPUT_SIGMA"])
    assert sigma.band_count == 2
    snr = read_block(res["OUTPUT_SNR"])
    assert np.all(snr[east | west] > 20)
    # coherence 0.97: intensity correlation about 0.97^2
    peak = read_block(res["OUTPUT_PEAK"])
    assert np.all((peak[east | west] > 0.88) & (peak[east | west] <= 1.0))
    layer = QgsVectorLayer(res["OUTPUT_VECTORS"], "v", "ogr")
    assert layer.isValid() and layer.featureCount() == int(np.isfinite(dx).sum())
    feat = next(layer.getFeatures())
    p = feat.geometry().asPoint()
    fc, fr = map_to_pixel(GT, p.x(), p.y())
    i, j = int(round((fr - 40) / 32)), int(round((fc - 40) / 32))
    assert feat["dx"] == pytest.approx(float(dx[i, j]), abs=1e-6)
    assert feat["magnitude"] == pytest.approx(np.hypot(dx[i, j], dy[i, j]), abs=1e-6)
    assert layer.renderer().symbol().symbolLayer(0).layerType() == "SimpleMarker"


def test_radar_geometry_needs_pixel_sizes_for_metres(provider, make_raster, tmp_path):
    ref, sec = s.amplitude_pair((192, 192), -0.4, 0.7, kind="smooth", seed=3)
    r = make_raster(ref, "r.tif", geotransform=(0, 1, 0, 0, 0, 1), crs_wkt="")
    q = make_raster(sec, "q.tif", geotransform=(0, 1, 0, 0, 0, 1), crs_wkt="")
    with pytest.raises(QgsProcessingException, match="PIXEL_SIZE_X"):
        run_algorithm(ALG, {"REFERENCE": r, "SECONDARY": q, "COARSE_SEARCH": False,
                            "OUTPUT_X_METRES": str(tmp_path / "m.tif"), **_outputs(tmp_path)})
    assert not (tmp_path / "output_x.tif").exists()
    with pytest.raises(QgsProcessingException, match="PIXEL_SIZE_X"):
        run_algorithm(ALG, {"REFERENCE": r, "SECONDARY": q, "COARSE_SEARCH": False,
                            "OUTPUT_SIGMA_Y_METRES": str(tmp_path / "s.tif"), **_outputs(tmp_path)})
    res = run_algorithm(ALG, {"REFERENCE": r, "SECONDARY": q, "COARSE_SEARCH": False,
                              "PIXEL_SIZE_X": 2.33, "PIXEL_SIZE_Y": 13.9,
                              "OUTPUT_Y_METRES": str(tmp_path / "m.tif"),
                              "OUTPUT_SIGMA_X_METRES": str(tmp_path / "sxm.tif"),
                              "OUTPUT_SIGMA_Y_METRES": str(tmp_path / "sym.tif"), **_outputs(tmp_path)})
    np.testing.assert_allclose(read_block(res["OUTPUT_X"]), -0.4, atol=0.005)
    np.testing.assert_allclose(read_block(res["OUTPUT_Y_METRES"]), 0.7 * 13.9, atol=0.005 * 13.9)
    # the sigma in metres is the pixel sigma times the pixel size, one band per axis
    sigma_px = [read_block(res["OUTPUT_SIGMA"], b) for b in (1, 2)]
    for name, band, size in (("OUTPUT_SIGMA_X_METRES", 0, 2.33), ("OUTPUT_SIGMA_Y_METRES", 1, 13.9)):
        got = read_block(res[name])
        assert got.shape == sigma_px[band].shape and np.all(np.isfinite(got)) and np.all(got > 0)
        np.testing.assert_allclose(got, sigma_px[band] * size, rtol=1e-6)
        info = raster_info(res[name])
        assert info.band_count == 1 and info.band_metadata[0]["units"] == "m"


def test_cancel_leaves_no_output(provider, slc_pair, tmp_path):
    ref, sec = slc_pair
    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda p: feedback.cancel() if p > 10 else None)
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run_algorithm(ALG, {"REFERENCE": ref, "SECONDARY": sec, "COARSE_SEARCH": False,
                            **_outputs(tmp_path)}, feedback=feedback)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(("output", ".output"))]


@pytest.mark.parametrize("extra, pattern", [
    ({"WINDOW_X": 400}, "WINDOW_X"),
    ({"WINDOW_Y": 0}, "WINDOW_Y"),
    ({"STEP_X": -3}, "STEP_X"),
    ({"SEARCH_Y": 0}, "SEARCH_Y"),
    ({"BAND_SECONDARY": 2}, "BAND_SECONDARY"),
])
def test_bad_parameters_are_named_and_nothing_is_written(provider, slc_pair, tmp_path, extra,
                                                         pattern):
    ref, sec = slc_pair
    with pytest.raises(QgsProcessingException, match=pattern):
        run_algorithm(ALG, {"REFERENCE": ref, "SECONDARY": sec, **_outputs(tmp_path), **extra})
    assert not [f for f in os.listdir(tmp_path) if f.startswith(("output", ".output"))]


def test_different_grid_sizes_is_an_error(provider, make_raster, tmp_path):
    a = make_raster(np.ones((100, 120), np.float32), "a.tif")
    b = make_raster(np.ones((100, 100), np.float32), "b.tif")
    with pytest.raises(QgsProcessingException, match="SECONDARY.*[Cc]o-register"):
        run_algorithm(ALG, {"REFERENCE": a, "SECONDARY": b, **_outputs(tmp_path)})
    assert not [f for f in os.listdir(tmp_path) if f.startswith(("output", ".output"))]


def test_optical_image_with_defaults(provider, tmp_path):
    """A real Landsat crop (tests/data/landsat_rgb_byte) and its green band moved by a known
    sub-pixel shift, as 8-bit GeoTIFFs: auto detects an optical image and its quality masks
    keep every window; stated as SAR amplitude, the SNR mask removes most and the log says so."""
    from osgeo import gdal

    from ..conftest import recording_feedback
    from ..unit.test_offset_tracking_optical import LANDSAT, SHIFT, fourier_shift

    green = read_block(LANDSAT, 2).astype(np.float64)
    moved = str(tmp_path / "moved.tif")
    ds = gdal.GetDriverByName("GTiff").CreateCopy(moved, gdal.Open(LANDSAT))
    ds.GetRasterBand(2).WriteArray(np.clip(np.round(fourier_shift(green, *SHIFT)), 1, 255))
    ds = None
    params = {"REFERENCE": LANDSAT, "BAND_REFERENCE": 2, "SECONDARY": moved,
              "BAND_SECONDARY": 2, **_outputs(tmp_path)}
    feedback = recording_feedback()
    res = run_algorithm(ALG, params, feedback=feedback)
    assert "image type: optical (auto: named RGB); quality masks: SNR off, correlation peak " \
           ">= 0.5" in feedback.lines
    assert res["VALID_WINDOWS"] == 36
    np.testing.assert_allclose(read_block(res["OUTPUT_X"]), SHIFT[0], atol=0.03)
    np.testing.assert_allclose(read_block(res["OUTPUT_Y"]), SHIFT[1], atol=0.03)
    assert not feedback.warnings

    feedback = recording_feedback()
    res = run_algorithm(ALG, {**params, "IMAGE_TYPE": 2}, feedback=feedback)
    assert "image type: SAR amplitude (IMAGE_TYPE); quality masks: SNR >= 5, correlation " \
           "peak off" in feedback.lines
    lost = 36 - res["VALID_WINDOWS"]
    assert lost > 18
    assert feedback.warnings[0] == f"{lost} of 36 windows ({100 * lost / 36:.0f} %) have no offset:"
    assert feedback.warnings[1].startswith(f"  {lost} ({100 * lost / 36:.0f} %) with SNR below "
                                           "SNR_THRESHOLD = 5: lower SNR_THRESHOLD")


def test_fast_preset_recovers_a_known_shift_of_amplitude_images(provider, make_raster, tmp_path):
    """PRESET fast on a float (amplitude) pair with a known sub-pixel shift: the same outputs
    and grid as the default preset, offsets within the fast preset's measured error, and the
    log names the preset."""
    from ..conftest import recording_feedback

    ref, sec = s.amplitude_pair((256, 256), 0.37, -0.21, kind="smooth", seed=4)
    params = {"REFERENCE": make_raster(ref, "ref.tif", geotransform=GT),
              "SECONDARY": make_raster(sec, "sec.tif", geotransform=GT), "COARSE_SEARCH": False,
              "PRESET": 1, **_outputs(tmp_path)}
    feedback = recording_feedback()
    res = run_algorithm(ALG, params, feedback=feedback)
    assert any("real data; preset fast;" in line for line in feedback.lines)
    assert res["VALID_WINDOWS"] == 36
    np.testing.assert_allclose(read_block(res["OUTPUT_X"]), 0.37, atol=0.005)
    np.testing.assert_allclose(read_block(res["OUTPUT_Y"]), -0.21, atol=0.005)
    accurate = run_algorithm(ALG, {**params, "PRESET": 0, **_outputs(tmp_path / "acc")})
    assert raster_info(accurate["OUTPUT_X"]).geotransform == raster_info(res["OUTPUT_X"]).geotransform
    assert raster_info(res["OUTPUT_SIGMA"]).band_count == 2
