"""Calibration of the offset-tracking quality masks for optical images (docs/offset_tracking.md,
"Image types and quality thresholds").

Real optical texture: the Landsat crop of tests/data/landsat_rgb_byte.  Three kinds of pairs:

* moved: each band against itself moved by a known sub-pixel shift (Fourier shift, rounded to
  the 8-bit samples, Gaussian noise of 0, 2, 8, 16, 32 DN), three shifts;
* real bands: one band against another moved by the same shifts (real radiometric
  differences, zero shift between the bands by construction);
* unrelated: a band against a flipped or transposed band (no true correlation).

A window of a moved or real-band pair is *correct* when it measures the truth within 0.1 px
in both axes, *failed* when it is more than 0.5 px off; every unrelated window is failed.  For
each window size the script prints, for the SNR and the correlation peak, the fraction of
correct windows a threshold keeps and of failed windows it removes (before the outlier mask).

Run: ``.venv/bin/python benchmarks/calibrate_optical_quality.py`` (about a minute).
"""

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / ".build" / "plugins"))

from displacement_toolkit.core import offset_tracking as ot  # noqa: E402
from displacement_toolkit.core.raster_io import read_block  # noqa: E402

LANDSAT = REPO / "tests" / "data" / "landsat_rgb_byte" / "RGB.byte.crop.tif"
SHIFTS = ((0.37, -0.21), (-0.12, 0.45), (0.5, 0.25))
NOISE = (0, 2, 8, 16, 32)
#: (window, step): 32 and 64 with the usual half-window step; 128 with step 16 to get enough
#: windows from the 256-pixel crop
WINDOWS = ((32, 16), (64, 32), (128, 16))
SNR_LEVELS = (1.5, 2.0, 3.0, 5.0)
PEAK_LEVELS = (0.3, 0.4, 0.5, 0.6)


def fourier_shift(image, tx, ty):
    fy = np.fft.fftfreq(image.shape[0])[:, None]
    fx = np.fft.fftfreq(image.shape[1])[None, :]
    filled = np.where(np.isfinite(image), image, np.nanmean(image))
    return np.real(np.fft.ifft2(np.fft.fft2(filled) * np.exp(-2j * np.pi * (fx * tx + fy * ty))))


def measure(ref, sec, params, truth=None):
    res = ot.track_offsets(ref, sec, params)
    ok = np.isfinite(res.dx)
    if truth is None:
        err = np.full(ok.sum(), np.inf)
    else:
        err = np.maximum(np.abs(res.dx - truth[0]), np.abs(res.dy - truth[1]))[ok]
    return res.snr[ok], res.peak[ok], err


def main():
    bands = [read_block(str(LANDSAT), b).astype(np.float64) for b in (1, 2, 3)]
    rng = np.random.default_rng(1)
    print("| window | windows (correct / failed) | median SNR of correct | "
          + " | ".join(f"SNR >= {t:g}" for t in SNR_LEVELS) + " | "
          + " | ".join(f"peak >= {t:g}" for t in PEAK_LEVELS) + " |")
    print("|" + "---|" * (3 + len(SNR_LEVELS) + len(PEAK_LEVELS)))
    for window, step in WINDOWS:
        params = ot.TrackingParameters(window_x=window, window_y=window, step_x=step,
                                       step_y=step, coarse_search=False)
        parts = []
        for tx, ty in SHIFTS:
            for b, band in enumerate(bands):
                moved = fourier_shift(band, tx, ty)
                for noise in NOISE:
                    sec = np.clip(np.round(moved + rng.normal(0, noise, band.shape)), 1, 255)
                    parts.append(measure(band, sec, params, (tx, ty)))
                for other in range(3):
                    if other != b:
                        sec = np.clip(np.round(fourier_shift(bands[other], tx, ty)), 1, 255)
                        parts.append(measure(band, sec, params, (tx, ty)))
        for b, band in enumerate(bands):
            for sec in (np.flipud(band), np.fliplr(band), band.T, np.flipud(bands[(b + 1) % 3])):
                parts.append(measure(band, sec, params))
        snr, peak, err = (np.concatenate(v) for v in zip(*parts))
        good, bad = err < 0.1, err > 0.5
        cells = [f"{window} (step {step})", f"{good.sum()} / {bad.sum()}",
                 f"{np.median(snr[good]):.1f}"]
        for values, levels in ((snr, SNR_LEVELS), (peak, PEAK_LEVELS)):
            for t in levels:
                cells.append(f"{100 * np.mean(values[good] >= t):.0f} / "
                             f"{100 * np.mean(values[bad] < t):.0f}")
        print("| " + " | ".join(cells) + " |", flush=True)
    print("\ncells: % of correct windows kept / % of failed windows removed")


if __name__ == "__main__":
    main()
