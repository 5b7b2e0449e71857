"""Use processor products directly as algorithm inputs.

GDAL opens many products but cannot georeference them (MintPy HDF5, GAMMA binaries with
``.par``), or reads them without units, dates and geometry (ROI_PAC ``.unw`` + ``.rsc``).
:func:`resolve_raster` turns such a source into a georeferenced float32 GeoTIFF with NaN
nodata and the metadata of :mod:`.export` (units, quantity, dates, ``geometry_*``), written
once into a work folder (the same source, layer and file modification time reuse the same
file); plain GeoTIFFs and other rasters GDAL georeferences itself pass through untouched.

:func:`geometry_raster` writes one geometry quantity of a product (incidence, LOS
azimuth, heading, unit-vector east/north; degrees, conventions of core/geometry.py) on
the product's grid, for algorithms that take geometry rasters.
"""

from __future__ import annotations

import hashlib
import os
from typing import Optional, Tuple

from osgeo import gdal

from .. import geometry as geo
from ..progress import Monitor
from ..raster_io import RasterWriter, block_rows, iter_blocks
from . import _is_hdf5, _strip_gdal_prefix, open_product
from .base import Product
from .defaults import primary_layer
from .export import band_items, dataset_metadata, default_layers, safe_name, write_layer

#: geometry quantities :func:`geometry_raster` writes: (units, description)
GEOMETRY_QUANTITIES = {
    "incidence": ("deg", "incidence angle, degrees from the vertical"),
    "los_azimuth": ("deg", "LOS azimuth, ground to satellite, degrees anti-clockwise from north"),
    "heading": ("deg", "heading (flight direction), degrees clockwise from north"),
    "east": ("1", "east component of the ground-to-satellite unit vector"),
    "north": ("1", "north component of the ground-to-satellite unit vector"),
    "up": ("1", "up component of the ground-to-satellite unit vector"),
}


def split_source(source: str) -> Tuple[str, Optional[str]]:
    """(file, layer) of a layer source: ``HDF5:"/d/velocity.h5"://velocity`` ->
    (``/d/velocity.h5``, ``velocity``); ``file.unw|layername=unwrapped_phase`` ->
    (``file.unw``, ``unwrapped_phase``); a plain path -> (path, None)."""
    source = str(source)
    layer = None
    upper = source.upper()
    if upper.startswith(("HDF5:", "NETCDF:")):
        rest = source.split(":", 1)[1]
        if rest.startswith('"'):
            rest = rest[rest.index('"', 1) + 1:]
        else:
            rest = rest.split(":", 1)[1] if ":" in rest else ""
        layer = rest.lstrip(":").strip("/") or None
    elif "|" in source:
        for option in source.split("|")[1:]:
            key, _, value = option.partition("=")
            if key.strip().lower() == "layername" and value.strip():
                layer = value.strip()
    return _strip_gdal_prefix(source), layer


def _gdal_georeferenced(path: str) -> bool:
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        try:
            ds = gdal.OpenEx(path, gdal.OF_RASTER)
        except RuntimeError:
            return False
        return ds is not None and ds.GetGeoTransform(can_return_null=True) is not None
    finally:
        gdal.PopErrorHandler()


def is_product_source(source: str) -> bool:
    """Whether ``source`` is a processor product to convert (see the module docstring):
    an HDF5/netCDF file or subdataset, a folder or ``.zip``, a SNAP ``.dim``, an ISCE2 or
    Sentinel-1 ``.xml``, a raster with a ROI_PAC ``.rsc``, or a raster GDAL cannot
    georeference that a product reader recognises (GAMMA, ISCE2, LiCSBAS flat files).
    GeoTIFFs, VRTs and georeferenced GDAL rasters are not."""
    if not source:
        return False
    source = str(source)
    if source.upper().startswith(("HDF5:", "NETCDF:")):
        return True
    path, _ = split_source(source)
    if not os.path.exists(path):
        return False
    lower = path.lower()
    if os.path.isdir(path) or lower.endswith((".zip", ".dim", ".xml")) or _is_hdf5(path):
        return True
    if os.path.exists(path + ".rsc"):
        return True
    if lower.endswith((".tif", ".tiff", ".vrt")):
        return False
    from .isce2 import has_undeclared_fill

    if has_undeclared_fill(path):
        return True   # GDAL reads it, but not its fill value: the product reader masks it
    if _gdal_georeferenced(path):
        return False
    try:
        product = open_product(path)
    except ValueError:
        from .licsbas import eqa_dem_par

        return eqa_dem_par(path) is not None   # so that reading it explains the byte order
    # a radar-geometry raster GDAL already reads gains nothing: keep GDAL's bands
    return product.processor != "GDAL" and (product.has_geotransform or not _gdal_band_count(path))


