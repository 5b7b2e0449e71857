"""Analyses of point layers (:mod:`.points`): sub-period velocity, re-referencing,
aggregation onto a grid, and sampling around stations.

* :func:`points_velocity` fits the model of :func:`.timeseries.velocity_model` with
  :func:`.timeseries.fit_pixels` (the code of ``timeseries_velocity``) to each point.
* :func:`points_reference` + :func:`rereference_points`: the reference of each date field
  (and of ``velocity``) is the **median** of the points within a radius of a map point or
  GNSS station, or inside a polygon; it is subtracted from every point.
* :func:`points_to_grid`: per cell, the median (or mean) of the points of a field, NaN
  where fewer than ``min_points`` valid values; the point count; the mean LOS unit vector
  (renormalised), as EGMS Ortho aggregates before its decomposition.
* :func:`sample_points_median`: the median of the points within a radius of each station
  (for the GNSS comparisons), as :func:`.gnss_comparison.sample_median` does for pixels.

Distances: in metres; on a geographic CRS degrees are converted on the sphere of radius
6 371 008.8 m (:func:`.raster_io.pixel_size_metres` uses the same).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from osgeo import ogr, osr

from . import timeseries as ts
from .points import PointLayer, PointWriter, date_field, iter_layer_chunks
from .progress import ensure_monitor
from .raster_io import RasterInfo, RasterWriter, transform_geometry, transform_xy, wgs84_wkt

EARTH_RADIUS = 6371008.8
STATISTICS = ("median", "mean")


def _is_geographic(crs_wkt: str) -> bool:
    if not crs_wkt:
        return False
    srs = osr.SpatialReference()
    srs.ImportFromWkt(crs_wkt)
    return bool(srs.IsGeographic())


def _linear_unit(crs_wkt: str) -> float:
    if not crs_wkt:
        return 1.0
    srs = osr.SpatialReference()
    srs.ImportFromWkt(crs_wkt)
    return float(srs.GetLinearUnits() or 1.0) if not srs.IsGeographic() else 1.0


def distances_m(x: np.ndarray, y: np.ndarray, x0: float, y0: float, crs_wkt: str) -> np.ndarray:
    """Distance in metres from (x0, y0) to the points (same CRS)."""
    if _is_geographic(crs_wkt):
        k = math.pi / 180.0 * EARTH_RADIUS
        return np.hypot((x - x0) * k * math.cos(math.radians(y0)), (y - y0) * k)
    return np.hypot(x - x0, y - y0) * _linear_unit(crs_wkt)


# --------------------------------------------------------------------------- velocity
@dataclass
class PointsVelocityResult:
    path: str
    dates: List[_dt.date]
    columns: List[str]
    count: int
    valid: int


def points_velocity(layer: PointLayer, start, end, output: str, seasonal: bool = False,
                    steps: Sequence = (), monitor=None, time_axis: str = "days",
                    step_rule: str = "on_or_after", seconds: float = 0.0) -> PointsVelocityResult:
    """Velocity of each point over [``start``, ``end``] (model of ``timeseries_velocity``):
    a point layer with ``pid``, ``velocity`` and ``velocity_std`` (mm/yr, 1-sigma from the
    residuals), ``velocity_rms`` (mm), ``step_YYYYMMDD`` (mm) per step and
    ``annual_amplitude`` (mm, with ``seasonal``), plus the LOS fields of the input."""
    monitor = ensure_monitor(monitor)
    if not layer.dates:
        raise ValueError("the point layer has no date fields (DYYYYMMDD): load it with "
                         "displacement:load_points")
    model = ts.velocity_model(layer.dates, start, end, seasonal, steps, time_axis, step_rule,
                              seconds)
    used = [layer.date_fields[i] for i in model.indices]
    step_rows = [model.names.index(f"step_{d.isoformat()}") for d in model.steps]
    los = [f for f in ("los_e", "los_n", "los_u") if layer.has(f)]
    fields = [("pid", "text"), ("velocity", "real"), ("velocity_std", "real"),
              ("velocity_rms", "real")] + [(f"step_{d.strftime('%Y%m%d')}", "real")
                                           for d in model.steps]
    if seasonal:
        fields.append(("annual_amplitude", "real"))
    fields += [(f, "real") for f in los]
    meta = {k: v for k, v in layer.metadata.items() if k in (
        "track", "orbit_direction", "source", "source_format", "los_convention", "level")}
    meta.update({"units": layer.units, "velocity_units": f"{layer.units}/yr",
                 "software": "displacement_toolkit points_velocity",
                 "start_date_requested": model.start.isoformat(),
                 "end_date_requested": model.end.isoformat(),
                 "start_date": model.dates[0].isoformat(), "end_date": model.dates[-1].isoformat(),
                 "acquisitions": ",".join(d.isoformat() for d in model.dates),
                 "model": " + ".join(model.names), "time_origin": model.dates[0].isoformat(),
                 "time_axis": time_axis, "step_rule": step_rule})
    valid = 0
    pid_present = layer.has("pid")
    with PointWriter(output, layer.crs_wkt, fields, "points", meta) as writer:
        for x, y, cols in iter_layer_chunks(layer):
            Y = np.column_stack([cols[f] for f in used]).T
            fit = ts.fit_pixels(model.A, Y)
            out = {"pid": cols["pid"] if pid_present else [str(i) for i in range(len(x))],
                   "velocity": fit.coef[1], "velocity_std": fit.sigma[1], "velocity_rms": fit.rms}
            for d, r in zip(model.steps, step_rows):
                out[f"step_{d.strftime('%Y%m%d')}"] = fit.coef[r]
            if seasonal:
                out["annual_amplitude"] = np.hypot(fit.coef[2], fit.coef[3])
            out.update({f: cols[f] for f in los})
            valid += int(np.isfinite(fit.coef[1]).sum())
            writer.write(x, y, out)
            monitor.update(writer.count / max(1, layer.count))
        path = writer.commit()
    return PointsVelocityResult(path, model.dates, model.names, writer.count, valid)


# --------------------------------------------------------------------------- re-referencing
@dataclass
class PointReference:
    """The reference of each field (``values``: field -> value subtracted), how many points
    it is the median of, and a description for the metadata."""

    values: Dict[str, float]
    count: int
    description: str


def _selection_reference(layer: PointLayer, select, description: str) -> PointReference:
    names = layer.date_fields + [f for f in ("velocity",) if layer.has(f)]
    x, y = layer.xy()            # fid order, as iter_rows
    mask = select(x, y)
    if not mask.any():
        raise ValueError(f"no point lies within the reference ({description}): choose a place "
                         "with points or a larger radius")
    chosen, start = [], 0
    for _, vals in layer.iter_rows(names):
        chosen.append(vals[mask[start:start + len(vals)]])
        start += len(vals)
    table = np.vstack(chosen)
    values = {}
    for j, n in enumerate(names):
        v = table[:, j]
        v = v[np.isfinite(v)]
        if v.size == 0:
            raise ValueError(f"the {int(mask.sum())} reference point(s) ({description}) have no "
                             f"value in {n}: choose other points")
        values[n] = float(np.median(v))
    return PointReference(values, int(mask.sum()), description)


def points_reference(layer: PointLayer, x: float, y: float, point_crs_wkt: str = "",
                     radius: float = 100.0, label: str = "") -> PointReference:
    """Median of the points within ``radius`` metres of (``x``, ``y``) (CRS
    ``point_crs_wkt``, empty = the layer's)."""
    px, py = transform_xy(x, y, point_crs_wkt, layer.crs_wkt) if point_crs_wkt else (x, y)
    px, py = float(px), float(py)
    where = label or f"({x:.10g}, {y:.10g})"
    return _selection_reference(
        layer, lambda xs, ys: distances_m(xs, ys, px, py, layer.crs_wkt) <= radius,
        f"points within {radius:g} m of {where}")


def gnss_points_reference(layer: PointLayer, path: str, station: str = "",
                          radius: float = 100.0) -> PointReference:
    """:func:`points_reference` at a GNSS station (:func:`.timeseries.gnss_station_position`)."""
    name, lon, lat = ts.gnss_station_position(path, station)
    return points_reference(layer, lon, lat, wgs84_wkt(), radius,
                            f"GNSS station {name} (lon {lon:.6f}, lat {lat:.6f})")


def polygon_points_reference(layer: PointLayer, polygon_wkt: str,
                             polygon_crs_wkt: str = "") -> PointReference:
    """Median of the points inside a polygon (WKT in CRS ``polygon_crs_wkt``)."""
    geom = ogr.CreateGeometryFromWkt(polygon_wkt)
    if geom is None or geom.IsEmpty() or geom.GetDimension() != 2:
        raise ValueError("the reference polygon is empty or not a polygon")
    transform_geometry(geom, polygon_crs_wkt, layer.crs_wkt)
    xmin, xmax, ymin, ymax = geom.GetEnvelope()

    def inside(xs, ys):
        mask = (xs >= xmin) & (xs <= xmax) & (ys >= ymin) & (ys <= ymax)
        for i in np.flatnonzero(mask):
            pt = ogr.Geometry(ogr.wkbPoint)
            pt.AddPoint_2D(float(xs[i]), float(ys[i]))
            mask[i] = geom.Contains(pt)
        return mask

    return _selection_reference(layer, inside, "points inside the reference polygon")


def rereference_points(layer: PointLayer, reference: PointReference, output: str,
                       monitor=None) -> str:
    """Copy ``layer`` to ``output`` with each referenced field minus its reference value
    (the reference points become zero); the reference is in the layer metadata."""
    monitor = ensure_monitor(monitor)
    from .points import copy_fields

    meta = dict(layer.metadata)
    meta.update({"reference": reference.description, "reference_points": str(reference.count),
                 "reference_values": ";".join(f"{k}={v!r}" for k, v in reference.values.items())[:4000],
                 "software": "displacement_toolkit points_rereference"})
    with PointWriter(output, layer.crs_wkt, copy_fields(layer), "points", meta) as writer:
        for x, y, cols in iter_layer_chunks(layer):
            for name, value in reference.values.items():
                cols[name] = cols[name] - value
            writer.write(x, y, cols)
            monitor.update(writer.count / max(1, layer.count))
        return writer.commit()


# --------------------------------------------------------------------------- gridding
@dataclass
class Grid:
    geotransform: Tuple[float, ...]
    width: int
    height: int
    crs_wkt: str


def grid_for_points(x: np.ndarray, y: np.ndarray, crs_wkt: str, cell_size: float) -> Grid:
    """A north-up grid of ``cell_size`` metres over the points, aligned on multiples of the
    cell size (on a geographic CRS: degrees equal to ``cell_size`` metres at the points'
    centre latitude on the sphere of radius 6 371 008.8 m)."""
    if not cell_size or cell_size <= 0:
        raise ValueError(f"CELL_SIZE {cell_size!r} must be a positive number of metres")
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise ValueError("the point layer has no point with coordinates")
    if _is_geographic(crs_wkt):
        k = math.pi / 180.0 * EARTH_RADIUS
        lat = 0.5 * (float(y[ok].min()) + float(y[ok].max()))
        dy = cell_size / k
        dx = cell_size / (k * math.cos(math.radians(lat)))
    else:
        dx = dy = cell_size / _linear_unit(crs_wkt)
    x0 = math.floor(float(x[ok].min()) / dx) * dx
    y1 = (math.floor(float(y[ok].max()) / dy) + 1) * dy
    width = int(math.floor((float(x[ok].max()) - x0) / dx)) + 1
    height = int(math.floor((y1 - float(y[ok].min())) / dy)) + 1
    if width * height > 200_000_000:
        raise ValueError(f"CELL_SIZE {cell_size:g} m gives a grid of {width} x {height} cells: "
                         "choose a larger cell")
    return Grid((x0, dx, 0.0, y1, 0.0, -dy), width, height, crs_wkt)


def grid_of_raster(info: RasterInfo) -> Grid:
    return Grid(tuple(info.geotransform), info.width, info.height, info.crs_wkt)


def cell_index(grid: Grid, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Flat cell index of each point (-1 outside the grid)."""
    gt = grid.geotransform
    col = np.floor((x - gt[0]) / gt[1])
    row = np.floor((y - gt[3]) / gt[5])
    ok = np.isfinite(col) & np.isfinite(row) & (col >= 0) & (col < grid.width) & \
        (row >= 0) & (row < grid.height)
    return np.where(ok, row * grid.width + col, -1).astype(np.int64)


def aggregate(cells: np.ndarray, values: np.ndarray, n_cells: int, statistic: str = "median",
              min_points: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """Per-cell median or mean of the finite ``values`` of the points in each cell (index
    from :func:`cell_index`) and the number of values used; NaN where fewer than
    ``min_points``."""
    if statistic not in STATISTICS:
        raise ValueError(f"unknown statistic {statistic!r}: use one of {', '.join(STATISTICS)}")
    ok = (cells >= 0) & np.isfinite(values)
    c, v = cells[ok], values[ok].astype(np.float64)
    count = np.bincount(c, minlength=n_cells)
    out = np.full(n_cells, np.nan)
    if statistic == "mean":
        total = np.bincount(c, weights=v, minlength=n_cells)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = total / count
    elif c.size:
        order = np.lexsort((v, c))
        c, v = c[order], v[order]
        starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        sizes = np.diff(np.r_[starts, c.size])
        lo = v[starts + (sizes - 1) // 2]
        hi = v[starts + sizes // 2]
        out[c[starts]] = 0.5 * (lo + hi)
    out[count < max(1, int(min_points))] = np.nan
    return out, count


@dataclass
class GridResult:
    paths: Dict[str, str]
    grid: Grid
    cells_with_points: int
    cells_valid: int
    points_used: int
    points_outside: int
    stats: Dict[str, Dict[str, float]]
    units: Dict[str, str]


def points_to_grid(layer: PointLayer, grid: Grid, field: Optional[str] = "velocity",
                   output: Optional[str] = None, series_output: Optional[str] = None,
                   count_output: Optional[str] = None, los_output: Optional[str] = None,
                   statistic: str = "median", min_points: int = 1,
                   monitor=None) -> GridResult:
    """Aggregate the points of ``layer`` onto ``grid`` (module docstring).

    ``output``: one band, ``field`` per cell (unit of the field: mm/yr for velocity);
    ``series_output``: one band per date field (band metadata ``date``, dataset
    ``reference_date``, mm) for ``timeseries_decompose``; ``count_output``: points per
    cell; ``los_output``: 3 bands east, north, up of the mean ground-to-satellite unit
    vector (renormalised), for ``decompose`` (unit-vector convention, bands 1 and 2) and
    ``timeseries_decompose``.  Cells with fewer than ``min_points`` valid values are NaN.
    """
    monitor = ensure_monitor(monitor)
    x, y = layer.xy()
    if grid.crs_wkt and layer.crs_wkt:
        x, y = transform_xy(x, y, layer.crs_wkt, grid.crs_wkt)
    cells = cell_index(grid, x, y)
    n_cells = grid.width * grid.height
    inside = cells >= 0
    if not inside.any():
        raise ValueError("no point falls on the grid: check the REFERENCE_LAYER covers the points")
    shape = (grid.height, grid.width)
    point_count = np.bincount(cells[inside], minlength=n_cells)
    meta = {k: v for k, v in layer.metadata.items() if k in (
        "track", "orbit_direction", "source", "source_format", "level", "component")}
    meta.update({"software": "displacement_toolkit points_to_grid", "statistic": statistic,
                 "min_points": str(int(min_points)), "points": str(int(inside.sum()))})
    paths, stats, units = {}, {}, {}
    jobs = sum(bool(p) for p in (output, count_output, los_output)) + \
        (len(layer.date_fields) if series_output else 0)
    done = [0]

    def step():
        done[0] += 1
        monitor.update(done[0] / max(1, jobs))

    def write(key, path, bands, descs, band_meta, extra=None):
        m = dict(meta)
        m.update(extra or {})
        with RasterWriter(path, grid.width, grid.height, grid.geotransform, grid.crs_wkt,
                          len(bands), descs, band_meta, m) as w:
            for b, arr in enumerate(bands, start=1):
                w.write(b, 0, arr.reshape(shape).astype(np.float32))
            stats[key] = w.stats(len(bands))
        paths[key] = w.path
        units[key] = band_meta[0].get("units", "")

    valid_cells = 0
    if output:
        layer.require(field)
        unit = _field_unit(layer, field)
        values, used = aggregate(cells, layer.column(field), n_cells, statistic, min_points)
        valid_cells = int(np.isfinite(values).sum())
        write("output", output, [values], [f"{field} ({statistic} per cell, {unit})"],
              [{"units": unit, "quantity": _quantity(layer, field)}], {"field": field})
        step()
    if series_output:
        if not layer.date_fields:
            raise ValueError("the point layer has no date fields (DYYYYMMDD) for a time series")
        ref = layer.metadata.get("reference_date", "")
        bands, descs, bmeta = [], [], []
        for d, f in zip(layer.dates, layer.date_fields):
            values, _ = aggregate(cells, layer.column(f), n_cells, statistic, min_points)
            bands.append(values)
            descs.append(f"displacement {d.isoformat()} ({layer.units})")
            bmeta.append({"units": layer.units, "date": d.isoformat(),
                          "quantity": _quantity(layer, f)} | ({"reference_date": ref} if ref else {}))
            step()
        extra = {"reference_date": ref} if ref else {}
        write("series", series_output, bands, descs, bmeta, extra)
        valid_cells = valid_cells or int(np.isfinite(bands[-1]).sum())
    if count_output:
        write("count", count_output, [point_count.astype(np.float64)], ["points per cell"],
              [{"units": "1", "quantity": "point_count"}])
        step()
    if los_output:
        for f in ("los_e", "los_n", "los_u"):
            layer.require(f)
        comps = [aggregate(cells, layer.column(f), n_cells, "mean", min_points)[0]
                 for f in ("los_e", "los_n", "los_u")]
        norm = np.sqrt(comps[0] ** 2 + comps[1] ** 2 + comps[2] ** 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            comps = [c / norm for c in comps]
        write("los", los_output, comps, ["LOS unit vector east", "LOS unit vector north",
                                         "LOS unit vector up"],
              [{"units": "1", "quantity": f"los_unit_vector_{c}",
                "convention": "ground to satellite"} for c in ("east", "north", "up")])
        step()
    return GridResult(paths, grid, int((point_count > 0).sum()), valid_cells,
                      int(inside.sum()), int((~inside).sum()), stats, units)


def _field_unit(layer: PointLayer, name: str) -> str:
    if name.startswith("velocity") and name != "velocity_rms":
        return layer.metadata.get("velocity_units", "mm/yr")
    if name.startswith("D") or name.startswith("step_") or name in ("velocity_rms",
                                                                    "annual_amplitude"):
        return layer.units
    alias = layer.aliases.get(name, "")
    return alias[alias.rfind("(") + 1:-1] if alias.endswith(")") else ""


def _quantity(layer: PointLayer, name: str) -> str:
    q = layer.metadata.get("quantity", "los_displacement")
    if name.startswith("velocity") and name != "velocity_rms":
        return q.replace("displacement", "velocity") + ("_sigma" if name.endswith("std") else "")
    return q if name.startswith("D") else name


# --------------------------------------------------------------------------- sampling
def near_points(layer: PointLayer, lon, lat, radius: float) -> List[np.ndarray]:
    """Per station (WGS84 ``lon``, ``lat``): the row indices (fid order) of the points within
    ``radius`` metres."""
    lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    sx, sy = transform_xy(lon, lat, wgs84_wkt(), layer.crs_wkt)
    x, y = layer.xy()
    return [np.flatnonzero(distances_m(x, y, float(sx[i]), float(sy[i]), layer.crs_wkt) <= radius)
            for i in range(lon.size)]


def median_near(values: np.ndarray, near: Sequence[np.ndarray], min_points: int = 1,
                scale: float = 1.0):
    """Per station: the median (x ``scale``) of the finite ``values[near[i]]``, the robust
    spread (1.4826 x MAD x |scale|) and the count; NaN where fewer than ``min_points``."""
    n = len(near)
    value, spread = np.full(n, np.nan), np.full(n, np.nan)
    count = np.zeros(n, dtype=np.int64)
    for i, idx in enumerate(near):
        v = values[idx]
        v = v[np.isfinite(v)]
        count[i] = v.size
        if v.size >= max(1, int(min_points)):
            med = float(np.median(v))
            value[i] = med * scale
            spread[i] = 1.4826 * float(np.median(np.abs(v - med))) * abs(scale)
    return value, spread, count


def sample_points_median(layer: PointLayer, names: Sequence[str], lon, lat, radius: float,
                         min_points: int = 1, scale: float = 1.0):
    """Per station (WGS84 ``lon``, ``lat``) and field: the median (x ``scale``) of the
    finite values of the points within ``radius`` metres, the robust spread and the point
    count (:func:`median_near`).  Arrays (stations, fields)."""
    near = near_points(layer, lon, lat, radius)
    cols = [median_near(layer.column(n), near, min_points, scale) for n in names]
    return tuple(np.column_stack([c[k] for c in cols]) for k in range(3))


__all__ = ["Grid", "GridResult", "PointReference", "PointsVelocityResult", "aggregate",
           "cell_index", "date_field", "distances_m", "gnss_points_reference", "grid_for_points",
           "grid_of_raster", "median_near", "near_points", "points_reference", "points_to_grid",
           "points_velocity", "polygon_points_reference", "rereference_points", "sample_points_median"]
