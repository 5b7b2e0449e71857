"""displacement:points_velocity — velocity of each point over a date range."""

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
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
from .timeseries_common import (
    add_velocity_model_parameters,
    describe_model_options,
    velocity_model_parameters,
)

# short: the side panel; the full text is docs/algorithms/points_velocity.md (Help button)
HELP = """
Least-squares velocity of every point over START_DATE .. END_DATE with the model and code of
timeseries_velocity (seasonal terms, steps, MintPy time axis and step rule). Output: a point
layer with velocity and velocity_std (mm/yr), velocity_rms (mm), step sizes, annual amplitude,
and the input's LOS fields.
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
        if not layer.dates:
            layer.close()
            raise parameter_error("INPUT", layer.source, "the point layer has no date fields "
                                  "(DYYYYMMDD)", "Load the time series with displacement:load_points")
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
            raise parameter_error("INPUT", layer.source, f"none of the {res.count} points has "
                                  f"enough valid acquisitions in {res.dates[0]} .. {res.dates[-1]} "
                                  "for the model (are its values empty?)",
                                  "Widen START_DATE .. END_DATE or simplify the model")
        style_points(self, out, context, f"Velocity {res.dates[0]} to {res.dates[-1]}")
        return {"OUTPUT": out, "START_DATE_USED": res.dates[0].isoformat(),
                "END_DATE_USED": res.dates[-1].isoformat(), "VALID_POINTS": res.valid}