def main_layer(product: Product) -> str:
    """The layer an algorithm reads when none is named: the one the product is about
    (:func:`~.defaults.primary_layer`: velocity of a MintPy velocity file, never its
    intercept), whatever order the file lists its layers in."""
    return primary_layer(product)


def _gdal_band_count(path: str) -> int:
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        ds = gdal.OpenEx(path, gdal.OF_RASTER)
        return ds.RasterCount if ds is not None else 0
    except RuntimeError:
        return 0
    finally:
        gdal.PopErrorHandler()


def _keep_gdal_grid(product: Product, path: str) -> None:
    """A radar-geometry product GDAL also opens (ISCE2 ``los.rdr``) keeps the geotransform
    and CRS GDAL gives the file, so that its conversion is on the same grid as the
    neighbouring rasters an algorithm reads through GDAL (filt_topophase.unw)."""
    if product.has_geotransform or not _gdal_band_count(path):
        return
    ds = gdal.OpenEx(path, gdal.OF_RASTER)
    if (ds.RasterXSize, ds.RasterYSize) == (product.width, product.height):
        gt = ds.GetGeoTransform(can_return_null=True)
        if gt is not None:
            product.geotransform, product.crs_wkt = tuple(gt), ds.GetProjection()


def _gdal_band_layers(product: Product, path: str):
    """The product's own layers when they match GDAL's bands of the same file one to one
    (ROI_PAC ``.unw``: amplitude, phase): written together so band numbers keep the meaning
    QGIS shows for the file; else ``None``."""
    layers = default_layers(product)
    if len(layers) < 2 or any(layer.bands != 1 for layer in layers):
        return None
    return layers if _gdal_band_count(path) == len(layers) else None


def _write_bands(product: Product, layers, out: str, monitor: Optional[Monitor]) -> None:
    meta = dataset_metadata(product)
    meta["layer"] = ",".join(layer.name for layer in layers)
    descriptions, band_meta = [], []
    for layer in layers:
        d, m = band_items(layer)
        descriptions += d
        band_meta += m
    rows = block_rows(product.width, 8)
    with RasterWriter(out, product.width, product.height, product.geotransform, product.crs_wkt,
                      len(layers), descriptions, band_meta, meta) as w:
        for b, layer in enumerate(layers, start=1):
            for r0, n in iter_blocks(product.height, rows):
                w.write(b, r0, product.read(layer.name, 1, r0, 0, n, product.width))
                if monitor is not None:
                    monitor.update(((b - 1) + (r0 + n) / product.height) / len(layers))


def _geotiff_product(path: str) -> Optional[Product]:
    """The product behind a HyP3 or LiCSAR GeoTIFF (read as is, but its geometry is in the
    neighbouring files), else ``None``."""
    from .hyp3 import hyp3_role
    from .licsbas import is_licsar_tif

    if not (path.lower().endswith((".tif", ".tiff")) and os.path.isfile(path)
            and (hyp3_role(path) or is_licsar_tif(path))):
        return None
    try:
        return open_product(path)
    except ValueError:
        return None


def _mask_stamp(product: Product) -> str:
    """A key part naming the masks a product was read through (MintPy maskTempCoh.h5...) and
    their modification times, so that adding or changing a mask gives a new file."""
    names = [n for n in product.metadata.get("mask_files", "").split(",") if n]
    if not names:
        return ""
    folder = os.path.dirname(os.path.abspath(product.path))
    stamps = []
    for name in names:
        try:
            stamps.append(f"{name}:{os.stat(os.path.join(folder, name)).st_mtime_ns}")
        except OSError:
            stamps.append(f"{name}:?")
    return "_masked_" + hashlib.sha1("|".join(stamps).encode()).hexdigest()[:6]


def _cache_path(workdir: str, path: str, what: str) -> str:
    try:
        st = os.stat(path)
        stamp = f"{st.st_mtime_ns}:{st.st_size}"
    except OSError:
        stamp = ""
    key = hashlib.sha1(f"{os.path.abspath(path)}|{what}|{stamp}".encode()).hexdigest()[:10]
    name = safe_name(os.path.basename(path.rstrip("/")))
    return os.path.join(workdir, f"{name}_{safe_name(what)}_{key}.tif")


