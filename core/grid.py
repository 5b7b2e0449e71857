"""Common pixel grids: plan one grid for several rasters and warp rasters onto it.

Every algorithm that combines rasters pixel by pixel (common grid,
decomposition, GNSS comparison, time series, LOS to vertical with an
incidence raster on another grid) uses this module, so that all of them
agree on the same grid for the same inputs.

Conventions
    * A grid is north-up: geotransform ``(x0, rx, 0, y0, 0, -ry)`` with
      ``rx, ry > 0`` in target-CRS units (degrees for a geographic CRS).
    * **Grids that already match are kept**: when the reference, else the first
      input (in order) that is north-up in the target CRS, has the planned
      resolution, the grid's pixel edges are its pixel edges, so it is copied,
      not resampled (:func:`pixels_on_grid`, :func:`layer_resampling`); a
      derived resolution (coarsest/finest) within :data:`SNAP_TOLERANCE` of the
      pixel size of such an input is snapped to it first.  Inputs on one grid
      therefore come out on that grid, and ``extent="reference",
      resolution="reference"`` reproduces the reference's grid exactly.
    * **Target-aligned pixels** otherwise: :func:`plan_grid` puts pixel edges
      on integer multiples of the resolution (like ``gdalwarp -tap``), so
      repeated and separate runs give the same grid.
    * Extents grow outward to whole pixels (an input's footprint is never cut).
    * Resampling is done only by GDAL's warper (``gdal.Warp``).  Nodata and
      NaN source pixels are excluded from every kernel (never averaged in as
      numbers); a target pixel with no valid source is NaN.  Outputs are
      float32 with NaN nodata.
    * Metres on a geographic CRS: converted at the extent's centre latitude
      on the sphere of radius 6 371 008.8 m (the same as
      :func:`~.raster_io.pixel_size_metres`): ``dlat = m / (R·π/180)``,
      ``dlon = dlat / cos(lat)``, so pixels are square on the ground there.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from osgeo import gdal, osr

from .execution import local_worker_count
from .progress import OperationCancelled, ensure_monitor
from .raster_io import (
    GTIFF_OPTIONS,
    compression_threads_option,
    RasterError,
    RasterInfo,
    check_band,
    check_raster_size,
    open_raster,
    partial_path,
    pixel_size_metres,
    raster_info,
    read_block,
    read_decimated,
    remove_raster,
    remove_stale_partials,
    same_crs,
)

gdal.UseExceptions()
osr.UseExceptions()

#: Radius used to convert degrees to metres (mean Earth radius, as raster_io).
EARTH_RADIUS_M = 6371008.8

EXTENT_CHOICES = ("intersection", "union", "reference")
RESOLUTION_CHOICES = ("coarsest", "finest", "reference")

#: User-facing resampling names -> GDAL names.
RESAMPLING = {
    "average": "average",
    "bilinear": "bilinear",
    "cubic": "cubic",
    "nearest": "near",
    "near": "near",
    "median": "med",
    "med": "med",
}
RESAMPLING_CHOICES = ("average", "bilinear", "cubic", "nearest", "median")

_EPS = 1e-6  # fraction of a pixel below which an edge counts as already aligned
#: A derived resolution (coarsest/finest) within this fraction of the pixel size of an input
#: already in the target CRS is that pixel size: reprojection changes the resolution GDAL
#: suggests a little (a 30 m raster in UTM 34N suggests 30.018 m in UTM 33N near the zone
#: border), which would otherwise resample every input onto a 30.018 m grid.
SNAP_TOLERANCE = 0.01

InfoLike = Union[RasterInfo, str]


# --------------------------------------------------------------------------- GridSpec
@dataclass(frozen=True)
class GridSpec:
    """A north-up target pixel grid: CRS (WKT), GDAL geotransform and size."""

    crs_wkt: str
    geotransform: tuple
    width: int
    height: int

    def __post_init__(self):
        gt = tuple(float(v) for v in self.geotransform)
        object.__setattr__(self, "geotransform", gt)
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"a grid needs at least one pixel, not {self.width} x {self.height}")
        if gt[2] != 0.0 or gt[4] != 0.0 or gt[1] <= 0.0 or gt[5] >= 0.0:
            raise ValueError(f"a grid must be north-up (x0, rx>0, 0, y0, 0, -ry<0), not {gt}")

    @classmethod
    def from_info(cls, info: RasterInfo) -> "GridSpec":
        """The grid of an existing (north-up) raster."""
        return cls(info.crs_wkt, tuple(info.geotransform), info.width, info.height)

    # -- derived values
    @property
    def resolution(self) -> Tuple[float, float]:
        """(rx, ry) pixel size in CRS units, both positive."""
        return (self.geotransform[1], -self.geotransform[5])

    @property
    def extent(self) -> Tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in CRS units (outer pixel edges)."""
        gt = self.geotransform
        return (gt[0], gt[3] + gt[5] * self.height, gt[0] + gt[1] * self.width, gt[3])

    @property
    def shape(self) -> Tuple[int, int]:
        """(rows, columns)."""
        return (self.height, self.width)

    def is_geographic(self) -> bool:
        """True when the CRS is geographic (resolution in degrees)."""
        return _is_geographic(self.crs_wkt)

    def matches(self, info: RasterInfo, tolerance: float = 1e-6) -> bool:
        """True when ``info`` is on this grid: same size, same CRS, geotransform equal to
        ``tolerance`` pixels (i.e. the same grid up to rounding)."""
        if (int(info.width), int(info.height)) != (self.width, self.height):
            return False
        if not same_crs(self.crs_wkt, info.crs_wkt):
            return False
        a, b = self.geotransform, tuple(info.geotransform)
        rx, ry = self.resolution
        tol = (tolerance * rx,) * 3 + (tolerance * ry,) * 3
        order = range(6)
        return all(abs(a[i] - b[i]) <= tol[i] for i in order)

    def resolution_metres(self) -> Tuple[float, float]:
        """Approximate ground size (x, y) of one pixel in metres (at the centre latitude
        for a geographic CRS; raw steps without a CRS)."""
        return pixel_size_metres(self.to_info())

    def to_info(self, path: str = "") -> RasterInfo:
        """A band-less :class:`RasterInfo` describing this grid (for grid-only helpers)."""
        return RasterInfo(path=path, width=self.width, height=self.height, band_count=0,
                          geotransform=self.geotransform, crs_wkt=self.crs_wkt, data_types=[],
                          nodata=[], descriptions=[])

    def describe(self) -> str:
        """One line for logs: CRS, extent, size, resolution in CRS units and in metres."""
        xmin, ymin, xmax, ymax = self.extent
        rx, ry = self.resolution
        mx, my = self.resolution_metres()
        unit = _unit_name(self.crs_wkt)
        return (
            f"CRS {crs_name(self.crs_wkt)}; extent xmin {xmin:.10g}, ymin {ymin:.10g}, "
            f"xmax {xmax:.10g}, ymax {ymax:.10g}; size {self.width} x {self.height} pixels; "
            f"resolution {rx:.10g} x {ry:.10g} {unit} (about {mx:.4g} m x {my:.4g} m)"
        )

    def bounds_options(self) -> Dict[str, object]:
        """``gdal.Warp`` keyword arguments that produce exactly this grid."""
        rx, ry = self.resolution
        return {
            "outputBounds": self.extent,
            "xRes": rx,
            "yRes": ry,
            "dstSRS": self.crs_wkt or None,
        }


