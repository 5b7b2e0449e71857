"""Synthetic SAR image pairs with a known offset field (for tests, benchmarks and demos).

The scenes model single-look complex (SLC) speckle: circular complex Gaussian
scatterers, band-limited to a fraction ``bandwidth`` of the sampling rate in
each axis (Sentinel-1 IW SLCs occupy about 80 % of it), optionally modulated
by an azimuth phase ramp (a Doppler-centroid offset as in TOPS bursts).  The
secondary image sees the same ground, displaced by a known offset field, plus
independent speckle so that the complex correlation equals ``coherence``.

Conventions (see docs/conventions.md, "Pixels, offsets and grids")
------------------------------------------------------------------
* Arrays are ``(rows, columns)`` = ``(y, x)`` = (azimuth, range).
* ``offset_x``/``offset_y`` are **secondary minus reference position**, in
  pixels: a feature at pixel position ``(x, y)`` in the reference appears at
  ``(x + offset_x, y + offset_y)`` in the secondary.  When the offsets are
  arrays, they are given **on the secondary grid**: ``secondary[y, x] =
  u(y - offset_y[y, x], x - offset_x[y, x])`` with ``u`` the band-limited
  ground reflectivity and ``reference[y, x] = u(y, x)``.  For a smooth field
  the offset measured by a window centred at reference position ``p`` is
  the field at ``p + d``, which differs by ``d * grad(d)`` (negligible for
  smooth fields; exact for uniform ones).
* Uniform (scalar) offsets are applied exactly, by a Fourier phase shift of
  the periodic band-limited field.  Offset arrays are applied by
  resampling a x2 Fourier-oversampled copy of the field with a quintic
  spline (error below 1e-4 of the signal, far below tracking accuracy).

Everything is deterministic for a given ``seed``.  Core module: numpy and
scipy only.
"""

from __future__ import annotations

from typing import Tuple, Union

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

ArrayOrScalar = Union[float, np.ndarray]

__all__ = [
    "speckle_pair",
    "amplitude_pair",
    "bandlimited_speckle",
    "azimuth_ramp_phase",
    "uniform_field",
    "smooth_field",
    "fault_field",
]


def _band_mask(n: int, fraction: float, centre: float = 0.0) -> np.ndarray:
    """1-D spectral mask keeping ``|f - centre| < fraction/2`` cycles/sample
    (frequencies wrapped to [-0.5, 0.5))."""
    f = sfft.fftfreq(n)
    d = (f - centre + 0.5) % 1.0 - 0.5
    return (np.abs(d) < fraction / 2.0).astype(np.float64)


def bandlimited_speckle(shape: Tuple[int, int], bandwidth: float = 0.8,
                        rng: np.random.Generator = None, seed: int = 0) -> np.ndarray:
    """Complex circular Gaussian speckle band-limited to ``bandwidth`` (fraction of the
    sampling rate, 0 < bandwidth <= 1) in both axes, unit mean intensity, complex128.

    The field is periodic (synthesised in the Fourier domain)."""
    if not 0.0 < bandwidth <= 1.0:
        raise ValueError(f"bandwidth must be in (0, 1], got {bandwidth}")
    rng = np.random.default_rng(seed) if rng is None else rng
    ny, nx = int(shape[0]), int(shape[1])
    white = rng.standard_normal((ny, nx)) + 1j * rng.standard_normal((ny, nx))
    spec = sfft.fft2(white)
    spec *= _band_mask(ny, bandwidth)[:, None] * _band_mask(nx, bandwidth)[None, :]
    field = sfft.ifft2(spec)
    field /= np.sqrt(np.mean(np.abs(field) ** 2))
    return field


def azimuth_ramp_phase(shape: Tuple[int, int], cycles: float = 0.0, rate: float = 0.0) -> np.ndarray:
    """Phase (radians) of a TOPS-like azimuth ramp on an image grid.

    The azimuth spectral centroid (Doppler centroid over the PRF) is
    ``cycles + rate * (y - yc)`` cycles/pixel at row ``y`` (``yc`` the central
    row): ``phase(y) = 2 pi (cycles (y - yc) + rate (y - yc)^2 / 2)``.  Returned
    with shape ``(rows, 1)`` (broadcasts over columns)."""
    y = np.arange(int(shape[0]), dtype=np.float64)[:, None] - (shape[0] - 1) / 2.0
    return 2.0 * np.pi * (cycles * y + 0.5 * rate * y * y)


