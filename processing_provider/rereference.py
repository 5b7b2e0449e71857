"""displacement:rereference — re-reference a displacement/velocity raster or a time series
to a point, a GNSS station or the mean of a polygon."""

from qgis.core import (
    QgsProcessingOutputString,
    QgsProcessingParameterFile,
    QgsProcessingParameterGeometry,
    QgsProcessingParameterNumber,
    QgsProcessingParameterPoint,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
    QgsWkbTypes,
)

from ..core import timeseries as ts
from ..core.raster_io import RasterError
from .base import DisplacementAlgorithm, parameter_error
from .styling import DIVERGING
from .timeseries_common import GROUP, GROUP_ID, add_series_parameters, open_series

# short: the side panel; the full text is docs/algorithms/rereference.md (Help button)
HELP = """
Re-references displacements or velocities: every band (every date) minus its value at the
reference, so the reference becomes zero. Give exactly one reference: a point in any CRS (median
within REFERENCE_RADIUS pixels), a GNSS station position from a GNSS file, or a polygon (mean
inside). The output keeps the input unit and dates; the source is never modified.
"""


class Rereference(DisplacementAlgorithm):
    NAME = "rereference"
    DISPLAY_NAME = "Re-reference to a point, GNSS station or polygon"
    GROUP = GROUP
    GROUP_ID = GROUP_ID
    HELP = HELP

    def initAlgorithm(self, config=None):  # noqa: N802
        add_series_parameters(self, "Displacement or velocity raster(s)")
        self.addParameter(QgsProcessingParameterPoint(
            "REFERENCE_POINT", "Reference point (any CRS)", optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "REFERENCE_RADIUS", "Radius of the median around the point or station (pixels)",
            QgsProcessingParameterNumber.Type.Double, defaultValue=0.0, optional=True,
            minValue=0.0))
        self.addParameter(QgsProcessingParameterFile(
            "GNSS_FILE", "or: GNSS file giving the station position (.tenv3, .vel, MIDAS, CSV)",
            behavior=QgsProcessingParameterFile.Behavior.File, optional=True))
        self.addParameter(QgsProcessingParameterString(
            "GNSS_STATION", "GNSS station name (required for a velocity table)", defaultValue="",
            optional=True))
        self.addParameter(QgsProcessingParameterGeometry(
            "REFERENCE_POLYGON", "or: reference polygon (mean inside)",
            geometryTypes=[QgsWkbTypes.GeometryType.PolygonGeometry], optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Re-referenced"))
        self.addOutput(QgsProcessingOutputString("REFERENCE", "Reference used"))

    def compute(self, parameters, context, feedback):
        has_point = parameters.get("REFERENCE_POINT") not in (None, "")
        gnss_file = self.parameterAsFile(parameters, "GNSS_FILE", context)
        station = (self.parameterAsString(parameters, "GNSS_STATION", context) or "").strip()
        has_polygon = parameters.get("REFERENCE_POLYGON") not in (None, "")
        chosen = [n for n, ok in (("REFERENCE_POINT", has_point), ("GNSS_FILE", bool(gnss_file)),
                                  ("REFERENCE_POLYGON", has_polygon)) if ok]
        if len(chosen) != 1:
            raise parameter_error(
                "REFERENCE_POINT", parameters.get("REFERENCE_POINT"),
                "give exactly one reference (now: " + (", ".join(chosen) or "none") + ")",
                "Set one of REFERENCE_POINT, GNSS_FILE (+ GNSS_STATION) or REFERENCE_POLYGON")
        if station and not gnss_file:
            raise parameter_error("GNSS_STATION", station, "a station name needs GNSS_FILE",
                                  "Give the GNSS file that holds the station")
        radius = self.parameterAsDouble(parameters, "REFERENCE_RADIUS", context)
        stack = open_series(self, parameters, context, require_dates=False,
                            add_reference_epoch=False)
        feedback.pushInfo(f"Input: {stack.describe()}")
        try:
            if has_point:
                point = self.parameterAsPoint(parameters, "REFERENCE_POINT", context)
                crs = self.parameterAsPointCrs(parameters, "REFERENCE_POINT", context)
                wkt = crs.toWkt() if crs.isValid() else ""
                ref = ts.point_reference(stack, point.x(), point.y(), wkt, radius)
            elif gnss_file:
                ref = ts.gnss_reference(stack, gnss_file, station, radius)
            else:
                geom = self.parameterAsGeometry(parameters, "REFERENCE_POLYGON", context)
                crs = self.parameterAsGeometryCrs(parameters, "REFERENCE_POLYGON", context)
                wkt = crs.toWkt() if crs.isValid() else ""
                ref = ts.polygon_reference(stack, geom.asWkt(), wkt)
        except RasterError:
            raise   # an unreadable input: the base class names it
        except ValueError as exc:
            raise parameter_error(chosen[0], parameters.get(chosen[0]), str(exc),
                                  self.input_diagnosis() or "Choose a reference over valid pixels "
                                  "of the input") from exc
        feedback.pushInfo(f"Reference: {ref.describe()}")
        out = self.output_raster_path(parameters, "OUTPUT", context)
        res = ts.rereference(stack, ref, out, self.monitor(feedback))
        stack.close()
        # shown on the last date (display_band), named by layer_title
        self.finish_raster(out, context, DIVERGING, stack.units, res.stats[-1])
        return {"OUTPUT": out, "REFERENCE": ref.describe()}