# --------------------------------------------------------------------------- CRS helpers
def _srs(wkt: str) -> osr.SpatialReference:
    srs = osr.SpatialReference()
    srs.ImportFromWkt(wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def _is_geographic(wkt: str) -> bool:
    return bool(wkt) and bool(_srs(wkt).IsGeographic())


def _unit_name(wkt: str) -> str:
    if not wkt:
        return "pixel units"
    srs = _srs(wkt)
    if srs.IsGeographic():
        return "degrees"
    name = srs.GetLinearUnitsName() or "m"
    return {"metre": "m", "meter": "m", "Meter": "m"}.get(name, name)


def crs_name(wkt: str) -> str:
    """A short CRS label, e.g. ``EPSG:32633 (WGS 84 / UTM zone 33N)``; ``none`` without CRS."""
    if not wkt:
        return "none"
    srs = _srs(wkt)
    name = srs.GetName() or "unnamed"
    auth, code = srs.GetAuthorityName(None), srs.GetAuthorityCode(None)
    return f"{auth}:{code} ({name})" if auth and code else name


def metres_to_crs_units(metres_xy: Tuple[float, float], crs_wkt: str,
                        centre_latitude: float = 0.0) -> Tuple[float, float]:
    """Convert a resolution in metres to CRS units.

    Geographic CRS: ``dlat = my / (R·π/180)``, ``dlon = mx / (R·π/180·cos(lat))``
    at ``centre_latitude`` (degrees), R = 6 371 008.8 m.  Projected CRS: divided
    by the CRS linear unit (1 for metres).  No CRS: unchanged.
    """
    mx, my = float(metres_xy[0]), float(metres_xy[1])
    if not crs_wkt:
        return mx, my
    srs = _srs(crs_wkt)
    if srs.IsGeographic():
        k = math.pi / 180.0 * EARTH_RADIUS_M
        coslat = math.cos(math.radians(centre_latitude))
        if coslat < 1e-6:
            raise ValueError(f"cannot convert metres to degrees of longitude at latitude "
                             f"{centre_latitude:g}")
        return mx / (k * coslat), my / k
    unit = srs.GetLinearUnits() or 1.0
    return mx / unit, my / unit


# --------------------------------------------------------------------------- planning
def _as_info(item: InfoLike) -> RasterInfo:
    return item if isinstance(item, RasterInfo) else raster_info(str(item))


def _footprint(info: RasterInfo, target_wkt: str):
    """(xmin, ymin, xmax, ymax, rx, ry) of ``info`` in the target CRS.

    Same CRS and north-up: exact.  Otherwise GDAL's suggested warp output (what
    ``gdalwarp -t_srs`` would choose), so footprints agree with the warper.
    """
    if not info.has_geotransform:
        raise ValueError(f"{info.path!r} has no geotransform: it is not georeferenced "
                         "(geocode it first)")
    gt = info.geotransform
    north_up = gt[2] == 0.0 and gt[4] == 0.0 and gt[1] > 0 and gt[5] < 0
    if north_up and same_crs(info.crs_wkt, target_wkt):
        return (gt[0], gt[3] + gt[5] * info.height, gt[0] + gt[1] * info.width, gt[3],
                gt[1], -gt[5])
    if target_wkt and not info.crs_wkt:
        raise ValueError(f"{info.path!r} has no CRS, so it cannot be reprojected to "
                         f"{crs_name(target_wkt)}: assign its CRS first")
    src = open_raster(info.path)
    try:
        vrt = gdal.Warp("", src, format="VRT", dstSRS=target_wkt or None)
    except RuntimeError as exc:
        raise ValueError(f"cannot transform {info.path!r} to {crs_name(target_wkt)}: {exc}") from exc
    vgt = vrt.GetGeoTransform()
    w, h = vrt.RasterXSize, vrt.RasterYSize
    vrt = None
    return (vgt[0], vgt[3] + vgt[5] * h, vgt[0] + vgt[1] * w, vgt[3], vgt[1], -vgt[5])


def footprints_overlap(a: InfoLike, b: InfoLike) -> bool:
    """True when the footprints of two rasters intersect (compared in ``a``'s CRS); raises
    ValueError when one cannot be placed in that CRS (no geotransform, no CRS)."""
    a, b = _as_info(a), _as_info(b)
    fa, fb = _footprint(a, a.crs_wkt), _footprint(b, a.crs_wkt)
    return fa[0] < fb[2] and fb[0] < fa[2] and fa[1] < fb[3] and fb[1] < fa[3]


def _north_up(info: RasterInfo) -> bool:
    gt = info.geotransform
    return info.has_geotransform and gt[2] == 0.0 and gt[4] == 0.0 and gt[1] > 0 and gt[5] < 0


def pixels_on_grid(info: RasterInfo, grid: GridSpec) -> bool:
    """True when every pixel of ``info`` is a pixel of ``grid`` (same CRS, north-up, same
    pixel size and pixel edges a whole number of pixels apart, to 1e-6 pixel): putting it on
    the grid is a copy of its values, whatever the extents."""
    if not _north_up(info) or not same_crs(info.crs_wkt, grid.crs_wkt):
        return False
    gt, (rx, ry) = info.geotransform, grid.resolution
    if abs(gt[1] - rx) > _EPS * rx or abs(-gt[5] - ry) > _EPS * ry:
        return False
    kx = (gt[0] - grid.geotransform[0]) / rx
    ky = (gt[3] - grid.geotransform[3]) / ry
    return abs(kx - round(kx)) < _EPS and abs(ky - round(ky)) < _EPS


def _index(value: float, origin: float, step: float, up: bool) -> int:
    k = (value - origin) / step
    nearest = round(k)
    if abs(k - nearest) < _EPS:
        return int(nearest)
    return int(math.ceil(k)) if up else int(math.floor(k))


def _pair(value, name) -> Tuple[float, float]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be one number or (x, y), not {value!r}")
        rx, ry = float(value[0]), float(value[1])
    else:
        rx = ry = float(value)
    if not (rx > 0 and ry > 0 and math.isfinite(rx) and math.isfinite(ry)):
        raise ValueError(f"{name} must be positive and finite, not {value!r}")
    return rx, ry


def plan_grid(
    infos: Sequence[InfoLike],
    extent: Union[str, Sequence[float]] = "intersection",
    resolution: Union[str, float, Sequence[float]] = "coarsest",
    resolution_in_metres: bool = False,
    target_crs_wkt: Optional[str] = None,
    reference: Optional[Union[InfoLike, int]] = None,
    log: Optional[Callable[[str], None]] = None,
) -> GridSpec:
    """Plan one north-up grid covering ``infos`` (RasterInfo objects or paths).

    extent
        ``"intersection"`` (default; area covered by every input), ``"union"``
        (covered by any input), ``"reference"`` (the reference raster's footprint)
        or ``(xmin, ymin, xmax, ymax)`` in target-CRS units.
    resolution
        ``"coarsest"`` (default; largest pixel per axis among the inputs),
        ``"finest"``, ``"reference"``, or a number / ``(rx, ry)``.  Inputs in
        another CRS contribute the resolution GDAL suggests for them in the
        target CRS.
    resolution_in_metres
        A numeric ``resolution`` is in metres: converted to target-CRS units
        (for a geographic CRS at the centre latitude of the planned extent).
    target_crs_wkt
        Target CRS; default the reference's CRS, else the first input's.
    reference
        Optional raster (RasterInfo, path, or index into ``infos``) whose grid
        the result aligns to (see module docstring).
    log
        Optional callable receiving plain-text notes (e.g. the metre conversion).

    Raises ValueError for no inputs, no overlap, a missing reference, or a
    resolution that is not positive.
    """
    note = log or (lambda _msg: None)
    items = [_as_info(i) for i in infos]
    ref = None
    if reference is not None:
        ref = items[reference] if isinstance(reference, int) else _as_info(reference)
    if not items and ref is None:
        raise ValueError("no rasters given: a common grid needs at least one raster")
    if target_crs_wkt:
        target = target_crs_wkt
    elif ref is not None:
        target = ref.crs_wkt
    else:
        target = items[0].crs_wkt
    if not target and any(i.crs_wkt for i in items + ([ref] if ref else [])):
        raise ValueError("some inputs have a CRS and the target has none: give a target CRS "
                         "or assign the missing CRS")

    prints = [_footprint(i, target) for i in items]
    ref_print = _footprint(ref, target) if ref is not None else None

    # -- extent (before snapping)
    if isinstance(extent, str):
        mode = extent.lower()
        if mode == "intersection":
            if not prints:
                raise ValueError("extent 'intersection' needs input rasters")
            xmin = max(p[0] for p in prints)
            ymin = max(p[1] for p in prints)
            xmax = min(p[2] for p in prints)
            ymax = min(p[3] for p in prints)
            if not (xmax > xmin and ymax > ymin):
                names = ", ".join(os.path.basename(i.path) for i in items)
                raise ValueError(
                    f"the rasters do not overlap ({names}), so their intersection is empty: "
                    "use extent 'union' or check that they cover the same area and have the "
                    "right CRS")
        elif mode == "union":
            if not prints:
                raise ValueError("extent 'union' needs input rasters")
            xmin = min(p[0] for p in prints)
            ymin = min(p[1] for p in prints)
            xmax = max(p[2] for p in prints)
            ymax = max(p[3] for p in prints)
        elif mode == "reference":
            if ref_print is None:
                raise ValueError("extent 'reference' needs a reference raster")
            xmin, ymin, xmax, ymax = ref_print[:4]
        else:
            raise ValueError(f"extent must be one of {', '.join(EXTENT_CHOICES)} or "
                             f"(xmin, ymin, xmax, ymax), not {extent!r}")
    else:
        try:
            xmin, ymin, xmax, ymax = (float(v) for v in extent)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"a custom extent is (xmin, ymin, xmax, ymax), not {extent!r}") from exc
        if not (xmax > xmin and ymax > ymin):
            raise ValueError(f"the custom extent {extent!r} is empty (need xmax > xmin and "
                             "ymax > ymin)")

    # -- resolution
    if isinstance(resolution, str):
        mode = resolution.lower()
        source = prints if prints else [ref_print]
        if mode == "coarsest":
            rx, ry = max(p[4] for p in source), max(p[5] for p in source)
        elif mode == "finest":
            rx, ry = min(p[4] for p in source), min(p[5] for p in source)
        elif mode == "reference":
            if ref_print is None:
                raise ValueError("resolution 'reference' needs a reference raster")
            rx, ry = ref_print[4], ref_print[5]
        else:
            raise ValueError(f"resolution must be one of {', '.join(RESOLUTION_CHOICES)} or a "
                             f"positive number, not {resolution!r}")
    else:
        rx, ry = _pair(resolution, "resolution")
        if resolution_in_metres:
            lat = 0.5 * (ymin + ymax)
            mx, my = rx, ry
            rx, ry = metres_to_crs_units((mx, my), target, lat)
            if _is_geographic(target):
                note(f"resolution {mx:g} m x {my:g} m converted at the extent's centre latitude "
                     f"{lat:.6f} deg to {rx:.10g} deg (longitude) x {ry:.10g} deg (latitude)")
            else:
                note(f"resolution {mx:g} m x {my:g} m = {rx:.10g} x {ry:.10g} "
                     f"{_unit_name(target)} in {crs_name(target)}")

    # -- grids to keep: the reference's, then the inputs' (in order) that are north-up in the
    # target CRS; a derived resolution close to one of their pixel sizes becomes that size
    native = [i for i in ([ref] if ref is not None else []) + items
              if _north_up(i) and same_crs(i.crs_wkt, target)]
    if isinstance(resolution, str) and resolution.lower() in ("coarsest", "finest"):
        for info in native:
            px, py = info.geotransform[1], -info.geotransform[5]
            if (abs(rx - px) <= SNAP_TOLERANCE * px and abs(ry - py) <= SNAP_TOLERANCE * py
                    and (rx, ry) != (px, py)):
                note(f"resolution {rx:.10g} x {ry:.10g} {_unit_name(target)} ({resolution}) "
                     f"snapped to {px:.10g} x {py:.10g}, the pixel size of "
                     f"{os.path.basename(info.path)} in the same CRS")
                rx, ry = px, py
                break

    # -- alignment: the pixel edges of the first of those grids at this resolution (so that
    # raster is copied, not resampled), else multiples of the resolution
    ox = oy = 0.0
    for info in native:
        rgt = info.geotransform
        if abs(rgt[1] - rx) <= _EPS * rx and abs(-rgt[5] - ry) <= _EPS * ry:
            ox, oy = rgt[0], rgt[3]
            rx, ry = rgt[1], -rgt[5]
            break
    ix0 = _index(xmin, ox, rx, up=False)
    ix1 = _index(xmax, ox, rx, up=True)
    iy0 = _index(ymin, oy, ry, up=False)
    iy1 = _index(ymax, oy, ry, up=True)
    width, height = max(1, ix1 - ix0), max(1, iy1 - iy0)
    gt = (ox + ix0 * rx, rx, 0.0, oy + iy1 * ry, 0.0, -ry)
    return GridSpec(target or "", gt, width, height)


