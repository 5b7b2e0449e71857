"""Interactive inspection of displacement rasters (Qt-free logic of the Inspector dock).

Sampling
    :func:`sample_point` gives, for one band, the **median of the finite values
    of the pixels whose centres lie within ``radius`` pixels of the centre of
    the pixel containing the map point** (radius 0 = that pixel alone).
    :func:`sample_series` does it for every band of a dated raster (a time
    series, see :mod:`.dates`) and returns the dates with the values.

Velocity
    :func:`linear_velocity` fits ``value = v · t + c`` by ordinary least squares
    over an optional date range (inclusive), with t the time since the first date
    used in years of 365.25 days (as :mod:`.units`), with the model code of
    ``displacement:timeseries_velocity`` (:mod:`.timeseries`). ``v`` is in the raster's
    unit per year (m → m/yr); its standard error comes from the fit residuals.

Re-referencing
    :func:`rereference_raster` writes a NEW raster where every band is the
    source band minus the reference value of that band (the radius median at
    the reference point), so the reference point becomes zero. The source is
    never modified.  Units are unchanged.

Plot units
    :func:`series_for_axis` converts every series of one plot axis to one unit (the
    user's choice, by default the first series' unit) and sets aside those that cannot be.

Guided-dialog previews
    :func:`window_grid` lays the offset-tracking window centres over an image;
    :func:`estimate_offset_tracking` estimates output size and run time.
    (The decomposition dialog's preview uses :mod:`.decomposition` directly.)
"""

from __future__ import annotations

import csv
import datetime as _dt
import math
import time
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import dates as _dates
from . import units as _units
from .raster_io import (
    RasterError,
    RasterWriter,
    block_rows,
    iter_blocks,
    map_to_pixel,
    open_raster,
    raster_info,
    read_block,
)

#: Dataset metadata keys shown as "pixel geometry" when present (degrees).
GEOMETRY_KEYS = ("geometry_incidence", "geometry_los_azimuth", "geometry_heading",
                 "geometry_look_direction", "incidence_angle", "incidence", "heading",
                 "heading_angle", "los_azimuth", "look_direction", "orbit_direction", "platform",
                 "track")


# --------------------------------------------------------------------------- sampling
def pixel_of(geotransform: Sequence[float], x: float, y: float) -> Tuple[int, int]:
    """(col, row) of the pixel containing map point (``x``, ``y``)."""
    col, row = map_to_pixel(geotransform, x, y)
    return int(math.floor(float(col))), int(math.floor(float(row)))


def _window(info, col: int, row: int, radius: float):
    n = int(math.floor(max(0.0, float(radius))))
    c0, r0 = max(0, col - n), max(0, row - n)
    c1, r1 = min(info.width, col + n + 1), min(info.height, row + n + 1)
    return c0, r0, c1, r1


def _disk_median(block: np.ndarray, c0: int, r0: int, col: int, row: int, radius: float) -> float:
    rr, cc = np.mgrid[r0:r0 + block.shape[0], c0:c0 + block.shape[1]]
    r = max(0.0, float(radius))
    inside = (cc - col) ** 2 + (rr - row) ** 2 <= r * r + 1e-9
    values = block[inside]
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else math.nan


def sample_point(path_or_info, x: float, y: float, band: int = 1, radius: float = 0.0) -> float:
    """Median of the finite values of ``band`` within ``radius`` pixels of the pixel
    containing map point (``x``, ``y``) (coordinates in the raster's CRS).

    Returns NaN when the point is outside the raster or no pixel of the disk
    holds a finite value.  The value is in the band's unit (metadata ``units``).
    """
    return sample_point_bands(path_or_info, x, y, [band], radius)[0]


def sample_point_bands(path_or_info, x: float, y: float, bands: Optional[Sequence[int]] = None,
                       radius: float = 0.0) -> List[float]:
    """:func:`sample_point` for several bands (default: all), reading one small window."""
    info = path_or_info if hasattr(path_or_info, "geotransform") else raster_info(path_or_info)
    bands = list(range(1, info.band_count + 1)) if bands is None else list(bands)
    col, row = pixel_of(info.geotransform, x, y)
    if not (0 <= col < info.width and 0 <= row < info.height):
        return [math.nan] * len(bands)
    c0, r0, c1, r1 = _window(info, col, row, radius)
    ds = open_raster(info.path)
    out = []
    for b in bands:
        block = read_block(ds, b, r0, c0, r1 - r0, c1 - c0)
        if np.iscomplexobj(block):
            block = np.abs(block)
        out.append(_disk_median(block, c0, r0, col, row, radius))
    return out


