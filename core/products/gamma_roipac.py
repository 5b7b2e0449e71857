"""GAMMA and ROI_PAC unwrapped interferograms (and other flat binary rasters) with their
parameter files.

ROI_PAC (``geo_060619-061002.unw`` + ``.unw.rsc``)
    The data file is "RMG": two little-endian float32 arrays side by side per line
    (band-interleaved by line), band 1 amplitude, band 2 unwrapped phase in radians.
    The ``.rsc`` gives ``WIDTH``, ``FILE_LENGTH``, ``X_FIRST``/``Y_FIRST`` (upper-left
    corner of the first pixel, as GDAL's ROI_PAC driver and MintPy use them),
    ``X_STEP``/``Y_STEP``, ``WAVELENGTH`` (m), ``DATE12`` (``yymmdd-yymmdd``) and, in full
    ROI_PAC files, ``HEADING_DEG``.  A ``.rsc`` with ``PROCESSOR gamma`` (written by MintPy's
    prep_gamma.py next to a GAMMA raster) means one big-endian band.  Phase 0 is nodata
    (ROI_PAC/snaphu write 0 where nothing was unwrapped; PyRate and MintPy read it so).

GAMMA (``20060619-20061002_utm.unw``)
    One big-endian float32 array (phase in radians; 0 = nodata) with no header.  Its grid
    comes from a DEM parameter file in the same folder (``*dem.par``/``*.dem_par``:
    ``width``, ``nlines``, ``corner_lat``/``corner_lon`` and ``post_lat``/``post_lon``,
    or ``corner_north``/``corner_east``/``post_north``/``post_east`` with a UTM
    ``projection_zone``).  GAMMA's corner is the *centre* of the upper-left pixel (grid
    registration, as LiCSBAS_flt2geotiff.py applies it), so the geotransform origin is
    the corner minus half a post.  Dates come from the name (``YYYYMMDD-YYYYMMDD``);
    geometry from the reference date's SLC/MLI parameter file (``<date>*.par`` with
    ``incidence_angle`` (deg), ``heading`` (deg, clockwise from north), ``radar_frequency``
    (Hz)) and, per pixel, from ``*.inc`` (incidence) or ``*.lv_theta``/``*.lv_phi``
    rasters of the same size (radians in GAMMA; values above 2π are taken as degrees).

Sign: unwrapped phase in these processors increases with range (motion away from the
satellite), so LOS displacement toward the satellite = −phase · λ / (4π) (MintPy FAQ).
"""

from __future__ import annotations

import datetime as _dt
import glob
import math
import os
import re
from typing import List, Optional, Tuple

import numpy as np

from .. import geometry as geo
from ..dates import dates_in_name
from ..raster_io import crs_from_epsg, wgs84_wkt
from ._io import binary_reader, first_float, parse_key_value_file
from .base import DIVERGING, SEQUENTIAL, Geometry, Layer, Product, product_error

SPEED_OF_LIGHT = 299792458.0

_QUANTITY = {
    ".unw": ("unwrapped_phase", "rad", DIVERGING, "unwrapped phase"),
    ".cor": ("coherence", "1", SEQUENTIAL, "coherence"),
    ".cc": ("coherence", "1", SEQUENTIAL, "coherence"),
    ".hgt": ("height", "m", SEQUENTIAL, "height"),
    ".dem": ("height", "m", SEQUENTIAL, "height"),
    ".disp": ("los_displacement", "m", DIVERGING, "LOS displacement"),
}


def yymmdd(text: str) -> _dt.date:
    """ROI_PAC ``yymmdd`` date (years < 50 are 20yy, others 19yy); also accepts YYYYMMDD."""
    text = text.strip()
    if len(text) == 8:
        return _dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    if len(text) != 6 or not text.isdigit():
        raise ValueError(f"{text!r} is not a yymmdd date")
    yy = int(text[:2])
    return _dt.date(2000 + yy if yy < 50 else 1900 + yy, int(text[2:4]), int(text[4:]))


def _pair_from_name(path: str) -> Optional[Tuple[_dt.date, _dt.date]]:
    named = dates_in_name(path)
    if len(named) >= 2:
        return named[0], named[1]
    m = re.search(r"(?<!\d)(\d{6})[-_](\d{6})(?!\d)", os.path.basename(path))
    if m:
        try:
            return yymmdd(m.group(1)), yymmdd(m.group(2))
        except ValueError:
            return None
    return None


