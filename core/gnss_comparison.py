"""Compare InSAR with GNSS in the radar line of sight (LOS).

Conventions (docs/conventions.md, docs/gnss_comparison.md):

* GNSS east/north/up motion is projected on the **ground→satellite** LOS unit
  vector (``core.geometry``), so LOS is **positive toward the satellite**, as
  InSAR LOS displacement/velocity in this toolkit.
* Everything inside this module is in SI: metres (displacements) or metres per
  year (velocities).  Callers convert InSAR and GNSS to these first.
* **Residual = InSAR − GNSS** (after referencing).  ``bias`` is the mean
  residual, ``rmse`` the root mean square residual, ``r`` the Pearson
  correlation coefficient of InSAR and GNSS (not R²), ``slope`` the
  least-squares slope of InSAR against GNSS (1 for perfect agreement).
* InSAR at a station is the **median of the valid pixels whose centres lie
  within ``radius`` metres** of the station (at least the pixel containing
  it), with a robust spread (1.4826 × median absolute deviation) and the
  pixel count — never a single pixel.  InSAR may also be a point layer
  (:class:`.points.PointLayer`, e.g. persistent scatterers): then it is the median of the
  points within ``radius`` metres, with their count (:func:`sample_insar`).
* Geometry rasters (LOS unit vector, incidence, heading) are sampled at the
  station's pixel (nearest) in their own grid and CRS: station lon/lat are
  transformed with OSR in the traditional GIS (lon, lat) axis order into each
  raster's CRS.
* InSAR is relative: ``reference`` is ``none`` (no shift), ``station`` (shift
  InSAR so it equals GNSS at the named station), ``constant`` (least-squares
  constant offset) or ``plane`` (least-squares offset + east/north ramp in the
  InSAR CRS).  The fitted shift is *added to InSAR*.
* Time series: dates are UTC calendar days; on each InSAR date the GNSS LOS
  value is the **median of the daily values within ± ``day_window`` days**;
  both InSAR and GNSS are made relative to a common reference date.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from osgeo import osr

from . import geometry, validation
from .dates import format_date, parse_date
from .gnss import GnssSeries, GnssVelocities
from .raster_io import (open_raster, pixel_size_metres, raster_info, read_block, transform_xy,
                        wgs84_wkt)

osr.UseExceptions()

REFERENCES = ("none", "station", "constant", "plane")
AZIMUTH_KINDS = ("heading", "los_azimuth")
DEFAULT_SAMPLE_RADIUS = 100.0
DEFAULT_MIN_PIXELS = 3
DEFAULT_DAY_WINDOW = 3
MAD_TO_SIGMA = 1.4826

#: Station status values written to outputs.
STATUS_OK = "ok"
STATUS_OUTSIDE = "outside the InSAR raster"
STATUS_FEW = "too few valid InSAR pixels"
STATUS_NO_GEOMETRY = "no LOS geometry at the station"
STATUS_NO_GNSS = "no GNSS value (NaN in the GNSS data)"
STATUS_NO_DATES = "no GNSS dates overlapping the InSAR dates"
STATUS_NO_POINTS = "no InSAR point within the sample radius"


# --------------------------------------------------------------------- coordinates
def lonlat_to_crs(lon, lat, crs_wkt: str) -> Tuple[np.ndarray, np.ndarray]:
    """Transform WGS84 ``lon``, ``lat`` (degrees; longitude first) to map x, y of ``crs_wkt``.

    Uses the traditional GIS axis order on both sides, so a geographic target CRS
    gets (lon, lat) and never (lat, lon).  An empty WKT returns lon/lat unchanged.
    """
    return transform_xy(np.atleast_1d(lon), np.atleast_1d(lat), wgs84_wkt(), crs_wkt)


def require_crs(info, parameter: str) -> None:
    """ValueError when the raster has no CRS: GNSS stations (WGS84 lon/lat) cannot be placed
    on it (their coordinates would be read as pixel or map coordinates of an unknown CRS)."""
    if not (info.crs_wkt or "").strip():
        raise ValueError(
            f"{parameter} = {info.path!r}: the raster has no CRS, so the GNSS stations (WGS84 "
            "longitude, latitude) cannot be placed on it. Assign its CRS first (Raster > "
            "Projections > Assign Projection, or gdal_edit.py -a_srs EPSG:...)")


def _fractional_pixel(gt, x, y):
    """Fractional (col, row) of map points for a north-up geotransform."""
    det = gt[1] * gt[5] - gt[2] * gt[4]
    dx, dy = x - gt[0], y - gt[3]
    col = (gt[5] * dx - gt[2] * dy) / det
    row = (-gt[4] * dx + gt[1] * dy) / det
    return col, row


def raster_units(path: str, band: int = 1) -> Optional[str]:
    """Canonical unit of a raster band (metadata ``units``, else the GDAL unit type, e.g.
    ``meters`` -> ``m``), or None when it records none or an unknown one."""
    from .units import normalize_unit

    ds = open_raster(path)
    b = ds.GetRasterBand(int(band))
    for candidate in ((b.GetMetadata() or {}).get("units"), b.GetUnitType()):
        if candidate:
            try:
                return normalize_unit(candidate)
            except ValueError:
                continue
    return None


# --------------------------------------------------------------------- sampling
@dataclass
class Sample:
    """InSAR values at stations: median, robust spread, valid-pixel count, status."""

    value: np.ndarray
    spread: np.ndarray
    count: np.ndarray
    status: List[str]


def sample_median(path: str, band: int, lon, lat, radius: float = DEFAULT_SAMPLE_RADIUS,
                  min_pixels: int = DEFAULT_MIN_PIXELS, scale: float = 1.0,
                  parameter: str = "INSAR") -> Sample:
    """Median (× ``scale``) of the valid pixels of ``band`` within ``radius`` metres of each station.

    ``lon``/``lat``: WGS84 degrees.  The pixel containing the station always
    counts (so a radius smaller than a pixel samples that pixel).  Stations
    outside the raster get status :data:`STATUS_OUTSIDE`, those with fewer than
    ``min_pixels`` valid pixels :data:`STATUS_FEW`; their value is NaN.  A raster without
    CRS is refused (:func:`require_crs`, naming ``parameter``).
    """
    info = raster_info(path)
    require_crs(info, parameter)
    ds = open_raster(path)
    x, y = lonlat_to_crs(lon, lat, info.crs_wkt)
    col, row = _fractional_pixel(info.geotransform, x, y)
    px, py = pixel_size_metres(info)
    # metres per unit of map coordinate along x and y
    mx = px / abs(info.geotransform[1]) if info.geotransform[1] else 1.0
    my = py / abs(info.geotransform[5]) if info.geotransform[5] else 1.0
    n = len(x)
    value = np.full(n, np.nan)
    spread = np.full(n, np.nan)
    count = np.zeros(n, dtype=np.int64)
    status = []
    half_c = int(math.ceil(radius / px)) + 1
    half_r = int(math.ceil(radius / py)) + 1
    for i in range(n):
        c, r = col[i], row[i]
        if not (np.isfinite(c) and np.isfinite(r)) or c < 0 or r < 0 or c >= info.width or r >= info.height:
            status.append(STATUS_OUTSIDE)
            continue
        ci, ri = int(c), int(r)
        c0, c1 = max(0, ci - half_c), min(info.width, ci + half_c + 1)
        r0, r1 = max(0, ri - half_r), min(info.height, ri + half_r + 1)
        block = read_block(ds, band, r0, c0, r1 - r0, c1 - c0).astype(np.float64)
        cc, rr = np.meshgrid(np.arange(c0, c1) + 0.5, np.arange(r0, r1) + 0.5)
        dist = np.hypot((cc - c) * abs(info.geotransform[1]) * mx, (rr - r) * abs(info.geotransform[5]) * my)
        inside = dist <= radius
        inside[ri - r0, ci - c0] = True
        vals = block[inside]
        vals = vals[np.isfinite(vals)]
        count[i] = vals.size
        if vals.size < max(1, min_pixels):
            status.append(STATUS_FEW)
            continue
        med = float(np.median(vals))
        value[i] = med * scale
        spread[i] = MAD_TO_SIGMA * float(np.median(np.abs(vals - med))) * abs(scale)
        status.append(STATUS_OK)
    return Sample(value, spread, count, status)


def sample_nearest(path: str, band: int, lon, lat, parameter: str = "INCIDENCE") -> np.ndarray:
    """Value of ``band`` at the pixel containing each station (NaN outside or nodata); a
    raster without CRS is refused (:func:`require_crs`, naming ``parameter``)."""
    info = raster_info(path)
    require_crs(info, parameter)
    ds = open_raster(path)
    x, y = lonlat_to_crs(lon, lat, info.crs_wkt)
    col, row = _fractional_pixel(info.geotransform, x, y)
    out = np.full(len(x), np.nan)
    for i in range(len(x)):
        c, r = col[i], row[i]
        if np.isfinite(c) and np.isfinite(r) and 0 <= c < info.width and 0 <= r < info.height:
            out[i] = float(read_block(ds, band, int(r), int(c), 1, 1)[0, 0])
    return out


def _is_points(insar) -> bool:
    from .points import PointLayer

    return isinstance(insar, PointLayer)


def insar_crs(insar) -> str:
    """CRS WKT of the InSAR raster (path) or point layer; ValueError when it has none
    (:func:`require_crs`)."""
    if _is_points(insar):
        if not (insar.crs_wkt or "").strip():
            raise ValueError(f"INSAR_POINTS = {insar.source!r}: the point layer has no CRS, so the "
                             "GNSS stations (WGS84 longitude, latitude) cannot be placed on it. "
                             "Assign its CRS first (Layer Properties > Source)")
        return insar.crs_wkt
    info = raster_info(insar)
    require_crs(info, "INSAR")
    return info.crs_wkt


def sample_insar(insar, band, lon, lat, radius: float = DEFAULT_SAMPLE_RADIUS,
                 min_count: int = DEFAULT_MIN_PIXELS, scale: float = 1.0,
                 cache: Optional[dict] = None) -> Tuple[Sample, str]:
    """(:class:`Sample`, CRS WKT) of InSAR at the stations: ``insar`` a raster path and
    ``band`` its band (:func:`sample_median`), or a :class:`.points.PointLayer` and ``band``
    a field name: the median of the points within ``radius`` metres (status
    :data:`STATUS_NO_POINTS` when there is none, :data:`STATUS_FEW` when fewer than
    ``min_count``).  ``cache`` (a dict) keeps the points near each station between calls."""
    if not _is_points(insar):
        return sample_median(insar, band, lon, lat, radius, min_count, scale), \
            raster_info(insar).crs_wkt
    from .points_analysis import median_near, near_points

    cache = {} if cache is None else cache
    if "near" not in cache:
        cache["near"] = near_points(insar, lon, lat, radius)
    insar.require(band)
    value, spread, count = median_near(insar.column(band), cache["near"], min_count, scale)
    status = [STATUS_OK if np.isfinite(v) else STATUS_NO_POINTS if len(idx) == 0 else STATUS_FEW
              for v, idx in zip(value, cache["near"])]
    return Sample(value, spread, count, status), insar.crs_wkt


# --------------------------------------------------------------------- geometry
@dataclass
class LosGeometry:
    """Where the LOS unit vector comes from (one of three ways).

    * ``enu_path`` (+ ``enu_bands`` east, north[, up]): ground→satellite unit-vector raster(s);
      up = sqrt(1 − e² − n²) when only two bands are given.
    * ``incidence_path``/``azimuth_path`` rasters (degrees), with ``azimuth_kind``
      ``heading`` (clockwise from north) or ``los_azimuth`` (anti-clockwise, MintPy).
    * ``incidence``/``azimuth`` constants (degrees) with the same ``azimuth_kind``.
    * ``points``: a :class:`.points.PointLayer` with ``los_e``/``los_n``/``los_u``: the
      median vector of its points within ``points_radius`` metres of each station.
    Rasters win over constants when both are set.
    """

    enu_path: Optional[str] = None
    enu_bands: Sequence[int] = (1, 2, 3)
    incidence_path: Optional[str] = None
    incidence_band: int = 1
    azimuth_path: Optional[str] = None
    azimuth_band: int = 1
    incidence: Optional[float] = None
    azimuth: Optional[float] = None
    azimuth_kind: str = "heading"
    look_direction: str = "right"
    points: object = None
    points_radius: float = DEFAULT_SAMPLE_RADIUS

    def unit_vectors(self, lon, lat) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(east, north, up) ground→satellite unit vector at each station (NaN where unknown)."""
        lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        if self.points is not None:
            # the median LOS vector of the InSAR points near each station, renormalised
            from .points_analysis import median_near, near_points

            near = near_points(self.points, lon, lat, self.points_radius)
            e, nn, u = (median_near(self.points.column(f), near)[0]
                        for f in ("los_e", "los_n", "los_u"))
            norm = np.sqrt(e * e + nn * nn + u * u)
            return e / norm, nn / norm, u / norm
        if self.enu_path:
            e = sample_nearest(self.enu_path, self.enu_bands[0], lon, lat, "LOS_ENU")
            nn = sample_nearest(self.enu_path, self.enu_bands[1], lon, lat, "LOS_ENU")
            if len(self.enu_bands) > 2 and self.enu_bands[2]:
                u = sample_nearest(self.enu_path, self.enu_bands[2], lon, lat, "LOS_ENU")
            else:
                u = geometry.up_from_horizontal_unit_vector(e, nn)
            norm = np.sqrt(e * e + nn * nn + u * u)
            bad = ~(np.abs(norm - 1.0) < 0.05)
            if np.any(bad & np.isfinite(norm)):
                i = int(np.flatnonzero(bad & np.isfinite(norm))[0])
                raise ValueError(
                    f"LOS unit-vector raster {self.enu_path!r}: the vector at station #{i + 1} has "
                    f"length {norm[i]:.3f}, not 1: give east, north, up unit-vector bands")
            return e, nn, u
        if self.azimuth_kind not in AZIMUTH_KINDS:
            raise ValueError(f"azimuth kind {self.azimuth_kind!r}: use one of {', '.join(AZIMUTH_KINDS)}")
        if self.incidence_path:
            inc = sample_nearest(self.incidence_path, self.incidence_band, lon, lat, "INCIDENCE")
            validation.check_values(inc, "incidence", "INCIDENCE", self.incidence_path)
        elif self.incidence is not None:
            inc = np.full(lon.shape, validation.incidence(self.incidence, "INCIDENCE_ANGLE"))
        else:
            raise ValueError("no LOS geometry: give a LOS unit-vector raster, incidence and "
                             "heading rasters, or incidence and heading angles")
        if self.azimuth_path:
            az = sample_nearest(self.azimuth_path, self.azimuth_band, lon, lat, "HEADING")
            validation.check_values(az, self.azimuth_kind, "HEADING", self.azimuth_path)
        elif self.azimuth is not None:
            az = np.full(lon.shape, validation.heading(self.azimuth, "HEADING_ANGLE",
                                                       self.azimuth_kind))
        else:
            raise ValueError("no heading / LOS azimuth: give a raster or an angle")
        if self.azimuth_kind == "heading":
            return geometry.los_unit_vector_from_heading(inc, az, self.look_direction)
        return geometry.los_unit_vector(inc, az)


