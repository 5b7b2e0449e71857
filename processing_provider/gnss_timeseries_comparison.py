"""displacement:gnss_timeseries_comparison — InSAR LOS displacement time series against GNSS daily series."""

import glob
import math
import os

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureSink,
    QgsGeometry,
    QgsPointXY,
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsWkbTypes,
)

from ..core import gnss as core_gnss
from ..core.dates import band_dates, format_date, parse_date, reference_date
from ..core.gnss_comparison import compare_timeseries, insar_epochs
from ..core.gnss_report import timeseries_report
from . import gnss_common as common
from .base import DisplacementAlgorithm, parameter_error
from .fields import make_fields

GNSS_UNITS = ["m", "cm", "mm"]

STATION_FIELDS = [("station", str), ("lon", float), ("lat", float), ("n_dates", int), ("bias", float),
                  ("rmse", float), ("r", float), ("status", str), ("units", str)]
TABLE_FIELDS = [("station", str), ("date", str), ("gnss_los", float), ("gnss_los_sigma", float),
                ("gnss_days", int), ("insar_los", float), ("insar_spread", float), ("n_pixels", int),
                ("residual", float), ("units", str)]


def _mm(v):
    v = float(v)
    return v * 1000.0 if math.isfinite(v) else None


def _num(v):
    v = float(v)
    return v if math.isfinite(v) else None