def _quantity(path: str):
    ext = os.path.splitext(path)[1].lower()
    return _QUANTITY.get(ext, (ext.lstrip(".") or "value", "", SEQUENTIAL, ext.lstrip(".")))


def _phase_layer(reader, pair, units="rad"):
    return Layer("unwrapped_phase", "unwrapped_phase", units, reader=reader, kind=DIVERGING,
                 description="unwrapped phase", date_pair=pair,
                 reference_date=pair[0] if pair else None,
                 convention="phase increases with range: LOS toward satellite = -phase*wavelength/(4*pi)")


# --- ROI_PAC ---------------------------------------------------------------
def open_roipac(path: str) -> Product:
    """Open a ROI_PAC raster with its ``.rsc`` (see the module docstring)."""
    rsc_path = path + ".rsc"
    if not os.path.exists(rsc_path):
        raise product_error(path, "no ROI_PAC .rsc file next to it")
    rsc = parse_key_value_file(rsc_path)
    for key in ("WIDTH", "FILE_LENGTH"):
        if key not in rsc:
            raise product_error(rsc_path, f"ROI_PAC attribute {key} is missing")
    width, height = int(float(rsc["WIDTH"])), int(float(rsc["FILE_LENGTH"]))
    ext = os.path.splitext(path)[1].lower()
    pair = None
    if "DATE12" in rsc:
        a, b = rsc["DATE12"].split("-")
        pair = (yymmdd(a), yymmdd(b))
    else:
        pair = _pair_from_name(path)
    layers: List[Layer] = []
    size = os.path.getsize(path)
    # MintPy's prep_gamma.py writes a .rsc (PROCESSOR = gamma) next to GAMMA's big-endian,
    # single-band rasters; ROI_PAC's own are little-endian RMG (two bands side by side)
    gamma = rsc.get("PROCESSOR", "").strip().lower() == "gamma"
    dtype = ">f4" if gamma else "<f4"
    processor = "GAMMA" if gamma else "ROI_PAC"
    if ext in (".unw", ".cor", ".hgt", ".msk") and size >= 2 * width * height * 4 and not gamma:
        quantity, units, kind, desc = _quantity(path)
        amp = binary_reader(path, width, height, dtype, 2, "BIL", nodata=0.0, band_map=[1])
        second = binary_reader(path, width, height, dtype, 2, "BIL", nodata=0.0, band_map=[2])
        layers.append(Layer("amplitude", "amplitude", "1", reader=amp, kind=SEQUENTIAL,
                            description="amplitude", date_pair=pair))
        if ext == ".unw":
            layers.append(_phase_layer(second, pair))
        else:
            layers.append(Layer(quantity, quantity, units, reader=second, kind=kind,
                                description=desc, date_pair=pair))
    else:
        quantity, units, kind, desc = _quantity(path)
        nodata = 0.0 if ext in (".unw", ".cor", ".cc") else None
        reader = binary_reader(path, width, height, dtype, 1, "BSQ", nodata=nodata)
        if ext == ".unw":
            layers.append(_phase_layer(reader, pair))
        else:
            layers.append(Layer(quantity, quantity, units, kind=kind, description=desc,
                                date_pair=pair, reader=reader))
    if "X_FIRST" in rsc:
        try:
            gt = (float(rsc["X_FIRST"]), float(rsc["X_STEP"]), 0.0,
                  float(rsc["Y_FIRST"]), 0.0, float(rsc["Y_STEP"]))
        except KeyError as exc:
            raise product_error(rsc_path, f"X_FIRST is set but {exc.args[0]} is missing") from exc
        wkt, has_gt = wgs84_wkt(), True
    else:
        gt, wkt, has_gt = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0), "", False
    heading = float(rsc["HEADING_DEG"]) if "HEADING_DEG" in rsc else None
    geometry = Geometry(wavelength=float(rsc["WAVELENGTH"]) if "WAVELENGTH" in rsc else None,
                        heading=heading, look_direction="right" if heading is not None else None,
                        source=os.path.basename(rsc_path))
    return Product(path, processor, "interferogram" if ext == ".unw" else ext.lstrip("."),
                   width, height, gt, wkt, layers, geometry, rsc,
                   reference_date=pair[0] if pair else None, has_geotransform=has_gt)


