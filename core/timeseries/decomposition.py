"""Ascending/descending LOS time series on different dates and grids -> east and up time
series on common dates (interpolation in time, per-date weighted least squares)."""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from .. import dates as _dates
from .. import validation
from ..execution import (
    TASK_BYTES,
    BandSource,
    engine_from_environment,
    task_windows,
    zip_tasks,
)
from ..progress import ensure_monitor
from ..raster_io import (
    RasterWriter,
    raster_info,
)
from ..tiles import TileLayout
from .stack import (
    EpochsReader,
    open_stack,
    Stack,
    _band_meta,
)


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
    from .. import decomposition as dec
    from .. import grid as _grid
    from ..units import unit_factor

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
        # a task holds every layer of its rows as read (float32) and its float32 results
        layers = sum(st.count for st in stacks) + 3 * sum(k == "raster" for k, _ in geoms) \
            + len(writers) * T
        windows = task_windows(grid.height, grid.width, 4 * layers, run.workers)
        tiles = TileLayout(grid.width, grid.height)
        tracks_data = tuple((tuple(st.dates), rd, f) for st, rd, f in zip(stacks, readers, factors))
        tasks = (_SeriesDecompositionTask(r0, n, cols, tracks_data, tuple(targets),
                                          tuple(geoms), basis, tiles, tuple(sig_obs),
                                          use_sigma, max_cond, coverage == "any",
                                          tuple(writers), c0)
                 for r0, n, c0, cols in windows)
        done = 0
        # a track on a finer grid is resampled from source tiles that a task shares with the next
        for task, blocks in zip_tasks(run, _decompose_series_block, tasks, monitor,
                                      neighbours=True):
            for key, w in writers.items():
                for t in range(T):
                    w.write(t + 1, task.row, blocks[key][t], task.col)
            done += task.rows * task.width
            monitor.update(done / (grid.width * grid.height))
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
    tiles: TileLayout                    # the outputs' tiles: results are compressed here
    sigmas: tuple = ()
    use_sigma: bool = False
    max_condition: float = 0.0
    partial: bool = False
    outputs: tuple = ("east", "up", "sigma_east", "sigma_up")
    col: int = 0                         # the block's first column (``width`` columns)


#: Bytes per pixel and target date the solution of a chunk holds (float64 observations of
#: each track, the design matrix and the solutions).
SOLVE_BYTES = 96


def _decompose_series_block(task: _SeriesDecompositionTask) -> Dict[str, list]:
    """The outputs asked for (east, up, their sigmas) of one block: per output key, one
    float32 (rows, width) raster per date, packed by the task's tiles.  Every layer is read
    once for the block; the solution goes in chunks of rows."""
    tracks = []
    for dates, epochs, factor in task.tracks:
        layers = list(epochs.read(task.row, task.rows, task.col, task.width))
        implicit = [source is None for source in epochs.sources]
        if any(implicit):
            # the implicit reference epoch: zero where the track has data, NaN outside
            covered = np.any([np.isfinite(v) for v, i in zip(layers, implicit) if not i], axis=0)
            zero = np.where(covered, 0.0, np.nan).astype(np.float32)
            layers = [zero if i else v for v, i in zip(layers, implicit)]
        tracks.append((dates, np.stack(layers), factor))
    geometries = [(kind, tuple(float(c) for c in g) if kind == "const"
                   else tuple(r.read(task.row, task.rows, task.col, task.width) for r in g))
                  for kind, g in task.geometries]
    T = len(task.targets)
    out = {key: np.empty((T, task.rows, task.width), dtype=np.float32) for key in task.outputs}
    chunk = max(1, TASK_BYTES // (SOLVE_BYTES * T * task.width))
    for c0 in range(0, task.rows, chunk):
        part = slice(c0, min(task.rows, c0 + chunk))
        solution = _solve_series_chunk(task, tracks, geometries, part)
        for key in task.outputs:
            out[key][:, part] = solution[key].reshape(T, part.stop - part.start, task.width)
    return {key: [task.tiles.pack(r, task.row, task.col) for r in rasters]
            for key, rasters in out.items()}


def _solve_series_chunk(task, tracks, geometries, part) -> Dict[str, np.ndarray]:
    """East, up and their sigmas (dates, pixels) of the rows ``part`` of a block."""
    from .. import decomposition as dec

    P = (part.stop - part.start) * task.width
    T = len(task.targets)
    obs = []   # per track: (dates, pixels), zero at the first date
    for dates, cube, factor in tracks:
        values = cube[:, part].reshape(len(dates), P).astype(np.float64) * factor
        series = interpolate_in_time(list(dates), values, list(task.targets))
        obs.append(series - series[0])
    # design-matrix columns: scalars for a constant geometry, so that only the observations
    # are whole-array operations (dec.solve_columns)
    cols = [dec._design_row(g if kind == "const" else
                            tuple(r[part].reshape(P).astype(np.float64) for r in g), task.basis)
            for kind, g in geometries]
    out = {key: np.empty((T, P)) for key in ("east", "up", "sigma_east", "sigma_up")}
    for t in range(T):
        sigma = [float(s[t]) for s in task.sigmas] if task.use_sigma else None
        res = dec.solve_columns(cols, [series[t] for series in obs], sigma, task.max_condition,
                                P, partial=task.partial)
        out["east"][t], out["up"][t] = res.x[:, 0], res.x[:, 1]
        out["sigma_east"][t], out["sigma_up"][t] = res.sigma[:, 0], res.sigma[:, 1]
    return out
