"""LiCSBAS time series (``cum.h5``, ``TS_GEOCml*/``) and LiCSAR/LiCSBAS GeoTIFFs and flat files.

``cum.h5`` (LiCSBAS13_sb_inv.py): ``cum`` (n_im × length × width, mm, cumulative LOS
displacement relative to the first date, positive toward the satellite), ``vel`` (mm/yr),
``imdates`` (int YYYYMMDD), ``refarea`` (``'x1:x2/y1:y2'``, columns/rows of the
reference window), ``corner_lat``/``corner_lon``/``post_lat``/``post_lon`` (GAMMA
EQA.dem_par grid registration: the corner is the *centre* of the upper-left pixel; the
GeoTIFF origin is corner − post/2, as LiCSBAS_flt2geotiff.py writes it), optional
``coh_avg``, ``hgt``, ``vintercept`` and the LOS unit-vector components ``E.geo``,
``N.geo``, ``U.geo`` (ground→satellite).  Nodata: NaN.

LiCSAR GeoTIFFs: ``<frame>.geo.E.tif``/``.N.tif``/``.U.tif`` (unit-vector components),
``YYYYMMDD_YYYYMMDD.geo.unw.tif`` (unwrapped phase, rad; LiCSBAS converts with
−λ/(4π)), ``.geo.cc.tif`` (coherence stored as 0..255 bytes → /255), ``.geo.hgt.tif``.
Flat files (``E.geo``, ``N.geo``, ``U.geo``, ``*.unw`` in GEOCml*) are little-endian
float32 with ``EQA.dem_par`` in their folder.
"""

from __future__ import annotations

import glob
import os
import re
from typing import List, Optional

import numpy as np

from ..dates import dates_in_name, parse_date
from ..raster_io import wgs84_wkt
from ._io import (attr_str, binary_reader, first_float, gdal_reader, h5_reader, open_gdal, open_h5,
                  parse_key_value_file)
from .base import DIVERGING, SEQUENTIAL, Geometry, Layer, Product, product_error

SENTINEL1_WAVELENGTH = 299792458.0 / 5.405e9
_TIF = re.compile(r"\.geo\.(E|N|U|unw|cc|hgt|diff_pha|diff_unfiltered_pha)\.tif$", re.IGNORECASE)


def _scalar(f, name, path) -> float:
    if name not in f:
        raise product_error(path, f"LiCSBAS dataset {name!r} is missing")
    return float(np.asarray(f[name][()]).ravel()[0])


def open_licsbas_cum(path: str) -> Product:
    """Open a LiCSBAS ``cum.h5`` (see the module docstring)."""
    with open_h5(path) as f:
        if "cum" not in f or "imdates" not in f:
            raise product_error(path, "LiCSBAS datasets 'cum' and 'imdates' are required")
        shape = f["cum"].shape
        if len(shape) != 3:
            raise product_error(path, f"'cum' must be 3-D (dates, rows, cols), not {shape}")
        dates = [parse_date(str(int(d)) if not isinstance(d, bytes) else d.decode())
                 for d in np.asarray(f["imdates"][()]).ravel()]
        if len(dates) != shape[0]:
            raise product_error(path, f"'cum' has {shape[0]} epochs but 'imdates' has {len(dates)}")
        lat, lon = _scalar(f, "corner_lat", path), _scalar(f, "corner_lon", path)
        dlat, dlon = _scalar(f, "post_lat", path), _scalar(f, "post_lon", path)
        refarea = attr_str(f["refarea"][()]) if "refarea" in f else ""
        extra = [n for n in f.keys() if hasattr(f[n], "shape") and f[n].shape == shape[1:]]
    height, width = shape[1], shape[2]
    gt = (lon - dlon / 2.0, dlon, 0.0, lat - dlat / 2.0, 0.0, dlat)
    layers: List[Layer] = [Layer("cum", "los_displacement", "mm", reader=h5_reader(path, "cum"),
                                 bands=shape[0], dates=dates, reference_date=dates[0],
                                 description="cumulative LOS displacement",
                                 convention="positive toward the satellite")]
    table = {"vel": ("los_velocity", "mm/yr", DIVERGING, "LOS velocity"),
             "vintercept": ("intercept", "mm", DIVERGING, "velocity intercept"),
             "coh_avg": ("coherence", "1", SEQUENTIAL, "average coherence"),
             "hgt": ("height", "m", SEQUENTIAL, "height"),
             "E.geo": ("los_east", "1", SEQUENTIAL, "LOS unit vector east"),
             "N.geo": ("los_north", "1", SEQUENTIAL, "LOS unit vector north"),
             "U.geo": ("los_up", "1", SEQUENTIAL, "LOS unit vector up")}
    for name in extra:
        quantity, units, kind, desc = table.get(name, (name, "", SEQUENTIAL, name))
        layers.append(Layer(name, quantity, units, reader=h5_reader(path, name), kind=kind,
                            description=desc, reference_date=dates[0] if name == "vel" else None,
                            convention="positive toward the satellite" if kind == DIVERGING else ""))
    geometry = Geometry(wavelength=SENTINEL1_WAVELENGTH, look_direction="right", source="")
    if all(n in extra for n in ("E.geo", "N.geo", "U.geo")):
        geometry.enu_layers = ("E.geo", "N.geo", "U.geo")
        geometry.source = "E.geo, N.geo, U.geo in cum.h5"
    else:
        enu = _find_enu(path, width, height)
        if enu:
            for comp, f in zip("ENU", enu):
                layers.append(Layer(f"{comp}.geo", f"los_{'east north up'.split()['ENU'.index(comp)]}",
                                    "1", reader=_flat_or_tif_reader(f, width, height),
                                    kind=SEQUENTIAL, description=f"LOS unit vector {comp}",
                                    metadata={"auxiliary": os.path.basename(f)}))
            geometry.enu_layers = ("E.geo", "N.geo", "U.geo")
            geometry.source = ", ".join(os.path.basename(f) for f in enu)
    ref_point = None
    m = re.match(r"\s*(\d+):(\d+)/(\d+):(\d+)", refarea)
    if m:
        x1, x2, y1, y2 = (int(g) for g in m.groups())
        ref_point = {"row": y1, "col": x1, "rows": y2 - y1, "cols": x2 - x1,
                     "x": gt[0] + (x1 + x2) / 2.0 * gt[1], "y": gt[3] + (y1 + y2) / 2.0 * gt[5]}
    meta = {"refarea": refarea, "corner_lat": str(lat), "corner_lon": str(lon),
            "post_lat": str(dlat), "post_lon": str(dlon)}
    return Product(path, "LiCSBAS", "cum", width, height, gt, wgs84_wkt(), layers, geometry, meta,
                   reference_point=ref_point, reference_date=dates[0])


