"""Geocoding: put a raster in radar geometry on a north-up map grid.

A radar-geometry raster (any band count: offsets, SNR, LOS, interferograms, a dated
series) has no map coordinates of its own.  Its geolocation comes from one of

* **latitude and longitude rasters** on the radar grid (ISCE2 ``lat.rdr``/``lon.rdr``,
  MintPy ``geometryRadar.h5`` ``latitude``/``longitude``; degrees, WGS 84);
* a **GAMMA lookup table** (``*.lt``, ``lookup_fine``) with its DEM ``.par``: a raster on
  the DEM's map grid whose pixels hold the radar position (range sample, azimuth line)
  they come from, as complex float32 (or interleaved float32 pairs), big-endian;
* a **Sentinel-1 annotation**'s geolocation grid (latitude/longitude at a regular grid of
  SLC lines and samples), interpolated bilinearly in line/sample.

Radar pixels and the input's pixels
    The geolocation describes a *radar grid* (the SLC or the multilooked image the
    geolocation belongs to).  The input's pixel ``(col, row)`` sits at radar position
    ``RADAR_PIXEL_GEOTRANSFORM`` applied to it (dataset metadata item ``radar_pixel_geotransform``,
    six numbers in GDAL order, fractional positions with ``(0, 0)`` the upper-left corner of
    the first radar pixel).  ``displacement:offset_tracking`` writes it: its pixels are
    windows, and pixel ``(j, i)`` is centred on the window centre.  Without the item, the
    input's own geotransform is used when it has no CRS (offset tracking of an ungeoreferenced
    SLC writes exactly that), else the identity.  Radar sample ``k`` (a 0-based index as in
    the annotation and the GAMMA lookup table) is centred at radar position ``k + 0.5``.

Engine
    Latitude/longitude rasters and annotation grids go through GDAL's geolocation-array
    warper (``gdal.Warp`` with ``GEOLOCATION`` metadata, ``PIXEL_CENTER`` convention):
    when the latitude/longitude rasters are on the input's own grid and free of NaN they are
    used in place; otherwise they are first sampled (bilinear) at the input's pixel centres
    into temporary float64 rasters, block by block, invalid positions marked with the nodata
    value GDAL's geolocation transformer understands (GDAL 3.6 mis-sizes the output when the
    arrays hold NaN).  A lookup table is applied backward, block by block of map rows:
    each map pixel takes the input interpolated at its radar position (bilinear or nearest,
    nodata never averaged in: the weights of valid neighbours are renormalised, as GDAL's
    warper does); when a target CRS or resolution other than the DEM grid's is asked for,
    that result is then warped onto the target grid (:func:`.grid.warp_to_grid`).

Target grid
    North-up, pixel edges on multiples of the resolution (as ``gdalwarp -tap``), extent
    the footprint of the geolocated pixel centres plus half a pixel.  Default CRS WGS 84
    (``"utm"``: the UTM zone of the footprint's centre).  Default resolution: the square
    pixel of the same ground area as an input pixel (geometric mean of the ground spacings
    along columns and rows, from the geolocation at the scene centre), in metres, converted
    on a geographic CRS as :func:`.grid.metres_to_crs_units` does.

Outputs are float32 (complex64 for complex input) GeoTIFFs with NaN nodata, the input's
band descriptions and band metadata (units, quantity, dates), and the dataset metadata
of the input minus its radar-geometry items, plus ``geolocation`` (what was used).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from osgeo import gdal, osr

from .grid import (
    EARTH_RADIUS_M,
    GridSpec,
    gdal_resampling,
    metres_to_crs_units,
    plan_grid,
    sample_stats,
    warp_to_grid,
)
from .progress import ensure_monitor
from .raster_io import (
    RasterError,
    RasterWriter,
    block_rows,
    crs_from_epsg,
    iter_blocks,
    open_raster,
    raster_info,
    read_block,
    remove_raster,
    transform_xy,
    wgs84_wkt,
)

gdal.UseExceptions()

#: Dataset metadata items that describe where a radar-geometry raster's pixels are and what
#: geolocates them (written by offset tracking and load_product; read by :func:`from_metadata`).
RADAR_TRANSFORM_KEY = "radar_pixel_geotransform"
LATITUDE_KEY = "geolocation_latitude"
LONGITUDE_KEY = "geolocation_longitude"
LOOKUP_TABLE_KEY = "geolocation_lookup_table"
DEM_PAR_KEY = "geolocation_dem_par"
ANNOTATION_KEY = "geolocation_s1_annotation"
RADAR_KEYS = (RADAR_TRANSFORM_KEY, LATITUDE_KEY, LONGITUDE_KEY, LOOKUP_TABLE_KEY, DEM_PAR_KEY,
              ANNOTATION_KEY)

RESAMPLING_CHOICES = ("nearest", "bilinear", "average")
IDENTITY = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
#: nodata of the temporary geolocation arrays (outside any latitude and longitude)
GEOLOC_NODATA = -999.0
#: memory for one block of the sampling steps (bytes)
BLOCK_BYTES = 64 * 1024 * 1024


@dataclass
class Geolocation:
    """Where the pixels of a radar grid are.  Exactly one source is set:
    ``latitude`` + ``longitude`` (GDAL sources of rasters in degrees, bands
    ``latitude_band``/``longitude_band``), ``lookup_table`` + ``dem_par`` (GAMMA), or
    ``annotation`` (Sentinel-1 annotation XML)."""

    latitude: Optional[str] = None
    longitude: Optional[str] = None
    latitude_band: int = 1
    longitude_band: int = 1
    lookup_table: Optional[str] = None
    dem_par: Optional[str] = None
    annotation: Optional[str] = None

    def __post_init__(self):
        kinds = [bool(self.latitude or self.longitude), bool(self.lookup_table or self.dem_par),
                 bool(self.annotation)]
        if sum(kinds) != 1:
            raise ValueError("give exactly one geolocation: latitude and longitude rasters, a "
                             "GAMMA lookup table with its DEM .par, or a Sentinel-1 annotation")
        if kinds[0] and not (self.latitude and self.longitude):
            raise ValueError("latitude and longitude rasters go together: give both")
        if kinds[1] and not (self.lookup_table and self.dem_par):
            raise ValueError("a GAMMA lookup table needs its DEM parameter file (.par) and "
                             "the other way round: give both")

    @property
    def kind(self) -> str:
        if self.latitude:
            return "latitude/longitude"
        return "lookup table" if self.lookup_table else "Sentinel-1 annotation"

    def describe(self) -> str:
        if self.latitude:
            return (f"latitude {os.path.basename(self.latitude)} (band {self.latitude_band}), "
                    f"longitude {os.path.basename(self.longitude)} (band {self.longitude_band})")
        if self.lookup_table:
            return (f"GAMMA lookup table {os.path.basename(self.lookup_table)} with "
                    f"{os.path.basename(self.dem_par)}")
        return f"Sentinel-1 annotation {os.path.basename(self.annotation)}"

    def as_metadata(self) -> Dict[str, str]:
        if self.latitude:
            return {LATITUDE_KEY: _with_band(self.latitude, self.latitude_band),
                    LONGITUDE_KEY: _with_band(self.longitude, self.longitude_band)}
        if self.lookup_table:
            return {LOOKUP_TABLE_KEY: self.lookup_table, DEM_PAR_KEY: self.dem_par}
        return {ANNOTATION_KEY: self.annotation}


def _with_band(path: str, band: int) -> str:
    return path if band == 1 else f"{path}#band={band}"


def _split_band(value: str) -> Tuple[str, int]:
    if "#band=" in value:
        path, band = value.rsplit("#band=", 1)
        return path, int(band)
    return value, 1


def from_metadata(metadata: Dict[str, str]) -> Optional[Geolocation]:
    """The geolocation named by a raster's metadata items (see :data:`RADAR_KEYS`), or None."""
    meta = {str(k).lower(): str(v) for k, v in (metadata or {}).items()}
    if meta.get(LATITUDE_KEY) and meta.get(LONGITUDE_KEY):
        lat, lat_band = _split_band(meta[LATITUDE_KEY])
        lon, lon_band = _split_band(meta[LONGITUDE_KEY])
        return Geolocation(latitude=lat, longitude=lon, latitude_band=lat_band,
                           longitude_band=lon_band)
    if meta.get(LOOKUP_TABLE_KEY) and meta.get(DEM_PAR_KEY):
        return Geolocation(lookup_table=meta[LOOKUP_TABLE_KEY], dem_par=meta[DEM_PAR_KEY])
    if meta.get(ANNOTATION_KEY):
        return Geolocation(annotation=meta[ANNOTATION_KEY])
    return None


