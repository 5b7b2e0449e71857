"""displacement:gnss_los_comparison — InSAR LOS velocity against GNSS velocities projected to the LOS."""

import math
import os

import numpy as np
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureSink,
    QgsGeometry,
    QgsPointXY,
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterRasterLayer,
    QgsWkbTypes,
)

from ..core import gnss as core_gnss
from ..core import units as core_units
from ..core.gnss_comparison import compare_velocities
from ..core.gnss_report import velocity_report
from . import gnss_common as common
from .base import DisplacementAlgorithm, band_parameter, parameter_error
from .fields import make_fields

FORMATS = ["auto", "gage", "midas", "csv"]
FORMAT_LABELS = ["Detect from the file", "GAGE/PBO .vel (m/yr)", "NGL/UNR MIDAS table (m/yr)",
                 "CSV with named columns (GNSS_UNITS)"]
GNSS_UNITS = ["m/yr", "cm/yr", "mm/yr"]

FIELDS = [("station", str), ("lon", float), ("lat", float), ("gnss_e", float), ("gnss_n", float),
          ("gnss_u", float), ("gnss_los", float), ("gnss_los_sigma", float), ("insar_los", float),
          ("insar_spread", float), ("n_pixels", int), ("residual", float), ("status", str),
          ("units", str)]


def _value(v, scale=1000.0):
    v = float(v)
    return v * scale if math.isfinite(v) else None


