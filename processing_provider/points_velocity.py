"""displacement:points_velocity — velocity of each point over a date range."""

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
)

from ..core import points_analysis as pa
from .base import DisplacementAlgorithm
from .points_common import (
    style_points,
    GROUP,
    GROUP_ID,
    POINTS_HELP,
    add_points_output,
    add_points_parameter,
    open_points,
    output_points_path,
)
from .timeseries_common import (
    add_velocity_model_parameters,
    describe_model_options,
    velocity_model_parameters,
)

HELP = f"""
Least-squares velocity of every point over its acquisitions between START_DATE and END_DATE
(inclusive), with the model of displacement:timeseries_velocity (the same code): offset +
velocity, optionally annual and semi-annual terms (SEASONAL) and a step at each of
STEP_DATES; TIME_AXIS and STEP_RULE as in timeseries_velocity (MintPy's decimal years and
step rule; ACQUISITION_SECONDS, default 0, is the acquisition time of day for that rule).
t in years of 365.25 days by default. A point needs at least as many valid acquisitions as
model terms plus one, else its fields are NULL.

Output point layer (same CRS): pid, velocity and velocity_std (mm/yr; 1-sigma from the
residuals), velocity_rms (RMS residual, mm), step_YYYYMMDD (mm) per step, annual_amplitude
(mm, with SEASONAL), and los_e/los_n/los_u when the input has them (for points_to_grid).

{POINTS_HELP}
"""


class PointsVelocity(DisplacementAlgorithm):
    NAME = "points_velocity"
    DISPLAY_NAME = "Velocity over a date range (points)"
    GROUP = GROUP
    GROUP_ID = GROUP_ID
    HELP = HELP

    def initAlgorithm(self, config=None):  # noqa: N802
        add_points_parameter(self)
        add_velocity_model_parameters(self, "0: an acquisition on a step date is before it")
        add_points_output(self, "OUTPUT", "Point velocities")
        self.addOutput(QgsProcessingOutputString("START_DATE_USED", "First acquisition used"))
        self.addOutput(QgsProcessingOutputString("END_DATE_USED", "Last acquisition used"))
        self.addOutput(QgsProcessingOutputNumber("VALID_POINTS", "Points with a velocity"))

    def compute(self, parameters, context, feedback):
        start, end, seasonal, steps, time_axis, step_rule, seconds = \
            velocity_model_parameters(self, parameters, context)
        layer = open_points(self, parameters, "INPUT", context)
        out = output_points_path(self, parameters, "OUTPUT", context)
        try:
            res = pa.points_velocity(layer, start, end, out, seasonal, steps,
                                     self.monitor(feedback), time_axis, step_rule, seconds or 0.0)
        finally:
            layer.close()
        feedback.pushInfo(describe_model_options(time_axis, step_rule))
        feedback.pushInfo(f"Model: {' + '.join(res.columns)}; {len(res.dates)} acquisitions "
                          f"{res.dates[0]} .. {res.dates[-1]}; {res.valid} of {res.count} points")
        if res.valid == 0:
            raise ValueError("no point has enough valid acquisitions in the range for the model: "
                             "widen the range or simplify the model")
        style_points(self, out, context, f"Velocity {res.dates[0]} to {res.dates[-1]}")
        return {"OUTPUT": out, "START_DATE_USED": res.dates[0].isoformat(),
                "END_DATE_USED": res.dates[-1].isoformat(), "VALID_POINTS": res.valid}
