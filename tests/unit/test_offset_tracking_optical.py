"""Offset tracking on optical images: image type, quality masks per type, mask report.

Real optical texture: a 256 x 256 crop of a Landsat RGB image (tests/data/landsat_rgb_byte/
SOURCE.txt) moved by a known sub-pixel shift (band-limited Fourier shift, rounded to the
8-bit or 16-bit samples of the product, with sensor-like noise), and a pair of two different
real bands of the same scene (the radiometric differences of a real pair, zero shift between
the bands by construction) with the shift imposed on the second.  "Windows with a clear
correlation peak" are those that measure the truth within 0.1 px with every mask off.
"""

from pathlib import Path

import numpy as np
import pytest

from displacement_toolkit.core import offset_tracking as ot
from displacement_toolkit.core.raster_io import raster_info, read_block

DATA = Path(__file__).resolve().parents[1] / "data"
LANDSAT = str(DATA / "landsat_rgb_byte" / "RGB.byte.crop.tif")
SHIFT = (0.37, -0.21)
WINDOWS = dict(window_x=64, window_y=64, step_x=32, step_y=32)   # the algorithm's defaults
OUTLIER = 1.0                                                     # the algorithm's default


def fourier_shift(image, tx, ty):
    fy = np.fft.fftfreq(image.shape[0])[:, None]
    fx = np.fft.fftfreq(image.shape[1])[None, :]
    return np.real(np.fft.ifft2(np.fft.fft2(image) * np.exp(-2j * np.pi * (fx * tx + fy * ty))))


def scenes():
    red, green, blue = (read_block(LANDSAT, b).astype(np.float64) for b in (1, 2, 3))
    # the crop holds two nodata pixels (0 in the product), both in red: windows touching
    # them have no offset
    assert np.isfinite(green).all() and np.isfinite(blue).all() and np.isnan(red).sum() == 2
    rng = np.random.default_rng(0)
    moved = fourier_shift(green, *SHIFT)
    return {
        # 8-bit digital numbers; 0 is the product's nodata, so valid samples are 1..255
        "landsat 8-bit, noise 4 DN": (
            green, np.clip(np.round(moved + rng.normal(0, 4, green.shape)), 1, 255)),
        # Sentinel-2 L2A-like: uint16 reflectance x 10000 with the 1000 offset
        "sentinel-2-like uint16": (
            np.round(1000 + 40 * green + rng.normal(0, 30, green.shape)),
            np.round(1000 + 40 * moved + rng.normal(0, 30, green.shape))),
        "real red against real green": (red, np.clip(np.round(moved), 1, 255)),
        "real blue against real green": (blue, np.clip(np.round(moved), 1, 255)),
    }


def _errors(result):
    return np.maximum(np.abs(result.dx - SHIFT[0]), np.abs(result.dy - SHIFT[1]))


SCENES = ("landsat 8-bit, noise 4 DN", "sentinel-2-like uint16", "real red against real green",
          "real blue against real green")


@pytest.mark.parametrize("name", SCENES)
def test_optical_defaults_keep_the_windows_with_a_clear_peak(name):
    ref, sec = scenes()[name]
    clear = _errors(ot.track_offsets(ref, sec, ot.TrackingParameters(**WINDOWS))) < 0.1
    assert clear.sum() >= 28                     # of 36 windows: the texture does correlate
    snr, peak = ot.quality_thresholds("optical")
    res = ot.track_offsets(ref, sec, ot.TrackingParameters(
        **WINDOWS, snr_threshold=snr, peak_threshold=peak, outlier_threshold=OUTLIER))
    kept = np.isfinite(res.dx)
    # measured: 100 % of the clear windows on all four scenes
    assert kept[clear].mean() >= 0.9
    assert np.nanmax(_errors(res)) < 0.07        # measured 0.021-0.063 px
    assert ot.mask_report(res) == []
    # the SAR defaults (SNR 5, calibrated on speckle) remove most of them: issue 17's report
    snr, peak = ot.quality_thresholds("sar_amplitude")
    sar = ot.track_offsets(ref, sec, ot.TrackingParameters(
        **WINDOWS, snr_threshold=snr, peak_threshold=peak, outlier_threshold=OUTLIER))
    assert np.isfinite(sar.dx)[clear].mean() < 0.6   # measured 0.33-0.54


