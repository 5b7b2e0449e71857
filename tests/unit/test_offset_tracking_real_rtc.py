"""Offset tracking on real Sentinel-1 backscatter (OPERA RTC, tests/data/opera_rtc_s1/SOURCE.txt).

Two 100 x 100 pixel crops per burst, six days apart, on one geocoded 30 m grid: a real
no-motion amplitude pair (mountains, no large deformation in six days), and the first date
shifted by a known sub-pixel amount (band-limited Fourier shift) to test the real texture
against an exact truth.
"""

from pathlib import Path

import numpy as np
import pytest

from displacement_toolkit.core import offset_tracking as ot
from displacement_toolkit.core.raster_io import read_block

DATA = Path(__file__).resolve().parents[1] / "data" / "opera_rtc_s1"
BURSTS = ("292320", "292321")
PARAMS = ot.TrackingParameters(window_x=32, window_y=32, search_x=4, search_y=4, step_x=16,
                               step_y=16, coarse_search=False)


def _path(date, burst):
    (path,) = sorted((DATA / date).glob(f"*T137-{burst}-IW2_*_VV.tif"))
    return str(path)


@pytest.mark.parametrize("burst", BURSTS)
def test_no_motion_pair_gives_zero_offsets(burst):
    res = ot.track_offsets(_path("2021-11-19", burst), _path("2021-11-25", burst), PARAMS)
    assert res.dx.shape == (4, 4) and np.all(np.isfinite(res.dx)) and np.all(np.isfinite(res.dy))
    # S1A and S1B RTC products on one geocoded grid: no offset on average beyond about a metre
    # (0.04 of the 30 m pixel); the window-to-window scatter (0.02-0.05 px) is what the
    # reported 1-sigma says, within a factor 2
    assert abs(np.median(res.dx)) < 0.04 and abs(np.median(res.dy)) < 0.04
    for values, sigma in ((res.dx, res.sigma_x), (res.dy, res.sigma_y)):
        ratio = np.std(values) / np.sqrt(np.mean(sigma ** 2))
        assert 0.5 < ratio < 2.0, ratio
    assert np.median(res.peak) > 0.75 and np.min(res.snr) > 4


@pytest.mark.parametrize("burst", BURSTS)
def test_known_subpixel_shift_of_the_real_texture(burst):
    ref = np.sqrt(read_block(_path("2021-11-19", burst)).astype(np.float64))
    tx, ty = 0.37, -0.21
    fy = np.fft.fftfreq(ref.shape[0])[:, None]
    fx = np.fft.fftfreq(ref.shape[1])[None, :]
    sec = np.real(np.fft.ifft2(np.fft.fft2(ref) * np.exp(-2j * np.pi * (fx * tx + fy * ty))))
    res = ot.track_offsets(ref, sec, PARAMS)
    assert np.max(np.abs(res.dx - tx)) < 0.01 and np.max(np.abs(res.dy - ty)) < 0.01
