"""Weighted normalised cross-correlation of batches of windows, with sub-pixel peaks.

Input: oversampled detected chips (:mod:`.oversampled_intensity`), a reference window
``(B, f wy, f wx)`` and the search area around it ``(B, f (wy + 2 sy), f (wx + 2 sx))`` per
window, ``f`` the oversampling factor; zero lag = the reference window at the centre of the
search area.  Lags ``tau`` (oversampled samples) run over ``0 .. 2 f s`` per axis; the
offset in pixels is ``(tau - f s) / f``.

Estimator (per window)
----------------------
The reference ``r`` is tapered by a separable Tukey window ``w`` (cosine edges of
:data:`TAPER_PIXELS` pixels) after removing its weighted mean: ``a = w (r - mean_w(r))``.
At lag ``tau`` the window ``w`` slides to ``w(x - tau)`` over the search chip ``s``::

    NCC(tau) = num(tau) / sqrt(rnorm * var(tau))
    num(tau) = sum_x a(x - tau) s(x)          (band-limited: circular correlation, FFT)
    var(tau) = E(tau) - S(tau)**2 / W(tau)    E, S, W = sums of w(x - tau) s(x)**2, s(x), 1
    rnorm    = sum_x w(x) (r(x) - mean_w(r))**2

``num`` is evaluated at whole-pixel lags and at fractional lags by matrix-multiply DFTs of
the cross spectrum (two large matrix products for the whole-pixel lags shared by all
windows) (Guizar-Sicairos et al. 2008, Opt. Lett. 33,
156): the band-limited interpolation of the correlation, exact up to the taper's spectral
leakage because the tapered reference is what is shifted.  ``var`` is computed exactly at
every whole-sample lag, as matrix products ``Wy^T s Wx`` with the shifted tapers as columns
(one large product per batch), and interpolated at fractional lags by cubic convolution
(Keys 1981, IEEE Trans. ASSP 29, 1153): it only changes where the taper edges move, and the
interpolation error measured on speckle is below 2e-5 relative, far below what would move
the peak.

Peak: integer peak at whole-pixel lags, a quadratic fit of its 3 x 3 neighbourhood, then the
NCC on 3 x 3 grids of spacing 1/2, 1/8 oversampled sample and ``f / correlation_oversample``
centred on the previous estimate, with a 2-D quadratic fit (a Newton step) at each stage.
SNR = peak / mean |NCC| at whole-pixel lags more than 2 pixels from the peak.  1-sigma per
axis = ``sqrt(K (1 - rho) / (N |c''|))`` (rho the peak NCC, ``c''`` the NCC curvature at the
peak per pixel**2, N the window size in pixels, K an empirical factor: :data:`SIGMA_CALIBRATION`
for SLCs, :data:`SIGMA_CALIBRATION_REAL` for real images; docs/offset_tracking.md), and at
least :data:`SIGMA_FLOOR`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from scipy import fft as sfft

#: Width of the cosine edges of the reference taper, in original pixels.
TAPER_PIXELS = 3.0
#: Empirical factor K of the sigma formula for complex (detected after oversampling) and
#: real chips, fitted on synthetic speckle (docs/offset_tracking.md).
SIGMA_CALIBRATION = 2.6
SIGMA_CALIBRATION_REAL = 11.0
#: Smallest 1-sigma reported (pixels): the estimator's own error on noise-free scenes
#: (RMSE 0.0001-0.0003 px, benchmarks/results/offset_tracking.md).  Without it a peak that
#: rounds to 1 gives a sigma of 0, which as a weight would mean infinite confidence.
SIGMA_FLOOR = 1e-4


def _clip(a, lo, hi):
    """``np.clip`` without its per-call overhead (tens of microseconds on numpy 1.24, on
    arrays of a few hundred values, several times per batch)."""
    return np.minimum(np.maximum(a, lo), hi)


def tukey_continuous(u, n: int, edge: float) -> np.ndarray:
    """Tukey taper of ``n`` samples with cosine edges of ``edge`` samples at (fractional)
    sample positions ``u``: ``0.5 - 0.5 cos(pi t / e)`` with ``t`` the distance in samples
    from the nearer outer edge (``-0.5`` or ``n - 0.5``) while ``t < e``, 1 inside, 0 outside.
    At integer ``u`` it is the sampled taper; it is continuous with a continuous slope."""
    u = np.asarray(u, dtype=np.float64)
    e = int(round(edge))
    t = np.minimum(u + 0.5, n - 0.5 - u)
    if e > 0 and 2 * e < n:
        return 0.5 - 0.5 * np.cos(np.pi * _clip(t * (1.0 / e), 0.0, 1.0))
    return (t >= 0).astype(np.float64)


@lru_cache(maxsize=8)
def _half_spectrum_frequencies(ny: int, nx: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frequencies (cycles per sample) of an rfft2 spectrum of an (ny, nx) frame along y and
    x, and the weights that turn its half x axis into the full real inverse DFT: 2 for the
    bins whose conjugates are omitted, 1 for DC (and Nyquist), all divided by ny nx."""
    fy = sfft.fftfreq(ny)
    fx = sfft.rfftfreq(nx)
    wx = np.full(fx.size, 2.0 / (ny * nx))
    wx[0] = 1.0 / (ny * nx)
    if nx % 2 == 0:
        wx[-1] = 1.0 / (ny * nx)
    return fy, fx, wx


