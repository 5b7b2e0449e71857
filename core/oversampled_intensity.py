"""Oversampled, detected images for offset tracking, computed once per pixel, tile by tile.

Detecting a complex SAR image (``|z|**2``) doubles its bandwidth: at the original sampling
the intensity aliases, and any correlation of detected images is biased toward whole pixels
(pixel locking).  Offset tracking therefore works on the intensity of the image oversampled
``factor`` times *before* detection, as ISCE2's ampcor does in complex mode.  Real
(amplitude or intensity) images are oversampled the same way, which is exact for a
non-aliased amplitude and keeps the correlation accurate on real texture that reaches the
Nyquist frequency (measured in docs/offset_tracking.md, parameter guidance: OVERSAMPLE 1).

This module computes that oversampled image for blocks of at most :data:`BLOCK_ROWS` image
rows at a time, in tiles of at most :data:`TILE` x :data:`TILE` pixels (:func:`tile_core`)
cut with a margin of :data:`MARGIN` pixels on every side that is cropped after oversampling
(FFT edge effects stay in the margin), and keeps only the blocks that windows still need
(:class:`OversampledRows`).  Every pixel is therefore oversampled once, not once per window
that contains it.

Complex tiles are **demodulated** before oversampling: the local spectral centroid along
each axis is estimated from the phase of the lag-1 autocorrelation of every row transition
(summed over the tile width, smoothed over :data:`CENTROID_SMOOTH` rows) and of every column
transition alike, and the phase ``exp(-2 pi i (Fy(row) + Fx(col)))`` with ``Fy``, ``Fx`` the
running sums of those centroids (cycles) is removed.  That centres the spectrum everywhere,
also when the centroid drifts along azimuth as in a Sentinel-1 TOPS burst (the phase is then
quadratic, which a constant deramp per window cannot follow), so the zeros of the FFT
padding go into the empty part of the spectrum.  The phase does not change ``|z|**2``.

Nodata (NaN, or exact zeros at SAR swath borders) and rows or columns outside the image are
reported in an ``invalid`` mask at the original sampling; their values are set to zero (complex)
or to the mean of the tile's valid samples (real) before the FFTs.  Windows touching them are discarded by the
caller.

The FFTs use scipy's default number of workers: run inside ``scipy.fft.set_workers(n)`` to use
``n`` threads (:func:`.offset_tracking.track_offsets` does).
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
from scipy import fft as sfft

#: Largest tile size (pixels, before oversampling) including the margins; 2**8 keeps the
#: FFTs fast.  Smaller images get smaller tiles that cover them with little waste
#: (:func:`tile_core`).
TILE = 256
#: Margin (pixels) cut around every tile core and dropped after oversampling.
MARGIN = 8
#: Largest number of image rows per computed block (the tile core height).
BLOCK_ROWS = TILE - 2 * MARGIN
#: Half-length (rows or columns) of the running sum that smooths the centroid estimates.
CENTROID_SMOOTH = 8
#: Tiles transformed together (bounds the temporary arrays: about 40 MB at factor 2).
TILES_PER_BATCH = 8


def tile_core(size: int) -> int:
    """Tile core (pixels, without margins) along an image axis of ``size`` pixels: at most
    ``TILE - 2 MARGIN``, as small as covers the axis with the same number of tiles, rounded
    up so that core + margins is a fast FFT length."""
    n = -(-int(size) // (TILE - 2 * MARGIN))
    core = -(-int(size) // max(n, 1))
    return sfft.next_fast_len(core + 2 * MARGIN) - 2 * MARGIN


def _running_sum(a: np.ndarray, half: int, axis: int) -> np.ndarray:
    """Sum over ``[k - half, k + half]`` (clipped to the array) along ``axis``."""
    a = np.moveaxis(a, axis, -1)
    c = np.cumsum(a, axis=-1)
    c = np.concatenate([np.zeros(a.shape[:-1] + (1,), c.dtype), c], axis=-1)
    n = a.shape[-1]
    hi = np.minimum(np.arange(n) + half + 1, n)
    lo = np.maximum(np.arange(n) - half, 0)
    return np.moveaxis(c[..., hi] - c[..., lo], -1, axis)


def demodulate(z: np.ndarray, smooth: int = CENTROID_SMOOTH) -> np.ndarray:
    """Remove the local spectral centroid of a batch of complex tiles (axis 0 = tiles).

    Centroid of each row transition ``r -> r+1`` (cycles per pixel) = phase of
    ``sum_x z[r+1, x] conj(z[r, x])`` summed over ``2 smooth + 1`` transitions, divided by
    2 pi; the tile row ``r`` is multiplied by ``exp(-2 pi i Fy[r])``, ``Fy`` the running sum of
    the centroids (columns alike).  Returns complex64."""
    z = z.astype(np.complex64, copy=False)
    phases = []
    for axis in (1, 2):
        lead = [slice(None)] * 3
        lag = [slice(None)] * 3
        lead[axis], lag[axis] = slice(1, None), slice(None, -1)
        other = 2 if axis == 1 else 1
        acf = np.sum(z[tuple(lead)] * np.conj(z[tuple(lag)]), axis=other, dtype=np.complex128)
        freq = np.angle(_running_sum(acf, smooth, axis=1)) / (2 * np.pi)       # (n, size - 1)
        cycles = np.concatenate([np.zeros((z.shape[0], 1)), np.cumsum(freq, axis=1)], axis=1)
        cycles -= np.floor(cycles)
        phases.append(np.exp(-2j * np.pi * cycles).astype(np.complex64))
    return z * phases[0][:, :, None] * phases[1][:, None, :]


def oversampled_intensity(z: np.ndarray, factor: int) -> np.ndarray:
    """``|z|**2`` of a batch of complex tiles (axes 1, 2) oversampled ``factor`` times by FFT
    zero padding, the zeros going at the Nyquist frequency (the empty part of a centred
    spectrum).  Float32.

    The spectrum is rolled so that the negative frequencies come first and the transforms
    pad at the end: that interpolates ``z`` times a unit phase factor per sample, which the
    detection removes, and spares the copies into a zero-filled array."""
    b, h, w = z.shape
    if factor == 1:
        return (z.real * z.real + z.imag * z.imag).astype(np.float32)
    spec = np.roll(sfft.fft2(z, axes=(1, 2), norm="forward"), (h // 2, w // 2), axis=(1, 2))
    out = sfft.ifft(spec, n=factor * h, axis=1, norm="forward", overwrite_x=True)
    out = sfft.ifft(out, n=factor * w, axis=2, norm="forward", overwrite_x=True)
    return (out.real * out.real + out.imag * out.imag).astype(np.float32)


def oversample_real(x: np.ndarray, factor: int) -> np.ndarray:
    """FFT zero-padding oversampling of a batch of real tiles (axes 1, 2) by ``factor``, with
    the zeros at the Nyquist frequency, as :func:`oversampled_intensity` but without detection
    and with real FFTs: the Nyquist bins of even-sized axes are split evenly between the positive and
    negative frequency, which is what taking the real part of the complex result does."""
    if factor == 1:
        return x
    b, h, w = x.shape
    spec = sfft.rfft2(x, axes=(1, 2))          # (b, h, w//2 + 1)
    H, W = factor * h, factor * w
    big = np.zeros((b, H, W // 2 + 1), dtype=spec.dtype)
    hp, hn = (h + 1) // 2, h // 2
    wh = (w + 1) // 2                                               # x bins below Nyquist
    big[:, :hp, :wh] = spec[:, :hp, :wh]
    big[:, H - hn:, :wh] = spec[:, h - hn:, :wh]
    if w % 2 == 0:                                                  # x Nyquist: half at +w/2
        big[:, :hp, w // 2] = 0.5 * spec[:, :hp, w // 2]
        big[:, H - hn:, w // 2] = 0.5 * spec[:, h - hn:, w // 2]
    if h % 2 == 0:                                                  # y Nyquist row: split
        big[:, h // 2] = big[:, H - h // 2] * 0.5
        big[:, H - h // 2] *= 0.5
        if w % 2 == 0:                                              # the corner goes to +/+
            big[:, h // 2, w // 2] = 0.5 * spec[:, h // 2, w // 2]
            big[:, H - h // 2, w // 2] = 0.0
    out = sfft.irfft2(big, s=(H, W), axes=(1, 2), overwrite_x=True)
    out *= factor * factor
    return out


def detect_tiles(tiles: np.ndarray, invalid: np.ndarray, factor: int, is_complex: bool
                 ) -> np.ndarray:
    """Oversampled detected tiles (float32, (n, factor h, factor w)): complex tiles are
    demodulated, oversampled and detected (``|z|**2``); real tiles are oversampled.
    ``invalid`` (n, h, w) marks samples replaced first by zero (complex) or by the mean of
    the tile's valid samples (real)."""
    if is_complex:
        z = np.where(invalid, 0, tiles).astype(np.complex64)
        return oversampled_intensity(demodulate(z) if factor > 1 else z, factor)
    x = tiles.astype(np.float64)
    valid = ~invalid
    count = np.maximum(valid.sum(axis=(1, 2)), 1)
    mean = np.where(valid, x, 0.0).sum(axis=(1, 2)) / count
    x = np.where(valid, x, mean[:, None, None]).astype(np.float32)
    return oversample_real(x, factor).astype(np.float32, copy=False)


