"""displacement:points_to_grid — aggregate points onto a grid (for decompose and
timeseries_decompose)."""

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..core import points_analysis as pa
from .base import DisplacementAlgorithm, parameter_error
from .points_common import GROUP, GROUP_ID, add_points_parameter, open_points
from .styling import DIVERGING, SEQUENTIAL

# short: the side panel; the full text is docs/algorithms/points_to_grid.md (Help button)
HELP = """
Aggregates points onto a grid (CELL_SIZE metres, also on a geographic CRS, or REFERENCE_LAYER's
grid): the median or mean of FIELD per cell (NaN below MIN_POINTS), optionally every date field
as a dated time series, the point count and the mean LOS unit vector. The outputs go straight
into decompose (LOS unit-vector convention) and timeseries_decompose.
"""
STAT_LABELS = ["Median", "Mean"]


class PointsToGrid(DisplacementAlgorithm):
    NAME = "points_to_grid"
    DISPLAY_NAME = "Points to grid (median per cell)"
    GROUP = GROUP
    GROUP_ID = GROUP_ID
    HELP = HELP

    def initAlgorithm(self, config=None):  # noqa: N802
        add_points_parameter(self)
        self.addParameter(QgsProcessingParameterString("FIELD", "Field to grid",
                                                       defaultValue="velocity", optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "CELL_SIZE", "Cell size (metres)", QgsProcessingParameterNumber.Type.Double,
            defaultValue=100.0, minValue=0.0, optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(
            "REFERENCE_LAYER", "or: grid of this raster", optional=True))
        self.addParameter(QgsProcessingParameterEnum("STATISTIC", "Statistic per cell",
                                                     STAT_LABELS, defaultValue=0, optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "MIN_POINTS", "Minimum points per cell", QgsProcessingParameterNumber.Type.Integer,
            defaultValue=1, minValue=1, optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Gridded field"))
        for name, label, default in (("TIMESERIES", "Gridded time series (dated bands)", False),
                                     ("COUNT", "Points per cell", True),
                                     ("LOS", "Mean LOS unit vector (east, north, up)", False)):
            self.addParameter(QgsProcessingParameterRasterDestination(
                name, label, optional=True, createByDefault=default))
        self.addOutput(QgsProcessingOutputNumber("CELLS", "Cells with a value"))
        self.addOutput(QgsProcessingOutputNumber("POINTS_USED", "Points on the grid"))

    def compute(self, parameters, context, feedback):
        layer = open_points(self, parameters, "INPUT", context, require_crs=True)
        field = (self.parameterAsString(parameters, "FIELD", context) or "velocity").strip()
        if not layer.has(field):
            raise parameter_error("FIELD", field, "the point layer has no such field",
                                  "Choose one of " + ", ".join(list(layer.fields)[:20]))
        paths = {k: self.output_raster_path(parameters, k, context)
                 for k in ("OUTPUT", "TIMESERIES", "COUNT", "LOS")}
        try:
            ref = self.raster_path(parameters, "REFERENCE_LAYER", context, required=False)
            if ref:
                grid = pa.grid_of_raster(self.raster_info(ref, "REFERENCE_LAYER"))
            else:
                cell = self.parameterAsDouble(parameters, "CELL_SIZE", context)
                x, y = layer.xy()
                try:
                    grid = pa.grid_for_points(x, y, layer.crs_wkt, cell)
                except ValueError as exc:
                    raise parameter_error("CELL_SIZE", cell, str(exc),
                                          "Give a cell size in metres or a REFERENCE_LAYER") from exc
            feedback.pushInfo(f"Grid: {grid.width} x {grid.height} cells, geotransform "
                              f"{tuple(round(v, 10) for v in grid.geotransform)}")
            stat = pa.STATISTICS[self.parameterAsEnum(parameters, "STATISTIC", context)]
            res = pa.points_to_grid(
                layer, grid, field, paths["OUTPUT"], paths["TIMESERIES"], paths["COUNT"],
                paths["LOS"], stat, self.parameterAsInt(parameters, "MIN_POINTS", context),
                self.monitor(feedback))
        finally:
            layer.close()
        feedback.pushInfo(f"{res.points_used} points on the grid ({res.points_outside} outside), "
                          f"{res.cells_with_points} cells with points, {res.cells_valid} with a "
                          f"value")
        if res.cells_valid == 0 and res.cells_with_points and \
                self.parameterAsInt(parameters, "MIN_POINTS", context) <= 1:
            raise parameter_error("INPUT", layer.source, f"every {field} value of the "
                                  f"{res.points_used} points on the grid is empty (NaN)",
                                  "Choose another FIELD or a layer with values")
        if res.cells_valid == 0:
            raise parameter_error("MIN_POINTS", self.parameterAsInt(parameters, "MIN_POINTS",
                                                                     context),
                                  "no cell has enough points", "Lower MIN_POINTS or enlarge the cells")
        styles = {"OUTPUT": ("output", DIVERGING, f"{field} per cell"),
                  "TIMESERIES": ("series", DIVERGING, "Gridded time series"),
                  "COUNT": ("count", SEQUENTIAL, "Points per cell"),
                  "LOS": ("los", SEQUENTIAL, "LOS unit vector")}
        for key, (name, kind, label) in styles.items():
            if paths[key]:
                self.finish_raster(paths[key], context, kind, res.units[name], res.stats[name],
                                   layer_name=label)
        return {**paths, "CELLS": res.cells_valid, "POINTS_USED": res.points_used}
