"""displacement:points_rereference — re-reference a point layer to a point, a GNSS station
or a polygon."""

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterFile,
    QgsProcessingParameterGeometry,
    QgsProcessingParameterNumber,
    QgsProcessingParameterPoint,
    QgsProcessingParameterString,
    QgsWkbTypes,
)

from ..core import points_analysis as pa
from .base import DisplacementAlgorithm, parameter_error
from .points_common import (
    style_points,
    GROUP,
    GROUP_ID,
    add_points_output,
    add_points_parameter,
    open_points,
    output_points_path,
)

# short: the side panel; the full text is docs/algorithms/points_rereference.md (Help button)
HELP = """
Re-references a point layer: every date field and the velocity minus the median of the points
within REFERENCE_RADIUS metres of a point (any CRS) or of a GNSS station, or inside a polygon.
The reference used is written in the layer metadata; the input is not modified.
"""


class PointsRereference(DisplacementAlgorithm):
    NAME = "points_rereference"
    DISPLAY_NAME = "Re-reference points to a point, GNSS station or polygon"
    GROUP = GROUP
    GROUP_ID = GROUP_ID
    HELP = HELP

    def initAlgorithm(self, config=None):  # noqa: N802
        add_points_parameter(self)
        self.addParameter(QgsProcessingParameterPoint("REFERENCE_POINT", "Reference point",
                                                      optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "REFERENCE_RADIUS", "Radius around the reference point or station (metres)",
            QgsProcessingParameterNumber.Type.Double, defaultValue=100.0, minValue=0.0))
        self.addParameter(QgsProcessingParameterFile(
            "GNSS_FILE", "or: GNSS file (.tenv3 or velocity table)", optional=True,
            behavior=QgsProcessingParameterFile.Behavior.File))
        self.addParameter(QgsProcessingParameterString("GNSS_STATION", "GNSS station name",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterGeometry(
            "REFERENCE_POLYGON", "or: reference polygon", optional=True,
            geometryTypes=[QgsWkbTypes.GeometryType.PolygonGeometry]))
        add_points_output(self, "OUTPUT", "Re-referenced points")
        self.addOutput(QgsProcessingOutputNumber("REFERENCE_POINTS", "Points in the reference"))

    def compute(self, parameters, context, feedback):
        given = [n for n in ("REFERENCE_POINT", "GNSS_FILE", "REFERENCE_POLYGON")
                 if parameters.get(n) not in (None, "")]
        if len(given) != 1:
            raise parameter_error("REFERENCE_POINT", given, "give exactly one reference",
                                  "Set REFERENCE_POINT, GNSS_FILE or REFERENCE_POLYGON")
        layer = open_points(self, parameters, "INPUT", context, require_crs=True)
        if not layer.dates and not layer.has("velocity"):
            layer.close()
            raise parameter_error("INPUT", layer.source, "the point layer has neither a velocity "
                                  "nor date fields (DYYYYMMDD): nothing to re-reference",
                                  "Give a layer from displacement:load_points")
        try:
            try:
                ref = self._reference(given[0], layer, parameters, context)
            except ValueError as exc:
                raise parameter_error(given[0], parameters[given[0]], str(exc),
                                      "Choose another reference, or check that INPUT has "
                                      "values") from exc
            feedback.pushInfo(f"Reference: {ref.description}: median of {ref.count} point(s); "
                              f"velocity {ref.values.get('velocity', float('nan')):.3f} mm/yr")
            out = output_points_path(self, parameters, "OUTPUT", context)
            pa.rereference_points(layer, ref, out, self.monitor(feedback))
        finally:
            layer.close()
        style_points(self, out, context, "Re-referenced points")
        return {"OUTPUT": out, "REFERENCE_POINTS": ref.count}

    def _reference(self, kind, layer, parameters, context):
        """The core reference of the one reference parameter given (``kind``)."""
        radius = self.parameterAsDouble(parameters, "REFERENCE_RADIUS", context)
        if kind == "REFERENCE_POINT":
            crs = self.parameterAsPointCrs(parameters, "REFERENCE_POINT", context)
            pt = self.parameterAsPoint(parameters, "REFERENCE_POINT", context)
            return pa.points_reference(layer, pt.x(), pt.y(),
                                       crs.toWkt() if crs.isValid() else "", radius)
        if kind == "GNSS_FILE":
            return pa.gnss_points_reference(
                layer, self.parameterAsFile(parameters, "GNSS_FILE", context),
                self.parameterAsString(parameters, "GNSS_STATION", context), radius)
        geom = self.parameterAsGeometry(parameters, "REFERENCE_POLYGON", context)
        crs = self.parameterAsGeometryCrs(parameters, "REFERENCE_POLYGON", context)
        return pa.polygon_points_reference(layer, geom.asWkt(), crs.toWkt() if crs.isValid() else "")
