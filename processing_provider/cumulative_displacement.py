"""displacement:cumulative_displacement — displacement between two dates of a time series."""

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterRasterDestination,
)

from ..core import timeseries as ts
from .base import DisplacementAlgorithm
from .styling import DIVERGING
from .timeseries_common import (
    GROUP,
    GROUP_ID,
    add_date_parameter,
    add_series_parameters,
    date_parameter,
    open_series,
)

# short: the side panel; the full text is docs/algorithms/cumulative_displacement.md (Help button)
HELP = """
Displacement between two dates of a time series: the value at the acquisition nearest to
END_DATE minus the value at the acquisition nearest to START_DATE (both within the series).
Input: a dated multi-band raster, single-date rasters on one grid, or a MintPy/LiCSBAS HDF5.
Output: one band in the input unit (m, cm or mm), sign of the input (LOS positive toward the
satellite), NaN where either date has no data; the acquisitions used are reported.
"""


class CumulativeDisplacement(DisplacementAlgorithm):
    NAME = "cumulative_displacement"
    DISPLAY_NAME = "Cumulative displacement between two dates"
    GROUP = GROUP
    GROUP_ID = GROUP_ID
    HELP = HELP

    def initAlgorithm(self, config=None):  # noqa: N802
        add_series_parameters(self)
        add_date_parameter(self, "START_DATE", "Start date (YYYY-MM-DD)")
        add_date_parameter(self, "END_DATE", "End date (YYYY-MM-DD)")
        self.addParameter(QgsProcessingParameterRasterDestination(
            "OUTPUT", "Cumulative displacement"))
        self.addOutput(QgsProcessingOutputString("START_DATE_USED", "Start acquisition used"))
        self.addOutput(QgsProcessingOutputString("END_DATE_USED", "End acquisition used"))
        self.addOutput(QgsProcessingOutputNumber("INTERVAL_DAYS", "Days between the acquisitions"))

    def compute(self, parameters, context, feedback):
        start = date_parameter(self, parameters, "START_DATE", context)
        end = date_parameter(self, parameters, "END_DATE", context)
        stack = open_series(self, parameters, context)
        feedback.pushInfo(f"Time series: {stack.describe()}")
        out = self.output_raster_path(parameters, "OUTPUT", context)
        res = ts.cumulative_displacement(stack, start, end, out, self.monitor(feedback))
        stack.close()
        feedback.pushInfo(f"START_DATE {res.start.describe()}")
        feedback.pushInfo(f"END_DATE {res.end.describe()}")
        self.finish_raster(out, context, DIVERGING, res.units, res.stats,
                           layer_name=f"Displacement {res.start.date} to {res.end.date}")
        return {"OUTPUT": out, "START_DATE_USED": res.start.date.isoformat(),
                "END_DATE_USED": res.end.date.isoformat(),
                "INTERVAL_DAYS": (res.end.date - res.start.date).days}
