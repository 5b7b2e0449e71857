"""Pixel offset tracking: dense normalised cross-correlation with sub-pixel peaks.

For every window of the reference image (a regular grid of window centres)
the offset to the secondary image is measured by normalised cross-correlation
(NCC) over a search area, with a sub-pixel peak.  Windows are processed in
vectorised batches (no Python loop per window) with ``scipy.fft``; the images
are read strip by strip (one row of windows plus the search margin), so the
memory needed is bounded for any image size (see :func:`memory_bound`).

Conventions (docs/conventions.md)
---------------------------------
* Offsets = position in the **secondary** minus position in the
  **reference**, in pixels; ``dx`` along columns (+x = range),
  ``dy`` along rows (+y = azimuth).
* Window ``(i, j)`` covers reference rows ``top_i .. top_i + window_y - 1``
  with ``top_i = search_y + i * step_y`` (columns alike).  Its centre, the
  ground position it measures, is at fractional pixel position
  ``(left_j + window_x / 2, top_i + window_y / 2)`` in the GDAL convention
  (``(0, 0)`` = upper-left corner of the first pixel).
* Output grid: one pixel per window; the output geotransform is the
  reference geotransform scaled by the step, with the first output pixel
  centred on the first window centre (:func:`output_geotransform`).

Method (per batch of windows)
-----------------------------
1. Complex (SLC) chips: the spectral centroid of each chip is estimated from
   the phase of its lag-1 autocorrelation along each axis and removed (linear
   phase ramp, e.g. a TOPS azimuth ramp), the chip is oversampled by
   ``oversample`` through FFT zero padding (the zeros go in the empty part of
   the deramped spectrum), then detected (intensity ``|z|**2``, band-limited
   on the oversampled grid).  Real (amplitude) chips are oversampled the same
   way (exact for non-aliased amplitude; it removes pixel locking).  Chips are
   cut with a margin that is cropped after oversampling, so FFT edge effects
   stay outside the window.
2. Weighted NCC of the (Tukey-tapered, mean-removed) reference window against
   every position of the search area, with local normalisation of the
   secondary (weighted mean and energy), from three FFT correlations.
3. Integer peak of the NCC at whole-pixel lags (the cross spectra folded by
   the oversampling factor, so the inverse FFTs are small) and a quadratic fit
   around it; then the NCC is evaluated at fractional lags by a
   matrix-multiply DFT of the three (unfolded) cross spectra (Guizar-Sicairos
   et al. 2008) on 3 x 3 grids of spacing 0.5 and 1/8 oversampled samples and
   finally ``1/correlation_oversample`` pixel, each centred on the previous
   estimate, with a 2-D quadratic fit at each stage (a Newton step on the
   band-limited NCC surface; no grid quantisation).  Because the *tapered*
   reference is what is shifted, the band-limited interpolation of the
   correlation is exact up to the taper's spectral leakage, and the
   estimator does not lock to integer pixels.
4. SNR = peak NCC / mean |NCC| of the search surface (whole-pixel lags) outside
   ±2 pixels of the peak.  sigma (per axis, pixels) = sqrt(K (1 - rho) / (N |c''|)) with rho the
   peak NCC, c'' the NCC curvature at the peak (per pixel²), N the number of
   pixels in the window and K = :data:`SIGMA_CALIBRATION` (complex chips) or
   :data:`SIGMA_CALIBRATION_REAL` (real chips), calibrated on synthetic speckle
   (see docs/offset_tracking.md).

Windows with NaN or exact zeros (SAR swath borders) in the reference window or
in the search area, or whose search area leaves the image, give NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from .progress import ensure_monitor

#: Empirical factor K of the sigma formula (see module docstring), fitted on synthetic
#: speckle (docs/offset_tracking.md): complex (detected after oversampling) and real chips.
SIGMA_CALIBRATION = 2.6
SIGMA_CALIBRATION_REAL = 11.0
#: Reduction factor of the coarse pass.
COARSE_FACTOR = 4
#: Window, search and step of the coarse pass, in reduced pixels.
COARSE_WINDOW = 32
COARSE_SEARCH = 16
COARSE_STEP = 16
#: Extra pixels cut around each chip before oversampling (cropped afterwards).
CHIP_MARGIN = 4
#: Width of the cosine edges of the reference taper, in original pixels.
TAPER_PIXELS = 3.0
#: Threads of scipy.fft (-1 = all cores); benchmarks set 1 to compare per thread.
WORKERS = -1
#: Windows per vectorised batch (memory: see :func:`memory_bound`).
DEFAULT_BATCH = 64

RAMPS = ("none", "constant", "linear")


@dataclass
class TrackingParameters:
    """Offset-tracking settings; sizes in pixels (see module docstring)."""

    window_x: int = 64
    window_y: int = 64
    search_x: int = 8
    search_y: int = 8
    step_x: int = 32
    step_y: int = 32
    gross_x: int = 0
    gross_y: int = 0
    coarse_search: bool = True
    oversample: int = 2
    correlation_oversample: int = 64
    snr_threshold: float = 0.0
    outlier_threshold: float = 0.0
    ramp: str = "none"
    batch: int = DEFAULT_BATCH

    def validate(self, width: int, height: int) -> None:
        """Raise ValueError naming the offending setting (upper-case parameter names)."""
        for name in ("window_x", "window_y", "step_x", "step_y", "oversample",
                     "correlation_oversample"):
            v = getattr(self, name)
            if int(v) < 1:
                raise ValueError(f"{name.upper()} = {v}: must be at least 1")
        for name in ("window_x", "window_y"):
            if int(getattr(self, name)) < 8:
                raise ValueError(f"{name.upper()} = {getattr(self, name)}: windows need at "
                                 "least 8 pixels; use 32 to 128")
        for name in ("search_x", "search_y"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name.upper()} = {getattr(self, name)}: the search distance "
                                 "must be at least 1 pixel")
        if self.ramp not in RAMPS:
            raise ValueError(f"RAMP = {self.ramp!r}: use one of {', '.join(RAMPS)}")
        if self.window_x + 2 * self.search_x > width:
            raise ValueError(
                f"WINDOW_X = {self.window_x} with SEARCH_X = ±{self.search_x} needs "
                f"{self.window_x + 2 * self.search_x} columns but the image has {width}: "
                "use a smaller window or search")
        if self.window_y + 2 * self.search_y > height:
            raise ValueError(
                f"WINDOW_Y = {self.window_y} with SEARCH_Y = ±{self.search_y} needs "
                f"{self.window_y + 2 * self.search_y} rows but the image has {height}: "
                "use a smaller window or search")


@dataclass
class TrackingResult:
    """Offsets on the output grid (rows = windows along y, columns = windows along x)."""

    dx: np.ndarray
    dy: np.ndarray
    peak: np.ndarray
    snr: np.ndarray
    sigma_x: np.ndarray
    sigma_y: np.ndarray
    centre_cols: np.ndarray  # fractional pixel position (GDAL convention) of window centres
    centre_rows: np.ndarray
    params: TrackingParameters
    ramp_coefficients: Dict[str, Sequence[float]] = field(default_factory=dict)
    coarse_offset: Tuple[float, float] = (0.0, 0.0)
    valid_before_filters: int = 0


# ------------------------------------------------------------------ grid

def window_tops(size: int, window: int, search: int, step: int) -> np.ndarray:
    """First pixel index of each window along one axis: ``search + k * step`` while the
    window plus its search margin fits in ``size``."""
    n = (int(size) - int(window) - 2 * int(search)) // int(step) + 1
    return int(search) + int(step) * np.arange(max(n, 0), dtype=np.int64)


def output_grid(width: int, height: int, p: TrackingParameters) -> Tuple[np.ndarray, np.ndarray]:
    """Fractional pixel positions (GDAL convention) of window centres: (cols, rows)."""
    cols = window_tops(width, p.window_x, p.search_x, p.step_x) + p.window_x / 2.0
    rows = window_tops(height, p.window_y, p.search_y, p.step_y) + p.window_y / 2.0
    return cols, rows


def output_geotransform(geotransform: Sequence[float], p: TrackingParameters) -> Tuple[float, ...]:
    """Geotransform of the output grid: the input geotransform scaled by the step, with
    output pixel (0, 0) centred on the first window centre, i.e. its upper-left corner at
    fractional input position ``(search_x + window_x/2 - step_x/2, search_y + window_y/2 -
    step_y/2)``."""
    gt = [float(v) for v in geotransform]
    c0 = p.search_x + p.window_x / 2.0 - p.step_x / 2.0
    r0 = p.search_y + p.window_y / 2.0 - p.step_y / 2.0
    x0 = gt[0] + c0 * gt[1] + r0 * gt[2]
    y0 = gt[3] + c0 * gt[4] + r0 * gt[5]
    return (x0, gt[1] * p.step_x, gt[2] * p.step_y, y0, gt[4] * p.step_x, gt[5] * p.step_y)


def memory_bound(width: int, p: TrackingParameters) -> int:
    """Upper bound (bytes) of the working memory, independent of the image height:
    two complex strips (window + search + margins + coarse offset spread rows, full width)
    and one batch of oversampled chips and spectra (about 24 float64 arrays of the
    oversampled search frame per window), plus the coarse image (width × height / 16 × 4 B,
    not included)."""
    rows = p.window_y + 2 * p.search_y + 2 * CHIP_MARGIN + 2 * COARSE_SEARCH * COARSE_FACTOR
    strips = 2 * rows * int(width) * 8
    frame = (p.oversample * (p.window_y + 2 * p.search_y + 2 * CHIP_MARGIN)) * \
        (p.oversample * (p.window_x + 2 * p.search_x + 2 * CHIP_MARGIN))
    return int(strips + p.batch * frame * 8 * 24)


# ------------------------------------------------------------------ chip preparation

def _deramp(z: np.ndarray) -> np.ndarray:
    """Remove each chip's spectral centroid (batch axis 0); NaN-free complex input."""
    ay = np.sum(z[:, 1:, :] * np.conj(z[:, :-1, :]), axis=(1, 2))
    ax = np.sum(z[:, :, 1:] * np.conj(z[:, :, :-1]), axis=(1, 2))
    fy = np.angle(ay) / (2 * np.pi)
    fx = np.angle(ax) / (2 * np.pi)
    h, w = z.shape[1:]
    yy = np.arange(h, dtype=np.float64)
    xx = np.arange(w, dtype=np.float64)
    ry = np.exp(-2j * np.pi * fy[:, None] * yy[None, :]).astype(np.complex64)
    rx = np.exp(-2j * np.pi * fx[:, None] * xx[None, :]).astype(np.complex64)
    return z * ry[:, :, None] * rx[:, None, :]