def _dft_eval(spectrum: np.ndarray, cy: np.ndarray, cx: np.ndarray, offsets: np.ndarray,
              shape: Tuple[int, int]) -> np.ndarray:
    """Real circular correlation at fractional lags from rfft2 cross spectra.

    spectrum: (B, Ny, Nx//2+1) of a (Ny, Nx) frame; the lags are ``(cy + offsets[j],
    cx + offsets[l])`` in samples, cy, cx: (B,), offsets: (J,).  Returns (B, J, J)."""
    fy, fx, wx = _half_spectrum_frequencies(*shape)
    offset_y, offset_x = _offset_phasors(shape[0], shape[1], tuple(float(v) for v in offsets))
    # phasors exp(2 pi i f (c + offset)) = exp(2 pi i f c) exp(2 pi i f offset): one complex
    # exponential per window and frequency; complex64 like the spectrum
    ey = (np.exp(2j * np.pi * cy[:, None] * fy[None, :])[:, None, :] *
          offset_y[None]).astype(np.complex64)
    ex = ((np.exp(2j * np.pi * cx[:, None] * fx[None, :]) * wx)[:, :, None] *
          offset_x[None]).astype(np.complex64)
    out = np.matmul(np.matmul(ey, spectrum), ex)                            # (B, J, J)
    return out.real.astype(np.float64)


@lru_cache(maxsize=16)
def _offset_phasors(ny: int, nx: int, offsets: Tuple[float, ...]) -> Tuple[np.ndarray, np.ndarray]:
    """The window-independent factors ``exp(2 pi i f offset)`` of :func:`_dft_eval`: (J, Ny)
    along y and (Nx//2+1, J) along x (read-only: shared by every batch of a frame size)."""
    fy, fx, _wx = _half_spectrum_frequencies(ny, nx)
    offsets = np.asarray(offsets)
    along_y = np.exp(2j * np.pi * offsets[:, None] * fy[None, :])
    along_x = np.exp(2j * np.pi * fx[:, None] * offsets[None, :])
    along_y.flags.writeable = along_x.flags.writeable = False
    return along_y, along_x


