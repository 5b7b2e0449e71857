"""displacement:load_product — open a processor's product and write one styled,
georeferenced GeoTIFF per layer (time series as one multi-band raster with dated bands)."""

import os

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsProcessingContext,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterString,
)

from ..core.products import open_product
from ..core.products.defaults import primary_layer
from ..core.products.export import default_layers, safe_name, write_layer
from ..core.products.subset import subset_to_extent
from .base import DisplacementAlgorithm, parameter_error
from .styling import DIVERGING, SEQUENTIAL

HELP = """
Reads what an InSAR processor wrote, with no conversion step, and writes one GeoTIFF per
layer into the output folder: georeferenced, NaN as nodata, styled, with units, quantity,
dates and viewing geometry in the band and dataset metadata (visible in Layer Properties
> Information).

Input: a MintPy HDF5 file (velocity.h5, timeseries.h5, geometryGeo.h5, geometryRadar.h5,
temporalCoherence.h5, maskTempCoh.h5), an ISCE2 image (los.rdr, filt_topophase.unw.geo,
dense_offsets.bil; pick the data file or its .xml), a SNAP BEAM-DIMAP .dim, a LiCSBAS cum.h5
or LiCSAR/LiCSBAS GeoTIFF, a HyP3 InSAR product (.zip or one of its GeoTIFFs), a GAMMA
(with *dem.par) or ROI_PAC (with .rsc) raster, an OPERA DISP-S1 or CSLC-S1 static HDF5,
a Sentinel-1 annotation XML (incidence interpolated from the geolocation grid), or any
GDAL raster.

Layers: comma-separated layer names to write (default: all layers of the product itself;
geometry layers read from neighbouring files, e.g. a geometryGeo.h5 next to velocity.h5,
are written only when named).

Units: as the processor stores them (m, m/yr, mm, mm/yr, rad, deg, pixel); LOS
displacement positive toward the satellite; phase as stored (LOS toward the satellite =
-phase x wavelength / 4 pi for ROI_PAC, GAMMA, ISCE2, HyP3, LiCSAR). Time series are one
raster with band metadata 'date' (YYYY-MM-DD) and dataset metadata 'reference_date'.
Geometry metadata: geometry_incidence, geometry_heading, geometry_los_azimuth (degrees),
geometry_wavelength (m), geometry_look_direction, or the per-pixel layer names.
MASK (default on): a MintPy velocity or time series is read through the masks MintPy wrote
beside it (maskTempCoh.h5, waterMask.h5): pixels they mark 0 are NaN, as in MintPy's own
figures; the log names the masks. Turn MASK off to read every pixel.
EXTENT (optional): only the pixels of the product that this area touches are read and
written (what MintPy users do with subset.py); the product's grid, reference point and
geometry follow.
See docs/formats.md for what is read from each product: the layer each product is about
(the velocity of a MintPy velocity file, not its intercept) and the metadata every other
algorithm uses as its defaults when it reads the same file.
"""