def project_to_los(east, north, up, unit_vector, sig_east=None, sig_north=None, sig_up=None,
                   corr_en=None, corr_eu=None, corr_nu=None):
    """LOS value and its 1-sigma of ENU motion (any unit; result in the same unit).

    ``unit_vector`` = (e, n, u) ground→satellite.  Sigma propagates the full
    ENU covariance: var = Σᵢⱼ uᵢ uⱼ Cᵢⱼ with Cᵢⱼ = ρᵢⱼ σᵢ σⱼ (correlations 0 when not given).
    Returns ``(los, sigma)``; sigma is NaN when sigmas are not given.
    """
    ue, un, uu = (np.asarray(c, dtype=np.float64) for c in unit_vector)
    los = geometry.project_enu(np.asarray(east, float), np.asarray(north, float),
                               np.asarray(up, float), (ue, un, uu))
    if sig_east is None or sig_north is None or sig_up is None:
        return los, np.full(np.shape(los), np.nan)
    se, sn, su = (np.asarray(s, dtype=np.float64) for s in (sig_east, sig_north, sig_up))
    zero = np.zeros(np.broadcast(se, ue).shape)
    ren = zero if corr_en is None else np.asarray(corr_en, float)
    reu = zero if corr_eu is None else np.asarray(corr_eu, float)
    rnu = zero if corr_nu is None else np.asarray(corr_nu, float)
    var = ((ue * se) ** 2 + (un * sn) ** 2 + (uu * su) ** 2
           + 2 * ue * un * ren * se * sn + 2 * ue * uu * reu * se * su + 2 * un * uu * rnu * sn * su)
    return los, np.sqrt(np.clip(var, 0.0, None))


