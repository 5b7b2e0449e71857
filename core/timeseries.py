"""Displacement time series: reading, date selection, cumulative displacement,
velocity fits and re-referencing.

A **stack** (:class:`Stack`) is a displacement time series on one grid: one
2-D layer per acquisition date, read block by block.  It comes from

* a multi-band raster whose bands carry the metadata item ``date``
  (``YYYY-MM-DD``) and whose dataset metadata item ``reference_date`` names the
  date the displacements are relative to (the toolkit's dated-band convention,
  :mod:`.dates`);
* a list of single-date rasters, the date of each from its band metadata or its
  file name (``displacement_20160711_20160723.tif`` = reference 2016-07-11,
  acquisition 2016-07-23), or a folder of such rasters.  All must be on one
  grid (same size, geotransform and CRS): resample them first with
  ``displacement:common_grid`` otherwise.

Dates are UTC calendar days: ``2016-07-23T16:04:31`` and ``20160723`` are the
same acquisition (:func:`.dates.parse_date`).

When every source names the same reference date and that date is not one of
the bands, the stack gains an **implicit reference epoch**: the displacement
at the reference date is zero by definition (MintPy stores that epoch as a
band of zeros; products written as one file per acquisition do not).  The
output metadata say so (``implicit_reference_epoch``).

Units: values stay in the unit of the input (band metadata ``units`` or the
GDAL unit type; ``m`` when none is given).  Velocities are in that unit per
year, a year being 365.25 days (:data:`.units.DAYS_PER_YEAR`).  Signs are those
of the input (LOS positive toward the satellite in the toolkit's convention,
docs/conventions.md).  NaN is nodata everywhere.
"""

from __future__ import annotations

import datetime as _dt
import glob
import math
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from osgeo import gdal, ogr, osr

from . import dates as _dates
from . import validation
from .execution import (
    BandSource,
    DaskEngine,
    LocalEngine,
    engine_from_environment,
    local_worker_count,
    zip_tasks,
)
from .progress import ensure_monitor
from .raster_io import (
    RasterError,
    RasterInfo,
    RasterWriter,
    block_rows,
    iter_blocks,
    map_to_pixel,
    open_raster,
    raster_info,
    read_block,
    transform_xy,
    wgs84_wkt,
)
from .units import DAYS_PER_YEAR, normalize_unit

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

#: Raster file extensions taken from a folder given as a time series.
RASTER_EXTENSIONS = (".tif", ".tiff", ".vrt", ".img", ".nc")

#: Default memory budget of one block of a stack (all dates), in bytes.
STACK_BLOCK_BYTES = 64 * 1024 * 1024

#: Above this many distinct validity patterns in one block, the velocity fit uses
#: masked normal equations (one small solve per pixel, vectorised) instead of one
#: pseudo-inverse per pattern.
MAX_PATTERNS = 256

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
    (input paths).  :meth:`read` and :meth:`read_block` return float32 with NaN
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

    def read_block(self, indices: Optional[Sequence[int]], row: int, rows: int) -> np.ndarray:
        """Epochs ``indices`` (default all) of rows ``row .. row+rows-1``: (len, rows, width)."""
        indices = range(self.count) if indices is None else indices
        return np.stack([self.read(i, row, rows) for i in indices])

    def window_reader(self, indices: Optional[Sequence[int]] = None) -> "EpochsReader":
        """A picklable reader of epochs ``indices`` (default all) for the engine's workers
        (core.execution): same values as :meth:`read_block`."""
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

    def block_rows(self, layers: int) -> int:
        """Rows per block for ``layers`` float64 layers within :data:`STACK_BLOCK_BYTES`."""
        return block_rows(self.width, 8 * max(1, layers), STACK_BLOCK_BYTES)

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

    def read(self, row: int, rows: int) -> np.ndarray:
        """(epochs, rows, width) float32 with NaN nodata."""
        out = np.empty((len(self.sources), rows, self.width), dtype=np.float32)
        for k, source in enumerate(self.sources):
            if source is None:
                out[k] = 0.0
            elif isinstance(source, BandSource):
                block = source.read(row, rows)
                if np.iscomplexobj(block):
                    raise RasterError(f"{source.path!r} band {source.band} is complex: a time "
                                      "series holds real displacements")
                out[k] = block
            else:
                product, layer, band = source
                out[k] = product.read(layer, band, row, 0, rows, self.width)
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
    from .products import open_product

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


# --------------------------------------------------------------------------- cumulative
@dataclass
class CumulativeResult:
    path: str
    start: Selection
    end: Selection
    units: str
    stats: Dict[str, float]


@dataclass(frozen=True)
class _BlockTask:
    """A row block of some epochs (:class:`EpochsReader`) and an optional constant."""

    row: int
    rows: int
    epochs: EpochsReader
    value: float = 0.0


def _later_minus_earlier(task: _BlockTask) -> np.ndarray:
    first, second = task.epochs.read(task.row, task.rows)
    return second - first


def _minus_value(task: _BlockTask) -> np.ndarray:
    return task.epochs.read(task.row, task.rows)[0] - np.float32(task.value)


def cumulative_displacement(stack: Stack, start, end, output: str, monitor=None,
                            engine=None) -> CumulativeResult:
    """Write ``output``: displacement from ``start`` to ``end`` = value at the acquisition
    nearest to ``end`` minus value at the acquisition nearest to ``start``.

    Both requested dates must lie within the series; the chosen acquisitions
    are recorded in the output metadata (``start_date``, ``end_date``,
    ``start_date_requested``, ``end_date_requested``).  Unit: the stack's
    length unit; sign: that of the input (positive = toward the satellite for
    LOS).  NaN where either date is NaN.  Raises ValueError when start is not
    before end, a date is outside the series, or both map to one acquisition.
    """
    monitor = ensure_monitor(monitor)
    if not stack.dated:
        raise ValueError("the input has layers without dates: a cumulative displacement needs a dated series")
    a, b = check_date_range(start, end, stack.dates)
    s0 = nearest_acquisition(stack.dates, a, "START_DATE")
    s1 = nearest_acquisition(stack.dates, b, "END_DATE")
    if s0.index == s1.index:
        raise ValueError(
            f"START_DATE {a.isoformat()} and END_DATE {b.isoformat()} both select the acquisition "
            f"{s0.date.isoformat()}: choose dates further apart (acquisitions: "
            f"{', '.join(d.isoformat() for d in stack.dates)})")
    days = (s1.date - s0.date).days
    meta = _base_metadata(stack, "displacement_toolkit cumulative_displacement")
    meta.update({
        "start_date": s0.date.isoformat(), "end_date": s1.date.isoformat(),
        "start_date_requested": a.isoformat(), "end_date_requested": b.isoformat(),
        "reference_date": s0.date.isoformat(), "date": s1.date.isoformat(),
        "interval_days": str(days),
    })
    quantity = stack.quantity or "displacement"
    band_meta = _band_meta(stack.units, quantity, {
        "date": s1.date.isoformat(), "reference_date": s0.date.isoformat(),
        "convention": _convention(stack)})
    desc = f"displacement {s0.date.isoformat()} to {s1.date.isoformat()} ({stack.units})"
    rows = stack.block_rows(3)
    with RasterWriter(output, stack.width, stack.height, stack.geotransform, stack.crs_wkt, 1,
                      [desc], [band_meta], meta) as w:
        run = engine_for_stack(engine, stack, monitor)
        pair = stack.window_reader([s0.index, s1.index])
        tasks = (_BlockTask(r0, n, pair) for r0, n in iter_blocks(stack.height, rows))
        for task, difference in zip_tasks(run, _later_minus_earlier, tasks, monitor):
            w.write(1, task.row, difference)
            monitor.update((task.row + task.rows) / stack.height)
        monitor.info(f"work done: {run.summary()}")
        stats = w.stats(1)
    return CumulativeResult(w.path, s0, s1, stack.units, stats)