# --- GAMMA -----------------------------------------------------------------
def _is_map_par(path: str) -> bool:
    """True for a GAMMA DEM/MAP parameter file (it defines a geocoded grid)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(20000)
    except OSError:
        return False
    return "corner_lat" in text or "corner_north" in text


def find_dem_par(path: str) -> Optional[str]:
    """The GAMMA DEM parameter file describing the geocoded grid of ``path``: its own
    ``<file>.par`` when that is a DEM/MAP parameter file, else one of the folder's."""
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    stem = base.split(".")[0]
    for own in (os.path.abspath(path) + ".par", os.path.splitext(os.path.abspath(path))[0] + ".par"):
        if own != os.path.abspath(path) and os.path.isfile(own) and _is_map_par(own):
            return own
    candidates = [os.path.join(folder, stem + ".dem.par"), os.path.join(folder, stem + "_dem.par")]
    m = re.match(r"(\d{8})", stem)
    if m:
        candidates += sorted(glob.glob(os.path.join(folder, m.group(1) + "*dem.par")))
    candidates += sorted(glob.glob(os.path.join(folder, "*dem.par")))
    candidates += sorted(glob.glob(os.path.join(folder, "*.dem_par")))
    candidates += [os.path.join(folder, "..", "EQA.dem_par")]
    for c in candidates:
        if os.path.exists(c):
            return c
    return None


def _dem_par_grid(par_path: str):
    par = parse_key_value_file(par_path, ":")
    try:
        width, height = int(first_float(par["width"])), int(first_float(par["nlines"]))
    except KeyError as exc:
        raise product_error(par_path, f"GAMMA DEM parameter {exc.args[0]!r} is missing") from exc
    if "post_lat" in par:
        post_lat, post_lon = first_float(par["post_lat"]), first_float(par["post_lon"])
        lat, lon = first_float(par["corner_lat"]), first_float(par["corner_lon"])
        gt = (lon - post_lon / 2.0, post_lon, 0.0, lat - post_lat / 2.0, 0.0, post_lat)
        return width, height, gt, wgs84_wkt(), par
    if "post_north" in par:
        pn, pe = first_float(par["post_north"]), first_float(par["post_east"])
        n, e = first_float(par["corner_north"]), first_float(par["corner_east"])
        zone = int(first_float(par.get("projection_zone", "0")))
        false_northing = first_float(par.get("false_northing", "0"))
        wkt = ""
        if zone:
            wkt = crs_from_epsg((32700 if false_northing >= 1e6 else 32600) + abs(zone))
        gt = (e - pe / 2.0, pe, 0.0, n - pn / 2.0, 0.0, pn)
        return width, height, gt, wkt, par
    raise product_error(par_path, "neither post_lat/post_lon nor post_north/post_east is given")


def find_slc_par(folder: str, day: _dt.date) -> Optional[str]:
    """The SLC/MLI parameter file of acquisition ``day`` in ``folder``."""
    for pattern in ("*.slc.par", "*_slc.par", "*.mli.par", "*.amp.par", "*.rslc.par", "*.par"):
        for candidate in sorted(glob.glob(os.path.join(folder, pattern))):
            name = os.path.basename(candidate)
            if ("dem" in name or "base" in name or "diff" in name):
                continue
            if day.strftime("%Y%m%d") in name or day.strftime("%y%m%d") in name:
                return candidate
    return None


def _angle_raster(path: str, width: int, height: int):
    """A GAMMA angle raster read as degrees (radians unless the values exceed 2π)."""
    reader = binary_reader(path, width, height, ">f4", 1, "BSQ", nodata=0.0)
    sample = reader(1, 0, 0, min(height, 64), width)
    finite = sample[np.isfinite(sample)]
    factor = 1.0 if finite.size and np.nanmax(np.abs(finite)) > 2 * math.pi else 180.0 / math.pi

    def read(band, row, col, rows, cols):
        return reader(band, row, col, rows, cols) * np.float32(factor)

    return read


