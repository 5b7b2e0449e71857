"""Time series on one grid: the stack (:class:`Stack`) and how it is read, date selection and
the metadata helpers the writers share (package docstring: :mod:`.`)."""

from __future__ import annotations

import datetime as _dt
import glob
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from osgeo import gdal, ogr, osr

from .. import dates as _dates
from ..execution import (
    BandSource,
    DaskEngine,
    LocalEngine,
    engine_from_environment,
    local_worker_count,
)
from ..raster_io import (
    RasterError,
    RasterInfo,
    open_raster,
    raster_info,
    read_block,
)
from ..tiles import TileLayout
from ..units import normalize_unit

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

#: Raster file extensions taken from a folder given as a time series.
RASTER_EXTENSIONS = (".tif", ".tiff", ".vrt", ".img", ".nc")

COMMON_GRID_HINT = ("resample them onto one grid first with displacement:common_grid "
                    "(Displacement Toolkit > common grid)")


# --------------------------------------------------------------------------- the stack
@dataclass
class Epoch:
    """One date of a stack: where its values come from (``path``/``band``), or
    ``path=None`` for the implicit reference epoch (zeros)."""

    date: Optional[_dt.date]
    path: Optional[str]
    band: int = 1
    description: str = ""
    metadata: Dict[str, str] = field(default_factory=dict)
    product: object = None   # a core.products Product when read through a product reader
    layer: str = ""

    @property
    def implicit(self) -> bool:
        return self.path is None


class Stack:
    """A displacement time series on one grid (see the module docstring).

    Attributes: ``epochs`` (sorted by date when dated), ``width``, ``height``,
    ``geotransform``, ``crs_wkt``, ``units``, ``quantity``, ``reference_date``
    (or None), ``metadata`` (dataset metadata of the first source), ``sources``
    (input paths).  :meth:`read` and :meth:`window_reader` return float32 with NaN
    nodata.
    """

    def __init__(self, epochs: List[Epoch], grid: RasterInfo, units: str, quantity: str = "",
                 reference_date: Optional[_dt.date] = None, metadata: Optional[Dict[str, str]] = None,
                 sources: Sequence[str] = (), units_assumed: bool = False):
        self.epochs = list(epochs)
        self.width, self.height = grid.width, grid.height
        self.geotransform = tuple(grid.geotransform)
        self.crs_wkt = grid.crs_wkt
        self.units = units
        self.quantity = quantity
        self.reference_date = reference_date
        self.metadata = dict(metadata or {})
        self.sources = list(sources)
        self.units_assumed = units_assumed
        self._datasets: Dict[str, gdal.Dataset] = {}

    @property
    def dates(self) -> List[Optional[_dt.date]]:
        return [e.date for e in self.epochs]

    @property
    def count(self) -> int:
        return len(self.epochs)

    @property
    def dated(self) -> bool:
        return all(d is not None for d in self.dates)

    @property
    def has_implicit_reference(self) -> bool:
        return any(e.implicit for e in self.epochs)

    def _ds(self, path: str) -> gdal.Dataset:
        ds = self._datasets.get(path)
        if ds is None:
            ds = open_raster(path)
            self._datasets[path] = ds
        return ds

    def read(self, index: int, row: int = 0, rows: Optional[int] = None) -> np.ndarray:
        """Rows ``row .. row+rows-1`` of epoch ``index`` (0-based): float32 (rows, width)."""
        rows = self.height - row if rows is None else rows
        epoch = self.epochs[index]
        if epoch.implicit:
            return np.zeros((rows, self.width), dtype=np.float32)
        if epoch.product is not None:
            return epoch.product.read(epoch.layer, epoch.band, row, 0, rows, self.width)
        block = read_block(self._ds(epoch.path), epoch.band, row, 0, rows, self.width)
        if np.iscomplexobj(block):
            raise RasterError(f"{epoch.path!r} band {epoch.band} is complex: a time series "
                              "holds real displacements")
        return block

    def window_reader(self, indices: Optional[Sequence[int]] = None) -> "EpochsReader":
        """A picklable reader of epochs ``indices`` (default all) for the engine's workers
        (core.execution): same values as :meth:`read`."""
        indices = range(self.count) if indices is None else indices
        sources = []
        for i in indices:
            epoch = self.epochs[i]
            if epoch.implicit:
                sources.append(None)
            elif epoch.product is not None:
                sources.append((epoch.product, epoch.layer, epoch.band))
            else:
                sources.append(BandSource(epoch.path, epoch.band))
        return EpochsReader(self.width, tuple(sources))

    @property
    def read_through_products(self) -> bool:
        """True when some epochs are read by a product reader (e.g. MintPy HDF5), which
        cannot be sent to another process."""
        return any(e.product is not None for e in self.epochs)

    def close(self) -> None:
        self._datasets.clear()

    def span(self) -> str:
        """``2016-07-11 .. 2016-09-21 (6 dates)``."""
        d = [x for x in self.dates if x is not None]
        if not d:
            return f"{self.count} undated layers"
        return f"{min(d).isoformat()} .. {max(d).isoformat()} ({len(d)} dates)"

    def describe(self) -> str:
        ref = self.reference_date.isoformat() if self.reference_date else "unknown"
        extra = ", implicit zero epoch at the reference date" if self.has_implicit_reference else ""
        return (f"{self.span()}, {self.width} x {self.height} pixels, units {self.units}"
                f"{' (assumed)' if self.units_assumed else ''}, reference date {ref}{extra}")


