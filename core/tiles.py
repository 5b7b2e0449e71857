"""Output tiles compressed where they are computed, and their statistics summed there too.

A block-wise algorithm's caller writes every output (core.execution).  Compressing the tiles
and summing the statistics of every block were the caller's serial part (``rereference`` of
the scaling benchmark spent 4.3 s of its 6.8 s in them on one thread, and two threads waited
for it).  Here a task packs each result it returns:

* :meth:`TileLayout.pack` compresses a block of whole tiles with GDAL itself (an
  in-memory GeoTIFF with the outputs' creation options, so the bytes are those GDAL would
  have written) and summarises its values (:func:`summarize`); the task returns an
  :class:`EncodedTiles`, compressed bytes instead of four bytes per value over a cluster's
  network;
* :class:`TileFile` then only appends those bytes to the output and, at the end, points the
  TIFF's tile index (TileOffsets, TileByteCounts; TIFF 6.0 section 15, BigTIFF) at them.

Blocks that do not start on a row of tiles and cover whole ones are returned as they are,
and the caller's :class:`~.raster_io.RasterWriter` compresses them as before.
"""

from __future__ import annotations

import io
import itertools
import os
import struct
import threading
from dataclasses import dataclass, field
from typing import BinaryIO, Dict, List, Tuple, Union

import numpy as np
from osgeo import gdal

from .raster_io import GTIFF_OPTIONS, STAT_SAMPLE_SIZE, TILE_SIZE, RasterError

#: TIFF tags of the tile index.
TILE_OFFSETS, TILE_BYTE_COUNTS = 324, 325
#: TIFF field types of the tile index: SHORT, LONG, LONG8 (BigTIFF).
_FIELD_CODES = {3: "H", 4: "I", 16: "Q"}


@dataclass
class BlockSummary:
    """What the statistics of a raster need from one block: the count, extremes, sum and
    sum of squares (float64) of its finite values, and a random sample of them for the
    percentiles."""

    valid: int = 0
    minimum: float = np.inf
    maximum: float = -np.inf
    total: float = 0.0
    squares: float = 0.0
    sample: np.ndarray = field(default_factory=lambda: np.empty(0))


def summarize(block: np.ndarray, quota: int, seed: Tuple[int, int]) -> BlockSummary:
    """Summary of ``block`` (moduli of complex values), with a sample of ``quota`` of its
    finite values (drawn with replacement, with ``seed``: the block's first row and column,
    so the same block gives the same sample whichever thread, process or machine summarises
    it), or all of them when it has no more.  Counting finite values, not positions, keeps a
    sparse raster's sample as large as its valid values allow."""
    block = np.asarray(block)
    if np.iscomplexobj(block):
        block = np.abs(block)
    values = block.ravel()
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if not finite.size:
        return BlockSummary()
    as64 = finite.astype(np.float64)
    sample = finite
    if finite.size > quota:
        sample = finite[np.sort(np.random.default_rng(seed).integers(0, finite.size,
                                                                     max(1, int(quota))))]
    return BlockSummary(int(as64.size), float(as64.min()), float(as64.max()), float(as64.sum()),
                        float(np.dot(as64, as64)), sample.astype(np.float64))


@dataclass
class EncodedTiles:
    """Rows ``row`` .. ``row + rows`` and columns ``col`` .. ``col + width`` of a float32
    output band, as the compressed tiles they cover, with the :class:`BlockSummary` of their
    values.  The tiles are ``data[offset:offset + size]`` for the ``(offset, size)`` of
    ``spans`` (row-major): ``data`` is the whole in-memory GeoTIFF, not copied tile by
    tile."""

    row: int
    rows: int
    width: int
    data: bytes
    spans: List[Tuple[int, int]]
    summary: BlockSummary
    col: int = 0


@dataclass(frozen=True)
class TileLayout:
    """The tiles of a ``width`` x ``height`` float32 output written by row blocks of
    ``step`` rows.  When the blocks start on rows of tiles and cover whole ones (``step`` a
    multiple of the tile size, or one block), :meth:`pack` compresses each block in the task
    that computed it; otherwise it returns the block, and the caller's writer compresses.
    The default step suits the blocks of :func:`.execution.task_windows`, whole tiles."""

    width: int
    height: int
    step: int = TILE_SIZE

    @property
    def aligned(self) -> bool:
        return self.step % TILE_SIZE == 0 or self.step >= self.height

    def pack(self, block: np.ndarray, row: int, col: int = 0) -> Union[np.ndarray, EncodedTiles]:
        """``block`` (from ``row``, ``col``) as the writer takes it: compressed when
        aligned."""
        if not self.aligned:
            return block
        return encode_tiles(block, row, self.width, self.height, col)


