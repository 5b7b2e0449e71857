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

# short: the side panel; the full text is docs/algorithms/load_product.md (Help button)
HELP = """
Reads what an InSAR processor wrote (MintPy, ISCE2, SNAP, LiCSBAS/LiCSAR, HyP3, GAMMA, ROI_PAC,
OPERA, Sentinel-1 annotation, any GDAL raster) and writes one styled GeoTIFF per layer into the
output folder: georeferenced, NaN nodata, with units, quantity, dates and viewing geometry in
the metadata. Units stay as the processor stores them (m, m/yr, mm, rad, deg, px); LOS is
positive toward the satellite. Time series become one raster with one dated band per
acquisition. MASK applies the masks MintPy wrote beside a velocity or time series; EXTENT
reads only an area.
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

    def planned_outputs(self, parameters, context):
        path, product, layers = self._layers(parameters, context)
        folder = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        stem = safe_name(os.path.splitext(os.path.basename(path.rstrip("/")))[0])
        return [("OUTPUT_FOLDER", os.path.join(folder, f"{stem}_{safe_name(layer.name)}.tif"))
                for layer in layers]

    def _layers(self, parameters, context):
        """(path, product, layers to write), opened once per run (the output guard checks
        their file names before :meth:`compute` writes them)."""
        if "layers" not in self.run_cache:
            self.run_cache["layers"] = self._open_layers(parameters, context, self._feedback)
        return self.run_cache["layers"]

    def compute(self, parameters, context, feedback):
        path, product, layers = self._layers(parameters, context)
        folder = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        for _, planned in self.planned_outputs(parameters, context)[:1]:
            self.check_planned_raster("INPUT", path, planned, product.width, product.height,
                                      max(layer.bands for layer in layers),
                                      "Check the product's declared size, or choose fewer LAYERS")
        return self._write(path, product, layers, folder, context, feedback)

    def _open_layers(self, parameters, context, feedback):
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
        return path, product, layers

    def _write(self, path, product, layers, folder, context, feedback):
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
