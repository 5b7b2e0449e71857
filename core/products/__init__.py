"""Read what InSAR processors write, with no conversion step.

``open_product(path)`` looks at what the file is and returns a :class:`Product`
(layers with quantity/units/dates, block reads with nodata as NaN, georeferencing,
reference point/date and viewing geometry).  ``product_geometry(path)`` gives the
geometry alone, for algorithms that offer "from the product" defaults.

Supported (see docs/formats.md): MintPy HDF5, ISCE2 images (``.xml``/``.vrt``),
SNAP BEAM-DIMAP (``.dim``), LiCSBAS ``cum.h5`` and LiCSAR/LiCSBAS GeoTIFFs, HyP3 GAMMA
InSAR products (folder, ``.zip`` or one of their GeoTIFFs), GAMMA and ROI_PAC rasters
with ``.par``/``.rsc``, OPERA DISP-S1 and CSLC-S1 static layers (HDF5), the Sentinel-1
annotation XML, and any other GDAL raster (with the toolkit's own metadata).
"""

from __future__ import annotations

import os

from .base import (  # noqa: F401
    DIVERGING,
    SEQUENTIAL,
    Geometry,
    Layer,
    Product,
    ProductError,
    product_error,
)

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _is_hdf5(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return head == _HDF5_MAGIC or path.lower().endswith((".h5", ".he5", ".hdf5", ".nc"))


def open_product(path: str, mask: bool = True) -> Product:
    """Open any supported product (see the module docstring).

    ``mask``: read a MintPy velocity or time series through the masks MintPy wrote beside
    it (maskTempCoh.h5, waterMask.h5; see core/products/mintpy.py).
    Raises :class:`ProductError` (a ValueError) naming the file and what is wrong or
    missing.
    """
    if not path:
        raise ProductError("no product path given")
    path = _strip_gdal_prefix(str(path))
    if not os.path.exists(path) and not path.startswith("/vsi"):
        raise ProductError(f"{path}: no such file or folder")
    lower = path.lower()
    if os.path.isdir(path) or lower.endswith(".zip"):
        from .hyp3 import is_hyp3, open_hyp3

        if is_hyp3(path):
            return open_hyp3(path)
        from .gamma_roipac import is_gamma_folder, open_gamma_folder

        if is_gamma_folder(path):
            return open_gamma_folder(path)
        raise product_error(path, "not a recognised product folder/zip (expected a HyP3 "
                            "product with *_unw_phase.tif or *_los_disp.tif, or a folder of "
                            "GAMMA *.unw with their *dem.par)")
    if _is_hdf5(path):
        return _open_hdf5(path, mask)
    if lower.endswith(".dim"):
        from .snap import open_snap

        return open_snap(path)
    if lower.endswith(".xml"):
        from .s1_annotation import is_s1_annotation, open_s1_annotation

        if is_s1_annotation(path):
            return open_s1_annotation(path)
        from .isce2 import open_isce2

        return open_isce2(path[:-4])
    if lower.endswith((".par", ".dem_par")) and not os.path.exists(path + ".rsc"):
        from .gamma_roipac import gamma_binary_for_par

        return open_product(gamma_binary_for_par(path))   # the raster the header describes
    if os.path.exists(path + ".rsc"):
        from .gamma_roipac import open_roipac

        return open_roipac(path)
    if lower.endswith((".tif", ".tiff")):
        from .hyp3 import hyp3_role, open_hyp3
        from .licsbas import is_licsar_tif, open_licsar_tif

        if hyp3_role(path):
            return open_hyp3(path)
        if is_licsar_tif(path):
            return open_licsar_tif(path)
        from .generic import open_generic

        return open_generic(path)
    from .isce2 import is_isce2, open_isce2

    if is_isce2(path):
        return open_isce2(path)
    if lower.endswith(".vrt") and is_isce2(path[:-4]):
        return open_isce2(path[:-4])
    from .licsbas import eqa_flat_processor, open_licsbas_flt

    if eqa_flat_processor(path) == "LiCSBAS":   # raises when the byte order is undecidable
        return open_licsbas_flt(path)
    from .gamma_roipac import is_gamma_raster, open_gamma

    if is_gamma_raster(path):
        return open_gamma(path)
    from .generic import open_generic

    return open_generic(path)


def _strip_gdal_prefix(path: str) -> str:
    """The file of a GDAL subdataset name (``HDF5:"/d/velocity.h5"://velocity``, as a QGIS
    layer source reads) or of a layer source with options (``file.tif|layername=x``)."""
    for prefix in ("HDF5:", "NETCDF:"):
        if path.upper().startswith(prefix):
            rest = path[len(prefix):]
            if rest.startswith('"'):
                return rest[1:rest.index('"', 1)]
            return rest.split(":", 1)[0]
    return path.split("|", 1)[0]


def _open_hdf5(path: str, mask: bool = True) -> Product:
    from ._io import open_h5

    with open_h5(path) as f:
        keys = set(f.keys())
        from .mintpy import is_mintpy

        mintpy = is_mintpy(f)
        licsbas = "cum" in keys and "imdates" in keys
        opera = "identification" in keys and ("displacement" in keys or "data" in keys)
    if licsbas:
        from .licsbas import open_licsbas_cum

        return open_licsbas_cum(path)
    if mintpy:
        from .mintpy import open_mintpy

        return open_mintpy(path, mask)
    if opera:
        from .opera import open_opera

        return open_opera(path)
    raise product_error(path, "an HDF5 file that is not a MintPy, LiCSBAS cum.h5 or OPERA "
                        f"product (top-level items: {', '.join(sorted(keys)) or 'none'})")


def product_geometry(path: str) -> Geometry:
    """The viewing geometry of the product at ``path`` (constants and per-pixel layer
    names; read the arrays with ``open_product(path).incidence(...)`` etc.)."""
    return open_product(path).geometry