# --------------------------------------------------------------------------- warping
def gdal_resampling(name: str) -> str:
    """GDAL name of a resampling method (``average``, ``bilinear``, ``cubic``,
    ``nearest``, ``median``); raises ValueError for others."""
    key = str(name).lower()
    if key not in RESAMPLING:
        raise ValueError(f"unknown resampling {name!r}: use one of {', '.join(RESAMPLING_CHOICES)}")
    return RESAMPLING[key]


def choose_resampling(info: RasterInfo, grid: GridSpec) -> str:
    """``nearest`` when the raster's pixels are pixels of the grid (:func:`pixels_on_grid`:
    a copy, values bit-identical), else ``average`` when the grid's pixels are larger than
    the raster's (coarsening, compared in metres), else ``bilinear``."""
    if pixels_on_grid(info, grid):
        return "nearest"
    sx, sy = pixel_size_metres(info)
    gx, gy = grid.resolution_metres()
    return "average" if (gx > sx * (1 + 1e-9) or gy > sy * (1 + 1e-9)) else "bilinear"


def layer_resampling(info: RasterInfo, grid: GridSpec, requested: str = "auto"
                     ) -> Tuple[str, bool]:
    """(resampling, copied) for putting ``info`` on ``grid``: a raster whose pixels are
    pixels of the grid is copied (``nearest``, values bit-identical; every kernel would give
    the same values up to rounding); otherwise ``requested``, ``auto`` meaning
    :func:`choose_resampling`."""
    if pixels_on_grid(info, grid):
        return "nearest", True
    if requested == "auto":
        return choose_resampling(info, grid), False
    gdal_resampling(requested)
    return requested, False