def radar_metadata(geotransform: Sequence[float], crs_wkt: str, source_metadata: Dict[str, str],
                   output_transform: Sequence[float]) -> Dict[str, str]:
    """Metadata items for a raster derived from a radar-geometry source whose pixel
    ``(c, r)`` is at the source's position ``output_transform`` applied to ``(c, r)``
    (e.g. offset-tracking windows): the composed radar transform and the source's
    geolocation items.  Empty for a source with a CRS (already on a map)."""
    if crs_wkt:
        return {}
    source = radar_transform({k: v for k, v in (source_metadata or {}).items()}, geotransform, "")
    out = {RADAR_TRANSFORM_KEY: _format_transform(_compose(source, output_transform))}
    meta = {str(k).lower(): str(v) for k, v in (source_metadata or {}).items()}
    for key in RADAR_KEYS[1:]:
        if meta.get(key):
            out[key] = meta[key]
    return out


def _format_transform(t: Sequence[float]) -> str:
    return " ".join(f"{float(v):.17g}" for v in t)


def _compose(outer: Sequence[float], inner: Sequence[float]) -> Tuple[float, ...]:
    """The transform ``outer(inner(c, r))`` (both in GDAL geotransform order)."""
    a = np.array([[outer[1], outer[2], outer[0]], [outer[4], outer[5], outer[3]], [0, 0, 1.0]])
    b = np.array([[inner[1], inner[2], inner[0]], [inner[4], inner[5], inner[3]], [0, 0, 1.0]])
    m = a @ b
    return (m[0, 2], m[0, 0], m[0, 1], m[1, 2], m[1, 0], m[1, 1])


def radar_transform(metadata: Dict[str, str], geotransform: Sequence[float],
                    crs_wkt: str) -> Tuple[float, ...]:
    """Input pixel -> radar position transform (module docstring, 'Radar pixels')."""
    meta = {str(k).lower(): str(v) for k, v in (metadata or {}).items()}
    if meta.get(RADAR_TRANSFORM_KEY):
        try:
            values = tuple(float(v) for v in meta[RADAR_TRANSFORM_KEY].replace(",", " ").split())
        except ValueError:
            values = ()
        if len(values) != 6:
            raise ValueError(f"metadata {RADAR_TRANSFORM_KEY} = {meta[RADAR_TRANSFORM_KEY]!r} "
                             "is not six numbers (GDAL geotransform order)")
        return values
    if not crs_wkt and geotransform is not None:
        return tuple(float(v) for v in geotransform)
    return IDENTITY


@dataclass
class GeocodeResult:
    """What :func:`geocode` wrote: path, grid, per-band statistics, notes for the log."""

    path: str
    grid: GridSpec
    stats: list
    notes: list = field(default_factory=list)
    valid_fraction: float = 0.0


# ------------------------------------------------------------------ target grid
def utm_wkt(lon: float, lat: float) -> str:
    """WKT of the WGS 84 UTM zone containing (lon, lat)."""
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return crs_from_epsg((32600 if lat >= 0 else 32700) + zone)


