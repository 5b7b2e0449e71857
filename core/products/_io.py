"""Block readers shared by the processor modules: raw binary (BIL/BIP/BSQ, any byte
order), HDF5 datasets (h5py) and GDAL bands; all return float32 with nodata as NaN."""

from __future__ import annotations

import math
import os
from typing import Optional, Sequence

import numpy as np
from osgeo import gdal

from ..raster_io import RasterError, open_raster, read_block
from .base import BlockReader, product_error

def _nodata_to_nan(raw: np.ndarray, nodata: Optional[float]) -> np.ndarray:
    out = raw.astype(np.float32, copy=True)
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        out[raw == nodata] = np.nan
    return out


def binary_reader(path: str, width: int, height: int, dtype: str, bands: int = 1,
                  interleave: str = "BSQ", nodata: Optional[float] = None,
                  band_map: Optional[Sequence[int]] = None) -> BlockReader:
    """Reader for a raw binary raster (``dtype`` a numpy type string with byte order,
    e.g. ``'>f4'`` for GAMMA, ``'<f4'`` for ISCE/ROI_PAC).  ``band_map`` maps layer band
    k (1-based) to file band ``band_map[k-1]``.  The file size is checked up front."""
    dt = np.dtype(dtype)
    expected = width * height * bands * dt.itemsize
    size = os.path.getsize(path) if os.path.exists(path) else -1
    if size < 0:
        raise product_error(path, "the data file does not exist")
    if size < expected:
        raise product_error(path, f"the file has {size} bytes but {width} x {height} x {bands} "
                            f"{dt.name} samples need {expected} (truncated, or wrong width/length)")
    interleave = interleave.upper()

    def read(band, row, col, rows, cols):
        fb = band_map[band - 1] if band_map else band
        mm = np.memmap(path, dtype=dt, mode="r", shape=(width * height * bands,))
        if interleave == "BSQ":
            arr = mm[(fb - 1) * width * height:fb * width * height].reshape(height, width)
            raw = np.array(arr[row:row + rows, col:col + cols])
        elif interleave == "BIL":
            arr = mm.reshape(height, bands, width)
            raw = np.array(arr[row:row + rows, fb - 1, col:col + cols])
        elif interleave == "BIP":
            arr = mm.reshape(height, width, bands)
            raw = np.array(arr[row:row + rows, col:col + cols, fb - 1])
        else:
            raise product_error(path, f"unknown band interleave {interleave!r}")
        del mm
        return _nodata_to_nan(raw, nodata)

    return read


def gdal_reader(path: str, band_map: Optional[Sequence[int]] = None,
                nodata: Optional[float] = None) -> BlockReader:
    """Reader for a band of a GDAL raster; ``nodata`` overrides the file's nodata."""

    def read(band, row, col, rows, cols):
        fb = band_map[band - 1] if band_map else band
        try:
            ds = open_raster(path)
            if nodata is None:
                return read_block(ds, fb, row, col, rows, cols)
            raw = ds.GetRasterBand(fb).ReadAsArray(col, row, cols, rows)
        except (RasterError, RuntimeError) as exc:
            raise product_error(path, f"cannot read band {fb}: {exc}") from exc
        return _nodata_to_nan(raw, nodata)

    return read


def open_gdal(path: str) -> gdal.Dataset:
    try:
        return open_raster(path)
    except RasterError as exc:
        raise product_error(path, str(exc)) from exc


def h5_reader(path: str, dataset: str, index: Optional[int] = None, nodata=None,
              scale: float = 1.0) -> BlockReader:
    """Reader for an HDF5 dataset: 2-D, or 3-D (bands first) when ``index`` is None and the
    layer has one band per slice; ``index`` fixes the first axis (one slice)."""
    import h5py

    def read(band, row, col, rows, cols):
        try:
            with h5py.File(path, "r") as f:
                ds = f[dataset]
                if ds.ndim == 3:
                    k = index if index is not None else band - 1
                    raw = ds[k, row:row + rows, col:col + cols]
                else:
                    raw = ds[row:row + rows, col:col + cols]
        except (OSError, KeyError) as exc:
            raise product_error(path, f"cannot read dataset {dataset!r}: {exc}") from exc
        out = _nodata_to_nan(np.asarray(raw), nodata)
        if scale != 1.0:
            out *= np.float32(scale)
        return out

    return read


def open_h5(path: str):
    """Open an HDF5 file with h5py; a truncated or non-HDF5 file gives a ProductError."""
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise product_error(path, f"cannot open as HDF5 (truncated or not HDF5?): {exc}") from exc


def attr_str(value) -> str:
    """An HDF5 attribute value as text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "S":
            return " ".join(v.decode("utf-8", "replace") for v in value.ravel())
        if value.size == 1:
            return attr_str(value.ravel()[0])
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def parse_key_value_file(path: str, separator: Optional[str] = None) -> dict:
    """``key value`` (ROI_PAC .rsc) or ``key: value unit`` (GAMMA .par) lines as a dict of
    strings (the value without trailing units is left to the caller)."""
    out = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if separator and separator in line:
                    key, value = line.split(separator, 1)
                else:
                    parts = line.split(None, 1)
                    if len(parts) != 2:
                        continue
                    key, value = parts
                out[key.strip()] = value.strip()
    except OSError as exc:
        raise product_error(path, f"cannot read the parameter file: {exc}") from exc
    return out


def first_float(text: str) -> float:
    """The first number in ``'193.15  degrees'``."""
    return float(str(text).split()[0])
