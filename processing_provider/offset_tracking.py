"""``displacement:offset_tracking``: sub-pixel offsets between two SAR images (thin glue)."""

import os

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureSink,
    QgsGeometry,
    QgsMarkerSymbol,
    QgsPointXY,
    QgsProcessing,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProperty,
    QgsSingleSymbolRenderer,
    QgsSymbolLayer,
    QgsWkbTypes,
)

from ..core import offset_tracking as ot
from ..core.geocode import IDENTITY, radar_metadata
from ..core.raster_io import RasterWriter
from .base import DisplacementAlgorithm, band_parameter, parameter_error
from .fields import make_fields
from .styling import DIVERGING, SEQUENTIAL, style_vector_output

RAMP_LABELS = ["None", "Constant (mean offset)", "Linear (a + b col + c row)"]
IMAGE_TYPE_LABELS = ["Auto (from the data type, file name and metadata)", "Complex SAR (SLC)",
                     "SAR amplitude or intensity", "Optical (digital numbers or reflectance)"]
PRESET_LABELS = ["Accurate (real images oversampled, three zoom stages)",
                 "Fast (real images at their own sampling, one zoom stage)"]
CONVENTION = "secondary minus reference position; +x = columns (range), +y = rows (azimuth)"


class OffsetTracking(DisplacementAlgorithm):
    NAME = "offset_tracking"
    DISPLAY_NAME = "Pixel offset tracking"
    GROUP = "Offset tracking"
    GROUP_ID = "offset_tracking"
    # short: the side panel; the full text is docs/algorithms/offset_tracking.md (Help button)
    HELP = """
    Sub-pixel offsets between a reference and a secondary image on the same pixel grid, by
    normalised cross-correlation of windows on a regular grid (complex SLCs or real amplitude).
    Offsets = position in the secondary minus position in the reference: x along columns (range),
    y along rows (azimuth). Outputs: OUTPUT_X, OUTPUT_Y in pixels (optionally in metres),
    OUTPUT_SNR, OUTPUT_SIGMA (1-sigma, px), optional peak and arrows; one output pixel per window.
    Windows with low SNR or peak, outliers or nodata are NaN, with thresholds set by IMAGE_TYPE
    (SAR or optical, detected by default). The guided dialog previews the grid and the run time.
    """

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("REFERENCE", "Reference image"))
        self.addParameter(band_parameter("BAND_REFERENCE", "Reference band", "REFERENCE"))
        self.addParameter(QgsProcessingParameterRasterLayer(
            "SECONDARY", "Secondary image (same pixel grid)"))
        self.addParameter(band_parameter("BAND_SECONDARY", "Secondary band", "SECONDARY"))
        integer = QgsProcessingParameterNumber.Type.Integer
        for name, label, default, _minimum in (
                ("WINDOW_X", "Window width (pixels)", 64, 8),
                ("WINDOW_Y", "Window height (pixels)", 64, 8),
                ("SEARCH_X", "Search distance in x (± pixels)", 8, 1),
                ("SEARCH_Y", "Search distance in y (± pixels)", 8, 1),
                ("STEP_X", "Step between windows in x (pixels)", 32, 1),
                ("STEP_Y", "Step between windows in y (pixels)", 32, 1)):
            self.addParameter(QgsProcessingParameterNumber(
                name, label, integer, defaultValue=default))
        for name, label in (("GROSS_OFFSET_X", "Gross offset in x (pixels)"),
                            ("GROSS_OFFSET_Y", "Gross offset in y (pixels)")):
            self.addParameter(QgsProcessingParameterNumber(name, label, integer, defaultValue=0))
        self.addParameter(QgsProcessingParameterBoolean(
            "COARSE_SEARCH", "Coarse search for large offsets first", defaultValue=True))
        advanced = []
        advanced.append(QgsProcessingParameterNumber(
            "OVERSAMPLE", "Chip oversampling factor", integer, defaultValue=2))
        advanced.append(QgsProcessingParameterNumber(
            "CORRELATION_OVERSAMPLE", "Correlation peak oversampling", integer, defaultValue=64))
        for p in advanced:
            p.setFlags(p.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
            self.addParameter(p)
        double = QgsProcessingParameterNumber.Type.Double
        self.addParameter(QgsProcessingParameterEnum(
            "PRESET", "Speed preset", PRESET_LABELS, defaultValue=0,
            optional=True))     # optional: saved models without it stay valid
        self.addParameter(QgsProcessingParameterEnum(
            "IMAGE_TYPE", "Image type (sets the quality thresholds)", IMAGE_TYPE_LABELS,
            defaultValue=0, optional=True))     # optional: saved models without it stay valid
        self.addParameter(QgsProcessingParameterNumber(
            "SNR_THRESHOLD", "Minimum SNR (empty = default of the image type: 5 for SAR, off "
            "for optical; 0 = off)", double, defaultValue=None, optional=True, minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber(
            "PEAK_THRESHOLD", "Minimum correlation peak (empty = default of the image type: "
            "0.5 for optical, off for SAR; 0 = off)", double, defaultValue=None, optional=True,
            minValue=0.0, maxValue=1.0))
        self.addParameter(QgsProcessingParameterNumber(
            "OUTLIER_THRESHOLD", "Outlier threshold: deviation from the local median (pixels, "
            "0 = off)", double, defaultValue=1.0))
        self.addParameter(QgsProcessingParameterEnum(
            "RAMP", "Ramp removal", RAMP_LABELS, defaultValue=0))
        for name, label in (("PIXEL_SIZE_X", "Pixel size in x (metres; default from the raster)"),
                            ("PIXEL_SIZE_Y", "Pixel size in y (metres; default from the raster)")):
            self.addParameter(QgsProcessingParameterNumber(
                name, label, double, defaultValue=None, optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination(
            "OUTPUT_X", "Offset x (pixels)"))
        self.addParameter(QgsProcessingParameterRasterDestination(
            "OUTPUT_Y", "Offset y (pixels)"))
        self.addParameter(QgsProcessingParameterRasterDestination(
            "OUTPUT_X_METRES", "Offset x (metres)", optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterRasterDestination(
            "OUTPUT_Y_METRES", "Offset y (metres)", optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterRasterDestination(
            "OUTPUT_SNR", "SNR", optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination(
            "OUTPUT_SIGMA", "1-sigma of the offsets (pixels; band 1 x, band 2 y)", optional=True))
        for axis in ("X", "Y"):
            self.addParameter(QgsProcessingParameterRasterDestination(
                f"OUTPUT_SIGMA_{axis}_METRES", f"1-sigma of offset {axis.lower()} (metres)",
                optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterRasterDestination(
            "OUTPUT_PEAK", "Correlation peak (normalised, 0..1)", optional=True,
            createByDefault=False))
        self.addParameter(QgsProcessingParameterFeatureSink(
            "OUTPUT_VECTORS", "Offset vectors", QgsProcessing.SourceType.TypeVectorPoint,
            optional=True, createByDefault=False))

    def _int(self, parameters, name, context, minimum):
        value = self.parameterAsInt(parameters, name, context)
        if value < minimum:
            raise parameter_error(name, value, f"must be at least {minimum}",
                                  f"Give a value of {minimum} or more")
        return value

    def _optional_double(self, parameters, name, context):
        if parameters.get(name) in (None, ""):
            return None
        return self.parameterAsDouble(parameters, name, context)

    def _image_type(self, parameters, context, ref_info, band_r, sec_info, band_s, feedback):
        """(image type, why): IMAGE_TYPE, or on auto the reference band's detected type."""
        choice = self.parameterAsEnum(parameters, "IMAGE_TYPE", context)
        if choice > 0:
            return ot.IMAGE_TYPES[choice - 1], "IMAGE_TYPE"
        image_type, why = ot.raster_image_type(ref_info, band_r)
        secondary_type, _ = ot.raster_image_type(sec_info, band_s)
        if secondary_type != image_type:
            feedback.pushWarning(
                f"REFERENCE looks {ot.IMAGE_TYPE_NAMES[image_type]} but SECONDARY "
                f"{ot.IMAGE_TYPE_NAMES[secondary_type]}: the reference's type is used; set "
                "IMAGE_TYPE if that is wrong")
        return image_type, f"auto: {why}"

    def compute(self, parameters, context, feedback):
        ref_path = self.raster_path(parameters, "REFERENCE", context)
        sec_path = self.raster_path(parameters, "SECONDARY", context)
        ref_info = self.raster_info(ref_path, "REFERENCE")
        sec_info = self.raster_info(sec_path, "SECONDARY")
        band_r = self.raster_band(parameters, "REFERENCE", context, ref_info, "BAND_REFERENCE")
        band_s = self.raster_band(parameters, "SECONDARY", context, sec_info, "BAND_SECONDARY")
        if (ref_info.width, ref_info.height) != (sec_info.width, sec_info.height):
            raise parameter_error(
                "SECONDARY", os.path.basename(sec_path),
                f"it is {sec_info.width} x {sec_info.height} pixels, the reference "
                f"{ref_info.width} x {ref_info.height}",
                "Co-register the secondary onto the reference grid first (ISCE2 resamp, SNAP "
                "Back-Geocoding, or GDAL warp for orthoimages)")
        if not ref_info.same_grid(sec_info):
            feedback.pushWarning("REFERENCE and SECONDARY have the same size but different "
                                 "geotransform or CRS: offsets are measured in pixels of the "
                                 "reference grid")
        image_type, why = self._image_type(parameters, context, ref_info, band_r, sec_info,
                                           band_s, feedback)
        snr_threshold, peak_threshold = ot.quality_thresholds(
            image_type, *(self._optional_double(parameters, name, context)
                          for name in ("SNR_THRESHOLD", "PEAK_THRESHOLD")))
        feedback.pushInfo(
            f"image type: {ot.IMAGE_TYPE_NAMES[image_type]} ({why}); quality masks: SNR "
            f"{'>= %g' % snr_threshold if snr_threshold > 0 else 'off'}, correlation peak "
            f"{'>= %g' % peak_threshold if peak_threshold > 0 else 'off'}")
        p = ot.TrackingParameters(
            window_x=self._int(parameters, "WINDOW_X", context, 8),
            window_y=self._int(parameters, "WINDOW_Y", context, 8),
            search_x=self._int(parameters, "SEARCH_X", context, 1),
            search_y=self._int(parameters, "SEARCH_Y", context, 1),
            step_x=self._int(parameters, "STEP_X", context, 1),
            step_y=self._int(parameters, "STEP_Y", context, 1),
            gross_x=self.parameterAsInt(parameters, "GROSS_OFFSET_X", context),
            gross_y=self.parameterAsInt(parameters, "GROSS_OFFSET_Y", context),
            coarse_search=self.parameterAsBool(parameters, "COARSE_SEARCH", context),
            oversample=self._int(parameters, "OVERSAMPLE", context, 1),
            correlation_oversample=self._int(parameters, "CORRELATION_OVERSAMPLE", context, 1),
            snr_threshold=snr_threshold, peak_threshold=peak_threshold,
            outlier_threshold=self.parameterAsDouble(parameters, "OUTLIER_THRESHOLD", context),
            ramp=ot.RAMPS[self.parameterAsEnum(parameters, "RAMP", context)],
            preset=ot.PRESETS[self.parameterAsEnum(parameters, "PRESET", context)],
        )
        for name, size, need in (("WINDOW_X", ref_info.width, p.window_x + 2 * p.search_x),
                                 ("WINDOW_Y", ref_info.height, p.window_y + 2 * p.search_y)):
            if need > size:
                raise parameter_error(
                    name, self.parameterAsInt(parameters, name, context),
                    f"the window plus twice the search distance ({need} pixels) is larger than "
                    f"the image ({size} pixels)", "Use a smaller window or search distance")
        px_param = py_param = None
        if parameters.get("PIXEL_SIZE_X") not in (None, ""):
            px_param = self.parameterAsDouble(parameters, "PIXEL_SIZE_X", context)
        if parameters.get("PIXEL_SIZE_Y") not in (None, ""):
            py_param = self.parameterAsDouble(parameters, "PIXEL_SIZE_Y", context)
        for name, v in (("PIXEL_SIZE_X", px_param), ("PIXEL_SIZE_Y", py_param)):
            if v is not None and v <= 0:
                raise parameter_error(name, v, "a pixel size must be positive",
                                      "Give the ground size in metres or leave it empty")
        px, py, source = ot.resolve_pixel_size(ref_info, px_param, py_param)

        paths = {name: self.output_raster_path(parameters, name, context)
                 for name in ("OUTPUT_X", "OUTPUT_Y", "OUTPUT_X_METRES", "OUTPUT_Y_METRES",
                              "OUTPUT_SNR", "OUTPUT_SIGMA", "OUTPUT_SIGMA_X_METRES",
                              "OUTPUT_SIGMA_Y_METRES", "OUTPUT_PEAK")}
        want_metres = any(paths[name] for name in ("OUTPUT_X_METRES", "OUTPUT_Y_METRES",
                                                   "OUTPUT_SIGMA_X_METRES", "OUTPUT_SIGMA_Y_METRES"))
        if want_metres and not (px and py):
            raise parameter_error(
                "PIXEL_SIZE_X", parameters.get("PIXEL_SIZE_X"),
                "offsets in metres were asked for but the pixel size is unknown (no CRS and no "
                "RANGE_PIXEL_SIZE/AZIMUTH_PIXEL_SIZE metadata)",
                "Give PIXEL_SIZE_X and PIXEL_SIZE_Y in metres (Sentinel-1 IW SLC: about 2.3 "
                "and 14)")
        grid_cols, grid_rows = ot.output_grid(ref_info.width, ref_info.height, p)
        feedback.pushInfo(
            f"{grid_rows.size} x {grid_cols.size} windows; "
            f"{'complex' if ref_info.is_complex(band_r) else 'real'} data; preset {p.preset}; "
            f"working memory "
            f"about {ot.memory_bound(ref_info.width, p) / 2**20:.0f} MiB")

        result = ot.track_offsets(ref_path, sec_path, p, self.monitor(feedback), band_r, band_s)
        n_valid = int(ot.valid_windows(result)[0].size)
        for key, (what, fix) in ot.MASKS.items():   # for the diagnosis of an empty output
            self.report_mask(f"The '{key}' mask", result.removed.get(key, 0), result.dx.size,
                             "windows", f"It removes the windows that {what.format(**vars(p))}: "
                             f"{fix}", warn=False)
        feedback.pushInfo(
            f"valid windows: {n_valid} of {result.dx.size} ({result.valid_before_filters} "
            f"before the quality and outlier masks); coarse offset x {result.coarse_offset[0]:.0f} px, "
            f"y {result.coarse_offset[1]:.0f} px")
        for line in ot.mask_report(result):
            feedback.pushWarning(line)
        gt = ot.output_geotransform(ref_info.geotransform, p)
        crs = ref_info.crs_wkt
        meta = {"algorithm": "displacement:offset_tracking", "convention": CONVENTION,
                "reference": os.path.basename(ref_path), "secondary": os.path.basename(sec_path),
                "parameters": repr({k: v for k, v in vars(p).items()}),
                "pixel_size_source": source}
        # radar geometry: where each window centre is on the reference's radar grid, and
        # the reference's geolocation, so displacement:geocode needs only the file
        meta.update(radar_metadata(ref_info.geotransform, crs, ref_info.metadata,
                                   ot.output_geotransform(IDENTITY, p)))
        results = {}

        def write(name, arrays, units, quantity, descriptions, kind, layer):
            path = paths.get(name)
            if not path:
                return
            with RasterWriter(path, arrays[0].shape[1], arrays[0].shape[0], gt, crs,
                              len(arrays), descriptions,
                              [{"units": units, "quantity": quantity, "convention": CONVENTION}
                               for _ in arrays], meta) as w:
                for i, a in enumerate(arrays):
                    w.write(i + 1, 0, a.astype("float32"))
            self.finish_raster(path, context, kind, units, w.stats(1), layer)
            results[name] = path

        write("OUTPUT_X", [result.dx], "px", "range_offset", ["Offset x (range)"], DIVERGING,
              "Offset x (pixels)")
        write("OUTPUT_Y", [result.dy], "px", "azimuth_offset", ["Offset y (azimuth)"], DIVERGING,
              "Offset y (pixels)")
        if px and py:
            mx, my = ot.offsets_in_metres(result, px, py)
            write("OUTPUT_X_METRES", [mx], "m", "range_offset",
                  ["Offset x (range)"], DIVERGING, "Offset x (m)")
            write("OUTPUT_Y_METRES", [my], "m", "azimuth_offset",
                  ["Offset y (azimuth)"], DIVERGING, "Offset y (m)")
        write("OUTPUT_SNR", [result.snr], "", "snr", ["SNR"], SEQUENTIAL, "Offset SNR")
        write("OUTPUT_SIGMA", [result.sigma_x, result.sigma_y], "px", "offset_sigma",
              ["1-sigma x", "1-sigma y"], SEQUENTIAL, "Offset 1-sigma (pixels)")
        if px and py:
            sx, sy = ot.sigma_in_metres(result, px, py)
            write("OUTPUT_SIGMA_X_METRES", [sx], "m", "offset_sigma", ["1-sigma x (range)"],
                  SEQUENTIAL, "Offset x 1-sigma (m)")
            write("OUTPUT_SIGMA_Y_METRES", [sy], "m", "offset_sigma", ["1-sigma y (azimuth)"],
                  SEQUENTIAL, "Offset y 1-sigma (m)")
        write("OUTPUT_PEAK", [result.peak], "", "correlation_peak", ["Correlation peak"],
              SEQUENTIAL, "Correlation peak")
        results["PIXEL_SIZE_X"] = px
        results["PIXEL_SIZE_Y"] = py
        results["VALID_WINDOWS"] = n_valid
        if parameters.get("OUTPUT_VECTORS") not in (None, ""):
            results["OUTPUT_VECTORS"] = self._vectors(parameters, context, ref_info, result)
        return results

    def _vectors(self, parameters, context, info, result):
        fields = make_fields((name, float) for name in ("dx", "dy", "magnitude", "direction", "snr"))
        crs = QgsCoordinateReferenceSystem()
        if info.crs_wkt:
            crs = QgsCoordinateReferenceSystem.fromWkt(info.crs_wkt)
        sink, dest_id = self.parameterAsSink(parameters, "OUTPUT_VECTORS", context, fields,
                                             QgsWkbTypes.Type.Point, crs)
        if sink is None:
            return None
        path = str(dest_id).split("|")[0]
        if os.path.isfile(path):
            self.track_output(path)
        xs, ys = ot.window_map_positions(info.geotransform, result)
        mag, direction = ot.vector_attributes(result.dx, result.dy)
        valid = ot.valid_windows(result)
        for i, j in zip(*valid):
            f = QgsFeature(fields)
            f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(float(xs[i, j]), float(ys[i, j]))))
            f.setAttributes([float(result.dx[i, j]), float(result.dy[i, j]), float(mag[i, j]),
                             float(direction[i, j]), float(result.snr[i, j])])
            sink.addFeature(f, QgsFeatureSink.Flag.FastInsert)
        del sink   # flush and close the file now, before it is styled and loaded
        style_vector_output(dest_id, context,
                            arrow_renderer(float(mag[valid].max()) if valid[0].size else 1.0),
                            "Offset vectors", ["magnitude", "direction"])
        return dest_id


def arrow_renderer(max_magnitude):
    """Arrows rotated by the ``direction`` field, sized 1.5..8 mm by ``magnitude``."""
    symbol = QgsMarkerSymbol.createSimple({"name": "arrow", "color": "#b2182b",
                                           "outline_color": "#67000d", "size": "4"})
    layer = symbol.symbolLayer(0)
    layer.setDataDefinedProperty(QgsSymbolLayer.Property.PropertyAngle,
                                 QgsProperty.fromField("direction"))
    top = max(float(max_magnitude), 1e-9)
    layer.setDataDefinedProperty(
        QgsSymbolLayer.Property.PropertySize,
        QgsProperty.fromExpression(f'scale_linear("magnitude", 0, {top!r}, 1.5, 8)'))
    return QgsSingleSymbolRenderer(symbol)