@dataclass(frozen=True)
class EpochsReader:
    """Row blocks of some epochs of a :class:`Stack` (see :meth:`Stack.window_reader`):
    ``None`` (the implicit reference epoch, zeros), a BandSource, or (product, layer, band)."""

    width: int
    sources: tuple

    def read(self, row: int, rows: int, col: int = 0, cols: Optional[int] = None) -> np.ndarray:
        """(epochs, rows, cols) float32 with NaN nodata, from column ``col`` (default: every
        column)."""
        cols = self.width - col if cols is None else int(cols)
        out = np.empty((len(self.sources), rows, cols), dtype=np.float32)
        for k, source in enumerate(self.sources):
            if source is None:
                out[k] = 0.0
            elif isinstance(source, BandSource):
                block = source.read(row, rows, col, cols)
                if np.iscomplexobj(block):
                    raise RasterError(f"{source.path!r} band {source.band} is complex: a time "
                                      "series holds real displacements")
                out[k] = block
            else:
                product, layer, band = source
                out[k] = product.read(layer, band, row, col, rows, cols)
        return out


def _units_of(info: RasterInfo, band: int) -> Optional[str]:
    meta = info.band_metadata[band - 1] if band - 1 < len(info.band_metadata) else {}
    candidates = [meta.get("units"), meta.get("unit"), meta.get("UNIT"), info.metadata.get("UNIT")]
    try:
        ds = open_raster(info.path)
        candidates.append(ds.GetRasterBand(band).GetUnitType())
    except RasterError:
        pass
    for value in candidates:
        if value:
            try:
                return normalize_unit(value)
            except ValueError:
                continue
    return None


def expand_sources(paths: Sequence[str]) -> List[str]:
    """Input paths with folders replaced by the rasters they contain (sorted by name)."""
    out: List[str] = []
    for p in paths:
        p = str(p)
        if os.path.isdir(p):
            found = sorted(f for f in glob.glob(os.path.join(p, "*"))
                           if f.lower().endswith(RASTER_EXTENSIONS))
            if not found:
                raise ValueError(f"the folder {p!r} holds no raster ({', '.join(RASTER_EXTENSIONS)})")
            out.extend(found)
        else:
            out.append(p)
    return out


