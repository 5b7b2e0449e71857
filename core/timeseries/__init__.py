"""Displacement time series: reading (:mod:`.stack`), cumulative displacement (:mod:`.cumulative`),
velocity fits (:mod:`.velocity`), re-referencing (:mod:`.reference`) and the east/up
decomposition of ascending/descending series (:mod:`.decomposition`).  Everything public is
imported here: ``from displacement_toolkit.core import timeseries as ts; ts.open_stack(...)``.

A **stack** (:class:`Stack`) is a displacement time series on one grid: one
2-D layer per acquisition date, read block by block.  It comes from

* a multi-band raster whose bands carry the metadata item ``date``
  (``YYYY-MM-DD``) and whose dataset metadata item ``reference_date`` names the
  date the displacements are relative to (the toolkit's dated-band convention,
  :mod:`.dates`);
* a list of single-date rasters, the date of each from its band metadata or its
  file name (``displacement_20160711_20160723.tif`` = reference 2016-07-11,
  acquisition 2016-07-23), or a folder of such rasters.  All must be on one
  grid (same size, geotransform and CRS): resample them first with
  ``displacement:common_grid`` otherwise.

Dates are UTC calendar days: ``2016-07-23T16:04:31`` and ``20160723`` are the
same acquisition (:func:`.dates.parse_date`).

When every source names the same reference date and that date is not one of
the bands, the stack gains an **implicit reference epoch**: the displacement
at the reference date is zero by definition (MintPy stores that epoch as a
band of zeros; products written as one file per acquisition do not).  The
output metadata say so (``implicit_reference_epoch``).

Units: values stay in the unit of the input (band metadata ``units`` or the
GDAL unit type; ``m`` when none is given).  Velocities are in that unit per
year, a year being 365.25 days (:data:`.units.DAYS_PER_YEAR`).  Signs are those
of the input (LOS positive toward the satellite in the toolkit's convention,
docs/conventions.md).  NaN is nodata everywhere.
"""

from __future__ import annotations

from .stack import (  # noqa: F401
    RASTER_EXTENSIONS,
    COMMON_GRID_HINT,
    Epoch,
    Stack,
    EpochsReader,
    expand_sources,
    open_stack,
    PRODUCT_EXTENSIONS,
    Selection,
    nearest_acquisition,
    check_date_range,
    engine_for_stack,
)
from .cumulative import (  # noqa: F401
    CumulativeResult,
    cumulative_displacement,
)
from .velocity import (  # noqa: F401
    MAX_PATTERNS,
    TIME_AXES,
    STEP_RULES,
    SECONDS_PER_YEAR,
    decimal_years,
    years_since,
    step_column,
    design_matrix,
    acquisition_seconds,
    FitResult,
    fit_pixels,
    validity_patterns,
    VelocityResult,
    VelocityModel,
    velocity_model,
    timeseries_velocity,
)
from .reference import (  # noqa: F401
    transform_point,
    Reference,
    point_reference,
    gnss_station_position,
    gnss_reference,
    polygon_reference,
    RereferenceResult,
    rereference,
)
from .decomposition import (  # noqa: F401
    common_dates,
    interpolation_weights,
    interpolate_in_time,
    Track,
    DecomposeResult,
    timeseries_decompose,
)
from ..progress import ensure_monitor  # noqa: F401
from ..raster_io import wgs84_wkt  # noqa: F401
from ..units import DAYS_PER_YEAR  # noqa: F401
