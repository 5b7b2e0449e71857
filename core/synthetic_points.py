"""Synthetic point datasets with a known east/up motion, written in the formats
:mod:`.points` reads (EGMS CSV, MintPy save_qgis shapefile, StaMPS export, generic CSV).

Each point's LOS displacement is ``d(t) = l · (v_east(x, y), 0, v_up(x, y)) · t +
A (sin(2π t + φ) − sin φ)`` in mm, t in years (365.25 days) since the first date, so every
series is zero at the first date.  ``l`` is the ground-to-satellite unit vector of the
track (:func:`.decomposition.observation_unit_vector`).  The values written are rounded to
0.01 mm (the precision of EGMS and save_qgis files); :class:`SyntheticPoints` keeps the
rounded values, so that a reader must give them back exactly.
"""

from __future__ import annotations

import csv
import datetime as _dt
from dataclasses import dataclass
from typing import Callable, List, Sequence

import numpy as np
from osgeo import ogr, osr

from .raster_io import crs_from_epsg, transform_xy, wgs84_wkt
from .units import DAYS_PER_YEAR


@dataclass
class SyntheticPoints:
    """Points of one track: coordinates (``crs_wkt``), ``lon``/``lat``, ``pid``, ``los`` (n, 3)
    ground to satellite, ``velocity`` (LOS mm/yr, the linear rate), ``series`` (n, dates) mm,
    the truth ``east``/``up`` velocities (mm/yr) and the geometry."""

    x: np.ndarray
    y: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    crs_wkt: str
    pid: List[str]
    dates: List[_dt.date]
    los: np.ndarray
    velocity: np.ndarray
    velocity_std: np.ndarray
    series: np.ndarray
    east: np.ndarray
    up: np.ndarray
    incidence: float
    heading: float
    seasonal_amplitude: float


def los_vector(incidence: float, heading: float) -> np.ndarray:
    from .decomposition import observation_unit_vector

    return np.array(observation_unit_vector("los", incidence, heading, "heading", "right"),
                    dtype=np.float64)