def target_crs(value: Optional[str], lon: float, lat: float) -> str:
    """WKT of the target CRS: ``None``/empty -> WGS 84, ``"utm"`` -> the local UTM zone,
    else any definition GDAL understands (WKT, ``EPSG:n``)."""
    if not value:
        return wgs84_wkt()
    if str(value).strip().lower() == "utm":
        return utm_wkt(lon, lat)
    srs = osr.SpatialReference()
    try:
        srs.SetFromUserInput(str(value))
    except RuntimeError as exc:
        raise ValueError(f"target CRS {value!r} is not a CRS GDAL knows: give EPSG:n, a WKT "
                         f"or 'utm'") from exc
    return srs.ExportToWkt()


def _ground_spacing(lon: np.ndarray, lat: np.ndarray, step_c: float, step_r: float
                    ) -> Tuple[float, float]:
    """Median ground distance (m) between neighbouring input pixels along columns and rows,
    from lon/lat sampled every ``step_c`` columns and ``step_r`` rows."""
    k = math.pi / 180.0 * EARTH_RADIUS_M
    coslat = np.cos(np.radians(lat))

    def dist(axis, step):
        dlon = np.diff(lon, axis=axis) * 0.5 * (np.take(coslat, range(coslat.shape[axis] - 1), axis)
                                                 + np.take(coslat, range(1, coslat.shape[axis]), axis))
        d = k * np.hypot(dlon, np.diff(lat, axis=axis)) / step
        d = d[np.isfinite(d) & (d > 0)]
        return float(np.median(d)) if d.size else float("nan")

    return dist(1, step_c), dist(0, step_r)


def plan_target_grid(lon: np.ndarray, lat: np.ndarray, spacing_m: Tuple[float, float],
                     crs: Optional[str] = None, resolution: Optional[float] = None,
                     resolution_in_metres: bool = True, pad_m: float = 0.0,
                     log=None) -> GridSpec:
    """The north-up grid covering the geolocated points ``lon``/``lat`` (degrees; NaN
    ignored) in ``crs`` (see :func:`target_crs`), at ``resolution`` (metres when
    ``resolution_in_metres``, else target-CRS units; default: the square pixel of the
    ground area ``spacing_m[0] * spacing_m[1]``), grown by ``pad_m`` metres."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise ValueError("the geolocation holds no valid latitude/longitude")
    lon, lat = lon[ok], lat[ok]
    wkt = target_crs(crs, float(np.median(lon)), float(np.median(lat)))
    x, y = transform_xy(lon, lat, wgs84_wkt(), wkt)
    if resolution is None:
        if not all(math.isfinite(s) and s > 0 for s in spacing_m):
            raise ValueError("cannot derive a resolution from the geolocation (its points do "
                             "not move between pixels): give RESOLUTION")
        resolution, resolution_in_metres = math.sqrt(spacing_m[0] * spacing_m[1]), True
    lat_c = float(np.median(lat))
    rx, ry = (metres_to_crs_units((resolution, resolution), wkt, lat_c) if resolution_in_metres
              else (float(resolution), float(resolution)))
    px, py = metres_to_crs_units((pad_m, pad_m), wkt, lat_c)
    extent = (float(x.min()) - rx / 2 - px, float(y.min()) - ry / 2 - py,
              float(x.max()) + rx / 2 + px, float(y.max()) + ry / 2 + py)
    box = GridSpec(wkt, (extent[0], extent[2] - extent[0], 0.0, extent[3], 0.0,
                         -(extent[3] - extent[1])), 1, 1).to_info()
    grid = plan_grid([box], extent=extent, resolution=(rx, ry), target_crs_wkt=wkt, log=log)
    if grid.width * grid.height > 2 ** 31:
        unit = "m" if resolution_in_metres else "target-CRS units"
        raise ValueError(f"RESOLUTION = {resolution:g} {unit}: the target grid would have "
                         f"{grid.width} x {grid.height} pixels (more than 2^31): give a coarser "
                         "RESOLUTION (in metres)")
    return grid


# ------------------------------------------------------------------ geolocation arrays
def _bilinear(array: np.ndarray, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of ``array`` at fractional indices (sample centres at integers),
    NaN outside [0, n-1] and next to NaN."""
    from scipy import ndimage
    h, w = array.shape
    out = ndimage.map_coordinates(array, [rows.ravel(), cols.ravel()], order=1, mode="nearest",
                                  prefilter=False).reshape(rows.shape)
    outside = (cols < -0.5) | (cols > w - 0.5) | (rows < -0.5) | (rows > h - 0.5)
    out[outside] = np.nan
    return out


class _LatLonSampler:
    """Latitude/longitude rasters sampled (bilinear) at radar positions, block-wise."""

    def __init__(self, geo: Geolocation):
        self.geo = geo
        self.lat_ds = _open(geo.latitude, "latitude")
        self.lon_ds = _open(geo.longitude, "longitude")
        self.width, self.height = self.lat_ds.RasterXSize, self.lat_ds.RasterYSize
        if (self.lon_ds.RasterXSize, self.lon_ds.RasterYSize) != (self.width, self.height):
            raise ValueError(f"LATITUDE is {self.width} x {self.height} pixels but LONGITUDE is "
                             f"{self.lon_ds.RasterXSize} x {self.lon_ds.RasterYSize}: give the "
                             "pair of the same radar grid")

    def __call__(self, x: np.ndarray, y: np.ndarray):
        """(lon, lat) at radar positions x (columns), y (rows), GDAL convention."""
        ci, ri = x - 0.5, y - 0.5
        finite = np.isfinite(ci) & np.isfinite(ri)
        if not finite.any():
            return np.full(x.shape, np.nan), np.full(x.shape, np.nan)
        r0 = int(max(0, math.floor(np.nanmin(ri[finite])) - 1))
        r1 = int(min(self.height, math.ceil(np.nanmax(ri[finite])) + 2))
        if r1 <= r0:
            return np.full(x.shape, np.nan), np.full(x.shape, np.nan)
        lat = _read_valid(self.lat_ds, self.geo.latitude_band, r0, r1 - r0, -90, 90)
        lon = _read_valid(self.lon_ds, self.geo.longitude_band, r0, r1 - r0, -360, 360)
        return _bilinear(lon, ci, ri - r0), _bilinear(lat, ci, ri - r0)