def _source_nodata(ds: gdal.Dataset) -> Optional[str]:
    """``srcNodata`` for gdal.Warp: each band's nodata, NaN for float bands without one.

    Returns None when no band has a nodata value and none is a float band.
    """
    values = []
    for i in range(ds.RasterCount):
        band = ds.GetRasterBand(i + 1)
        nd = band.GetNoDataValue()
        if nd is not None:
            values.append("nan" if math.isnan(nd) else repr(float(nd)))
        elif band.DataType in (gdal.GDT_Float32, gdal.GDT_Float64):
            values.append("nan")
        else:
            values.append(None)
    if all(v is None for v in values):
        return None
    # an integer band without nodata: use a value it cannot hold so nothing is masked
    return " ".join(v if v is not None else "nan" for v in values)


def _band_subset(ds: gdal.Dataset, bands: Optional[Sequence[int]], path: str) -> gdal.Dataset:
    if bands is None:
        return ds
    info_count = ds.RasterCount
    for b in bands:
        if not 1 <= int(b) <= info_count:
            raise RasterError(f"band {b} does not exist in {path!r}, which has {info_count} "
                              f"band{'s' if info_count != 1 else ''}")
    if list(bands) == list(range(1, info_count + 1)):
        return ds
    return gdal.Translate("", ds, format="VRT", bandList=[int(b) for b in bands])