def open_gamma(path: str) -> Product:
    """Open a geocoded GAMMA raster with its DEM parameter file (see the module docstring)."""
    par_path = find_dem_par(path)
    if par_path is None:
        raise product_error(path, "no GAMMA DEM parameter file (*dem.par, *.dem_par) in its "
                            "folder: radar-geometry GAMMA rasters are not supported")
    if os.path.basename(par_path) == "EQA.dem_par":
        from .licsbas import eqa_flat_processor

        if eqa_flat_processor(path) != "GAMMA":   # raises when the layout does not tell
            raise product_error(path, "a LiCSBAS flat file (little-endian float32, with the "
                                f"LiCSBAS {par_path}), not a GAMMA binary: give the .unw file "
                                "itself, not its folder")
    width, height, gt, wkt, dem_par = _dem_par_grid(par_path)
    ext = os.path.splitext(path)[1].lower()
    pair = _pair_from_name(path)
    quantity, units, kind, desc = _quantity(path)
    reader = binary_reader(path, width, height, ">f4", 1, "BSQ",
                           nodata=0.0 if ext in (".unw", ".cor", ".cc") else None)
    if ext == ".unw":
        layers = [_phase_layer(reader, pair)]
    else:
        layers = [Layer(quantity, quantity, units, reader=reader, kind=kind, description=desc,
                        date_pair=pair)]
    folder = os.path.dirname(os.path.abspath(path))
    geometry = Geometry(source="")
    meta = {"dem_par": os.path.basename(par_path)}
    day = pair[0] if pair else (dates_in_name(path) or [None])[0]
    slc_par = find_slc_par(folder, day) if day else None
    if slc_par:
        par = parse_key_value_file(slc_par, ":")
        meta["slc_par"] = os.path.basename(slc_par)
        if "incidence_angle" in par:
            geometry.incidence = first_float(par["incidence_angle"])
        if "heading" in par:
            geometry.heading = first_float(par["heading"])
            geometry.look_direction = "right"
        if "radar_frequency" in par:
            geometry.wavelength = SPEED_OF_LIGHT / first_float(par["radar_frequency"])
        geometry.source = os.path.basename(slc_par)
    size = width * height * 4
    for ext_name, key in ((".inc", "inc"), (".lv_theta", "lv_theta"), (".lv_phi", "lv_phi")):
        found = [c for c in sorted(glob.glob(os.path.join(folder, "*" + ext_name)))
                 if os.path.getsize(c) == size]
        if day:
            preferred = [c for c in found if day.strftime("%Y%m%d") in os.path.basename(c)]
            found = preferred or found
        if not found:
            continue
        if key == "lv_theta" and geometry.incidence_layer is not None:
            continue
        raster = _angle_raster(found[0], width, height)
        geometry.source = (geometry.source + ", " if geometry.source else "") + os.path.basename(found[0])
        if key == "inc":
            layers.append(Layer("incidence_angle", "incidence_angle", "deg", reader=raster,
                                kind=SEQUENTIAL, description="incidence angle",
                                metadata={"auxiliary": os.path.basename(found[0])}))
            geometry.incidence_layer = "incidence_angle"
        elif key == "lv_theta":
            def inc_from_theta(band, row, col, rows, cols, _r=raster):
                theta = np.radians(_r(band, row, col, rows, cols))
                return geo.hyp3_to_incidence_azimuth(theta, 0.0)[0].astype(np.float32)
            layers.append(Layer("incidence_angle", "incidence_angle", "deg", reader=inc_from_theta,
                                kind=SEQUENTIAL, description="incidence angle (90 - lv_theta)",
                                metadata={"auxiliary": os.path.basename(found[0])}))
            geometry.incidence_layer = "incidence_angle"
        elif key == "lv_phi":
            def az_from_phi(band, row, col, rows, cols, _r=raster):
                phi = np.radians(_r(band, row, col, rows, cols))
                return geo.hyp3_to_incidence_azimuth(0.0, phi)[1].astype(np.float32)
            layers.append(Layer("los_azimuth", "los_azimuth", "deg", reader=az_from_phi,
                                kind=SEQUENTIAL, description="LOS azimuth (lv_phi - 90)",
                                metadata={"auxiliary": os.path.basename(found[0])}))
            geometry.los_azimuth_layer = "los_azimuth"
    meta.update({f"dem_{k}": v for k, v in dem_par.items() if k.startswith(("corner", "post"))})
    return Product(path, "GAMMA", "interferogram" if ext == ".unw" else ext.lstrip("."),
                   width, height, gt, wkt, layers, geometry, meta,
                   reference_date=pair[0] if pair else None)