# --------------------------------------------------------------------- referencing and statistics
def fit_reference(insar, gnss, x, y, method: str, station_index: Optional[int] = None):
    """Shift to ADD to InSAR at each station so that it is referenced to GNSS.

    ``method``: ``none`` (0), ``station`` (GNSS − InSAR at ``station_index``),
    ``constant`` (mean of GNSS − InSAR), ``plane`` (least-squares a + b·x + c·y of
    GNSS − InSAR; x, y in metres of the InSAR CRS).  Only stations where both
    values are finite are used.  Returns ``(shift, parameters)`` where shift has
    the shape of ``insar`` and parameters is a dict (offset, ramp terms).
    """
    insar = np.asarray(insar, dtype=np.float64)
    gnss = np.asarray(gnss, dtype=np.float64)
    diff = gnss - insar
    ok = np.isfinite(diff)
    if method == "none":
        return np.zeros_like(insar), {"offset": 0.0}
    if method == "station":
        if station_index is None:
            raise ValueError("REFERENCE = station needs a reference station name")
        if not ok[station_index]:
            raise ValueError("the reference station has no valid InSAR or GNSS value: choose "
                             "another station or another REFERENCE")
        offset = float(diff[station_index])
        return np.full_like(insar, offset), {"offset": offset}
    if method == "constant":
        if not ok.any():
            raise ValueError("no station has both an InSAR and a GNSS value: cannot fit an offset")
        offset = float(np.mean(diff[ok]))
        return np.full_like(insar, offset), {"offset": offset}
    if method == "plane":
        if ok.sum() < 3:
            raise ValueError(f"REFERENCE = plane needs at least 3 stations with InSAR and GNSS "
                             f"values, found {int(ok.sum())}: use constant")
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        x0, y0 = float(np.mean(x[ok])), float(np.mean(y[ok]))
        a = np.column_stack([np.ones(ok.sum()), x[ok] - x0, y[ok] - y0])
        if np.linalg.matrix_rank(a) < 3:
            raise ValueError("REFERENCE = plane: the stations are aligned, a plane is undetermined; "
                             "use constant")
        coef, *_ = np.linalg.lstsq(a, diff[ok], rcond=None)
        shift = coef[0] + coef[1] * (x - x0) + coef[2] * (y - y0)
        return shift, {"offset": float(coef[0]), "ramp_x_per_m": float(coef[1]),
                       "ramp_y_per_m": float(coef[2]), "x0": x0, "y0": y0}
    raise ValueError(f"unknown REFERENCE {method!r}: use one of {', '.join(REFERENCES)}")