def synthetic_points(n: int, dates: Sequence, bounds, crs_wkt: str, incidence: float,
                     heading: float, east: Callable, up: Callable, seasonal_amplitude: float = 3.0,
                     seed: int = 0, pid_prefix: str = "P") -> SyntheticPoints:
    """``n`` points uniformly in ``bounds`` (xmin, ymin, xmax, ymax in ``crs_wkt``);
    ``east``/``up``: functions (x, y) -> velocity in mm/yr."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(bounds[0], bounds[2], n)
    y = rng.uniform(bounds[1], bounds[3], n)
    lon, lat = transform_xy(x, y, crs_wkt, wgs84_wkt())
    days = sorted(dates)
    t = np.array([(d - days[0]).days / DAYS_PER_YEAR for d in days])
    los = los_vector(incidence, heading)
    ve, vu = np.asarray(east(x, y), dtype=float), np.asarray(up(x, y), dtype=float)
    v = los[0] * ve + los[2] * vu
    phase = rng.uniform(0, 2 * np.pi, n)
    seasonal = seasonal_amplitude * (np.sin(2 * np.pi * t[None, :] + phase[:, None])
                                     - np.sin(phase[:, None]))
    series = np.round(v[:, None] * t[None, :] + seasonal, 2)
    series[:, 0] = 0.0
    return SyntheticPoints(x, y, lon, lat, crs_wkt, [f"{pid_prefix}{i:07d}" for i in range(n)],
                           list(days), np.tile(los, (n, 1)), np.round(v, 2),
                           np.full(n, 0.3), series, ve, vu, incidence, heading,
                           seasonal_amplitude)


def _fmt(v: float, decimals: int = 2) -> str:
    return "" if not np.isfinite(v) else f"{v:.{decimals}f}"


def write_egms_csv(path: str, pts: SyntheticPoints, coordinates: str = "easting",
                   component: str = "") -> str:
    """EGMS L2a/L2b CSV (``component`` '') or L3 Ortho CSV (``component`` ``east``/``up``:
    no LOS columns, the series of that component).  ``coordinates`` ``easting`` writes
    easting/northing (the points must be in EPSG:3035) and latitude/longitude, ``latlon``
    only latitude/longitude."""
    dates = [d.strftime("%Y%m%d") for d in pts.dates]
    head = ["pid", "mp_type"]
    head += ["latitude", "longitude"]
    if coordinates == "easting":
        head += ["easting", "northing"]
    head += ["height", "height_wgs84", "rmse", "temporal_coherence"]
    if not component:
        head += ["incidence_angle", "track_angle", "los_east", "los_north", "los_up"]
    head += ["mean_velocity", "mean_velocity_std", "acceleration", "acceleration_std",
             "seasonality", "seasonality_std"] + dates
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(head)
        for i in range(len(pts.pid)):
            row = [pts.pid[i], "PS", f"{pts.lat[i]:.8f}", f"{pts.lon[i]:.8f}"]
            if coordinates == "easting":
                row += [f"{pts.x[i]:.2f}", f"{pts.y[i]:.2f}"]
            row += ["120.50", "170.30", "1.10", "0.91"]
            if not component:
                row += [f"{pts.incidence:.2f}", f"{pts.heading:.2f}"] + \
                    [f"{c:.4f}" for c in pts.los[i]]
            row += [_fmt(pts.velocity[i]), _fmt(pts.velocity_std[i]), "0.00", "0.05",
                    _fmt(pts.seasonal_amplitude), "0.20"]
            row += [_fmt(v) for v in pts.series[i]]
            w.writerow(row)
    return path


def write_mintpy_shapefile(path: str, pts: SyntheticPoints) -> str:
    """A layer as MintPy ``save_qgis.py`` writes it: EPSG:4326 points, CODE (8-digit hex),
    HEIGHT, H_STDEV, VEL and V_STDEV (mm/yr), COHERENCE, EFF_AREA and DYYYYMMDD (mm)."""
    drv = ogr.GetDriverByName("ESRI Shapefile")
    ds = drv.CreateDataSource(path)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lyr = ds.CreateLayer("mintpy", srs, ogr.wkbPoint)
    specs = [("CODE", ogr.OFTString, 8, 0), ("HEIGHT", ogr.OFTReal, 7, 2),
             ("H_STDEV", ogr.OFTReal, 5, 2), ("VEL", ogr.OFTReal, 8, 2),
             ("V_STDEV", ogr.OFTReal, 6, 2), ("COHERENCE", ogr.OFTReal, 5, 3),
             ("EFF_AREA", ogr.OFTInteger, 0, 0)]
    specs += [(f"D{d.strftime('%Y%m%d')}", ogr.OFTReal, 8, 2) for d in pts.dates]
    for name, kind, width, prec in specs:
        fd = ogr.FieldDefn(name, kind)
        if width:
            fd.SetWidth(width)
            fd.SetPrecision(prec)
        lyr.CreateField(fd)
    defn = lyr.GetLayerDefn()
    for i in range(len(pts.pid)):
        f = ogr.Feature(defn)
        g = ogr.Geometry(ogr.wkbPoint)
        g.AddPoint_2D(float(pts.lon[i]), float(pts.lat[i]))
        f.SetGeometry(g)
        f.SetField("CODE", f"{i + 1:08x}")
        f.SetField("HEIGHT", 120.5)
        f.SetField("H_STDEV", 0.0)
        f.SetField("VEL", float(pts.velocity[i]))
        f.SetField("V_STDEV", float(pts.velocity_std[i]))
        f.SetField("COHERENCE", 0.91)
        f.SetField("EFF_AREA", 1)
        for d, v in zip(pts.dates, pts.series[i]):
            f.SetField(f"D{d.strftime('%Y%m%d')}", float(v))
        lyr.CreateFeature(f)
    ds = None
    return path


def matlab_datenum(day: _dt.date) -> int:
    """MATLAB datenum of a date (1 = 0000-01-01)."""
    return day.toordinal() + 366


def write_stamps_csv(path: str, pts: SyntheticPoints) -> str:
    """A StaMPS-Visualizer export: header export_res_1..N, a first row with the reference
    centre (lon, lat), NaN and the dates as MATLAB datenum − 1, then lon, lat, mean velocity
    (mm/yr) and the series (mm) of each point."""
    n = 3 + len(pts.dates)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([f"export_res_{k}" for k in range(1, n + 1)])
        w.writerow([f"{np.mean(pts.lon):.6f}", f"{np.mean(pts.lat):.6f}", "NaN"] +
                   [str(matlab_datenum(d) - 1) for d in pts.dates])
        for i in range(len(pts.pid)):
            w.writerow([f"{pts.lon[i]:.8f}", f"{pts.lat[i]:.8f}", _fmt(pts.velocity[i])] +
                       [_fmt(v) for v in pts.series[i]])
    return path


def write_generic_csv(path: str, pts: SyntheticPoints, units: str = "m",
                      date_style: str = "iso") -> str:
    """CSV with id, x, y (the points' CRS) and one column per date (``iso`` YYYY-MM-DD or
    ``compact`` YYYYMMDD) in ``units`` (m: mm / 1000), no velocity column."""
    scale = {"m": 1e-3, "cm": 0.1, "mm": 1.0}[units]
    names = [d.isoformat() if date_style == "iso" else d.strftime("%Y%m%d") for d in pts.dates]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "x", "y"] + names)
        for i in range(len(pts.pid)):
            w.writerow([pts.pid[i], f"{pts.x[i]:.3f}", f"{pts.y[i]:.3f}"] +
                       [repr(float(v) * scale) if np.isfinite(v) else "" for v in pts.series[i]])
    return path


def laea_europe() -> str:
    """WKT of EPSG:3035 (ETRS89-LAEA, the CRS of EGMS easting/northing)."""
    return crs_from_epsg(3035)