def gamma_binary_for_par(par_path: str) -> str:
    """The binary a GAMMA parameter file describes, in the same folder: ``<name>.par`` ->
    ``<name>`` (``20060619.slc.par`` -> ``20060619.slc``), ``<name>.dem_par`` ->
    ``<name>.dem``, ``<stem>_<ext>.par`` -> ``<stem>.<ext>`` (``20060619_utm_dem.par`` ->
    ``20060619_utm.dem``).  ProductError naming the files looked for when none exists."""
    folder, base = os.path.split(os.path.abspath(par_path))
    candidates = []
    if base.lower().endswith(".par"):
        stem = base[:-4]
        candidates.append(stem)
        m = re.match(r"^(.+)_([A-Za-z0-9]+)$", stem)
        if m:
            candidates.append(f"{m.group(1)}.{m.group(2)}")
    elif base.lower().endswith("_par"):
        candidates.append(base[:-4])
    for name in candidates:
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            return candidate
    raise product_error(par_path, "a GAMMA parameter file, not a raster; the binary it describes "
                        f"({' or '.join(candidates) or 'none'}) is not in its folder: give the binary "
                        "raster (e.g. the .unw) with its .par beside it")


def is_gamma_folder(folder: str) -> bool:
    """True for a folder holding a GAMMA DEM parameter file and geocoded interferograms."""
    return os.path.isdir(folder) and bool(glob.glob(os.path.join(folder, "*.unw"))) \
        and find_dem_par(os.path.join(folder, "_")) is not None


def open_gamma_folder(folder: str) -> Product:
    """A folder of GAMMA outputs: its geocoded interferograms (``*.unw`` of the DEM
    parameter file's grid, named ``YYYYMMDD-YYYYMMDD*``) as one stack layer
    ``unwrapped_phase`` (one band per pair, in date order), with the geometry and the
    geometry rasters of the first pair (:func:`open_gamma`)."""
    par_path = find_dem_par(os.path.join(folder, "_"))
    if par_path is None:
        raise product_error(folder, "no GAMMA DEM parameter file (*dem.par, *.dem_par) in the folder")
    width, height = _dem_par_grid(par_path)[:2]
    files = [f for f in glob.glob(os.path.join(folder, "*.unw"))
             if os.path.getsize(f) == width * height * 4]
    if not files:
        raise product_error(folder, f"no geocoded GAMMA interferogram (*.unw of {width} x {height} "
                            f"float32 samples, the grid of {os.path.basename(par_path)})")
    pairs = {f: _pair_from_name(f) for f in files}
    undated = [os.path.basename(f) for f, p in pairs.items() if p is None]
    if undated:
        raise product_error(folder, f"no date pair (YYYYMMDD-YYYYMMDD) in the name of "
                            f"{', '.join(undated)}: rename them or give one file")
    files.sort(key=lambda f: (pairs[f], os.path.basename(f)))
    first = open_gamma(files[0])
    readers = [binary_reader(f, width, height, ">f4", 1, "BSQ", nodata=0.0) for f in files]

    def read(band, row, col, rows, cols):
        return readers[band - 1](1, row, col, rows, cols)

    stack = _phase_layer(read, None)
    stack.bands, stack.band_date_pairs = len(files), [pairs[f] for f in files]
    stack.description = "unwrapped phase"
    layers = [stack] + [x for x in first.layers if x.name != "unwrapped_phase"]
    meta = dict(first.metadata, interferograms=",".join(os.path.basename(f) for f in files))
    return Product(folder, "GAMMA", "interferogram stack", width, height, first.geotransform,
                   first.crs_wkt, layers, first.geometry, meta, primary="unwrapped_phase")


def is_gamma_raster(path: str) -> bool:
    """True when ``path`` is a headerless raster with a GAMMA DEM parameter file nearby."""
    return not os.path.exists(path + ".rsc") and find_dem_par(path) is not None