@dataclass
class BandDescription:
    """What a band holds, for display: unit, quantity, name and date."""

    band: int
    units: str = ""
    quantity: str = ""
    name: str = ""
    date: Optional[_dt.date] = None


def describe_bands(info) -> List[BandDescription]:
    """Unit (metadata ``units`` or GDAL unit type, kept in ``units``), quantity and date of every band."""
    dates = _dates.band_dates(info.band_metadata, info.descriptions, info.path)
    out = []
    for i in range(info.band_count):
        meta = info.band_metadata[i] if i < len(info.band_metadata) else {}
        out.append(BandDescription(
            band=i + 1,
            units=str(meta.get("units", "") or meta.get("unit", "")),
            quantity=str(meta.get("quantity", "")),
            name=_units.split_unit_suffix(info.descriptions[i])[0] if i < len(info.descriptions)
            else "",   # the unit is shown with the value
            date=dates[i],
        ))
    return out


def is_time_series(info) -> bool:
    """True for a raster with at least two bands that all carry a date."""
    if info.band_count < 2:
        return False
    return all(d is not None for d in _dates.band_dates(info.band_metadata, info.descriptions))


def pixel_geometry(info) -> Dict[str, str]:
    """Viewing-geometry items of the dataset metadata (incidence, heading, ...) when known."""
    meta = {k.lower(): v for k, v in info.metadata.items()}
    return {k: meta[k] for k in GEOMETRY_KEYS if k in meta}


def format_value(value: float, units: str = "", digits: int = 4) -> str:
    """``"-0.01234 m"``; ``"no data"`` for NaN."""
    if value is None or not math.isfinite(value):
        return "no data"
    return f"{value:.{digits}g} {units}".strip()


@dataclass
class Series:
    """Values of a dated raster at one place: dates, values (band unit), and where."""

    dates: List[_dt.date]
    values: np.ndarray
    units: str = ""
    x: float = math.nan
    y: float = math.nan
    radius: float = 0.0
    label: str = ""
    reference_date: Optional[_dt.date] = None
    extra: Dict[str, str] = field(default_factory=dict)

    def decimal_years(self) -> np.ndarray:
        return np.array([_dates.decimal_year(d) for d in self.dates], dtype=np.float64)


def sample_series(path_or_info, x: float, y: float, radius: float = 0.0, label: str = "",
                  add_reference_epoch: bool = True) -> Series:
    """Values of every dated band at map point (``x``, ``y``) (radius median), sorted by date.

    With ``add_reference_epoch``, a reference date (metadata ``reference_date``) that is not
    a band date is added with the value 0 (zero by definition; the implicit reference epoch
    of :mod:`.timeseries`).  Raises ValueError when the raster is not a time series (bands
    without dates).
    """
    info = path_or_info if hasattr(path_or_info, "geotransform") else raster_info(path_or_info)
    bands = describe_bands(info)
    if any(b.date is None for b in bands):
        raise ValueError(f"{info.path!r} is not a time series: some bands have no 'date' metadata")
    values = np.array(sample_point_bands(info, x, y, None, radius), dtype=np.float64)
    order = sorted(range(len(bands)), key=lambda i: bands[i].date)
    units = next((b.units for b in bands if b.units), "")
    days = [bands[i].date for i in order]
    values = values[order]
    ref = _dates.reference_date(info.metadata, info.path)
    extra = {}
    col, row = pixel_of(info.geotransform, x, y)
    inside = 0 <= col < info.width and 0 <= row < info.height
    if add_reference_epoch and ref is not None and ref not in days and inside:
        k = sum(d < ref for d in days)
        days.insert(k, ref)
        values = np.insert(values, k, 0.0)
        extra["implicit_reference_epoch"] = ref.isoformat()
    return Series(
        dates=days, values=values, units=units, x=float(x), y=float(y), radius=float(radius),
        label=label or f"({x:.6g}, {y:.6g})", reference_date=ref, extra=extra,
    )


