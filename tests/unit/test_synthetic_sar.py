"""Synthetic speckle pairs: exact shifts, coherence, bandwidth, ramps, determinism."""

import numpy as np
import pytest

from displacement_toolkit.core import synthetic_sar as s


def _spectrum_fraction_outside(img, half_band):
    spec = np.abs(np.fft.fft2(img - img.mean())) ** 2
    fy = np.abs(np.fft.fftfreq(img.shape[0]))[:, None]
    fx = np.abs(np.fft.fftfreq(img.shape[1]))[None, :]
    outside = (fy >= half_band) | (fx >= half_band)
    return spec[outside].sum() / spec.sum()


def test_same_seed_same_pair_and_dtype():
    a = s.speckle_pair((64, 80), 1.5, -0.5, coherence=0.9, seed=3)
    b = s.speckle_pair((64, 80), 1.5, -0.5, coherence=0.9, seed=3)
    c = s.speckle_pair((64, 80), 1.5, -0.5, coherence=0.9, seed=4)
    assert a[0].dtype == np.complex64 and a[0].shape == (64, 80)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])


def test_integer_uniform_shift_is_an_exact_translation():
    ref, sec = s.speckle_pair((96, 128), offset_x=5, offset_y=-3, seed=1)
    # a feature at (x, y) in the reference is at (x + 5, y - 3) in the secondary
    np.testing.assert_allclose(sec[0:90, 5:128], ref[3:93, 0:123], atol=2e-5)


def test_offset_arrays_agree_with_exact_fourier_shift():
    shape = (128, 160)
    ref, sec = s.speckle_pair(shape, 3.3, -1.7, seed=5)
    ref2, sec2 = s.speckle_pair(shape, *s.uniform_field(shape, 3.3, -1.7), seed=5)
    assert np.array_equal(ref, ref2)
    rms = np.sqrt(np.mean(np.abs(sec - sec2) ** 2))
    assert rms < 1e-3  # unit-power signal: interpolation error is negligible


def test_coherence_and_unit_intensity():
    ref, sec = s.speckle_pair((256, 256), 0.0, 0.0, coherence=0.7, seed=2)
    gamma = abs(np.vdot(ref, sec)) / np.sqrt(np.vdot(ref, ref).real * np.vdot(sec, sec).real)
    assert gamma == pytest.approx(0.7, abs=0.01)
    assert np.mean(np.abs(ref) ** 2) == pytest.approx(1.0, rel=0.05)
    assert np.mean(np.abs(sec) ** 2) == pytest.approx(1.0, rel=0.05)


def test_complex_speckle_is_band_limited():
    ref, sec = s.speckle_pair((128, 128), 0.4, 0.2, bandwidth=0.8, seed=7)
    # the crop is not periodic, so allow a little leakage; white speckle would put 36 % outside
    assert _spectrum_fraction_outside(ref, 0.42) < 0.01
    assert _spectrum_fraction_outside(sec, 0.42) < 0.01


def test_azimuth_ramp_sets_the_spectral_centroid():
    ref, sec = s.speckle_pair((256, 128), 0.0, 0.0, azimuth_ramp_cycles=0.3, seed=1)
    lag = np.sum(ref[1:, :] * np.conj(ref[:-1, :]))
    assert np.angle(lag) / (2 * np.pi) == pytest.approx(0.3, abs=0.01)
    lag_x = np.sum(ref[:, 1:] * np.conj(ref[:, :-1]))
    assert np.angle(lag_x) / (2 * np.pi) == pytest.approx(0.0, abs=0.01)
    # a rate makes the centroid drift along azimuth
    ref, _ = s.speckle_pair((512, 128), 0.0, 0.0, azimuth_ramp_cycles=0.1,
                            azimuth_ramp_rate=0.0005, seed=1)
    top = np.angle(np.sum(ref[1:64] * np.conj(ref[:63]))) / (2 * np.pi)
    bottom = np.angle(np.sum(ref[449:] * np.conj(ref[448:-1]))) / (2 * np.pi)
    assert bottom - top == pytest.approx(0.0005 * 448, abs=0.02)


def test_amplitude_variants_aliased_or_not():
    smooth, smooth2 = s.amplitude_pair((128, 128), 0.0, 0.0, kind="smooth", seed=1)
    detected, _ = s.amplitude_pair((128, 128), 0.0, 0.0, kind="detected", seed=1)
    assert smooth.dtype == np.float32 and np.all(smooth >= 0)
    assert _spectrum_fraction_outside(smooth, 0.42) < 0.01
    assert _spectrum_fraction_outside(detected, 0.42) > 0.05
    with pytest.raises(ValueError):
        s.amplitude_pair((8, 8), kind="sharp")


def test_fault_and_smooth_fields():
    dx, dy = s.fault_field((10, 20), slip=2.0)
    assert np.all(dx == 0) and np.all(dy[:, :10] == -1.0) and np.all(dy[:, 10:] == 1.0)
    dx, dy = s.smooth_field((64, 64), amplitude=1.5, wavelength=64)
    assert np.max(np.abs(dx)) == pytest.approx(1.5, abs=0.01)
    assert dx[0, 16] == pytest.approx(1.5) and dy[16, 0] == pytest.approx(0.75)


def test_bad_arguments():
    with pytest.raises(ValueError):
        s.speckle_pair((0, 10))
    with pytest.raises(ValueError):
        s.speckle_pair((10, 10), coherence=1.5)
    with pytest.raises(ValueError):
        s.speckle_pair((10, 10), bandwidth=0.0)