#: Working memory of one warp chunk: with ``WRITE_FLUSH`` a 16 MiB chunk is warped and written
#: in under a second (measured: longest pause between progress calls 0.8 s on a 7680 x 7680
#: grid, against 2.2 s with 64 MiB chunks and 7.4 s with GDAL's default, no flush).
WARP_CHUNK_BYTES = 16 * 2**20


def warp_options(ds: gdal.Dataset, grid: GridSpec, resampling: str, **extra) -> gdal.WarpOptions:
    """The ``gdal.WarpOptions`` used for every warp onto ``grid`` (float32 output,
    source nodata/NaN excluded, NaN destination nodata)."""
    kwargs = dict(grid.bounds_options())
    kwargs.update(
        resampleAlg=gdal_resampling(resampling),
        outputType=gdal.GDT_Float32,
        srcNodata=_source_nodata(ds),
        dstNodata="nan",
    )
    if not grid.crs_wkt:
        kwargs.pop("dstSRS")
    kwargs.update(extra)
    return gdal.WarpOptions(**kwargs)


def warp_to_grid(
    path: str,
    grid: GridSpec,
    bands: Optional[Sequence[int]] = None,
    resampling: str = "average",
    output_path: Optional[str] = None,
    monitor=None,
    warp_extra: Optional[Dict[str, object]] = None,
) -> str:
    """Warp ``bands`` (1-based; default all) of ``path`` onto ``grid`` with GDAL; return the path.

    Output: tiled, DEFLATE-compressed float32 GeoTIFF (the RasterWriter options),
    NaN nodata, band descriptions and metadata (units, quantity, ...) copied from
    the source, plus ``resampling`` and ``source`` items.  Written to a hidden
    temporary file and renamed when complete, so a failure or cancel leaves
    nothing.  Values are exactly those of ``gdal.Warp`` with the same bounds,
    resolution, resampling, ``srcNodata`` (the band's nodata, NaN for float
    bands without one) and ``dstNodata=nan``.  ``output_path`` None: a new file
    in the system temporary folder (the caller deletes it).  ``warp_extra``: further
    ``gdal.WarpOptions`` keywords (e.g. ``geoloc=True`` for a source with geolocation arrays).
    """
    mon = ensure_monitor(monitor)
    info = raster_info(path)
    src_bands = list(range(1, info.band_count + 1)) if bands is None else [int(b) for b in bands]
    for b in src_bands:
        check_band(info, b)
    gdal_resampling(resampling)
    # GDAL 3.6 bindings do not keep a VRT's source alive: hold both, release derived first
    base = open_raster(path)
    src = _band_subset(base, src_bands, path)
    if output_path is None:
        fd, output_path = tempfile.mkstemp(suffix=".tif", prefix="grid_")
        os.close(fd)
    output_path = os.path.abspath(str(output_path))
    check_raster_size(output_path, grid.width, grid.height, len(src_bands))
    folder = os.path.dirname(output_path)
    os.makedirs(folder, exist_ok=True)
    remove_stale_partials(output_path)
    tmp = partial_path(output_path)

    state = {"cancelled": False}

    def _progress(fraction, _message, _data):
        try:
            mon.update(fraction)
        except OperationCancelled:
            state["cancelled"] = True
            return 0
        return 1

    threads = local_worker_count()
    extra = {"format": "GTiff", "callback": _progress,
             "creationOptions": list(GTIFF_OPTIONS) + ["PREDICTOR=3"]
             + compression_threads_option(threads),
             # small chunks, each written (compressed) before the next: the progress callback,
             # which honours cancel, then runs at least every second (docs/safety.md);
             # GDAL's own threads (the local engine's count) warp each chunk and compress it
             "warpMemoryLimit": WARP_CHUNK_BYTES,
             "warpOptions": ["WRITE_FLUSH=YES"] + ([f"NUM_THREADS={threads}"] if threads > 1 else [])}
    extra.update(warp_extra or {})
    options = warp_options(src, grid, resampling, **extra)
    out, error = _run_warp(tmp, src, options)
    options = None
    try:
        # raised here, outside any handler, so no traceback keeps GDAL's frames (and their
        # datasets) alive in a reference cycle
        if state["cancelled"]:
            raise OperationCancelled("cancelled by the user")
        if error is not None:
            raise RasterError(f"GDAL could not warp {path!r} onto the grid: {error}")
        if out is None:
            raise RasterError(f"GDAL could not warp {path!r} onto the grid")
        if tuple(out.GetGeoTransform()) != grid.geotransform:
            out.SetGeoTransform(grid.geotransform)  # remove last-bit rounding of the warper
        if (out.RasterXSize, out.RasterYSize) != (grid.width, grid.height):
            raise RasterError(f"GDAL produced {out.RasterXSize} x {out.RasterYSize} pixels instead "
                              f"of {grid.width} x {grid.height}")
        gdal_name = gdal_resampling(resampling)
        for i, b in enumerate(src_bands):
            band = out.GetRasterBand(i + 1)
            meta = dict(info.band_metadata[b - 1]) if b - 1 < len(info.band_metadata) else {}
            meta["resampling"] = gdal_name
            meta["source_band"] = str(b)
            band.SetMetadata({str(k): str(v) for k, v in meta.items()})
            if info.descriptions[b - 1]:
                band.SetDescription(info.descriptions[b - 1])
            if meta.get("units"):
                band.SetUnitType(str(meta["units"]))
            band = None
        ds_meta = dict(info.metadata)
        ds_meta["source"] = os.path.basename(path)
        ds_meta["grid"] = grid.describe()
        out.SetMetadata({str(k): str(v) for k, v in ds_meta.items()})
        out.FlushCache()
        out = None
        src = None
        base = None
        if os.path.exists(output_path):
            remove_raster(output_path)
        os.replace(tmp, output_path)
    except BaseException:
        out = None
        src = None
        base = None
        remove_raster(tmp)
        raise
    mon.update(1.0)
    return output_path