# --------------------------------------------------------------------------- plot units
def series_in_unit(series: Series, unit: str) -> Series:
    """``series`` with its values converted to ``unit`` (:func:`.units.unit_factor`); the
    series itself when it is already in ``unit``.  Raises ValueError when the two units are
    not both lengths or both velocities, or one is unknown or missing."""
    if series.units == unit:
        return series
    if not unit or not series.units:
        raise ValueError(f"{series.label or 'the series'} ({series.units or 'no unit'}) cannot "
                         f"be drawn on an axis in {unit or 'no unit'}")
    factor = _units.unit_factor(series.units, unit)
    return replace(series, values=np.asarray(series.values, dtype=np.float64) * factor,
                   units=_units.normalize_unit(unit))


def display_units(unit: str) -> List[str]:
    """Units a series in ``unit`` can be shown in: ``unit`` and the other lengths (or
    velocities) of :mod:`.units`; just ``[unit]`` for other units (px, rad, ...)."""
    try:
        canonical = _units.normalize_unit(unit)
    except ValueError:
        return [unit] if unit else []
    table = _units.VELOCITY_UNITS if _units.is_velocity_unit(canonical) else _units.LENGTH_UNITS
    return sorted(table, key=lambda u: table[u])


def series_for_axis(series: Sequence[Series], unit: Optional[str] = None):
    """One unit for one plot axis.

    Returns ``(axis_unit, drawn, left_out)``: ``axis_unit`` is ``unit`` or, when None, the
    unit of the first series; ``drawn`` the series converted to it (:func:`series_in_unit`);
    ``left_out`` the series whose unit cannot be converted (they are not drawn on this axis).
    """
    axis = unit if unit is not None else next((s.units for s in series), "")
    drawn, left_out = [], []
    for s in series:
        try:
            drawn.append(series_in_unit(s, axis))
        except ValueError:
            left_out.append(s)
    return axis, drawn, left_out


# --------------------------------------------------------------------------- velocity
@dataclass
class VelocityFit:
    """Linear fit of a series: ``value = velocity * t + intercept`` with t the time since
    ``origin`` in years of 365.25 days (the toolkit's velocity year, :mod:`.units`)."""

    velocity: float   # series unit per year
    intercept: float  # series unit, value of the line at ``origin``
    origin: _dt.date  # first date used
    sigma: float      # standard error of the velocity (1-sigma, as timeseries_velocity)
    count: int
    start: _dt.date
    end: _dt.date

    def line(self, days) -> np.ndarray:
        """Fitted values at the given dates."""
        t = np.array([_dates.years_between(self.origin, d) for d in days], dtype=np.float64)
        return self.velocity * t + self.intercept


def linear_velocity(dates: Sequence, values: Sequence[float], start=None, end=None) -> VelocityFit:
    """Least-squares velocity (value unit per year of 365.25 days) of ``values`` at ``dates``
    (calendar days, UTC) using the finite values dated within [``start``, ``end``]
    (inclusive; None = open).

    The model and the solver are those of ``displacement:timeseries_velocity``
    (:func:`.timeseries.design_matrix`, offset + velocity, and
    :func:`.timeseries.fit_pixels`), so the Inspector shows the velocity and 1-sigma that
    algorithm writes for the same series.  As there, at least three values are needed (two
    fit any line exactly and leave no uncertainty): ValueError otherwise, or when they
    share one date.
    """
    from .timeseries import design_matrix, fit_pixels

    days = [_dates.parse_date(d) for d in dates]
    y = np.asarray(values, dtype=np.float64)
    lo = _dates.parse_date(start) if start is not None else None
    hi = _dates.parse_date(end) if end is not None else None
    keep = np.array([(lo is None or d >= lo) and (hi is None or d <= hi) for d in days], dtype=bool)
    keep &= np.isfinite(y)
    if keep.sum() < 3:
        raise ValueError("a velocity needs at least three valid values in the chosen date range "
                         f"(at least two dates and one more for its uncertainty); {int(keep.sum())} "
                         "given")
    used = [d for d, k in zip(days, keep) if k]
    if len(set(used)) < 2:
        raise ValueError("a velocity needs values on at least two different dates")
    origin = min(used)
    design, _ = design_matrix(used, origin)           # columns: offset, velocity
    fit = fit_pixels(design, y[keep][:, None])
    return VelocityFit(float(fit.coef[1, 0]), float(fit.coef[0, 0]), origin, float(fit.sigma[1, 0]),
                       int(fit.count[0]), origin, max(used))


