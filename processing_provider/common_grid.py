"""displacement:common_grid: resample two or more rasters onto one pixel grid (core.grid)."""

import os

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
)

from ..core import grid as core_grid
from ..core.raster_io import display_band, raster_info
from .base import DisplacementAlgorithm, parameter_error
from .styling import DIVERGING, SEQUENTIAL

EXTENT_KEYS = ["intersection", "union", "reference", "custom"]
EXTENT_LABELS = ["Intersection of the layers", "Union of the layers", "Reference layer", "Custom extent"]
RESOLUTION_KEYS = ["coarsest", "finest", "reference", "custom"]
RESOLUTION_LABELS = ["Coarsest of the layers", "Finest of the layers", "Reference layer",
                     "Custom (CUSTOM_RESOLUTION)"]
RESAMPLING_KEYS = ["auto", "average", "bilinear", "cubic", "nearest", "median"]
RESAMPLING_LABELS = ["Automatic: average when coarsening, bilinear otherwise",
                     "Average (area-weighted)", "Bilinear", "Cubic", "Nearest neighbour", "Median"]

#: Band ``quantity`` words that mean a quality / geometry layer (sequential ramp);
#: anything else (displacement, velocity, offsets, phase, unknown) is diverging.
SEQUENTIAL_QUANTITY_WORDS = (
    "coherence", "correlation", "snr", "sigma", "std", "uncertainty", "count", "quality",
    "incidence", "heading", "azimuth_angle", "angle", "amplitude", "intensity", "height",
    "elevation", "dem", "mask", "connected_component", "weight",
)


def style_kind_for_quantity(quantity):
    """DIVERGING for displacement-like (or unknown) quantities, SEQUENTIAL for quality/geometry."""
    q = str(quantity or "").lower()
    return SEQUENTIAL if any(word in q for word in SEQUENTIAL_QUANTITY_WORDS) else DIVERGING


def _raster_layer_type():
    legacy = getattr(QgsProcessing, "TypeRaster", None)
    if legacy is not None:
        return legacy
    from qgis.core import Qgis

    return Qgis.ProcessingSourceType.Raster