def _flat_or_tif_reader(path, width, height):
    if path.lower().endswith(".tif"):
        return gdal_reader(path)
    return binary_reader(path, width, height, "<f4", 1, "BSQ")


def _find_enu(path: str, width: int, height: int) -> Optional[List[str]]:
    folder = os.path.dirname(os.path.abspath(path))
    for sub in ("", "..", os.path.join("..", ".."), os.path.join("..", "..", "metadata")):
        d = os.path.normpath(os.path.join(folder, sub))
        flat = [os.path.join(d, f"{c}.geo") for c in "ENU"]
        if all(os.path.exists(f) and os.path.getsize(f) == width * height * 4 for f in flat):
            return flat
        for c_e in sorted(glob.glob(os.path.join(d, "*.geo.E.tif"))):
            tifs = [c_e, c_e[:-5] + "N.tif", c_e[:-5] + "U.tif"]
            if all(os.path.exists(t) for t in tifs):
                ds = open_gdal(c_e)
                if (ds.RasterXSize, ds.RasterYSize) == (width, height):
                    return tifs
    return None


def is_licsar_tif(path: str) -> bool:
    return bool(_TIF.search(os.path.basename(path)))


def open_licsar_tif(path: str) -> Product:
    """Open a LiCSAR GeoTIFF (unit-vector component, interferogram, coherence, height)."""
    kind_key = _TIF.search(os.path.basename(path)).group(1)
    ds = open_gdal(path)
    width, height = ds.RasterXSize, ds.RasterYSize
    gt, wkt = ds.GetGeoTransform(), ds.GetProjection()
    ds = None
    named = dates_in_name(path)
    pair = (named[0], named[1]) if len(named) >= 2 else None
    reader = gdal_reader(path)
    layers: List[Layer] = []
    geometry = Geometry(wavelength=SENTINEL1_WAVELENGTH, look_direction="right", source="")
    if kind_key in "ENU":
        comp = {"E": "east", "N": "north", "U": "up"}[kind_key]
        layers.append(Layer(f"los_{comp}", f"los_{comp}", "1", reader=reader, kind=SEQUENTIAL,
                            description=f"LOS unit vector {comp} (ground to satellite)"))
    elif kind_key == "unw":
        layers.append(Layer("unwrapped_phase", "unwrapped_phase", "rad", reader=gdal_reader(path, nodata=0.0)
                            if _no_nodata(path) else reader, date_pair=pair,
                            reference_date=pair[0] if pair else None, description="unwrapped phase",
                            convention="LOS toward satellite = -phase*wavelength/(4*pi) (LiCSBAS)"))
    elif kind_key == "cc":
        def cc(band, row, col, rows, cols):
            out = gdal_reader(path, nodata=0.0)(band, row, col, rows, cols)
            return out / np.float32(255.0)
        layers.append(Layer("coherence", "coherence", "1", reader=cc, kind=SEQUENTIAL,
                            description="coherence (bytes / 255)", date_pair=pair))
    elif kind_key == "hgt":
        layers.append(Layer("height", "height", "m", reader=reader, kind=SEQUENTIAL,
                            description="height"))
    else:
        layers.append(Layer(kind_key, "wrapped_phase", "rad", reader=reader, date_pair=pair,
                            description=kind_key.replace("_", " ")))
    enu = _find_enu(path, width, height)
    if enu:
        for comp, f in zip(("east", "north", "up"), enu):
            if f"los_{comp}" not in [layer.name for layer in layers]:
                layers.append(Layer(f"los_{comp}", f"los_{comp}", "1", reader=_flat_or_tif_reader(
                    f, width, height), kind=SEQUENTIAL, description=f"LOS unit vector {comp}",
                    metadata={"auxiliary": os.path.basename(f)}))
        geometry.enu_layers = ("los_east", "los_north", "los_up")
        geometry.source = ", ".join(os.path.basename(f) for f in enu)
    return Product(path, "LiCSAR", kind_key, width, height, gt, wkt, layers, geometry, {},
                   reference_date=pair[0] if pair else None)