def velocity_unit(units: str) -> str:
    """``'m'`` -> ``'m/yr'`` (empty stays empty)."""
    return f"{units}/yr" if units else "/yr"


def write_series_csv(path: str, series: Sequence[Series]) -> str:
    """Write series as CSV rows ``label,x,y,radius_px,date,decimal_year,value,units``."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["label", "x", "y", "radius_px", "date", "decimal_year", "value", "units"])
        for s in series:
            for d, v in zip(s.dates, s.values):
                w.writerow([s.label, repr(s.x), repr(s.y), repr(s.radius), d.isoformat(),
                            f"{_dates.decimal_year(d):.6f}",
                            "" if not math.isfinite(v) else repr(float(v)), s.units])
    return path


# --------------------------------------------------------------------------- GNSS stations
#: Fields of a GNSS comparison table (displacement:gnss_timeseries_comparison OUTPUT_TABLE).
STATION_TABLE_FIELDS = ("station", "date", "gnss_los", "insar_los")


def _number(value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


def station_series(rows, station: str) -> Tuple[Series, Series]:
    """GNSS LOS and InSAR LOS series of ``station`` from comparison-table rows (dicts with
    ``station``, ``date``, ``gnss_los``, ``insar_los`` and optionally ``units``), sorted by
    date; empty values become NaN.  Raises ValueError when the station has no rows."""
    picked = [r for r in rows if str(r.get("station")) == str(station)]
    if not picked:
        raise ValueError(f"station {station!r} has no rows in the comparison table")
    picked.sort(key=lambda r: _dates.parse_date(r["date"]))
    days = [_dates.parse_date(r["date"]) for r in picked]
    units = next((str(r["units"]) for r in picked if r.get("units")), "")
    gnss = Series(days, np.array([_number(r.get("gnss_los")) for r in picked]), units,
                  label=f"GNSS LOS {station}")
    insar = Series(days, np.array([_number(r.get("insar_los")) for r in picked]), units,
                   label=f"InSAR LOS {station}")
    return gnss, insar


# --------------------------------------------------------------------------- re-reference
@dataclass
class RereferenceResult:
    """A re-referenced raster: its path, the subtracted value of each band (band unit) and
    the writer statistics of each output band (for styling)."""

    path: str
    reference_values: List[float]
    stats: List[Dict[str, float]]


def rereference_raster(source: str, output: str, x: float, y: float, radius: float = 0.0,
                       monitor=None) -> RereferenceResult:
    """Write ``output``: every band of ``source`` minus its value at the reference point.

    The reference value of each band is the radius median at map point (``x``,
    ``y``) (CRS of the source).  Metadata, descriptions and units are kept;
    ``reference_point`` (``"x y"``), ``reference_radius_px`` and per-band
    ``reference_value`` are added.
    Raises ValueError when the point is outside the raster or a band has no
    valid value there.  The source is only read.
    """
    info = raster_info(source)
    if any(info.is_complex(b) for b in range(1, info.band_count + 1)):
        raise ValueError(f"{source!r} holds complex bands: re-reference a real displacement raster")
    col, row = pixel_of(info.geotransform, x, y)
    if not (0 <= col < info.width and 0 <= row < info.height):
        raise ValueError(f"the reference point ({x:.6g}, {y:.6g}) is outside {source!r}")
    refs = sample_point_bands(info, x, y, None, radius)
    bad = [i + 1 for i, v in enumerate(refs) if not math.isfinite(v)]
    if bad:
        raise ValueError(
            f"the reference point ({x:.6g}, {y:.6g}) has no valid value in band(s) {bad}: "
            "choose a point on valid data or a larger radius")
    band_meta = []
    for i in range(info.band_count):
        meta = dict(info.band_metadata[i]) if i < len(info.band_metadata) else {}
        meta["reference_value"] = repr(refs[i])
        band_meta.append(meta)
    metadata = dict(info.metadata)
    metadata.update({"reference_point": f"{x!r} {y!r}", "reference_radius_px": repr(float(radius)),
                     "rereferenced_from": info.path})
    rows = block_rows(info.width, 4 * max(1, info.band_count))
    ds = open_raster(source)
    total = max(1, info.band_count * info.height)
    done = 0
    with RasterWriter(output, info.width, info.height, info.geotransform, info.crs_wkt,
                      info.band_count, info.descriptions, band_meta, metadata) as writer:
        for b in range(1, info.band_count + 1):
            for r0, n in iter_blocks(info.height, rows):
                block = read_block(ds, b, r0, 0, n, info.width)
                writer.write(b, r0, block - np.float32(refs[b - 1]))
                done += n
                if monitor is not None:
                    monitor.update(done / total)
        stats = [writer.stats(b) for b in range(1, info.band_count + 1)]
    return RereferenceResult(writer.path, refs, stats)


# --------------------------------------------------------------------------- offset tracking
@dataclass
class WindowGrid:
    """Window centres as fractional pixel positions (GDAL convention: (0, 0) is the
    upper-left corner of the first pixel), exactly those of :mod:`.offset_tracking`."""

    cols: np.ndarray
    rows: np.ndarray

    @property
    def shape(self) -> Tuple[int, int]:
        return (self.rows.size, self.cols.size)

    @property
    def count(self) -> int:
        return int(self.rows.size * self.cols.size)


def _tracking_parameters(window_x, window_y, search_x, search_y, step_x, step_y):
    from .offset_tracking import TrackingParameters

    return TrackingParameters(window_x=int(window_x), window_y=int(window_y),
                              search_x=int(search_x), search_y=int(search_y),
                              step_x=int(step_x), step_y=int(step_y))


def window_grid(width: int, height: int, window_x: int, window_y: int, search_x: int,
                search_y: int, step_x: int, step_y: int) -> WindowGrid:
    """The offset-tracking window grid of a ``width`` x ``height`` reference image
    (:func:`.offset_tracking.output_grid`: window tops at ``search + k * step`` while the
    window and its search margin fit).  Raises ValueError with the algorithm's own message
    for settings it would refuse (:meth:`.offset_tracking.TrackingParameters.validate`)."""
    from .offset_tracking import output_grid

    p = _tracking_parameters(window_x, window_y, search_x, search_y, step_x, step_y)
    p.validate(int(width), int(height))
    cols, rows = output_grid(int(width), int(height), p)
    return WindowGrid(np.asarray(cols, dtype=np.float64), np.asarray(rows, dtype=np.float64))


def seconds_per_window(window_x: int, window_y: int, search_x: int, search_y: int,
                       is_complex: bool = False, preset: str = "accurate", batch: int = 64,
                       repeats: int = 1) -> float:
    """Measured time (s) per window of the fine pass of :func:`.offset_tracking.track_offsets`
    (oversampling, correlation and peak; default settings but ``preset``, steps of half the
    window, no coarse pass) on random images holding four rows of ``batch / 4`` windows, on
    this machine: the best of ``repeats`` runs divided by the number of windows."""
    from .offset_tracking import track_offsets

    p = _tracking_parameters(window_x, window_y, search_x, search_y,
                             max(1, int(window_x) // 2), max(1, int(window_y) // 2))
    p.coarse_search = False
    p.preset = str(preset)
    per_row = max(1, -(-int(batch) // 4))
    width = p.window_x + 2 * p.search_x + (per_row - 1) * p.step_x
    height = p.window_y + 2 * p.search_y + 3 * p.step_y
    rng = np.random.default_rng(0)
    shape = (height, width)
    if is_complex:
        ref = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
        sec = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    else:
        ref = rng.random(shape).astype(np.float32) + 0.5
        sec = rng.random(shape).astype(np.float32) + 0.5
    best = math.inf
    for _ in range(max(1, int(repeats))):
        t0 = time.perf_counter()
        res = track_offsets(ref, sec, p)
        best = min(best, time.perf_counter() - t0)
    return best / res.dx.size


@dataclass
class OffsetTrackingEstimate:
    windows: int
    grid_shape: Tuple[int, int]
    output_bytes: int
    seconds: float


#: Factor on the fine-pass correlation time for reading, the coarse pass, filters and writing.
RUN_TIME_OVERHEAD = 1.3

#: What each local thread beyond the first adds to offset tracking, as a share of one: two
#: threads tracked a Sentinel-1 swath-sized pair 1.64x and 1.72x as fast as one
#: (docs/scaling.md, runs E and F of benchmarks/bench_frame_scale.py).
ADDED_THREAD_SPEED = 0.68


def estimate_offset_tracking(width: int, height: int, window_x: int, window_y: int,
                             search_x: int, search_y: int, step_x: int, step_y: int,
                             output_bands: int = 3, seconds_each: Optional[float] = None,
                             overhead: float = RUN_TIME_OVERHEAD,
                             is_complex: bool = False, threads: int = 1) -> OffsetTrackingEstimate:
    """Number of windows (= output pixels), output size (uncompressed float32 bytes, an
    upper bound of the compressed GeoTIFF) and run time (s): windows x measured time per
    window on one thread (:func:`seconds_per_window` unless ``seconds_each`` is given) x
    ``overhead``, divided by the speed-up of ``threads`` local threads
    (1 + :data:`ADDED_THREAD_SPEED` per thread beyond the first)."""
    grid = window_grid(width, height, window_x, window_y, search_x, search_y, step_x, step_y)
    if seconds_each is None:
        seconds_each = seconds_per_window(window_x, window_y, search_x, search_y, is_complex)
    size = grid.count * int(output_bands) * 4
    speed_up = 1.0 + ADDED_THREAD_SPEED * (max(1, int(threads)) - 1)
    return OffsetTrackingEstimate(grid.count, grid.shape, size,
                                  grid.count * seconds_each * overhead / speed_up)


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return f"{n:.1f} GiB"


def format_seconds(s: float) -> str:
    """``95`` -> ``'1 min 35 s'``."""
    if s < 1:
        return "< 1 s"
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {(s % 3600) // 60} min"


# --------------------------------------------------------------------------- guided dialogs
_INCIDENCE_KEYS = ("geometry_incidence", "incidence_angle", "incidence", "incidenceangle",
                   "incidence_mid_swath")
_HEADING_KEYS = ("geometry_heading", "heading", "heading_angle", "platformheading")
_LOS_AZIMUTH_KEYS = ("geometry_los_azimuth", "los_azimuth", "azimuthangle")
_LOOK_KEYS = ("geometry_look_direction", "look_direction", "antenna_side")


def _first_float(meta: Dict[str, str], keys) -> Optional[float]:
    for key in keys:
        if key in meta:
            try:
                value = float(meta[key])
            except (TypeError, ValueError):
                continue
            if math.isfinite(value):
                return value
    return None


def guess_track(info, band: int = 1) -> Dict[str, object]:
    """What a decomposition track is, from product metadata (toolkit imports write
    ``geometry_incidence``/``geometry_heading``/``geometry_los_azimuth``/
    ``geometry_look_direction``; plain ``incidence_angle``/``heading`` also work).

    Returns ``kind`` (``los``, ``range_offset``, ``azimuth_offset`` from the band's
    ``quantity``, default ``los``), ``incidence`` (degrees from the vertical or None),
    ``heading`` (degrees clockwise from north or None; converted from a LOS azimuth with
    :func:`.geometry.los_azimuth_to_heading` when only that is known), ``look_direction``
    and ``sigma`` (None).
    """
    from .geometry import los_azimuth_to_heading

    meta = {str(k).lower(): v for k, v in info.metadata.items()}
    bmeta = info.band_metadata[band - 1] if band - 1 < len(info.band_metadata) else {}
    quantity = str(bmeta.get("quantity", "")).lower()
    kind = "los"
    if "range" in quantity and "offset" in quantity:
        kind = "range_offset"
    elif ("azimuth" in quantity or "along" in quantity) and "offset" in quantity:
        kind = "azimuth_offset"
    look = "right"
    for key in _LOOK_KEYS:
        if str(meta.get(key, "")).lower() in ("right", "left"):
            look = str(meta[key]).lower()
            break
    recorded = _recorded_geometry(info, band)
    if "look_direction" in recorded and str(recorded["look_direction"]).lower() in ("right", "left") \
            and not any(meta.get(key) for key in _LOOK_KEYS):
        look = str(recorded["look_direction"]).lower()
    incidence = _first_float(meta, _INCIDENCE_KEYS)
    if incidence is None:
        incidence = recorded.get("incidence")
    heading = _first_float(meta, _HEADING_KEYS)
    if heading is None:
        heading = recorded.get("heading")
    if heading is None:
        azimuth = _first_float(meta, _LOS_AZIMUTH_KEYS)
        if azimuth is None:
            azimuth = recorded.get("los_azimuth")
        if azimuth is not None:
            heading = float(los_azimuth_to_heading(azimuth, look))
    return {"kind": kind, "incidence": incidence, "heading": heading,
            "look_direction": look, "sigma": None}


def _recorded_geometry(info, band: int) -> Dict[str, object]:
    """The constant geometry the algorithms take as default for ``band`` of the raster
    (:func:`.products.defaults.raster_defaults`: the toolkit's metadata, PyRate's
    ``INCIDENCE_DEGREES``, a processor product's parameters), so a guided dialog shows
    the values a run would use; ``{}`` when none."""
    from .products.defaults import raster_defaults

    try:
        recorded = raster_defaults(info.path, band)
    except (ValueError, RuntimeError):
        return {}
    out: Dict[str, object] = {}
    for key in ("incidence", "heading", "los_azimuth"):
        if key in recorded:
            try:
                out[key] = float(recorded[key].value)
            except (TypeError, ValueError):
                pass
    if "look_direction" in recorded:
        out["look_direction"] = recorded["look_direction"].value
    return out


def geometry_layer_files(info) -> Dict[str, str]:
    """Per-pixel geometry rasters named by a product's metadata (``geometry_incidence_layer``,
    ``geometry_los_azimuth_layer``) found next to the raster, as ``displacement:load_product``
    writes them (``<stem>_<layer>.tif`` in the same folder; the file sharing the longest
    prefix with the raster's name wins).  Returns ``{"incidence": path, "los_azimuth":
    path}`` for those that exist."""
    import glob
    import os
    import re

    folder = os.path.dirname(os.path.abspath(info.path))
    base = os.path.basename(info.path)
    meta = {str(k).lower(): v for k, v in info.metadata.items()}
    found = {}
    for key in ("incidence", "los_azimuth"):
        name = meta.get(f"geometry_{key}_layer")
        if not name:
            continue
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("_") or "layer"
        candidates = [p for p in glob.glob(os.path.join(glob.escape(folder), f"*{safe}.tif"))
                      if os.path.basename(p) in (f"{safe}.tif",) or
                      os.path.basename(p).endswith(f"_{safe}.tif")]
        candidates = [p for p in candidates if os.path.basename(p) != base]
        if candidates:
            found[key] = max(sorted(candidates),
                             key=lambda p: len(os.path.commonprefix([os.path.basename(p), base])))
    return found


def read_overview(path: str, band: int = 1, max_size: int = 400) -> Tuple[np.ndarray, float]:
    """A decimated copy of ``band`` at most ``max_size`` pixels on its longer side (GDAL
    nearest-neighbour resampling, overviews used when present), nodata as NaN, magnitude
    for complex data.  Returns ``(array, scale)`` with ``scale`` = full-resolution pixels
    per overview pixel."""
    ds = open_raster(path)
    b = ds.GetRasterBand(int(band))
    w, h = ds.RasterXSize, ds.RasterYSize
    scale = max(1.0, max(w, h) / float(max_size))
    bw, bh = max(1, int(round(w / scale))), max(1, int(round(h / scale)))
    raw = b.ReadAsArray(0, 0, w, h, buf_xsize=bw, buf_ysize=bh)
    if raw is None:
        raise RasterError(f"cannot read band {band} of {path!r}")
    if np.iscomplexobj(raw):
        raw = np.abs(raw)
    out = raw.astype(np.float32)
    nodata = b.GetNoDataValue()
    if nodata is not None and not math.isnan(nodata):
        out[raw == nodata] = np.nan
    return out, w / float(bw)


__all__ = [
    "BandDescription", "display_units", "series_for_axis", "series_in_unit",
    "OffsetTrackingEstimate", "RasterError", "Series", "VelocityFit",
    "RereferenceResult", "WindowGrid", "describe_bands", "estimate_offset_tracking",
    "format_bytes", "format_seconds", "format_value", "geometry_layer_files", "guess_track", "is_time_series",
    "linear_velocity", "read_overview",
    "pixel_geometry", "pixel_of", "rereference_raster", "sample_point",
    "sample_point_bands", "sample_series", "station_series", "seconds_per_window",
    "velocity_unit", "window_grid",
    "write_series_csv",
]