def resolve_raster(source: str, workdir: str, layer: Optional[str] = None,
                   monitor: Optional[Monitor] = None) -> Tuple[str, Optional[Product]]:
    """A GDAL-readable, georeferenced path for ``source`` and the product it came from.

    ``source``: a file path or a QGIS/GDAL layer source (``HDF5:"f.h5"://velocity``,
    ``f.unw|layername=unwrapped_phase``).  A processor product (:func:`is_product_source`)
    has its layer (``layer``, else the one named in the source, else :func:`main_layer`;
    or, when GDAL reads the same file with one band per product layer, as ROI_PAC ``.unw``
    amplitude/phase, all those layers as bands in that order) written once to a float32
    GeoTIFF with NaN nodata in ``workdir`` (units, quantity,
    dates and ``geometry_*`` metadata as ``displacement:load_product`` writes them) and
    ``(that path, product)`` is returned; any other source is returned unchanged, with
    its product for a HyP3 or LiCSAR GeoTIFF (for the geometry next to it), else ``None``.
    Raises :class:`~.base.ProductError` (a ValueError) naming the file and the problem
    (unknown layer, missing companion file, ...).
    """
    if not is_product_source(source):
        return str(source), _geotiff_product(str(source))
    path, named = split_source(source)
    product = open_product(path)
    _keep_gdal_grid(product, path)
    name = layer or named
    if name and name not in product.layer_names:
        # HDF-EOS5 paths (HDFEOS/GRIDS/timeseries/observation/displacement) -> last part
        short = name.rstrip("/").split("/")[-1]
        if short in product.layer_names:
            name = short
        else:
            product.layer(name)   # raises, listing the layers
    bands = None if name else _gdal_band_layers(product, path)
    if bands:
        out = _cache_path(workdir, path, "bands_" + "_".join(layer.name for layer in bands))
        if not os.path.exists(out):
            _write_bands(product, bands, out, monitor)
        return out, product
    name = name or main_layer(product)
    out = _cache_path(workdir, path, name + _mask_stamp(product))
    if not os.path.exists(out):
        write_layer(product, name, out, monitor)
    return out, product


def geometry_raster(product: Product, quantity: str, workdir: str,
                    look_direction: Optional[str] = None,
                    monitor: Optional[Monitor] = None) -> str:
    """Write one geometry ``quantity`` of ``product`` (a key of :data:`GEOMETRY_QUANTITIES`)
    per pixel on the product's grid to a GeoTIFF in ``workdir`` (once) and return its path.

    Incidence: degrees from the vertical; LOS azimuth: degrees, ground to satellite,
    anti-clockwise from north; heading: degrees clockwise from north, derived from the LOS
    azimuth with ``look_direction`` (default: the product's, else right) so that a
    consumer using the same look direction recovers the product's LOS; east/north/up:
    ground-to-satellite unit vector.  Raises the product's error naming the parameter to
    set when it carries no such geometry."""
    if quantity not in GEOMETRY_QUANTITIES:
        raise ValueError(f"unknown geometry quantity {quantity!r}; expected one of "
                         f"{', '.join(GEOMETRY_QUANTITIES)}")
    look = look_direction or product.geometry.look_direction or "right"
    units, description = GEOMETRY_QUANTITIES[quantity]

    def block(r0, n):
        if quantity == "incidence":
            return product.incidence(r0, 0, n, product.width)
        if quantity == "los_azimuth":
            return product.los_azimuth(r0, 0, n, product.width)
        if quantity == "heading":
            return geo.los_azimuth_to_heading(product.los_azimuth(r0, 0, n, product.width), look)
        e, n_, u = product.los_unit_vector(r0, 0, n, product.width)
        return {"east": e, "north": n_, "up": u}[quantity]

    block(0, 1)   # raises now (before writing) when the product lacks this geometry
    out = _cache_path(workdir, product.path, f"geometry_{quantity}_{look}")
    if os.path.exists(out):
        return out
    meta = dataset_metadata(product)
    meta["layer"] = f"geometry_{quantity}"
    rows = block_rows(product.width, 8)
    with RasterWriter(out, product.width, product.height, product.geotransform, product.crs_wkt,
                      1, [description], [{"units": units, "quantity": quantity}], meta) as w:
        for r0, n in iter_blocks(product.height, rows):
            w.write(1, r0, block(r0, n))
            if monitor is not None:
                monitor.update((r0 + n) / product.height)
    return out
