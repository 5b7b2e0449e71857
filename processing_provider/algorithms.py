"""The list of the provider's algorithms.

Algorithm ids (``displacement:<NAME>``) are a public interface: users'
models and scripts call them, so keep them stable once released.
Add an algorithm with one import line and one list entry below.
"""


def algorithm_classes():
    """All algorithm classes of the provider, in toolbox order."""
    # -- imports (one line per algorithm module) --
    from .load_product import LoadProductAlgorithm
    from .gnss_los_comparison import GnssLosComparison
    from .gnss_timeseries_comparison import GnssTimeseriesComparison
    from .cumulative_displacement import CumulativeDisplacement
    from .timeseries_velocity import TimeseriesVelocity
    from .rereference import Rereference
    from .timeseries_decompose import TimeseriesDecompose
    from .decompose import DecomposeAlgorithm
    from .common_grid import CommonGrid
    from .offset_tracking import OffsetTracking
    from .los_to_vertical import LosToVertical
    from .load_points import LoadPoints
    from .points_velocity import PointsVelocity
    from .points_rereference import PointsRereference
    from .points_to_grid import PointsToGrid
    from .geocode import Geocode
    # -- end of imports --
    return [
        # -- algorithms (one entry per algorithm) --
        LoadProductAlgorithm,
        GnssLosComparison,
        GnssTimeseriesComparison,
        CumulativeDisplacement,
        TimeseriesVelocity,
        Rereference,
        TimeseriesDecompose,
        DecomposeAlgorithm,
        CommonGrid,
        OffsetTracking,
        LosToVertical,
        LoadPoints,
        PointsVelocity,
        PointsRereference,
        PointsToGrid,
        Geocode,
        # -- end of algorithms --
    ]