@lru_cache(maxsize=8)
def _lag_phasors(ny: int, nx: int, lags_y: range, lags_x: range
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """DFT kernels of :func:`_dft_lags`: (J, Ny) and (Nx//2+1, L), complex64, the Hermitian
    weights and the 1 / (Ny Nx) normalisation in the second."""
    fy, fx, wx = _half_spectrum_frequencies(ny, nx)
    ey = np.exp(2j * np.pi * np.asarray(lags_y)[:, None] * fy[None, :]).astype(np.complex64)
    ex = (np.exp(2j * np.pi * fx[:, None] * np.asarray(lags_x)[None, :]) * wx[:, None]
          ).astype(np.complex64)
    return ey, ex


def _dft_lags(spectrum: np.ndarray, lags_y: range, lags_x: range, shape: Tuple[int, int]
              ) -> np.ndarray:
    """Real circular correlation at the same lags (samples, ranges of whole samples) for
    every window, from rfft2 cross spectra (B, Ny, Nx//2+1) of (Ny, Nx) frames: two large
    matrix products.  Returns (B, J, L) float64."""
    b, ny, nxh = spectrum.shape
    ey, ex = _lag_phasors(shape[0], shape[1], lags_y, lags_x)
    t = np.matmul(ey, spectrum)                                             # (B, J, Nx')
    out = (t.reshape(-1, nxh) @ ex).reshape(b, ey.shape[0], ex.shape[1])
    return out.real.astype(np.float64)


def _window_variance(both: np.ndarray, hy: int, hx: int, edge: float, lags_y: int,
                     lags_x: int) -> np.ndarray:
    """Weighted variance sum ``E - S**2 / W`` of ``s`` under the (hy, hx) taper shifted by
    ``0 .. lags_y - 1`` and ``0 .. lags_x - 1`` samples (E, S, W = sums of w s**2, w s, w).

    both: (2B, Ny, Nx) float32, ``s**2`` stacked on ``s``.  Returns (B, lags_y, lags_x)
    float64."""
    b2, ny, nx = both.shape
    b = b2 // 2
    wy, wx, wsum = _variance_windows(ny, nx, hy, hx, edge, lags_y, lags_x)
    t = (both.reshape(-1, nx) @ wx).reshape(b2, ny, -1)                      # (2B, Ny, L)
    sums = np.matmul(wy.T, t).astype(np.float64)                            # (2B, J, L)
    return sums[:b] - sums[b:] ** 2 / wsum


@lru_cache(maxsize=8)
def _variance_windows(ny: int, nx: int, hy: int, hx: int, edge: float, lags_y: int,
                      lags_x: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shifted tapers of :func:`_window_variance` along y (Ny, J) and x (Nx, L)
    (:func:`_lag_windows`) and their weight sums W (J, L), float64."""
    wy, wx = _lag_windows(ny, hy, edge, lags_y), _lag_windows(nx, hx, edge, lags_x)
    wsum = wy.sum(axis=0).astype(np.float64)[:, None] * wx.sum(axis=0)[None, :]
    wsum.flags.writeable = False
    return wy, wx, wsum


@lru_cache(maxsize=8)
def _lag_windows(n: int, h: int, edge: float, lags: int) -> np.ndarray:
    """(n, lags) float32: the taper of ``h`` samples shifted by 0, 1, ... lags-1 samples."""
    return tukey_continuous(np.arange(n)[:, None] - np.arange(lags)[None, :], h, edge
                            ).astype(np.float32)


@lru_cache(maxsize=8)
def _taper(hy: int, hx: int, edge: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The window taper: its y and x profiles (float64), the 2-D taper (float32) and its sum."""
    ty = tukey_continuous(np.arange(hy), hy, edge)
    tx = tukey_continuous(np.arange(hx), hx, edge)
    w2 = np.outer(ty, tx).astype(np.float32)
    w2.flags.writeable = False
    return ty, tx, w2, float(w2.sum())


def _keys_weights(t: np.ndarray, n: int) -> np.ndarray:
    """(B, P, n) cubic-convolution weights (Keys 1981, a = -0.5) of the positions t (B, P),
    clipped to [1, n - 2], on the grid 0 .. n-1."""
    x = np.abs(_clip(t, 1.0, n - 2.0)[:, :, None] - np.arange(n)[None, None, :])
    near = (1.5 * x - 2.5) * x * x + 1.0
    far = ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def _interpolated_variance(var: np.ndarray, cy: np.ndarray, cx: np.ndarray,
                          offsets: np.ndarray) -> np.ndarray:
    """The window variance (B, J, L) at the fractional lags ``(cy + offsets[j], cx +
    offsets[l])`` by cubic convolution (:func:`_keys_weights`): (B, P, P)."""
    ty, tx = cy[:, None] + offsets[None, :], cx[:, None] + offsets[None, :]
    if var.shape[1] == var.shape[2]:       # one call for both axes (square search ranges)
        both = _keys_weights(np.concatenate([ty, tx]), var.shape[1])
        wy, wx = both[:cy.size], both[cy.size:]
    else:
        wy, wx = _keys_weights(ty, var.shape[1]), _keys_weights(tx, var.shape[2])
    return np.matmul(np.matmul(wy, var), np.swapaxes(wx, 1, 2))


@lru_cache(maxsize=16)
def _lattice_tables(ny: int, nx: int, var_y: int, var_x: int, spacing: float
                    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tables of :func:`_lattice_stage` for lags ``m * spacing`` (m = 0, 1, ... up to the
    largest lag of the variance grid, one more each side): the DFT phasors of
    :func:`_dft_eval` along y (M, Ny) and x (Nx//2+1, M, the Hermitian weights included),
    complex64, and the cubic-convolution weights (:func:`_keys_weights`) along y (M, var_y)
    and x (M, var_x)."""
    fy, fx, wx = _half_spectrum_frequencies(ny, nx)
    lags = np.arange(-1, int(round(max(var_y, var_x) / spacing)) + 2) * spacing
    phasor_y = np.exp(2j * np.pi * lags[:, None] * fy[None, :]).astype(np.complex64)
    phasor_x = (np.exp(2j * np.pi * fx[:, None] * lags[None, :]) * wx[:, None]).astype(np.complex64)
    weights_y = _keys_weights(lags[None, :], var_y)[0]
    weights_x = _keys_weights(lags[None, :], var_x)[0]
    for table in (phasor_y, phasor_x, weights_y, weights_x):
        table.flags.writeable = False
    return phasor_y, phasor_x, weights_y, weights_x


def _lattice_stage(spectrum: np.ndarray, var: np.ndarray, cy: np.ndarray, cx: np.ndarray,
                   spacing: float, shape: Tuple[int, int]):
    """One zoom stage on the lattice of multiples of ``spacing``: the centres ``cy``, ``cx``
    moved to the nearest lattice lag, and the correlation (:func:`_dft_eval`) and window
    variance (:func:`_interpolated_variance`) on the 3 x 3 lattice lags around them, from
    :func:`_lattice_tables`.  Returns (cy, cx, num, var), num and var (B, 3, 3)."""
    phasor_y, phasor_x, weights_y, weights_x = _lattice_tables(
        shape[0], shape[1], var.shape[1], var.shape[2], float(spacing))
    # table row of lag m * spacing is m + 1; the stencil takes m - 1 .. m + 1
    my = np.rint(cy / spacing).astype(np.intp)
    mx = np.rint(cx / spacing).astype(np.intp)
    stencil = np.arange(3)
    rows_y, rows_x = my[:, None] + stencil, mx[:, None] + stencil             # (B, 3)
    num = np.matmul(np.matmul(phasor_y[rows_y], spectrum), np.swapaxes(phasor_x[:, rows_x], 0, 1))
    var_t = np.matmul(np.matmul(weights_y[rows_y], var), np.swapaxes(weights_x[rows_x], 1, 2))
    return my * spacing, mx * spacing, num.real.astype(np.float64), var_t


def _ncc(num: np.ndarray, var: np.ndarray, rnorm: np.ndarray) -> np.ndarray:
    out = num / np.sqrt(np.maximum(var, 1e-30) * rnorm[:, None, None])
    out[~np.isfinite(out)] = -2.0
    return out


def _axis_parabola_steps(c: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Vertex of the parabola through the centre row and column of 3 x 3 samples (B, 3, 3)
    of spacing 1, per axis, clipped to +-0.5 (0 where the samples are not concave)."""
    # both axes at once: (B, 2) samples below, at and above the centre along y and x
    lo, mid, hi = c[:, (0, 1), (1, 0)], c[:, 1, 1][:, None], c[:, (2, 1), (1, 2)]
    curv = hi - 2 * mid + lo
    concave = curv < 0
    step = _clip(np.where(concave, -(hi - lo) / (2 * np.where(concave, curv, -1.0)), 0.0),
                 -0.5, 0.5)
    return step[:, 0], step[:, 1]


def _newton_step(c: np.ndarray):
    """2-D quadratic fitted to 3 x 3 samples (B, 3, 3) of spacing 1 around the current
    estimate: the step to its maximum (uy, ux, in grid spacings, clipped to +-4; toward the
    best sample when the fit is not concave), the value there and the curvatures hyy, hxx."""
    f00 = c[:, 1, 1]
    # both axes at once: (B, 2) samples above and below the centre along y and x
    hi, lo = c[:, (2, 1), (1, 2)], c[:, (0, 1), (1, 0)]
    fxy = (c[:, 2, 2] - c[:, 2, 0] - c[:, 0, 2] + c[:, 0, 0]) / 4.0
    g = (hi - lo) / 2.0                                   # gradient (gy, gx)
    h = hi - 2 * f00[:, None] + lo                        # curvatures (hyy, hxx)
    det = h[:, 0] * h[:, 1] - fxy * fxy
    ok = (det > 0) & (h[:, 0] < 0)
    # Newton step -H^-1 g: uy = -(hxx gy - fxy gx) / det, ux = -(hyy gx - fxy gy) / det
    cross = h[:, ::-1] * g - fxy[:, None] * g[:, ::-1]
    u = np.where(ok[:, None], -cross / np.where(ok, det, 1.0)[:, None], 0.0)
    best = np.stack(np.unravel_index(c.reshape(c.shape[0], -1).argmax(axis=1), (3, 3)), axis=1)
    u = np.where(ok[:, None], _clip(u, -4.0, 4.0), best - 1.0)
    uy, ux = u[:, 0], u[:, 1]
    return uy, ux, f00 + 0.5 * (g[:, 0] * uy + g[:, 1] * ux), h[:, 0], h[:, 1]


def information_centroids(ref_chips: np.ndarray, edge: float, factor: int) -> np.ndarray:
    """Where in each window its offsets are measured, relative to the window centre (pixels).

    The correlation weighs each part of the window by the information it carries on the
    shift: the tapered squared gradient of the reference, along x for dx and along y for dy.
    Under an offset that varies across the window, dx is the offset at the centroid of the
    x-information and dy at that of the y-information, which can lie most of a pixel from the
    window centre on speckle.  Returns (B, 4): x and y of the dx centroid, x and y of the dy
    centroid, in pixels from the window centre (+x right, +y down).  ``edge``: the cosine
    edges (samples) of the separable window taper (:func:`_taper`)."""
    r = np.asarray(ref_chips, dtype=np.float32)
    b, hy, hx = r.shape
    wx, wy = _centroid_weights(hy, hx, edge, factor)
    out = np.empty((b, 4))
    for k, (grad, wxk, wyk) in enumerate((
            (r[:, :, 2:] - r[:, :, :-2], wx[1:hx - 1], wy),            # x: (B, hy, hx - 2)
            (r[:, 2:, :] - r[:, :-2, :], wx, wy[1:hy - 1]))):           # y: (B, hy - 2, hx)
        grad *= grad
        rows = (grad.reshape(-1, grad.shape[2]) @ wxk).reshape(b, grad.shape[1], 2)
        sums = np.matmul(np.swapaxes(rows, 1, 2).astype(np.float64), wyk)   # (B, x: 1/u, y: 1/v)
        total = np.maximum(sums[:, 0, 0], 1e-30)
        out[:, 2 * k] = sums[:, 1, 0] / total
        out[:, 2 * k + 1] = sums[:, 0, 1] / total
    return out


@lru_cache(maxsize=8)
def _centroid_weights(hy: int, hx: int, edge: float, factor: int
                      ) -> Tuple[np.ndarray, np.ndarray]:
    """The weights of :func:`information_centroids`: the taper and the taper times the
    position (pixels from the window centre), (hx, 2) float32 along x and (hy, 2) float64
    along y."""
    ty, tx, _w2, _wsum = _taper(hy, hx, edge)
    # sample k lies at pixel index k / factor of the window (oversampling keeps the original
    # samples at k = 0, factor, ...); the window centre is at index (w - 1) / 2
    ux = (np.arange(hx) - (hx - factor) / 2.0) / factor
    uy = (np.arange(hy) - (hy - factor) / 2.0) / factor
    # the taper is separable: the weighted sums (1 and the position, along x then y) are two
    # matrix products per gradient; central differences on the interior samples
    wx = np.stack([tx, tx * ux], axis=1).astype(np.float32)
    wy = np.stack([ty, ty * uy], axis=1)
    wx.flags.writeable = wy.flags.writeable = False
    return wx, wy


def cross_spectrum(tapered_ref: np.ndarray, search: np.ndarray, frame: Tuple[int, int]
                   ) -> np.ndarray:
    """rfft2 cross spectra ``conj(FFT(a)) FFT(s)`` (B, Ny, Nx//2+1) of tapered reference chips
    ``a`` (B, hy, hx) and search chips ``s`` (B, ny, nx), both zero-padded to the frame
    (Ny, Nx): the numerator of the NCC at every circular lag.  Two FFTs per window, the
    largest cost of a window after the oversampling (docs/offset_tracking.md, speed)."""
    fy_n, fx_n = frame
    fa = sfft.fft(sfft.rfft(tapered_ref, n=fx_n, axis=2), n=fy_n, axis=1, overwrite_x=True)
    spectrum = sfft.rfft2(search, s=(fy_n, fx_n), axes=(1, 2))
    np.multiply(np.conj(fa, out=fa), spectrum, out=spectrum)
    return spectrum


def correlate_batch(ref_chips: np.ndarray, sec_chips: np.ndarray, search_x: int,
                    search_y: int, factor: int, correlation_oversample: int,
                    is_complex: bool, zoom_steps: Optional[Sequence[float]] = None,
                    on_lattice: bool = False) -> Dict[str, np.ndarray]:
    """Offsets of a batch of windows from oversampled detected chips (module docstring).

    ref_chips: (B, f wy, f wx); sec_chips: (B, f (wy + 2 search_y), f (wx + 2 search_x)),
    float32, finite.  ``zoom_steps``: the spacings (oversampled samples) of the 3 x 3 zoom
    stages; by default 1/2, 1/8 and ``f / correlation_oversample`` (the fast preset uses fewer:
    :mod:`.fast_correlation`).  ``on_lattice``: centre the last stage's grid on the nearest
    multiple of its spacing instead of the previous estimate, so that its DFT phasors and
    interpolation weights come from tables (:func:`_lattice_tables`) instead of being computed
    per window (the fast preset; the earlier, coarser stages are not moved: half a spacing
    of 1/2 sample off the oversampled speckle peak, their quadratic fit fails).

    Returns dx, dy (pixels, relative to the chips' zero lag), peak (NCC), snr, sigma_x,
    sigma_y, ``edge`` (peak on the border of the search range: unreliable) and ``centroids``
    (:func:`information_centroids`)."""
    o = int(factor)
    r = np.asarray(ref_chips, dtype=np.float32)
    s = np.asarray(sec_chips, dtype=np.float32)
    b, hy, hx = r.shape
    ny, nx = s.shape[1:]
    sfy, sfx = o * int(search_y), o * int(search_x)     # zero lag, in oversampled samples
    # FFT frame: zero-padded to a fast length
    fy_n, fx_n = sfft.next_fast_len(ny, real=True), sfft.next_fast_len(nx, real=True)
    edge = TAPER_PIXELS * o
    _ty, _tx, w2, wsum0 = _taper(hy, hx, edge)
    w2flat = w2.ravel()
    centroids = information_centroids(r, edge, o)
    r0 = r - ((r.reshape(b, -1) @ w2flat) / wsum0)[:, None, None]
    rnorm = ((r0 * r0).reshape(b, -1) @ w2flat).astype(np.float64)
    # search chips: mean removed (conditioning of the float32 window sums; NCC unchanged),
    # stacked under their squares for the window sums
    both = np.empty((2 * b, ny, nx), np.float32)
    mean = (s.reshape(b, -1) @ np.ones(ny * nx, np.float32)) / np.float32(ny * nx)
    s = np.subtract(s, mean[:, None, None], out=both[b:])
    np.multiply(s, s, out=both[:b])
    spectrum = cross_spectrum(w2 * r0, s, (fy_n, fx_n))
    # weighted variance of the search chip under the shifted window at every lag of whole
    # samples (exact sums); fractional lags interpolate it (smooth: only the taper edges move)
    var = _window_variance(both, hy, hx, edge, 2 * sfy + 1, 2 * sfx + 1)  # (B, 2sfy+1, 2sfx+1)
    # whole-pixel lags
    q = o
    num = _dft_lags(spectrum, range(0, 2 * sfy + 1, q), range(0, 2 * sfx + 1, q), (fy_n, fx_n))
    ncc = _ncc(num, var[:, ::q, ::q], rnorm)                                # (B, 2sy+1, 2sx+1)
    flat = ncc.reshape(b, -1).argmax(axis=1)
    ky, kx = np.unravel_index(flat, ncc.shape[1:])
    ib = np.arange(b)
    peak_int = ncc[ib, ky, kx]
    # SNR: peak over mean |NCC| outside +-2 pixels of the peak
    yy = np.arange(ncc.shape[1])[None, :, None]
    xx = np.arange(ncc.shape[2])[None, None, :]
    far = (np.abs(yy - ky[:, None, None]) > 2) | (np.abs(xx - kx[:, None, None]) > 2)
    absn = np.where(far, np.abs(_clip(ncc, -1, 1)), 0.0)
    mean_far = absn.sum(axis=(1, 2)) / np.maximum(far.sum(axis=(1, 2)), 1)
    # stage 0: quadratic fit of the whole-pixel-lag NCC around its peak
    kyc = _clip(ky, 1, ncc.shape[1] - 2)
    kxc = _clip(kx, 1, ncc.shape[2] - 2)
    around = ncc[ib[:, None, None], kyc[:, None, None] + np.arange(-1, 2)[None, :, None],
                 kxc[:, None, None] + np.arange(-1, 2)[None, None, :]]      # (B, 3, 3)
    uy0, ux0 = _axis_parabola_steps(around)
    cy = q * (kyc + uy0)                                 # oversampled samples
    cx = q * (kxc + ux0)
    # Newton-like zoom on 3 x 3 grids of decreasing spacing
    fine = o / float(correlation_oversample)
    steps = [d for d in (0.5, 0.125) if d > fine] + [fine] if zoom_steps is None else \
        [float(d) for d in zoom_steps]
    grid = np.array([-1.0, 0.0, 1.0])
    for stage, d in enumerate(steps, 1):
        if on_lattice and stage == len(steps):
            cy, cx, num, var_t = _lattice_stage(spectrum, var, cy, cx, d, (fy_n, fx_n))
        else:
            num = _dft_eval(spectrum, cy, cx, d * grid, (fy_n, fx_n))
            var_t = _interpolated_variance(var, cy, cx, d * grid)
        uy, ux, peak, hyy, hxx = _newton_step(_ncc(num, var_t, rnorm))
        cy = cy + d * uy
        cx = cx + d * ux
        curvature = -np.stack([hyy, hxx]) / (d * d) * o * o        # y, x; per pixel^2
    # peak within half an oversampled sample of the search border (or beyond): unreliable
    edge_hit = ~((cy >= 0.5) & (cy <= 2 * sfy - 0.5) & (cx >= 0.5) & (cx <= 2 * sfx - 0.5))
    dy = (cy - sfy) / o
    dx = (cx - sfx) / o
    peak = np.where(np.isfinite(peak), peak, peak_int)
    rho = _clip(peak, 1e-6, 1.0)
    npix = float(hy * hx) / (o * o)
    k_sig = SIGMA_CALIBRATION if is_complex else SIGMA_CALIBRATION_REAL
    with np.errstate(divide="ignore", invalid="ignore"):
        sig_y, sig_x = np.maximum(np.sqrt(k_sig * (1.0 - rho) / (npix * np.abs(curvature))),
                                  SIGMA_FLOOR)
        snr = peak / np.maximum(mean_far, 1e-12)
    return {"dx": dx, "dy": dy, "peak": peak, "snr": snr, "sigma_x": sig_x, "sigma_y": sig_y,
            "edge": edge_hit, "centroids": centroids}