def _open(path: str, name: str):
    try:
        return open_raster(path)
    except RasterError as exc:
        raise ValueError(f"{name.upper()} {path!r}: {exc}") from exc


def _read_valid(ds, band: int, row: int, rows: int, low: float, high: float) -> np.ndarray:
    """float64 rows of a latitude/longitude band; the declared nodata and values outside the
    valid range of degrees become NaN."""
    b = ds.GetRasterBand(band)
    a = b.ReadAsArray(0, row, ds.RasterXSize, rows).astype(np.float64)
    nd = b.GetNoDataValue()
    if nd is not None and not math.isnan(nd):
        a[a == nd] = np.nan
    a[(a < low) | (a > high)] = np.nan
    return a


class _AnnotationSampler:
    """Latitude/longitude of a Sentinel-1 geolocation grid at radar positions (bilinear in
    line/sample, linear extrapolation beyond the grid)."""

    def __init__(self, path: str):
        from scipy.interpolate import RegularGridInterpolator

        from .products.s1_annotation import read_annotation
        ann = read_annotation(path)
        lines, pixels = np.unique(ann.line), np.unique(ann.pixel)
        if lines.size * pixels.size != ann.line.size or lines.size < 2 or pixels.size < 2:
            raise ValueError(f"{path}: the geolocation grid is not a regular line/pixel grid")
        li, pi = np.searchsorted(lines, ann.line), np.searchsorted(pixels, ann.pixel)
        self.annotation = ann
        self.width, self.height = ann.samples, ann.lines
        self._interp = []
        for values in (ann.longitude, ann.latitude):
            grid = np.full((lines.size, pixels.size), np.nan)
            grid[li, pi] = values
            self._interp.append(RegularGridInterpolator((lines, pixels), grid, method="linear",
                                                        bounds_error=False, fill_value=None))

    def __call__(self, x: np.ndarray, y: np.ndarray):
        pts = np.stack([(y - 0.5).ravel(), (x - 0.5).ravel()], axis=-1)
        return tuple(f(pts).reshape(x.shape) for f in self._interp)


def _radar_positions(transform, col0: int, cols: int, row0: int, rows: int):
    cc, rr = np.meshgrid(np.arange(col0, col0 + cols) + 0.5, np.arange(row0, row0 + rows) + 0.5)
    t = transform
    return t[0] + cc * t[1] + rr * t[2], t[3] + cc * t[4] + rr * t[5]