def agreement(insar, gnss) -> Dict[str, float]:
    """Statistics of InSAR against GNSS over stations where both are finite.

    Returns N, bias (mean of InSAR − GNSS), rmse, r (Pearson correlation; NaN
    with fewer than 3 values or no spread), slope and intercept of the
    least-squares line InSAR = intercept + slope · GNSS (NaN when undetermined).
    Units: those of the inputs (r and slope are dimensionless).
    """
    insar = np.asarray(insar, dtype=np.float64).ravel()
    gnss = np.asarray(gnss, dtype=np.float64).ravel()
    ok = np.isfinite(insar) & np.isfinite(gnss)
    a, g = insar[ok], gnss[ok]
    n = int(ok.sum())
    out = {"n": n, "bias": math.nan, "rmse": math.nan, "r": math.nan,
           "slope": math.nan, "intercept": math.nan}
    if n == 0:
        return out
    res = a - g
    out["bias"] = float(np.mean(res))
    out["rmse"] = float(np.sqrt(np.mean(res * res)))
    if n >= 2 and np.ptp(g) > 0:
        slope, intercept = np.polyfit(g, a, 1)
        out["slope"], out["intercept"] = float(slope), float(intercept)
    if n >= 3 and np.std(a) > 0 and np.std(g) > 0:
        out["r"] = float(np.corrcoef(a, g)[0, 1])
    return out


