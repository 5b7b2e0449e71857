"""Sentinel-1 product annotation XML (``annotation/s1?-iw?-slc-vv-....xml`` of a SAFE).

What is read (ESA Sentinel-1 Product Specification, annotation schema):

* ``generalAnnotation/productInformation``: ``pass`` (Ascending/Descending),
  ``platformHeading`` (degrees, clockwise from north — the toolkit's heading),
  ``radarFrequency`` (Hz → wavelength = c / f).
* ``imageAnnotation/imageInformation``: ``numberOfSamples``, ``numberOfLines``,
  ``incidenceAngleMidSwath`` (degrees).
* ``geolocationGrid/geolocationGridPointList``: points with ``line``, ``pixel``,
  ``latitude``, ``longitude``, ``height``, ``incidenceAngle`` (degrees from the vertical
  at the ellipsoid point), ``elevationAngle``; a regular grid in (line, pixel).

Sentinel-1 is right-looking.  The product exposes the incidence angle interpolated to
pixels (never averaged): on the radar grid with :func:`radar_incidence` (bilinear in
line/pixel), and on any georeferenced grid with :func:`incidence_on_grid` (linear on the
Delaunay triangulation of the grid points in longitude/latitude; NaN outside the
footprint).  As a :class:`Product` it is a geographic (EPSG:4326) grid covering the
footprint with about 1000 pixels on its longer side, holding ``incidence_angle``.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..dates import parse_date
from ..raster_io import transform_xy, wgs84_wkt
from .base import SEQUENTIAL, Geometry, Layer, Product, product_error

SPEED_OF_LIGHT = 299792458.0


@dataclass
class Annotation:
    """The geometry content of an annotation file (angles in degrees, wavelength in m)."""

    path: str
    mission: str
    mode: str
    swath: str
    polarisation: str
    start: str
    pass_direction: str
    heading: float
    wavelength: float
    samples: int
    lines: int
    incidence_mid_swath: Optional[float]
    line: np.ndarray
    pixel: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    height: np.ndarray
    incidence: np.ndarray
    elevation: np.ndarray


def is_s1_annotation(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(2048)
    except OSError:
        return False
    return b"<product>" in head and b"<adsHeader>" in head


def _text(root, tag, path):
    node = root.find(tag)
    if node is None or node.text is None:
        raise product_error(path, f"Sentinel-1 annotation element {tag} is missing")
    return node.text.strip()


def read_annotation(path: str) -> Annotation:
    """Parse a Sentinel-1 annotation XML (ProductError naming the missing element)."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise product_error(path, f"not a readable XML file: {exc}") from exc
    if root.tag != "product" or root.find("adsHeader") is None:
        raise product_error(path, "not a Sentinel-1 annotation (no <product><adsHeader>)")
    points = root.findall("geolocationGrid/geolocationGridPointList/geolocationGridPoint")
    if len(points) < 4:
        raise product_error(path, f"geolocationGrid has {len(points)} points (at least 4 needed)")
    cols = {k: [] for k in ("line", "pixel", "latitude", "longitude", "height",
                            "incidenceAngle", "elevationAngle")}
    for p in points:
        for key in cols:
            node = p.find(key)
            if node is None or node.text is None:
                raise product_error(path, f"a geolocationGridPoint has no {key}")
            cols[key].append(float(node.text))
    arr = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}
    mid = root.find("imageAnnotation/imageInformation/incidenceAngleMidSwath")
    return Annotation(
        path=path,
        mission=_text(root, "adsHeader/missionId", path),
        mode=_text(root, "adsHeader/mode", path),
        swath=_text(root, "adsHeader/swath", path),
        polarisation=_text(root, "adsHeader/polarisation", path),
        start=_text(root, "adsHeader/startTime", path),
        pass_direction=_text(root, "generalAnnotation/productInformation/pass", path),
        heading=float(_text(root, "generalAnnotation/productInformation/platformHeading", path)),
        wavelength=SPEED_OF_LIGHT / float(
            _text(root, "generalAnnotation/productInformation/radarFrequency", path)),
        samples=int(_text(root, "imageAnnotation/imageInformation/numberOfSamples", path)),
        lines=int(_text(root, "imageAnnotation/imageInformation/numberOfLines", path)),
        incidence_mid_swath=float(mid.text) if mid is not None and mid.text else None,
        line=arr["line"], pixel=arr["pixel"], latitude=arr["latitude"],
        longitude=arr["longitude"], height=arr["height"], incidence=arr["incidenceAngle"],
        elevation=arr["elevationAngle"])


