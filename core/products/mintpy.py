"""MintPy HDF5 products: velocity.h5, timeseries.h5, geometryGeo.h5 / geometryRadar.h5,
temporalCoherence.h5, maskTempCoh.h5 (and any MintPy file with the same attributes).

What is read (MintPy docs "Attributes" / docs/api/coord.md, FAQ on signs):

* Grid: ``WIDTH``/``LENGTH`` attributes and the dataset shapes.
* Georeferencing (which GDAL's HDF5 driver does not apply): ``X_FIRST``/``Y_FIRST`` are
  the upper-left *corner* of the upper-left pixel, ``X_STEP``/``Y_STEP`` the pixel size;
  ``EPSG`` (UTM products) or ``X_UNIT`` = degrees (WGS 84).  Without ``X_FIRST`` the file
  is in radar geometry (no geotransform).
* Units: ``UNIT`` (``m``, ``m/year``); velocity in m/yr, time series in m.  Positive LOS
  displacement/velocity = motion toward the satellite (MintPy FAQ).
* Reference: ``REF_Y``/``REF_X`` (row/column), ``REF_LAT``/``REF_LON``, ``REF_DATE``.
* Dates: time series dataset ``date`` (``YYYYMMDD`` byte strings), one per slice.
* Geometry: per-pixel ``incidenceAngle`` and ``azimuthAngle`` (LOS azimuth, anti-clockwise
  from north) from the file itself or from a geometryGeo.h5/geometryRadar.h5 of the same
  grid found next to it (or in ``inputs/``, ``../inputs/``); else the attributes
  ``CENTER_INCIDENCE_ANGLE``/``INCIDENCE_ANGLE`` and ``HEADING`` (clockwise from north);
  ``WAVELENGTH`` (m); ``ANTENNA_SIDE`` (−1 right-looking, 1 left-looking).
* Nodata: NaN; ``NO_DATA_VALUE`` when present; 0 in ``incidenceAngle`` (outside the
  swath; a SAR incidence is never 0).
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional

import numpy as np

from ..dates import parse_date
from ..raster_io import crs_from_epsg, wgs84_wkt
from ._io import attr_str, h5_reader, open_h5
from .base import DIVERGING, SEQUENTIAL, Geometry, Layer, Product, product_error

#: dataset -> (quantity, units or None for the UNIT attribute, kind, description)
DATASETS = {
    "velocity": ("los_velocity", None, DIVERGING, "LOS velocity"),
    "velocityStd": ("los_velocity_std", None, SEQUENTIAL, "LOS velocity standard deviation"),
    "timeseries": ("los_displacement", None, DIVERGING, "LOS displacement"),
    "displacement": ("los_displacement", "m", DIVERGING, "LOS displacement"),
    "avgSpatialCoherence": ("coherence", "1", SEQUENTIAL, "average spatial coherence"),
    "temporalCoherence": ("temporal_coherence", "1", SEQUENTIAL, "temporal coherence"),
    "mask": ("mask", "1", SEQUENTIAL, "mask (1 = valid)"),
    "incidenceAngle": ("incidence_angle", "deg", SEQUENTIAL, "incidence angle"),
    "azimuthAngle": ("los_azimuth", "deg", SEQUENTIAL, "LOS azimuth (anti-clockwise from north)"),
    "height": ("height", "m", SEQUENTIAL, "height"),
    "slantRangeDistance": ("slant_range", "m", SEQUENTIAL, "slant range distance"),
    "latitude": ("latitude", "deg", SEQUENTIAL, "latitude"),
    "longitude": ("longitude", "deg", SEQUENTIAL, "longitude"),
    "shadowMask": ("shadow_mask", "1", SEQUENTIAL, "shadow/layover mask"),
    "waterMask": ("water_mask", "1", SEQUENTIAL, "water mask"),
    "intercept": ("intercept", "m", DIVERGING, "intercept"),
    "unwrapPhase": ("unwrapped_phase", "rad", DIVERGING, "unwrapped phase"),
    "coherence": ("coherence", "1", SEQUENTIAL, "coherence"),
    "connectComponent": ("connected_component", "1", SEQUENTIAL, "connected components"),
    "residue": ("residue", "m", SEQUENTIAL, "residue (root mean square misfit of the fit)"),
    "interceptStd": ("intercept_std", "m", SEQUENTIAL, "intercept standard deviation"),
    "acceleration": ("los_acceleration", "m/yr^2", DIVERGING, "LOS acceleration"),
    "annualAmplitude": ("annual_amplitude", "m", SEQUENTIAL, "annual amplitude"),
    "annualPhase": ("annual_phase", "rad", SEQUENTIAL, "annual phase"),
    "semiAnnualAmplitude": ("semi_annual_amplitude", "m", SEQUENTIAL, "semi-annual amplitude"),
    "semiAnnualPhase": ("semi_annual_phase", "rad", SEQUENTIAL, "semi-annual phase"),
}
#: FILE_TYPE -> the dataset the file is about (its default layer; core/products/defaults.py)
PRIMARY = {"velocity": "velocity", "timeseries": "timeseries", "ifgramStack": "unwrapPhase",
           "geometry": "incidenceAngle", "temporalCoherence": "temporalCoherence",
           "mask": "mask", "HDFEOS": "displacement"}
HDFEOS = "HDFEOS/GRIDS/timeseries"
_UNITS = {"m/year": "m/yr", "m/yr": "m/yr", "mm/year": "mm/yr", "mm/yr": "mm/yr", "cm/year": "cm/yr",
          "m": "m", "mm": "mm", "cm": "cm", "radian": "rad", "degree": "deg", "1": "1",
          "m/year^2": "m/yr^2"}


def _unit(text) -> str:
    text = str(text or "").strip()
    return _UNITS.get(text, text)


def _dataset_description(name: str):
    """(quantity, units or None, kind, description) of a MintPy dataset: the table above;
    ``<name>Std`` is the standard deviation of ``<name>`` in its units; ``step<date>``,
    ``exp*``/``log*`` are displacements in m (timeseries2velocity.model2hdf5_dataset)."""
    if name in DATASETS:
        return DATASETS[name]
    if name.endswith("Std") and name[:-3] in DATASETS:
        quantity, units, _, description = DATASETS[name[:-3]]
        return quantity + "_std", units, SEQUENTIAL, description + " standard deviation"
    if name.startswith(("step", "exp", "log")):
        std = name.endswith("Std")
        return (("step_std" if std else "step") if name.startswith("step") else name, "m",
                SEQUENTIAL if std else DIVERGING, name)
    return name, "", SEQUENTIAL, name


def is_mintpy(f) -> bool:
    """True when an open h5py file looks like a MintPy product."""
    attrs = f.attrs
    if "FILE_TYPE" in attrs and ("LENGTH" in attrs or "WIDTH" in attrs):
        return True
    return any(name in f for name in ("velocity", "timeseries", "temporalCoherence",
                                      "incidenceAngle")) and "LENGTH" in attrs


def _georef(path: str, atr: Dict[str, str]):
    if "X_FIRST" not in atr:
        return (0.0, 1.0, 0.0, 0.0, 0.0, 1.0), "", False
    try:
        x0, y0 = float(atr["X_FIRST"]), float(atr["Y_FIRST"])
        dx, dy = float(atr["X_STEP"]), float(atr["Y_STEP"])
    except KeyError as exc:
        raise product_error(path, f"X_FIRST is set but attribute {exc.args[0]} is missing "
                            "(MintPy geo-coordinates need X_FIRST, Y_FIRST, X_STEP, Y_STEP)") from exc
    except ValueError as exc:
        raise product_error(path, f"bad georeferencing attribute: {exc}") from exc
    epsg = atr.get("EPSG", "").strip()
    if epsg and epsg not in ("None", "0"):
        wkt = crs_from_epsg(int(float(epsg)))
    elif atr.get("X_UNIT", "degrees").lower().startswith("deg") or abs(x0) <= 360:
        wkt = wgs84_wkt()
    else:
        raise product_error(path, "coordinates are not in degrees and there is no EPSG attribute")
    return (x0, dx, 0.0, y0, 0.0, dy), wkt, True


def _float(atr, *keys) -> Optional[float]:
    for key in keys:
        if key in atr and str(atr[key]).strip() not in ("", "None", "nan"):
            try:
                return float(atr[key])
            except ValueError:
                continue
    return None


def _find_geometry_file(path: str, width: int, height: int) -> Optional[str]:
    folder = os.path.dirname(os.path.abspath(path))
    names = ["geometryGeo.h5", "geometryRadar.h5", "geo_geometryRadar.h5"]
    for sub in ("", "inputs", os.path.join("..", "inputs"), "..", "geo"):
        for name in names:
            candidate = os.path.normpath(os.path.join(folder, sub, name))
            if candidate == os.path.abspath(path) or not os.path.exists(candidate):
                continue
            try:
                with open_h5(candidate) as g:
                    ds = g.get("incidenceAngle")
                    if ds is not None and ds.shape == (height, width):
                        return candidate
            except ValueError:
                continue
    return None


#: masks MintPy writes beside its products (dataset names tried in order; 1/True = valid)
MASK_FILES = (("maskTempCoh.h5", ("mask",)), ("waterMask.h5", ("waterMask", "mask")))
#: FILE_TYPEs whose layers are read through the masks beside them
_MASKED_TYPES = ("velocity", "timeseries", "HDFEOS")


def _find_masks(path: str, width: int, height: int):
    """[(file, dataset)] of the MintPy masks in the folder of ``path`` with its grid."""
    folder = os.path.dirname(os.path.abspath(path))
    found = []
    for name, datasets in MASK_FILES:
        candidate = os.path.join(folder, name)
        if candidate == os.path.abspath(path) or not os.path.exists(candidate):
            continue
        try:
            with open_h5(candidate) as f:
                ds = next((d for d in datasets if d in f and f[d].shape == (height, width)), None)
        except ValueError:
            continue
        if ds:
            found.append((candidate, ds))
    return found


def _masked(reader, masks):
    """``reader`` with NaN where any of ``masks`` (h5 readers of 0/1 values) is 0."""
    def read(band, row, col, rows, cols):
        data = np.array(reader(band, row, col, rows, cols), dtype=np.float32)
        for m in masks:
            valid = m(1, row, col, rows, cols)
            data[~(np.nan_to_num(valid, nan=0.0) > 0)] = np.nan
        return data

    return read


def open_mintpy(path: str, mask: bool = True) -> Product:
    """Open a MintPy HDF5 file (see the module docstring).  ``mask``: read a velocity or time
    series through the masks MintPy wrote beside it (``maskTempCoh.h5``, ``waterMask.h5``;
    NaN where they are 0, as MintPy's figures show it); ``Product.metadata['mask']`` names
    them."""
    with open_h5(path) as f:
        atr = {k: attr_str(v) for k, v in f.attrs.items()}
        # HDF-EOS5 (save_hdfeos5.py): HDFEOS/GRIDS/timeseries/{observation,quality,geometry}/*
        groups = [f]
        if HDFEOS in f:
            groups = [f[f"{HDFEOS}/{g}"] for g in ("observation", "quality", "geometry")
                      if f"{HDFEOS}/{g}" in f]
        names, h5paths, shapes, dtypes, ds_units = [], {}, {}, {}, {}
        date_ds = None
        for g in groups:
            for n, item in g.items():
                if not hasattr(item, "shape"):
                    continue
                if n == "date":
                    date_ds = item
                    continue
                names.append(n)
                h5paths[n], shapes[n], dtypes[n] = item.name, item.shape, item.dtype
                if "UNIT" in item.attrs:   # timeseries2velocity writes one UNIT per dataset
                    ds_units[n] = _unit(attr_str(item.attrs["UNIT"]))
        dates = pairs = None
        if date_ds is not None:
            raw_dates = np.asarray(date_ds[()])
            try:
                if raw_dates.ndim == 2:   # ifgramStack.h5: (n_ifg, 2) reference/secondary
                    pairs = [(parse_date(attr_str(a)), parse_date(attr_str(b))) for a, b in raw_dates]
                else:
                    dates = [parse_date(attr_str(d)) for d in raw_dates]
            except ValueError as exc:
                raise product_error(path, f"the 'date' dataset holds a non-date: {exc}") from exc
    for key in ("LENGTH", "WIDTH"):
        if key not in atr:
            raise product_error(path, f"MintPy attribute {key} is missing")
    height, width = int(float(atr["LENGTH"])), int(float(atr["WIDTH"]))
    file_type = atr.get("FILE_TYPE", "")
    gt, wkt, has_gt = _georef(path, atr)
    unit_attr = _unit(atr.get("UNIT", ""))
    nodata = _float(atr, "NO_DATA_VALUE")
    ref_date = parse_date(atr["REF_DATE"]) if atr.get("REF_DATE") else None

    layers: List[Layer] = []
    for name in names:
        shape = shapes[name]
        if name in ("bperp",) or len(shape) not in (2, 3):
            continue
        if shape[-2:] != (height, width):
            raise product_error(path, f"dataset {name!r} has shape {shape}, but LENGTH x WIDTH "
                                f"is {height} x {width}")
        quantity, units, kind, description = _dataset_description(name)
        if name in ds_units:
            units = ds_units[name]
        elif units is None:   # the file's UNIT describes its main dataset only
            units = unit_attr or ("m/yr" if "velocity" in name else "m")
            if quantity.startswith("los_velocity") and units == "m":
                units = "m/yr"
        layer_nodata = 0.0 if name == "incidenceAngle" else nodata
        if dtypes[name].kind == "b":
            layer_nodata = None
        bands = shape[0] if len(shape) == 3 else 1
        layer_dates = layer_pairs = None
        if len(shape) == 3 and pairs is not None:
            if len(pairs) != bands:
                raise product_error(path, f"dataset {name!r} has {bands} slices but the 'date' "
                                    f"dataset has {len(pairs)} date pairs")
            layer_pairs = list(pairs)
        elif len(shape) == 3:
            if dates is None or len(dates) != bands:
                raise product_error(path, f"dataset {name!r} has {bands} slices but the 'date' "
                                    f"dataset has {0 if dates is None else len(dates)} dates")
            layer_dates = list(dates)
        layer = Layer(name=name, quantity=quantity, units=units, kind=kind,
                      description=description, bands=bands, dates=layer_dates,
                      reference_date=ref_date if name in ("timeseries", "velocity", "displacement")
                      else None,
                      reader=h5_reader(path, h5paths[name], nodata=layer_nodata),
                      band_date_pairs=layer_pairs,
                      convention=("phase grows with range: LOS toward satellite = "
                                  "-phase*wavelength/(4*pi)" if name == "unwrapPhase" else
                                  "LOS positive toward the satellite" if kind == DIVERGING else ""))
        layers.append(layer)
    if not layers:
        raise product_error(path, f"no 2-D or 3-D dataset of {height} x {width} pixels; "
                            f"datasets: {', '.join(names) or 'none'}")

    look = None
    side = _float(atr, "ANTENNA_SIDE")
    if side is not None:
        look = "right" if side < 0 else "left"
    geometry = Geometry(
        heading=_float(atr, "HEADING"),
        wavelength=_float(atr, "WAVELENGTH"),
        incidence=_float(atr, "CENTER_INCIDENCE_ANGLE", "INCIDENCE_ANGLE"),
        look_direction=look or ("right" if _float(atr, "HEADING") is not None else None),
        source=f"{os.path.basename(path)} attributes")
    names_set = set(layer.name for layer in layers)
    if "incidenceAngle" in names_set:
        geometry.incidence_layer = "incidenceAngle"
        geometry.source = os.path.basename(path)
    if "azimuthAngle" in names_set:
        geometry.los_azimuth_layer = "azimuthAngle"
    if "incidenceAngle" not in names_set:
        geom_file = _find_geometry_file(path, width, height)
        if geom_file:
            with open_h5(geom_file) as g:
                has_az = "azimuthAngle" in g and g["azimuthAngle"].shape == (height, width)
            layers.append(Layer("incidenceAngle", "incidence_angle", "deg", kind=SEQUENTIAL,
                                description="incidence angle",
                                reader=h5_reader(geom_file, "incidenceAngle", nodata=0.0),
                                metadata={"auxiliary": os.path.basename(geom_file)}))
            geometry.incidence_layer = "incidenceAngle"
            if has_az:
                layers.append(Layer("azimuthAngle", "los_azimuth", "deg", kind=SEQUENTIAL,
                                    description="LOS azimuth (anti-clockwise from north)",
                                    reader=h5_reader(geom_file, "azimuthAngle"),
                                    metadata={"auxiliary": os.path.basename(geom_file)}))
                geometry.los_azimuth_layer = "azimuthAngle"
            geometry.source = os.path.relpath(geom_file, os.path.dirname(os.path.abspath(path)))

    ref_point = None
    if "REF_Y" in atr and "REF_X" in atr:
        ref_point = {"row": int(float(atr["REF_Y"])), "col": int(float(atr["REF_X"]))}
        if not (0 <= ref_point["row"] < height and 0 <= ref_point["col"] < width):
            raise product_error(path, f"REF_Y/REF_X ({ref_point['row']}, {ref_point['col']}) "
                                f"lie outside the {height} x {width} grid")
        if has_gt:
            ref_point["x"] = gt[0] + (ref_point["col"] + 0.5) * gt[1]
            ref_point["y"] = gt[3] + (ref_point["row"] + 0.5) * gt[5]
        lat, lon = _float(atr, "REF_LAT"), _float(atr, "REF_LON")
        if lat is not None and lon is not None:
            ref_point["lat"], ref_point["lon"] = lat, lon
    product_type = file_type or os.path.splitext(os.path.basename(path))[0]
    if mask and (file_type in _MASKED_TYPES or PRIMARY.get(file_type) is None and
                 any(n in ("velocity", "timeseries") for n in names)):
        masks = _find_masks(path, width, height)
        if masks:
            readers = [h5_reader(f, d) for f, d in masks]
            for layer in layers:
                if "auxiliary" not in layer.metadata:
                    layer.reader = _masked(layer.reader, readers)
            atr["mask"] = ", ".join(f"{os.path.basename(f)} ({d}, 0 = masked)" for f, d in masks)
            atr["mask_files"] = ",".join(os.path.basename(f) for f, _ in masks)
    primary = PRIMARY.get(file_type) or PRIMARY.get(os.path.splitext(os.path.basename(path))[0]
                                                    .replace("geo_", ""))
    if any(h5paths[n].startswith("/" + HDFEOS) for n in names):
        primary = "displacement"
    product = Product(path, "MintPy", product_type, width, height, gt, wkt, layers, geometry, atr,
                      reference_point=ref_point, reference_date=ref_date, has_geotransform=has_gt,
                      primary=primary)
    if not has_gt:
        product.geolocation = _radar_geolocation(path, width, height)
    return product


def _radar_geolocation(path: str, width: int, height: int) -> Dict[str, str]:
    """geocode metadata items naming the latitude/longitude datasets (GDAL HDF5 subdatasets)
    of the file itself or of its geometryRadar.h5."""
    from ..geocode import LATITUDE_KEY, LONGITUDE_KEY
    for candidate in (path, _find_geometry_file(path, width, height)):
        if not candidate:
            continue
        with open_h5(candidate) as f:
            if all(k in f and f[k].shape == (height, width) for k in ("latitude", "longitude")):
                full = os.path.abspath(candidate)
                return {LATITUDE_KEY: f'HDF5:"{full}"://latitude',
                        LONGITUDE_KEY: f'HDF5:"{full}"://longitude'}
    return {}