class LoadProductAlgorithm(DisplacementAlgorithm):
    NAME = "load_product"
    DISPLAY_NAME = "Load product (MintPy, ISCE2, SNAP, LiCSBAS, HyP3, GAMMA, OPERA, ...)"
    GROUP = "Input and output"
    GROUP_ID = "io"
    HELP = HELP

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFile(
            "INPUT", "Product file (HDF5, .dim, .xml, .unw, .tif, .zip, ...)",
            behavior=QgsProcessingParameterFile.Behavior.File))
        self.addParameter(QgsProcessingParameterString(
            "LAYERS", "Layers to write (comma-separated; empty = all layers of the product)",
            defaultValue="", optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            "MASK", "Apply the MintPy masks beside the product (maskTempCoh.h5, waterMask.h5)",
            defaultValue=True, optional=True))
        self.addParameter(QgsProcessingParameterExtent(
            "EXTENT", "Area of interest (read only this part of the product)", optional=True))
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Output folder"))
        self.addOutput(QgsProcessingOutputMultipleLayers("OUTPUT_LAYERS", "Loaded layers"))

    def _area_of_interest(self, parameters, context, product, feedback):
        """``product`` cut to EXTENT (in the product's CRS), or unchanged when none is given."""
        if parameters.get("EXTENT") in (None, ""):
            return product
        crs = QgsCoordinateReferenceSystem.fromWkt(product.crs_wkt) if product.crs_wkt else None
        rect = self.parameterAsExtent(parameters, "EXTENT", context, crs) if crs else \
            self.parameterAsExtent(parameters, "EXTENT", context)
        try:
            product = subset_to_extent(product, rect.xMinimum(), rect.yMinimum(), rect.xMaximum(),
                                       rect.yMaximum())
        except ValueError as exc:
            raise parameter_error("EXTENT", parameters.get("EXTENT"), str(exc),
                                  "Give an area that overlaps the product") from exc
        feedback.pushInfo(f"EXTENT: read {product.metadata['subset']} pixels only")
        return product

    def compute(self, parameters, context, feedback):
        path = self.parameterAsFile(parameters, "INPUT", context)
        if not path:
            raise parameter_error("INPUT", path, "no product file given", "Choose a product file")
        mask = self.parameterAsBoolean(parameters, "MASK", context)
        try:
            product = open_product(path, mask=mask)
        except ValueError as exc:
            raise parameter_error("INPUT", path, str(exc), "Check the file and its companions "
                                  "(.rsc, .par, .xml, .data folder) and docs/formats.md") from exc
        if product.metadata.get("mask"):
            feedback.pushInfo(f"Masked with {product.metadata['mask']} beside the product "
                              "(set MASK off to read every pixel)")
        product = self._area_of_interest(parameters, context, product, feedback)
        wanted = [s.strip() for s in (self.parameterAsString(parameters, "LAYERS", context) or "")
                  .split(",") if s.strip()]
        if wanted:
            unknown = [w for w in wanted if w not in product.layer_names]
            if unknown:
                raise parameter_error("LAYERS", ",".join(unknown), "not a layer of this product",
                                      f"Choose among: {', '.join(product.layer_names)}")
            layers = [product.layer(w) for w in wanted]
        else:
            layers = default_layers(product)
        folder = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        os.makedirs(folder, exist_ok=True)
        feedback.pushInfo(f"{product.processor} {product.product_type}: {product.width} x "
                          f"{product.height} px, layers {', '.join(product.layer_names)}; "
                          f"the product is about its layer {primary_layer(product)}")
        if not product.has_geotransform:
            feedback.pushWarning("The product is in radar geometry: written with pixel coordinates "
                                 "and no CRS")
        stem = safe_name(os.path.splitext(os.path.basename(path.rstrip("/")))[0])
        monitor = self.monitor(feedback)
        total = sum(layer.bands for layer in layers) or 1
        done = 0
        outputs = []
        for layer in layers:
            out = self.track_output(os.path.join(folder, f"{stem}_{safe_name(layer.name)}.tif"))
            sub = monitor.sub(done / total, (done + layer.bands) / total)
            stats = write_layer(product, layer.name, out, sub)
            done += layer.bands
            kind = DIVERGING if layer.kind == "diverging" else SEQUENTIAL
            name = f"{stem} {layer.name}"
            if context.project() is not None:
                context.addLayerToLoadOnCompletion(
                    out, QgsProcessingContext.LayerDetails(name, context.project(), "OUTPUT_LAYERS"))
            self.finish_raster(out, context, kind, layer.units, stats, layer_name=name,
                               band=layer.bands)
            feedback.pushInfo(f"{layer.name}: {layer.bands} band(s), {layer.units or 'no unit'} -> {out}")
            outputs.append(out)
        return {"OUTPUT_LAYERS": outputs}