class CommonGrid(DisplacementAlgorithm):
    NAME = "common_grid"
    DISPLAY_NAME = "Resample to a common grid"
    GROUP = "Grids and geometry"
    GROUP_ID = "grids"
    # short: the side panel; the full text is docs/algorithms/common_grid.md (Help button)
    HELP = """
    Resamples two or more rasters (any CRS) onto one pixel grid (GDAL warper, target-aligned pixels)
    so that they can be combined pixel by pixel: ascending and descending tracks, geometry layers,
    products of different processors. Grids that already match are kept as they are. NaN and
    nodata are never averaged in. Outputs: one float32
    GeoTIFF per input in OUTPUT_FOLDER, with units and descriptions kept; the log states the grid
    (CRS, extent, size, resolution in CRS units and metres).
    """

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "LAYERS", "Rasters to resample", _raster_layer_type()))
        self.addParameter(QgsProcessingParameterRasterLayer(
            "REFERENCE_LAYER", "Reference layer (align to its grid)", optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            "EXTENT", "Extent", EXTENT_LABELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterExtent(
            "CUSTOM_EXTENT", "Custom extent (EXTENT = custom)", optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            "RESOLUTION", "Resolution", RESOLUTION_LABELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            "CUSTOM_RESOLUTION", "Custom resolution (target CRS units, or metres)",
            QgsProcessingParameterNumber.Type.Double, optional=True, minValue=0.0))
        self.addParameter(QgsProcessingParameterBoolean(
            "RESOLUTION_IN_METRES", "Custom resolution is in metres", defaultValue=False))
        self.addParameter(QgsProcessingParameterCrs(
            "TARGET_CRS", "Target CRS (default: reference or first layer)", optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            "RESAMPLING", "Resampling", RESAMPLING_LABELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterFolderDestination(
            "OUTPUT_FOLDER", "Output folder"))
        self.addOutput(QgsProcessingOutputMultipleLayers("OUTPUT_LAYERS", "Resampled layers"))

    def _layer_paths(self, parameters, context):
        paths = self.raster_paths(parameters, "LAYERS", context)
        if len(paths) < 2:
            raise parameter_error("LAYERS", parameters.get("LAYERS"), f"{len(paths)} raster(s) given",
                                  "Give two or more raster layers")
        return paths

    @staticmethod
    def _output_names(paths):
        """File stems of the outputs, one per input: LAYERNAME_grid (numbered when repeated)."""
        names = []
        for path in paths:
            stem = os.path.splitext(os.path.basename(path))[0]
            name, k = f"{stem}_grid", 2
            while name in names:
                name, k = f"{stem}_grid_{k}", k + 1
            names.append(name)
        return names

    def planned_outputs(self, parameters, context):
        folder = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        return [("OUTPUT_FOLDER", os.path.join(folder, name + ".tif"))
                for name in self._output_names(self._layer_paths(parameters, context))]

    def compute(self, parameters, context, feedback):
        paths = self._layer_paths(parameters, context)
        infos = [self.raster_info(p, "LAYERS") for p in paths]
        ref_path = self.raster_path(parameters, "REFERENCE_LAYER", context, required=False)
        ref_info = self.raster_info(ref_path, "REFERENCE_LAYER") if ref_path else None

        extent_key = EXTENT_KEYS[self.parameterAsEnum(parameters, "EXTENT", context)]
        resolution_key = RESOLUTION_KEYS[self.parameterAsEnum(parameters, "RESOLUTION", context)]
        resampling_key = RESAMPLING_KEYS[self.parameterAsEnum(parameters, "RESAMPLING", context)]
        in_metres = self.parameterAsBool(parameters, "RESOLUTION_IN_METRES", context)

        if ref_info is None and "reference" in (extent_key, resolution_key):
            which = "EXTENT" if extent_key == "reference" else "RESOLUTION"
            raise parameter_error(which, "reference layer", "no REFERENCE_LAYER is given",
                                  "Choose a REFERENCE_LAYER or another option")

        target_crs = self.parameterAsCrs(parameters, "TARGET_CRS", context)
        if target_crs is not None and target_crs.isValid():
            target_wkt = target_crs.toWkt(QgsCoordinateReferenceSystem.WktVariant.WKT_PREFERRED_GDAL)
        else:
            target_wkt = ref_info.crs_wkt if ref_info is not None else infos[0].crs_wkt

        extent = extent_key
        if extent_key == "custom":
            qcrs = QgsCoordinateReferenceSystem.fromWkt(target_wkt) if target_wkt else None
            if parameters.get("CUSTOM_EXTENT") in (None, ""):
                raise parameter_error("CUSTOM_EXTENT", None,
                                      "EXTENT is 'custom extent' but no extent is given",
                                      "Give CUSTOM_EXTENT as xmin,xmax,ymin,ymax [CRS]")
            rect = (self.parameterAsExtent(parameters, "CUSTOM_EXTENT", context, qcrs)
                    if qcrs is not None else self.parameterAsExtent(parameters, "CUSTOM_EXTENT", context))
            if rect.isNull() or rect.isEmpty():
                raise parameter_error("CUSTOM_EXTENT", parameters.get("CUSTOM_EXTENT"), "the extent is empty",
                                      "Give xmin,xmax,ymin,ymax with xmax > xmin and ymax > ymin")
            extent = (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())

        resolution = resolution_key
        if resolution_key == "custom":
            value = parameters.get("CUSTOM_RESOLUTION")
            number = self.parameterAsDouble(parameters, "CUSTOM_RESOLUTION", context)
            if value in (None, "") or not number > 0:
                raise parameter_error("CUSTOM_RESOLUTION", value, "RESOLUTION is 'custom' but no positive "
                                      "resolution is given", "Give CUSTOM_RESOLUTION > 0 (CRS units, or "
                                      "metres with RESOLUTION_IN_METRES)")
            resolution = number
        elif in_metres:
            feedback.pushInfo("RESOLUTION_IN_METRES applies only to a custom resolution; ignored.")

        for line in core_grid.describe_inputs(infos):
            feedback.pushInfo(line)
        try:
            grid = core_grid.plan_grid(infos, extent=extent, resolution=resolution,
                                       resolution_in_metres=in_metres, target_crs_wkt=target_wkt,
                                       reference=ref_info, log=feedback.pushInfo)
        except ValueError as exc:
            raise QgsProcessingException(f"EXTENT = {extent_key!r}, RESOLUTION = {resolution_key!r}: "
                                         f"{exc}") from exc
        feedback.pushInfo("Common grid: " + grid.describe())

        folder = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        names = self._output_names(paths)
        size_parameter = "CUSTOM_RESOLUTION" if resolution_key == "custom" else "RESOLUTION"
        self.check_planned_raster(
            size_parameter, parameters.get(size_parameter), os.path.join(folder, names[0] + ".tif"),
            grid.width, grid.height, max(info.band_count for info in infos),
            "Choose a coarser resolution or a smaller EXTENT")
        os.makedirs(folder, exist_ok=True)
        outputs = []
        monitor = self.monitor(feedback)
        for i, (path, info, name) in enumerate(zip(paths, infos, names)):
            out = self.track_output(os.path.join(folder, name + ".tif"))
            method, copied = core_grid.layer_resampling(info, grid, resampling_key)
            how = ("copied (its pixels are pixels of the grid: values unchanged)" if copied
                   else f"resampling {method}")
            feedback.pushInfo(f"{os.path.basename(path)}: {info.band_count} band(s), {how} -> {out}")
            core_grid.warp_to_grid(path, grid, resampling=method, output_path=out,
                                   monitor=monitor.sub(i / len(paths), (i + 1) / len(paths)))
            meta = info.band_metadata[0] if info.band_metadata else {}
            kind = style_kind_for_quantity(meta.get("quantity"))
            units = meta.get("units", "")
            if context.project() is not None:
                context.addLayerToLoadOnCompletion(
                    out, QgsProcessingContext.LayerDetails(name, context.project(), "OUTPUT_LAYERS"))
            band = display_band(raster_info(out))   # a time series: its last date
            self.finish_raster(out, context, kind, units, core_grid.sample_stats(out, band),
                               layer_name=name, band=band)
            outputs.append(out)
        return {"OUTPUT_LAYERS": outputs, "OUTPUT_FOLDER": folder}
