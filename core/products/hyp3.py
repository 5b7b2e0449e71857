"""ASF HyP3 GAMMA InSAR products (``S1AA_20161223T070700_20170116T070658_VVP024_INT80_G_ueF_74C2``):
the product folder, its ``.zip`` or any of its GeoTIFFs.

Files (HyP3 InSAR product guide; MintPy prep_hyp3.py) — ``<name>_<suffix>.tif``, UTM,
nodata 0:

* ``unw_phase`` unwrapped phase (rad), ``wrapped_phase`` (rad), ``corr`` coherence,
  ``amp`` amplitude, ``dem`` height (m), ``water_mask``;
* ``los_disp`` LOS displacement (m, positive toward the satellite), ``vert_disp``
  vertical displacement (m, positive up);
* ``lv_theta`` look-vector elevation above the horizontal and ``lv_phi`` look-vector
  orientation from east, counter-clockwise, both radians → incidence = 90° − lv_theta,
  LOS azimuth = lv_phi − 90° (core/geometry.py ``hyp3_to_incidence_azimuth``);
  ``inc_map`` incidence (radians).
* ``<name>.txt``: ``Reference Granule``, ``Secondary Granule``, ``Reference Pass Direction``,
  ``Heading`` (degrees, clockwise from north), ``Baseline``, ``UTC time``.

Dates: the two ``YYYYMMDDTHHMMSS`` of the name (reference, secondary).  Wavelength:
Sentinel-1 C band, c / 5.405 GHz.
"""

from __future__ import annotations

import glob
import math
import os
import re
import zipfile
from typing import Dict, List, Optional

import numpy as np

from .. import geometry as geo
from ..dates import dates_in_name
from ._io import gdal_reader, open_gdal
from .base import DIVERGING, SEQUENTIAL, Geometry, Layer, Product, product_error

S1_WAVELENGTH = 299792458.0 / 5.405e9

#: suffix -> (layer name, quantity, units, kind, description)
ROLES = {
    "unw_phase": ("unwrapped_phase", "unwrapped_phase", "rad", DIVERGING, "unwrapped phase"),
    "los_disp": ("los_displacement", "los_displacement", "m", DIVERGING,
                 "LOS displacement (positive toward the satellite)"),
    "vert_disp": ("vertical_displacement", "vertical_displacement", "m", DIVERGING,
                  "vertical displacement (positive up)"),
    "wrapped_phase": ("wrapped_phase", "wrapped_phase", "rad", DIVERGING, "wrapped phase"),
    "corr": ("coherence", "coherence", "1", SEQUENTIAL, "coherence"),
    "amp": ("amplitude", "amplitude", "1", SEQUENTIAL, "amplitude"),
    "dem": ("height", "height", "m", SEQUENTIAL, "DEM height"),
    "water_mask": ("water_mask", "water_mask", "1", SEQUENTIAL, "water mask"),
    "inc_map": ("incidence_angle", "incidence_angle", "deg", SEQUENTIAL, "incidence angle"),
    "lv_theta": ("lv_theta", "look_vector_elevation", "rad", SEQUENTIAL, "look vector elevation"),
    "lv_phi": ("lv_phi", "look_vector_orientation", "rad", SEQUENTIAL, "look vector orientation"),
}
_PRIMARY = ("los_disp", "unw_phase", "vert_disp", "corr", "wrapped_phase", "amp", "dem")
_NAME = re.compile(r"^(S1[ABCD_]{2}_\d{8}T\d{6}_\d{8}T\d{6}_.+?)_(" + "|".join(ROLES) + r")(?:_clip)?\.tif$",
                   re.IGNORECASE)


def hyp3_role(path: str) -> Optional[str]:
    """The HyP3 file role (``unw_phase``, ``lv_theta``...) of a GeoTIFF name, or None."""
    m = _NAME.match(os.path.basename(path))
    return m.group(2).lower() if m else None


def _list(path: str) -> List[str]:
    if path.lower().endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise product_error(path, f"not a readable zip file: {exc}") from exc
        return [f"/vsizip/{os.path.abspath(path)}/{n}" for n in names]
    if os.path.isdir(path):
        return sorted(glob.glob(os.path.join(path, "*")))
    return sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(path)), "*")))


def is_hyp3(path: str) -> bool:
    return any(hyp3_role(p) for p in _list(path))