def _oversample(z: np.ndarray, factor: int) -> np.ndarray:
    """FFT zero-padding oversampling of a batch of chips (axis 1, 2) by ``factor``; the
    zeros are inserted at the Nyquist frequency (the empty part of a centred spectrum)."""
    if factor == 1:
        return z
    b, h, w = z.shape
    spec = sfft.fft2(z, axes=(1, 2), workers=WORKERS)
    big = np.zeros((b, factor * h, factor * w), dtype=spec.dtype)
    hp, hn = (h + 1) // 2, h // 2          # non-negative / negative frequencies (Nyquist < 0)
    wp, wn = (w + 1) // 2, w // 2
    big[:, :hp, :wp] = spec[:, :hp, :wp]
    big[:, :hp, big.shape[2] - wn:] = spec[:, :hp, w - wn:]
    big[:, big.shape[1] - hn:, :wp] = spec[:, h - hn:, :wp]
    big[:, big.shape[1] - hn:, big.shape[2] - wn:] = spec[:, h - hn:, w - wn:]
    out = sfft.ifft2(big, axes=(1, 2), workers=WORKERS, overwrite_x=True)
    out *= factor * factor
    return out


def _oversample_real(x: np.ndarray, factor: int) -> np.ndarray:
    """Real-data version of :func:`_oversample` (the real part of its result) with real
    FFTs: the Nyquist bins of even-sized axes are split evenly between the positive and
    negative frequency, which is what taking the real part of the complex result does."""
    b, h, w = x.shape
    spec = sfft.rfft2(x, axes=(1, 2), workers=WORKERS)          # (b, h, w//2 + 1)
    H, W = factor * h, factor * w
    big = np.zeros((b, H, W // 2 + 1), dtype=spec.dtype)
    hp, hn = (h + 1) // 2, h // 2
    wh = (w + 1) // 2                                           # x bins below Nyquist
    big[:, :hp, :wh] = spec[:, :hp, :wh]
    big[:, H - hn:, :wh] = spec[:, h - hn:, :wh]
    if w % 2 == 0:                                              # x Nyquist: half at +w/2
        big[:, :hp, w // 2] = 0.5 * spec[:, :hp, w // 2]
        big[:, H - hn:, w // 2] = 0.5 * spec[:, h - hn:, w // 2]
    if h % 2 == 0:                                              # y Nyquist row: split
        big[:, h // 2] = big[:, H - h // 2] * 0.5
        big[:, H - h // 2] *= 0.5
        if w % 2 == 0:                                          # the corner goes to +/+
            big[:, h // 2, w // 2] = 0.5 * spec[:, h // 2, w // 2]
            big[:, H - h // 2, w // 2] = 0.0
    out = sfft.irfft2(big, s=(H, W), axes=(1, 2), workers=WORKERS, overwrite_x=True)
    out *= factor * factor
    return out


def _prepare(chips: np.ndarray, is_complex: bool, factor: int, margin: int) -> np.ndarray:
    """Deramp (complex), oversample, detect and crop the margin; returns float32."""
    if is_complex:
        z = _deramp(chips.astype(np.complex64))
        z = _oversample(z, factor)
        img = (z.real ** 2 + z.imag ** 2).astype(np.float32)
    else:
        x = chips.astype(np.float32)
        if factor > 1:
            x = _oversample_real(x - x.mean(axis=(1, 2), keepdims=True), factor)
        img = x.astype(np.float32)
    m = factor * margin
    if m:
        img = img[:, m:img.shape[1] - m, m:img.shape[2] - m]
    return np.ascontiguousarray(img)


def _tukey(n: int, edge: float) -> np.ndarray:
    """Tukey taper of ``n`` samples with cosine edges of ``edge`` samples."""
    w = np.ones(n)
    e = int(round(edge))
    if e > 0 and 2 * e < n:
        t = (np.arange(e) + 0.5) / e
        w[:e] = 0.5 - 0.5 * np.cos(np.pi * t)
        w[n - e:] = w[:e][::-1]
    return w


# ------------------------------------------------------------------ batch correlation

def _dft_eval(spectra: np.ndarray, ty: np.ndarray, tx: np.ndarray, shape: Tuple[int, int]
              ) -> np.ndarray:
    """Real circular correlation at fractional lags from rfft2 cross spectra.

    spectra: (B, Ny, K * (Nx//2+1)) (the K spectra side by side along the last axis, so the
    y contraction is one matrix product per window); ty: (B, J); tx: (B, L) lags in samples.
    Returns (B, K, J, L)."""
    ny, nx = shape
    b = spectra.shape[0]
    fy = sfft.fftfreq(ny)
    fx = sfft.rfftfreq(nx)
    wx = np.full(fx.size, 2.0)
    wx[0] = 1.0
    if nx % 2 == 0:
        wx[-1] = 1.0
    # complex64 kernels: the spectra are complex64 (rfft of float32 chips), so the products
    # run in single precision without up-casting the (B, Ny, K*Nx') spectra at every stage
    ey = np.exp(2j * np.pi * ty[:, :, None] * fy[None, None, :]).astype(np.complex64)
    ex = (np.exp(2j * np.pi * tx[:, :, None] * fx[None, None, :]) * wx).astype(np.complex64)
    tmp = np.matmul(ey, spectra)                                            # (B, J, K*Nx')
    tmp = tmp.reshape(b, ty.shape[1], -1, fx.size).transpose(0, 2, 1, 3)    # (B, K, J, Nx')
    out = np.matmul(tmp, np.transpose(ex, (0, 2, 1))[:, None])             # (B, K, J, L)
    return out.real.astype(np.float64) / (ny * nx)


def _folded_surface(spectra: np.ndarray, ny: int, nx: int, q: int) -> np.ndarray:
    """Circular correlations (B, ny/q, K, nx/q) at every q-th lag from rfft2 cross spectra
    (B, ny, K, nx//2+1): the spectra are folded (aliases summed) before a q*q times smaller
    inverse FFT; q = 1 is the plain inverse FFT."""
    if q == 1:
        return sfft.irfft2(spectra, s=(ny, nx), axes=(1, 3), workers=WORKERS)
    my, mx = ny // q, nx // q
    nxh = spectra.shape[3]
    f = spectra[:, :my].copy()                         # fold y (full complex axis)
    for k in range(1, q):
        f += spectra[:, k * my:(k + 1) * my]
    # fold x on the half spectrum: bins j >= nxh are conj(X[-ky, nx - j])
    mh = mx // 2 + 1
    g = np.zeros(f.shape[:3] + (mh,), dtype=f.dtype)
    fneg = None
    for k in range(q):
        j0, j1 = k * mx, k * mx + mh
        d1 = min(j1, nxh)
        if d1 > j0:
            g[..., :d1 - j0] += f[..., j0:d1]
        m0 = max(j0, nxh)
        if j1 > m0:
            if fneg is None:
                fneg = np.conj(np.concatenate([f[:, :1], f[:, :0:-1]], axis=1))
            # columns nx - j for j = m0 .. j1 - 1 (descending)
            g[..., m0 - j0:] += fneg[..., nx - m0:nx - j1:-1]
    return sfft.irfft2(g, s=(my, mx), axes=(1, 3), workers=WORKERS) / float(q * q)


def _ncc_from(vals: np.ndarray, rnorm: np.ndarray, wsum: float) -> np.ndarray:
    """NCC from (numerator, weighted energy, weighted sum) along axis 1."""
    num, energy, total = vals[:, 0], vals[:, 1], vals[:, 2]
    var = np.maximum(energy - total * total / wsum, 1e-30)
    return num / np.sqrt(var * rnorm.reshape((-1,) + (1,) * (num.ndim - 1)))


def correlate_batch(ref_chips: np.ndarray, sec_chips: np.ndarray, p: TrackingParameters,
                    is_complex: bool, margin: int = CHIP_MARGIN
                    ) -> Dict[str, np.ndarray]:
    """Offsets of a batch of windows.

    ref_chips: (B, wy + 2 m, wx + 2 m); sec_chips: (B, wy + 2 sy + 2 m, wx + 2 sx + 2 m),
    both NaN-free, the secondary chip centred on the reference chip (zero lag = the
    reference window at the centre of the search area).  Returns dx, dy (pixels, relative
    to the chips' zero lag), peak (NCC), snr, sigma_x, sigma_y and ``edge`` (peak on the
    border of the search range: unreliable)."""
    o = int(p.oversample)
    r = _prepare(ref_chips, is_complex, o, margin)
    s = _prepare(sec_chips, is_complex, o, margin)
    b, hy, hx = r.shape
    ny, nx = s.shape[1:]
    sfy, sfx = (ny - hy) // 2, (nx - hx) // 2        # zero lag, in oversampled samples
    w2 = np.outer(_tukey(hy, TAPER_PIXELS * o), _tukey(hx, TAPER_PIXELS * o)).astype(np.float32)
    wsum = float(w2.sum())
    r0 = r - (np.sum(r * w2, axis=(1, 2)) / wsum)[:, None, None]
    rnorm = np.sum(w2 * r0 * r0, axis=(1, 2)).astype(np.float64)
    # zero-padded to the search frame by the transforms' n (no FFT over the padding rows)
    fa = sfft.fft(sfft.rfft(w2 * r0, n=nx, axis=2, workers=WORKERS), n=ny, axis=1,
                  workers=WORKERS, overwrite_x=True)
    fw = np.conj(sfft.fft(sfft.rfft(w2, n=nx, axis=1), n=ny, axis=0))
    fs = sfft.rfft2(s, axes=(1, 2), workers=WORKERS)
    fs2 = sfft.rfft2(s * s, axes=(1, 2), workers=WORKERS)
    # (B, Ny, 3, Nx'): numerator, weighted energy, weighted sum side by side along the last
    # axes, the layout _dft_eval contracts in one matrix product per window
    spectra = np.empty((b, ny, 3, fs.shape[2]), dtype=fs.dtype)
    np.multiply(np.conj(fa), fs, out=spectra[:, :, 0])
    np.multiply(fw[None], fs2, out=spectra[:, :, 1])
    np.multiply(fw[None], fs, out=spectra[:, :, 2])
    del fa, fs, fs2
    # integer search surface at whole-pixel lags (every q-th oversampled lag): the cross
    # spectra folded by q, so the inverse FFTs are q*q times smaller; the zoom below
    # refines on the full (unfolded) spectra
    q = o if (o > 1 and sfy % o == 0 and sfx % o == 0 and ny % o == 0 and nx % o == 0) else 1
    surf = _folded_surface(spectra, ny, nx, q)
    spectra = spectra.reshape(b, ny, -1)
    surf = surf[:, :2 * sfy // q + 1, :, :2 * sfx // q + 1].transpose(0, 2, 1, 3
                                                                      ).astype(np.float64)
    ncc = _ncc_from(surf, rnorm, wsum)                                      # (B, 2sy+1, 2sx+1)
    ncc[~np.isfinite(ncc)] = -2.0
    flat = ncc.reshape(b, -1).argmax(axis=1)
    ky, kx = np.unravel_index(flat, ncc.shape[1:])
    peak_int = ncc[np.arange(b), ky, kx]
    # SNR: peak over mean |NCC| outside +-2 pixels of the peak
    yy = np.arange(ncc.shape[1])[None, :, None]
    xx = np.arange(ncc.shape[2])[None, None, :]
    far = (np.abs(yy - ky[:, None, None]) > 2 * o // q) | \
        (np.abs(xx - kx[:, None, None]) > 2 * o // q)
    absn = np.where(far, np.abs(np.clip(ncc, -1, 1)), 0.0)
    mean_far = absn.sum(axis=(1, 2)) / np.maximum(far.sum(axis=(1, 2)), 1)
    # sub-pixel: zoom with matrix-multiply DFT
    cy, cx = ky.astype(np.float64), kx.astype(np.float64)
    # Newton-like zoom: NCC on a 3 x 3 grid of spacing 0.5 oversampled samples around the
    # integer peak, quadratic fit, then again on 3 x 3 grids of spacing 1/8 and o / cor_ovs
    # (1 / CORRELATION_OVERSAMPLE pixel) centred on the previous estimate; the last fit gives
    # the peak, its value and curvature.
    fine = o / float(p.correlation_oversample)
    # stage 0: quadratic fit of the whole-pixel-lag NCC around its peak (within ~0.2 px)
    kyc = np.clip(ky, 1, ncc.shape[1] - 2)
    kxc = np.clip(kx, 1, ncc.shape[2] - 2)
    ib = np.arange(b)
    n0 = ncc[ib, kyc, kxc]
    hy0 = ncc[ib, kyc + 1, kxc] - 2 * n0 + ncc[ib, kyc - 1, kxc]
    hx0 = ncc[ib, kyc, kxc + 1] - 2 * n0 + ncc[ib, kyc, kxc - 1]
    uy0 = np.where(hy0 < 0, -(ncc[ib, kyc + 1, kxc] - ncc[ib, kyc - 1, kxc]) / (2 * np.where(
        hy0 < 0, hy0, -1.0)), 0.0)
    ux0 = np.where(hx0 < 0, -(ncc[ib, kyc, kxc + 1] - ncc[ib, kyc, kxc - 1]) / (2 * np.where(
        hx0 < 0, hx0, -1.0)), 0.0)
    cy = q * (kyc + np.clip(uy0, -0.5, 0.5))        # oversampled samples
    cx = q * (kxc + np.clip(ux0, -0.5, 0.5))
    steps = [d for d in (0.5, 0.125) if d > fine] + [fine]
    grid = np.array([-1.0, 0.0, 1.0])
    for d in steps:
        ty = cy[:, None] + d * grid[None, :]
        tx = cx[:, None] + d * grid[None, :]
        c = _ncc_from(_dft_eval(spectra, ty, tx, (ny, nx)), rnorm, wsum)   # (B, 3, 3)
        c[~np.isfinite(c)] = -2.0
        f00 = c[:, 1, 1]
        fy1, fy_1 = c[:, 2, 1], c[:, 0, 1]
        fx1, fx_1 = c[:, 1, 2], c[:, 1, 0]
        fxy = (c[:, 2, 2] - c[:, 2, 0] - c[:, 0, 2] + c[:, 0, 0]) / 4.0
        gy, gx = (fy1 - fy_1) / 2.0, (fx1 - fx_1) / 2.0
        hyy, hxx = fy1 - 2 * f00 + fy_1, fx1 - 2 * f00 + fx_1
        det = hyy * hxx - fxy * fxy
        ok = (det > 0) & (hyy < 0)
        uy = np.where(ok, -(hxx * gy - fxy * gx) / np.where(ok, det, 1.0), 0.0)
        ux = np.where(ok, -(hyy * gx - fxy * gy) / np.where(ok, det, 1.0), 0.0)
        # without a concave fit, step toward the best sample of the grid
        j, l_ = np.unravel_index(c.reshape(b, -1).argmax(axis=1), (3, 3))
        uy = np.where(ok, np.clip(uy, -4.0, 4.0), j - 1.0)
        ux = np.where(ok, np.clip(ux, -4.0, 4.0), l_ - 1.0)
        cy = cy + d * uy
        cx = cx + d * ux
        peak = f00 + 0.5 * (gy * uy + gx * ux)
        curv_y = -hyy / (d * d) * o * o        # per pixel^2
        curv_x = -hxx / (d * d) * o * o
    best_y, best_x = cy, cx
    # peak within half an oversampled sample of the search border (or beyond): unreliable
    edge = ~((best_y >= 0.5) & (best_y <= 2 * sfy - 0.5) & (best_x >= 0.5) &
             (best_x <= 2 * sfx - 0.5))
    dy = (best_y - sfy) / o
    dx = (best_x - sfx) / o
    peak = np.where(np.isfinite(peak), peak, peak_int)
    rho = np.clip(peak, 1e-6, 1.0)
    npix = float(p.window_x * p.window_y)
    k_sig = SIGMA_CALIBRATION if is_complex else SIGMA_CALIBRATION_REAL
    with np.errstate(divide="ignore", invalid="ignore"):
        sig_y = np.sqrt(k_sig * (1.0 - rho) / (npix * np.abs(curv_y)))
        sig_x = np.sqrt(k_sig * (1.0 - rho) / (npix * np.abs(curv_x)))
        snr = peak / np.maximum(mean_far, 1e-12)
    return {"dx": dx, "dy": dy, "peak": peak, "snr": snr, "sigma_x": sig_x, "sigma_y": sig_y,
            "edge": edge}


# ------------------------------------------------------------------ sources

class ArraySource:
    """An in-memory image (2-D numpy array) read strip by strip."""

    def __init__(self, array: np.ndarray):
        self.array = np.asarray(array)
        self.height, self.width = self.array.shape
        self.is_complex = np.iscomplexobj(self.array)

    def read(self, row: int, rows: int) -> np.ndarray:
        return self.array[row:row + rows]


class RasterSource:
    """One band of a GDAL raster read strip by strip (nodata as NaN)."""

    def __init__(self, path: str, band: int = 1):
        from .raster_io import open_raster, raster_info
        self.info = raster_info(path)
        self.ds = open_raster(path)
        self.band = int(band)
        self.height, self.width = self.info.height, self.info.width
        self.is_complex = self.info.is_complex(self.band)

    def read(self, row: int, rows: int) -> np.ndarray:
        from .raster_io import read_block
        return read_block(self.ds, self.band, row, 0, rows, self.width)


def _read_padded(src, row0: int, row1: int, dtype) -> np.ndarray:
    """Rows row0..row1-1 of ``src`` (full width), NaN outside the image."""
    out = np.full((row1 - row0, src.width), np.nan, dtype=dtype)
    a, b = max(row0, 0), min(row1, src.height)
    if b > a:
        out[a - row0:b - row0] = src.read(a, b - a)
    return out


def _gather(strip: np.ndarray, strip_row0: int, tops: np.ndarray, lefts: np.ndarray,
            h: int, w: int) -> np.ndarray:
    """Chips (B, h, w) with upper-left corners (tops, lefts) (image pixel indices) from a
    full-width strip; NaN outside the image columns."""
    width = strip.shape[1]
    rows = (tops - strip_row0)[:, None] + np.arange(h)[None, :]              # (B, h)
    cols = lefts[:, None] + np.arange(w)[None, :]                          # (B, w)
    inside = (cols >= 0) & (cols < width)
    chips = strip[rows[:, :, None], np.clip(cols, 0, width - 1)[:, None, :]]
    if not inside.all():
        chips = np.where(inside[:, None, :], chips, np.nan)
    return chips


def _bad(chips: np.ndarray, core: Tuple[slice, slice]) -> np.ndarray:
    """True per chip when its core region holds NaN or exact zeros (swath borders)."""
    c = chips[(slice(None),) + core]
    return np.any(~np.isfinite(c) | (c == 0), axis=(1, 2))


# ------------------------------------------------------------------ coarse pass

def _reduce(src, factor: int, monitor=None) -> np.ndarray:
    """Amplitude averaged over factor x factor blocks (NaN if any sample is nodata)."""
    h, w = src.height // factor, src.width // factor
    out = np.full((h, w), np.nan, np.float32)
    rows_per = max(1, (4 * 1024 * 1024) // max(1, src.width * factor)) * factor
    for r0 in range(0, h * factor, rows_per):
        n = min(rows_per, h * factor - r0)
        blk = np.abs(src.read(r0, n)[:, :w * factor]).astype(np.float32)
        blk[blk == 0] = np.nan
        out[r0 // factor:(r0 + n) // factor] = blk.reshape(n // factor, factor, w, factor).mean(axis=(1, 3))
        if monitor is not None:
            monitor.update((r0 + n) / float(h * factor))
    return out


def coarse_offsets(ref_src, sec_src, p: TrackingParameters, monitor=None
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Integer gross offsets (pixels) at every window of the fine grid from a pass on
    images reduced ``COARSE_FACTOR`` times (amplitude averages): window ``COARSE_WINDOW``,
    search ``±COARSE_SEARCH`` reduced pixels (±64 pixels), median-filtered, gaps filled."""
    f = COARSE_FACTOR
    mon = ensure_monitor(monitor)
    ref = _reduce(ref_src, f, mon.sub(0.0, 0.4))
    sec = _reduce(sec_src, f, mon.sub(0.4, 0.8))
    h, w = ref.shape
    gx0, gy0 = int(round(p.gross_x / f)), int(round(p.gross_y / f))
    win_x = min(COARSE_WINDOW, max(8, w - 2 * COARSE_SEARCH))
    win_y = min(COARSE_WINDOW, max(8, h - 2 * COARSE_SEARCH))
    srch_x = min(COARSE_SEARCH, max(1, (w - win_x) // 2))
    srch_y = min(COARSE_SEARCH, max(1, (h - win_y) // 2))
    cp = TrackingParameters(window_x=win_x, window_y=win_y, search_x=srch_x, search_y=srch_y,
                            step_x=COARSE_STEP, step_y=COARSE_STEP, gross_x=gx0, gross_y=gy0,
                            coarse_search=False, oversample=1, correlation_oversample=4)
    fine_cols, fine_rows = output_grid(ref_src.width, ref_src.height, p)
    try:
        cp.validate(w, h)
    except ValueError:
        z = np.zeros((fine_rows.size, fine_cols.size), np.int64)
        return z + int(p.gross_x), z + int(p.gross_y)
    res = _track(ArraySource(ref), ArraySource(sec), cp, None, mon.sub(0.8, 1.0),
                 gross=None)
    good = np.isfinite(res.dx) & (res.peak > 0.2)
    if not good.any():
        z = np.zeros((fine_rows.size, fine_cols.size), np.int64)
        return z + int(p.gross_x), z + int(p.gross_y)
    out = []
    for comp in (res.dx, res.dy):
        v = np.where(good, comp, np.nan)
        stack = [np.roll(np.roll(v, i, 0), j, 1) for i in (-1, 0, 1) for j in (-1, 0, 1)]
        with np.errstate(all="ignore"):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(np.stack(stack), axis=0)
        med = np.where(good, med, np.nan)
        idx = ndimage.distance_transform_edt(~np.isfinite(med), return_distances=False,
                                             return_indices=True)
        filled = med[tuple(idx)]
        # nearest coarse window to every fine window centre
        ci = np.clip(np.round((fine_rows / f - res.centre_rows[0]) / COARSE_STEP).astype(int),
                     0, filled.shape[0] - 1)
        cj = np.clip(np.round((fine_cols / f - res.centre_cols[0]) / COARSE_STEP).astype(int),
                     0, filled.shape[1] - 1)
        out.append(np.round(filled[ci[:, None], cj[None, :]] * f).astype(np.int64))
    return out[0], out[1]


# ------------------------------------------------------------------ main loop

def _track(ref_src, sec_src, p: TrackingParameters, gross_xy, monitor, gross=None
           ) -> TrackingResult:
    cols_top = window_tops(ref_src.width, p.window_x, p.search_x, p.step_x)
    rows_top = window_tops(ref_src.height, p.window_y, p.search_y, p.step_y)
    n_r, n_c = rows_top.size, cols_top.size
    if gross_xy is None:
        gx = np.full((n_r, n_c), int(p.gross_x), np.int64)
        gy = np.full((n_r, n_c), int(p.gross_y), np.int64)
    else:
        gx, gy = gross_xy
    out = {k: np.full((n_r, n_c), np.nan) for k in ("dx", "dy", "peak", "snr", "sigma_x",
                                                    "sigma_y")}
    m = CHIP_MARGIN if p.oversample > 1 else 0
    is_complex = ref_src.is_complex or sec_src.is_complex
    dtype = np.complex64 if is_complex else np.float32
    rh, rw = p.window_y + 2 * m, p.window_x + 2 * m
    sh, sw = p.window_y + 2 * p.search_y + 2 * m, p.window_x + 2 * p.search_x + 2 * m
    core_r = (slice(m, m + p.window_y), slice(m, m + p.window_x))
    core_s = (slice(m, sh - m), slice(m, sw - m))
    batch = max(1, int(p.batch))
    mon = ensure_monitor(monitor)
    for i, top in enumerate(rows_top):
        r0 = int(top) - m
        ref_strip = _read_padded(ref_src, r0, r0 + rh, dtype)
        s_lo = int(top + gy[i].min()) - p.search_y - m
        s_hi = int(top + gy[i].max()) - p.search_y - m + sh
        sec_strip = _read_padded(sec_src, s_lo, s_hi, dtype)
        for j0 in range(0, n_c, batch):
            js = np.arange(j0, min(n_c, j0 + batch))
            lefts = cols_top[js]
            rc = _gather(ref_strip, r0, np.full(js.size, r0), lefts - m, rh, rw)
            stops = top + gy[i, js] - p.search_y - m
            slefts = lefts + gx[i, js] - p.search_x - m
            sc = _gather(sec_strip, s_lo, stops, slefts, sh, sw)
            bad = _bad(rc, core_r) | _bad(sc, core_s)
            keep = np.nonzero(~bad)[0]
            if keep.size:
                rck = np.nan_to_num(rc[keep])
                sck = np.nan_to_num(sc[keep])
                res = correlate_batch(rck, sck, p, is_complex, m)
                jj = js[keep]
                good = ~res["edge"] & np.isfinite(res["dx"]) & np.isfinite(res["dy"])
                jj, sel = jj[good], np.nonzero(good)[0]
                out["dx"][i, jj] = res["dx"][sel] + gx[i, jj]
                out["dy"][i, jj] = res["dy"][sel] + gy[i, jj]
                for k in ("peak", "snr", "sigma_x", "sigma_y"):
                    out[k][i, jj] = res[k][sel]
            mon.update((i + (j0 + js.size) / float(n_c)) / float(n_r))
    return TrackingResult(out["dx"], out["dy"], out["peak"], out["snr"], out["sigma_x"],
                          out["sigma_y"], cols_top + p.window_x / 2.0,
                          rows_top + p.window_y / 2.0, p)


def _local_median(v: np.ndarray, radius: int = 1) -> np.ndarray:
    import warnings
    pad = np.pad(v, radius, mode="constant", constant_values=np.nan)
    stack = []
    for i in range(2 * radius + 1):
        for j in range(2 * radius + 1):
            if i == radius and j == radius:
                continue
            stack.append(pad[i:i + v.shape[0], j:j + v.shape[1]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(np.stack(stack), axis=0)


def filter_outliers(dx: np.ndarray, dy: np.ndarray, threshold: float, radius: int = 1
                    ) -> np.ndarray:
    """True where a window deviates from the median of its valid neighbours (3 x 3 for
    radius 1, itself excluded) by more than ``threshold`` pixels in x or y."""
    mx, my = _local_median(dx, radius), _local_median(dy, radius)
    with np.errstate(invalid="ignore"):
        return (np.abs(dx - mx) > threshold) | (np.abs(dy - my) > threshold)


def fit_ramp(values: np.ndarray, cols: np.ndarray, rows: np.ndarray, kind: str
             ) -> Tuple[np.ndarray, Tuple[float, ...]]:
    """Ramp fitted by least squares on the finite ``values`` (output grid): ``constant``
    (mean) or ``linear`` (a + b col + c row, col/row in input pixels).  Returns the ramp
    on the grid and its coefficients."""
    cc, rr = np.meshgrid(cols, rows)
    ok = np.isfinite(values)
    if kind == "none" or not ok.any():
        return np.zeros_like(values), ()
    if kind == "constant" or ok.sum() < 3:
        a = float(np.mean(values[ok]))
        return np.full_like(values, a), (a,)
    g = np.column_stack([np.ones(ok.sum()), cc[ok], rr[ok]])
    coef, *_ = np.linalg.lstsq(g, values[ok], rcond=None)
    return coef[0] + coef[1] * cc + coef[2] * rr, tuple(float(c) for c in coef)


def track_offsets(reference, secondary, params: Optional[TrackingParameters] = None,
                  monitor=None, reference_band: int = 1, secondary_band: int = 1
                  ) -> TrackingResult:
    """Offsets (secondary minus reference, pixels) on the window grid.

    ``reference``/``secondary``: 2-D numpy arrays (complex = SLC, real = amplitude or
    intensity) or raster paths (``*_band`` 1-based).  Both must have the same size.
    Steps: optional coarse pass (``coarse_search``), fine pass, SNR mask
    (``snr_threshold``; 0 = off), outlier mask (``outlier_threshold`` pixels from the local
    3 x 3 median; 0 = off), then ramp removal (``ramp``) fitted on the remaining windows.
    NaN marks windows without a measurement."""
    p = params or TrackingParameters()
    ref = ArraySource(reference) if isinstance(reference, np.ndarray) else \
        RasterSource(reference, reference_band)
    sec = ArraySource(secondary) if isinstance(secondary, np.ndarray) else \
        RasterSource(secondary, secondary_band)
    if (ref.width, ref.height) != (sec.width, sec.height):
        raise ValueError(
            f"SECONDARY is {sec.width} x {sec.height} pixels but REFERENCE is {ref.width} x "
            f"{ref.height}: co-register the secondary onto the reference grid first (e.g. "
            "ISCE2 geo2rdr/resamp or SNAP Back-Geocoding)")
    p.validate(ref.width, ref.height)
    mon = ensure_monitor(monitor)
    gross = None
    coarse = (0.0, 0.0)
    if p.coarse_search:
        gross = coarse_offsets(ref, sec, p, mon.sub(0.0, 0.15))
        coarse = (float(np.median(gross[0])), float(np.median(gross[1])))
        mon.info(f"coarse pass: median gross offset x {coarse[0]:.0f} px, y {coarse[1]:.0f} px")
        fine = mon.sub(0.15, 1.0)
    else:
        fine = mon
    res = _track(ref, sec, p, gross, fine)
    res.coarse_offset = coarse
    valid = np.isfinite(res.dx)
    res.valid_before_filters = int(valid.sum())
    bad = ~valid
    if p.snr_threshold > 0:
        bad |= ~(res.snr >= p.snr_threshold)
    if p.outlier_threshold > 0:
        bad |= filter_outliers(np.where(bad, np.nan, res.dx), np.where(bad, np.nan, res.dy),
                               p.outlier_threshold)
    for k in ("dx", "dy", "peak", "snr", "sigma_x", "sigma_y"):
        getattr(res, k)[bad] = np.nan
    if p.ramp != "none":
        for name in ("dx", "dy"):
            v = getattr(res, name)
            ramp, coef = fit_ramp(v, res.centre_cols, res.centre_rows, p.ramp)
            setattr(res, name, v - ramp)
            res.ramp_coefficients[name] = coef
    return res


def offset_direction(dx, dy):
    """Direction of the offset vector in degrees, clockwise from 'up' on the map
    (north for a north-up raster) for a raster whose rows increase downward:
    +x (right) = 90, +y (down) = 180.  Works on arrays."""
    return np.degrees(np.arctan2(dx, -np.asarray(dy))) % 360.0


#: Metadata items (dataset or band, case-insensitive) giving the pixel size in metres of
#: radar-geometry rasters (MintPy/ISCE2 attribute names).
PIXEL_SIZE_KEYS = (("RANGE_PIXEL_SIZE", "AZIMUTH_PIXEL_SIZE"), ("PIXEL_SIZE_X", "PIXEL_SIZE_Y"))


def resolve_pixel_size(info, pixel_size_x: Optional[float] = None,
                       pixel_size_y: Optional[float] = None) -> Tuple[Optional[float],
                                                                      Optional[float], str]:
    """Ground pixel size (x, y) in metres and where it came from.

    Order: the given values (> 0); the raster metadata items of :data:`PIXEL_SIZE_KEYS`;
    the geotransform when the raster has a CRS (:func:`raster_io.pixel_size_metres`).
    A raster without CRS (radar geometry) and without metadata gives ``(None, None, ...)``."""
    from .raster_io import pixel_size_metres
    px = float(pixel_size_x) if pixel_size_x and pixel_size_x > 0 else None
    py = float(pixel_size_y) if pixel_size_y and pixel_size_y > 0 else None
    if px and py:
        return px, py, "parameters"
    meta = {k.upper(): v for k, v in (info.metadata or {}).items()}
    for bm in info.band_metadata or []:
        for k, v in bm.items():
            meta.setdefault(k.upper(), v)
    for kx, ky in PIXEL_SIZE_KEYS:
        try:
            mx, my = float(meta[kx]), float(meta[ky])
        except (KeyError, ValueError):
            continue
        if mx > 0 and my > 0:
            return px or mx, py or my, "metadata"
    if info.crs_wkt and info.has_geotransform:
        gx, gy = pixel_size_metres(info)
        return px or gx, py or gy, "geotransform"
    return px, py, "unknown"


def window_map_positions(geotransform: Sequence[float], result: TrackingResult
                         ) -> Tuple[np.ndarray, np.ndarray]:
    """Map coordinates (x, y) of every window centre, arrays on the output grid."""
    cc, rr = np.meshgrid(result.centre_cols, result.centre_rows)
    gt = geotransform
    return gt[0] + cc * gt[1] + rr * gt[2], gt[3] + cc * gt[4] + rr * gt[5]


def vector_attributes(dx: np.ndarray, dy: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Magnitude (unit of dx, dy) and direction (:func:`offset_direction`, degrees)."""
    return np.hypot(dx, dy), offset_direction(dx, dy)


def valid_windows(result: TrackingResult) -> Tuple[np.ndarray, np.ndarray]:
    """(row, col) indices of the windows with a measurement in both axes."""
    return np.nonzero(np.isfinite(result.dx) & np.isfinite(result.dy))


def offsets_in_metres(result: TrackingResult, pixel_size_x: float, pixel_size_y: float
                      ) -> Tuple[np.ndarray, np.ndarray]:
    """Offsets in metres: ``dx * pixel_size_x``, ``dy * pixel_size_y`` (ground pixel sizes)."""
    return result.dx * float(pixel_size_x), result.dy * float(pixel_size_y)
