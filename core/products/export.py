"""Write product layers as the toolkit's GeoTIFFs (what ``displacement:load_product`` does).

Each layer becomes one float32 GeoTIFF (NaN nodata, tiled, compressed) on the product's
grid; a time series is one multi-band raster with the dated-band convention of
core/dates.py (band metadata ``date``, dataset metadata ``reference_date``).  Band
metadata: ``units``, ``quantity``, ``convention``, ``date``, ``date_pair``; dataset
metadata: ``processor``, ``product_type``, ``source``, ``layer``, ``reference_date``,
``date_pair``, ``reference_point`` and the ``geometry_*`` items of
:meth:`~.base.Geometry.as_metadata`.
"""

from __future__ import annotations

import os
import re
from typing import Dict, List, Optional

from ..dates import DATE_KEY, REFERENCE_DATE_KEY, format_date
from ..progress import Monitor
from ..raster_io import RasterWriter, block_rows, iter_blocks
from .base import Layer, Product

_PRODUCT_KEYS = ("WAVELENGTH", "HEADING", "ORBIT_DIRECTION", "PLATFORM", "pass", "PASS",
                 "Reference Granule", "Secondary Granule", "frame_id",
                 "CENTER_LINE_UTC")   # acquisition time of day: MintPy's step rule


def safe_name(name: str) -> str:
    """A file-name-safe version of a layer or product name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "layer"


def default_layers(product: Product) -> List[Layer]:
    """The layers of the product itself (not those borrowed from neighbouring files)."""
    return [layer for layer in product.layers if "auxiliary" not in layer.metadata]


def dataset_metadata(product: Product) -> Dict[str, str]:
    """Dataset metadata items describing the product, its reference and its geometry."""
    meta = {"processor": product.processor, "product_type": product.product_type,
            "source": os.path.abspath(product.path) if not product.path.startswith("/vsi")
            else product.path}
    meta.update(product.geometry.as_metadata())
    meta.update(product.geolocation)
    if product.reference_point:
        meta["reference_point"] = ",".join(
            f"{k}={v}" for k, v in sorted(product.reference_point.items()))
    for key in _PRODUCT_KEYS:
        if key in product.metadata:
            meta[f"product_{safe_name(key)}"] = product.metadata[key]
    return meta


def band_items(layer: Layer):
    """(descriptions, band metadata) of a layer's bands."""
    band_meta, descriptions = [], []
    pair = "/".join(format_date(d) for d in layer.date_pair) if layer.date_pair else None
    for b in range(1, layer.bands + 1):
        item = {"units": layer.units, "quantity": layer.quantity}
        if layer.convention:
            item["convention"] = layer.convention
        if layer.dates and layer.dates[b - 1] is not None:
            item[DATE_KEY] = format_date(layer.dates[b - 1])
        if pair:
            item["date_pair"] = pair
        if layer.band_date_pairs:
            item["date_pair"] = "/".join(format_date(d) for d in layer.band_date_pairs[b - 1])
        band_meta.append(item)
        descriptions.append(layer.band_description(b))
    return descriptions, band_meta


def write_layer(product: Product, name: str, path: str, monitor: Optional[Monitor] = None,
                extra_metadata: Optional[Dict[str, str]] = None,
                block_bytes: Optional[int] = None) -> Dict[str, float]:
    """Write layer ``name`` of ``product`` to the GeoTIFF ``path`` block by block (bounded
    memory); returns the writer statistics of its last band (for styling).  ``monitor``
    receives the fraction done and may cancel (nothing is left behind then)."""
    layer = product.layer(name)
    meta = dataset_metadata(product)
    meta.update(extra_metadata or {})
    meta["layer"] = layer.name
    if layer.reference_date:
        meta[REFERENCE_DATE_KEY] = format_date(layer.reference_date)
    if layer.date_pair:
        meta["date_pair"] = "/".join(format_date(d) for d in layer.date_pair)
    descriptions, band_meta = band_items(layer)
    rows = block_rows(product.width, 8, block_bytes) if block_bytes else block_rows(product.width, 8)
    with RasterWriter(path, product.width, product.height, product.geotransform, product.crs_wkt,
                      layer.bands, descriptions, band_meta, meta) as w:
        for b in range(1, layer.bands + 1):
            for r0, n in iter_blocks(product.height, rows):
                w.write(b, r0, product.read(layer.name, b, r0, 0, n, product.width))
                if monitor is not None:
                    monitor.update(((b - 1) + (r0 + n) / product.height) / layer.bands)
        return w.stats(layer.bands)
