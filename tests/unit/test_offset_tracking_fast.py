"""The fast preset of offset tracking (core.fast_correlation): known sub-pixel shifts on
synthetic amplitude, SLCs and the real Sentinel-1 RTC texture, and the same masks and outputs
as the accurate preset.  Bounds: measured errors (comments) with a margin; the benchmark's
figures are in docs/offset_tracking.md, "Fast preset"."""

import dataclasses

import numpy as np
import pytest

from displacement_toolkit.core import fast_correlation as fc
from displacement_toolkit.core import offset_tracking as ot
from displacement_toolkit.core import synthetic_sar as s
from displacement_toolkit.core.raster_io import read_block

from .test_offset_tracking_real_rtc import BURSTS, PARAMS, _path

FAST = ot.TrackingParameters(coarse_search=False, preset="fast")
ACCURATE = dataclasses.replace(FAST, preset="accurate")


def _fourier_shift(image, tx, ty):
    fy = np.fft.fftfreq(image.shape[0])[:, None]
    fx = np.fft.fftfreq(image.shape[1])[None, :]
    return np.real(np.fft.ifft2(np.fft.fft2(image) * np.exp(-2j * np.pi * (fx * tx + fy * ty))))


@pytest.mark.parametrize("frac", [0.1, 0.25, 0.5])
def test_subpixel_shifts_of_amplitude_images(frac):
    tx, ty = 1 + frac, -(2 + frac)
    ref, sec = s.amplitude_pair((256, 256), tx, ty, kind="smooth", seed=int(100 * frac))
    res = ot.track_offsets(ref, sec, FAST)
    # clean, band-limited amplitude: no pixel locking (measured at most 0.0016 px)
    assert np.max(np.abs(res.dx - tx)) < 0.005 and np.max(np.abs(res.dy - ty)) < 0.005
    # noisy (NCC ~0.8): the accurate preset's error (measured RMSE 0.020-0.024 px, within
    # 0.003 px of the accurate preset window by window; the six-zoom OpenCV pyramid: 0.062)
    ref, sec = s.amplitude_pair((256, 256), tx, ty, coherence=0.894, kind="smooth",
                                seed=int(100 * frac))
    res = ot.track_offsets(ref, sec, FAST)
    err = np.concatenate([(res.dx - tx).ravel(), (res.dy - ty).ravel()])
    assert res.dx.size == 36 and np.all(np.isfinite(err))
    assert np.sqrt(np.mean(err ** 2)) < 0.031
    acc = ot.track_offsets(ref, sec, ACCURATE)
    assert np.max(np.abs(res.dx - acc.dx)) < 0.006 and np.max(np.abs(res.dy - acc.dy)) < 0.006


@pytest.mark.parametrize("burst", BURSTS)
def test_known_shifts_of_the_real_rtc_texture(burst):
    ref = np.sqrt(read_block(_path("2021-11-19", burst)).astype(np.float64))
    fast = dataclasses.replace(PARAMS, preset="fast")
    errors = []
    for tx, ty in ((0.37, -0.21), (0.1, -0.4), (0.5, -0.5)):
        res = ot.track_offsets(ref, _fourier_shift(ref, tx, ty), fast)
        errors += [(res.dx - tx).ravel(), (res.dy - ty).ravel()]
    errors = np.concatenate(errors)
    # real texture up to the Nyquist frequency, not oversampled: measured largest error
    # 0.047 px, RMSE 0.013-0.017 px (accurate preset: within 0.01 px; the six-zoom OpenCV
    # pyramid on all 42 RTC images: RMSE 0.07 px, largest 0.22 px)
    assert errors.size == 96 and np.max(np.abs(errors)) < 0.08
    assert np.sqrt(np.mean(errors ** 2)) < 0.03


def test_complex_images_are_still_oversampled():
    ref, sec = s.speckle_pair((256, 256), 1.3, -2.3, coherence=0.95, seed=3)
    res = ot.track_offsets(ref, sec, FAST)
    acc = ot.track_offsets(ref, sec, ACCURATE)
    # measured RMSE 0.0045 / 0.0055 px, within 0.001 px of the accurate preset; detected
    # without oversampling it would be about 0.11 px
    assert np.sqrt(np.mean((res.dx - 1.3) ** 2)) < 0.008
    assert np.sqrt(np.mean((res.dy + 2.3) ** 2)) < 0.008
    assert np.max(np.abs(res.dx - acc.dx)) < 0.003 and np.max(np.abs(res.dy - acc.dy)) < 0.003
    assert fc.correlation_factor("fast", 2, True) == 2 and fc.correlation_factor("fast", 2, False) == 1
    assert fc.correlation_factor("accurate", 2, False) == 2


