"""OPERA (NASA/JPL) HDF5 products: DISP-S1 displacement granules and CSLC-S1 /
DISP-S1 static layers.

DISP-S1 (OPERA DISP-S1 product specification, dolphin/disp-s1 writer), root datasets on
a UTM grid: ``displacement`` and ``short_wavelength_displacement`` (m, LOS, positive
toward the satellite, relative to ``identification/reference_datetime``),
``temporal_coherence``, ``phase_similarity``, ``interferometric_correlation``,
``connected_component_labels``, ``recommended_mask``, ``persistent_scatterer_mask``,
``water_mask``, ``timeseries_inversion_residuals``; coordinates ``x``/``y`` (pixel
*centres*, metres) and ``spatial_ref`` (attribute ``crs_wkt``); group
``identification`` (``reference_datetime``, ``secondary_datetime``, ``frame_id``).
Nodata: each dataset's ``_FillValue`` (NaN for floats).  A layer stored with a leading
time axis of length 1 (time, y, x) is read as its single slice.

CSLC-S1 / DISP-S1 static layers: ``data/los_east``, ``data/los_north`` (ground→satellite
unit-vector components; up = √(1 − e² − n²)), ``data/layover_shadow_mask``,
``data/local_incidence_angle``, coordinates ``data/x_coordinates``/``data/y_coordinates``
and ``data/projection`` (EPSG code).  Root-level ``los_east``/``los_north`` (DISP static)
are read the same way.
"""

from __future__ import annotations

import os
from typing import Dict, List

import numpy as np

from ..dates import parse_date
from ..raster_io import crs_from_epsg
from ._io import attr_str, h5_reader, open_h5
from .base import DIVERGING, SEQUENTIAL, Geometry, Layer, Product, product_error

SENTINEL1_WAVELENGTH = 299792458.0 / 5.405e9

#: dataset -> (quantity, units, kind)
KNOWN = {
    "displacement": ("los_displacement", "m", DIVERGING),
    "short_wavelength_displacement": ("los_displacement", "m", DIVERGING),
    "temporal_coherence": ("temporal_coherence", "1", SEQUENTIAL),
    "phase_similarity": ("phase_similarity", "1", SEQUENTIAL),
    "interferometric_correlation": ("coherence", "1", SEQUENTIAL),
    "connected_component_labels": ("connected_component", "1", SEQUENTIAL),
    "recommended_mask": ("mask", "1", SEQUENTIAL),
    "persistent_scatterer_mask": ("mask", "1", SEQUENTIAL),
    "water_mask": ("water_mask", "1", SEQUENTIAL),
    "timeseries_inversion_residuals": ("residual", "rad", SEQUENTIAL),
    "shp_counts": ("count", "1", SEQUENTIAL),
    "los_east": ("los_east", "1", SEQUENTIAL),
    "los_north": ("los_north", "1", SEQUENTIAL),
    "layover_shadow_mask": ("layover_shadow_mask", "1", SEQUENTIAL),
    "local_incidence_angle": ("local_incidence_angle", "deg", SEQUENTIAL),
}


def _crs(f, group: str, path: str) -> str:
    for name in (f"{group}spatial_ref", "spatial_ref"):
        if name in f:
            a = f[name].attrs
            for key in ("crs_wkt", "spatial_ref"):
                if key in a:
                    return attr_str(a[key])
    for name in (f"{group}projection", "projection"):
        if name in f:
            a = f[name].attrs
            if "epsg_code" in a:
                return crs_from_epsg(int(np.asarray(a["epsg_code"]).ravel()[0]))
            return crs_from_epsg(int(np.asarray(f[name][()]).ravel()[0]))
    raise product_error(path, "no CRS: neither 'spatial_ref' (crs_wkt) nor 'projection' (EPSG)")


def open_opera(path: str) -> Product:
    """Open an OPERA DISP-S1 granule or CSLC-S1/DISP-S1 static layers file."""
    with open_h5(path) as f:
        group = "data/" if "data" in f and "los_east" in f["data"] else ""
        xname = f"{group}x_coordinates" if f"{group}x_coordinates" in f else f"{group}x"
        yname = f"{group}y_coordinates" if f"{group}y_coordinates" in f else f"{group}y"
        if xname not in f or yname not in f:
            raise product_error(path, f"OPERA coordinate datasets {xname!r} and {yname!r} are missing")
        x = np.asarray(f[xname][()], dtype=np.float64)
        y = np.asarray(f[yname][()], dtype=np.float64)
        if x.size < 2 or y.size < 2:
            raise product_error(path, "the x/y coordinate arrays need at least 2 values")
        wkt = _crs(f, group, path)
        width, height = x.size, y.size
        ident: Dict[str, str] = {}
        if "identification" in f:
            for k, v in f["identification"].items():
                if hasattr(v, "shape") and v.shape in ((), (1,)):
                    ident[k] = attr_str(v[()])
        entries = []
        container = f[group] if group else f
        for name, ds in container.items():
            if not hasattr(ds, "shape") or ds.ndim not in (2, 3):
                continue
            if ds.ndim == 3 and ds.shape[0] != 1:
                continue
            if ds.shape[-2:] != (height, width):
                raise product_error(path, f"dataset {group}{name!r} has shape {ds.shape} but the "
                                    f"x/y coordinates give {height} x {width}")
            fill = ds.attrs.get("_FillValue")
            fill = None if fill is None else float(np.asarray(fill).ravel()[0])
            units = attr_str(ds.attrs["units"]) if "units" in ds.attrs else None
            entries.append((name, fill, units, 0 if ds.ndim == 3 else None))
    dx, dy = x[1] - x[0], y[1] - y[0]
    gt = (x[0] - dx / 2.0, dx, 0.0, y[0] - dy / 2.0, 0.0, dy)
    ref = sec = None
    if ident.get("reference_datetime"):
        ref = parse_date(ident["reference_datetime"])
    if ident.get("secondary_datetime"):
        sec = parse_date(ident["secondary_datetime"])
    layers: List[Layer] = []
    for name, fill, units, index in entries:
        quantity, default_units, kind = KNOWN.get(name, (name, "", SEQUENTIAL))
        if units in ("meters", "metre", "metres", "meter"):
            units = "m"
        if units in ("radians", "radian"):
            units = "rad"
        if units in ("unitless", "", None, "1"):
            units = default_units
        nodata = fill if fill is not None and not np.isnan(fill) else None
        signed = kind == DIVERGING
        layers.append(Layer(name, quantity, units or default_units, kind=kind,
                            reader=h5_reader(path, f"{group}{name}", index=index, nodata=nodata),
                            description=name.replace("_", " "),
                            date_pair=(ref, sec) if signed and ref and sec else None,
                            dates=[sec] if signed and sec else None,
                            reference_date=ref if signed else None,
                            convention="positive toward the satellite" if signed else ""))
    if not layers:
        raise product_error(path, "no 2-D dataset on the x/y grid")
    names = {layer.name for layer in layers}
    geometry = Geometry(wavelength=SENTINEL1_WAVELENGTH, look_direction="right", source="")
    if {"los_east", "los_north"} <= names:
        geometry.enu_layers = ("los_east", "los_north", None)
        geometry.source = "los_east, los_north"
    product_type = "DISP-S1" if "displacement" in names else "static layers"
    return Product(path, "OPERA", product_type, width, height, gt, wkt, layers, geometry, ident,
                   reference_date=ref if product_type == "DISP-S1" else None)


def is_opera_name(path: str) -> bool:
    return os.path.basename(path).upper().startswith("OPERA_")
