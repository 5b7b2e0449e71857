"""displacement:timeseries_velocity — least-squares velocity over a date range."""

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterRasterDestination,
)

from ..core import timeseries as ts
from .base import DisplacementAlgorithm, parameter_error
from .styling import DIVERGING, SEQUENTIAL
from .timeseries_common import (
    GROUP,
    GROUP_ID,
    add_series_parameters,
    add_velocity_model_parameters,
    describe_model_options,
    open_series,
    velocity_model_parameters,
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


class TimeseriesVelocity(DisplacementAlgorithm):
    NAME = "timeseries_velocity"
    DISPLAY_NAME = "Velocity over a date range (time series)"
    GROUP = GROUP
    GROUP_ID = GROUP_ID
    HELP = HELP

    def initAlgorithm(self, config=None):  # noqa: N802
        add_series_parameters(self)
        add_velocity_model_parameters(self)
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
        start, end, seasonal, steps, time_axis, step_rule, seconds = \
            velocity_model_parameters(self, parameters, context)
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
        feedback.pushInfo(describe_model_options(time_axis, step_rule))
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
