"""Raster input and output through GDAL, block by block, with NaN as nodata.

Reading
    :func:`raster_info` describes any GDAL source (GeoTIFF, VRT, ENVI, HDF5
    subdatasets, ...). :func:`read_block` reads a window of one band as
    ``float32`` (real data) or ``complex64`` (complex data) with the band's
    nodata value replaced by NaN, never by 0.

Writing
    :class:`RasterWriter` writes a tiled, DEFLATE-compressed GeoTIFF with NaN
    as nodata, the source's CRS and geotransform, band descriptions and
    metadata (units, quantity, convention, parameters).  It writes to a hidden
    temporary file next to the target and renames it only when everything was
    written, so a failed or cancelled run never leaves a file that looks
    complete.  It also keeps a bounded random sample of each band's values, so
    that a colour ramp can be chosen without reading the output again.

Memory
    :func:`block_rows` chooses how many rows to process at once for a memory
    budget; :func:`iter_blocks` walks a raster in such row blocks.
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()
osr.UseExceptions()

#: Default memory budget for one block of one band, in bytes.
DEFAULT_BLOCK_BYTES = 32 * 1024 * 1024

#: Number of values kept per band to estimate percentiles for styling.
STAT_SAMPLE_SIZE = 65536

#: Side of the square tiles of every GeoTIFF this toolkit writes (pixels).
TILE_SIZE = 256

#: GeoTIFF creation options of every output.  DEFLATE at level 1, not GDAL's default 6: on
#: a real displacement field (the Kilauea series, float32 with the floating-point predictor)
#: level 1 compresses 3.2 times faster for a file 1.7 % larger (1.5 times and 0.5 % on noise).
GTIFF_OPTIONS = (
    "TILED=YES",
    f"BLOCKXSIZE={TILE_SIZE}",
    f"BLOCKYSIZE={TILE_SIZE}",
    "COMPRESS=DEFLATE",
    "ZLEVEL=1",
    "BIGTIFF=IF_SAFER",
)

_COMPLEX_TYPES = {gdal.GDT_CInt16, gdal.GDT_CInt32, gdal.GDT_CFloat32, gdal.GDT_CFloat64}


#: Environment variable that overrides :data:`DEFAULT_MAX_RASTER_VALUES` (docs/safety.md).
MAX_VALUES_ENV = "DISPLACEMENT_TOOLKIT_MAX_PIXELS"

#: Largest raster (width x height x bands) an algorithm writes unless
#: ``DISPLACEMENT_TOOLKIT_MAX_PIXELS`` says otherwise: 4 x 10^9 values, 16 GB of float32.
DEFAULT_MAX_RASTER_VALUES = 4_000_000_000


class RasterError(ValueError):
    """A raster cannot be opened, read or written; the message says which and why.
    ``path`` is the file concerned, when known."""

    def __init__(self, message: str, path: Optional[str] = None):
        super().__init__(message)
        self.path = path


@dataclass
class RasterInfo:
    """What a raster is: size, grid, CRS, band types, nodata, metadata."""

    path: str
    width: int
    height: int
    band_count: int
    geotransform: Tuple[float, float, float, float, float, float]
    crs_wkt: str
    data_types: List[str]
    nodata: List[Optional[float]]
    descriptions: List[str]
    band_metadata: List[Dict[str, str]] = field(default_factory=list)
    metadata: Dict[str, str] = field(default_factory=dict)
    has_geotransform: bool = True

    @property
    def shape(self) -> Tuple[int, int]:
        """(rows, columns)."""
        return (self.height, self.width)

    def is_complex(self, band: int) -> bool:
        """True when ``band`` (1-based) holds complex samples (e.g. an SLC)."""
        return self.data_types[band - 1].startswith("C")

    def same_grid(self, other: "RasterInfo", tolerance: float = 1e-6) -> bool:
        """True when both rasters share size, geotransform (to ``tolerance``
        pixels) and CRS."""
        if (self.width, self.height) != (other.width, other.height):
            return False
        if not same_crs(self.crs_wkt, other.crs_wkt):
            return False
        a, b = self.geotransform, other.geotransform
        scale = max(abs(a[1]), abs(a[5]), 1e-300)
        return all(abs(x - y) <= tolerance * scale for x, y in zip(a, b))


def same_crs(wkt_a: str, wkt_b: str) -> bool:
    """True when two WKT strings name the same coordinate reference system
    (both empty counts as the same)."""
    if not wkt_a and not wkt_b:
        return True
    if not wkt_a or not wkt_b:
        return False
    a, b = osr.SpatialReference(), osr.SpatialReference()
    a.ImportFromWkt(wkt_a)
    b.ImportFromWkt(wkt_b)
    return bool(a.IsSame(b))


def open_raster(path: str, update: bool = False) -> gdal.Dataset:
    """Open ``path`` with GDAL or raise :class:`RasterError` naming the file."""
    if not path:
        raise RasterError("no raster path given")
    try:
        ds = gdal.Open(str(path), gdal.GA_Update if update else gdal.GA_ReadOnly)
    except RuntimeError as exc:
        raise RasterError(f"cannot open raster {path!r}: {exc}", str(path)) from exc
    if ds is None:
        raise RasterError(f"cannot open raster {path!r}", str(path))
    if ds.RasterCount == 0:
        sub = ds.GetSubDatasets()
        hint = f"; it has subdatasets, e.g. {sub[0][0]!r}" if sub else ""
        raise RasterError(f"{path!r} has no raster bands{hint}", str(path))
    return ds


def _read(b, ds: gdal.Dataset, band: int, *window, **kwargs):
    """``(array, None)`` from ``b.ReadAsArray(*window, **kwargs)``, or ``(None, RasterError)``
    naming the file when GDAL fails (a truncated or damaged file gives "IReadBlock
    failed").  The error is returned, not raised, so that the caller raises it outside
    any handler, after dropping its GDAL objects: a traceback kept in a reference cycle
    would otherwise leave them to the garbage collector, which crashes the bindings."""
    try:
        return b.ReadAsArray(*window, **kwargs), None
    except RuntimeError as exc:
        path = ds.GetDescription()
        return None, RasterError(f"cannot read band {band} of {path!r}: the file is damaged or "
                                 f"truncated ({str(exc).strip()})", path)


def raster_info(path: str) -> RasterInfo:
    """Describe the raster at ``path`` (see :class:`RasterInfo`)."""
    ds = open_raster(path)
    bands = [ds.GetRasterBand(i + 1) for i in range(ds.RasterCount)]
    gt = ds.GetGeoTransform(can_return_null=True)
    return RasterInfo(
        path=str(path),
        width=ds.RasterXSize,
        height=ds.RasterYSize,
        band_count=ds.RasterCount,
        geotransform=tuple(gt) if gt else (0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
        crs_wkt=ds.GetProjection() or "",
        data_types=[gdal.GetDataTypeName(b.DataType) for b in bands],
        nodata=[b.GetNoDataValue() for b in bands],
        descriptions=[b.GetDescription() for b in bands],
        band_metadata=[dict(b.GetMetadata() or {}) for b in bands],
        metadata=dict(ds.GetMetadata() or {}),
        has_geotransform=gt is not None,
    )


def check_band(info: RasterInfo, band: int) -> None:
    """Raise :class:`RasterError` unless ``band`` (1-based) exists in ``info``."""
    if not 1 <= int(band) <= info.band_count:
        raise RasterError(
            f"band {band} does not exist in {info.path!r}, which has "
            f"{info.band_count} band{'s' if info.band_count != 1 else ''}"
        )


def read_block(
    path_or_ds,
    band: int = 1,
    row: int = 0,
    col: int = 0,
    rows: Optional[int] = None,
    cols: Optional[int] = None,
    read_once: bool = False,
) -> np.ndarray:
    """Read a window of one band with nodata as NaN.

    Real bands come back as ``float32``; complex bands (CInt16, CFloat32, ...)
    as ``complex64`` with nodata samples set to ``nan+nanj``.  Integer data
    are converted after the nodata comparison, so a nodata of 0 in a
    ``UInt16`` band still becomes NaN.  ``rows``/``cols`` default to the rest
    of the raster.  ``read_once``: the band's blocks are dropped from GDAL's block cache
    after the read (readers going block after block through a raster that nothing reads
    again: the cache stays small and is not contended between threads).
    """
    ds = path_or_ds if isinstance(path_or_ds, gdal.Dataset) else open_raster(path_or_ds)
    if not 1 <= band <= ds.RasterCount:
        raise RasterError(f"band {band} does not exist (the raster has {ds.RasterCount})")
    b = ds.GetRasterBand(band)
    rows = ds.RasterYSize - row if rows is None else rows
    cols = ds.RasterXSize - col if cols is None else cols
    raw, error = _read(b, ds, band, col, row, cols, rows)
    if read_once:
        b.FlushCache()
    if error is not None:
        b = ds = path_or_ds = None   # no GDAL object in the traceback's frames
        raise error
    if raw is None:
        raise RasterError(f"failed to read band {band} window ({row}, {col}, {rows}, {cols}) of "
                          f"{ds.GetDescription()!r}", ds.GetDescription())
    nodata = b.GetNoDataValue()
    if b.DataType in _COMPLEX_TYPES:
        out = raw.astype(np.complex64, copy=False)
        if nodata is not None and not math.isnan(nodata):
            mask = raw.real == nodata
            if np.any(mask):
                out = out.copy() if out is raw else out
                out[mask] = np.complex64(complex(np.nan, np.nan))
        return out
    out = raw.astype(np.float32, copy=True)
    if nodata is not None and not math.isnan(nodata):
        out[raw == nodata] = np.nan
    return out


def read_decimated(path_or_ds, band: int = 1, size: int = 512) -> np.ndarray:
    """A whole band read at most ``size`` x ``size`` samples (GDAL nearest decimation), as
    float64 with nodata as NaN: a cheap look at a raster (statistics, units, diagnosis).
    The read is exact when the raster is no larger than ``size`` in both directions."""
    ds = path_or_ds if isinstance(path_or_ds, gdal.Dataset) else open_raster(path_or_ds)
    if not 1 <= band <= ds.RasterCount:
        raise RasterError(f"band {band} does not exist (the raster has {ds.RasterCount})")
    b = ds.GetRasterBand(band)
    bx, by = min(size, ds.RasterXSize), min(size, ds.RasterYSize)
    raw, error = _read(b, ds, band, 0, 0, ds.RasterXSize, ds.RasterYSize, buf_xsize=bx, buf_ysize=by)
    if error is not None:
        b = ds = path_or_ds = None   # no GDAL object in the traceback's frames
        raise error
    if np.iscomplexobj(raw):
        values = np.abs(raw).astype(np.float64)
    else:
        values = raw.astype(np.float64)
    nodata = b.GetNoDataValue()
    if nodata is not None and not math.isnan(nodata):
        values[(raw.real if np.iscomplexobj(raw) else raw) == nodata] = np.nan
    return values


def count_valid(path: str, size: int = 1024) -> Tuple[int, int, bool]:
    """(valid, examined, exact): finite values found in every band of ``path`` by
    :func:`read_decimated`; ``exact`` is False when only a decimated sample was read."""
    ds = open_raster(path)
    try:
        valid = examined = 0
        for band in range(1, ds.RasterCount + 1):
            values = read_decimated(ds, band, size)
            valid += int(np.count_nonzero(np.isfinite(values)))
            examined += values.size
        return valid, examined, ds.RasterXSize <= size and ds.RasterYSize <= size
    finally:
        ds = None   # not kept alive by a traceback (GDAL objects must not be freed by the GC)


def has_valid_value(path: str, budget: int = DEFAULT_BLOCK_BYTES) -> bool:
    """True when some band of ``path`` holds a finite value (not nodata): an exact scan,
    block by block, that stops at the first one (a decimated look can miss sparse data)."""
    ds = open_raster(path)
    try:
        rows = block_rows(ds.RasterXSize, 8, budget)
        for band in range(1, ds.RasterCount + 1):
            for row, n in iter_blocks(ds.RasterYSize, rows):
                block = read_block(ds, band, row, 0, n, ds.RasterXSize)
                if np.isfinite(block).any():
                    return True
        return False
    finally:
        ds = None   # not kept alive by a traceback (GDAL objects must not be freed by the GC)


def max_raster_values() -> int:
    """The largest raster (width x height x bands) an algorithm may write: the
    ``DISPLACEMENT_TOOLKIT_MAX_PIXELS`` environment variable, else
    :data:`DEFAULT_MAX_RASTER_VALUES`."""
    text = os.environ.get(MAX_VALUES_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_RASTER_VALUES
    try:
        value = int(float(text))
    except ValueError:
        raise RasterError(f"{MAX_VALUES_ENV}={text!r} is not a number: give the largest number of "
                          "pixels (width x height x bands) an output may have, e.g. 8e9") from None
    if value <= 0:
        raise RasterError(f"{MAX_VALUES_ENV}={text!r} must be positive")
    return value


def _existing_folder(path: str) -> str:
    folder = os.path.dirname(os.path.abspath(str(path)))
    while folder and not os.path.isdir(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder or "."


def check_raster_size(path: str, width: int, height: int, bands: int = 1,
                      bytes_per_value: int = 4) -> None:
    """Refuse (:class:`RasterError`) to plan a raster of ``width`` x ``height`` x ``bands``
    at ``path`` that exceeds :func:`max_raster_values` or the free disk space (counted
    uncompressed: a compressed GeoTIFF of noisy data is barely smaller)."""
    width, height, bands = int(width), int(height), int(bands)
    values = width * height * max(1, bands)
    limit = max_raster_values()
    size = f"{width} x {height} pixels x {bands} band(s) = {values:.3g} values"
    if values > limit:
        raise RasterError(
            f"the planned raster {os.path.basename(str(path))!r} is {size}, more than the limit of "
            f"{limit:.3g} (set the environment variable {MAX_VALUES_ENV} to raise it)", str(path))
    need = values * int(bytes_per_value)
    folder = _existing_folder(path)
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if need > free:
        raise RasterError(
            f"the planned raster {os.path.basename(str(path))!r} is {size}, up to {need / 1e9:.3g} GB, "
            f"but {folder!r} has only {free / 1e9:.3g} GB free", str(path))


_PARTIAL_SUFFIX = ".partial.tif"


def partial_path(path: str) -> str:
    """The hidden temporary file a writer fills before renaming it to ``path``:
    ``.<name>.<process id>.<random>.partial.tif`` in the same folder."""
    path = os.path.abspath(str(path))
    return os.path.join(os.path.dirname(path),
                        f".{os.path.basename(path)}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial.tif")


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True   # exists, owned by someone else
    return True


def remove_stale_partials(path: str) -> List[str]:
    """Delete the partial files of ``path`` left by a killed run (their writing process no
    longer exists); return their paths.  Partial files of running processes are kept."""
    path = os.path.abspath(str(path))
    folder, name = os.path.dirname(path), os.path.basename(path)
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    removed, prefix = [], f".{name}."
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(_PARTIAL_SUFFIX)):
            continue
        middle = entry[len(prefix):-len(_PARTIAL_SUFFIX)].split(".")
        if len(middle) not in (1, 2) or len(middle[-1]) != 8:
            continue   # another file's partial (a name that extends this one)
        if len(middle) == 2 and middle[0].isdigit() and _process_alive(int(middle[0])):
            continue
        remove_raster(os.path.join(folder, entry))
        removed.append(os.path.join(folder, entry))
    return removed


def block_rows(width: int, bytes_per_pixel: int = 8, budget: int = DEFAULT_BLOCK_BYTES) -> int:
    """Rows per block so that one block of ``width`` columns fits ``budget`` bytes (at least 1)."""
    return max(1, int(budget // max(1, width * bytes_per_pixel)))


def iter_blocks(height: int, rows_per_block: int) -> Iterator[Tuple[int, int]]:
    """Yield ``(first_row, n_rows)`` covering ``height`` rows in blocks."""
    for start in range(0, height, rows_per_block):
        yield start, min(rows_per_block, height - start)


def compression_threads_option(threads: Optional[int] = None) -> List[str]:
    """GeoTIFF creation option compressing tiles on ``threads`` threads (default: the local
    engine's, ``DISPLACEMENT_TOOLKIT_THREADS`` or every core).  The tiles are compressed when
    GDAL flushes them, in parallel with the caller; with one thread, nothing is added."""
    from .execution import local_worker_count

    count = local_worker_count() if threads is None else int(threads)
    return [f"NUM_THREADS={count}"] if count > 1 else []


class RasterWriter:
    """Write a float32 GeoTIFF block by block; commit atomically on success.

    Use as a context manager::

        with RasterWriter(out, width, height, gt, wkt, bands=1,
                          descriptions=["LOS displacement"],
                          band_metadata=[{"units": "m", "quantity": "los_displacement"}]) as w:
            for r0, n in iter_blocks(height, 512):
                w.write(1, r0, block)

    Leaving the ``with`` block because of an exception (including
    :class:`~.progress.OperationCancelled`) deletes the temporary file and
    leaves no output.  ``stats(band)`` gives min, max and percentiles of the
    values written (from a bounded random sample).  The tiles are compressed on the local
    engine's threads (:func:`compression_threads_option`), or already in the tasks that
    computed them: a float32 output whose first write is a :class:`~.tiles.EncodedTiles`
    only has compressed tiles appended (core.tiles), and every later block must then come
    compressed or cover whole rows of tiles.
    """

    def __init__(
        self,
        path: str,
        width: int,
        height: int,
        geotransform: Sequence[float],
        crs_wkt: str,
        bands: int = 1,
        descriptions: Optional[Sequence[str]] = None,
        band_metadata: Optional[Sequence[Dict[str, str]]] = None,
        metadata: Optional[Dict[str, str]] = None,
        data_type: int = gdal.GDT_Float32,
    ):
        if width <= 0 or height <= 0:
            raise RasterError(f"cannot write an empty raster ({width} x {height}) to {path!r}")
        self.path = os.path.abspath(str(path))
        value_bytes = gdal.GetDataTypeSize(data_type) // 8
        check_raster_size(self.path, width, height, bands, value_bytes)
        folder = os.path.dirname(self.path)
        os.makedirs(folder, exist_ok=True)
        remove_stale_partials(self.path)
        self._tmp = partial_path(self.path)
        self.width, self.height, self.bands = int(width), int(height), int(bands)
        self._is_float = data_type in (
            gdal.GDT_Float32, gdal.GDT_Float64, gdal.GDT_CFloat32, gdal.GDT_CFloat64)
        self._layout = (tuple(float(v) for v in geotransform), crs_wkt, descriptions,
                        band_metadata, metadata)
        self._data_type = data_type
        self._ds = self._create(sparse=False)
        self._tile_file = None   # the compressed tiles' file, once the first ones came
        self._samples: List[List[np.ndarray]] = [[] for _ in range(bands)]
        self._valid: List[int] = [0] * bands
        # exact running min, max, sum and sum of squares of the finite values (float64)
        self._moments = np.tile([np.inf, -np.inf, 0.0, 0.0], (bands, 1))
        self._written: List[int] = [0] * bands
        self._closed = False

    def _create(self, sparse: bool) -> gdal.Dataset:
        """Create the temporary file with its grid, nodata, descriptions and metadata.
        ``sparse``: no tile is written at closing (the tasks' compressed tiles follow)."""
        geotransform, crs_wkt, descriptions, band_metadata, metadata = self._layout
        options = list(GTIFF_OPTIONS)
        if self.bands > 1:
            # bands are written (and usually read) one at a time: with the default pixel
            # interleave every band access would decompress the tiles of all bands
            options.append("INTERLEAVE=BAND")
        if self._data_type in (gdal.GDT_Float32, gdal.GDT_Float64):
            options.append("PREDICTOR=3")
        if sparse:
            options.append("SPARSE_OK=TRUE")
        options += compression_threads_option()
        ds = gdal.GetDriverByName("GTiff").Create(self._tmp, self.width, self.height,
                                                  self.bands, self._data_type, options)
        if ds is None:
            raise RasterError(f"cannot create {self.path!r}")
        ds.SetGeoTransform(geotransform)
        if crs_wkt:
            ds.SetProjection(crs_wkt)
        if metadata:
            ds.SetMetadata({str(k): str(v) for k, v in metadata.items()})
        for i in range(self.bands):
            b = ds.GetRasterBand(i + 1)
            if self._is_float:
                b.SetNoDataValue(float("nan"))
            meta = band_metadata[i] if band_metadata and i < len(band_metadata) else None
            text = descriptions[i] if descriptions and i < len(descriptions) else ""
            text = band_description(text, meta or {})
            if text:
                b.SetDescription(text)
            if meta:
                b.SetMetadata({str(k): str(v) for k, v in meta.items()})
                units = meta.get("units")
                if units:
                    b.SetUnitType(str(units))
        return ds

    def write(self, band: int, row: int, block, col: int = 0) -> None:
        """Write ``block`` (2-D, or the :class:`~.tiles.EncodedTiles` of a task) into ``band``
        (1-based) at (``row``, ``col``)."""
        from .tiles import EncodedTiles, encode_tiles, summarize

        if isinstance(block, EncodedTiles):
            self._add_tiles(band, block)
            return
        block = np.asarray(block)
        if block.ndim != 2:
            raise RasterError("blocks must be 2-D arrays")
        if self._tile_file is not None:
            self._add_tiles(band, encode_tiles(block, row, self.width, self.height, col))
            return
        target = self._ds.GetRasterBand(band)
        target.WriteArray(block, col, row)
        end = row + block.shape[0]
        if col == 0 and block.shape[1] == self.width and (end % TILE_SIZE == 0 or end == self.height):
            # a row of tiles is complete: compress it now, on the compression threads while
            # the engine computes the next blocks, instead of holding it in GDAL's cache
            target.FlushCache()
        quota = max(1, STAT_SAMPLE_SIZE * block.size // max(1, self.width * self.height))
        self._add_summary(band, block.size, summarize(block, quota, (row, col)))

    def _add_tiles(self, band: int, encoded) -> None:
        from .tiles import TileFile

        if self._tile_file is None:
            if self._data_type != gdal.GDT_Float32 or any(self._written):
                raise RasterError(f"{self.path!r}: compressed tiles can only start a float32 "
                                  "output")
            # again, without GDAL's empty tiles: only the header and an empty tile index
            self._ds = None
            remove_raster(self._tmp)
            self._ds = self._create(sparse=True)
            self._ds = None
            self._tile_file = TileFile(self._tmp, self.width, self.height, self.bands)
        if encoded.col + encoded.width > self.width:
            raise RasterError(f"{self.path!r}: tiles of columns {encoded.col}.."
                              f"{encoded.col + encoded.width}, beyond its {self.width}")
        self._tile_file.add(band, encoded)
        self._add_summary(band, encoded.rows * encoded.width, encoded.summary)

    def _add_summary(self, band: int, size: int, summary) -> None:
        """Count a block of ``size`` values with its :class:`~.tiles.BlockSummary`."""
        self._written[band - 1] += size
        self._valid[band - 1] += summary.valid
        if summary.valid:
            m = self._moments[band - 1]
            m[:] = (min(m[0], summary.minimum), max(m[1], summary.maximum),
                    m[2] + summary.total, m[3] + summary.squares)
            self._samples[band - 1].append(summary.sample)

    def valid_count(self, band: int) -> int:
        """How many finite values were written to ``band`` so far."""
        return self._valid[band - 1]

    def exact_stats(self, band: int) -> Dict[str, float]:
        """The valid count and the exact min, max, mean and std of the values written to
        ``band`` (what the file's statistics hold)."""
        n = self._valid[band - 1]
        if not n:
            return {"valid": 0}
        vmin, vmax, total, squares = self._moments[band - 1]
        mean = total / n
        return {"valid": n, "min": float(vmin), "max": float(vmax), "mean": float(mean),
                "std": float(np.sqrt(max(squares / n - mean * mean, 0.0)))}

    def stats(self, band: int) -> Dict[str, float]:
        """:meth:`exact_stats` and p2, p98, abs_p98 (from a sample) of the values written to
        ``band``."""
        stats = self.exact_stats(band)
        if not stats["valid"]:
            return stats
        values = np.concatenate(self._samples[band - 1])
        p2, p98 = np.percentile(values, [2, 98])
        return dict(stats, p2=float(p2), p98=float(p98),
                    abs_p98=float(np.percentile(np.abs(values), 98)))

    def commit(self) -> str:
        """Flush, close and move the finished file to its final path."""
        if self._closed:
            return self.path
        if self._tile_file is not None:
            missing = self._tile_file.missing()
            if missing:
                self.abort()
                raise RasterError(f"{self.path!r}: {missing} tiles were never written")
            self._tile_file.close()
            self._tile_file = None
            self._ds = gdal.Open(self._tmp, gdal.GA_Update)   # for the statistics
        for i in range(self.bands):
            st = self.exact_stats(i + 1)
            if st.get("valid"):
                self._ds.GetRasterBand(i + 1).SetStatistics(
                    st["min"], st["max"], st["mean"], st["std"])
        self._ds.FlushCache()
        self._ds = None
        self._closed = True
        if os.path.exists(self.path):
            remove_raster(self.path)
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file; nothing is left behind."""
        if self._closed:
            return
        if self._tile_file is not None:
            self._tile_file.close(commit=False)
            self._tile_file = None
        self._ds = None
        self._closed = True
        remove_raster(self._tmp)

    def __enter__(self) -> "RasterWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False


#: Quantity names as people read them (band metadata ``quantity`` -> description).
_QUANTITY_WORDS = {"los": "LOS", "gnss": "GNSS", "insar": "InSAR", "snr": "SNR", "x": "x",
                   "y": "y", "up": "up", "ew": "east-west", "ns": "north-south"}


def quantity_label(quantity: str) -> str:
    """``"los_displacement"`` -> ``"LOS displacement"``."""
    words = [_QUANTITY_WORDS.get(w.lower(), w) for w in str(quantity or "").split("_") if w]
    text = " ".join(words)
    return text[:1].upper() + text[1:] if text and text[:1].islower() else text


def band_description(description: str, band_metadata: Dict[str, str]) -> str:
    """The description every band is written with: its own (or, when empty, the quantity of
    its metadata, "LOS displacement") followed by its unit, "Vertical displacement (mm)",
    "Offset x (px)", "2016-07-23 (m)", so the QGIS Layers panel and identify tool show the
    unit next to the numbers."""
    from .units import with_unit

    text = str(description or "") or quantity_label(band_metadata.get("quantity", ""))
    return with_unit(text, str(band_metadata.get("units", "") or ""))


def display_band(info: RasterInfo) -> int:
    """The band a raster is styled and shown on: the last date of a time series (several
    bands, every one dated; band 1 of a re-referenced or cumulative series is the reference
    date, zero everywhere), else band 1."""
    from .dates import band_dates

    if info.band_count > 1:
        days = band_dates(info.band_metadata, info.descriptions, info.path)
        if len(days) == info.band_count and all(days):
            return info.band_count
    return 1


def layer_title(info: RasterInfo) -> str:
    """A layer name that says what a raster is, from its metadata: the quantity, the date
    (or date span) and, for a re-referenced raster, where: ``"LOS displacement 2016-07-23,
    re-referenced at 155.31 W 19.29 N"``."""
    from .dates import band_dates
    from .units import is_velocity_unit, split_unit_suffix

    meta = info.band_metadata[-1] if info.band_metadata else {}
    days = sorted(d for d in band_dates(info.band_metadata, info.descriptions, info.path) if d)
    name = quantity_label(meta.get("quantity", ""))
    if not name and info.descriptions:
        name = split_unit_suffix(info.descriptions[-1])[0]
        if days and name in {d.isoformat() for d in days}:   # a bare date says no quantity
            name = ""
    if not name and meta.get("units"):
        try:
            name = "Velocity" if is_velocity_unit(meta["units"]) else "Displacement"
        except ValueError:
            name = ""
    name = name or os.path.splitext(os.path.basename(info.path))[0]
    if days and days[0].isoformat() not in name:
        name += f" {days[0].isoformat()}" + (f" to {days[-1].isoformat()}" if days[-1] != days[0]
                                             else "")
    point = str(info.metadata.get("reference_point", "")).split()
    kind = info.metadata.get("reference_kind", "point")
    if len(point) == 2 and kind in ("point", "gnss"):
        try:
            lon, lat = transform_xy(float(point[0]), float(point[1]), info.crs_wkt, wgs84_wkt())
            where = (f"{abs(float(lon)):.2f} {'W' if lon < 0 else 'E'} "
                     f"{abs(float(lat)):.2f} {'S' if lat < 0 else 'N'}")
        except (ValueError, RuntimeError):
            where = f"{point[0]} {point[1]}"
        label = str(info.metadata.get("reference_station", "")).strip()
        name += f", re-referenced at {label + ' ' if label else ''}{where}"
    elif info.metadata.get("reference_kind") or info.metadata.get("reference"):
        name += ", re-referenced"
    return name


def remove_raster(path: str) -> None:
    """Delete a raster and its GDAL side-car files (``.aux.xml``, ``.ovr``, ``.qml``) if present."""
    for candidate in (path, path + ".aux.xml", path + ".ovr", os.path.splitext(path)[0] + ".qml"):
        try:
            os.remove(candidate)
        except FileNotFoundError:
            pass


def write_array(
    path: str,
    array: np.ndarray,
    geotransform: Sequence[float],
    crs_wkt: str,
    descriptions: Optional[Sequence[str]] = None,
    band_metadata: Optional[Sequence[Dict[str, str]]] = None,
    metadata: Optional[Dict[str, str]] = None,
) -> str:
    """Write a whole 2-D (one band) or 3-D (bands, rows, cols) array; small rasters and tests."""
    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    data_type = gdal.GDT_Float32
    if np.iscomplexobj(arr):
        data_type = gdal.GDT_CFloat32
    with RasterWriter(
        path, arr.shape[2], arr.shape[1], geotransform, crs_wkt, arr.shape[0],
        descriptions, band_metadata, metadata, data_type=data_type,
    ) as w:
        for i in range(arr.shape[0]):
            w.write(i + 1, 0, arr[i])
    return path


def crs_from_epsg(code: int) -> str:
    """WKT of an EPSG code."""
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(int(code))
    return srs.ExportToWkt()


_WGS84_WKT: Optional[str] = None


def wgs84_wkt() -> str:
    """WKT of EPSG:4326 (geographic WGS 84, longitude/latitude in degrees)."""
    global _WGS84_WKT
    if _WGS84_WKT is None:
        _WGS84_WKT = crs_from_epsg(4326)
    return _WGS84_WKT


def transform_xy(x, y, from_wkt: str, to_wkt: str) -> Tuple[np.ndarray, np.ndarray]:
    """Map coordinates from CRS ``from_wkt`` to ``to_wkt`` (arrays or scalars; x = easting or
    longitude on both sides: traditional GIS axis order, never (lat, lon)).  An empty WKT on
    either side, or the same CRS, returns the coordinates unchanged.  float64 arrays of the
    input shape."""
    x = np.array(x, dtype=np.float64)
    y = np.array(y, dtype=np.float64)
    if not from_wkt or not to_wkt:
        return x, y
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromWkt(from_wkt)
    dst.ImportFromWkt(to_wkt)
    if src.IsSame(dst):
        return x, y
    for srs in (src, dst):
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    pts = osr.CoordinateTransformation(src, dst).TransformPoints(
        np.column_stack([x.ravel(), y.ravel()]).tolist())
    arr = np.array(pts, dtype=np.float64).reshape(-1, 3)
    return arr[:, 0].reshape(x.shape), arr[:, 1].reshape(y.shape)


def transform_geometry(geom, from_wkt: str, to_wkt: str):
    """Transform an OGR geometry in place from CRS ``from_wkt`` to ``to_wkt`` (traditional GIS
    axis order on both sides); nothing happens when either is empty or they are the same.
    Returns the geometry."""
    if not from_wkt or not to_wkt:
        return geom
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromWkt(from_wkt)
    dst.ImportFromWkt(to_wkt)
    if not src.IsSame(dst):
        for srs in (src, dst):
            srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        geom.Transform(osr.CoordinateTransformation(src, dst))
    return geom


def pixel_size_metres(info: RasterInfo) -> Tuple[float, float]:
    """Approximate ground size of one pixel (x, y) in metres.

    Projected CRS: the geotransform steps times the CRS linear unit.
    Geographic CRS: degrees converted on the WGS84 sphere-equivalent radius
    (6 371 008.8 m) at the raster's centre latitude.  No CRS: the raw steps.
    """
    gt = info.geotransform
    dx, dy = math.hypot(gt[1], gt[2]), math.hypot(gt[4], gt[5])
    if not info.crs_wkt:
        return dx, dy
    srs = osr.SpatialReference()
    srs.ImportFromWkt(info.crs_wkt)
    if srs.IsGeographic():
        radius = 6371008.8
        lat = gt[3] + gt[5] * info.height / 2.0
        k = math.pi / 180.0 * radius
        return dx * k * math.cos(math.radians(lat)), dy * k
    unit = srs.GetLinearUnits() or 1.0
    return dx * unit, dy * unit


def pixel_to_map(geotransform: Sequence[float], col, row):
    """Map coordinates of fractional pixel position (``col``, ``row``); (0, 0) is the
    upper-left corner of the first pixel, (0.5, 0.5) its centre."""
    gt = geotransform
    return gt[0] + col * gt[1] + row * gt[2], gt[3] + col * gt[4] + row * gt[5]


def map_to_pixel(geotransform: Sequence[float], x, y):
    """Fractional (col, row) of map coordinates (inverse of :func:`pixel_to_map`)."""
    gt = geotransform
    det = gt[1] * gt[5] - gt[2] * gt[4]
    if det == 0:
        raise RasterError("the geotransform is singular")
    dx, dy = np.asarray(x) - gt[0], np.asarray(y) - gt[3]
    col = (gt[5] * dx - gt[2] * dy) / det
    row = (-gt[4] * dx + gt[1] * dy) / det
    return col, row