def _shift_periodic(field: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Exact shift of a periodic band-limited field: out(y, x) = field(y - dy, x - dx)."""
    ny, nx = field.shape
    fy = sfft.fftfreq(ny)[:, None]
    fx = sfft.fftfreq(nx)[None, :]
    spec = sfft.fft2(field)
    spec *= np.exp(-2j * np.pi * (fy * dy + fx * dx))
    return sfft.ifft2(spec)


def _oversample2(field: np.ndarray) -> np.ndarray:
    """x2 Fourier oversampling of a periodic field whose spectrum lies within
    ``|f| < 0.5`` cycles/sample (the Nyquist bin is zero for bandwidth < 1)."""
    ny, nx = field.shape
    spec = sfft.fftshift(sfft.fft2(field))
    big = np.zeros((2 * ny, 2 * nx), dtype=np.complex128)
    oy, ox = ny - ny // 2, nx - nx // 2  # centre of the big spectrum minus centre of the small one
    big[oy:oy + ny, ox:ox + nx] = spec
    return sfft.ifft2(sfft.ifftshift(big)) * 4.0


def _resample(field: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Band-limited field sampled at fractional (rows, cols) through x2 Fourier
    oversampling and a quintic spline (periodic boundary)."""
    fine = _oversample2(field)
    coords = np.stack([2.0 * rows.ravel(), 2.0 * cols.ravel()])
    re = ndimage.map_coordinates(fine.real, coords, order=5, mode="grid-wrap")
    im = ndimage.map_coordinates(fine.imag, coords, order=5, mode="grid-wrap")
    return (re + 1j * im).reshape(rows.shape)


def speckle_pair(
    shape: Tuple[int, int],
    offset_x: ArrayOrScalar = 0.0,
    offset_y: ArrayOrScalar = 0.0,
    coherence: float = 1.0,
    bandwidth: float = 0.8,
    azimuth_ramp_cycles: float = 0.0,
    seed: int = 0,
    *,
    azimuth_ramp_rate: float = 0.0,
) -> Tuple[np.ndarray, np.ndarray]:
    """A reference/secondary pair of band-limited complex speckle images.

    Parameters
    ----------
    shape:
        ``(rows, columns)`` of both images.
    offset_x, offset_y:
        Secondary minus reference position, pixels (x = columns/range,
        y = rows/azimuth); scalars (exact uniform shift) or arrays of
        ``shape`` given on the secondary grid (see the module docstring).
    coherence:
        Magnitude of the complex correlation between the two images, 0..1:
        ``secondary = coherence * shifted + sqrt(1 - coherence**2) * noise``
        with ``noise`` independent speckle of the same bandwidth.
    bandwidth:
        Occupied fraction of the sampling rate in each axis (0 < b <= 1);
        0.8 resembles Sentinel-1 SLCs.
    azimuth_ramp_cycles, azimuth_ramp_rate:
        TOPS-like azimuth phase ramp applied to *both* images in their own
        pixel coordinates: azimuth spectral centroid ``cycles + rate * (y - yc)``
        in cycles/pixel (see :func:`azimuth_ramp_phase`).  Default: none.
    seed:
        Seed of the random generator; equal seeds give equal pairs.

    Returns
    -------
    (reference, secondary):
        ``complex64`` arrays of ``shape``, unit mean intensity.
    """
    ny, nx = int(shape[0]), int(shape[1])
    if ny <= 0 or nx <= 0:
        raise ValueError(f"shape must be positive, got {shape}")
    if not 0.0 <= coherence <= 1.0:
        raise ValueError(f"coherence must be in [0, 1], got {coherence}")
    ox = np.asarray(offset_x, dtype=np.float64)
    oy = np.asarray(offset_y, dtype=np.float64)
    uniform = ox.ndim == 0 and oy.ndim == 0
    if not uniform:
        ox = np.broadcast_to(ox, (ny, nx))
        oy = np.broadcast_to(oy, (ny, nx))
    rng = np.random.default_rng(seed)
    # Margin so that content entering the secondary comes from fresh ground, not wrapped.
    margin = int(np.ceil(max(np.max(np.abs(ox)), np.max(np.abs(oy))))) + 16
    py = sfft.next_fast_len(ny + 2 * margin)
    px = sfft.next_fast_len(nx + 2 * margin)
    ground = bandlimited_speckle((py, px), bandwidth, rng=rng)
    reference = ground[margin:margin + ny, margin:margin + nx]
    if uniform:
        shifted = _shift_periodic(ground, float(ox), float(oy))[margin:margin + ny, margin:margin + nx]
    else:
        rows = np.arange(ny, dtype=np.float64)[:, None] + margin - oy
        cols = np.arange(nx, dtype=np.float64)[None, :] + margin - ox
        rows, cols = np.broadcast_arrays(rows, cols)
        shifted = _resample(ground, rows, cols)
    if coherence < 1.0:
        noise = bandlimited_speckle((py, px), bandwidth, rng=rng)[margin:margin + ny, margin:margin + nx]
        secondary = coherence * shifted + np.sqrt(1.0 - coherence ** 2) * noise
    else:
        secondary = shifted
    if azimuth_ramp_cycles or azimuth_ramp_rate:
        ramp = np.exp(1j * azimuth_ramp_phase((ny, nx), azimuth_ramp_cycles, azimuth_ramp_rate))
        reference = reference * ramp
        secondary = secondary * ramp
    return reference.astype(np.complex64), secondary.astype(np.complex64)


def amplitude_pair(
    shape: Tuple[int, int],
    offset_x: ArrayOrScalar = 0.0,
    offset_y: ArrayOrScalar = 0.0,
    coherence: float = 1.0,
    kind: str = "smooth",
    bandwidth: float = 0.8,
    seed: int = 0,
) -> Tuple[np.ndarray, np.ndarray]:
    """Amplitude-only (real) pair with a known offset field, ``float32``.

    ``kind``:
        ``"detected"``: ``|SLC|`` of :func:`speckle_pair` at ``bandwidth``; its
        spectrum (twice the complex bandwidth) is aliased, as in a detected
        Sentinel-1 image.
        ``"smooth"``: intensity ``|z|**2`` of speckle ``z`` with half the
        bandwidth, so the intensity occupies ``bandwidth`` of the sampling
        rate and is *not* aliased (speckle smoothed by multilooking).
    Offsets and coherence as in :func:`speckle_pair`.
    """
    if kind == "detected":
        ref, sec = speckle_pair(shape, offset_x, offset_y, coherence, bandwidth, seed=seed)
        return np.abs(ref).astype(np.float32), np.abs(sec).astype(np.float32)
    if kind == "smooth":
        ref, sec = speckle_pair(shape, offset_x, offset_y, coherence, bandwidth / 2.0, seed=seed)
        return (np.abs(ref) ** 2).astype(np.float32), (np.abs(sec) ** 2).astype(np.float32)
    raise ValueError(f"kind must be 'detected' or 'smooth', got {kind!r}")


# ----------------------------------------------------------------- offset fields

def uniform_field(shape: Tuple[int, int], dx: float, dy: float) -> Tuple[np.ndarray, np.ndarray]:
    """Constant offsets (pixels) as two arrays of ``shape``."""
    return np.full(shape, float(dx)), np.full(shape, float(dy))


def smooth_field(shape: Tuple[int, int], amplitude: float = 1.0,
                 wavelength: float = 256.0) -> Tuple[np.ndarray, np.ndarray]:
    """Smooth sinusoidal offsets (pixels): ``dx = A sin(2 pi x / L) cos(2 pi y / L)``,
    ``dy = A cos(2 pi x / L) sin(2 pi y / L) / 2`` with ``x, y`` pixel-centre indices."""
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    k = 2.0 * np.pi / float(wavelength)
    return (amplitude * np.sin(k * x) * np.cos(k * y),
            0.5 * amplitude * np.cos(k * x) * np.sin(k * y))


def fault_field(shape: Tuple[int, int], slip: float = 1.0, column: float = None,
                ) -> Tuple[np.ndarray, np.ndarray]:
    """Strike-slip-like step along a vertical line: ``dy = +slip/2`` east of ``column``
    (default: the middle) and ``-slip/2`` west of it; ``dx = 0``.  Pixels."""
    ny, nx = shape
    column = (nx - 1) / 2.0 if column is None else float(column)
    x = np.arange(nx, dtype=np.float64)[None, :]
    dy = np.where(x > column, 0.5 * slip, -0.5 * slip) * np.ones((ny, 1))
    return np.zeros((ny, nx)), dy