def _no_nodata(path: str) -> bool:
    ds = open_gdal(path)
    return ds.GetRasterBand(1).GetNoDataValue() is None


_PAIR = re.compile(r"^\d{8}_\d{8}$")
#: files LiCSBAS02_ml_prep.py writes beside EQA.dem_par (GEOCml*/), never GAMMA
_LICSBAS_FILES = ("baselines", "hgt", "E.geo", "N.geo", "U.geo", "no_unw_list.txt")
#: GAMMA DIFF&GEO outputs (lookup tables, look-vector angles, DEM), never LiCSBAS
_GAMMA_PATTERNS = ("EQA.dem", "*.lt", "*.lt_fine", "*.lv_theta", "*.lv_phi", "*.diff_par", "*.off",
                   "*dem.par")


def eqa_dem_par(path: str) -> Optional[str]:
    """The ``EQA.dem_par`` governing a headerless file: in its folder, or in the parent
    folder for LiCSBAS's ``yyyymmdd_yyyymmdd/yyyymmdd_yyyymmdd.unw`` layout."""
    folder = os.path.dirname(os.path.abspath(path))
    for d in (folder, os.path.dirname(folder)):
        if os.path.isfile(os.path.join(d, "EQA.dem_par")):
            return os.path.join(d, "EQA.dem_par")
    return None


def _layout_evidence(path: str, par_path: str):
    """(LiCSBAS evidence, GAMMA evidence): lists of what the folder shows."""
    folder, base = os.path.split(os.path.abspath(path))
    top = os.path.dirname(par_path)
    licsbas, gamma = [], []
    stem = base.split(".")[0]
    if folder != top:
        if _PAIR.match(stem) and os.path.basename(folder) == stem and base.endswith((".unw", ".cc")):
            licsbas.append(f"{os.path.basename(folder)}/{base} (LiCSBAS interferogram folder)")
    for name in _LICSBAS_FILES:
        if os.path.isfile(os.path.join(top, name)):
            licsbas.append(name)
    mli_par = os.path.join(top, "slc.mli.par")
    if os.path.isfile(mli_par):
        keys = set(parse_key_value_file(mli_par, ":"))
        (licsbas if keys <= {"range_samples", "azimuth_lines", "radar_frequency"} else gamma).append(
            "slc.mli.par")
    for d in dict.fromkeys((top, folder, os.path.dirname(folder))):   # TS_GEOCml*/results/vel
        if re.match(r"^(TS_)?GEOCml", os.path.basename(d)):
            licsbas.append(f"folder {os.path.basename(d)}")
    for pattern in _GAMMA_PATTERNS:
        gamma += sorted(os.path.basename(f) for f in glob.glob(os.path.join(top, pattern)))
    own = os.path.abspath(path) + ".par"     # GAMMA's <file>.par beside its binary
    if os.path.isfile(own):
        gamma.append(os.path.basename(own))
    data_format = parse_key_value_file(par_path, ":").get("data_format", "REAL*4").split()
    if data_format and data_format[0].upper() != "REAL*4":   # LiCSBAS writes REAL*4 only
        gamma.append(f"data_format {data_format[0]} in EQA.dem_par")
    return licsbas, gamma


