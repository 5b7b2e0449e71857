"""Parameters shared by the time-series algorithms (cumulative displacement, velocity,
re-referencing): the input series, its unit, and date parameters.  Glue only: the
numerics are in core/timeseries.py."""

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ..core import timeseries as ts
from ..core.dates import parse_date
from .base import parameter_error

GROUP = "Time series"
GROUP_ID = "timeseries"

UNIT_CHOICES = ["from the input metadata (m when absent)", "m", "cm", "mm"]

def raster_source_type():
    """The raster layer type of QgsProcessingParameterMultipleLayers: QgsProcessing.SourceType
    up to QGIS 3.x, Qgis.ProcessingSourceType in QGIS 4 (the old enum was removed)."""
    scoped = getattr(QgsProcessing, "SourceType", None)
    if scoped is not None and hasattr(scoped, "TypeRaster"):
        return scoped.TypeRaster
    from qgis.core import Qgis

    return Qgis.ProcessingSourceType.Raster


def add_series_parameters(alg, description="Displacement time series (dated rasters)"):
    """INPUT (rasters), INPUT_FILE (HDF5 series) and INPUT_UNITS."""
    alg.addParameter(QgsProcessingParameterMultipleLayers(
        "INPUT", description, raster_source_type(), optional=True))
    alg.addParameter(QgsProcessingParameterFile(
        "INPUT_FILE", "or: time-series file (MintPy timeseries.h5, LiCSBAS cum.h5)",
        behavior=QgsProcessingParameterFile.Behavior.File, optional=True,
        fileFilter="HDF5 time series (*.h5 *.he5 *.hdf5);;All files (*.*)"))
    alg.addParameter(QgsProcessingParameterEnum(
        "INPUT_UNITS", "Unit of the input values", UNIT_CHOICES, defaultValue=0, optional=True))


def series_paths(alg, parameters, context):
    """Paths of INPUT layers and INPUT_FILE, validated."""
    paths = alg.raster_paths(parameters, "INPUT", context)
    extra = alg.parameterAsFile(parameters, "INPUT_FILE", context)
    if extra:
        paths.append(extra)
    if not paths:
        raise parameter_error("INPUT", parameters.get("INPUT"), "no time series given",
                              "Choose dated rasters as INPUT or a timeseries.h5 as INPUT_FILE")
    return paths


def open_series(alg, parameters, context, require_dates=True, add_reference_epoch=True):
    """The core :class:`~..core.timeseries.Stack` of the inputs; errors name INPUT."""
    paths = series_paths(alg, parameters, context)
    index = alg.parameterAsEnum(parameters, "INPUT_UNITS", context) if "INPUT_UNITS" in parameters \
        else 0
    units = None if index <= 0 else UNIT_CHOICES[index]
    try:
        return ts.open_stack(paths, require_dates=require_dates, units=units,
                             add_reference_epoch=add_reference_epoch)
    except ValueError as exc:
        value = paths if len(paths) > 1 else paths[0]
        raise parameter_error("INPUT", value, str(exc),
                              "Check the inputs (see the algorithm help)") from exc


def date_parameter(alg, parameters, name, context, required=True):
    """A date string parameter parsed as a calendar day (None when optional and empty)."""
    text = (alg.parameterAsString(parameters, name, context) or "").strip()
    if not text:
        if required:
            raise parameter_error(name, text, "no date given", "Give a date as YYYY-MM-DD or YYYYMMDD")
        return None
    try:
        return parse_date(text)
    except ValueError as exc:
        raise parameter_error(name, text, str(exc), "Give a date as YYYY-MM-DD or YYYYMMDD") from exc


def date_list_parameter(alg, parameters, name, context):
    """Comma- or space-separated dates (empty list when not given)."""
    text = (alg.parameterAsString(parameters, name, context) or "").strip()
    out = []
    for part in text.replace(";", ",").replace(" ", ",").split(","):
        if not part.strip():
            continue
        try:
            out.append(parse_date(part.strip()))
        except ValueError as exc:
            raise parameter_error(name, text, str(exc),
                                  "Give dates as YYYY-MM-DD separated by commas") from exc
    return out


def add_date_parameter(alg, name, description, optional=False):
    alg.addParameter(QgsProcessingParameterString(name, description, optional=optional))


TIME_AXIS_LABELS = ["Days / 365.25 (default)",
                    "MintPy decimal year: year + (day of year - 1) / 365.25"]
STEP_RULE_LABELS = ["On or after the step date is after the step (default)",
                    "MintPy: after the step date's 00:00 UTC (with the acquisition time of day)"]


def add_velocity_model_parameters(alg, seconds_default="CENTER_LINE_UTC of the input"):
    """START_DATE, END_DATE, SEASONAL, STEP_DATES, TIME_AXIS, STEP_RULE and (advanced)
    ACQUISITION_SECONDS: the velocity model of timeseries_velocity and points_velocity
    (core.timeseries.velocity_model)."""
    add_date_parameter(alg, "START_DATE", "Start date (YYYY-MM-DD)")
    add_date_parameter(alg, "END_DATE", "End date (YYYY-MM-DD)")
    alg.addParameter(QgsProcessingParameterBoolean(
        "SEASONAL", "Estimate annual and semi-annual terms", defaultValue=False, optional=True))
    alg.addParameter(QgsProcessingParameterString(
        "STEP_DATES", "Step (event) dates, comma-separated YYYY-MM-DD", defaultValue="",
        optional=True))
    alg.addParameter(QgsProcessingParameterEnum(
        "TIME_AXIS", "Time axis", TIME_AXIS_LABELS, defaultValue=0, optional=True))
    alg.addParameter(QgsProcessingParameterEnum(
        "STEP_RULE", "Acquisition on a step date", STEP_RULE_LABELS, defaultValue=0,
        optional=True))
    seconds = QgsProcessingParameterNumber(
        "ACQUISITION_SECONDS", "Acquisition time of day for the MintPy step rule (seconds "
        f"after 00:00 UTC; default {seconds_default})",
        QgsProcessingParameterNumber.Type.Double, optional=True, minValue=0.0, maxValue=86399.999)
    seconds.setFlags(seconds.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
    alg.addParameter(seconds)


def velocity_model_parameters(alg, parameters, context):
    """(start, end, seasonal, steps, time_axis, step_rule, seconds or None) of
    :func:`add_velocity_model_parameters`."""
    seconds = None
    if parameters.get("ACQUISITION_SECONDS") not in (None, ""):
        seconds = alg.parameterAsDouble(parameters, "ACQUISITION_SECONDS", context)
    return (date_parameter(alg, parameters, "START_DATE", context),
            date_parameter(alg, parameters, "END_DATE", context),
            alg.parameterAsBool(parameters, "SEASONAL", context),
            date_list_parameter(alg, parameters, "STEP_DATES", context),
            ts.TIME_AXES[alg.parameterAsEnum(parameters, "TIME_AXIS", context)],
            ts.STEP_RULES[alg.parameterAsEnum(parameters, "STEP_RULE", context)],
            seconds)


def describe_model_options(time_axis, step_rule):
    """One log line naming the time axis and the step rule."""
    return (f"Time axis: {TIME_AXIS_LABELS[ts.TIME_AXES.index(time_axis)]}; step "
            f"rule: {STEP_RULE_LABELS[ts.STEP_RULES.index(step_rule)]}")
