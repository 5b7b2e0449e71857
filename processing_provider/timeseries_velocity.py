"""displacement:timeseries_velocity — least-squares velocity over a date range."""

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
)

from ..core import timeseries as ts
from .base import DisplacementAlgorithm, parameter_error
from .styling import DIVERGING, SEQUENTIAL
from .timeseries_common import (
    GROUP,
    GROUP_ID,
    add_date_parameter,
    add_series_parameters,
    date_list_parameter,
    date_parameter,
    open_series,
)

# short: the side panel; the full text is docs/algorithms/timeseries_velocity.md (Help button)
HELP = """
Least-squares velocity of every pixel over the acquisitions between START_DATE and END_DATE:
d(t) = c + v·t, optionally with annual and semi-annual terms and a step at each STEP_DATES
date (t in years of 365.25 days). Outputs in the input unit per year (m → m/yr): VELOCITY, its
1-sigma VELOCITY_SIGMA, RMS_RESIDUAL (input unit); optionally the step sizes and the annual
amplitude. A pixel without enough valid acquisitions for the model is NaN. TIME_AXIS and
STEP_RULE reproduce MintPy's timeseries2velocity conventions when needed.
"""


TIME_AXIS_LABELS = ["Days / 365.25 (default)",
                    "MintPy decimal year: year + (day of year - 1) / 365.25"]
STEP_RULE_LABELS = ["On or after the step date is after the step (default)",
                    "MintPy: after the step date's 00:00 UTC (with the acquisition time of day)"]


class TimeseriesVelocity(DisplacementAlgorithm):
    NAME = "timeseries_velocity"
    DISPLAY_NAME = "Velocity over a date range (time series)"
    GROUP = GROUP
    GROUP_ID = GROUP_ID
    HELP = HELP

    def initAlgorithm(self, config=None):  # noqa: N802
        add_series_parameters(self)
        add_date_parameter(self, "START_DATE", "Start date (YYYY-MM-DD)")
        add_date_parameter(self, "END_DATE", "End date (YYYY-MM-DD)")
        self.addParameter(QgsProcessingParameterBoolean(
            "SEASONAL", "Estimate annual and semi-annual terms", defaultValue=False, optional=True))
        self.addParameter(QgsProcessingParameterString(
            "STEP_DATES", "Step (event) dates, comma-separated YYYY-MM-DD", defaultValue="",
            optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            "TIME_AXIS", "Time axis", TIME_AXIS_LABELS, defaultValue=0, optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            "STEP_RULE", "Acquisition on a step date", STEP_RULE_LABELS, defaultValue=0,
            optional=True))
        seconds = QgsProcessingParameterNumber(
            "ACQUISITION_SECONDS", "Acquisition time of day for the MintPy step rule (seconds "
            "after 00:00 UTC; default CENTER_LINE_UTC of the input)",
            QgsProcessingParameterNumber.Type.Double, optional=True, minValue=0.0, maxValue=86399.999)
        seconds.setFlags(seconds.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        self.addParameter(seconds)
        self.addParameter(QgsProcessingParameterRasterDestination("VELOCITY", "Velocity"))
        self.addParameter(QgsProcessingParameterRasterDestination(
            "VELOCITY_SIGMA", "Velocity 1-sigma", optional=True, createByDefault=True))
        self.addParameter(QgsProcessingParameterRasterDestination(
            "RMS_RESIDUAL", "RMS residual", optional=True, createByDefault=True))
        self.addParameter(QgsProcessingParameterRasterDestination(
            "STEPS", "Step sizes (one band per step date)", optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterRasterDestination(
            "ANNUAL_AMPLITUDE", "Annual amplitude", optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputString("START_DATE_USED", "First acquisition used"))
        self.addOutput(QgsProcessingOutputString("END_DATE_USED", "Last acquisition used"))
        self.addOutput(QgsProcessingOutputNumber("ACQUISITIONS", "Acquisitions used"))
        self.addOutput(QgsProcessingOutputNumber("VALID_PIXELS", "Pixels with a velocity"))

    def compute(self, parameters, context, feedback):
        start = date_parameter(self, parameters, "START_DATE", context)
        end = date_parameter(self, parameters, "END_DATE", context)
        steps = date_list_parameter(self, parameters, "STEP_DATES", context)
        seasonal = self.parameterAsBool(parameters, "SEASONAL", context)
        time_axis = ts.TIME_AXES[self.parameterAsEnum(parameters, "TIME_AXIS", context)]
        step_rule = ts.STEP_RULES[self.parameterAsEnum(parameters, "STEP_RULE", context)]
        seconds = None
        if parameters.get("ACQUISITION_SECONDS") not in (None, ""):
            seconds = self.parameterAsDouble(parameters, "ACQUISITION_SECONDS", context)
        stack = open_series(self, parameters, context)
        feedback.pushInfo(f"Time series: {stack.describe()}")
        paths = {key: self.output_raster_path(parameters, name, context)
                 for key, name in (("velocity", "VELOCITY"), ("sigma", "VELOCITY_SIGMA"),
                                   ("rms", "RMS_RESIDUAL"), ("steps", "STEPS"),
                                   ("amplitude", "ANNUAL_AMPLITUDE"))}
        if paths["steps"] and not steps:
            raise parameter_error("STEPS", paths["steps"], "step sizes asked for without STEP_DATES",
                                  "Give STEP_DATES or leave STEPS empty")
        if paths["amplitude"] and not seasonal:
            raise parameter_error("ANNUAL_AMPLITUDE", paths["amplitude"],
                                  "the annual amplitude needs the seasonal terms",
                                  "Tick SEASONAL or leave ANNUAL_AMPLITUDE empty")
        res = ts.timeseries_velocity(stack, start, end, paths["velocity"], paths["sigma"],
                                     paths["rms"], seasonal, steps, self.monitor(feedback),
                                     paths["steps"], paths["amplitude"], time_axis, step_rule,
                                     seconds)
        stack.close()
        feedback.pushInfo(f"Time axis: {TIME_AXIS_LABELS[ts.TIME_AXES.index(time_axis)]}; step "
                          f"rule: {STEP_RULE_LABELS[ts.STEP_RULES.index(step_rule)]}")
        feedback.pushInfo(f"Model: {' + '.join(res.columns)}; {len(res.dates)} acquisitions "
                          f"{res.dates[0]} .. {res.dates[-1]}; {res.valid_pixels} pixels solved")
        styles = {"velocity": (DIVERGING, res.velocity_units, "Velocity"),
                  "sigma": (SEQUENTIAL, res.velocity_units, "Velocity 1-sigma"),
                  "rms": (SEQUENTIAL, res.units, "RMS residual"),
                  "steps": (DIVERGING, res.units, "Step sizes"),
                  "amplitude": (SEQUENTIAL, res.units, "Annual amplitude")}
        for key, (kind, units, label) in styles.items():
            if paths[key]:
                self.finish_raster(paths[key], context, kind, units, res.stats[key],
                                   layer_name=f"{label} {res.dates[0]} to {res.dates[-1]}")
        return {"VELOCITY": paths["velocity"], "VELOCITY_SIGMA": paths["sigma"],
                "RMS_RESIDUAL": paths["rms"], "STEPS": paths["steps"],
                "ANNUAL_AMPLITUDE": paths["amplitude"], "START_DATE_USED": res.dates[0].isoformat(),
                "END_DATE_USED": res.dates[-1].isoformat(), "ACQUISITIONS": len(res.dates),
                "VALID_PIXELS": res.valid_pixels}