def _run_warp(destination: str, src: gdal.Dataset, options: gdal.WarpOptions):
    """``gdal.Warp`` returning (dataset or None, error message or None), never raising."""
    try:
        return gdal.Warp(destination, src, options=options), None
    except RuntimeError as exc:
        return None, str(exc)


def sample_stats(path: str, band: int = 1, size: int = 512) -> Dict[str, float]:
    """min, max, p2, p98, abs_p98 and an estimated valid count of ``band``, from a decimated
    read (at most ``size`` x ``size`` samples): what the styling needs, without reading
    the whole raster.  Same keys as :meth:`RasterWriter.stats`."""
    ds = open_raster(path)
    check_band(raster_info(path), band)
    values = read_decimated(ds, band, size)
    by, bx = values.shape
    finite = values[np.isfinite(values)]
    if not finite.size:
        return {"valid": 0}
    p2, p98 = np.percentile(finite, [2, 98])
    exact = (bx, by) == (ds.RasterXSize, ds.RasterYSize)
    return {
        "valid": int(round(finite.size * (ds.RasterXSize * ds.RasterYSize) / float(bx * by))),
        "valid_exact": exact,
        "min": float(finite.min()),
        "max": float(finite.max()),
        "p2": float(p2),
        "p98": float(p98),
        "abs_p98": float(np.percentile(np.abs(finite), 98)),
    }


