"""Re-referencing a stack: to a point (radius median), a GNSS station or a polygon mean."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np
from osgeo import gdal, ogr, osr

from ..execution import (
    task_windows,
    zip_tasks,
)
from ..progress import ensure_monitor
from ..raster_io import (
    RasterWriter,
    map_to_pixel,
    transform_geometry,
    transform_xy,
    wgs84_wkt,
)
from ..tiles import TileLayout
from .stack import (
    engine_for_stack,
    Stack,
    _base_metadata,
    _BlockTask,
    _minus_value,
)

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

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
    from .. import gnss

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
    transform_geometry(geom, polygon_crs_wkt, stack.crs_wkt)
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
    total = max(1, len(keep) * stack.height * stack.width)
    done = 0
    with RasterWriter(output, stack.width, stack.height, stack.geotransform, stack.crs_wkt,
                      len(keep), descs, band_meta, meta) as w:
        run = engine_for_stack(engine, stack, monitor)
        windows = task_windows(stack.height, stack.width, 8, run.workers)   # a date, its result
        tiles = TileLayout(stack.width, stack.height)
        tasks = ((out_band, _BlockTask(r0, n, stack.window_reader([i]), tiles,
                                       reference.values[i], c0, cols))
                 for out_band, i in enumerate(keep, start=1)
                 for r0, n, c0, cols in windows)
        for (out_band, task), block in zip_tasks(run, _band_task, tasks, monitor):
            w.write(out_band, task.row, block, task.col)
            done += task.rows * task.cols
            monitor.update(done / total)
        monitor.info(f"work done: {run.summary()}")
        stats = [w.stats(b) for b in range(1, len(keep) + 1)]
    return RereferenceResult(w.path, reference, stats, len(keep))
