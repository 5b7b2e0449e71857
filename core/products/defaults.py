"""What a product is about, and what it tells every algorithm that reads it.

Layer choice by meaning
    :func:`primary_layer` is the layer a product is about: the one its reader names
    (``Product.primary``: ``velocity`` of a MintPy velocity file, ``timeseries`` of a
    time series, ``unwrapPhase`` of an ifgramStack, ...), else the first layer whose
    quantity is a displacement (:data:`DISPLACEMENT_QUANTITIES`, in that order of
    preference), never by the order the file lists its datasets (HDF5 lists them
    alphabetically: ``intercept`` comes before ``velocity``).  Intercepts, residues,
    standard deviations, coherence and angles are not displacements:
    :func:`check_displacement_layer` refuses them where a displacement is expected.

Defaults with their source
    :func:`product_defaults` gathers what a product says about one of its layers —
    quantity, units, dates, wavelength, incidence, heading, look direction, phase sign —
    each as a :class:`ProductDefault` (value and where it came from, for the log).
    Every algorithm that takes the file uses these values for the parameters the user
    did not set, so ``load_product`` and the algorithms agree (docs/formats.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Optional

from .base import Product, product_error

#: Quantities that are a displacement, a velocity or a phase standing for one, in the order
#: a product's default layer is chosen when its reader does not name one.
DISPLACEMENT_QUANTITIES = ("los_displacement", "los_velocity", "unwrapped_phase",
                           "vertical_displacement", "vertical_velocity", "east_displacement",
                           "east_velocity", "azimuth_offset", "range_offset")

#: quantity of a product layer -> QUANTITY of the algorithms that convert LOS (core/los.py)
LOS_QUANTITY = {"los_displacement": "los_displacement", "los_velocity": "los_velocity",
                "unwrapped_phase": "phase"}

#: processor -> phase sign convention key of core/los.py (all store phase growing with range)
PHASE_CONVENTION = {"ISCE2": "isce2", "MintPy": "mintpy", "SNAP": "snap", "GAMMA": "gamma",
                    "ROI_PAC": "roipac", "ROIPAC": "roipac", "HyP3": "gamma", "LiCSBAS": "gamma",
                    "LiCSAR": "gamma"}


@dataclass(frozen=True)
class ProductDefault:
    """A value a product gives and where it was read (``source``, for the log)."""

    value: object
    source: str


def primary_layer(product: Product) -> str:
    """The name of the layer ``product`` is about (see the module docstring)."""
    own = [layer for layer in product.layers if "auxiliary" not in layer.metadata] or product.layers
    if not own:
        raise product_error(product.path, "has no layers")
    names = [layer.name for layer in own]
    if product.primary and product.primary in names:
        return product.primary
    for quantity in DISPLACEMENT_QUANTITIES:
        for layer in own:
            if layer.quantity == quantity:
                return layer.name
    if product.geometry.incidence_layer in names:   # a geometry file: its incidence
        return product.geometry.incidence_layer
    return names[0]


def is_displacement_layer(product: Product, name: str) -> bool:
    """Whether layer ``name`` holds a displacement, a velocity or a phase."""
    return product.layer(name).quantity in DISPLACEMENT_QUANTITIES


def check_displacement_layer(product: Product, name: str) -> None:
    """Raise a :class:`~.base.ProductError` when layer ``name`` is not a displacement, a
    velocity or a phase (an intercept, a residue, a standard deviation, a coherence...),
    naming what it is and the layers that are."""
    if is_displacement_layer(product, name):
        return
    layer = product.layer(name)
    usable = [x.name for x in product.layers if x.quantity in DISPLACEMENT_QUANTITIES]
    what = layer.description or layer.quantity.replace("_", " ")
    fix = (f"choose the layer {primary_layer(product)!r}" if usable else
           "this product has no displacement, velocity or phase layer")
    raise product_error(product.path, f"layer {name!r} is the {what} ({layer.units or 'no unit'}), "
                        f"not a displacement, velocity or phase: {fix}"
                        + (f" (displacement layers: {', '.join(usable)})" if usable else ""))


def product_defaults(product: Product, layer: Optional[str] = None) -> Dict[str, ProductDefault]:
    """What ``product`` says about ``layer`` (default: :func:`primary_layer`), as
    ``{key: ProductDefault}`` with keys among ``layer``, ``quantity`` (a key of
    :data:`LOS_QUANTITY` mapped to core/los.py's ``los_displacement``/``los_velocity``/
    ``phase`` under ``los_quantity``), ``units``, ``reference_date``, ``date_pair``,
    ``dates``, ``wavelength`` (m), ``incidence`` (deg, constant), ``incidence_layer``
    (per-pixel layer name), ``heading`` (deg clockwise from north), ``los_azimuth``
    (deg, constant), ``look_direction`` and ``phase_convention`` (a key of core/los.py).
    Only what the product actually carries is returned."""
    name = layer or primary_layer(product)
    lay = product.layer(name)
    base = os.path.basename(product.path.rstrip("/"))
    where = f"{product.processor} {product.product_type} {base}"
    out: Dict[str, ProductDefault] = {"layer": ProductDefault(name, where),
                                      "processor": ProductDefault(product.processor, where)}
    layer_source = f"{where}, layer {name}"
    out["quantity"] = ProductDefault(lay.quantity, layer_source)
    if lay.quantity in LOS_QUANTITY:
        out["los_quantity"] = ProductDefault(LOS_QUANTITY[lay.quantity], layer_source)
    if lay.units:
        out["units"] = ProductDefault(lay.units, layer_source)
    if lay.reference_date or product.reference_date:
        out["reference_date"] = ProductDefault(lay.reference_date or product.reference_date, where)
    if lay.date_pair:
        out["date_pair"] = ProductDefault(lay.date_pair, layer_source)
    if lay.dates:
        out["dates"] = ProductDefault(list(lay.dates), layer_source)
    g = product.geometry
    geometry_source = f"{where} ({g.source})" if g.source else where
    for key in ("wavelength", "incidence", "heading", "los_azimuth", "look_direction",
                "incidence_layer"):
        value = getattr(g, key)
        if value is not None and value != "":
            out[key] = ProductDefault(value, geometry_source)
    if lay.quantity == "unwrapped_phase":
        convention = PHASE_CONVENTION.get(product.processor)
        if convention:
            out["phase_convention"] = ProductDefault(
                convention, f"{where}: {product.processor} phase grows with range "
                "(LOS toward the satellite = -wavelength/(4 pi) * phase)")
    return out


def raster_defaults(path: str, band: int = 1, product: Optional[Product] = None,
                    displacement: bool = False) -> Dict[str, ProductDefault]:
    """:func:`product_defaults` for band ``band`` of the GDAL raster ``path`` an algorithm
    reads.  ``product``: the processor product ``path`` was written from by
    core/products/resolve.py (its ``layer`` metadata names which layer, or which layer per
    band), or the HyP3/LiCSAR product of a GeoTIFF; else the raster is opened as a product
    itself (the toolkit's metadata, PyRate's ``INCIDENCE_DEGREES``/``WAVELENGTH_METRES``/
    ``DATA_UNITS`` tags, ...).  A raster nothing can be learnt from gives ``{}``.
    ``displacement``: refuse (ProductError) a layer a processor identified as something
    other than a displacement, velocity or phase (intercept, residue, standard deviation,
    coherence...)."""
    from . import open_product
    from ..raster_io import RasterError, raster_info

    try:
        meta = raster_info(path).metadata
    except RasterError:
        meta = {}
    if product is None:
        try:
            product = open_product(path)
        except ValueError:
            return {}
    names = [n for n in str(meta.get("layer", "")).split(",") if n]
    if len(names) > 1:
        layer = names[band - 1] if band <= len(names) else None
    elif names:
        layer = names[0]
    elif product.path == path and len(product.layers) > 1 and 1 <= band <= len(product.layers) \
            and all(x.bands == 1 for x in product.layers):
        layer = product.layers[band - 1].name      # a plain raster: one layer per band
    else:
        layer = None
    if layer not in product.layer_names:
        layer = None
    out = product_defaults(product, layer)
    if displacement and product.processor != "GDAL":
        check_displacement_layer(product, out["layer"].value)
    return out


def primary_band(path: str, product: Optional[Product]) -> Optional[int]:
    """The 1-based band of ``path`` holding ``product``'s :func:`primary_layer` when the
    raster holds several of its layers as bands (a ROI_PAC ``.unw``: amplitude, phase);
    ``None`` otherwise."""
    from ..raster_io import RasterError, raster_info

    if product is None:
        return None
    try:
        names = [n for n in str(raster_info(path).metadata.get("layer", "")).split(",") if n]
    except RasterError:
        return None
    primary = primary_layer(product)
    return names.index(primary) + 1 if len(names) > 1 and primary in names else None
