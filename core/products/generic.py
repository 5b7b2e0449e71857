"""Any other GDAL raster: the toolkit's own outputs (band metadata ``units``, ``quantity``,
``date``; dataset ``reference_date``), 3-band LOS unit-vector rasters (east, north, up
bands, e.g. geepers/OPERA ``los_enu.tif``) and PyRate GeoTIFFs (``DATA_UNITS``,
``FIRST_DATE``/``SECOND_DATE``, ``WAVELENGTH_METRES``, ``INCIDENCE_DEGREES``).

A multi-band raster whose bands all carry dates is one time-series layer; otherwise
each band is a layer.  Geometry comes from ``geometry_*`` metadata items (written by
``displacement:load_product``) or PyRate's ``INCIDENCE_DEGREES``/``WAVELENGTH_METRES``.
"""

from __future__ import annotations

import os

from ..dates import band_dates, parse_date, reference_date
from ._io import gdal_reader, open_gdal
from .base import DIVERGING, SEQUENTIAL, Geometry, Layer, Product
from ..units import split_unit_suffix

_SIGNED = ("displacement", "velocity", "phase", "offset")


def _float(meta, key):
    try:
        return float(meta[key]) if meta.get(key) not in (None, "") else None
    except ValueError:
        return None


def _enu_bands(descriptions, band_meta) -> bool:
    """True for a 3-band LOS unit-vector raster (bands east, north, up/vertical), recognised
    from the band descriptions (e.g. "East component of line of sight unit vector") or the
    ``quantity`` items los_east/los_north/los_up."""
    if len(descriptions) != 3:
        return False
    quantities = [m.get("quantity", "") for m in band_meta]
    if quantities == ["los_east", "los_north", "los_up"]:
        return True
    text = [d.lower() for d in descriptions]
    return (all(("line of sight" in t or "los" in t) for t in text) and text[0].startswith("east")
            and text[1].startswith("north") and text[2].startswith(("up", "vertical")))


def _tags_source(meta) -> str:
    """Which metadata items of the raster gave its geometry (for the log)."""
    geometry = [k for k in ("geometry_incidence", "geometry_los_azimuth", "geometry_heading",
                            "geometry_wavelength", "geometry_look_direction") if meta.get(k)]
    pyrate = [k for k in ("INCIDENCE_DEGREES", "WAVELENGTH_METRES") if meta.get(k)]
    if pyrate and not geometry:
        return "PyRate tags " + ", ".join(pyrate)
    return "metadata " + ", ".join(geometry + pyrate) if geometry or pyrate else ""


def open_generic(path: str) -> Product:
    ds = open_gdal(path)
    meta = dict(ds.GetMetadata() or {})
    n = ds.RasterCount
    bands = [ds.GetRasterBand(i + 1) for i in range(n)]
    band_meta = [dict(b.GetMetadata() or {}) for b in bands]
    # without the unit suffix the writer adds ("LOS displacement (m)"): layer names
    descriptions = [split_unit_suffix(b.GetDescription())[0] for b in bands]
    gt = ds.GetGeoTransform(can_return_null=True)
    wkt = ds.GetProjection() or ""
    width, height = ds.RasterXSize, ds.RasterYSize
    ds = None
    ref = reference_date(meta, path)
    pair = None
    if meta.get("FIRST_DATE") and meta.get("SECOND_DATE"):
        pair = (parse_date(meta["FIRST_DATE"]), parse_date(meta["SECOND_DATE"]))
        ref = ref or pair[0]
    dates = band_dates(band_meta, descriptions, path if n == 1 else None)
    base = os.path.splitext(os.path.basename(path))[0]
    layers = []
    if n > 1 and all(d is not None for d in dates):
        m = band_meta[0]
        quantity = m.get("quantity", "value")
        layers.append(Layer(base, quantity, m.get("units", ""), reader=gdal_reader(path),
                            bands=n, dates=list(dates), reference_date=ref,
                            kind=DIVERGING if any(s in quantity for s in _SIGNED) else SEQUENTIAL,
                            description=quantity.replace("_", " "),
                            convention=m.get("convention", "")))
    else:
        for i in range(n):
            m = band_meta[i]
            quantity = m.get("quantity") or ("unwrapped_phase" if meta.get("DATA_UNITS") == "RADIANS"
                                             else "value")
            units = m.get("units") or ("rad" if meta.get("DATA_UNITS") == "RADIANS" else "")
            name = descriptions[i] or (base if n == 1 else f"{base}_band{i + 1}")
            layers.append(Layer(name, quantity, units, reader=gdal_reader(path, [i + 1]),
                                description=descriptions[i] or quantity.replace("_", " "),
                                dates=[dates[i]] if dates[i] and n == 1 and not pair else None,
                                date_pair=pair, reference_date=ref,
                                kind=DIVERGING if any(s in quantity for s in _SIGNED) else SEQUENTIAL,
                                convention=m.get("convention", "")))
        enu = _enu_bands(descriptions, band_meta)
        if enu:
            for layer, comp in zip(layers, ("los_east", "los_north", "los_up")):
                layer.name = layer.quantity = comp
                layer.units = layer.units or "1"
                layer.kind = SEQUENTIAL
        names = [layer.name for layer in layers]
        if len(set(names)) != len(names):
            for i, layer in enumerate(layers):
                layer.name = f"{layer.name}_{i + 1}"
    geometry = Geometry(
        incidence=_float(meta, "geometry_incidence") or _float(meta, "INCIDENCE_DEGREES"),
        los_azimuth=_float(meta, "geometry_los_azimuth"),
        heading=_float(meta, "geometry_heading"),
        wavelength=_float(meta, "geometry_wavelength") or _float(meta, "WAVELENGTH_METRES"),
        look_direction=meta.get("geometry_look_direction") or None,
        source=meta.get("geometry_source", "") or _tags_source(meta))
    if n == 3 and _enu_bands(descriptions, band_meta):
        geometry.enu_layers = ("los_east", "los_north", "los_up")
        geometry.source = "east/north/up bands of " + os.path.basename(path)
    processor = meta.get("INSAR_PROCESSOR") or meta.get("processor") or "GDAL"
    return Product(path, processor, meta.get("product_type", "raster"), width, height,
                   tuple(gt) if gt else (0.0, 1.0, 0.0, 0.0, 0.0, 1.0), wkt, layers, geometry,
                   meta, reference_date=ref, has_geotransform=gt is not None)