def open_stack(paths: Sequence[str], require_dates: bool = True, units: Optional[str] = None,
               add_reference_epoch: bool = True) -> Stack:
    """Open a time series from one dated multi-band raster, a list of rasters or a folder.

    ``require_dates``: every band must carry a date (else ValueError naming the
    band); with False, undated layers are allowed (then the input order is kept).
    ``units``: override the input unit (``m``, ``cm``, ``mm``, ``m/yr``...);
    default the band metadata, else ``m``.
    ``add_reference_epoch``: add the implicit zero epoch at the reference date
    (module docstring).  Raises ValueError when rasters are on different grids,
    two layers share a date, units or reference dates differ.
    """
    paths = expand_sources(paths)
    if not paths:
        raise ValueError("no raster given")
    epochs: List[Epoch] = []
    grid: Optional[RasterInfo] = None
    found_units: List[Tuple[str, Optional[str]]] = []
    refs: Dict[str, Optional[_dt.date]] = {}
    quantity = ""
    for path in paths:
        product = _open_product_series(path)
        if product is not None:
            prod, layer = product
            info = RasterInfo(path, prod.width, prod.height, layer.bands, prod.geotransform,
                              prod.crs_wkt, ["Float32"] * layer.bands, [None] * layer.bands,
                              [layer.band_description(b) for b in range(1, layer.bands + 1)],
                              [{} for _ in range(layer.bands)], dict(prod.metadata),
                              prod.has_geotransform)
        else:
            info = raster_info(path)
        if grid is None:
            grid = info
        elif not grid.same_grid(info):
            raise ValueError(
                f"{os.path.basename(path)} ({info.width} x {info.height} pixels, origin "
                f"{info.geotransform[0]:.10g}, {info.geotransform[3]:.10g}, pixel "
                f"{info.geotransform[1]:.6g} x {info.geotransform[5]:.6g}) is not on the grid of "
                f"{os.path.basename(grid.path)} ({grid.width} x {grid.height} pixels, origin "
                f"{grid.geotransform[0]:.10g}, {grid.geotransform[3]:.10g}, pixel "
                f"{grid.geotransform[1]:.6g} x {grid.geotransform[5]:.6g}): {COMMON_GRID_HINT}")
        if product is not None:
            prod, layer = product
            refs[path] = layer.reference_date or prod.reference_date
            quantity = quantity or layer.quantity
            for b, day in enumerate(layer.dates, start=1):
                epochs.append(Epoch(day, path, b, info.descriptions[b - 1],
                                    {"quantity": layer.quantity, "units": layer.units,
                                     "convention": layer.convention}, prod, layer.name))
                found_units.append((f"{os.path.basename(path)} {layer.name} {b}",
                                    _normalize_or_none(layer.units)))
            continue
        for b in range(1, info.band_count + 1):
            if info.is_complex(b):
                raise ValueError(f"{os.path.basename(path)} band {b} is complex: a time series "
                                 "holds real displacements")
        band_dates = _dates.band_dates(info.band_metadata, info.descriptions, path)
        refs[path] = _dates.reference_date(info.metadata, path)
        for b, day in enumerate(band_dates, start=1):
            if day is None and require_dates:
                raise ValueError(
                    f"{os.path.basename(path)} band {b} has no date: give each band the metadata "
                    "item 'date' (YYYY-MM-DD) or name single-date files like "
                    "displacement_<reference>_<date>.tif (YYYYMMDD)")
            meta = dict(info.band_metadata[b - 1]) if b - 1 < len(info.band_metadata) else {}
            quantity = quantity or meta.get("quantity", "")
            epochs.append(Epoch(day, path, b, info.descriptions[b - 1], meta))
            found_units.append((f"{os.path.basename(path)} band {b}", _units_of(info, b)))
    assert grid is not None
    # units
    units_assumed = False
    if units:
        unit = normalize_unit(units)
    else:
        known = {u for _, u in found_units if u}
        if len(known) > 1:
            detail = ", ".join(f"{name}: {u}" for name, u in found_units if u)
            raise ValueError(f"the layers have different units ({detail}): convert them to one unit")
        unit = known.pop() if known else "m"
        units_assumed = not known and not any(u for _, u in found_units)
    # dates
    dated = all(e.date is not None for e in epochs)
    if dated:
        seen: Dict[_dt.date, Epoch] = {}
        for e in epochs:
            if e.date in seen:
                other = seen[e.date]
                raise ValueError(
                    f"two layers have the date {e.date.isoformat()}: "
                    f"{os.path.basename(other.path)} band {other.band} and "
                    f"{os.path.basename(e.path)} band {e.band}; give each date once")
            seen[e.date] = e
        epochs.sort(key=lambda e: e.date)
    distinct_refs = {r for r in refs.values() if r is not None}
    if len(distinct_refs) > 1:
        detail = ", ".join(f"{os.path.basename(p)}: {r.isoformat()}" for p, r in refs.items() if r)
        raise ValueError(f"the rasters are relative to different reference dates ({detail}): "
                         "re-reference them in time to one date first")
    ref = distinct_refs.pop() if distinct_refs else None
    if ref is not None and any(r is None for r in refs.values()) and len(paths) > 1:
        ref = None  # partly unknown: do not guess
    if dated and ref is not None and add_reference_epoch and ref not in {e.date for e in epochs}:
        epochs.append(Epoch(ref, None, 0, f"reference epoch {ref.isoformat()} (zero by definition)",
                            {}))
        epochs.sort(key=lambda e: e.date)
    return Stack(epochs, grid, unit, quantity, ref, dict(grid.metadata), paths, units_assumed)


def _normalize_or_none(unit: Optional[str]) -> Optional[str]:
    try:
        return normalize_unit(unit) if unit else None
    except ValueError:
        return None


#: Files opened through the product readers (core.products) rather than as GDAL rasters.
PRODUCT_EXTENSIONS = (".h5", ".he5", ".hdf5")


def _open_product_series(path: str):
    """(Product, Layer) of the dated displacement layer of an HDF5 product (MintPy
    ``timeseries.h5``, LiCSBAS ``cum.h5``...), or None for any other file."""
    if not str(path).lower().endswith(PRODUCT_EXTENSIONS):
        return None
    from ..products import open_product

    prod = open_product(path)
    dated = [layer for layer in prod.layers if layer.dates and layer.bands >= 2]
    if not dated:
        raise ValueError(f"{os.path.basename(path)} holds no time series (no layer with one date "
                         f"per slice); its layers: {', '.join(prod.layer_names)}")
    preferred = [layer for layer in dated if "displacement" in layer.quantity]
    layer = (preferred or dated)[0]
    if any(d is None for d in layer.dates):
        raise ValueError(f"{os.path.basename(path)} layer {layer.name!r} has slices without a date")
    return prod, layer