_vsimem_names = itertools.count()


def encode_tiles(block: np.ndarray, row: int, width: int, height: int,
                col: int = 0) -> EncodedTiles:
    """Compress ``block`` (from ``row``, ``col`` of a ``width`` x ``height`` float32 output:
    starting on a tile and ending on one or at the raster's edge) into the tiles GDAL writes
    for an output of this toolkit."""
    block = np.asarray(block)
    if block.ndim != 2:
        raise RasterError("blocks must be 2-D arrays")
    rows, cols = block.shape
    if row % TILE_SIZE or col % TILE_SIZE or col + cols > width \
            or (rows % TILE_SIZE and row + rows != height) \
            or (cols % TILE_SIZE and col + cols != width):
        raise RasterError(f"rows {row}..{row + rows}, columns {col}..{col + cols} of a "
                          f"{width} x {height} raster do not cover whole rows of tiles")
    path = f"/vsimem/displacement_toolkit_tiles_{os.getpid()}_{threading.get_ident()}_" \
           f"{next(_vsimem_names)}.tif"
    dataset = gdal.GetDriverByName("GTiff").Create(
        path, cols, rows, 1, gdal.GDT_Float32, list(GTIFF_OPTIONS) + ["PREDICTOR=3"])
    try:
        dataset.GetRasterBand(1).WriteArray(block.astype(np.float32, copy=False))
        dataset = None   # compresses every tile
        handle = gdal.VSIFOpenL(path, "rb")
        try:
            gdal.VSIFSeekL(handle, 0, 2)
            size = gdal.VSIFTellL(handle)
            gdal.VSIFSeekL(handle, 0, 0)
            data = gdal.VSIFReadL(1, size, handle)
        finally:
            gdal.VSIFCloseL(handle)
    finally:
        dataset = None
        gdal.Unlink(path)
    offsets, sizes = read_tile_index(io.BytesIO(data))
    if not all(sizes):
        raise RasterError(f"GDAL left a tile of rows {row}..{row + rows} unwritten")
    quota = max(1, STAT_SAMPLE_SIZE * block.size // max(1, width * height))
    return EncodedTiles(row, rows, cols, data, list(zip(offsets.tolist(), sizes.tolist())),
                       summarize(block, quota, (row, col)), col)


@dataclass
class _Directory:
    """Where the tile index of a TIFF's first image directory is: byte order, BigTIFF or
    not, and for each tag the position of its directory entry, its type and count, and the
    raw bytes of its value field."""

    order: str
    big: bool
    entries: Dict[int, Tuple[int, int, int, bytes]]

    @property
    def field_bytes(self) -> int:
        return 8 if self.big else 4


def _directory(f: BinaryIO) -> _Directory:
    f.seek(0)
    head = f.read(16)
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None:
        raise ValueError("not a TIFF file")
    magic = struct.unpack(order + "H", head[2:4])[0]
    if magic not in (42, 43):
        raise ValueError("not a TIFF file")
    big = magic == 43
    first = struct.unpack(order + ("Q" if big else "I"), head[8:16] if big else head[4:8])[0]
    count_format, entry_size = ("Q", 20) if big else ("H", 12)
    f.seek(first)
    count = struct.unpack(order + count_format, f.read(struct.calcsize(count_format)))[0]
    table = f.read(count * entry_size)
    start = first + struct.calcsize(count_format)
    entries = {}
    for i in range(count):
        raw = table[i * entry_size:(i + 1) * entry_size]
        tag, kind = struct.unpack(order + "HH", raw[:4])
        if tag in (TILE_OFFSETS, TILE_BYTE_COUNTS):
            number = struct.unpack(order + ("Q" if big else "I"), raw[4:12 if big else 8])[0]
            entries[tag] = (start + i * entry_size, kind, number, raw[12:] if big else raw[8:])
    if set(entries) != {TILE_OFFSETS, TILE_BYTE_COUNTS}:
        raise ValueError("the TIFF file is not tiled")
    return _Directory(order, big, entries)


def _values(f: BinaryIO, directory: _Directory, tag: int) -> np.ndarray:
    _, kind, count, value = directory.entries[tag]
    code = _FIELD_CODES.get(kind)
    if code is None:
        raise ValueError(f"TIFF tag {tag} has field type {kind}, not an integer")
    dtype = np.dtype(directory.order + code)
    if count * dtype.itemsize <= directory.field_bytes:
        raw = value[:count * dtype.itemsize]
    else:
        f.seek(struct.unpack(directory.order + ("Q" if directory.big else "I"), value)[0])
        raw = f.read(count * dtype.itemsize)
    return np.frombuffer(raw, dtype=dtype).astype(np.uint64)


def read_tile_index(f: BinaryIO) -> Tuple[np.ndarray, np.ndarray]:
    """The tile offsets and byte counts of a tiled TIFF's first image (opened binary)."""
    directory = _directory(f)
    return _values(f, directory, TILE_OFFSETS), _values(f, directory, TILE_BYTE_COUNTS)


def write_tile_index(f: BinaryIO, offsets: np.ndarray, sizes: np.ndarray) -> None:
    """Point the tile index of a tiled TIFF's first image (opened ``r+b``) at ``offsets`` /
    ``sizes``: the arrays are appended at the end of the file (LONG8 in a BigTIFF, LONG
    otherwise) and the two directory entries rewritten in place."""
    directory = _directory(f)
    code, kind = ("Q", 16) if directory.big else ("I", 4)
    for tag, values in ((TILE_OFFSETS, offsets), (TILE_BYTE_COUNTS, sizes)):
        position, _, count, _ = directory.entries[tag]
        values = np.asarray(values, dtype=np.uint64)
        if values.size != count:
            raise ValueError(f"the TIFF file has {count} tiles, not {values.size}")
        if not directory.big and values.size and int(values.max()) >= 2 ** 32:
            raise ValueError("a classic TIFF file cannot hold data past 4 GiB")
        payload = values.astype(directory.order + code).tobytes()
        if len(payload) <= directory.field_bytes:
            value = payload.ljust(directory.field_bytes, b"\0")
        else:
            f.seek(0, 2)
            end = f.tell()
            if end % 2:   # TIFF values start on a word boundary
                f.write(b"\0")
                end += 1
            f.write(payload)
            value = struct.pack(directory.order + code, end)
        f.seek(position + 2)
        f.write(struct.pack(directory.order + "H", kind))
        f.seek(position + 4 + directory.field_bytes)
        f.write(value)


class TileFile:
    """Compressed tiles appended to a tiled TIFF that GDAL created with no tile written
    (``SPARSE_OK=TRUE``, closed); :meth:`close` writes the tile index.  One image of
    ``bands`` bands of ``width`` x ``height``, band-interleaved (one tile index per band,
    band after band)."""

    def __init__(self, path: str, width: int, height: int, bands: int):
        self.across = -(-int(width) // TILE_SIZE)
        self.per_band = self.across * -(-int(height) // TILE_SIZE)
        self.offsets = np.zeros(self.per_band * int(bands), dtype=np.uint64)
        self.sizes = np.zeros_like(self.offsets)
        self._file = open(path, "r+b")
        self._end = self._file.seek(0, 2)

    def add(self, band: int, encoded: EncodedTiles) -> None:
        """Append the tiles of ``encoded`` to ``band`` (1-based)."""
        down, across = -(-encoded.rows // TILE_SIZE), -(-encoded.width // TILE_SIZE)
        first_col = encoded.col // TILE_SIZE
        if encoded.row % TILE_SIZE or encoded.col % TILE_SIZE \
                or len(encoded.spans) != down * across or first_col + across > self.across:
            raise ValueError(f"rows {encoded.row}..{encoded.row + encoded.rows}, columns "
                             f"{encoded.col}..{encoded.col + encoded.width} do not come as "
                             "whole tiles of this raster")
        first = (band - 1) * self.per_band + (encoded.row // TILE_SIZE) * self.across + first_col
        data = memoryview(encoded.data)
        for k, (offset, size) in enumerate(encoded.spans):
            index = first + (k // across) * self.across + k % across
            self.offsets[index], self.sizes[index] = self._end, size
            self._file.write(data[offset:offset + size])
            self._end += size

    def missing(self) -> int:
        """How many tiles have not been added."""
        return int(np.count_nonzero(self.sizes == 0))

    def close(self, commit: bool = True) -> None:
        """Write the tile index (``commit``) and close the file."""
        if self._file is None:
            return
        try:
            if commit:
                self._file.flush()
                write_tile_index(self._file, self.offsets, self.sizes)
        finally:
            self._file.close()
            self._file = None

