"""displacement:load_points — EGMS, MintPy save_qgis, StaMPS or CSV points to a point layer."""

import os

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterString,
    QgsProcessingUtils,
)

from ..core import points as pts
from .base import DisplacementAlgorithm, parameter_error
from .points_common import GROUP, GROUP_ID, add_points_output, output_points_path, style_points
from .timeseries_common import date_parameter

FORMAT_LABELS = ["Detect from the file", "EGMS CSV (L2a, L2b, L3)", "MintPy save_qgis layer",
                 "StaMPS export (StaMPS-Visualizer CSV)", "CSV with x/y and date columns"]
UNIT_LABELS = ["mm", "cm", "m"]

# short: the side panel; the full text is docs/algorithms/load_points.md (Help button)
HELP = """
Loads a point dataset (EGMS CSV L2a/L2b/L3, MintPy save_qgis shapefile, StaMPS export, or a CSV
with x/y and date columns) into a GeoPackage point layer in the source CRS: pid, velocity and
velocity_std (mm/yr), the LOS unit vector when known, quality fields, and one DYYYYMMDD field per
date (mm, relative to one reference date). Units, reference date, track and orbit direction are
in the layer metadata; field aliases carry the units. Millions of points load by chunks.
"""


class LoadPoints(DisplacementAlgorithm):
    NAME = "load_points"
    DISPLAY_NAME = "Load point dataset (EGMS, MintPy, StaMPS, CSV)"
    GROUP = GROUP
    GROUP_ID = GROUP_ID
    HELP = HELP

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFile(
            "INPUT", "Point dataset (EGMS CSV, save_qgis .shp, StaMPS CSV, CSV)",
            behavior=QgsProcessingParameterFile.Behavior.File,
            fileFilter="Point datasets (*.csv *.txt *.shp *.gpkg);;All files (*.*)"))
        self.addParameter(QgsProcessingParameterEnum("FORMAT", "Format", FORMAT_LABELS,
                                                     defaultValue=0, optional=True))
        for name, label in (("X_FIELD", "CSV: x (easting or longitude) column"),
                            ("Y_FIELD", "CSV: y (northing or latitude) column"),
                            ("VELOCITY_FIELD", "CSV: velocity column (unit per year; optional)"),
                                        ("PID_FIELD", "CSV: point id column (optional)"),
                            ("REFERENCE_DATE", "Reference date (YYYY-MM-DD; optional)")):
            self.addParameter(QgsProcessingParameterString(name, label, optional=True))
        self.addParameter(QgsProcessingParameterCrs("CRS", "CSV: CRS of x/y", optional=True))
        self.addParameter(QgsProcessingParameterEnum("UNITS", "CSV: unit of the displacements",
                                                     UNIT_LABELS, defaultValue=0, optional=True))
        add_points_output(self, "OUTPUT", "Points")
        self.addOutput(QgsProcessingOutputNumber("POINTS", "Points loaded"))
        self.addOutput(QgsProcessingOutputString("REFERENCE_DATE_USED", "Reference date"))

    def compute(self, parameters, context, feedback):
        path = self.parameterAsFile(parameters, "INPUT", context)
        fmt = pts.FORMATS[self.parameterAsEnum(parameters, "FORMAT", context)]
        text = {k: (self.parameterAsString(parameters, k, context) or "").strip()
                for k in ("X_FIELD", "Y_FIELD", "VELOCITY_FIELD", "PID_FIELD")}
        reference = date_parameter(self, parameters, "REFERENCE_DATE", context, required=False)
        crs = self.parameterAsCrs(parameters, "CRS", context)
        units = UNIT_LABELS[self.parameterAsEnum(parameters, "UNITS", context)]
        try:
            src = pts.open_point_source(
                path, fmt, text["X_FIELD"], text["Y_FIELD"], crs.toWkt() if crs.isValid() else "",
                units, text["VELOCITY_FIELD"], "", text["PID_FIELD"], QgsProcessingUtils.tempFolder())
        except ValueError as exc:
            raise parameter_error("INPUT", path, str(exc), "See the help for the formats and "
                                  "the CSV parameters") from exc
        feedback.pushInfo(f"Source: {src.describe()}")
        out = output_points_path(self, parameters, "OUTPUT", context)
        res = pts.load_points(src, out, reference, self.monitor(feedback))
        feedback.pushInfo(f"{res.count} points, reference date {res.reference_date}"
                          f"{' (series shifted to it)' if res.shifted else ''}"
                          f"{f'; {res.dropped} points had no value on it' if res.dropped else ''}")
        if res.unlocated:
            feedback.pushWarning(f"{res.unlocated} of {res.count} rows have no coordinates: they "
                                 "are kept without a geometry, and the point analyses skip them")
        for key in ("orbit_direction", "track", "level", "component", "los_flipped",
                    "velocity_source"):
            if key in res.metadata:
                feedback.pushInfo(f"{key}: {res.metadata[key]}")
        style_points(self, out, context, f"Points {os.path.basename(path)}")
        return {"OUTPUT": out, "POINTS": res.count,
                "REFERENCE_DATE_USED": res.reference_date.isoformat() if res.reference_date else ""}