class GnssTimeseriesComparison(DisplacementAlgorithm):
    NAME = "gnss_timeseries_comparison"
    DISPLAY_NAME = "Compare InSAR LOS time series with GNSS"
    GROUP = "GNSS"
    GROUP_ID = "gnss"
    # short: the side panel; the full text is docs/algorithms/gnss_timeseries_comparison.md (Help button)
    HELP = """
    Compares an InSAR LOS displacement time series with GNSS daily positions (.tenv3 or CSV)
    projected into the line of sight, date by date: GNSS is the median within ±DAY_WINDOW days of
    each InSAR date, both are made relative to REFERENCE_DATE, then InSAR is referenced to GNSS.
    InSAR may be rasters or INSAR_POINTS (load_points: the median of the points within
    SAMPLE_RADIUS).
    Outputs in mm: stations with N, bias, RMSE and Pearson r; an optional station-date table (the
    Inspector plots it when a station is clicked) and an HTML report.
    """

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "INSAR", "InSAR LOS displacement time series (dated bands or single-date rasters)",
            QgsProcessing.SourceType.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            "INSAR_UNITS", "InSAR units", common.INSAR_UNIT_CHOICES, defaultValue=0))
        common.add_points_parameters(self, "")
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "GNSS_FILES", "GNSS daily series files (.tenv3, CSV)", QgsProcessing.SourceType.TypeFile,
            optional=True))
        self.addParameter(QgsProcessingParameterFile(
            "GNSS_FOLDER", "Folder of GNSS daily series (.tenv3, CSV)",
            QgsProcessingParameterFile.Behavior.Folder, optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            "GNSS_UNITS", "GNSS units (CSV)", GNSS_UNITS, defaultValue=0))
        common.add_geometry_parameters(self)
        self.addParameter(QgsProcessingParameterString(
            "REFERENCE_DATE", "Reference date (YYYY-MM-DD; default: first InSAR date)", optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "DAY_WINDOW", "GNSS averaging half-window (days)", QgsProcessingParameterNumber.Type.Integer,
            defaultValue=3, minValue=0, maxValue=60))
        common.add_sampling_parameters(self)
        common.add_reference_parameters(self)
        self.addParameter(QgsProcessingParameterFeatureSink(
            "OUTPUT", "GNSS time-series comparison (stations)", QgsProcessing.SourceType.TypeVectorPoint))
        self.addParameter(QgsProcessingParameterFeatureSink(
            "OUTPUT_TABLE", "GNSS time-series comparison (station, date table)",
            QgsProcessing.SourceType.TypeVector, optional=True))
        common.report_parameter(self)
        for name, label in (("N", "Station-date values compared"), ("BIAS", "Bias InSAR - GNSS (mm)"),
                            ("RMSE", "RMSE (mm)"), ("R", "Pearson r")):
            self.addOutput(QgsProcessingOutputNumber(name, label))
        self.addOutput(QgsProcessingOutputString("REFERENCE_DATE", "Reference date"))

    def insar_layers(self, parameters, context):
        paths = self.raster_paths(parameters, "INSAR", context)
        if not paths:
            raise parameter_error("INSAR", parameters.get("INSAR"), "no raster given",
                                  "Give a multi-band raster with dated bands or single-date rasters")
        entries, ref_dates, first = [], set(), None
        for path in paths:
            info = self.raster_info(path, "INSAR")
            if first is None:
                first = info
            elif not first.same_grid(info):
                raise parameter_error("INSAR", os.path.basename(path), "the rasters are not on the same grid",
                                      f"Resample them to the grid of {os.path.basename(first.path)}")
            dates = band_dates(info.band_metadata, info.descriptions, path)
            for b, d in enumerate(dates):
                if d is None:
                    raise parameter_error(
                        "INSAR", os.path.basename(path), f"band {b + 1} has no date",
                        "Give bands a 'date' metadata item (YYYY-MM-DD) or name single-date files "
                        "like displacement_<reference>_<date>.tif")
                entries.append((path, b + 1, d))
            ref = reference_date(info.metadata, path)
            if ref is not None:
                ref_dates.add(ref)
        if len(ref_dates) > 1:
            raise parameter_error("INSAR", ", ".join(sorted(format_date(d) for d in ref_dates)),
                                  "the rasters have different reference dates",
                                  "Give rasters relative to one reference date")
        return entries, (ref_dates.pop() if ref_dates else None), first

    def gnss_paths(self, parameters, context):
        paths = [p for p in self.parameterAsFileList(parameters, "GNSS_FILES", context) if p]
        folder = self.parameterAsFile(parameters, "GNSS_FOLDER", context)
        if folder:
            if not os.path.isdir(folder):
                raise parameter_error("GNSS_FOLDER", folder, "not a folder", "Choose a folder")
            found = sorted(glob.glob(os.path.join(folder, "*.tenv3"))
                           + glob.glob(os.path.join(folder, "*.csv")))
            if not found:
                raise parameter_error("GNSS_FOLDER", folder, "no .tenv3 or .csv file in it",
                                      "Choose the folder holding the GNSS series")
            paths.extend(found)
        if not paths:
            raise parameter_error("GNSS_FILES", None, "no GNSS series given",
                                  "Give GNSS_FILES or GNSS_FOLDER")
        return paths

    def compute(self, parameters, context, feedback):
        radius = self.parameterAsDouble(parameters, "SAMPLE_RADIUS", context)
        points = common.insar_points(self, parameters, context)
        if points is not None:
            if not points.date_fields:
                raise parameter_error("INSAR_POINTS", points.source, "the points have no date "
                                      "fields (DYYYYMMDD)", "Load them with displacement:load_points")
            entries = [(points, f, d) for f, d in zip(points.date_fields, points.dates)]
            insar_ref, where = points.reference_date, points
            scale, insar_unit = common.points_scale(self, parameters, context, points,
                                                    points.date_fields[0], "m")
            described = f"{len(entries)} date fields of {os.path.basename(points.source)}"
        else:
            entries, insar_ref, info = self.insar_layers(parameters, context)
            scale, insar_unit = common.insar_scale(self, parameters, context, info, 1, "m")
            where = info.path
            described = (f"{len(entries)} band(s) from {len({p for p, _, _ in entries})} "
                         "raster(s)")
        geom = common.geometry_from_parameters(
            self, parameters, context, None if points is not None else ("INSAR", where, 1),
            feedback, points, radius)
        method, station = common.reference_from_parameters(self, parameters, context)
        min_pixels = self.parameterAsInt(parameters, "MIN_PIXELS", context)
        day_window = self.parameterAsInt(parameters, "DAY_WINDOW", context)
        ref_text = (self.parameterAsString(parameters, "REFERENCE_DATE", context) or "").strip()
        try:
            ref_day = parse_date(ref_text) if ref_text else None
        except ValueError as exc:
            raise parameter_error("REFERENCE_DATE", ref_text, str(exc), "Use YYYY-MM-DD") from exc
        units = GNSS_UNITS[self.parameterAsEnum(parameters, "GNSS_UNITS", context)]
        paths = self.gnss_paths(parameters, context)
        try:
            series = core_gnss.read_series(paths, units)
        except ValueError as exc:
            raise parameter_error("GNSS_FILES", ", ".join(os.path.basename(p) for p in paths), str(exc),
                                  "Check the GNSS files") from exc
        epochs = insar_epochs(entries, insar_ref)
        feedback.pushInfo(f"{len(series)} GNSS series; InSAR dates "
                          + ", ".join(format_date(e.date) for e in epochs))
        report_path = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context)
        result = compare_timeseries(series, epochs, scale, geom, where, ref_day, radius, min_pixels,
                                    method, station, day_window, self.monitor(feedback))
        for day, why in result.skipped_dates:
            feedback.pushWarning(f"date {format_date(day)} left out: {why}")
        for name, status in zip(result.station, result.status):
            if status != "ok":
                feedback.pushWarning(f"station {name}: {status}")
        st = result.stats
        feedback.pushInfo(f"N = {st['n']}, bias = {common.millimetres_text(st['bias'])} mm, "
                          f"RMSE = {common.millimetres_text(st['rmse'])} mm, "
                          f"r = {st['r']:.3f}")

        fields = make_fields(STATION_FIELDS)
        sink, dest_id = self.parameterAsSink(parameters, "OUTPUT", context, fields, QgsWkbTypes.Type.Point,
                                             QgsCoordinateReferenceSystem("EPSG:4326"))
        if sink is None:
            raise parameter_error("OUTPUT", parameters.get("OUTPUT"), "cannot create the output",
                                  "Choose another destination")
        if os.path.isfile(str(dest_id).split("|")[0]):
            self.track_output(str(dest_id).split("|")[0])
        for i, name in enumerate(result.station):
            s = result.station_stats[i]
            f = QgsFeature(fields)
            f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(float(result.lon[i]), float(result.lat[i]))))
            f.setAttributes([name, float(result.lon[i]), float(result.lat[i]), int(s["n"]), _mm(s["bias"]),
                             _mm(s["rmse"]), _num(s["r"]), result.status[i], "mm"])
            sink.addFeature(f, QgsFeatureSink.Flag.FastInsert)
        del sink   # flush and close the file now, before it is styled and loaded
        common.style_point_output(self, dest_id, context, "bias",
                                  [_mm(s["bias"]) for s in result.station_stats], "mm",
                                  "GNSS time-series bias")
        results = {"OUTPUT": dest_id, "N": st["n"], "BIAS": _mm(st["bias"]), "RMSE": _mm(st["rmse"]),
                   "R": st["r"], "REFERENCE_DATE": format_date(result.reference_date)}
        if parameters.get("OUTPUT_TABLE") not in (None, ""):
            tfields = make_fields(TABLE_FIELDS)
            table, table_id = self.parameterAsSink(
                parameters, "OUTPUT_TABLE", context, tfields, QgsWkbTypes.Type.NoGeometry,
                QgsCoordinateReferenceSystem())
            if table is not None:
                if os.path.isfile(str(table_id).split("|")[0]):
                    self.track_output(str(table_id).split("|")[0])
                for i, name in enumerate(result.station):
                    for k, d in enumerate(result.dates):
                        f = QgsFeature(tfields)
                        f.setAttributes([name, format_date(d), _mm(result.gnss_los[i, k]),
                                         _mm(result.gnss_los_sigma[i, k]), int(result.gnss_count[i, k]),
                                         _mm(result.insar_los[i, k]), _mm(result.insar_spread[i, k]),
                                         int(result.n_pixels[i, k]), _mm(result.residual[i, k]), "mm"])
                        table.addFeature(f, QgsFeatureSink.Flag.FastInsert)
                del table   # flush and close the file now
                results["OUTPUT_TABLE"] = table_id
        if report_path:
            self.track_output(report_path)
            timeseries_report(result, report_path, {
                "INSAR": f"{described} ({insar_unit})",
                "GNSS": ", ".join(os.path.basename(p) for p in paths),
                "geometry": common.geometry_description(geom), "SAMPLE_RADIUS": f"{radius:g} m",
                "DAY_WINDOW": f"±{day_window} days",
                "REFERENCE": method + (f" ({station})" if station else ""),
                "REFERENCE_DATE": format_date(result.reference_date)})
            results["OUTPUT_REPORT"] = report_path
        return results