class GnssLosComparison(DisplacementAlgorithm):
    NAME = "gnss_los_comparison"
    DISPLAY_NAME = "Compare InSAR LOS velocity with GNSS"
    GROUP = "GNSS"
    GROUP_ID = "gnss"
    # short: the side panel; the full text is docs/algorithms/gnss_los_comparison.md (Help button)
    HELP = """
    Compares an InSAR LOS velocity raster with GNSS station velocities (.vel, MIDAS, CSV or a point
    layer) projected into the line of sight at each station, after referencing InSAR to GNSS (none,
    a named station, a best-fit constant or plane). InSAR at a station: median of the valid pixels
    within SAMPLE_RADIUS metres, or of the points of INSAR_POINTS (load_points) with their count.
    Outputs: stations with GNSS LOS, InSAR LOS and residual in mm/yr
    (styled by residual), an optional HTML report, and N, bias, RMSE (mm/yr), Pearson r and slope.
    """

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("INSAR", "InSAR LOS velocity raster",
                                                            optional=True))
        self.addParameter(band_parameter("BAND", "InSAR band", "INSAR"))
        self.addParameter(QgsProcessingParameterEnum(
            "INSAR_UNITS", "InSAR units", common.INSAR_UNIT_CHOICES, defaultValue=0))
        common.add_points_parameters(self, "InSAR points: LOS velocity field")
        self.addParameter(QgsProcessingParameterFile(
            "GNSS_FILE", "GNSS velocity file (.vel, MIDAS, CSV)", optional=True))
        self.addParameter(QgsProcessingParameterEnum("GNSS_FORMAT", "GNSS file format", FORMAT_LABELS,
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "GNSS_LAYER", "GNSS stations (point layer)", [QgsProcessing.SourceType.TypeVectorPoint],
            optional=True))
        common.add_field_parameters(self, "GNSS_LAYER")
        self.addParameter(QgsProcessingParameterEnum(
            "GNSS_UNITS", "GNSS units (CSV and point layer)", GNSS_UNITS, defaultValue=2))
        common.add_geometry_parameters(self)
        common.add_sampling_parameters(self)
        common.add_reference_parameters(self)
        self.addParameter(QgsProcessingParameterFeatureSink(
            "OUTPUT", "GNSS comparison", QgsProcessing.SourceType.TypeVectorPoint))
        common.report_parameter(self)
        for name, label in (("N", "Stations compared"), ("BIAS", "Bias InSAR - GNSS (mm/yr)"),
                            ("RMSE", "RMSE (mm/yr)"), ("R", "Pearson r"), ("SLOPE", "Fitted slope")):
            self.addOutput(QgsProcessingOutputNumber(name, label))

    def read_gnss(self, parameters, context, feedback):
        units = GNSS_UNITS[self.parameterAsEnum(parameters, "GNSS_UNITS", context)]
        mapping = common.field_mapping(self, parameters, context)
        path = self.parameterAsFile(parameters, "GNSS_FILE", context)
        has_layer = parameters.get("GNSS_LAYER") not in (None, "")
        if path and has_layer:
            raise parameter_error("GNSS_FILE", path, "both a GNSS file and a GNSS layer were given",
                                  "Give only one of GNSS_FILE and GNSS_LAYER")
        if path:
            fmt = FORMATS[self.parameterAsEnum(parameters, "GNSS_FORMAT", context)]
            try:
                return core_gnss.read_velocities(path, fmt, units, mapping)
            except ValueError as exc:
                raise parameter_error("GNSS_FILE", path, str(exc), "Check the file and GNSS_FORMAT") from exc
        if not has_layer:
            raise parameter_error("GNSS_FILE", None, "no GNSS data given",
                                  "Give GNSS_FILE or GNSS_LAYER with the field parameters")
        read = common.read_point_layer(self, parameters, "GNSS_LAYER", context, mapping, feedback)
        stations, lon, lat, cols = read
        n = len(stations)
        factor = core_units.unit_factor(units, "m/yr")
        nan = np.full(n, np.nan)

        def col(key):
            return np.asarray(cols[key], float) * factor if key in cols else nan.copy()

        return core_gnss.GnssVelocities(
            station=stations, lon=core_gnss.wrap_longitude(lon), lat=np.asarray(lat, float),
            east=col("east"), north=col("north"), up=col("up"), sig_east=col("sig_east"),
            sig_north=col("sig_north"), sig_up=col("sig_up"), corr_en=np.zeros(n),
            corr_eu=np.zeros(n), corr_nu=np.zeros(n), source=str(parameters.get("GNSS_LAYER")))

    def compute(self, parameters, context, feedback):
        radius = self.parameterAsDouble(parameters, "SAMPLE_RADIUS", context)
        insar = common.insar_points(self, parameters, context)
        if insar is not None:
            band = (self.parameterAsString(parameters, "INSAR_FIELD", context) or "velocity").strip()
            if not insar.has(band):
                raise parameter_error("INSAR_FIELD", band, "the InSAR points have no such field",
                                      "Choose one of " + ", ".join(list(insar.fields)[:20]))
            scale, insar_unit = common.points_scale(self, parameters, context, insar, band, "m/yr")
            described = f"{os.path.basename(insar.source)} field {band} ({insar_unit})"
        else:
            insar = self.raster_path(parameters, "INSAR", context)
            info = self.raster_info(insar, "INSAR")
            band = self.raster_band(parameters, "INSAR", context, info, "BAND")
            scale, insar_unit = common.insar_scale(self, parameters, context, info, band, "m/yr")
            described = f"{os.path.basename(insar)} band {band} ({insar_unit})"
        raster = isinstance(insar, str)
        geom = common.geometry_from_parameters(
            self, parameters, context, ("INSAR", insar, band) if raster else None, feedback,
            None if raster else insar, radius)
        method, station = common.reference_from_parameters(self, parameters, context)
        min_pixels = self.parameterAsInt(parameters, "MIN_PIXELS", context)
        report_path = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context)
        gnss = self.read_gnss(parameters, context, feedback)
        feedback.pushInfo(f"{len(gnss)} GNSS stations read")
        monitor = self.monitor(feedback)
        result = compare_velocities(gnss, insar, band, scale, geom, radius, min_pixels, method,
                                    station, monitor)
        counts = {s: result.status.count(s) for s in set(result.status)}
        feedback.pushInfo("stations: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
        st = result.stats
        feedback.pushInfo(
            f"N = {st['n']}, bias = {common.millimetres_text(st['bias'])} mm/yr, "
            f"RMSE = {common.millimetres_text(st['rmse'])} mm/yr, "
            f"r = {st['r']:.3f}, slope = {st['slope']:.3f}")

        fields = make_fields(FIELDS)
        sink, dest_id = self.parameterAsSink(parameters, "OUTPUT", context, fields, QgsWkbTypes.Type.Point,
                                             QgsCoordinateReferenceSystem("EPSG:4326"))
        if sink is None:
            raise parameter_error("OUTPUT", parameters.get("OUTPUT"), "cannot create the output",
                                  "Choose another destination")
        if os.path.isfile(str(dest_id).split("|")[0]):
            self.track_output(str(dest_id).split("|")[0])
        for i, name in enumerate(result.station):
            f = QgsFeature(fields)
            f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(float(result.lon[i]), float(result.lat[i]))))
            f.setAttributes([
                name, float(result.lon[i]), float(result.lat[i]), _value(result.gnss_e[i]),
                _value(result.gnss_n[i]), _value(result.gnss_u[i]), _value(result.gnss_los[i]),
                _value(result.gnss_los_sigma[i]), _value(result.insar_los[i]),
                _value(result.insar_spread[i]), int(result.n_pixels[i]), _value(result.residual[i]),
                result.status[i], "mm/yr"])
            sink.addFeature(f, QgsFeatureSink.Flag.FastInsert)
        del sink   # flush and close the file now, before it is styled and loaded
        common.style_point_output(self, dest_id, context, "residual",
                                  [_value(r) for r in result.residual], "mm/yr", "GNSS LOS residual")
        results = {"OUTPUT": dest_id, "N": st["n"], "BIAS": _value(st["bias"]), "RMSE": _value(st["rmse"]),
                   "R": st["r"], "SLOPE": st["slope"]}
        if report_path:
            self.track_output(report_path)
            velocity_report(result, report_path, {
                "INSAR": described,
                "GNSS": gnss.source, "geometry": common.geometry_description(geom),
                "SAMPLE_RADIUS": f"{radius:g} m", "MIN_PIXELS": str(min_pixels),
                "REFERENCE": method + (f" ({station})" if station else "")})
            results["OUTPUT_REPORT"] = report_path
        return results