def test_masks_and_outputs_behave_as_in_the_accurate_preset():
    ref, sec = s.amplitude_pair((256, 320), 0.4, -0.3, coherence=0.894, kind="smooth", seed=9)
    ref, sec = ref.copy(), sec.copy()
    sec[:, :70] = 0                              # swath border of zeros
    ref[200, 200] = np.nan
    sec[30:90, 200:260] = np.random.default_rng(0).random((60, 60))   # unrelated texture
    p = dataclasses.replace(FAST, snr_threshold=5.0, peak_threshold=0.5, outlier_threshold=0.5)
    res = ot.track_offsets(ref, sec, p)
    acc = ot.track_offsets(ref, sec, dataclasses.replace(p, preset="accurate"))
    assert res.params.preset == "fast"
    assert res.removed == acc.removed and res.removed["nodata"] > 0
    assert res.removed["peak"] + res.removed["snr"] + res.removed["outliers"] > 0
    assert res.valid_before_filters == acc.valid_before_filters
    for name in ("dx", "dy", "peak", "snr", "sigma_x", "sigma_y"):
        np.testing.assert_array_equal(np.isnan(getattr(res, name)), np.isnan(getattr(acc, name)))
    ok = np.isfinite(res.dx)
    np.testing.assert_allclose(res.peak[ok], acc.peak[ok], atol=0.01)
    np.testing.assert_allclose(res.sigma_x[ok], acc.sigma_x[ok], rtol=0.2)
    # where each window measured (for the move to the window centre): from the gradients at
    # the correlated sampling, so not identical, but inside the window's taper
    assert np.all(np.isfinite(res.centroids)) and np.max(np.abs(res.centroids)) < 29


def test_unknown_preset_is_refused():
    ref, sec = s.amplitude_pair((128, 128), 0.2, 0.1, seed=1)
    with pytest.raises(ValueError, match="PRESET = 'quick': use one of accurate, fast"):
        ot.track_offsets(ref, sec, dataclasses.replace(FAST, preset="quick"))


def test_lattice_zoom_stage_equals_the_direct_evaluation_on_lattice_centres():
    # the fast preset's last zoom stage takes its DFT phasors and cubic weights from tables
    # of lags on the lattice of its spacing; at centres on that lattice it must give the
    # correlation and window variance of the per-window evaluation of the accurate preset
    from displacement_toolkit.core import window_correlation as wc
    rng = np.random.default_rng(4)
    for frame, lags, spacing in (((40, 40), 9, 0.125), ((80, 96), 17, 0.125), ((80, 80), 17, 0.5)):
        spectrum = (rng.normal(size=(6, frame[0], frame[1] // 2 + 1)) +
                    1j * rng.normal(size=(6, frame[0], frame[1] // 2 + 1))).astype(np.complex64)
        var = rng.uniform(1.0, 2.0, (6, lags, lags))
        cy, cx = (np.round(rng.uniform(0.6, lags - 1.6, (2, 6)) / spacing) * spacing)
        offsets = spacing * np.array([-1.0, 0.0, 1.0])
        qy, qx, num, var_t = wc._lattice_stage(spectrum, var, cy + 0.4 * spacing,
                                               cx - 0.4 * spacing, spacing, frame)
        np.testing.assert_array_equal(qy, cy)          # moved to the nearest lattice lag
        np.testing.assert_array_equal(qx, cx)
        np.testing.assert_allclose(num, wc._dft_eval(spectrum, cy, cx, offsets, frame),
                                   rtol=1e-5, atol=1e-5 * np.abs(num).max())
        np.testing.assert_allclose(var_t, wc._interpolated_variance(var, cy, cx, offsets),
                                   rtol=1e-12)


def test_fast_batches_are_whole_rows_or_equal_parts_of_a_row():
    assert fc.fast_batch(64, 22) == 66              # three rows of 22 windows
    assert fc.fast_batch(64, 4) == 64               # sixteen rows of four
    assert fc.fast_batch(64, 40) == 80              # two rows of 40
    assert fc.fast_batch(64, 100) == 50             # a row of 100 in two halves
    assert fc.fast_batch(64, 64) == 64 and fc.fast_batch(64, 1) == 64
    # the offsets do not depend on how the windows are batched beyond rounding
    ref, sec = s.amplitude_pair((160, 300), 0.3, -0.6, kind="smooth", seed=5)
    whole = ot.track_offsets(ref, sec, FAST)
    split = ot.track_offsets(ref, sec, dataclasses.replace(FAST, batch=3))
    np.testing.assert_allclose(whole.dx, split.dx, atol=1e-5)
    np.testing.assert_allclose(whole.dy, split.dy, atol=1e-5)
    assert np.max(np.abs(whole.dx - 0.3)) < 0.005 and np.max(np.abs(whole.dy + 0.6)) < 0.005


def test_rows_at_the_original_sampling_are_the_samples_and_their_invalid_mask():
    # the fast preset reads real images at factor 1: the samples as they are (float32) and
    # an invalid mask for NaN, exact zeros and rows outside the image
    from displacement_toolkit.core.oversampled_intensity import OversampledRows
    image = np.random.default_rng(2).uniform(1.0, 2.0, (50, 30))
    image[3, 4], image[7, 8] = np.nan, 0.0
    rows = OversampledRows(ot.ArraySource(image), 1, False)
    values, invalid = rows.rows(-2, 10)
    assert values.dtype == np.float32 and values.shape == (12, 30) and invalid.shape == (12, 30)
    np.testing.assert_array_equal(values[2:][~invalid[2:]],
                                  image[:10][~invalid[2:]].astype(np.float32))
    assert invalid[:2].all() and invalid[5, 4] and invalid[9, 8] and invalid.sum() == 62
    values, invalid = rows.rows(45, 52)                # across the bottom edge
    assert invalid[5:].all() and not invalid[:5].any()
    np.testing.assert_array_equal(values[:5], image[45:].astype(np.float32))