# --------------------------------------------------------------------- velocity comparison
@dataclass
class VelocityComparison:
    """Per-station values (SI: m/yr) and overall statistics of a velocity comparison."""

    station: List[str]
    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray
    y: np.ndarray
    gnss_e: np.ndarray
    gnss_n: np.ndarray
    gnss_u: np.ndarray
    gnss_los: np.ndarray
    gnss_los_sigma: np.ndarray
    insar_los: np.ndarray
    insar_raw: np.ndarray
    insar_spread: np.ndarray
    n_pixels: np.ndarray
    residual: np.ndarray
    status: List[str]
    stats: Dict[str, float]
    reference: str
    reference_parameters: Dict[str, float]
    crs_wkt: str = ""
    units: str = "m/yr"


def _station_index(stations, name):
    if not name:
        raise ValueError("REFERENCE = station needs REFERENCE_STATION (a station name)")
    wanted = str(name).strip().upper()
    for i, s in enumerate(stations):
        if s.upper() == wanted:
            return i
    raise ValueError(f"reference station {name!r} is not among the GNSS stations "
                     f"({', '.join(stations[:20])}{' ...' if len(stations) > 20 else ''})")


def compare_velocities(gnss: GnssVelocities, insar_path: str, band: int, insar_scale: float,
                       los: LosGeometry, radius: float = DEFAULT_SAMPLE_RADIUS,
                       min_pixels: int = DEFAULT_MIN_PIXELS, reference: str = "constant",
                       reference_station: Optional[str] = None, monitor=None) -> VelocityComparison:
    """Compare a LOS velocity raster (or point layer, :func:`sample_insar`; ``band`` is then
    the field) with GNSS velocities (all in m/yr).

    ``insar_scale`` converts InSAR values to m/yr.  Stations outside the raster
    or with too few valid pixels keep NaN InSAR values and a status; if no
    station can be compared a ValueError says why.
    """
    if reference not in REFERENCES:
        raise ValueError(f"unknown REFERENCE {reference!r}: use one of {', '.join(REFERENCES)}")
    ref_index = _station_index(gnss.station, reference_station) if reference == "station" else None
    crs_wkt = insar_crs(insar_path)
    sample, _ = sample_insar(insar_path, band, gnss.lon, gnss.lat, radius, min_pixels,
                             insar_scale)
    if monitor:
        monitor.update(0.4)
    inside = [s not in (STATUS_OUTSIDE, STATUS_NO_POINTS) for s in sample.status]
    if not any(inside):
        what = "have no InSAR point within the sample radius" if _is_points(insar_path) else \
            "lie outside the InSAR raster"
        raise ValueError(
            f"all {len(gnss)} GNSS stations {what} "
            f"{getattr(insar_path, 'source', insar_path)!r}: check the GNSS file covers the area "
            "(and that longitude and latitude are not swapped)")
    ue, un, uu = los.unit_vectors(gnss.lon, gnss.lat)
    gnss_los, gnss_sigma = project_to_los(gnss.east, gnss.north, gnss.up, (ue, un, uu),
                                          gnss.sig_east, gnss.sig_north, gnss.sig_up,
                                          gnss.corr_en, gnss.corr_eu, gnss.corr_nu)
    status = list(sample.status)
    geometry_known = np.isfinite(ue) & np.isfinite(un) & np.isfinite(uu)
    for i in range(len(status)):
        if status[i] == STATUS_OK and not np.isfinite(gnss_los[i]):
            status[i] = STATUS_NO_GEOMETRY if not geometry_known[i] else STATUS_NO_GNSS
    insar = np.where([s == STATUS_OK for s in status], sample.value, np.nan)
    if not np.isfinite(insar).any():
        counts = {s: status.count(s) for s in set(status)}
        raise ValueError("no GNSS station can be compared with InSAR: "
                         + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    x, y = lonlat_to_crs(gnss.lon, gnss.lat, crs_wkt)
    shift, params = fit_reference(insar, gnss_los, x, y, reference, ref_index)
    insar_ref = insar + shift
    residual = insar_ref - gnss_los
    if monitor:
        monitor.update(0.9)
    return VelocityComparison(
        station=list(gnss.station), lon=gnss.lon, lat=gnss.lat, x=x, y=y,
        gnss_e=gnss.east, gnss_n=gnss.north, gnss_u=gnss.up, gnss_los=gnss_los,
        gnss_los_sigma=gnss_sigma, insar_los=insar_ref, insar_raw=insar,
        insar_spread=sample.spread, n_pixels=sample.count, residual=residual, status=status,
        stats=agreement(insar_ref, gnss_los), reference=reference, reference_parameters=params,
        crs_wkt=crs_wkt, units="m/yr")


# --------------------------------------------------------------------- time-series comparison
@dataclass
class InsarEpoch:
    """One InSAR date: the raster and band holding it (None for the reference date itself),
    or a :class:`.points.PointLayer` and the field holding it."""

    date: _dt.date
    path: Optional[str]
    band: int = 1


@dataclass
class TimeseriesComparison:
    """Per-station, per-date values (SI: metres) of a time-series comparison."""

    station: List[str]
    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray
    y: np.ndarray
    dates: List[_dt.date]
    reference_date: _dt.date
    gnss_los: np.ndarray         # (stations, dates), relative to the reference date
    gnss_los_sigma: np.ndarray
    gnss_count: np.ndarray       # daily values averaged on each date
    insar_los: np.ndarray        # referenced InSAR, relative to the reference date
    insar_spread: np.ndarray
    n_pixels: np.ndarray
    residual: np.ndarray
    status: List[str]
    station_stats: List[Dict[str, float]]
    stats: Dict[str, float]
    reference: str
    daily: Dict[str, Tuple[List[_dt.date], np.ndarray]] = field(default_factory=dict)
    skipped_dates: List[Tuple[_dt.date, str]] = field(default_factory=list)
    day_window: int = DEFAULT_DAY_WINDOW
    crs_wkt: str = ""
    units: str = "m"


def window_median(day_numbers: np.ndarray, values: np.ndarray, centre: int, half_window: int):
    """Median of ``values`` whose day numbers are within ± ``half_window`` of ``centre``
    (and how many there are); NaN and 0 when none."""
    sel = (np.abs(day_numbers - centre) <= half_window) & np.isfinite(values)
    if not sel.any():
        return math.nan, 0
    return float(np.median(values[sel])), int(sel.sum())


def insar_epochs(paths_bands_dates: Sequence[Tuple[str, int, _dt.date]],
                 insar_reference_date: Optional[_dt.date]) -> List[InsarEpoch]:
    """Sorted InSAR epochs; the InSAR reference date is added (value 0 by definition)
    when no band carries it.  Two bands on the same calendar day raise ValueError."""
    epochs = [InsarEpoch(parse_date(d), p, b) for p, b, d in paths_bands_dates]
    days = [e.date for e in epochs]
    dupes = sorted({d for d in days if days.count(d) > 1})
    if dupes:
        raise ValueError("several InSAR bands fall on the same day: "
                         + ", ".join(format_date(d) for d in dupes))
    if insar_reference_date is not None and parse_date(insar_reference_date) not in days:
        epochs.append(InsarEpoch(parse_date(insar_reference_date), None, 0))
    return sorted(epochs, key=lambda e: e.date)


def compare_timeseries(series: Sequence[GnssSeries], epochs: Sequence[InsarEpoch],
                       insar_scale: float, los: LosGeometry, insar_crs_path: str,
                       reference_date=None, radius: float = DEFAULT_SAMPLE_RADIUS,
                       min_pixels: int = DEFAULT_MIN_PIXELS, reference: str = "constant",
                       reference_station: Optional[str] = None,
                       day_window: int = DEFAULT_DAY_WINDOW, monitor=None) -> TimeseriesComparison:
    """Compare an InSAR LOS displacement time series with GNSS daily series (metres).

    ``epochs``: the InSAR dates (see :func:`insar_epochs`); ``insar_scale``
    converts raster values to metres.  Both InSAR and GNSS become relative to
    ``reference_date`` (default: the first epoch; it must be an InSAR date).  On
    each date the GNSS LOS value is the median of the daily LOS values within
    ± ``day_window`` days.  Then, date by date, InSAR is referenced to GNSS with
    ``reference``.  Stations with no GNSS value on the reference date or on any
    other date get status :data:`STATUS_NO_DATES` (kept, with NaN values).  A date
    that cannot be referenced (e.g. the reference station has no GNSS value near it,
    or fewer than 3 stations for a plane) is left out, listed in ``skipped_dates``.
    """
    if reference not in REFERENCES:
        raise ValueError(f"unknown REFERENCE {reference!r}: use one of {', '.join(REFERENCES)}")
    if not series:
        raise ValueError("no GNSS series given")
    if len(epochs) < 2:
        raise ValueError("an InSAR time series needs at least two dates (or one date and a "
                         "reference_date)")
    if day_window < 0:
        raise ValueError(f"DAY_WINDOW = {day_window}: must be 0 or more days")
    dates = [e.date for e in epochs]
    ref_day = dates[0] if reference_date in (None, "") else parse_date(reference_date)
    if ref_day not in dates:
        raise ValueError(f"REFERENCE_DATE {format_date(ref_day)} is not an InSAR date "
                         f"({', '.join(format_date(d) for d in dates)})")
    k_ref = dates.index(ref_day)
    names = [s.station for s in series]
    ref_index = _station_index(names, reference_station) if reference == "station" else None
    lon = np.array([s.lon for s in series])
    lat = np.array([s.lat for s in series])
    ns, nd = len(series), len(dates)
    crs_wkt = insar_crs(insar_crs_path)
    x, y = lonlat_to_crs(lon, lat, crs_wkt)
    cache: dict = {}

    # InSAR samples, relative to the reference date
    insar = np.zeros((ns, nd))
    spread = np.zeros((ns, nd))
    npix = np.zeros((ns, nd), dtype=np.int64)
    status = [STATUS_OK] * ns
    for k, epoch in enumerate(epochs):
        if epoch.path is None:
            continue  # the InSAR reference date: 0 by definition
        s, _ = sample_insar(epoch.path, epoch.band, lon, lat, radius, min_pixels, insar_scale,
                            cache)
        insar[:, k], spread[:, k], npix[:, k] = s.value, s.spread, s.count
        for i, st in enumerate(s.status):
            if st != STATUS_OK and status[i] == STATUS_OK:
                status[i] = st
        if monitor:
            monitor.update(0.6 * (k + 1) / nd)
    if all(st in (STATUS_OUTSIDE, STATUS_NO_POINTS) for st in status):
        sources = sorted({os.path.basename(str(getattr(e.path, "source", e.path)))
                          for e in epochs if e.path is not None})
        what = "have no InSAR point within the sample radius" if _is_points(insar_crs_path) \
            else "lie outside the InSAR rasters"
        raise ValueError(f"all {ns} GNSS stations {what} ({', '.join(sources)}): check the GNSS "
                         "files cover the area")
    insar = insar - insar[:, [k_ref]]

    # GNSS LOS on the InSAR dates, relative to the reference date
    ue, un, uu = los.unit_vectors(lon, lat)
    gnss = np.full((ns, nd), np.nan)
    gsig = np.full((ns, nd), np.nan)
    gcount = np.zeros((ns, nd), dtype=np.int64)
    daily = {}
    for i, s in enumerate(series):
        los_daily, sig_daily = project_to_los(s.east, s.north, s.up, (ue[i], un[i], uu[i]),
                                              s.sig_east, s.sig_north, s.sig_up,
                                              s.corr_en, s.corr_eu, s.corr_nu)
        days = s.ordinals()
        for k, d in enumerate(dates):
            gnss[i, k], gcount[i, k] = window_median(days, los_daily, d.toordinal(), day_window)
            sel = (np.abs(days - d.toordinal()) <= day_window) & np.isfinite(sig_daily)
            if sel.any():
                gsig[i, k] = float(np.median(sig_daily[sel])) / math.sqrt(sel.sum())
        daily[s.station] = (list(s.dates), los_daily)
        if not np.isfinite(ue[i]) and status[i] == STATUS_OK:
            status[i] = STATUS_NO_GEOMETRY
        elif status[i] == STATUS_OK and not np.isfinite(los_daily).any():
            status[i] = STATUS_NO_GNSS
        other = [k for k in range(nd) if k != k_ref]
        if status[i] == STATUS_OK and (not np.isfinite(gnss[i, k_ref])
                                       or not np.isfinite(gnss[i, other]).any()):
            status[i] = STATUS_NO_DATES
    gnss = gnss - gnss[:, [k_ref]]
    valid = np.array([st == STATUS_OK for st in status])
    if not valid.any():
        counts = {st: status.count(st) for st in set(status)}
        raise ValueError("no GNSS station can be compared with InSAR: "
                         + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    insar[~valid] = np.nan
    if reference == "station" and not valid[ref_index]:
        raise ValueError(f"reference station {names[ref_index]} cannot be compared "
                         f"({status[ref_index]}): choose another REFERENCE")

    # referencing, date by date; a date that cannot be referenced is left out (and listed)
    skipped = []
    for k in range(nd):
        if k == k_ref:
            continue
        col = insar[:, k]
        if not np.isfinite(col + gnss[:, k]).any():
            skipped.append((dates[k], "no station has both InSAR and GNSS values"))
            insar[:, k] = np.nan
            continue
        try:
            shift, _ = fit_reference(col, gnss[:, k], x, y, reference, ref_index)
        except ValueError as exc:
            skipped.append((dates[k], str(exc)))
            insar[:, k] = np.nan
            continue
        insar[:, k] = col + shift
    if len(skipped) == nd - 1:
        raise ValueError("no InSAR date could be compared: " + "; ".join(
            f"{format_date(d)}: {why}" for d, why in skipped))
    gnss[~valid] = np.nan
    residual = insar - gnss
    other = np.array([k != k_ref for k in range(nd)])
    station_stats = [agreement(insar[i, other], gnss[i, other]) for i in range(ns)]
    if monitor:
        monitor.update(0.95)
    return TimeseriesComparison(
        station=names, lon=lon, lat=lat, x=x, y=y, dates=dates, reference_date=ref_day,
        gnss_los=gnss, gnss_los_sigma=gsig, gnss_count=gcount, insar_los=insar,
        insar_spread=spread, n_pixels=npix, residual=residual, status=status,
        station_stats=station_stats, stats=agreement(insar[:, other], gnss[:, other]),
        reference=reference, daily=daily, day_window=day_window, crs_wkt=crs_wkt,
        skipped_dates=skipped)