class OversampledRows:
    """Oversampled detected image of one source, served by rows (see module docstring).

    ``source`` has ``width``, ``height``, ``is_complex`` and ``read(row, rows)`` (NaN for
    nodata), like :class:`.offset_tracking.ArraySource`.  Blocks are computed on first use
    and dropped by :meth:`release_before`."""

    def __init__(self, source, factor: int, is_complex: bool):
        self.source = source
        self.factor = int(factor)
        self.is_complex = bool(is_complex)
        self.width = int(source.width)
        self.height = int(source.height)
        self.block_rows = tile_core(self.height)
        self.core_x = tile_core(self.width)
        self.blocks: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}

    def release_before(self, row: int) -> None:
        """Forget blocks that end at or before image row ``row``."""
        for k in [k for k in self.blocks if (k + 1) * self.block_rows <= row]:
            del self.blocks[k]

    def rows(self, row0: int, row1: int) -> Tuple[np.ndarray, np.ndarray]:
        """Image rows ``row0 .. row1 - 1`` (may reach outside the image): the oversampled
        detected values (float32, ``(f (row1 - row0), f width)``) and the invalid mask at the
        original sampling (bool, ``(row1 - row0, width)``; True outside the image)."""
        f, n = self.factor, self.block_rows
        k = row0 // n
        if (row1 - 1) // n == k:                          # inside one block: views
            v, m = self._block(k)
            a = row0 - k * n
            return v[f * a:f * (a + row1 - row0)], m[a:a + row1 - row0]
        values = np.empty((f * (row1 - row0), f * self.width), np.float32)
        invalid = np.empty((row1 - row0, self.width), bool)
        for k in range(row0 // n, (row1 - 1) // n + 1):
            v, m = self._block(k)
            a, b = max(row0, k * n), min(row1, (k + 1) * n)
            values[f * (a - row0):f * (b - row0)] = v[f * (a - k * n):f * (b - k * n)]
            invalid[a - row0:b - row0] = m[a - k * n:b - k * n]
        return values, invalid

    def _read(self, row0: int, row1: int) -> np.ndarray:
        """Rows row0..row1-1 at full width, NaN outside the image."""
        dtype = np.complex64 if self.is_complex else np.float32
        out = np.empty((row1 - row0, self.width), dtype=dtype)
        a = min(max(row0, 0), row1)
        b = max(min(row1, self.height), a)
        out[:a - row0] = np.nan
        out[b - row0:] = np.nan
        if b > a:
            out[a - row0:b - row0] = self.source.read(a, b - a)
        return out

    def _block(self, k: int) -> Tuple[np.ndarray, np.ndarray]:
        if k in self.blocks:
            return self.blocks[k]
        f, rows, core, m = self.factor, self.block_rows, self.core_x, MARGIN
        if f == 1 and not self.is_complex:
            # nothing to interpolate, so no margin: the samples as they are, invalid ones
            # included (windows touching them are discarded by the caller, so their value
            # never counts)
            raw = self._read(k * rows, (k + 1) * rows)
            block = (raw, ~np.isfinite(raw) | (raw == 0))
            self.blocks[k] = block
            return block
        raw = self._read(k * rows - m, (k + 1) * rows + m)              # (rows + 2m, width)
        bad = ~np.isfinite(raw) | (raw == 0)
        n_tiles = -(-self.width // core)
        padded = np.zeros((rows + 2 * m, n_tiles * core + 2 * m), raw.dtype)
        padded_bad = np.ones(padded.shape, bool)
        padded[:, m:m + self.width] = np.where(bad, 0, raw)
        padded_bad[:, m:m + self.width] = bad
        # the block at the image's width (the last tile is cut): no copy of the block after
        values = np.empty((f * rows, f * self.width), np.float32)
        for t0 in range(0, n_tiles, TILES_PER_BATCH):
            idx = np.arange(t0, min(n_tiles, t0 + TILES_PER_BATCH))
            cols = idx[:, None] * core + np.arange(core + 2 * m)[None, :]    # (n, core + 2m)
            tiles = np.transpose(padded[:, cols], (1, 0, 2))
            tbad = np.transpose(padded_bad[:, cols], (1, 0, 2))
            det = detect_tiles(tiles, tbad, f, self.is_complex)[:, f * m:f * (m + rows),
                                                                 f * m:f * (m + core)]
            for i, t in enumerate(idx):
                start = f * t * core
                stop = min(start + f * core, f * self.width)
                values[:, start:stop] = det[i][:, :stop - start]
        block = (values, bad[m:m + rows].copy())
        self.blocks[k] = block
        return block
