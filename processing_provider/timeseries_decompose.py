"""displacement:timeseries_decompose — east and up time series from two or more LOS time
series acquired on different dates and grids."""

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..core import timeseries as ts
from ..core import validation
from ..core.decomposition import COVERAGE_CHOICES, DEFAULT_MAX_CONDITION
from ..core.grid import RESAMPLING_CHOICES
from .base import DisplacementAlgorithm, parameter_error
from .styling import DIVERGING, SEQUENTIAL
from .timeseries_common import GROUP, GROUP_ID, raster_source_type

TRACKS = 3
LOOK = ["right", "left"]
COVERAGE_LABELS = [
    "Where every track has data (intersection of the tracks; default)",
    "Wherever the tracks available determine east and up (union; pixels may use fewer tracks)",
]

# short: the side panel; the full text is docs/algorithms/timeseries_decompose.md (Help button)
HELP = """
East and up displacement time series from two or three LOS time series (e.g. Sentinel-1
ascending and descending) on different dates and grids: a common grid, common dates (union of
the acquisitions, or every STEP_DAYS days), linear interpolation in time (never extrapolated),
then a weighted least-squares solve per pixel and date. Geometry from INCIDENCE_k/HEADING_k
(degrees), LOS_ENU_k, or the tracks' metadata. Outputs: east and up series (input unit) with
their 1-sigma.
"""