def test_optical_peak_threshold_removes_unrelated_texture():
    green = read_block(LANDSAT, 2).astype(np.float64)
    snr, peak = ot.quality_thresholds("optical")
    res = ot.track_offsets(green, np.flipud(green), ot.TrackingParameters(
        **WINDOWS, snr_threshold=snr, peak_threshold=peak, outlier_threshold=OUTLIER))
    # nothing correlates: every window is masked, and the log says why
    assert not np.isfinite(res.dx).any()
    assert sum(res.removed.values()) == res.dx.size == 36
    assert res.removed["snr"] == 0 and res.removed["nodata"] == 0
    report = ot.mask_report(res)
    assert report[0].startswith("36 of 36 windows (100 %) have no offset")
    assert any("PEAK_THRESHOLD = 0.5" in line for line in report)


def test_mask_report_names_each_mask_with_its_count():
    ref, sec = scenes()["landsat 8-bit, noise 4 DN"]
    ref = ref.copy()
    ref[:, :100] = np.nan                        # a masked cloud: the left windows touch it
    res = ot.track_offsets(ref, sec, ot.TrackingParameters(**WINDOWS, snr_threshold=5.0,
                                                           outlier_threshold=OUTLIER))
    lost = int((~np.isfinite(res.dx)).sum())
    assert sum(res.removed.values()) == lost
    # windows start at column 8 + 32 j and span 64 + 2 x 8 columns: the first three touch
    # the NaN block in every row of windows
    assert res.removed["nodata"] == 3 * 6
    assert res.removed["snr"] > 0
    report = ot.mask_report(res)
    assert report[0] == f"{lost} of 36 windows ({100 * lost / 36:.0f} %) have no offset:"
    lines = {line.split(" (")[0].strip(): line for line in report[1:]}
    assert "SNR_THRESHOLD = 5" in lines[str(res.removed["snr"])]
    assert "nodata" in lines["18"]
    # fewer than half removed: nothing to report
    res.removed = {"nodata": 18}
    assert ot.mask_report(res) == []


def test_image_type_detection():
    assert ot.raster_image_type(raster_info(LANDSAT), 1) == ("optical", "named RGB")
    rtc = next((DATA / "opera_rtc_s1" / "2021-11-19").glob("*_VV.tif"))
    kind, why = ot.raster_image_type(raster_info(str(rtc)), 1)
    assert kind == "sar_amplitude" and "VV" in why
    assert ot.detect_image_type("CInt16")[0] == "complex_sar"
    assert ot.detect_image_type("complex64", ["S2A_MSIL2A"])[0] == "complex_sar"
    assert ot.detect_image_type("UInt16", ["T11SKA_20230101T183751_B04_10m.jp2"])[0] == "optical"
    assert ot.detect_image_type("Byte")[0] == "optical"
    # Sentinel-1 GRD amplitude is stored as UInt16: its name says what it is
    assert ot.detect_image_type("UInt16", ["s1a-iw-grd-vh-20230101t000000.tiff"])[0] == \
        "sar_amplitude"
    assert ot.detect_image_type("Float32", ["LC09_L2SP_SR_B4.TIF"])[0] == "optical"
    assert ot.detect_image_type("Float32", ["ref.tif"])[0] == "sar_amplitude"
    # both kinds named: the sample type decides
    assert ot.detect_image_type("Float32", ["sentinel-1 and sentinel-2 stack"])[0] == \
        "sar_amplitude"
    # words inside other words do not count
    assert ot.detect_image_type("Float32", ["oversar_toast.tif"])[0] == "sar_amplitude"


def test_quality_thresholds_per_type_and_overrides():
    assert ot.quality_thresholds("complex_sar") == (5.0, 0.0)
    assert ot.quality_thresholds("sar_amplitude") == (5.0, 0.0)
    assert ot.quality_thresholds("optical") == (0.0, 0.5)
    assert ot.quality_thresholds("optical", 2.0, 0.0) == (2.0, 0.0)
    with pytest.raises(ValueError, match="IMAGE_TYPE"):
        ot.quality_thresholds("lidar")
    with pytest.raises(ValueError, match="PEAK_THRESHOLD"):
        ot.TrackingParameters(peak_threshold=1.0).validate(256, 256)