# --------------------------------------------------------------------------- velocity model
#: Time axes of the velocity model: ``days`` = days since the origin / 365.25 (default);
#: ``decimal_year`` = MintPy's (``ptime.yyyymmdd2years``): year + (day of year − 1)/365.25
#: (+ time of day / (365.25 · 86400 s)), minus the origin's.  They differ across 31 December
#: (a leap year's 366th day is 365/365.25 = 0.99932 yr, then the year restarts at .0).
TIME_AXES = ("days", "decimal_year")
#: Which side of a step an acquisition on the step date falls: ``on_or_after`` (default: the
#: event precedes that day's acquisition) or ``mintpy`` (MintPy ``time_func``: the step
#: column is t > t_step with t the acquisition's decimal year including its time of day
#: (``CENTER_LINE_UTC``) and t_step the step date at 00:00: an acquisition on the step date
#: is after the step when it has a time of day, **before** it when the time is 0 / unknown).
STEP_RULES = ("on_or_after", "mintpy")
SECONDS_PER_YEAR = DAYS_PER_YEAR * 86400.0


def decimal_years(dates: Sequence, seconds: float = 0.0) -> np.ndarray:
    """MintPy's decimal year of each date: year + (day of year − 1)/365.25, plus ``seconds``
    (time of day) / (365.25 · 86400), in that order of operations (float64)."""
    out = []
    for d in dates:
        day = _dates.parse_date(d)
        y = day.year + (day.timetuple().tm_yday - 1) / DAYS_PER_YEAR
        if seconds:
            y += float(seconds) / SECONDS_PER_YEAR
        out.append(y)
    return np.array(out, dtype=np.float64)


def years_since(dates: Sequence, origin, time_axis: str = "days", seconds: float = 0.0) -> np.ndarray:
    """Time of each date since ``origin`` in years (float64) on ``time_axis``
    (:data:`TIME_AXES`): days / 365.25, or MintPy's decimal years (``seconds``: the
    acquisitions' time of day, which cancels here as origin and dates share it)."""
    if time_axis not in TIME_AXES:
        raise ValueError(f"TIME_AXIS {time_axis!r}: use one of {', '.join(TIME_AXES)}")
    if time_axis == "decimal_year":
        return decimal_years(dates, seconds) - decimal_years([origin], seconds)[0]
    o = _dates.parse_date(origin)
    return np.array([(_dates.parse_date(d) - o).days / DAYS_PER_YEAR for d in dates],
                    dtype=np.float64)


def step_column(dates: Sequence, step, step_rule: str = "on_or_after",
                seconds: float = 0.0) -> np.ndarray:
    """Heaviside column of a step at date ``step`` (1 after, 0 before; :data:`STEP_RULES`)."""
    if step_rule not in STEP_RULES:
        raise ValueError(f"STEP_RULE {step_rule!r}: use one of {', '.join(STEP_RULES)}")
    if step_rule == "mintpy":
        t = decimal_years(dates, seconds)
        return (t > decimal_years([step])[0]).astype(np.float64)
    sd = _dates.parse_date(step)
    return np.array([1.0 if _dates.parse_date(d) >= sd else 0.0 for d in dates])


def design_matrix(dates: Sequence, origin, seasonal: bool = False,
                  steps: Sequence = (), time_axis: str = "days", step_rule: str = "on_or_after",
                  seconds: float = 0.0) -> Tuple[np.ndarray, List[str]]:
    """Design matrix of the displacement model and the names of its columns.

    ``d(t) = c + v·t [+ a1·cos 2πt + b1·sin 2πt + a2·cos 4πt + b2·sin 4πt]
    [+ Σ s_k·H(t − t_k)]`` with t in years since ``origin`` on ``time_axis``
    (:data:`TIME_AXES`; default days / 365.25), H the Heaviside step of ``step_rule``
    (:data:`STEP_RULES`; default: 1 for acquisitions **on or after** the step date, an
    event on an acquisition day being taken to precede the acquisition, 0 before).
    ``seconds``: the acquisitions' time of day (MintPy ``CENTER_LINE_UTC``), used by the
    ``mintpy`` step rule.  Columns: ``offset``, ``velocity``, ``annual_cos``, ``annual_sin``,
    ``semiannual_cos``, ``semiannual_sin``, ``step_YYYY-MM-DD`` -- the order of MintPy's
    ``time_func.get_design_matrix4time_func`` (polynomial 1, periodic 1.0 0.5, stepDate).
    """
    days = [_dates.parse_date(d) for d in dates]
    t = years_since(days, origin, time_axis, seconds)
    cols = [np.ones_like(t), t]
    names = ["offset", "velocity"]
    if seasonal:
        for k, label in ((1, "annual"), (2, "semiannual")):
            cols += [np.cos(2 * np.pi * k * t), np.sin(2 * np.pi * k * t)]
            names += [f"{label}_cos", f"{label}_sin"]
    for s in steps:
        sd = _dates.parse_date(s)
        cols.append(step_column(days, sd, step_rule, seconds))
        names.append(f"step_{sd.isoformat()}")
    return np.column_stack(cols), names


def acquisition_seconds(metadata: Dict[str, str]) -> Tuple[float, Optional[str]]:
    """Time of day of the acquisitions (seconds after 00:00 UTC) from MintPy's
    ``CENTER_LINE_UTC`` (a MintPy file read directly, or ``product_CENTER_LINE_UTC`` written
    by load_product), and the item it came from; (0.0, None) when not recorded."""
    for key in ("CENTER_LINE_UTC", "product_CENTER_LINE_UTC"):
        try:
            value = float(metadata[key])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(value) and 0.0 <= value < 86400.0:
            return value, key
    return 0.0, None


@dataclass
class FitResult:
    """Per-pixel least-squares fit of :func:`fit_pixels`.

    ``coef``: (p, P) model coefficients (series unit; velocity per year);
    ``sigma``: (p, P) 1-sigma of each coefficient from the residuals,
    ``sqrt(s² · [(AᵀA)⁻¹]_jj)`` with ``s² = Σr²/(n − p)``; ``rms``: (P,)
    ``sqrt(Σr²/n)``; ``count``: (P,) valid acquisitions used.  NaN where a
    pixel has fewer than p + 1 valid acquisitions or a singular sub-system.
    """

    coef: np.ndarray
    sigma: np.ndarray
    rms: np.ndarray
    count: np.ndarray
    patterns: int = 0