class TimeseriesDecompose(DisplacementAlgorithm):
    NAME = "timeseries_decompose"
    DISPLAY_NAME = "Decompose LOS time series into east and up"
    GROUP = GROUP
    GROUP_ID = GROUP_ID
    HELP = HELP

    def initAlgorithm(self, config=None):  # noqa: N802
        for k in range(1, TRACKS + 1):
            optional = k > 2
            self.addParameter(QgsProcessingParameterMultipleLayers(
                f"TRACK_{k}", f"Track {k}: LOS displacement time series (dated rasters)",
                raster_source_type(), optional=optional))
            self.addParameter(QgsProcessingParameterNumber(
                f"INCIDENCE_{k}", f"Track {k}: incidence (degrees from the vertical)",
                QgsProcessingParameterNumber.Type.Double, optional=True, minValue=0.0,
                maxValue=89.9))
            self.addParameter(QgsProcessingParameterNumber(
                f"HEADING_{k}", f"Track {k}: heading (degrees clockwise from north)",
                QgsProcessingParameterNumber.Type.Double, optional=True, minValue=-360.0,
                maxValue=360.0))
            self.addParameter(QgsProcessingParameterRasterLayer(
                f"LOS_ENU_{k}", f"Track {k}: or LOS unit-vector raster (east, north, up bands)",
                optional=True))
            self.addParameter(QgsProcessingParameterNumber(
                f"SIGMA_{k}", f"Track {k}: 1-sigma of one LOS value (input unit; 0 = unknown)",
                QgsProcessingParameterNumber.Type.Double, defaultValue=0.0, optional=True,
                minValue=0.0))
        self.addParameter(QgsProcessingParameterEnum(
            "LOOK_DIRECTION", "Look direction", LOOK, defaultValue=0, optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "STEP_DAYS", "Regular step of the output dates in days (0 = union of the acquisitions)",
            QgsProcessingParameterNumber.Type.Integer, defaultValue=0, optional=True, minValue=0))
        self.addParameter(QgsProcessingParameterEnum(
            "RESAMPLING", "Spatial resampling onto the common grid", list(RESAMPLING_CHOICES),
            defaultValue=list(RESAMPLING_CHOICES).index("bilinear"), optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "MAX_CONDITION", "Largest condition number of the geometry",
            QgsProcessingParameterNumber.Type.Double, defaultValue=DEFAULT_MAX_CONDITION,
            optional=True, minValue=1.0))
        self.addParameter(QgsProcessingParameterEnum(
            "COVERAGE", "Pixels to solve", COVERAGE_LABELS, defaultValue=0, optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination("EAST", "East time series"))
        self.addParameter(QgsProcessingParameterRasterDestination("UP", "Up time series"))
        self.addParameter(QgsProcessingParameterRasterDestination(
            "SIGMA_EAST", "East 1-sigma", optional=True, createByDefault=True))
        self.addParameter(QgsProcessingParameterRasterDestination(
            "SIGMA_UP", "Up 1-sigma", optional=True, createByDefault=True))
        self.addOutput(QgsProcessingOutputNumber("DATES", "Number of output dates"))
        self.addOutput(QgsProcessingOutputString("REFERENCE_DATE", "Reference date of the outputs"))

    def _track(self, parameters, context, k):
        paths = self.raster_paths(parameters, f"TRACK_{k}", context)
        if not paths:
            return None

        def number(name):
            value = parameters.get(name)
            if value is None or value == "":
                return None
            return self.parameterAsDouble(parameters, name, context)

        enu = self.raster_path(parameters, f"LOS_ENU_{k}", context, required=False)
        if enu:
            info = self.raster_info(enu, f"LOS_ENU_{k}")
            if info.band_count < 3:
                raise parameter_error(f"LOS_ENU_{k}", enu, f"it has {info.band_count} band(s)",
                                      "Give a 3-band east, north, up LOS unit-vector raster")
            validation.check_unit_vector_raster([(enu, 1), (enu, 2), (enu, 3)], f"LOS_ENU_{k}")
        look = LOOK[self.parameterAsEnum(parameters, "LOOK_DIRECTION", context)]
        return ts.Track(paths, number(f"INCIDENCE_{k}"), number(f"HEADING_{k}"), look, enu,
                        self.parameterAsDouble(parameters, f"SIGMA_{k}", context) or 0.0,
                        f"track {k}")

    def compute(self, parameters, context, feedback):
        tracks, names = [], []
        for k in range(1, TRACKS + 1):
            tr = self._track(parameters, context, k)
            if tr is None:
                if k <= 2:
                    raise parameter_error(f"TRACK_{k}", parameters.get(f"TRACK_{k}"),
                                          "no time series given", "Choose the dated rasters of the track")
                continue
            tracks.append(tr)
            names.append(f"TRACK_{k}")
        # open each track once here to name the parameter in errors (grids, dates, units)
        for tr, name in zip(tracks, names):
            try:
                st = ts.open_stack(tr.paths)
            except ValueError as exc:
                raise parameter_error(name, tr.paths, str(exc), "Check the rasters of the track") from exc
            feedback.pushInfo(f"{name}: {st.describe()}")
            k = name.split("_")[1]
            if not tr.enu_path:
                for param, value, key in ((f"INCIDENCE_{k}", tr.incidence, "geometry_incidence"),
                                          (f"HEADING_{k}", tr.heading, "geometry_heading")):
                    if value is None and not st.metadata.get(key):
                        raise parameter_error(
                            param, None, f"track {k} has no geometry (the raster carries no "
                            f"'{key}' metadata and LOS_ENU_{k} is empty)",
                            f"Give INCIDENCE_{k} and HEADING_{k} in degrees, or LOS_ENU_{k}")
            st.close()
        outs = {key: self.output_raster_path(parameters, name, context)
                for key, name in (("east", "EAST"), ("up", "UP"), ("sigma_east", "SIGMA_EAST"),
                                  ("sigma_up", "SIGMA_UP"))}
        step = self.parameterAsInt(parameters, "STEP_DAYS", context)
        resampling = RESAMPLING_CHOICES[self.parameterAsEnum(parameters, "RESAMPLING", context)]
        max_cond = self.parameterAsDouble(parameters, "MAX_CONDITION", context)
        coverage = COVERAGE_CHOICES[self.parameterAsEnum(parameters, "COVERAGE", context)]
        res = ts.timeseries_decompose(tracks, outs["east"], outs["up"], outs["sigma_east"],
                                      outs["sigma_up"], step, resampling, max_cond,
                                      self.monitor(feedback), coverage=coverage)
        feedback.pushInfo(f"{len(res.dates)} dates {res.dates[0]} .. {res.dates[-1]} (reference "
                          f"{res.dates[0]}); largest gap interpolated per track: "
                          f"{', '.join(f'{g} days' for g in res.max_gap_days)}; grid "
                          f"{res.grid.width} x {res.grid.height}")
        sig_unit = res.units if all(tr.sigma > 0 for tr in tracks) else "1"
        styles = {"east": (DIVERGING, res.units, "East"), "up": (DIVERGING, res.units, "Up"),
                  "sigma_east": (SEQUENTIAL, sig_unit, "East 1-sigma"),
                  "sigma_up": (SEQUENTIAL, sig_unit, "Up 1-sigma")}
        last = len(res.dates)
        for key, (kind, unit, label) in styles.items():
            if outs[key]:
                self.finish_raster(outs[key], context, kind, unit, res.stats[key],
                                   layer_name=f"{label} {res.dates[0]} to {res.dates[-1]}", band=last)
        return {"EAST": outs["east"], "UP": outs["up"], "SIGMA_EAST": outs["sigma_east"],
                "SIGMA_UP": outs["sigma_up"], "DATES": len(res.dates),
                "REFERENCE_DATE": res.dates[0].isoformat()}