# --------------------------------------------------------------------------- lazy reading
class GridReader:
    """Read one band of a raster resampled onto ``grid``, row block by row block.

    When the raster is already on the grid it is read directly; otherwise
    through an in-memory warped VRT (``gdal.Warp(format="VRT")`` with the same
    options as :func:`warp_to_grid`), so only the requested rows are warped and
    memory stays bounded.  Values: float32, NaN nodata.  Use as a context manager
    or call :meth:`close`.
    """

    def __init__(self, path: str, grid: GridSpec, band: int = 1, resampling: str = "bilinear"):
        self.path = str(path)
        self.grid = grid
        self.band = int(band)
        self.info = raster_info(self.path)
        check_band(self.info, self.band)
        self.resampling = gdal_resampling(resampling)
        self.direct = grid.matches(self.info)
        self._src = open_raster(self.path)
        self._vrt = None
        self._sub = None
        if self.direct:
            self._ds = self._src
            self._band_index = self.band
        else:
            sub = _band_subset(self._src, [self.band], self.path)
            self._sub = sub
            try:
                self._vrt = gdal.Warp("", sub, options=warp_options(sub, grid, resampling, format="VRT"))
            except RuntimeError as exc:
                raise RasterError(f"GDAL cannot resample {self.path!r} onto the grid: {exc}") from exc
            if self._vrt is None:
                raise RasterError(f"GDAL cannot resample {self.path!r} onto the grid")
            if (self._vrt.RasterXSize, self._vrt.RasterYSize) != (grid.width, grid.height):
                raise RasterError(f"warped VRT of {self.path!r} has the wrong size")
            self._ds = self._vrt
            self._band_index = 1

    def read(self, row: int, rows: int, col: int = 0, cols: Optional[int] = None) -> np.ndarray:
        """Rows ``row .. row+rows-1`` of the resampled band, columns ``col`` .. ``col+cols-1``
        (default: to the grid's last): float32 ``(rows, cols)``."""
        cols = self.grid.width - col if cols is None else int(cols)
        if row < 0 or rows <= 0 or row + rows > self.grid.height:
            raise ValueError(f"rows {row}..{row + rows - 1} are outside the grid "
                             f"(0..{self.grid.height - 1})")
        if col < 0 or cols <= 0 or col + cols > self.grid.width:
            raise ValueError(f"columns {col}..{col + cols - 1} are outside the grid "
                             f"(0..{self.grid.width - 1})")
        if self._ds is None:
            raise ValueError("the GridReader is closed")
        # rows are read block after block: the warped rows once (the next rows resample some
        # of the same source tiles, which stay cached)
        block = read_block(self._ds, self._band_index, row, col, rows, cols, read_once=True)
        if np.iscomplexobj(block):
            raise RasterError(f"{self.path!r} band {self.band} is complex; GridReader reads real bands")
        return block

    def close(self) -> None:
        """Release the GDAL datasets (derived ones first: GDAL 3.6 bindings do not keep a
        VRT's source alive)."""
        self._ds = None
        self._vrt = None
        self._sub = None
        self._src = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 (interpreter shutdown)
            pass

    def __enter__(self) -> "GridReader":
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False


def describe_inputs(infos: Sequence[InfoLike]) -> List[str]:
    """One log line per raster: name, CRS, size and resolution (CRS units and metres)."""
    lines = []
    for item in infos:
        info = _as_info(item)
        gt = info.geotransform
        mx, my = pixel_size_metres(info)
        lines.append(
            f"{os.path.basename(info.path)}: CRS {crs_name(info.crs_wkt)}, {info.width} x "
            f"{info.height} pixels, {info.band_count} band(s), resolution {abs(gt[1]):.10g} x "
            f"{abs(gt[5]):.10g} {_unit_name(info.crs_wkt)} (about {mx:.4g} m x {my:.4g} m)")
    return lines