def _regular_grid(ann: Annotation):
    lines = np.unique(ann.line)
    pixels = np.unique(ann.pixel)
    if lines.size * pixels.size != ann.line.size:
        raise product_error(ann.path, "the geolocation grid is not regular in line/pixel")
    grid = np.full((lines.size, pixels.size), np.nan)
    li = np.searchsorted(lines, ann.line)
    pi = np.searchsorted(pixels, ann.pixel)
    grid[li, pi] = ann.incidence
    return lines, pixels, grid


def radar_incidence(ann: Annotation, line, pixel) -> np.ndarray:
    """Incidence (degrees) at radar coordinates (``line``, ``pixel``; arrays broadcast),
    bilinear in the geolocation grid; clamped to the grid at the edges."""
    from scipy.interpolate import RegularGridInterpolator

    lines, pixels, grid = _regular_grid(ann)
    interp = RegularGridInterpolator((lines, pixels), grid, method="linear",
                                     bounds_error=False, fill_value=None)
    line = np.clip(np.asarray(line, dtype=np.float64), lines[0], lines[-1])
    pixel = np.clip(np.asarray(pixel, dtype=np.float64), pixels[0], pixels[-1])
    line, pixel = np.broadcast_arrays(line, pixel)
    return interp(np.stack([line.ravel(), pixel.ravel()], axis=-1)).reshape(line.shape)


def incidence_at_lonlat(ann: Annotation, lon, lat) -> np.ndarray:
    """Incidence (degrees) at WGS 84 longitude/latitude, linear on the triangulated
    geolocation grid; NaN outside the footprint."""
    from scipy.interpolate import LinearNDInterpolator

    interp = getattr(ann, "_lonlat_interpolator", None)
    if interp is None:   # the triangulation is built once per annotation
        interp = LinearNDInterpolator(np.column_stack([ann.longitude, ann.latitude]), ann.incidence)
        ann._lonlat_interpolator = interp
    lon, lat = np.broadcast_arrays(np.asarray(lon, dtype=np.float64),
                                   np.asarray(lat, dtype=np.float64))
    return interp(lon, lat)


def incidence_on_grid(path_or_annotation, geotransform: Sequence[float], crs_wkt: str,
                      width: int, height: int, row: int = 0, rows: Optional[int] = None) -> np.ndarray:
    """Incidence (degrees) at the pixel centres of a georeferenced grid (any CRS), rows
    ``row``..``row + rows``; NaN outside the annotation's footprint."""
    ann = path_or_annotation if isinstance(path_or_annotation, Annotation) \
        else read_annotation(path_or_annotation)
    rows = height - row if rows is None else rows
    gt = geotransform
    cc, rr = np.meshgrid(np.arange(width) + 0.5, np.arange(row, row + rows) + 0.5)
    x = gt[0] + cc * gt[1] + rr * gt[2]
    y = gt[3] + cc * gt[4] + rr * gt[5]
    x, y = transform_xy(x, y, crs_wkt, wgs84_wkt())
    return incidence_at_lonlat(ann, x, y)


def open_s1_annotation(path: str, max_size: int = 1000) -> Product:
    """Open an annotation as a geographic product holding the interpolated incidence."""
    ann = read_annotation(path)
    lon0, lon1 = float(ann.longitude.min()), float(ann.longitude.max())
    lat0, lat1 = float(ann.latitude.min()), float(ann.latitude.max())
    step = max(lon1 - lon0, lat1 - lat0) / max_size
    width = max(1, int(np.ceil((lon1 - lon0) / step)))
    height = max(1, int(np.ceil((lat1 - lat0) / step)))
    gt = (lon0, step, 0.0, lat1, 0.0, -step)

    def read(band, row, col, rows, cols):
        sub = (gt[0] + col * gt[1], gt[1], 0.0, gt[3], 0.0, gt[5])
        return incidence_on_grid(ann, sub, "", cols, row + rows, row, rows).astype(np.float32)

    layer = Layer("incidence_angle", "incidence_angle", "deg", reader=read, kind=SEQUENTIAL,
                  description="incidence angle (interpolated from the geolocation grid)")
    geometry = Geometry(incidence_layer="incidence_angle", heading=ann.heading,
                        look_direction="right", wavelength=ann.wavelength,
                        source=os.path.basename(path))
    meta = {"mission": ann.mission, "mode": ann.mode, "swath": ann.swath,
            "polarisation": ann.polarisation, "pass": ann.pass_direction,
            "start_time": ann.start, "platform_heading": f"{ann.heading:.6f}",
            "radar_samples": str(ann.samples), "radar_lines": str(ann.lines),
            "acquisition_date": parse_date(ann.start).isoformat()}
    if ann.incidence_mid_swath is not None:
        meta["incidence_mid_swath"] = f"{ann.incidence_mid_swath:.6f}"
    product = Product(path, "Sentinel-1", "annotation", width, height, gt, wgs84_wkt(), [layer],
                      geometry, meta)
    product.annotation = ann
    return product