def _write_geoloc_arrays(sampler, transform, width: int, height: int, folder: str, monitor):
    """Write lon/lat at the input's pixel centres (float64, nodata GEOLOC_NODATA); return
    the paths, a decimated (lon, lat) sample and its strides."""
    paths = [os.path.join(folder, "lon.tif"), os.path.join(folder, "lat.tif")]
    driver = gdal.GetDriverByName("GTiff")
    dss = []
    for p in paths:
        ds = driver.Create(p, width, height, 1, gdal.GDT_Float64, ["TILED=YES", "BIGTIFF=IF_SAFER"])
        ds.GetRasterBand(1).SetNoDataValue(GEOLOC_NODATA)
        dss.append(ds)
    stride_c, stride_r = max(1, width // 500), max(1, height // 500)
    sample_lon, sample_lat = [], []
    rows_per = block_rows(width, 48, BLOCK_BYTES)
    for r0, n in iter_blocks(height, rows_per):
        x, y = _radar_positions(transform, 0, width, r0, n)
        lon, lat = sampler(x, y)
        bad = ~(np.isfinite(lon) & np.isfinite(lat))
        lon[bad] = GEOLOC_NODATA
        lat[bad] = GEOLOC_NODATA
        dss[0].GetRasterBand(1).WriteArray(lon, 0, r0)
        dss[1].GetRasterBand(1).WriteArray(lat, 0, r0)
        take = [i for i in range(n) if (r0 + i) % stride_r == 0 or r0 + i == height - 1]
        lon[bad], lat[bad] = np.nan, np.nan
        sample_lon.append(lon[take][:, _strided(width, stride_c)])
        sample_lat.append(lat[take][:, _strided(width, stride_c)])
        monitor.update((r0 + n) / height)
    for ds in dss:
        ds.FlushCache()
    dss = None
    return paths, np.vstack(sample_lon), np.vstack(sample_lat), (stride_c, stride_r)


def _strided(n: int, stride: int) -> np.ndarray:
    idx = np.arange(0, n, stride)
    return idx if idx[-1] == n - 1 else np.append(idx, n - 1)


def _scan_direct(geo: Geolocation, width: int, height: int, monitor):
    """Check latitude/longitude on the input's grid for NaN/invalid values (block-wise);
    return (usable in place, decimated lon, lat, strides)."""
    lat_ds, lon_ds = _open(geo.latitude, "latitude"), _open(geo.longitude, "longitude")
    stride_c, stride_r = max(1, width // 500), max(1, height // 500)
    clean = True
    for ds, band in ((lat_ds, geo.latitude_band), (lon_ds, geo.longitude_band)):
        nd = ds.GetRasterBand(band).GetNoDataValue()
        if nd is not None and math.isnan(nd):
            clean = False
    sample_lon, sample_lat = [], []
    rows_per = block_rows(width, 16, BLOCK_BYTES)
    cols = _strided(width, stride_c)
    for r0, n in iter_blocks(height, rows_per):
        lat = _read_valid(lat_ds, geo.latitude_band, r0, n, -90, 90)
        lon = _read_valid(lon_ds, geo.longitude_band, r0, n, -360, 360)
        bad = ~(np.isfinite(lon) & np.isfinite(lat))
        if bad.any():
            raw_lat = lat_ds.GetRasterBand(geo.latitude_band).ReadAsArray(0, r0, width, n)
            nd = lat_ds.GetRasterBand(geo.latitude_band).GetNoDataValue()
            # declared nodata values GDAL understands are fine; NaN and undeclared are not
            if nd is None or math.isnan(nd) or not np.all(raw_lat[bad] == nd):
                clean = False
        take = [i for i in range(n) if (r0 + i) % stride_r == 0 or r0 + i == height - 1]
        sample_lon.append(lon[take][:, cols])
        sample_lat.append(lat[take][:, cols])
        monitor.update((r0 + n) / height)
    return clean, np.vstack(sample_lon), np.vstack(sample_lat), (stride_c, stride_r)


def _geoloc_vrt(input_path: str, lon_path: str, lat_path: str, lon_band: int, lat_band: int,
                folder: str) -> str:
    name = os.path.splitext(os.path.basename(input_path))[0] or "input"
    vrt_path = os.path.join(folder, f"{name}.vrt")
    src = open_raster(input_path)
    vrt = gdal.Translate(vrt_path, src, format="VRT")
    def source(path):   # GDAL source names (HDF5:"f.h5"://latitude) stay as they are
        return os.path.abspath(path) if os.path.exists(path) else path

    vrt.SetMetadata({"X_DATASET": source(lon_path), "X_BAND": str(lon_band),
                     "Y_DATASET": source(lat_path), "Y_BAND": str(lat_band),
                     "PIXEL_OFFSET": "0", "LINE_OFFSET": "0", "PIXEL_STEP": "1", "LINE_STEP": "1",
                     "GEOREFERENCING_CONVENTION": "PIXEL_CENTER",
                     "SRS": osr.SRS_WKT_WGS84_LAT_LONG}, "GEOLOCATION")
    vrt.FlushCache()
    vrt = None
    src = None
    return vrt_path


# ------------------------------------------------------------------ GAMMA lookup table
def read_dem_par(path: str):
    """(width, height, geotransform, crs_wkt) of a GAMMA DEM parameter file."""
    from .products.gamma_roipac import _dem_par_grid
    try:
        width, height, gt, wkt, _par = _dem_par_grid(path)
    except ValueError as exc:
        raise ValueError(f"DEM_PAR {path!r}: {exc}") from exc
    return width, height, gt, wkt


def read_lookup_rows(path: str, width: int, height: int, row: int, rows: int):
    """Rows of a GAMMA lookup table: (range sample, azimuth line) as float64 arrays, NaN where
    the table holds (0, 0) (outside the radar image)."""
    size = os.path.getsize(path)
    if size != width * height * 8:
        raise ValueError(f"LOOKUP_TABLE {path!r} has {size} bytes, but its DEM .par describes "
                         f"{width} x {height} pixels of complex float32 ({width * height * 8} "
                         "bytes): give the lookup table of that DEM grid")
    data = np.fromfile(path, dtype=">f4", count=rows * width * 2, offset=row * width * 8)
    data = data.reshape(rows, width, 2).astype(np.float64)
    rng, az = data[..., 0], data[..., 1]
    bad = ((rng == 0) & (az == 0)) | ~np.isfinite(rng) | ~np.isfinite(az)
    rng[bad] = np.nan
    az[bad] = np.nan
    return rng, az


def _invert(t: Sequence[float]) -> Tuple[float, ...]:
    det = t[1] * t[5] - t[2] * t[4]
    if det == 0:
        raise ValueError(f"the radar pixel transform {tuple(t)} is singular")
    a = np.linalg.inv(np.array([[t[1], t[2], t[0]], [t[4], t[5], t[3]], [0, 0, 1.0]]))
    return (a[0, 2], a[0, 0], a[0, 1], a[1, 2], a[1, 0], a[1, 1])


def _box_average(block: np.ndarray, r_lo: int, c: np.ndarray, r: np.ndarray, hc: np.ndarray,
                 hr: np.ndarray) -> np.ndarray:
    """Mean of the valid pixels whose centres lie within ``c ± hc``, ``r ± hr`` (indices,
    centres at integers; ``block`` holds rows from ``r_lo``), by summed-area tables; NaN where
    the box holds no valid pixel."""
    h, w = block.shape
    valid = np.isfinite(block)
    sums = np.zeros((h + 1, w + 1))
    counts = np.zeros((h + 1, w + 1))
    sums[1:, 1:] = np.cumsum(np.cumsum(np.where(valid, block, 0.0), axis=0), axis=1)
    counts[1:, 1:] = np.cumsum(np.cumsum(valid, axis=0), axis=1)
    k0 = np.clip(np.ceil(c - hc), 0, w - 1).astype(np.int64)
    k1 = np.clip(np.floor(c + hc), 0, w - 1).astype(np.int64)
    m0 = np.clip(np.ceil(r - hr) - r_lo, 0, h - 1).astype(np.int64)
    m1 = np.clip(np.floor(r + hr) - r_lo, 0, h - 1).astype(np.int64)

    def box(table):
        return table[m1 + 1, k1 + 1] - table[m0, k1 + 1] - table[m1 + 1, k0] + table[m0, k0]

    n = box(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, box(sums) / np.maximum(n, 1), np.nan)


def _interp_bands(ds, bands: Sequence[int], cols: np.ndarray, rows: np.ndarray,
                  resampling: str, half: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> list:
    """Input bands at fractional pixel indices (centres at integers), NaN-aware bilinear
    (valid neighbours' weights renormalised) or nearest; NaN outside the raster.  ``average``
    (with ``half`` = half the map pixel's extent in input pixels along columns and rows): the
    mean of the valid input pixels within it, bilinear where that box holds less than a pixel."""
    w, h = ds.RasterXSize, ds.RasterYSize
    ok = np.isfinite(cols) & np.isfinite(rows) & (cols >= -0.5) & (cols <= w - 0.5) \
        & (rows >= -0.5) & (rows <= h - 0.5)
    outs = [np.full(cols.shape, np.nan, dtype=np.float32) for _ in bands]
    if not ok.any():
        return outs
    c, r = cols[ok], rows[ok]
    boxed = np.zeros(c.shape, dtype=bool)
    if resampling == "average" and half is not None:
        hc, hr = half[0][ok], half[1][ok]
        boxed = np.isfinite(hc) & np.isfinite(hr) & (np.floor(c + hc) > np.ceil(c - hc)) \
            & (np.floor(r + hr) > np.ceil(r - hr))
    r_lo = int(max(0, math.floor(r.min())))
    r_hi = int(min(h - 1, math.ceil(r.max())))
    if boxed.any():
        r_lo = int(max(0, min(r_lo, math.floor(np.min(r[boxed] - hr[boxed])))))
        r_hi = int(min(h - 1, max(r_hi, math.ceil(np.max(r[boxed] + hr[boxed])))))
    for out, band in zip(outs, bands):
        block = read_block(ds, band, r_lo, 0, r_hi - r_lo + 1, w).astype(np.float64)
        if resampling == "nearest":
            ci = np.clip(np.floor(c + 0.5).astype(np.int64), 0, w - 1)
            ri = np.clip(np.floor(r + 0.5).astype(np.int64), r_lo, r_hi) - r_lo
            out[ok] = block[ri, ci]
            continue
        c0 = np.clip(np.floor(c).astype(np.int64), 0, w - 1)
        r0 = np.clip(np.floor(r).astype(np.int64), r_lo, r_hi)
        fc, fr = np.clip(c - c0, 0, 1), np.clip(r - r0, 0, 1)
        c1, r1 = np.minimum(c0 + 1, w - 1), np.minimum(r0 + 1, r_hi)
        num = np.zeros(c.shape)
        den = np.zeros(c.shape)
        for rr, cc, wt in ((r0, c0, (1 - fr) * (1 - fc)), (r0, c1, (1 - fr) * fc),
                           (r1, c0, fr * (1 - fc)), (r1, c1, fr * fc)):
            v = block[rr - r_lo, cc]
            good = np.isfinite(v) & (wt > 0)
            num[good] += wt[good] * v[good]
            den[good] += wt[good]
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(den > 1e-12, num / np.maximum(den, 1e-300), np.nan)
        if boxed.any():
            values[boxed] = _box_average(block, r_lo, c[boxed], r[boxed], hc[boxed], hr[boxed])
        out[ok] = values
    return outs


def _half_extent(cols: np.ndarray, rows: np.ndarray):
    """Half the extent of each map pixel in input pixels (along input columns, rows), from
    the change of its input position to its map neighbours (NaN next to invalid ones)."""
    def gradient(a, axis):
        return np.gradient(a, axis=axis) if a.shape[axis] > 1 else np.zeros(a.shape)

    hc = 0.5 * (np.abs(gradient(cols, 1)) + np.abs(gradient(cols, 0)))
    hr = 0.5 * (np.abs(gradient(rows, 1)) + np.abs(gradient(rows, 0)))
    return hc, hr


def _geocode_lookup(input_path: str, info, geo: Geolocation, transform, resampling: str,
                    output: str, metadata: Dict[str, str], monitor) -> str:
    width, height, gt, wkt = read_dem_par(geo.dem_par)
    inverse = _invert(transform)
    ds = open_raster(input_path)
    bands = list(range(1, info.band_count + 1))
    rows_per = block_rows(width, 8 * (4 + len(bands)), BLOCK_BYTES)
    with RasterWriter(output, width, height, gt, wkt, len(bands), info.descriptions,
                      info.band_metadata, metadata) as w:
        for r0, n in iter_blocks(height, rows_per):
            rng, az = read_lookup_rows(geo.lookup_table, width, height, r0, n)
            x, y = rng + 0.5, az + 0.5                       # radar positions (GDAL convention)
            cols = inverse[0] + x * inverse[1] + y * inverse[2] - 0.5
            rows = inverse[3] + x * inverse[4] + y * inverse[5] - 0.5
            half = _half_extent(cols, rows) if resampling == "average" else None
            for i, values in enumerate(_interp_bands(ds, bands, cols, rows, resampling, half)):
                w.write(i + 1, r0, values)
            monitor.update((r0 + n) / height)
    ds = None
    return output


def _radar_product(path: str):
    """The processor product at ``path`` when its reader says it is in radar geometry (no
    map georeferencing: ISCE2 ``.rdr``/``.unw`` images, which GDAL's ISCE driver nevertheless
    labels WGS 84 with pixel coordinates), else None.  Its ``geolocation`` holds what the
    reader found next to it (lat.rdr/lon.rdr, geometryRadar.h5)."""
    from .products import open_product
    try:
        product = open_product(path)
    except Exception:  # noqa: BLE001 (not a product GDAL cannot place: no radar geometry)
        return None
    return None if getattr(product, "has_geotransform", True) else product


# ------------------------------------------------------------------ main entry
def geocode(input_path: str, geolocation: Optional[Geolocation], output_path: str,
            crs: Optional[str] = None, resolution: Optional[float] = None,
            resolution_in_metres: bool = True, resampling: str = "bilinear",
            monitor=None, error_threshold: float = 0.0) -> GeocodeResult:
    """Geocode every band of ``input_path`` (module docstring) into ``output_path``.

    ``geolocation`` None: the one named by the input's metadata.  ``crs``: None (WGS 84,
    or the DEM grid's CRS for a lookup table), ``"utm"`` or any CRS definition.
    ``resolution``: None (the default of the module docstring; the DEM posting for a
    lookup table), metres when ``resolution_in_metres`` else target-CRS units.
    ``resampling``: ``nearest``, ``bilinear`` or ``average``.  ``error_threshold``: GDAL's
    transformer approximation in source pixels (``gdalwarp -et``; 0 = exact, the default;
    GDAL's own default is 0.125)."""
    mon = ensure_monitor(monitor)
    if str(resampling).lower() not in RESAMPLING_CHOICES:
        raise ValueError(f"RESAMPLING {resampling!r}: use one of {', '.join(RESAMPLING_CHOICES)}")
    resampling = str(resampling).lower()
    gdal_resampling(resampling)
    info = raster_info(input_path)
    product = _radar_product(input_path) if (info.crs_wkt or geolocation is None) else None
    if info.crs_wkt and product is None:
        raise ValueError(f"INPUT {os.path.basename(input_path)!r} already has a CRS "
                         f"({info.crs_wkt.split(',')[0]}...): it is on a map, not in radar "
                         "geometry. Use displacement:common_grid to reproject it")
    if geolocation is None:
        geolocation = from_metadata(info.metadata) or (
            from_metadata(product.geolocation) if product is not None else None)
        if geolocation is None:
            raise ValueError(
                f"INPUT {os.path.basename(input_path)!r} names no geolocation in its metadata: "
                "give LATITUDE and LONGITUDE rasters, a LOOKUP_TABLE with its DEM_PAR, or a "
                "Sentinel-1 ANNOTATION")
    transform = radar_transform(info.metadata, info.geotransform,
                                info.crs_wkt or ("product" if product is not None else ""))
    notes = [f"geolocation: {geolocation.describe()}",
             f"input pixel -> radar position: {_format_transform(transform)}"]
    meta = {k: v for k, v in info.metadata.items() if str(k).lower() not in RADAR_KEYS}
    meta.update({"geolocation": geolocation.describe(), "radar_source": os.path.basename(input_path),
                 "geocode_resampling": resampling})
    if any(info.is_complex(b) for b in range(1, info.band_count + 1)) and resampling == "average":
        raise ValueError("RESAMPLING 'average' of complex bands mixes phases: use bilinear or "
                         "nearest, or geocode the phase and amplitude separately")
    work = tempfile.mkdtemp(prefix="geocode_",
                            dir=os.path.dirname(os.path.abspath(output_path)) or None)
    try:
        if geolocation.lookup_table:
            if any(info.is_complex(b) for b in range(1, info.band_count + 1)):
                raise ValueError("INPUT has complex bands, which the lookup-table path does not "
                                 "interpolate: geocode the phase and amplitude separately")
            grid = _lookup_path(input_path, info, geolocation, transform, output_path, crs,
                                resolution, resolution_in_metres, resampling, meta, work,
                                notes, mon)
        else:
            grid = _geoloc_path(input_path, info, geolocation, transform, output_path, crs,
                                resolution, resolution_in_metres, resampling, meta, work,
                                notes, mon, error_threshold)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _finish(output_path, grid, meta, notes)


def _geoloc_arrays(info, geo, transform, work, notes, mon):
    """The geolocation arrays on INPUT's grid (in place, or written into ``work``) and the
    target-grid planning inputs: (lon_path, lat_path, lon_band, lat_band, grid planner)."""
    direct = False
    if geo.latitude:
        sampler = _LatLonSampler(geo)
        direct = (tuple(transform) == IDENTITY
                  and (sampler.width, sampler.height) == (info.width, info.height))
        if not direct and tuple(transform) == IDENTITY:
            raise ValueError(
                f"LATITUDE/LONGITUDE are {sampler.width} x {sampler.height} pixels but INPUT is "
                f"{info.width} x {info.height}, and INPUT says nothing of where its pixels are "
                f"on their grid (metadata {RADAR_TRANSFORM_KEY}): give the latitude/longitude "
                "of INPUT's own grid, or an offset-tracking output of that radar grid")
    else:
        sampler = _AnnotationSampler(geo.annotation)
    if direct:
        clean, lon_s, lat_s, strides = _scan_direct(geo, info.width, info.height, mon.sub(0, 0.5))
        lon_path, lat_path = geo.longitude, geo.latitude
        lon_band, lat_band = geo.longitude_band, geo.latitude_band
        if not clean:
            notes.append("latitude/longitude hold NaN or undeclared invalid values: copied with "
                         f"nodata {GEOLOC_NODATA:g} for GDAL's geolocation warper")
            (lon_path, lat_path), lon_s, lat_s, strides = _write_geoloc_arrays(
                sampler, IDENTITY, info.width, info.height, work, mon.sub(0.5, 1.0))
            lon_band = lat_band = 1
    else:
        (lon_path, lat_path), lon_s, lat_s, strides = _write_geoloc_arrays(
            sampler, transform, info.width, info.height, work, mon)
        lon_band = lat_band = 1
        notes.append("latitude/longitude sampled at the centres of INPUT's pixels")
    spacing = _ground_spacing(lon_s, lat_s, *strides)
    notes.append(f"ground spacing of INPUT's pixels: {spacing[0]:.4g} m (columns) x "
                 f"{spacing[1]:.4g} m (rows)")

    def plan(crs, resolution, resolution_in_metres):
        return plan_target_grid(lon_s, lat_s, spacing, crs, resolution, resolution_in_metres,
                                pad_m=max(strides) * max(spacing) if max(strides) > 1 else 0.0,
                                log=notes.append)

    return lon_path, lat_path, lon_band, lat_band, plan


def plan_grid_for(input_path: str, geolocation: Optional[Geolocation] = None,
                  crs: Optional[str] = None, resolution: Optional[float] = None,
                  resolution_in_metres: bool = True) -> GridSpec:
    """The target grid :func:`geocode` uses for these arguments (latitude/longitude or
    Sentinel-1 annotation geolocation), without geocoding (e.g. to give a peer the same grid)."""
    info = raster_info(input_path)
    geolocation = geolocation or from_metadata(info.metadata)
    if geolocation is None or geolocation.lookup_table:
        raise ValueError("plan_grid_for needs a latitude/longitude or annotation geolocation")
    transform = radar_transform(info.metadata, info.geotransform, info.crs_wkt)
    work = tempfile.mkdtemp(prefix="geocode_plan_")
    try:
        plan = _geoloc_arrays(info, geolocation, transform, work, [], ensure_monitor(None))[4]
        return plan(crs, resolution, resolution_in_metres)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _geoloc_path(input_path, info, geo, transform, output_path, crs, resolution,
                 resolution_in_metres, resampling, meta, work, notes, mon,
                 error_threshold) -> GridSpec:
    lon_path, lat_path, lon_band, lat_band, plan = _geoloc_arrays(
        info, geo, transform, work, notes, mon.sub(0, 0.2))
    grid = plan(crs, resolution, resolution_in_metres)
    vrt = _geoloc_vrt(input_path, lon_path, lat_path, lon_band, lat_band, work)
    # errorThreshold 0: the exact geolocation inverse at every output pixel.  GDAL's default
    # approximation (0.125 source pixel, linear along output rows) moved values by up to
    # 0.05 window in a band of rows on the test geometry (docs/geocode.md)
    # one warping thread: each further thread would clone the geolocation transformer,
    # rebuilding its backmap, and outside the thread-local CPL_TMPDIR set below
    extra = {"geoloc": True, "errorThreshold": float(error_threshold),
             "warpOptions": ["WRITE_FLUSH=YES"]}
    if any(info.is_complex(b) for b in range(1, info.band_count + 1)):
        from .raster_io import GTIFF_OPTIONS, compression_threads_option   # no float predictor
        extra.update(outputType=gdal.GDT_CFloat32,
                     creationOptions=list(GTIFF_OPTIONS) + compression_threads_option())
    # GDAL keeps the backmap of large geolocation arrays in temporary files, by default in the
    # current directory (that of QGIS, or read-only): put them in the work folder
    previous = gdal.GetThreadLocalConfigOption("CPL_TMPDIR", None)
    gdal.SetThreadLocalConfigOption("CPL_TMPDIR", work)
    try:
        warp_to_grid(vrt, grid, resampling=resampling, output_path=output_path,
                     monitor=mon.sub(0.2, 1.0), warp_extra=extra)
    finally:
        gdal.SetThreadLocalConfigOption("CPL_TMPDIR", previous)
    return grid


def _lookup_path(input_path, info, geo, transform, output_path, crs, resolution,
                 resolution_in_metres, resampling, meta, work, notes, mon) -> GridSpec:
    width, height, gt, wkt = read_dem_par(geo.dem_par)
    dem_grid = GridSpec(wkt, gt, width, height)
    if crs is None and resolution is None:
        _geocode_lookup(input_path, info, geo, transform, resampling, output_path, meta, mon)
        notes.append(f"lookup table applied on the DEM grid: {dem_grid.describe()}")
        return dem_grid
    on_dem = os.path.join(work, "on_dem_grid.tif")
    _geocode_lookup(input_path, info, geo, transform, resampling, on_dem, meta, mon.sub(0, 0.5))
    centre = GridSpec.from_info(raster_info(on_dem))
    cx, cy = centre.geotransform[0] + centre.width * centre.geotransform[1] / 2, \
        centre.geotransform[3] + centre.height * centre.geotransform[5] / 2
    lon_c, lat_c = transform_xy(cx, cy, wkt, wgs84_wkt())
    target = target_crs(crs, float(lon_c), float(lat_c)) if crs else wkt
    if resolution is None:
        mx, my = dem_grid.resolution_metres()
        resolution, resolution_in_metres = math.sqrt(mx * my), True
    grid = plan_grid([on_dem], extent="union", resolution=resolution,
                     resolution_in_metres=resolution_in_metres, target_crs_wkt=target,
                     log=notes.append)
    notes.append(f"lookup table applied on the DEM grid ({dem_grid.describe()}), then "
                 f"resampled ({resampling}) onto the target grid")
    warp_to_grid(on_dem, grid, resampling=resampling, output_path=output_path,
                 monitor=mon.sub(0.5, 1.0))
    return grid


def _finish(output_path: str, grid: GridSpec, meta: Dict[str, str], notes) -> GeocodeResult:
    ds = gdal.Open(output_path, gdal.GA_Update)
    try:
        ds.SetMetadata({str(k): str(v) for k, v in meta.items()} | {"grid": grid.describe()})
        count = ds.RasterCount
        for b in range(1, count + 1):       # the input's statistics do not describe the output
            band = ds.GetRasterBand(b)
            band.SetMetadata({k: v for k, v in band.GetMetadata().items()
                              if not k.startswith("STATISTICS_")})
            band = None
    finally:
        ds = None
    stats = [sample_stats(output_path, b) for b in range(1, count + 1)]
    valid = max((s.get("valid", 0) for s in stats), default=0)
    if valid == 0:
        remove_raster(output_path)
        raise ValueError("no input pixel landed on the target grid (all output pixels are "
                         "nodata): check that the geolocation belongs to INPUT's radar grid "
                         "and that INPUT holds valid values")
    return GeocodeResult(output_path, grid, stats, notes, valid / float(grid.width * grid.height))