def eqa_flat_processor(path: str) -> Optional[str]:
    """``"LiCSBAS"`` (little-endian float32) or ``"GAMMA"`` (big-endian) for a headerless
    file governed by an ``EQA.dem_par`` (:func:`eqa_dem_par`), decided by the folder's
    layout; ``None`` without EQA.dem_par.  Both processors write EQA.dem_par with the same
    header line, so the parameter file alone cannot tell the byte order: a folder without
    evidence, or with both, raises :class:`ProductError` naming both readings and the fix."""
    if path.lower().endswith((".tif", ".h5", ".xml", ".par", ".dem_par", ".png", ".kmz", ".txt")):
        return None
    par_path = eqa_dem_par(path)
    if par_path is None:
        return None
    licsbas, gamma = _layout_evidence(path, par_path)
    if licsbas and not gamma:
        return "LiCSBAS"
    if gamma and not licsbas:
        return "GAMMA"
    seen = ("LiCSBAS files (" + ", ".join(licsbas) + ") and GAMMA files (" + ", ".join(gamma)
            + ") are both there") if licsbas else "nothing else in the folder tells which processor wrote it"
    raise product_error(path, f"EQA.dem_par ({par_path}) is written by LiCSBAS (flat files "
                        "little-endian float32) and by GAMMA (binaries big-endian float32), and "
                        f"{seen}: the byte order cannot be decided, and a wrong one gives wrong "
                        "numbers. Convert the file with the processor that wrote it "
                        "(LiCSBAS_flt2geotiff.py for LiCSBAS, GAMMA's data2geotiff for GAMMA) and "
                        "give the GeoTIFF, or keep it in the processor's own folder layout "
                        "(LiCSBAS GEOCml*/ with baselines and slc.mli.par; GAMMA geo/ with EQA.dem "
                        "and its lookup tables)")


def open_licsbas_flt(path: str) -> Product:
    """Open a LiCSBAS flat float32 file (``E.geo``, ``*.unw``, results/vel...) with its
    ``EQA.dem_par`` (:func:`eqa_dem_par`)."""
    par_path = eqa_dem_par(path)
    if par_path is None:
        raise product_error(path, "no EQA.dem_par in its folder or the folder above")
    par = parse_key_value_file(par_path, ":")
    try:
        width, height = int(first_float(par["width"])), int(first_float(par["nlines"]))
        lat, lon = first_float(par["corner_lat"]), first_float(par["corner_lon"])
        dlat, dlon = first_float(par["post_lat"]), first_float(par["post_lon"])
    except KeyError as exc:
        raise product_error(par_path, f"EQA.dem_par item {exc.args[0]!r} is missing") from exc
    gt = (lon - dlon / 2.0, dlon, 0.0, lat - dlat / 2.0, 0.0, dlat)
    name = os.path.basename(path)
    reader = binary_reader(path, width, height, "<f4", 1, "BSQ")
    named = dates_in_name(path)
    pair = (named[0], named[1]) if len(named) >= 2 else None
    table = {"E.geo": ("los_east", "1"), "N.geo": ("los_north", "1"), "U.geo": ("los_up", "1"),
             "vel": ("los_velocity", "mm/yr"), "vstd": ("los_velocity_std", "mm/yr")}
    if name.endswith(".unw"):
        quantity, units = "unwrapped_phase", "rad"
        reader = binary_reader(path, width, height, "<f4", 1, "BSQ", nodata=0.0)
    else:
        quantity, units = table.get(name, (re.sub(r"\W+", "_", name), ""))
    kind = DIVERGING if quantity in ("unwrapped_phase", "los_velocity") else SEQUENTIAL
    layers = [Layer(quantity, quantity, units, reader=reader, kind=kind, date_pair=pair,
                    reference_date=pair[0] if pair else None, description=quantity.replace("_", " "))]
    geometry = Geometry(wavelength=SENTINEL1_WAVELENGTH, look_direction="right")
    enu = _find_enu(path, width, height)
    if enu:
        for comp, f in zip(("east", "north", "up"), enu):
            if f"los_{comp}" != quantity:
                layers.append(Layer(f"los_{comp}", f"los_{comp}", "1",
                                    reader=_flat_or_tif_reader(f, width, height), kind=SEQUENTIAL,
                                    description=f"LOS unit vector {comp}",
                                    metadata={"auxiliary": os.path.basename(f)}))
        geometry.enu_layers = ("los_east", "los_north", "los_up")
        geometry.source = ", ".join(os.path.basename(f) for f in enu)
    return Product(path, "LiCSBAS", name, width, height, gt, wgs84_wkt(), layers, geometry,
                   {"dem_par": par_path}, reference_date=pair[0] if pair else None)
