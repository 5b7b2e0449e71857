"""ESA SNAP BEAM-DIMAP products: ``name.dim`` (XML) + ``name.data/*.img`` (ENVI).

What is read from the ``.dim`` (BEAM-DIMAP; MintPy ``readfile.read_snap_dim``):

* ``Raster_Dimensions/NCOLS, NROWS``; ``Image_Interpretation/Spectral_Band_Info``:
  ``BAND_INDEX``, ``BAND_NAME``, ``PHYSICAL_UNIT``, ``NO_DATA_VALUE_USED``/``NO_DATA_VALUE``;
  ``Data_Access/Data_File`` (``DATA_FILE_PATH href`` → the ENVI ``.hdr``/``.img``).
* Georeferencing of terrain-corrected products: ``Geoposition/IMAGE_TO_MODEL_TRANSFORM``
  (Java affine ``m00, m10, m01, m11, m02, m12``: x = m00·col + m01·row + m02, y = m10·col
  + m11·row + m12, origin at the upper-left corner) and ``Coordinate_Reference_System/WKT``.
* Tie-point grids (``Tie_Point_Grids/Tie_Point_Grid_Info``: ``TIE_POINT_GRID_NAME``,
  ``NCOLS``, ``NROWS``, ``OFFSET_X``, ``OFFSET_Y``, ``STEP_X``, ``STEP_Y``; data in
  ``.data/tie_point_grids/<name>.img``): grid node (i, j) sits at image coordinate
  (OFFSET_X + i·STEP_X, OFFSET_Y + j·STEP_Y), pixel centres at +0.5.  The
  ``incident_angle`` grid is **interpolated bilinearly to every pixel** (linear
  extrapolation beyond the outer nodes, as SNAP's TiePointGrid does) — not replaced by
  a scene average (MintPy's reader averages ``incidence_near`` with itself).
* ``Abstracted_Metadata``: ``centre_heading`` (degrees, clockwise from north),
  ``radar_frequency`` (MHz → wavelength), ``antenna_pointing`` (right/left), ``PASS``,
  ``first_line_time``.
* Dates: ``DDMonYYYY`` in band names (``Unw_Phase_ifg_VV_01Jan2020_13Jan2020``).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional

import numpy as np

from ._io import gdal_reader, open_gdal
from .base import DIVERGING, SEQUENTIAL, Geometry, Layer, Product, product_error

SPEED_OF_LIGHT = 299792458.0
_SNAP_DATE = re.compile(r"(\d{2})([A-Z][a-z]{2})(\d{4})")
_MONTHS = {m: i + 1 for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])}


def snap_dates(name: str) -> List[_dt.date]:
    """Dates written the SNAP way (``01Jan2020``) in a band name, in order."""
    out = []
    for d, mon, y in _SNAP_DATE.findall(name):
        if mon in _MONTHS:
            try:
                out.append(_dt.date(int(y), _MONTHS[mon], int(d)))
            except ValueError:
                continue
    return out


def _quantity(name: str, unit: str):
    low = name.lower()
    if "displacement" in low:
        return "los_displacement", unit or "m", DIVERGING
    if "unw" in low:
        return "unwrapped_phase", "rad", DIVERGING
    if low.startswith("phase"):
        return "wrapped_phase", "rad", DIVERGING
    if low.startswith("coh"):
        return "coherence", "1", SEQUENTIAL
    if "incid" in low:
        return "incidence_angle", "deg", SEQUENTIAL
    if "elevation" in low or "height" in low:
        return "height", unit or "m", SEQUENTIAL
    return re.sub(r"\W+", "_", low), unit, SEQUENTIAL


def _data_file(dim_path: str, href: str) -> str:
    base = os.path.join(os.path.dirname(os.path.abspath(dim_path)), href)
    img = os.path.splitext(base)[0] + ".img"
    return img


def tie_point_reader(img_path: str, ncols: int, nrows: int, offset_x: float, offset_y: float,
                     step_x: float, step_y: float):
    """Block reader interpolating a tie-point grid bilinearly to image pixels
    (pixel (r, c) centre at image coordinate (c + 0.5, r + 0.5))."""
    from scipy.interpolate import RegularGridInterpolator

    grid = gdal_reader(img_path)(1, 0, 0, nrows, ncols).astype(np.float64)
    xs = offset_x + step_x * np.arange(ncols)
    ys = offset_y + step_y * np.arange(nrows)
    interp = RegularGridInterpolator((ys, xs), grid, method="linear", bounds_error=False,
                                     fill_value=None)

    def read(band, row, col, rows, cols):
        yy, xx = np.meshgrid(np.arange(row, row + rows) + 0.5, np.arange(col, col + cols) + 0.5,
                             indexing="ij")
        return interp(np.stack([yy.ravel(), xx.ravel()], axis=-1)).reshape(rows, cols).astype(np.float32)

    return read


def _text(node, tag, default=None):
    child = node.find(tag)
    if child is None or child.text is None:
        return default
    return child.text.strip()


def open_snap(path: str) -> Product:
    """Open a BEAM-DIMAP product (see the module docstring)."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise product_error(path, f"not a readable BEAM-DIMAP .dim file: {exc}") from exc
    if root.tag != "Dimap_Document":
        raise product_error(path, "not a BEAM-DIMAP document (<Dimap_Document>)")
    try:
        width = int(_text(root, "Raster_Dimensions/NCOLS"))
        height = int(_text(root, "Raster_Dimensions/NROWS"))
    except (TypeError, ValueError) as exc:
        raise product_error(path, "Raster_Dimensions/NCOLS and NROWS are required") from exc
    files: Dict[int, str] = {}
    for df in root.findall("Data_Access/Data_File"):
        href = df.find("DATA_FILE_PATH")
        if href is not None and href.get("href"):
            files[int(_text(df, "BAND_INDEX", "0"))] = _data_file(path, href.get("href"))
    tp_files: Dict[int, str] = {}
    for tf in root.findall("Data_Access/Tie_Point_Grid_File"):
        href = tf.find("TIE_POINT_GRID_FILE_PATH")
        if href is not None and href.get("href"):
            tp_files[int(_text(tf, "TIE_POINT_GRID_INDEX", "0"))] = _data_file(path, href.get("href"))
    abstracted: Dict[str, str] = {}
    md = root.find("Dataset_Sources/MDElem[@name='metadata']/MDElem[@name='Abstracted_Metadata']")
    if md is not None:
        for attr in md.findall("MDATTR"):
            abstracted[attr.get("name", "")] = (attr.text or "").strip()
    layers: List[Layer] = []
    for info in root.findall("Image_Interpretation/Spectral_Band_Info"):
        index = int(_text(info, "BAND_INDEX", "0"))
        name = _text(info, "BAND_NAME", f"band_{index}")
        unit = _text(info, "PHYSICAL_UNIT", "") or ""
        if index not in files:
            raise product_error(path, f"band {name!r} (index {index}) has no Data_File entry")
        img = files[index]
        if not os.path.exists(img):
            raise product_error(path, f"the data file of band {name!r} is missing: {img}")
        nodata = None
        if (_text(info, "NO_DATA_VALUE_USED", "false") or "").lower() == "true":
            nodata = float(_text(info, "NO_DATA_VALUE", "0"))
        ds = open_gdal(img)
        if (ds.RasterXSize, ds.RasterYSize) != (width, height):
            raise product_error(img, f"is {ds.RasterXSize} x {ds.RasterYSize} pixels but the .dim "
                                f"says {width} x {height}")
        ds = None
        quantity, units, kind = _quantity(name, unit)
        dates = snap_dates(name)
        pair = (min(dates), max(dates)) if len(dates) >= 2 else None
        layers.append(Layer(name, quantity, units, reader=gdal_reader(img, nodata=nodata), kind=kind,
                            description=name, date_pair=pair,
                            reference_date=pair[0] if pair and kind == DIVERGING else None,
                            metadata={"snap_unit": unit}))
    if not layers:
        raise product_error(path, "no Spectral_Band_Info: the product has no bands")
    geometry = Geometry(source="")
    for info in root.findall("Tie_Point_Grids/Tie_Point_Grid_Info"):
        name = _text(info, "TIE_POINT_GRID_NAME", "")
        index = int(_text(info, "TIE_POINT_GRID_INDEX", "0"))
        if name not in ("incident_angle", "incidence_angle"):
            continue
        try:
            ncols, nrows = int(_text(info, "NCOLS")), int(_text(info, "NROWS"))
            ox, oy = float(_text(info, "OFFSET_X")), float(_text(info, "OFFSET_Y"))
            sx, sy = float(_text(info, "STEP_X")), float(_text(info, "STEP_Y"))
        except (TypeError, ValueError) as exc:
            raise product_error(path, f"tie-point grid {name!r} lacks NCOLS/NROWS/OFFSET/STEP") from exc
        img = tp_files.get(index)
        if not img or not os.path.exists(img):
            raise product_error(path, f"the data file of tie-point grid {name!r} is missing")
        layers.append(Layer("incidence_angle", "incidence_angle", "deg",
                            reader=tie_point_reader(img, ncols, nrows, ox, oy, sx, sy),
                            kind=SEQUENTIAL, description="incidence angle (tie-point grid, interpolated)"))
        geometry.incidence_layer = "incidence_angle"
        geometry.source = f"tie-point grid {name}"
    if geometry.incidence_layer is None:
        for layer in layers:
            if layer.quantity == "incidence_angle":
                geometry.incidence_layer = layer.name
                geometry.source = f"band {layer.name}"
    for key in ("centre_heading", "centre_heading2"):
        try:
            geometry.heading = float(abstracted[key])
            break
        except (KeyError, ValueError):
            continue
    pointing = abstracted.get("antenna_pointing", "").lower()
    geometry.look_direction = pointing if pointing in ("right", "left") else (
        "right" if geometry.heading is not None else None)
    try:
        geometry.wavelength = SPEED_OF_LIGHT / (float(abstracted["radar_frequency"]) * 1e6)
    except (KeyError, ValueError, ZeroDivisionError):
        pass
    transform = _text(root, "Geoposition/IMAGE_TO_MODEL_TRANSFORM")
    gt, wkt, has_gt = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0), "", False
    if transform:
        m00, m10, m01, m11, m02, m12 = (float(v) for v in transform.split(","))
        gt, has_gt = (m02, m00, m01, m12, m10, m11), True
        wkt = _text(root, "Coordinate_Reference_System/WKT", "") or ""
        if not wkt:
            from ..raster_io import wgs84_wkt

            wkt = wgs84_wkt()
    dates = sorted({d for layer in layers if layer.date_pair for d in layer.date_pair})
    ref: Optional[_dt.date] = dates[0] if dates else None
    meta = {k: v for k, v in abstracted.items() if k in (
        "PRODUCT", "MISSION", "ACQUISITION_MODE", "PASS", "first_line_time", "radar_frequency",
        "centre_heading", "antenna_pointing", "incidence_near", "incidence_far")}
    return Product(path, "SNAP", _text(root, "Dataset_Id/DATASET_NAME", "BEAM-DIMAP") or "BEAM-DIMAP",
                   width, height, gt, wkt, layers, geometry, meta, reference_date=ref,
                   has_geotransform=has_gt)