# --------------------------------------------------------------------------- date selection
@dataclass
class Selection:
    """An acquisition chosen for a requested date: index in the stack, the acquisition's
    date and its distance from the request in days (acquisition − requested)."""

    requested: _dt.date
    index: int
    date: _dt.date
    offset_days: int

    def describe(self) -> str:
        if self.offset_days == 0:
            return f"{self.requested.isoformat()} (exact acquisition)"
        return (f"{self.requested.isoformat()} -> nearest acquisition {self.date.isoformat()} "
                f"({self.offset_days:+d} days)")


def _span_text(days: Sequence[_dt.date]) -> str:
    return f"{min(days).isoformat()} to {max(days).isoformat()}"


def nearest_acquisition(dates: Sequence, requested, name: str = "date") -> Selection:
    """The acquisition nearest to ``requested`` (a tie goes to the earlier one).

    ``requested`` must lie within the span of ``dates`` (first to last
    acquisition, inclusive): a date outside the series raises ValueError
    naming ``name`` and the span.
    """
    days = [_dates.parse_date(d) for d in dates]
    if not days:
        raise ValueError("the time series has no dates")
    want = _dates.parse_date(requested)
    if want < min(days) or want > max(days):
        raise ValueError(f"{name} {want.isoformat()} is outside the time series "
                         f"({_span_text(days)}): choose a date within it")
    best = min(range(len(days)), key=lambda i: (abs((days[i] - want).days), days[i]))
    return Selection(want, best, days[best], (days[best] - want).days)


def check_date_range(start, end, dates: Sequence, start_name: str = "START_DATE",
                     end_name: str = "END_DATE") -> Tuple[_dt.date, _dt.date]:
    """Parsed (start, end); ValueError when start is not before end or both fall
    outside the series."""
    a, b = _dates.parse_date(start), _dates.parse_date(end)
    if a >= b:
        raise ValueError(f"{start_name} {a.isoformat()} is not before {end_name} {b.isoformat()}: "
                         "give a start date earlier than the end date")
    return a, b


# --------------------------------------------------------------------------- writing helpers
def _band_meta(units: str, quantity: str, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    meta = {"units": units, "quantity": quantity}
    if extra:
        meta.update({k: str(v) for k, v in extra.items()})
    return meta


def _base_metadata(stack: Stack, software: str) -> Dict[str, str]:
    meta = {"source": ";".join(os.path.basename(s) for s in stack.sources)[:2000],
            "software": software}
    if stack.reference_date:
        meta["source_reference_date"] = stack.reference_date.isoformat()
    if stack.has_implicit_reference:
        meta["implicit_reference_epoch"] = stack.reference_date.isoformat()
    if stack.units_assumed:
        meta["units_assumed"] = f"{stack.units} (the input carries no unit)"
    return meta


def _velocity_quantity(quantity: str) -> str:
    q = quantity or "displacement"
    return q.replace("displacement", "velocity") if "displacement" in q else f"{q}_velocity"


def _convention(stack: Stack) -> str:
    for e in stack.epochs:
        if e.metadata.get("convention"):
            return e.metadata["convention"]
    return stack.metadata.get("convention", "")


def engine_for_stack(engine, stack: Stack, monitor):
    """``engine`` (default from the environment), except that a stack read through a product
    reader stays on local threads (its readers cannot go to another process); logged."""
    run = engine or engine_from_environment()
    if isinstance(run, DaskEngine) and stack.read_through_products:
        monitor.info("the time series is read through a product reader (e.g. MintPy HDF5), "
                     "which cannot be sent to Dask workers: it runs on local threads; export "
                     "it to GeoTIFF (load_product) to run it on the cluster")
        run = LocalEngine(local_worker_count())
    monitor.info(f"work runs on: {run.describe()}")
    return run



@dataclass(frozen=True)
class _BlockTask:
    """A block of some epochs (:class:`EpochsReader`; rows, and ``cols`` columns from
    ``col``, None: to the last) and an optional constant."""

    row: int
    rows: int
    epochs: EpochsReader
    tiles: TileLayout                    # the output's tiles: the result is compressed here
    value: float = 0.0
    col: int = 0
    cols: Optional[int] = None

    def read(self) -> np.ndarray:
        """(epochs, rows, cols) of the block."""
        return self.epochs.read(self.row, self.rows, self.col, self.cols)

    def packed(self, block: np.ndarray):
        """The task's result as the writer takes it (:meth:`.tiles.TileLayout.pack`)."""
        return self.tiles.pack(block, self.row, self.col)


def _minus_value(task: _BlockTask):
    return task.packed(task.read()[0] - np.float32(task.value))
