"""Read only part of a product: an area of interest (what MintPy users do with subset.py).

:func:`subset_to_extent` returns a :class:`~.base.Product` on the window of the product's
grid that covers a map extent (in the product's CRS), snapped outward to whole pixels:
every layer's reader reads inside that window only, so nothing outside it is read; the
geotransform, the reference point and the per-pixel geometry follow the window.
"""

from __future__ import annotations

import copy
import math
from typing import Tuple

from .base import Layer, Product, product_error


def extent_window(product: Product, xmin: float, ymin: float, xmax: float,
                  ymax: float) -> Tuple[int, int, int, int]:
    """(row, col, rows, cols) of the pixels of ``product`` that the extent touches
    (outward to whole pixels, clipped to the grid); ProductError when the product has no
    map grid or the extent misses it."""
    if not product.has_geotransform:
        raise product_error(product.path, "is in radar geometry (no map grid): an extent cannot "
                            "select an area of it; leave EXTENT empty")
    x0, dx, rx, y0, ry, dy = product.geotransform
    if rx or ry:
        raise product_error(product.path, "has a rotated grid: an extent cannot select an area of it")
    if not (xmax > xmin and ymax > ymin):
        raise product_error(product.path, f"extent ({xmin}, {ymin}, {xmax}, {ymax}) is empty")
    eps = 1e-9
    cols = sorted(((xmin - x0) / dx, (xmax - x0) / dx))
    rows = sorted(((ymax - y0) / dy, (ymin - y0) / dy))
    c0, c1 = max(0, math.floor(cols[0] + eps)), min(product.width, math.ceil(cols[1] - eps))
    r0, r1 = max(0, math.floor(rows[0] + eps)), min(product.height, math.ceil(rows[1] - eps))
    if c1 <= c0 or r1 <= r0:
        gx = sorted((x0, x0 + dx * product.width))
        gy = sorted((y0, y0 + dy * product.height))
        raise product_error(product.path, f"extent x {xmin:g}..{xmax:g}, y {ymin:g}..{ymax:g} does "
                            f"not overlap the product (x {gx[0]:g}..{gx[1]:g}, y {gy[0]:g}..{gy[1]:g} "
                            "in its CRS)")
    return r0, c0, r1 - r0, c1 - c0


def _shifted(layer: Layer, row0: int, col0: int) -> Layer:
    out = copy.copy(layer)
    reader = layer.reader

    def read(band, row, col, rows, cols):
        return reader(band, row + row0, col + col0, rows, cols)

    out.reader = read
    out.metadata = dict(layer.metadata)
    return out


def subset(product: Product, row: int, col: int, rows: int, cols: int) -> Product:
    """The window (row, col, rows, cols) of ``product`` as a product of its own."""
    if row < 0 or col < 0 or rows <= 0 or cols <= 0 or row + rows > product.height \
            or col + cols > product.width:
        raise product_error(product.path, f"window ({row}, {col}, {rows}, {cols}) is outside the "
                            f"{product.height} x {product.width} grid")
    x0, dx, rx, y0, ry, dy = product.geotransform
    gt = (x0 + col * dx, dx, rx, y0 + row * dy, ry, dy)
    ref = None
    if product.reference_point:
        ref = dict(product.reference_point)
        ref["row"], ref["col"] = ref["row"] - row, ref["col"] - col
    meta = dict(product.metadata, subset=f"rows {row}..{row + rows - 1}, columns {col}..{col + cols - 1}"
                f" of {product.height} x {product.width}")
    return Product(product.path, product.processor, product.product_type, cols, rows, gt,
                   product.crs_wkt, [_shifted(x, row, col) for x in product.layers],
                   copy.copy(product.geometry), meta, reference_point=ref,
                   reference_date=product.reference_date, has_geotransform=product.has_geotransform,
                   primary=product.primary)


def subset_to_extent(product: Product, xmin: float, ymin: float, xmax: float, ymax: float) -> Product:
    """``product`` cut to the pixels the extent (in the product's CRS) touches."""
    return subset(product, *extent_window(product, xmin, ymin, xmax, ymax))
