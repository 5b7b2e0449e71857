"""Pixel offset tracking: dense normalised cross-correlation with sub-pixel peaks.

For every window of the reference image (a regular grid of window centres) the offset to the
secondary image is measured by normalised cross-correlation (NCC) over a search area, with a
sub-pixel peak.  Windows are processed in vectorised batches (no Python loop per window) with
``scipy.fft``; the images are read and oversampled block by block of rows and only the blocks
that windows still need are kept, so the memory needed is bounded for any image height (see
:func:`memory_bound`).

Conventions (docs/conventions.md)
---------------------------------
* Offsets = position in the **secondary** minus position in the **reference**, in pixels;
  ``dx`` along columns (+x = range), ``dy`` along rows (+y = azimuth).
* Window ``(i, j)`` covers reference rows ``top_i .. top_i + window_y - 1`` with
  ``top_i = search_y + i * step_y`` (columns alike).  Its centre, the ground position it
  measures, is at fractional pixel position ``(left_j + window_x / 2, top_i + window_y / 2)``
  in the GDAL convention (``(0, 0)`` = upper-left corner of the first pixel).
* Output grid: one pixel per window; the output geotransform is the reference geotransform
  scaled by the step, with the first output pixel centred on the first window centre
  (:func:`output_geotransform`).

Method
------
1. Both images are oversampled ``oversample`` times and detected once per pixel, in tiles
   (:mod:`.oversampled_intensity`): complex (SLC) tiles are demodulated by their local
   spectral centroid (this follows a TOPS azimuth ramp), oversampled by FFT zero padding and
   detected (``|z|**2``, band-limited on the oversampled grid, so nothing aliases); real
   (amplitude) tiles are oversampled the same way (exact for non-aliased amplitude; on real
   texture with content up to the Nyquist frequency it keeps the tapered window's shift
   accurate: docs/offset_tracking.md, parameter guidance).
2. For each window, the weighted NCC of the Tukey-tapered reference window against every
   whole-pixel lag of the search area, then a sub-pixel zoom on the band-limited NCC surface
   (:mod:`.window_correlation`, which documents the estimator, SNR and 1-sigma).
3. Optional coarse pass on 4x reduced amplitudes for offsets beyond the search range,
   SNR, correlation-peak and outlier masks (thresholds per image type:
   :func:`detect_image_type`, :data:`QUALITY_DEFAULTS`), ramp removal (:func:`track_offsets`).

Windows with NaN or exact zeros (SAR swath borders) in the reference window or in the search
area, or whose search area leaves the image, give NaN.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from . import fast_correlation
from .execution import (DaskEngine, LocalEngine, cancel_point, engine_from_environment,
                        local_worker_count, portable_path, single_threaded_blas, zip_tasks)
from .oversampled_intensity import (BLOCK_ROWS, TILE, TILES_PER_BATCH, OversampledRows)
from .progress import ensure_monitor
from .window_correlation import correlate_batch

#: Reduction factor of the coarse pass.
COARSE_FACTOR = 4
#: Window, search and step of the coarse pass, in reduced pixels.
COARSE_WINDOW = 32
COARSE_SEARCH = 16
COARSE_STEP = 16
#: Threads (-1 = all cores): the FFT workers of the tile oversampling and the number of
#: batches correlated at once; benchmarks set 1 to compare per thread.
WORKERS = -1
#: Windows per vectorised batch (memory: see :func:`memory_bound`).
DEFAULT_BATCH = 32

RAMPS = ("none", "constant", "linear")
#: Speed presets (``accurate`` the default, ``fast``: :mod:`.fast_correlation`).
PRESETS = fast_correlation.PRESETS

#: Image types (docs/offset_tracking.md, "Image types and quality thresholds").
IMAGE_TYPES = ("complex_sar", "sar_amplitude", "optical")
IMAGE_TYPE_NAMES = {"complex_sar": "complex SAR", "sar_amplitude": "SAR amplitude",
                    "optical": "optical"}
#: Default quality masks per image type: (SNR threshold, correlation peak threshold), 0 = off.
#: SAR: SNR 5, calibrated on speckle (at coherence 0.1-0.2 the SNR is 4-5).  Optical: the SNR
#: of smooth natural texture falls with the window size (median over correctly tracked
#: windows 7.5 at 32 px, 4.5 at 64, 2.9 at 128 on the Landsat crop of tests/data), so it does
#: not separate good from failed windows; the correlation peak does: 0.5 keeps 96-100 % of the
#: windows within 0.1 px of the truth and 98-100 % of unrelated windows are below it.
QUALITY_DEFAULTS = {"complex_sar": (5.0, 0.0), "sar_amplitude": (5.0, 0.0),
                    "optical": (0.0, 0.5)}

_BOUNDARY = r"(?<![A-Z0-9]){}(?![A-Z0-9])"
#: Words in the file name, band descriptions or metadata that say what an image is.
_SAR_WORDS = re.compile("|".join(_BOUNDARY.format(w) for w in (
    r"SENTINEL-?1[ABCD]?", r"S1[ABCD]", "SAR", "SLC", "GRD", "RTC(?:-S1)?", "GAMMA0", "SIGMA0",
    "BETA0", "VV", "VH", "HH", "HV", "BACKSCATTER", "AMPLITUDE", "INTENSITY", "ALOS2?",
    "PALSAR2?", "TERRASAR-?X", "COSMO-?SKYMED", "RADARSAT-?2?", "ICEYE", "CAPELLA", "NISAR")))
_OPTICAL_WORDS = re.compile("|".join(_BOUNDARY.format(w) for w in (
    r"SENTINEL-?2[ABC]?", r"S2[ABC]", r"MSIL?1C", r"MSIL?2A", "LANDSAT", r"L[CEOT]0[4-9]",
    "OLI", "ETM", "REFLECTANCE", "TOA", "BOA", "ORTHOPHOTO", "ORTHOIMAGE", "PLANETSCOPE",
    "SPOT[0-9]?", "PLEIADES", "ASTER", "WORLDVIEW-?[0-9]?", "RGB")))


def detect_image_type(data_type: str, texts: Sequence[str] = ()) -> Tuple[str, str]:
    """Image type (one of :data:`IMAGE_TYPES`) of a band, and why.

    ``data_type``: the GDAL type name of the band (``CFloat32``, ``Byte``, ``UInt16``...) or a
    numpy dtype name; ``texts``: the file name, band description and metadata (keys and
    values).  Order: complex samples -> complex SAR; a sensor or product word of one kind only
    (Sentinel-1, RTC, VV, sigma0... or Sentinel-2, Landsat, reflectance, RGB...) -> that kind;
    integer samples (8/16/32-bit: optical digital numbers and scaled reflectance; SAR
    amplitude products of ISCE2, SNAP, OPERA and HyP3 are float) -> optical; anything else ->
    SAR amplitude.  Texture statistics were measured and do not separate the two
    (docs/offset_tracking.md), so they are not used."""
    name = str(data_type)
    if name.lower().startswith("c"):
        return "complex_sar", f"complex samples ({name})"
    text = " ".join(str(t) for t in texts if t).upper()
    sar = sorted({m.group(0) for m in _SAR_WORDS.finditer(text)})
    optical = sorted({m.group(0) for m in _OPTICAL_WORDS.finditer(text)})
    if sar and not optical:
        return "sar_amplitude", f"real samples ({name}) named {', '.join(sar[:3])}"
    if optical and not sar:
        return "optical", f"named {', '.join(optical[:3])}"
    if name.lower().startswith(("byte", "uint", "int")):
        return "optical", (f"integer samples ({name}), the usual storage of optical digital "
                           "numbers and reflectance")
    return "sar_amplitude", f"real floating-point samples ({name}) without an optical sensor name"


def raster_image_type(info, band: int) -> Tuple[str, str]:
    """:func:`detect_image_type` of band ``band`` (1-based) of a :class:`.raster_io.RasterInfo`
    from its data type, file name, band description and metadata."""
    texts = [os.path.basename(info.path), info.descriptions[band - 1]]
    for meta in [info.metadata] + list(info.band_metadata[band - 1:band]):
        for k, v in meta.items():
            texts += [k, v]
    return detect_image_type(info.data_types[band - 1], texts)


def quality_thresholds(image_type: str, snr_threshold: Optional[float] = None,
                       peak_threshold: Optional[float] = None) -> Tuple[float, float]:
    """SNR and correlation-peak thresholds: the given values, else the defaults calibrated for
    ``image_type`` (:data:`QUALITY_DEFAULTS`)."""
    if image_type not in QUALITY_DEFAULTS:
        raise ValueError(f"IMAGE_TYPE = {image_type!r}: use one of {', '.join(IMAGE_TYPES)}")
    snr, peak = QUALITY_DEFAULTS[image_type]
    return (snr if snr_threshold is None else float(snr_threshold),
            peak if peak_threshold is None else float(peak_threshold))


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
    peak_threshold: float = 0.0
    outlier_threshold: float = 0.0
    ramp: str = "none"
    batch: int = DEFAULT_BATCH
    strain_correction: bool = True
    #: ``accurate`` or ``fast`` (:mod:`.fast_correlation`)
    preset: str = "accurate"

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
        if not 0.0 <= float(self.peak_threshold) < 1.0:
            raise ValueError(f"PEAK_THRESHOLD = {self.peak_threshold}: a normalised correlation "
                             "peak threshold lies in 0 (off) .. 1; optical images: 0.5")
        fast_correlation.check_preset(self.preset)
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
    #: windows without an offset, by cause, in the order the masks apply
    #: (:data:`MASKS`; each window counted once, under the first mask that removed it)
    removed: Dict[str, int] = field(default_factory=dict)
    #: (4, rows, cols): where each window measured dx (x, y) and dy (x, y), pixels from its
    #: centre (:func:`.window_correlation.information_centroids`)
    centroids: Optional[np.ndarray] = None


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


def memory_bound(width: int, p: TrackingParameters, threads: Optional[int] = None) -> int:
    """Upper bound (bytes) of the working memory, independent of the image height.

    Each task in work (one per engine thread: :func:`tracking_threads` unless ``threads`` is
    given) holds the oversampled blocks of rows its current windows need
    (:class:`.oversampled_intensity.OversampledRows`: ``oversample**2 * BLOCK_ROWS * width``
    float32 values and a mask each; ``window_y / BLOCK_ROWS + 1`` blocks for the reference,
    ``(window_y + 2 search_y + coarse spread) / BLOCK_ROWS + 1`` for the secondary), the row
    strips copied from them, the temporaries of one block computation (raw rows, padded
    copies, ``TILES_PER_BATCH`` oversampled complex tiles) and the spectra and window sums of
    one batch (about 16 float32 arrays of the oversampled search frame per window), and the
    file blocks GDAL holds while one read is copied out (:data:`READ_BLOCK_ROWS` rows twice;
    :class:`RasterSource` drops them after each read, so GDAL's block cache holds no more),
    or the rows of blocks the two images' :class:`RasterSource` keep and the one being read
    (at most :data:`STRIP_BYTES` each), whichever is larger.
    A task of the coarse pass's reduction holds less (:data:`REDUCE_ROWS` rows).  The coarse
    pass's 4x reduced images on the caller (width x height / 16 x 4 B each) are not
    included."""
    threads = tracking_threads(width, p) if threads is None else max(1, int(threads))
    return int(threads * _task_memory(width, p))


def _task_memory(width: int, p: TrackingParameters) -> int:
    o, w = int(p.oversample), int(width)
    spread = 2 * COARSE_SEARCH * COARSE_FACTOR if p.coarse_search else 0
    sec_rows = p.window_y + 2 * p.search_y + spread
    n_blocks = (-(-p.window_y // BLOCK_ROWS) + 1) + (-(-sec_rows // BLOCK_ROWS) + 1)
    block = o * o * BLOCK_ROWS * w * 4 + BLOCK_ROWS * w
    strips = o * o * (p.window_y + sec_rows) * w * 4 + (p.window_y + sec_rows) * w * 9
    compute = TILE * (w + TILE) * 8 * 4 + TILES_PER_BATCH * (o * TILE) ** 2 * 8 * 3
    frame = o * o * (p.window_y + 2 * p.search_y) * (p.window_x + 2 * p.search_x)
    # a read across two rows of tiles, or (RasterSource.strip_rows) the rows kept for both
    # images and the one being read
    read = max(2 * READ_BLOCK_ROWS * w * 8, 3 * min(STRIP_BYTES, READ_BLOCK_ROWS * w * 8))
    return int(n_blocks * block + strips + compute + p.batch * frame * 4 * 16 + read)


#: Rows of the file blocks (tiles) assumed held by GDAL during one read, for
#: :func:`memory_bound`: the tile height of Cloud-Optimized GeoTIFFs (512) and the largest
#: usual one; stripped files (ENVI, ISCE2 binaries, most SLC GeoTIFFs) hold less.
READ_BLOCK_ROWS = 512


#: Working memory (bytes) the local threads of a tracking run may hold together: fewer
#: threads than cores on very wide images (each task holds full-width oversampled rows).
MEMORY_BUDGET = 2_000_000_000


def tracking_threads(width: int, p: TrackingParameters) -> int:
    """Local threads of a tracking run: :func:`correlation_threads`, fewer when their tasks
    would hold more than :data:`MEMORY_BUDGET` together (at least one)."""
    return max(1, min(correlation_threads(), MEMORY_BUDGET // max(1, _task_memory(width, p))))


#: Size (bytes) of the block allocated and freed once per process before correlating
#: (:func:`_keep_temporaries_on_the_heap`).
ALLOCATOR_WARMUP = 30 * 2 ** 20
_allocator_warm = False


def _keep_temporaries_on_the_heap() -> None:
    """Allocate and free one :data:`ALLOCATOR_WARMUP` block, once per process.

    glibc serves blocks above its mmap threshold (128 KiB at start) with fresh pages from the
    kernel and gives them back when freed, so the temporaries of every batch (hundreds of KiB
    to MiB) were page-faulted again at every batch: about half of the correlation time of the
    fast preset on the shared benchmark machine.  Freeing a mapped block raises the threshold
    to its size (glibc's dynamic mmap threshold, mallopt(3), up to 32 MiB on 64-bit systems),
    after which the batch temporaries are reused from the heap.  Elsewhere a no-op beyond one
    allocation."""
    global _allocator_warm
    if not _allocator_warm:
        block = np.ones(ALLOCATOR_WARMUP, np.uint8)
        del block
        _allocator_warm = True


#: Most local threads when WORKERS is -1 (and DISPLACEMENT_TOOLKIT_THREADS is not set).
MAX_THREADS = 8


def correlation_threads() -> int:
    """Local threads of a tracking run: :data:`WORKERS`, -1 meaning the environment's
    (core.execution: ``DISPLACEMENT_TOOLKIT_THREADS`` or every core) up to
    :data:`MAX_THREADS`."""
    if WORKERS == -1:
        return max(1, min(local_worker_count(), MAX_THREADS))
    return max(1, int(WORKERS))


# ------------------------------------------------------------------ sources

class ArraySource:
    """An in-memory image (2-D numpy array) read strip by strip."""

    def __init__(self, array: np.ndarray):
        self.array = np.asarray(array)
        self.height, self.width = self.array.shape
        self.is_complex = np.iscomplexobj(self.array)

    def read(self, row: int, rows: int) -> np.ndarray:
        return self.array[row:row + rows]


#: Largest row of file blocks (bytes) a :class:`RasterSource` keeps between reads.
STRIP_BYTES = 48 * 2 ** 20


class RasterSource:
    """One band of a GDAL raster read strip by strip (nodata as NaN).

    Each read drops the file's blocks from GDAL's block cache (process-wide, by default 5 %
    of the memory) once the rows are copied out: the tasks read every row once or twice,
    in order, so the cache would only hold gigabytes of a frame that nothing reads again,
    next to the oversampled rows that :func:`memory_bound` counts.  So that a compressed
    tile read by two consecutive reads is not decompressed twice, the last row of whole
    blocks read is kept when it holds at most :data:`STRIP_BYTES` (tiles of 64 rows or
    more; strips of a few rows are read as asked)."""

    def __init__(self, path: str, band: int = 1):
        from .raster_io import open_raster, raster_info
        self.info = raster_info(path)
        self.ds = open_raster(path)
        self.band = int(band)
        self.height, self.width = self.info.height, self.info.width
        self.is_complex = self.info.is_complex(self.band)
        block_rows = int(self.ds.GetRasterBand(self.band).GetBlockSize()[1])
        item = 8 if self.is_complex else 4
        self.strip_rows = block_rows if 64 <= block_rows and \
            block_rows * self.width * item <= STRIP_BYTES else 0
        self._strip: Tuple[int, Optional[np.ndarray]] = (-1, None)

    def _read(self, row: int, rows: int) -> np.ndarray:
        from .raster_io import read_block

        return read_block(self.ds, self.band, row, 0, rows, self.width, read_once=True)

    def read(self, row: int, rows: int) -> np.ndarray:
        n = self.strip_rows
        if not n:
            return self._read(row, rows)
        parts, r = [], row
        while r < row + rows:
            first = r // n * n
            if self._strip[0] != first:
                self._strip = (first, self._read(first, min(n, self.height - first)))
            stop = min(row + rows, first + n)
            parts.append(self._strip[1][r - first:stop - first])
            r = stop
        return np.concatenate(parts) if len(parts) > 1 else parts[0].copy()


# ------------------------------------------------------------------ coarse pass

#: Image rows per task of the coarse pass's reduction: a multiple of :data:`COARSE_FACTOR`
#: and of the usual tile heights (256, 512), so that the tasks read whole tiles.
REDUCE_ROWS = 512


@dataclass(frozen=True)
class _ReduceTask:
    """Rows ``row .. row + rows - 1`` of image ``which`` (0 reference, 1 secondary) to reduce
    ``factor`` times in an engine worker."""

    image: "ImageSpec"
    which: int
    row: int
    rows: int
    factor: int


def _reduce_rows(task: _ReduceTask) -> np.ndarray:
    """Amplitude of the task's rows averaged over factor x factor blocks (NaN if any sample
    is nodata): ``(rows / factor, width // factor)`` float32."""
    src, f = task.image.open(), task.factor
    w = src.width // f
    amp = np.abs(src.read(task.row, task.rows)[:, :w * f]).astype(np.float32, copy=False)
    np.copyto(amp, np.float32(np.nan), where=amp == 0)
    # whole-array sums (numpy releases the GIL in them: tasks on threads run in parallel)
    rows = amp.reshape(task.rows // f, f, w * f).sum(axis=1)
    total = rows[:, 0::f].copy()
    for k in range(1, f):
        total += rows[:, k::f]
    return total / np.float32(f * f)


def reduced_images(images: Sequence["ImageSpec"], shape_hw, factor: int, engine, monitor=None
                   ) -> List[np.ndarray]:
    """The amplitudes of ``images`` (all ``shape_hw``) averaged over factor x factor blocks,
    read and reduced in tasks of :data:`REDUCE_ROWS` rows on ``engine`` (the caller only
    assembles the reduced rows, 1 / (2 factor**2) of the bytes read for complex images)."""
    h, w = int(shape_hw[0]) // factor * factor, int(shape_hw[1]) // factor
    rows = max(factor, REDUCE_ROWS // factor * factor)
    tasks = [_ReduceTask(image, k, r0, min(rows, h - r0), factor)
             for k, image in enumerate(images) for r0 in range(0, h, rows)]
    out = [np.full((h // factor, w), np.nan, np.float32) for _ in images]
    mon = ensure_monitor(monitor)
    for done, (task, block) in enumerate(zip_tasks(engine, _reduce_rows, tasks, mon), 1):
        out[task.which][task.row // factor:(task.row + task.rows) // factor] = block
        mon.update(done / len(tasks))
    return out


def coarse_offsets(reference: "ImageSpec", secondary: "ImageSpec", shape_hw,
                   p: TrackingParameters, monitor=None, engine=None
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Integer gross offsets (pixels) at every window of the fine grid from a pass on
    images (``shape_hw``) reduced ``COARSE_FACTOR`` times (amplitude averages, read and
    reduced on ``engine``: :func:`reduced_images`; default local threads): window
    ``COARSE_WINDOW``, search ``±COARSE_SEARCH`` reduced pixels (±64 pixels),
    median-filtered, gaps filled."""
    f = COARSE_FACTOR
    mon = ensure_monitor(monitor)
    ref, sec = reduced_images((reference, secondary), shape_hw, f,
                              engine or LocalEngine(correlation_threads()), mon.sub(0.0, 0.8))
    h, w = ref.shape
    gx0, gy0 = int(round(p.gross_x / f)), int(round(p.gross_y / f))
    win_x = min(COARSE_WINDOW, max(8, w - 2 * COARSE_SEARCH))
    win_y = min(COARSE_WINDOW, max(8, h - 2 * COARSE_SEARCH))
    srch_x = min(COARSE_SEARCH, max(1, (w - win_x) // 2))
    srch_y = min(COARSE_SEARCH, max(1, (h - win_y) // 2))
    cp = TrackingParameters(window_x=win_x, window_y=win_y, search_x=srch_x, search_y=srch_y,
                            step_x=COARSE_STEP, step_y=COARSE_STEP, gross_x=gx0, gross_y=gy0,
                            coarse_search=False, oversample=1, correlation_oversample=4)
    fine_cols, fine_rows = output_grid(int(shape_hw[1]), int(shape_hw[0]), p)
    try:
        cp.validate(w, h)
    except ValueError:
        z = np.zeros((fine_rows.size, fine_cols.size), np.int64)
        return z + int(p.gross_x), z + int(p.gross_y)
    # not oversampled: tasks share no costly block, so the small reduced images are split
    # into BALANCE_TASKS tasks too; they are arrays in memory, so they stay on this machine:
    # on the local engine's threads (a run capped to one thread stays on one), else on the
    # local threads of a cluster's client
    local = engine if isinstance(engine, LocalEngine) else LocalEngine(correlation_threads())
    res = _track(ImageSpec(array=ref), ImageSpec(array=sec), ref.shape, False, cp, None,
                 mon.sub(0.8, 1.0), local, min_task_rows=1)
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

def _box_counts(mask: np.ndarray, tops: np.ndarray, lefts: np.ndarray, h: int, w: int
                ) -> np.ndarray:
    """Number of True samples of ``mask`` in the boxes ``[top, top + h) x [left, left + w)``
    (summed-area table); boxes reaching outside the mask's columns count as full."""
    inside = (lefts >= 0) & (lefts + w <= mask.shape[1])
    if not mask.any():
        return np.where(inside, 0, h * w)
    sat = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), np.int64)
    sat[1:, 1:] = np.cumsum(np.cumsum(mask, axis=0), axis=1)
    lc = np.clip(lefts, 0, mask.shape[1] - w)
    n = sat[tops + h, lc + w] - sat[tops, lc + w] - sat[tops + h, lc] + sat[tops, lc]
    return np.where(inside, n, h * w)


def _chips(values: np.ndarray, tops: np.ndarray, lefts: np.ndarray, h: int, w: int
           ) -> np.ndarray:
    """Chips (B, h, w) of a 2-D array at upper-left corners (tops, lefts), all inside."""
    s0, s1 = values.strides
    view = np.lib.stride_tricks.as_strided(
        values, (values.shape[0] - h + 1, values.shape[1] - w + 1, h, w), (s0, s1, s0, s1),
        writeable=False)
    return view[tops, lefts]


class _Correlator:
    """Correlates batches of windows (in the caller's thread) and writes the results into the
    output grid; the parallelism is the engine's, over tasks of window rows (:func:`_track`)."""

    FIELDS = ("dx", "dy", "peak", "snr", "sigma_x", "sigma_y")

    def __init__(self, p: TrackingParameters, is_complex: bool, gross_x: np.ndarray,
                 gross_y: np.ndarray):
        self.args = (p.search_x, p.search_y, int(p.oversample), p.correlation_oversample,
                     is_complex)
        self.correlate = fast_correlation.correlate_batch_fast if p.preset == "fast" else \
            correlate_batch
        self.gross_x, self.gross_y = gross_x, gross_y
        #: the :data:`FIELDS` stacked (one array to fill per batch), and by name (views)
        self.values = np.full((len(self.FIELDS),) + gross_x.shape, np.nan)
        self.out = dict(zip(self.FIELDS, self.values))
        self.centroids = np.zeros((4,) + gross_x.shape)
        #: windows correlated, and those whose peak lay on the border of the search range
        self.correlated = 0
        self.search_border = 0

    def submit(self, rows: np.ndarray, cols: np.ndarray, ref_chips: np.ndarray,
               sec_chips: np.ndarray):
        self._store(rows, cols, self.correlate(ref_chips, sec_chips, *self.args))

    def _store(self, ii: np.ndarray, jj: np.ndarray, res: Dict[str, np.ndarray]):
        good = ~res["edge"] & np.isfinite(res["dx"]) & np.isfinite(res["dy"])
        self.correlated += int(good.size)
        self.search_border += int(good.size - np.count_nonzero(good))
        sel = np.nonzero(good)[0]
        i, jj = ii[sel], jj[sel]
        values = np.stack([res[k][sel] for k in self.FIELDS])
        values[0] += self.gross_x[i, jj]
        values[1] += self.gross_y[i, jj]
        self.values[:, i, jj] = values
        self.centroids[:, i, jj] = res["centroids"][sel].T


def _joined(parts):
    """One batch from the (rows, cols, reference chips, search chips) of several rows."""
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate(items) for items in zip(*parts))


def _row_groups(rows_top: np.ndarray, n_cols: int, batch: int, window_y: int, span: int):
    """(first, stop) window-row ranges read together: single rows, or on narrow images as many
    consecutive rows as fill one batch whose reference rows fit in ``span`` image rows (fewer
    reads and array calls per window; the strips stay about the size of a batch's chips)."""
    first = 0
    for i in range(1, rows_top.size + 1):
        if i == rows_top.size or (i - first + 1) * n_cols > batch or \
                rows_top[i] + window_y - rows_top[first] > span:
            yield first, i
            first = i


def _window_batches(ref_img: OversampledRows, sec_img: OversampledRows, p: TrackingParameters,
                    rows_top: np.ndarray, cols_top: np.ndarray, gx: np.ndarray, gy: np.ndarray,
                    mon):
    """Yield (window rows, window columns, reference chips, search chips) in batches of
    ``p.batch`` windows (a batch may span rows of windows: small images and narrow rows
    still fill it), rows of windows in order (:func:`_row_groups`), skipping windows that
    touch nodata or leave the image; reports progress and releases the oversampled rows no
    longer needed."""
    o, wy, wx = int(p.oversample), p.window_y, p.window_x
    sh, sw = wy + 2 * p.search_y, wx + 2 * p.search_x
    n_r, n_c = rows_top.size, cols_top.size
    batch = max(1, int(p.batch))
    pending, count = [], 0
    for a, b in _row_groups(rows_top, n_c, batch, wy, ref_img.block_rows):
        r_lo = int(rows_top[a])
        ref_vals, ref_bad = ref_img.rows(r_lo, int(rows_top[b - 1]) + wy)
        s_lo = int((rows_top[a:b] + gy[a:b].min(axis=1)).min()) - p.search_y
        s_hi = int((rows_top[a:b] + gy[a:b].max(axis=1)).max()) - p.search_y + sh
        sec_vals, sec_bad = sec_img.rows(s_lo, s_hi)
        ii, jj = np.divmod(np.arange((b - a) * n_c), n_c)
        ii += a
        rtops = rows_top[ii] - r_lo                                   # rows in the strips
        stops = rows_top[ii] + gy[ii, jj] - p.search_y - s_lo
        lefts, slefts = cols_top[jj], cols_top[jj] + gx[ii, jj] - p.search_x
        bad = (_box_counts(ref_bad, rtops, lefts, wy, wx) > 0) | \
            (_box_counts(sec_bad, stops, slefts, sh, sw) > 0)
        good = np.nonzero(~bad)[0]
        start = 0
        while start < good.size:
            g = good[start:start + batch - count]
            start += g.size
            pending.append((ii[g], jj[g], _chips(ref_vals, o * rtops[g], o * lefts[g], o * wy, o * wx),
                            _chips(sec_vals, o * stops[g], o * slefts[g], o * sh, o * sw)))
            count += g.size
            if count == batch:
                yield _joined(pending)
                pending, count = [], 0
            mon.update((a + (b - a) * start / float(good.size)) / float(n_r))
        mon.update(b / float(n_r))
        if b < n_r:
            nxt = int(rows_top[b])
            ref_img.release_before(nxt)
            sec_img.release_before(nxt + int(gy[b:].min()) - p.search_y)
    if pending:
        yield _joined(pending)


#: Most image rows per offset-tracking task (core.execution): several oversampling blocks,
#: so that the blocks neighbouring tasks share (computed by both) stay a small part of the
#: work.
TASK_ROWS = 2048
#: Tasks a run is split into at least, for balance: 8 share evenly between 1, 2, 4 or 8
#: worker threads, so the last tasks finish together.
BALANCE_TASKS = 8
#: Fewest image rows per task when splitting for balance: two oversampling blocks, so that
#: the blocks computed twice at task borders stay a small part of the oversampling.
MIN_TASK_ROWS = 2 * BLOCK_ROWS


@dataclass(frozen=True)
class ImageSpec:
    """What a task opens: one band of a raster (``path``) or an in-memory ``array``."""

    path: Optional[str] = None
    band: int = 1
    array: Optional[np.ndarray] = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.path is not None:
            object.__setattr__(self, "path", portable_path(self.path))

    def open(self):
        return ArraySource(self.array) if self.array is not None else \
            RasterSource(self.path, self.band)


@dataclass(frozen=True)
class _TileTask:
    """A run of window rows of the fine pass, correlated in one engine worker."""

    reference: ImageSpec
    secondary: ImageSpec
    params: TrackingParameters = field(compare=False)
    is_complex: bool
    rows_top: np.ndarray = field(compare=False)   # the task's window rows (first image row)
    cols_top: np.ndarray = field(compare=False)
    gross_x: np.ndarray = field(compare=False)    # (task rows, columns) whole-pixel offsets
    gross_y: np.ndarray = field(compare=False)
    first: int = 0                                # index of the task's first window row


def _track_tile(task: _TileTask) -> Dict[str, object]:
    """Oversample the rows the task needs and correlate its windows (one thread)."""
    p = task.params
    _keep_temporaries_on_the_heap()
    ref_img = OversampledRows(task.reference.open(), int(p.oversample), task.is_complex)
    sec_img = OversampledRows(task.secondary.open(), int(p.oversample), task.is_complex)
    correlator = _Correlator(p, task.is_complex, task.gross_x, task.gross_y)
    with sfft.set_workers(1):
        for batch in _window_batches(ref_img, sec_img, p, task.rows_top, task.cols_top,
                                     task.gross_x, task.gross_y, ensure_monitor(None)):
            cancel_point()
            correlator.submit(*batch)
    return {"values": correlator.values, "centroids": correlator.centroids,
            "correlated": correlator.correlated, "search_border": correlator.search_border}


def task_ranges(n_rows: int, step: int, min_rows: int = MIN_TASK_ROWS) -> List[Tuple[int, int]]:
    """``(first, stop)`` window rows of the tasks of a tracking run: every row in exactly
    one task, in order, sizes differing by at most one row.  As many tasks as needed for
    at most :data:`TASK_ROWS` image rows each, at least :data:`BALANCE_TASKS` when the
    image has rows for tasks of ``min_rows`` image rows, and an even count.

    The split depends on the image only, never on the engine: the windows of a task are
    correlated in batches that follow on from one another across rows, so another split
    would give other batches and offsets different in the last bits; with the same split
    every engine (1 or more threads, a Dask cluster) gives the same offsets bit for bit."""
    n_rows, step = int(n_rows), max(1, int(step))
    if n_rows <= 0:
        return []
    most = n_rows // max(1, -(-int(min_rows) // step))             # tasks of min_rows
    count = max(-(-n_rows // max(1, TASK_ROWS // step)), min(BALANCE_TASKS, most))
    count = min(n_rows, count + count % 2) if count > 1 else count
    bounds = [i * n_rows // count for i in range(count + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _track(ref_spec: ImageSpec, sec_spec: ImageSpec, shape_hw, is_complex: bool,
           p: TrackingParameters, gross_xy, monitor, engine, min_task_rows: int = MIN_TASK_ROWS
           ) -> TrackingResult:
    height, width = shape_hw
    cols_top = window_tops(width, p.window_x, p.search_x, p.step_x)
    rows_top = window_tops(height, p.window_y, p.search_y, p.step_y)
    shape = (rows_top.size, cols_top.size)
    if gross_xy is None:
        gx = np.full(shape, int(p.gross_x), np.int64)
        gy = np.full(shape, int(p.gross_y), np.int64)
    else:
        gx, gy = gross_xy
    user_p = p
    # the fast preset correlates real images at their own sampling: chips f**2 times
    # smaller, batches f times larger (fewer array calls per window; larger batches measured
    # slower, their temporaries leaving the processor's caches)
    factor = fast_correlation.correlation_factor(p.preset, p.oversample, is_complex)
    batch = int(p.batch) * max(1, int(p.oversample) // factor)
    if p.preset == "fast":
        batch = fast_correlation.fast_batch(batch, cols_top.size)
    p = dataclasses.replace(p, oversample=factor, batch=batch)
    mon = ensure_monitor(monitor)
    tasks = (_TileTask(ref_spec, sec_spec, p, is_complex, rows_top[a:b], cols_top, gx[a:b],
                       gy[a:b], a)
             for a, b in task_ranges(shape[0], p.step_y, min_task_rows))
    merged = _Correlator(p, is_complex, gx, gy)
    # one BLAS thread per task whatever the engine (Dask workers do the same, core.execution),
    # so that the batched matrix products round alike and every engine gives the same offsets
    with single_threaded_blas():
        for task, tile in zip_tasks(engine, _track_tile, tasks, mon):
            rows = slice(task.first, task.first + task.rows_top.size)
            merged.values[:, rows] = tile["values"]
            merged.centroids[:, rows] = tile["centroids"]
            merged.correlated += tile["correlated"]
            merged.search_border += tile["search_border"]
            mon.update(rows.stop / shape[0])
    out = merged.out
    removed = {"nodata": int(np.prod(shape)) - merged.correlated,
               "search_border": merged.search_border}
    return TrackingResult(out["dx"], out["dy"], out["peak"], out["snr"], out["sigma_x"],
                          out["sigma_y"], cols_top + p.window_x / 2.0,
                          rows_top + p.window_y / 2.0, user_p, centroids=merged.centroids,
                          removed=removed)


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


def limited_gradient(values: np.ndarray, axis: int, spacing: float) -> np.ndarray:
    """Gradient of ``values`` along ``axis`` (per unit of ``spacing``) with the minmod limiter:
    the smaller of the backward and forward differences when they have the same sign, else
    0, and 0 where a neighbour is missing.  Smooth fields keep their slope; at a step (a
    fault) one side is flat, so the slope there is 0 instead of half the step."""
    d = np.diff(values, axis=axis) / float(spacing)
    # backward and forward differences at every sample, NaN where the neighbour is missing
    back = np.full(values.shape, np.nan)
    fwd = np.full(values.shape, np.nan)
    inner = [slice(None)] * values.ndim
    inner[axis] = slice(1, None)
    back[tuple(inner)] = d
    inner[axis] = slice(None, -1)
    fwd[tuple(inner)] = d
    sign = np.sign(back)
    # a NaN difference has a NaN sign, equal to nothing: the slope there is 0
    return np.where(sign == np.sign(fwd), sign * np.minimum(np.abs(back), np.abs(fwd)), 0.0)


def correct_strain(dx: np.ndarray, dy: np.ndarray, centroids: np.ndarray, step_x: float,
                   step_y: float) -> Tuple[np.ndarray, np.ndarray]:
    """Offsets moved from where each window measured them to its centre.

    Under an offset field that varies across a window, the correlation measures dx at the
    centroid ``(u, v)`` of the window's x-information and dy at that of its y-information
    (``centroids``, pixels from the centre; up to most of a pixel on speckle).  With the local
    gradient of the field from the neighbouring windows (:func:`limited_gradient`, per
    pixel), ``dx(centre) = dx - (ddx/dx u + ddx/dy v)`` (dy alike)."""
    both = np.stack([dx, dy])
    (gxx, gyx), (gxy, gyy) = limited_gradient(both, 2, step_x), limited_gradient(both, 1, step_y)
    return (dx - (gxx * centroids[0] + gxy * centroids[1]),
            dy - (gyx * centroids[2] + gyy * centroids[3]))


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
                  monitor=None, reference_band: int = 1, secondary_band: int = 1,
                  engine=None) -> TrackingResult:
    """Offsets (secondary minus reference, pixels) on the window grid.

    ``reference``/``secondary``: 2-D numpy arrays (complex = SLC, real = amplitude or
    intensity) or raster paths (``*_band`` 1-based).  Both must have the same size.
    Steps: optional coarse pass (``coarse_search``), fine pass, SNR mask
    (``snr_threshold``; 0 = off), correlation-peak mask (``peak_threshold``; 0 = off; the
    thresholds calibrated per image type: :func:`quality_thresholds`), outlier mask
    (``outlier_threshold`` pixels from the local 3 x 3 median; 0 = off), the move of each
    offset to its window centre under an offset gradient (``strain_correction``,
    :func:`correct_strain`), then ramp removal (``ramp``) fitted on the remaining windows.
    NaN marks windows without a measurement; ``removed`` counts them by cause
    (:func:`mask_report`).  The fine pass runs in tasks of window rows on ``engine``
    (core.execution; default: :data:`WORKERS` threads when set, else the environment's
    engine); in-memory arrays always stay on local threads."""
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
    specs = [ImageSpec(array=image) if isinstance(image, np.ndarray) else ImageSpec(image, band)
             for image, band in ((reference, reference_band), (secondary, secondary_band))]
    run = engine or engine_from_environment(threads=tracking_threads(ref.width, p))
    if isinstance(run, DaskEngine) and any(spec.array is not None for spec in specs):
        run = LocalEngine(tracking_threads(ref.width, p))   # arrays stay on this machine
    mon.info(f"work runs on: {run.describe()}")
    gross = None
    coarse = (0.0, 0.0)
    if p.coarse_search:
        with sfft.set_workers(WORKERS):
            gross = coarse_offsets(specs[0], specs[1], (ref.height, ref.width), p,
                                   mon.sub(0.0, 0.15), run)
        coarse = (float(np.median(gross[0])), float(np.median(gross[1])))
        mon.info(f"coarse pass: median gross offset x {coarse[0]:.0f} px, y {coarse[1]:.0f} px")
        fine = mon.sub(0.15, 1.0)
    else:
        fine = mon
    res = _track(specs[0], specs[1], (ref.height, ref.width), ref.is_complex or sec.is_complex,
                 p, gross, fine, run)
    fine.info(f"work done: {run.summary()}")
    res.coarse_offset = coarse
    valid = np.isfinite(res.dx)
    res.valid_before_filters = int(valid.sum())
    bad = ~valid
    for name, threshold, values in (("snr", p.snr_threshold, res.snr),
                                    ("peak", p.peak_threshold, res.peak)):
        res.removed[name] = 0
        if threshold > 0:
            mask = ~bad & ~(values >= threshold)
            res.removed[name] = int(mask.sum())
            bad |= mask
    res.removed["outliers"] = 0
    if p.outlier_threshold > 0:
        mask = ~bad & filter_outliers(np.where(bad, np.nan, res.dx),
                                      np.where(bad, np.nan, res.dy), p.outlier_threshold)
        res.removed["outliers"] = int(mask.sum())
        bad |= mask
    if bad.any():
        for k in ("dx", "dy", "peak", "snr", "sigma_x", "sigma_y"):
            getattr(res, k)[bad] = np.nan
    if p.strain_correction and res.centroids is not None:
        res.dx, res.dy = correct_strain(res.dx, res.dy, res.centroids, p.step_x, p.step_y)
    if p.ramp != "none":
        for name in ("dx", "dy"):
            v = getattr(res, name)
            ramp, coef = fit_ramp(v, res.centre_cols, res.centre_rows, p.ramp)
            setattr(res, name, v - ramp)
            res.ramp_coefficients[name] = coef
    return res


#: The masks of a tracking run in the order they apply: what each removes and how to keep
#: more windows (:func:`mask_report`).
MASKS = {
    "nodata": ("touch nodata (NaN or exact zeros) in the reference window or search area, or "
               "whose search area leaves the image",
               "use smaller windows or search distances, or fill the gaps"),
    "search_border": ("whose correlation peak lies on the border of the search range",
                      "increase SEARCH_X/SEARCH_Y, turn COARSE_SEARCH on or give GROSS_OFFSET_X/Y"),
    "snr": ("with SNR below SNR_THRESHOLD = {snr_threshold:g}",
            "lower SNR_THRESHOLD (0 = off), or set IMAGE_TYPE if the image type is wrong: the "
            "SNR of optical texture is low even for a clear peak"),
    "peak": ("with a correlation peak below PEAK_THRESHOLD = {peak_threshold:g}",
             "lower PEAK_THRESHOLD (0 = off) if the images changed between the dates"),
    "outliers": ("deviating from the median of their neighbours by more than "
                 "OUTLIER_THRESHOLD = {outlier_threshold:g} px",
                 "raise OUTLIER_THRESHOLD above the offset change between neighbouring windows"),
}


def mask_report(result: TrackingResult, fraction: float = 0.5) -> List[str]:
    """Lines for the log when the masks removed more than ``fraction`` of the windows: the
    total, then every mask that removed windows with its count and how to keep more
    (largest first).  Empty otherwise."""
    total = int(result.dx.size)
    counts = {k: int(result.removed.get(k, 0)) for k in MASKS}
    lost = sum(counts.values())
    if total == 0 or lost <= fraction * total:
        return []
    lines = [f"{lost} of {total} windows ({100.0 * lost / total:.0f} %) have no offset:"]
    for name in sorted((k for k in MASKS if counts[k]), key=lambda k: -counts[k]):
        what, fix = MASKS[name]
        lines.append(f"  {counts[name]} ({100.0 * counts[name] / total:.0f} %) "
                     f"{what.format(**vars(result.params))}: {fix}")
    return lines


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


def sigma_in_metres(result: TrackingResult, pixel_size_x: float, pixel_size_y: float
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """1-sigma of the offsets in metres: ``sigma_x * pixel_size_x``, ``sigma_y *
    pixel_size_y`` (the unit of :func:`offsets_in_metres`, e.g. for a decomposition's
    weights)."""
    return result.sigma_x * float(pixel_size_x), result.sigma_y * float(pixel_size_y)
