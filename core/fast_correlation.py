"""The fast preset of offset tracking: fewer samples per window, the same estimator.

``PRESET`` (:data:`PRESETS`) chooses between

* ``accurate`` (the default): real (amplitude) images oversampled :attr:`oversample` times
  before correlating, then three 3 x 3 zoom stages of the band-limited NCC (spacings 1/2, 1/8
  and ``1 / correlation_oversample`` oversampled sample) (:mod:`.window_correlation`);
* ``fast``: real images correlated at their own sampling (no oversampling: a quarter of the
  samples and of the FFT frame), and a single zoom stage of spacing 1/8 sample after the
  whole-pixel parabola (:data:`FAST_ZOOM_STEPS`).  Complex (SLC) images are still
  oversampled ``oversample`` times before detection, as detecting first aliases the speckle
  (docs/offset_tracking.md, "Parameter guidance"), and take two stages (1/2 and 1/8 sample):
  the NCC peak of oversampled speckle spans few samples, so the whole-sample parabola can
  start more than one 1/8-sample grid from it (one stage measured 0.058 px RMSE at coherence
  0.95, two 0.0045 px, three 0.0045 px).

The sub-pixel estimator is the same in both: the NCC is evaluated at fractional lags by a
matrix-multiply DFT of the cross spectrum on a 3 x 3 grid only (Guizar-Sicairos et al. 2008,
Opt. Lett. 33, 156: the band-limited interpolation of the correlation, not a polynomial model
of its peak, so it does not lock onto whole pixels), and a 2-D quadratic fit of those nine
samples (a Newton step) gives the peak.  On real images one stage of spacing 1/8 pixel around
the parabola's estimate leaves a quadratic-model error well below the noise (measured in
docs/offset_tracking.md, "Fast preset").  That stage is centred on the 1/8-pixel lag nearest
the estimate (at most 1/16 pixel from it), so its DFT phasors and interpolation weights come
from per-frame tables instead of per-window exponentials (``on_lattice`` of
:func:`.window_correlation.correlate_batch`); its batches are whole rows of windows
(:func:`fast_batch`).  SNR, correlation peak, 1-sigma, the search-border flag and the
information centroids are computed as in the accurate preset, so the masks and outputs
behave the same.
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from .window_correlation import correlate_batch

#: Presets of the ``PRESET`` parameter, the default first.
PRESETS = ("accurate", "fast")
#: Zoom stages (spacing in samples of the correlated chips) of the fast preset, for real and
#: complex images.
FAST_ZOOM_STEPS = {"real": (0.125,), "complex": (0.5, 0.125)}


def check_preset(preset: str) -> str:
    """``preset`` if it is one of :data:`PRESETS`, else ValueError naming the choices."""
    if preset not in PRESETS:
        raise ValueError(f"PRESET = {preset!r}: use one of {', '.join(PRESETS)} (accurate is "
                         "the default; fast trades a little accuracy for speed)")
    return preset


def correlation_factor(preset: str, oversample: int, is_complex: bool) -> int:
    """Oversampling factor of the correlated chips: ``oversample``, except 1 for real images
    in the fast preset."""
    return 1 if check_preset(preset) == "fast" and not is_complex else int(oversample)


def fast_batch(batch: int, n_cols: int) -> int:
    """Windows per batch of the fast preset on rows of ``n_cols`` windows: ``batch`` rounded
    to whole rows, or to equal parts of a row longer than it, so that a batch is the chips of
    one group of rows as cut (:func:`.offset_tracking._window_batches`) instead of pieces of
    rows joined by one more copy of every chip (a tenth of the run on the 768 x 768 scenes of
    benchmarks/bench_offset_tracking_fast.py)."""
    batch, n_cols = max(1, int(batch)), max(1, int(n_cols))
    if n_cols <= batch:
        return max(1, round(batch / n_cols)) * n_cols
    return -(-n_cols // -(-n_cols // batch))


def correlate_batch_fast(ref_chips: np.ndarray, sec_chips: np.ndarray, search_x: int,
                         search_y: int, factor: int, correlation_oversample: int,
                         is_complex: bool) -> Dict[str, np.ndarray]:
    """:func:`.window_correlation.correlate_batch` with the fast preset's zoom stages
    (:data:`FAST_ZOOM_STEPS`; ``correlation_oversample`` is not used)."""
    steps = FAST_ZOOM_STEPS["complex" if is_complex else "real"]
    return correlate_batch(ref_chips, sec_chips, search_x, search_y, factor,
                           correlation_oversample, is_complex, zoom_steps=steps,
                           on_lattice=not is_complex)