def fit_pixels(A: np.ndarray, Y: np.ndarray, max_patterns: int = MAX_PATTERNS,
               min_group: int = 32) -> FitResult:
    """Least squares ``Y[:, j] ≈ A @ x_j`` for every pixel j, NaN values skipped per pixel.

    ``A``: (n, p) design matrix shared by all pixels; ``Y``: (n, P) observations.
    Pixels are grouped by their pattern of valid acquisitions and each group is
    solved at once with one pseudo-inverse (exact least squares).  When there are
    more than ``max_patterns`` patterns, only the patterns shared by at least
    ``min_group`` pixels are solved that way; the other pixels go through the
    masked normal equations ``(Aᵀ M_j A) x_j = Aᵀ M_j y_j``, all in one batched
    solve (the same solution for the well-conditioned systems kept; a pixel whose
    normalised normal matrix has a determinant below 1e-12 is left NaN).
    """
    A = np.asarray(A, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    n, p = A.shape
    P = Y.shape[1]
    valid = np.isfinite(Y)
    count = valid.sum(axis=0)
    coef = np.full((p, P), np.nan)
    sigma = np.full((p, P), np.nan)
    rms = np.full(P, np.nan)
    enough = count >= p + 1
    if not enough.any():
        return FitResult(coef, sigma, rms, count, 0)
    cols = np.flatnonzero(enough)
    packed = np.packbits(valid[:, cols], axis=0)  # (ceil(n/8), P') bytes
    keys, inverse, sizes = np.unique(packed.T, axis=0, return_inverse=True, return_counts=True)
    inverse = np.asarray(inverse).reshape(-1)
    grouped = np.ones(keys.shape[0], dtype=bool) if keys.shape[0] <= max_patterns \
        else sizes >= max(1, int(min_group))
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    for k in np.flatnonzero(grouped):
        members = cols[order[bounds[k]:bounds[k + 1]]]
        rows = valid[:, members[0]]
        Ak = A[rows]
        if np.linalg.matrix_rank(Ak) < p:
            continue
        pinv = np.linalg.pinv(Ak)
        yk = Y[np.ix_(rows, members)]
        xk = pinv @ yk
        r = yk - Ak @ xk
        rss = np.einsum("ij,ij->j", r, r)
        m = rows.sum()
        cov = pinv @ pinv.T  # (AᵀA)⁻¹
        coef[:, members] = xk
        sigma[:, members] = np.sqrt(np.outer(np.diag(cov), rss / (m - p)))
        rms[members] = np.sqrt(rss / m)
    rest = cols[~grouped[inverse]]
    if rest.size:
        _normal_equations(A, Y[:, rest], valid[:, rest], rest, coef, sigma, rms)
    return FitResult(coef, sigma, rms, count, int(keys.shape[0]))


def _normal_equations(A, Y, valid, idx, coef, sigma, rms) -> None:
    """Masked normal equations for the pixels ``idx`` (columns of Y), written in place."""
    n, p = A.shape
    W = valid.astype(np.float64)                                   # (n, P)
    Yz = np.where(valid, Y, 0.0)
    AA = (A[:, :, None] * A[:, None, :]).reshape(n, p * p)         # outer products a_i a_iᵀ
    N = (AA.T @ W).T.reshape(-1, p, p)                             # Σ_i w_ij a_i a_iᵀ
    rhs = (A.T @ Yz).T                                             # (P, p)
    d = np.sqrt(np.einsum("jpp->jp", N))
    ok = np.all(d > 0, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        C = N / (d[:, :, None] * d[:, None, :])                    # unit diagonal
    sign, logdet = np.linalg.slogdet(np.where(ok[:, None, None], C, np.eye(p)))
    ok &= (sign > 0) & (logdet > math.log(1e-12))
    if not ok.any():
        return
    Ninv = np.linalg.inv(C[ok]) / (d[ok][:, :, None] * d[ok][:, None, :])
    x = np.einsum("jpq,jq->jp", Ninv, rhs[ok])                     # (P'', p)
    r = (Yz[:, ok] - A @ x.T) * W[:, ok]
    rss = np.einsum("ij,ij->j", r, r)
    m = W[:, ok].sum(axis=0)
    sel = idx[ok]
    coef[:, sel] = x.T
    sigma[:, sel] = np.sqrt(np.einsum("jpp->jp", Ninv).T * (rss / (m - p)))
    rms[sel] = np.sqrt(rss / m)


@dataclass
class VelocityResult:
    """Outputs of :func:`timeseries_velocity`: paths, the acquisitions used, the model
    columns and the statistics of each written raster (for styling)."""

    paths: Dict[str, str]
    dates: List[_dt.date]
    columns: List[str]
    units: str
    velocity_units: str
    stats: Dict[str, Dict[str, float]]
    valid_pixels: int


def timeseries_velocity(stack: Stack, start, end, velocity_path: str,
                        sigma_path: Optional[str] = None, rms_path: Optional[str] = None,
                        seasonal: bool = False, steps: Sequence = (), monitor=None,
                        steps_path: Optional[str] = None,
                        amplitude_path: Optional[str] = None, time_axis: str = "days",
                        step_rule: str = "on_or_after",
                        seconds: Optional[float] = None, engine=None) -> VelocityResult:
    """Least-squares velocity of every pixel over the acquisitions in [``start``, ``end``].

    Model (:func:`design_matrix`): offset + velocity·t, optionally annual and
    semi-annual sine/cosine terms (``seasonal``) and Heaviside steps at the
    dates ``steps`` (events; they must fall inside the range with acquisitions
    on both sides).  Outputs, all NaN where a pixel has fewer than p + 1 valid
    acquisitions (p = number of model terms):

    * ``velocity_path``: velocity in the stack unit per year (m → m/yr);
    * ``sigma_path``: its 1-sigma from the residuals (same unit);
    * ``rms_path``: RMS of the residuals (stack unit);
    * ``steps_path``: the size of each step, one band per step date (stack unit,
      positive = toward the satellite for LOS), band metadata ``date``;
    * ``amplitude_path``: annual amplitude ``sqrt(a1² + b1²)`` (stack unit; needs
      ``seasonal``).

    ``time_axis`` and ``step_rule``: see :data:`TIME_AXES` and :data:`STEP_RULES` (MintPy's
    conventions: ``decimal_year`` and ``mintpy``); ``seconds``: the acquisitions' time of day
    for the ``mintpy`` step rule (default: the stack's ``CENTER_LINE_UTC``, else 0; logged).

    The acquisitions used, the model and its terms are written in the metadata.
    Raises ValueError for START after END, a range outside the series, fewer
    than p + 1 acquisitions in the range or an ill-posed step.
    """
    monitor = ensure_monitor(monitor)
    if not stack.dated:
        raise ValueError("the input has layers without dates: a velocity needs a dated series")
    a, b = check_date_range(start, end, stack.dates)
    dates = stack.dates
    first, last = min(dates), max(dates)
    for name, day in (("START_DATE", a), ("END_DATE", b)):
        if day < first or day > last:
            raise ValueError(f"{name} {day.isoformat()} is outside the time series "
                             f"({first.isoformat()} to {last.isoformat()}): choose a date within it")
    used = [i for i, d in enumerate(dates) if a <= d <= b]
    used_dates = [dates[i] for i in used]
    step_days = sorted({_dates.parse_date(s) for s in steps})
    if seconds is None:
        seconds, source = acquisition_seconds(stack.metadata)
        if step_rule == "mintpy" and step_days:
            monitor.info(f"MintPy step rule: acquisition time of day {seconds:g} s "
                         + (f"from {source}" if source else "(no CENTER_LINE_UTC: 00:00, so an "
                            "acquisition on a step date is before the step)"))
    for s in step_days:
        after = int(step_column(used_dates, s, step_rule, seconds).sum())
        before = len(used_dates) - after
        if before == 0 or after == 0:
            side = "after" if step_rule == "mintpy" else "on/after"
            raise ValueError(
                f"STEP_DATES {s.isoformat()}: the step needs acquisitions both before and {side} "
                f"it within {a.isoformat()} .. {b.isoformat()} ({before} before, {after} after): "
                "remove it or widen the date range")
    A, names = design_matrix(used_dates, used_dates[0] if used_dates else a, seasonal, step_days,
                             time_axis, step_rule, seconds)
    p = len(names)
    if len(used) < p + 1:
        model = "offset + velocity" + (" + annual + semi-annual terms" if seasonal else "") + \
            (f" + {len(step_days)} step(s)" if step_days else "")
        raise ValueError(
            f"{len(used)} acquisition(s) between START_DATE {a.isoformat()} and END_DATE "
            f"{b.isoformat()} are too few for the model {model} ({p} terms): it needs at least "
            f"{p + 1} to estimate the terms and their uncertainty; widen the range or "
            "simplify the model")
    if np.linalg.matrix_rank(A) < p:
        raise ValueError(f"the model {', '.join(names)} cannot be separated with the acquisitions "
                         f"{', '.join(d.isoformat() for d in used_dates)}: simplify the model")
    vunit = f"{stack.units}/yr"
    meta = _base_metadata(stack, "displacement_toolkit timeseries_velocity")
    meta.update({
        "start_date_requested": a.isoformat(), "end_date_requested": b.isoformat(),
        "start_date": used_dates[0].isoformat(), "end_date": used_dates[-1].isoformat(),
        "acquisitions": ",".join(d.isoformat() for d in used_dates),
        "acquisition_count": str(len(used)),
        "model": " + ".join(names), "seasonal": str(bool(seasonal)),
        "steps": ",".join(s.isoformat() for s in step_days),
        "time_origin": used_dates[0].isoformat(), "year_days": str(DAYS_PER_YEAR),
        "time_axis": time_axis, "step_rule": step_rule,
    })
    if steps_path and not step_days:
        raise ValueError("STEPS output asked for, but no STEP_DATES were given")
    if amplitude_path and not seasonal:
        raise ValueError("ANNUAL_AMPLITUDE output asked for, but the seasonal terms are off: "
                         "set SEASONAL")
    conv = _convention(stack)
    vq = _velocity_quantity(stack.quantity)
    one = [{"convention": conv}]
    outputs = [("velocity", velocity_path, vunit, vq, ["velocity"], one),
               ("sigma", sigma_path, vunit, f"{vq}_sigma", ["velocity 1-sigma (from residuals)"],
                one),
               ("rms", rms_path, stack.units, "rms_residual", ["RMS residual of the fit"], one),
               ("steps", steps_path, stack.units, f"{stack.quantity or 'displacement'}_step",
                [f"step on {d.isoformat()}" for d in step_days],
                [{"convention": conv, "date": d.isoformat()} for d in step_days]),
               ("amplitude", amplitude_path, stack.units, "annual_amplitude",
                ["annual amplitude"], one)]
    step_rows = [names.index(f"step_{d.isoformat()}") for d in step_days]
    writers = {}
    paths, stats = {}, {}
    try:
        for key, path, unit, quantity, labels, extras in outputs:
            if not path:
                continue
            writers[key] = RasterWriter(
                path, stack.width, stack.height, stack.geotransform, stack.crs_wkt, len(labels),
                [f"{label} ({unit})" for label in labels],
                [_band_meta(unit, quantity, extra) for extra in extras], dict(meta))
        run = engine_for_stack(engine, stack, monitor)
        # the fit holds ~6 (n, P) arrays; every task in flight holds one block
        rows = max(1, stack.block_rows(6 * len(used) + 4 * p) // run.in_flight)
        valid_pixels = 0
        tasks = (_VelocityTask(r0, n, stack.window_reader(used), A, tuple(step_rows), seasonal)
                 for r0, n in iter_blocks(stack.height, rows))
        for task, blocks in zip_tasks(run, _velocity_block, tasks, monitor):
            valid_pixels += int(np.isfinite(blocks["velocity"][0]).sum())
            for key, w in writers.items():
                for band, values in enumerate(blocks[key], start=1):
                    w.write(band, task.row, values.reshape(task.rows, stack.width)
                            .astype(np.float32))
            monitor.update((task.row + task.rows) / stack.height)
        monitor.info(f"work done: {run.summary()}")
        for key, w in writers.items():
            stats[key] = w.stats(1)
            paths[key] = w.commit()
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    return VelocityResult(paths, used_dates, names, stack.units, vunit, stats, valid_pixels)


@dataclass(frozen=True)
class _VelocityTask:
    """One row block of :func:`timeseries_velocity`."""

    row: int
    rows: int
    epochs: EpochsReader
    A: np.ndarray = field(compare=False)
    step_rows: tuple = ()
    seasonal: bool = False


def _velocity_block(task: _VelocityTask) -> Dict[str, list]:
    """The fitted terms of one block, per output (flattened pixels)."""
    Y = task.epochs.read(task.row, task.rows).reshape(len(task.epochs.sources), -1)
    fit = fit_pixels(task.A, Y)
    blocks = {"velocity": [fit.coef[1]], "sigma": [fit.sigma[1]], "rms": [fit.rms],
              "steps": [fit.coef[i] for i in task.step_rows]}
    if task.seasonal:
        blocks["amplitude"] = [np.hypot(fit.coef[2], fit.coef[3])]
    return blocks


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


# --------------------------------------------------------------------------- re-referencing
def transform_point(x: float, y: float, from_wkt: str, to_wkt: str) -> Tuple[float, float]:
    """Map point (``x``, ``y``) from CRS ``from_wkt`` to ``to_wkt`` (x = easting or longitude;
    :func:`.raster_io.transform_xy`).  Empty WKT on either side = no transformation."""
    tx, ty = transform_xy(x, y, from_wkt, to_wkt)
    return float(tx), float(ty)


@dataclass
class Reference:
    """Where the reference is: ``kind`` (``point``, ``gnss_station``, ``polygon``), a
    description for metadata, and the value subtracted from each layer (stack unit)."""

    kind: str
    values: List[float]
    metadata: Dict[str, str]
    pixels: int = 0

    def describe(self) -> str:
        return self.metadata.get("reference", self.kind)


def _disk_mask(rows, cols, row: int, col: int, radius: float) -> np.ndarray:
    """True for the pixels (rows x cols) whose centres are within ``radius`` pixels of (row, col)."""
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    return (cc - col) ** 2 + (rr - row) ** 2 <= radius * radius + 1e-9


def point_reference(stack: Stack, x: float, y: float, point_wkt: str = "", radius: float = 0.0,
                    kind: str = "point", label: str = "") -> Reference:
    """Reference values at a map point: for every layer, the **median** of the finite values
    of the pixels whose centres lie within ``radius`` pixels of the pixel containing
    the point (radius 0 = that pixel), as the Inspector samples (:mod:`.inspection`).

    (``x``, ``y``) are in the CRS ``point_wkt`` (empty = the stack's CRS) and are
    transformed to the stack's CRS.  Raises ValueError when the point is outside
    the raster or a layer has no valid value there.
    """
    if point_wkt and not (stack.crs_wkt or "").strip():
        raise ValueError(f"INPUT: the raster has no CRS, so the reference {label or 'point'} "
                         "(given in another CRS) cannot be placed on it. Assign its CRS first "
                         "(gdal_edit.py -a_srs EPSG:...), or give the point in its map coordinates")
    px, py = transform_point(x, y, point_wkt, stack.crs_wkt) if point_wkt else (float(x), float(y))
    fc, fr = map_to_pixel(stack.geotransform, px, py)
    col, row = int(math.floor(float(fc))), int(math.floor(float(fr)))
    where = label or f"({x:.10g}, {y:.10g})"
    if not (0 <= col < stack.width and 0 <= row < stack.height):
        raise ValueError(f"the reference {where} is outside the raster (pixel column {col}, row "
                         f"{row} of {stack.width} x {stack.height}): choose a point inside it")
    rad = max(0.0, float(radius))
    n = int(math.floor(rad))
    r0, r1 = max(0, row - n), min(stack.height, row + n + 1)
    c0, c1 = max(0, col - n), min(stack.width, col + n + 1)
    rows, cols = np.arange(r0, r1), np.arange(c0, c1)
    inside = _disk_mask(rows, cols, row, col, rad)
    values, counts = [], []
    for i in range(stack.count):
        block = stack.read(i, r0, r1 - r0)[:, c0:c1]
        v = block[inside]
        v = v[np.isfinite(v)]
        counts.append(v.size)
        values.append(float(np.median(v)) if v.size else math.nan)
    bad = [stack.epochs[i] for i, v in enumerate(values) if not math.isfinite(v)]
    if bad:
        which = ", ".join(e.date.isoformat() if e.date else f"band {e.band}" for e in bad[:5])
        raise ValueError(f"the reference {where} has no valid value within {rad:g} pixel(s) on "
                         f"{which}: choose a point on valid data or a larger radius")
    meta = {"reference_kind": kind, "reference_point": f"{px!r} {py!r}",
            "reference_pixel": f"{row} {col}", "reference_radius_px": f"{rad:g}",
            "reference": f"{kind} {where} = pixel row {row}, column {col}, median within {rad:g} px"}
    if point_wkt:
        meta["reference_point_input"] = f"{x!r} {y!r}"
    return Reference(kind, values, meta, int(min(counts)))


def gnss_station_position(path: str, station: str = "") -> Tuple[str, float, float]:
    """(name, longitude, latitude) of a GNSS station (WGS84 degrees) from a GNSS file read
    by :mod:`.gnss`: an NGL ``.tenv3`` series (one station; ``station`` optional, else it
    must match) or a velocity table (GAGE ``.vel``, MIDAS, CSV with station/lon/lat
    columns; ``station`` required).  Raises ValueError naming the station and file."""
    from . import gnss

    name = str(station or "").strip()
    base = os.path.basename(str(path))
    if str(path).lower().endswith((".tenv3", ".tenv")):
        series = gnss.read_tenv3(path)
        if name and series.station.upper() != name.upper():
            raise ValueError(f"{base} holds station {series.station}, not {name}")
        return series.station, float(series.lon), float(series.lat)
    if not name:
        raise ValueError(f"{base} is a GNSS table: name the station to use as the reference")
    try:
        table = gnss.read_velocities(path)
    except ValueError as exc:
        try:
            found = gnss.read_series([path])
        except ValueError:
            raise exc from None
        for s in found:
            if s.station.upper() == name.upper():
                return s.station, float(s.lon), float(s.lat)
        raise ValueError(f"station {name!r} is not in {base} (stations: "
                         f"{', '.join(s.station for s in found[:20])})") from None
    i = table.index(name)
    return table.station[i], float(table.lon[i]), float(table.lat[i])


def gnss_reference(stack: Stack, path: str, station: str = "", radius: float = 0.0) -> Reference:
    """:func:`point_reference` at the position of a GNSS station (:func:`gnss_station_position`):
    the InSAR values are referenced to the pixel(s) at the station, so that they can be
    compared with (or tied to) that station's GNSS series."""
    name, lon, lat = gnss_station_position(path, station)
    ref = point_reference(stack, lon, lat, wgs84_wkt(), radius, kind="gnss_station",
                          label=f"GNSS station {name} (lon {lon:.6f}, lat {lat:.6f})")
    ref.metadata.update({"reference_station": name, "reference_station_lonlat": f"{lon!r} {lat!r}",
                         "reference_station_file": os.path.basename(str(path))})
    return ref


def polygon_reference(stack: Stack, polygon_wkt: str, polygon_crs_wkt: str = "",
                      all_touched: bool = False) -> Reference:
    """Reference values = **mean** of the finite values of each layer over the pixels of a
    polygon (WKT, in CRS ``polygon_crs_wkt``; empty = the stack's CRS).

    The polygon is rasterised onto the stack grid with GDAL (pixels whose
    centre lies inside; ``all_touched`` for every pixel it touches).  Raises
    ValueError when the polygon covers no pixel or a layer has no valid value
    inside it.
    """
    geom = ogr.CreateGeometryFromWkt(polygon_wkt)
    if geom is None or geom.IsEmpty():
        raise ValueError("the reference polygon is empty")
    if geom.GetDimension() != 2:
        raise ValueError(f"the reference geometry is a {geom.GetGeometryName()}, not a polygon")
    if polygon_crs_wkt and stack.crs_wkt:
        src, dst = osr.SpatialReference(), osr.SpatialReference()
        src.ImportFromWkt(polygon_crs_wkt)
        dst.ImportFromWkt(stack.crs_wkt)
        if not src.IsSame(dst):
            for s in (src, dst):
                s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
            geom.Transform(osr.CoordinateTransformation(src, dst))
    # rasterise over the window of the grid that the polygon's envelope covers (memory is
    # bounded by the polygon, not by the raster)
    xmin, xmax, ymin, ymax = geom.GetEnvelope()
    cs, rs = map_to_pixel(stack.geotransform, np.array([xmin, xmin, xmax, xmax]),
                          np.array([ymin, ymax, ymin, ymax]))
    wc0 = max(0, int(math.floor(float(np.min(cs)))) - 1)
    wr0 = max(0, int(math.floor(float(np.min(rs)))) - 1)
    wc1 = min(stack.width, int(math.ceil(float(np.max(cs)))) + 1)
    wr1 = min(stack.height, int(math.ceil(float(np.max(rs)))) + 1)
    if wc1 <= wc0 or wr1 <= wr0:
        raise ValueError("the reference polygon covers no pixel centre of the raster: draw it over "
                         "the raster (or larger than one pixel)")
    gt = stack.geotransform
    wx, wy = gt[0] + wc0 * gt[1] + wr0 * gt[2], gt[3] + wc0 * gt[4] + wr0 * gt[5]
    mem = gdal.GetDriverByName("MEM").Create("", wc1 - wc0, wr1 - wr0, 1, gdal.GDT_Byte)
    mem.SetGeoTransform((wx, gt[1], gt[2], wy, gt[4], gt[5]))
    if stack.crs_wkt:
        mem.SetProjection(stack.crs_wkt)
    ods = ogr.GetDriverByName("Memory").CreateDataSource("ref")
    srs = None
    if stack.crs_wkt:
        srs = osr.SpatialReference()
        srs.ImportFromWkt(stack.crs_wkt)
    lyr = ods.CreateLayer("polygon", srs, ogr.wkbUnknown)
    feat = ogr.Feature(lyr.GetLayerDefn())
    feat.SetGeometry(geom)
    lyr.CreateFeature(feat)
    options = ["ALL_TOUCHED=TRUE"] if all_touched else []
    gdal.RasterizeLayer(mem, [1], lyr, burn_values=[1], options=options)
    mask = mem.GetRasterBand(1).ReadAsArray().astype(bool)
    rows_any = np.flatnonzero(mask.any(axis=1))
    if rows_any.size == 0:
        raise ValueError("the reference polygon covers no pixel centre of the raster: draw it over "
                         "the raster (or larger than one pixel)")
    cols_any = np.flatnonzero(mask.any(axis=0))
    mr0, mr1 = int(rows_any[0]), int(rows_any[-1]) + 1
    mc0, mc1 = int(cols_any[0]), int(cols_any[-1]) + 1
    mask = mask[mr0:mr1, mc0:mc1]
    r0, r1, c0, c1 = wr0 + mr0, wr0 + mr1, wc0 + mc0, wc0 + mc1
    sub = mask
    values, counts = [], []
    for i in range(stack.count):
        v = stack.read(i, r0, r1 - r0)[:, c0:c1][sub]
        v = v[np.isfinite(v)]
        counts.append(v.size)
        values.append(float(np.mean(v, dtype=np.float64)) if v.size else math.nan)
    bad = [stack.epochs[i] for i, v in enumerate(values) if not math.isfinite(v)]
    if bad:
        which = ", ".join(e.date.isoformat() if e.date else f"band {e.band}" for e in bad[:5])
        raise ValueError(f"the reference polygon holds no valid value on {which}: draw it over "
                         "valid data")
    env = geom.GetEnvelope()
    meta = {"reference_kind": "polygon", "reference_polygon_pixels": str(int(sub.sum())),
            "reference_polygon_bounds": f"{env[0]!r} {env[2]!r} {env[1]!r} {env[3]!r}",
            "reference_polygon_wkt": geom.ExportToWkt()[:4000],
            "reference": f"mean over a polygon of {int(sub.sum())} pixels (rows {r0}..{r1 - 1}, "
                         f"columns {c0}..{c1 - 1})"}
    return Reference("polygon", values, meta, int(min(counts)))


@dataclass
class RereferenceResult:
    path: str
    reference: Reference
    stats: List[Dict[str, float]]
    bands: int


def _band_task(banded):
    """``(output band, _BlockTask)`` -> the block minus the task's value."""
    return _minus_value(banded[1])


def rereference(stack: Stack, reference: Reference, output: str, monitor=None,
                engine=None) -> RereferenceResult:
    """Write ``output``: every layer of the stack minus its reference value, so that the
    reference becomes zero.  Units, dates, descriptions and metadata are kept; the
    reference used is added (``reference_*`` items, per-band ``reference_value``).

    A single multi-band input keeps its bands; a list of rasters becomes one
    multi-band raster (one band per raster, in date order when dated).  The
    implicit zero reference epoch (if any) is not written.  Sources are only read.
    """
    monitor = ensure_monitor(monitor)
    keep = [i for i, e in enumerate(stack.epochs) if not e.implicit]
    meta = dict(stack.metadata) if len(stack.sources) == 1 else {}
    # the source's own reference point no longer applies (MintPy REF_*, earlier re-references)
    previous = {k: meta.pop(k) for k in list(meta)
                if k in ("REF_Y", "REF_X", "REF_LAT", "REF_LON") or
                (k.startswith("reference_") and k != "reference_date")}
    if previous:
        meta["previous_reference"] = "; ".join(f"{k}={v}" for k, v in sorted(previous.items()))[:1000]
    meta.update(_base_metadata(stack, "displacement_toolkit rereference"))
    meta.pop("implicit_reference_epoch", None)
    meta.update(reference.metadata)
    if stack.reference_date:
        meta["reference_date"] = stack.reference_date.isoformat()
    descs, band_meta = [], []
    for i in keep:
        e = stack.epochs[i]
        m = dict(e.metadata)
        m.setdefault("units", stack.units)
        if e.date is not None:
            m["date"] = e.date.isoformat()
        m["reference_value"] = repr(reference.values[i])
        band_meta.append(m)
        descs.append(e.description or (e.date.isoformat() if e.date else os.path.basename(e.path)))
    rows = stack.block_rows(2)
    total = max(1, len(keep) * stack.height)
    done = 0
    with RasterWriter(output, stack.width, stack.height, stack.geotransform, stack.crs_wkt,
                      len(keep), descs, band_meta, meta) as w:
        run = engine_for_stack(engine, stack, monitor)
        tasks = ((out_band, _BlockTask(r0, n, stack.window_reader([i]), reference.values[i]))
                 for out_band, i in enumerate(keep, start=1)
                 for r0, n in iter_blocks(stack.height, rows))
        for (out_band, task), block in zip_tasks(run, _band_task, tasks, monitor):
            w.write(out_band, task.row, block)
            done += task.rows
            monitor.update(done / total)
        monitor.info(f"work done: {run.summary()}")
        stats = [w.stats(b) for b in range(1, len(keep) + 1)]
    return RereferenceResult(w.path, reference, stats, len(keep))


# --------------------------------------------------------------------------- asc/desc series
def common_dates(date_lists: Sequence[Sequence], step_days: int = 0) -> List[_dt.date]:
    """Target dates for combining several series: within the span they all cover
    (latest first date .. earliest last date), either the union of their dates
    (``step_days`` = 0) or every ``step_days`` days from the start of that span.
    Raises ValueError when the series do not overlap in time."""
    lists = [[_dates.parse_date(d) for d in dl] for dl in date_lists]
    if any(not dl for dl in lists):
        raise ValueError("a track has no dates")
    lo = max(min(dl) for dl in lists)
    hi = min(max(dl) for dl in lists)
    if lo > hi:
        spans = "; ".join(f"{min(dl).isoformat()} to {max(dl).isoformat()}" for dl in lists)
        raise ValueError(f"the tracks do not overlap in time ({spans}): they need a common period")
    if step_days and step_days > 0:
        out, d = [], lo
        while d <= hi:
            out.append(d)
            d += _dt.timedelta(days=int(step_days))
        return out
    return sorted({d for dl in lists for d in dl if lo <= d <= hi})


def interpolation_weights(source_dates: Sequence, targets: Sequence):
    """Linear interpolation in time (calendar days) of a series acquired on
    ``source_dates`` (sorted) at ``targets``: arrays ``i0``, ``i1`` (bracketing
    acquisitions), ``w0``, ``w1`` (weights, w0 + w1 = 1; an exact date has w1 = 0)
    and ``inside`` (False outside the series' span: never extrapolated)."""
    src = np.array([_dates.parse_date(d).toordinal() for d in source_dates], dtype=np.float64)
    tgt = np.array([_dates.parse_date(d).toordinal() for d in targets], dtype=np.float64)
    if np.any(np.diff(src) <= 0):
        raise ValueError("the source dates must be sorted and distinct")
    inside = (tgt >= src[0]) & (tgt <= src[-1])
    i1 = np.clip(np.searchsorted(src, tgt, side="left"), 0, src.size - 1)
    exact = src[i1] == tgt
    i0 = np.where(exact, i1, np.clip(i1 - 1, 0, src.size - 1))
    span = src[i1] - src[i0]
    with np.errstate(divide="ignore", invalid="ignore"):
        w1 = np.where(span > 0, (tgt - src[i0]) / np.where(span > 0, span, 1.0), 0.0)
    w1 = np.where(inside, w1, np.nan)
    return i0, i1, 1.0 - w1, w1, inside


def interpolate_in_time(source_dates: Sequence, values: np.ndarray, targets: Sequence) -> np.ndarray:
    """``values`` (n_dates, ...) linearly interpolated in time at ``targets`` ->
    (n_targets, ...).  NaN outside the span of ``source_dates`` (never
    extrapolated) and wherever a bracketing value with a non-zero weight is NaN."""
    v = np.asarray(values, dtype=np.float64)
    i0, i1, w0, w1, inside = interpolation_weights(source_dates, targets)
    shape = (-1,) + (1,) * (v.ndim - 1)
    a, b = v[i0], v[i1]
    w0r, w1r = w0.reshape(shape), w1.reshape(shape)
    out = w0r * a + np.where(w1r > 0, w1r * b, 0.0)
    out = np.where(np.isnan(a) | ((w1r > 0) & np.isnan(b)), np.nan, out)
    out[~inside] = np.nan
    return out


@dataclass
class Track:
    """One LOS time series of a decomposition: its rasters (``paths``, as for
    :func:`open_stack`), its viewing geometry and its noise.

    Geometry: constant ``incidence`` (degrees from the vertical) and ``heading``
    (degrees clockwise from north, ``look_direction`` right/left), or
    ``enu_path``, a 3-band raster of the ground→satellite LOS unit vector
    (east, north, up) on any grid (resampled onto the common grid).
    ``sigma``: 1-sigma of one displacement value of this track (its unit);
    0 = unknown (equal weights).  LOS positive toward the satellite.
    """

    paths: Sequence[str]
    incidence: Optional[float] = None
    heading: Optional[float] = None
    look_direction: str = "right"
    enu_path: Optional[str] = None
    sigma: float = 0.0
    name: str = ""


@dataclass
class DecomposeResult:
    paths: Dict[str, str]
    dates: List[_dt.date]
    units: str
    stats: Dict[str, Dict[str, float]]
    grid: object
    max_gap_days: List[int]


def timeseries_decompose(tracks: Sequence[Track], east_path: str, up_path: str,
                         sigma_east_path: Optional[str] = None, sigma_up_path: Optional[str] = None,
                         step_days: int = 0, resampling: str = "bilinear",
                         max_condition: Optional[float] = None, monitor=None,
                         coverage: str = "all", engine=None) -> DecomposeResult:
    """East and up time series from two or more LOS time series on different dates and grids.

    1. Grid: :func:`.grid.plan_grid` of the tracks (coarsest resolution, pixels
       aligned with the first track's, so that tracks on its grid are read as they
       are; extent: their intersection, or their union with ``coverage``
       ``any``); each layer is read through :class:`.grid.GridReader`
       (``resampling``).
    2. Dates: :func:`common_dates` (the union of the acquisitions within the
       period all tracks cover, or every ``step_days`` days).
    3. Each track is interpolated linearly in time onto those dates
       (:func:`interpolate_in_time`; never extrapolated) and shifted so that it is
       zero at the first common date, which becomes the reference date of the
       outputs (each track was relative to its own reference date).
    4. Per date and pixel, :func:`.decomposition.solve_wls` with the ``east_up``
       model (north motion assumed zero; its leakage is described in
       :mod:`.decomposition`), weights 1/sigma² of the interpolated values
       (sigma·sqrt(w0² + w1²)).  With ``coverage`` ``any`` a pixel outside some
       tracks is solved with the others when they determine east and up
       (:func:`.decomposition.solve_columns` with ``partial``), e.g. ascending +
       descending where a second descending track does not reach.

    Outputs (one band per common date, band metadata ``date``, dataset
    ``reference_date``): east and up displacement (unit of the first track,
    east positive eastward, up positive upward) and optionally their 1-sigma
    (same unit; without track sigmas the noise amplification, unit 1).
    The interpolation error (linear interpolation of the true motion between
    acquisitions h days apart) is at most h²/8 · max|d''| and is not in the sigma
    (docs/timeseries.md).
    """
    from . import decomposition as dec
    from . import grid as _grid
    from .units import unit_factor

    monitor = ensure_monitor(monitor)
    if len(tracks) < 2:
        raise ValueError("a decomposition needs at least two tracks (e.g. ascending and descending)")
    if coverage not in dec.COVERAGE_CHOICES:
        raise ValueError(f"unknown coverage {coverage!r}: use one of {', '.join(dec.COVERAGE_CHOICES)}")
    stacks: List[Stack] = []
    for k, tr in enumerate(tracks):
        st = open_stack(tr.paths)
        if any(e.product is not None for e in st.epochs):
            raise ValueError(f"track {k + 1}: HDF5 series are not resampled here; write them as a "
                             "dated GeoTIFF with displacement:load_product first")
        stacks.append(st)
    units = stacks[0].units
    factors = [unit_factor(st.units, units) for st in stacks]
    targets = common_dates([st.dates for st in stacks], step_days)
    if len(targets) < 2:
        raise ValueError(f"the tracks share only {len(targets)} date(s) of common period: "
                         "a time series needs at least two")
    infos = [raster_info(next(e.path for e in st.epochs if not e.implicit)) for st in stacks]
    grid = _grid.plan_grid(infos, extent="union" if coverage == "any" else "intersection",
                           resolution="coarsest", reference=0)
    # geometry per track: constants or per-pixel ENU readers
    geoms = []
    for k, tr in enumerate(tracks):
        if tr.enu_path:
            for b in (1, 2, 3):
                _grid.GridReader(tr.enu_path, grid, b, "bilinear").close()   # errors now
            geoms.append(("raster", tuple(BandSource(tr.enu_path, b, grid, "bilinear")
                                          for b in (1, 2, 3))))
        else:
            md = stacks[k].metadata
            if tr.incidence is None and md.get("geometry_incidence"):
                tr.incidence = float(md["geometry_incidence"])      # written by load_product
            if tr.heading is None and md.get("geometry_heading"):
                tr.heading = float(md["geometry_heading"])
            if tr.incidence is None or tr.heading is None:
                raise ValueError(f"track {k + 1}: give its incidence and heading, or a LOS "
                                 "unit-vector raster (the raster carries no geometry_incidence / "
                                 "geometry_heading metadata)")
            validation.incidence(tr.incidence, f"INCIDENCE_{k + 1}")
            validation.heading(tr.heading, f"HEADING_{k + 1}")
            geoms.append(("const", dec.observation_unit_vector("los", tr.incidence, tr.heading,
                                                               "heading", tr.look_direction)))
    readers = []
    for st in stacks:
        for e in st.epochs:
            if not e.implicit:
                _grid.GridReader(e.path, grid, e.band, resampling).close()   # errors now
        readers.append(EpochsReader(grid.width, tuple(
            None if e.implicit else BandSource(e.path, e.band, grid, resampling)
            for e in st.epochs)))
    weights = [interpolation_weights(st.dates, targets) for st in stacks]
    sig_obs = []
    for tr, (_, _, w0, w1, _), f in zip(tracks, weights, factors):
        s = float(tr.sigma or 0.0) * f
        sig_obs.append(s * np.sqrt(w0 ** 2 + w1 ** 2) if s > 0 else None)
    use_sigma = all(s is not None for s in sig_obs)
    basis = dec.component_basis("east_up")
    max_cond = dec.DEFAULT_MAX_CONDITION if max_condition is None else float(max_condition)
    gaps = []
    for st, (i0, i1, _, _, _) in zip(stacks, weights):
        d = [st.dates[a] for a in i0], [st.dates[b] for b in i1]
        gaps.append(max((b - a).days for a, b in zip(*d)))
    ref_day = targets[0]
    meta = {"software": "displacement_toolkit timeseries_decompose",
            "reference_date": ref_day.isoformat(), "model": "east_up (north assumed zero)",
            "interpolation": "linear in time, not extrapolated; each track shifted to zero at "
                             "the reference date",
            "dates": ",".join(d.isoformat() for d in targets),
            "resampling": resampling, "max_condition": f"{max_cond:g}", "coverage": coverage}
    for k, (tr, st, gap) in enumerate(zip(tracks, stacks, gaps), start=1):
        meta[f"track{k}"] = (f"{tr.name or ';'.join(os.path.basename(p) for p in st.sources)[:500]}: "
                             f"{st.span()}, source reference {st.reference_date}, "
                             f"max gap {gap} days")
        if not tr.enu_path:
            meta[f"track{k}_geometry"] = f"incidence {tr.incidence} deg, heading {tr.heading} deg"
        else:
            meta[f"track{k}_geometry"] = os.path.basename(tr.enu_path)
    sig_unit = units if use_sigma else "1"
    outputs = [("east", east_path, units, "east_displacement", "east"),
               ("up", up_path, units, "up_displacement", "up"),
               ("sigma_east", sigma_east_path, sig_unit, "east_displacement_sigma", "east 1-sigma"),
               ("sigma_up", sigma_up_path, sig_unit, "up_displacement_sigma", "up 1-sigma")]
    writers, paths, stats = {}, {}, {}
    T = len(targets)
    try:
        for key, path, unit, quantity, label in outputs:
            if not path:
                continue
            writers[key] = RasterWriter(
                path, grid.width, grid.height, grid.geotransform, grid.crs_wkt, T,
                [f"{label} {d.isoformat()} ({unit})" for d in targets],
                [_band_meta(unit, quantity, {"date": d.isoformat(),
                                             "reference_date": ref_day.isoformat()})
                 for d in targets], dict(meta))
        run = engine or engine_from_environment()
        monitor.info(f"work runs on: {run.describe()}")
        n_layers = sum(st.count for st in stacks) + 6 * T
        rows = max(1, block_rows(grid.width, 8 * n_layers, STACK_BLOCK_BYTES) // run.in_flight)
        tracks_data = tuple((tuple(st.dates), rd, f) for st, rd, f in zip(stacks, readers, factors))
        tasks = (_SeriesDecompositionTask(r0, n, grid.width, tracks_data, tuple(targets),
                                          tuple(geoms), basis, tuple(sig_obs), use_sigma,
                                          max_cond, coverage == "any")
                 for r0, n in iter_blocks(grid.height, rows))
        for task, blocks in zip_tasks(run, _decompose_series_block, tasks, monitor):
            for key, w in writers.items():
                for t in range(T):
                    w.write(t + 1, task.row,
                            blocks[key][t].reshape(task.rows, grid.width).astype(np.float32))
            monitor.update((task.row + task.rows) / grid.height)
        monitor.info(f"work done: {run.summary()}")
        for key, w in writers.items():
            stats[key] = w.stats(T)   # the last date: the largest displacements
            paths[key] = w.commit()
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    return DecomposeResult(paths, targets, units, stats, grid, gaps)


@dataclass(frozen=True)
class _SeriesDecompositionTask:
    """One row block of :func:`timeseries_decompose`."""

    row: int
    rows: int
    width: int
    tracks: tuple       # per track: (dates, EpochsReader on the grid, unit factor)
    targets: tuple
    geometries: tuple   # per track: ("const", unit vector) or ("raster", three BandSources)
    basis: np.ndarray = field(compare=False)
    sigmas: tuple = ()
    use_sigma: bool = False
    max_condition: float = 0.0
    partial: bool = False


def _decompose_series_block(task: _SeriesDecompositionTask) -> Dict[str, np.ndarray]:
    """East, up and their sigmas of one block: arrays (dates, pixels) per output key."""
    from . import decomposition as dec

    P = task.rows * task.width
    T = len(task.targets)
    obs = np.empty((T, P, len(task.tracks)))
    for k, (dates, epochs, factor) in enumerate(task.tracks):
        layers = list(epochs.read(task.row, task.rows))
        implicit = [source is None for source in epochs.sources]
        if any(implicit):
            # the implicit reference epoch: zero where the track has data, NaN outside
            covered = np.any([np.isfinite(v) for v, i in zip(layers, implicit) if not i], axis=0)
            zero = np.where(covered, 0.0, np.nan).astype(np.float32)
            layers = [zero if i else v for v, i in zip(layers, implicit)]
        cube = np.stack(layers).reshape(len(dates), P).astype(np.float64) * factor
        series = interpolate_in_time(list(dates), cube, list(task.targets))
        obs[:, :, k] = series - series[0]
    vecs = []
    for kind, g in task.geometries:
        if kind == "const":
            vecs.append(tuple(float(c) for c in g))
        else:
            vecs.append(tuple(r.read(task.row, task.rows).reshape(P).astype(np.float64)
                              for r in g))
    G = dec.design_matrix(dec.stack_unit_vectors(vecs, P), task.basis)
    out = {key: np.empty((T, P)) for key in ("east", "up", "sigma_east", "sigma_up")}
    for t in range(T):
        sigma = np.array([s[t] for s in task.sigmas]) if task.use_sigma else None
        res = dec.solve_wls(G, obs[t], sigma, task.max_condition, partial=task.partial)
        out["east"][t], out["up"][t] = res.x[:, 0], res.x[:, 1]
        out["sigma_east"][t], out["sigma_up"][t] = res.sigma[:, 0], res.sigma[:, 1]
    return out


__all__ = [
    "COMMON_GRID_HINT", "CumulativeResult", "Epoch", "FitResult", "Reference", "RereferenceResult",
    "Selection", "Stack", "VelocityResult", "check_date_range", "cumulative_displacement",
    "design_matrix", "expand_sources", "fit_pixels", "gnss_reference", "gnss_station_position",
    "nearest_acquisition", "open_stack",
    "point_reference", "polygon_reference", "rereference", "timeseries_velocity",
    "transform_point", "wgs84_wkt", "years_since", "Track", "DecomposeResult", "common_dates",
    "interpolation_weights", "interpolate_in_time", "timeseries_decompose",
    "TIME_AXES", "STEP_RULES", "decimal_years", "step_column", "acquisition_seconds",
]