def _read_text(path: str, members: List[str]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for m in members:
        if not m.lower().endswith(".txt") or "readme" in m.lower():
            continue
        try:
            if m.startswith("/vsizip/"):
                inner = m[len("/vsizip/"):]
                zpath, name = inner.split(".zip/", 1)
                with zipfile.ZipFile(zpath + ".zip") as z:
                    text = z.read(name).decode("utf-8", "replace")
            else:
                with open(m, encoding="utf-8", errors="replace") as f:
                    text = f.read()
        except (OSError, KeyError, zipfile.BadZipFile):
            continue
        for line in text.splitlines():
            if ":" in line:
                key, value = line.split(":", 1)
                out[key.strip()] = value.strip()
        if out:
            break
    return out


def _radians_to_degrees(reader):
    def read(band, row, col, rows, cols):
        return reader(band, row, col, rows, cols) * np.float32(180.0 / math.pi)
    return read


def open_hyp3(path: str) -> Product:
    """Open a HyP3 InSAR product (folder, zip, or one of its GeoTIFFs)."""
    members = _list(path)
    files: Dict[str, str] = {}
    prefix = None
    if not (os.path.isdir(path) or path.lower().endswith(".zip")):
        m = _NAME.match(os.path.basename(path))
        prefix = m.group(1) if m else None
    for p in members:
        m = _NAME.match(os.path.basename(p))
        if m and (prefix is None or m.group(1) == prefix):
            prefix = prefix or m.group(1)
            if m.group(1) == prefix:
                files.setdefault(m.group(2).lower(), p)
    if not files:
        raise product_error(path, "no HyP3 product GeoTIFF (<name>_unw_phase.tif, _los_disp.tif, ...)")
    primary = next((files[r] for r in _PRIMARY if r in files), next(iter(files.values())))
    ds = open_gdal(primary)
    width, height = ds.RasterXSize, ds.RasterYSize
    gt, wkt = ds.GetGeoTransform(), ds.GetProjection()
    ds = None
    named = dates_in_name(prefix or "")
    pair = (named[0], named[1]) if len(named) >= 2 else None
    layers: List[Layer] = []
    for role in list(ROLES):
        if role not in files:
            continue
        f = files[role]
        d = open_gdal(f)
        if (d.RasterXSize, d.RasterYSize) != (width, height):
            raise product_error(f, f"is {d.RasterXSize} x {d.RasterYSize} pixels but "
                                f"{os.path.basename(primary)} is {width} x {height}")
        name, quantity, units, kind, desc = ROLES[role]
        reader = gdal_reader(f, nodata=0.0 if d.GetRasterBand(1).GetNoDataValue() is None else None)
        d = None
        if role == "inc_map":
            reader = _radians_to_degrees(reader)
        signed = role in ("unw_phase", "los_disp", "vert_disp", "wrapped_phase")
        layers.append(Layer(name, quantity, units, reader=reader, kind=kind, description=desc,
                            date_pair=pair if signed or role == "corr" else None,
                            reference_date=pair[0] if pair and signed else None,
                            convention={"los_disp": "positive toward the satellite",
                                        "vert_disp": "positive up",
                                        "unw_phase": "LOS toward satellite = -phase*wavelength/(4*pi)"}
                            .get(role, "")))
    geometry = Geometry(wavelength=S1_WAVELENGTH, look_direction="right", source="")
    if "lv_theta" in files and "lv_phi" in files:
        theta = gdal_reader(files["lv_theta"], nodata=0.0)
        phi = gdal_reader(files["lv_phi"], nodata=0.0)

        def inc(band, row, col, rows, cols):
            return geo.hyp3_to_incidence_azimuth(theta(1, row, col, rows, cols), 0.0)[0]

        def az(band, row, col, rows, cols):
            a = geo.hyp3_to_incidence_azimuth(0.0, phi(1, row, col, rows, cols))[1]
            return np.where(np.isnan(theta(1, row, col, rows, cols)), np.nan, a)

        layers.append(Layer("incidence_angle", "incidence_angle", "deg", reader=inc, kind=SEQUENTIAL,
                            description="incidence angle (90 deg - lv_theta)"))
        layers.append(Layer("los_azimuth", "los_azimuth", "deg", reader=az, kind=SEQUENTIAL,
                            description="LOS azimuth (lv_phi - 90 deg, anti-clockwise from north)"))
        geometry.incidence_layer, geometry.los_azimuth_layer = "incidence_angle", "los_azimuth"
        geometry.source = "lv_theta, lv_phi"
    elif "inc_map" in files:
        geometry.incidence_layer = "incidence_angle"
        geometry.source = "inc_map"
    meta = _read_text(path, members)
    if "Heading" in meta:
        try:
            geometry.heading = float(meta["Heading"].split()[0])
            geometry.source = (geometry.source + ", " if geometry.source else "") + "Heading (.txt)"
        except ValueError:
            pass
    meta = dict(meta)
    meta["product_name"] = prefix or ""
    # one of the product's GeoTIFFs given: that file's layer is the one read
    own = _NAME.match(os.path.basename(path)) if path.lower().endswith((".tif", ".tiff")) else None
    return Product(path, "HyP3", "INSAR_GAMMA", width, height, gt, wkt, layers, geometry, meta,
                   reference_date=pair[0] if pair else None,
                   primary=ROLES[own.group(2).lower()][0] if own else None)
