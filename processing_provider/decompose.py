"""``displacement:decompose``: LOS, range and azimuth offsets into east, north, up (thin glue)."""

from qgis.core import (
    QgsProcessingParameterCrs,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingUtils,
)

from ..core import decomposition as dec
from ..core import validation
from ..core.products.defaults import primary_band
from ..core.products.resolve import geometry_raster
from .base import DisplacementAlgorithm, band_parameter, parameter_error
from .styling import DIVERGING, SEQUENTIAL

SLOTS = (1, 2, 3, 4)
KIND_LABELS = [
    "LOS displacement (positive toward the satellite)",
    "Range offset in length units (positive = range increase, away from the satellite)",
    "Azimuth (along-track) offset in length units (positive along the flight direction)",
]
CONVENTION_LABELS = [
    "Incidence + heading (degrees; heading clockwise from north)",
    "Incidence + LOS azimuth (degrees; MintPy azimuthAngle / ISCE2 los.rdr band 2: "
    "ground-to-satellite, from north, anti-clockwise)",
    "HyP3 lv_theta + lv_phi (radians)",
    "LOS unit vector east + north components (LiCSBAS E.geo/N.geo, OPERA los_east/los_north)",
]
LOOK_LABELS = ["Right (Sentinel-1, default)", "Left"]
MODEL_KEYS = ("east_up", "horizontal_up", "east_north_up")
MODEL_LABELS = [
    "East + up (north assumed zero)",
    "Horizontal along HORIZONTAL_AZIMUTH + up",
    "East + north + up (needs three independent geometries)",
]
COVERAGE_LABELS = [
    "Where every observation is valid (intersection of the observations; default)",
    "Wherever the observations available determine the components (union; pixels may use fewer)",
]
GRID_KEYS = ("first", "coarsest", "custom")
GRID_LABELS = [
    "First observation's grid (its CRS, pixel size and alignment)",
    "Coarsest resolution of the observations",
    "Custom: GRID_RESOLUTION metres in GRID_CRS",
]
OUTPUTS = {
    "east": ("OUTPUT_EAST", "East"),
    "north": ("OUTPUT_NORTH", "North"),
    "up": ("OUTPUT_UP", "Up"),
    "horizontal": ("OUTPUT_HORIZONTAL", "Horizontal"),
    "sigma": ("OUTPUT_SIGMA", "1-sigma"),
    "residual": ("OUTPUT_RESIDUAL", "Weighted RMS residual"),
    "count": ("OUTPUT_COUNT", "Observations used"),
}


class DecomposeAlgorithm(DisplacementAlgorithm):
    NAME = "decompose"
    DISPLAY_NAME = "Decompose LOS and offsets into east, north, up"
    GROUP = "Decomposition"
    GROUP_ID = "decomposition"
    # short: the side panel; the full text is docs/algorithms/decompose.md (Help button)
    HELP = """
    Combines two to four observations (ascending/descending LOS, range or azimuth offsets) into
    east + up, horizontal-along-an-azimuth + up, or east + north + up, per pixel by weighted least
    squares, with the propagated 1-sigma of each component. Angles: incidence from the vertical and
    heading clockwise from north (or LOS azimuth, HyP3 or unit-vector conventions), as constants in
    degrees or per-pixel layers. Pixels whose geometry is too ill-conditioned (MAX_CONDITION) are
    NaN. Outputs in the observations' unit (m, mm, ...); the guided dialog previews the geometry.
    """

    def initAlgorithm(self, config=None):  # noqa: N802
        for k in SLOTS:
            optional = k > 2
            tag = f" (slot {k}{', optional' if optional else ''})"
            self.addParameter(QgsProcessingParameterRasterLayer(
                f"OBS_{k}", f"Observation {k}{tag}", optional=optional))
            self.addParameter(band_parameter(f"BAND_{k}", f"Observation {k} band", f"OBS_{k}"))
            self.addParameter(QgsProcessingParameterEnum(
                f"KIND_{k}", f"Observation {k} kind", KIND_LABELS, defaultValue=0))
            self.addParameter(QgsProcessingParameterRasterLayer(
                f"INCIDENCE_{k}", f"Observation {k} incidence raster (or first geometry input)",
                optional=True))
            self.addParameter(QgsProcessingParameterNumber(
                f"INCIDENCE_ANGLE_{k}", f"Observation {k} constant incidence (or first geometry input)",
                QgsProcessingParameterNumber.Type.Double, defaultValue=None, optional=True))
            self.addParameter(QgsProcessingParameterRasterLayer(
                f"HEADING_{k}", f"Observation {k} heading raster (or second geometry input)",
                optional=True))
            self.addParameter(QgsProcessingParameterNumber(
                f"HEADING_ANGLE_{k}", f"Observation {k} constant heading (or second geometry input)",
                QgsProcessingParameterNumber.Type.Double, defaultValue=None, optional=True))
            self.addParameter(QgsProcessingParameterRasterLayer(
                f"SIGMA_{k}", f"Observation {k} 1-sigma raster (same unit)", optional=True))
            self.addParameter(QgsProcessingParameterNumber(
                f"SIGMA_VALUE_{k}", f"Observation {k} constant 1-sigma (same unit)",
                QgsProcessingParameterNumber.Type.Double, defaultValue=None, optional=True, minValue=0.0))
            for name, label, parent in ((f"INCIDENCE_BAND_{k}", "incidence raster band", f"INCIDENCE_{k}"),
                                        (f"HEADING_BAND_{k}", "heading raster band", f"HEADING_{k}")):
                param = band_parameter(name, f"Observation {k} {label}", parent)
                param.setFlags(param.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
                self.addParameter(param)
        self.addParameter(QgsProcessingParameterEnum(
            "ANGLE_CONVENTION", "Angle convention of the geometry inputs", CONVENTION_LABELS,
            defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(
            "LOOK_DIRECTION", "Look direction", LOOK_LABELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(
            "COMPONENTS", "Components", MODEL_LABELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            "HORIZONTAL_AZIMUTH", "Horizontal azimuth (degrees clockwise from north; horizontal model)",
            QgsProcessingParameterNumber.Type.Double, defaultValue=90.0, minValue=-360.0, maxValue=360.0))
        self.addParameter(QgsProcessingParameterEnum("GRID", "Common grid", GRID_LABELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            "GRID_RESOLUTION", "Custom grid resolution (metres)", QgsProcessingParameterNumber.Type.Double,
            defaultValue=None, optional=True, minValue=0.0))
        self.addParameter(QgsProcessingParameterCrs(
            "GRID_CRS", "Custom grid CRS (default: the first observation's)", optional=True))
        cond = QgsProcessingParameterNumber(
            "MAX_CONDITION", "Maximum condition number of the geometry (larger -> NaN)",
            QgsProcessingParameterNumber.Type.Double, defaultValue=dec.DEFAULT_MAX_CONDITION, minValue=1.0)
        cond.setFlags(cond.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        self.addParameter(cond)
        # optional: models saved before this parameter existed stay valid
        self.addParameter(QgsProcessingParameterEnum(
            "COVERAGE", "Pixels to solve", COVERAGE_LABELS, defaultValue=0, optional=True))
        for key, (name, label) in OUTPUTS.items():
            self.addParameter(QgsProcessingParameterRasterDestination(
                name, f"{label} ({'when solved' if key in ('north', 'horizontal') else 'output'})",
                optional=True, createByDefault=key != "count"))

    # --- parameter helpers ----------------------------------------------------
    @staticmethod
    def _given(parameters, name):
        value = parameters.get(name)
        return value is not None and value != ""

    def _raster_or_constant(self, parameters, context, raster_name, value_name, band_name=None):
        """(value, band): a raster path or a float, or (None, 1) when neither is given."""
        path = self.raster_path(parameters, raster_name, context, required=False)
        has_value = self._given(parameters, value_name)
        if path and has_value:
            raise parameter_error(value_name, parameters.get(value_name),
                                  f"both {raster_name} and {value_name} are given",
                                  "Give the raster or the constant, not both")
        if path:
            band = 1
            if band_name:
                info = self.raster_info(path, raster_name)
                band = self.raster_band(parameters, raster_name, context, info, band_name)
            return path, band
        if has_value:
            return self.parameterAsDouble(parameters, value_name, context), 1
        return None, 1

    # quantities of core/products/resolve.geometry_raster giving each ANGLE_CONVENTION's inputs
    PRODUCT_GEOMETRY = {"heading": ("incidence", "heading"), "los_azimuth": ("incidence", "los_azimuth"),
                        "unit_vector": ("east", "north")}

    def _product_geometry(self, parameters, context, k, product, convention, inc, head, needs_inc,
                          feedback):
        """Missing geometry inputs of observation ``k`` read from its product, written per pixel
        in ``convention`` (the look direction of LOOK_DIRECTION, so the product's LOS is kept)."""
        if convention not in self.PRODUCT_GEOMETRY:
            raise parameter_error("ANGLE_CONVENTION", convention, f"OBS_{k} is a {product.processor} "
                                  "product whose geometry is read in degrees or as a unit vector",
                                  "Choose incidence + heading (default), incidence + LOS azimuth or "
                                  f"unit vector, or give INCIDENCE_{k} and HEADING_{k}")
        look = ("right", "left")[self.parameterAsEnum(parameters, "LOOK_DIRECTION", context)]
        first, second = self.PRODUCT_GEOMETRY[convention]
        values = []
        for value, quantity, name in ((inc, first, f"INCIDENCE_{k}"), (head, second, f"HEADING_{k}")):
            if value is None and (needs_inc or name.startswith("HEADING")):
                try:
                    value = geometry_raster(product, quantity, QgsProcessingUtils.tempFolder(), look)
                except ValueError as exc:
                    raise parameter_error(name, None, str(exc), f"Give {name} (raster) or "
                                          f"{name.replace('_', '_ANGLE_', 1)} (constant)") from exc
                if feedback is not None:
                    feedback.pushInfo(f"OBS_{k}: {quantity.replace('_', ' ')} per pixel from the product "
                                      f"({product.processor}, {product.geometry.source or 'its metadata'})")
            values.append(value)
        return values[0], values[1]

    @staticmethod
    def _recorded_geometry(k, recorded, convention, inc, head, feedback):
        """Missing constant geometry of observation ``k`` from what its raster records
        (Load product's geometry_* metadata, PyRate's INCIDENCE_DEGREES...; see
        core/products/defaults.py), in ``convention`` (heading or LOS azimuth)."""
        second = {"heading": "heading", "los_azimuth": "los_azimuth"}.get(convention)
        for key, value in (("incidence", inc), (second, head)):
            if value is None and key in recorded:
                if feedback is not None:
                    feedback.pushInfo(f"OBS_{k}: {key.replace('_', ' ')} {recorded[key].value:g} deg "
                                      f"from {recorded[key].source}")
                if key == "incidence":
                    inc = float(recorded[key].value)
                else:
                    head = float(recorded[key].value)
        return inc, head

    def _observations(self, parameters, context, convention, feedback=None):
        observations = []
        for k in SLOTS:
            path = self.raster_path(parameters, f"OBS_{k}", context, required=k <= 2)
            if not path:
                extra = [n for n in (f"INCIDENCE_{k}", f"INCIDENCE_ANGLE_{k}", f"HEADING_{k}",
                                     f"HEADING_ANGLE_{k}", f"SIGMA_{k}", f"SIGMA_VALUE_{k}")
                         if self._given(parameters, n)]
                if extra:
                    raise parameter_error(extra[0], parameters.get(extra[0]),
                                          f"slot {k} has geometry or sigma but no observation",
                                          f"Give OBS_{k} or leave slot {k} empty")
                continue
            info = self.raster_info(path, f"OBS_{k}")
            band = self.raster_band(parameters, f"OBS_{k}", context, info, f"BAND_{k}")
            if not self._given(parameters, f"BAND_{k}"):   # ROI_PAC .unw: the phase band
                band = primary_band(path, self.raster_product(f"OBS_{k}")) or band
            recorded = self.raster_defaults(f"OBS_{k}", path, band)
            kind = dec.KINDS[self.parameterAsEnum(parameters, f"KIND_{k}", context)]
            inc, inc_band = self._raster_or_constant(parameters, context, f"INCIDENCE_{k}",
                                                     f"INCIDENCE_ANGLE_{k}", f"INCIDENCE_BAND_{k}")
            head, head_band = self._raster_or_constant(parameters, context, f"HEADING_{k}",
                                                       f"HEADING_ANGLE_{k}", f"HEADING_BAND_{k}")
            sigma, _ = self._raster_or_constant(parameters, context, f"SIGMA_{k}", f"SIGMA_VALUE_{k}")
            needs_inc = not (kind == "azimuth_offset" and convention != "unit_vector")
            product = self.raster_product(f"OBS_{k}")
            if product is not None and (head is None or (needs_inc and inc is None)):
                inc, head = self._product_geometry(parameters, context, k, product, convention,
                                                   inc, head, needs_inc, feedback)
            if product is None and (head is None or (needs_inc and inc is None)):
                inc, head = self._recorded_geometry(k, recorded, convention, inc, head, feedback)
            if head is None or (needs_inc and inc is None):
                missing = f"HEADING_{k}" if head is None else f"INCIDENCE_{k}"
                raise parameter_error(
                    missing, None, f"observation {k} ({kind}) needs its geometry",
                    f"Give {missing} (raster) or {missing.replace('_', '_ANGLE_', 1)} (constant) "
                    "in the chosen ANGLE_CONVENTION")
            if isinstance(inc, str) and inc == head and inc_band == head_band:
                raise parameter_error(
                    f"HEADING_BAND_{k}", head_band,
                    f"INCIDENCE_{k} and HEADING_{k} are the same band of the same raster",
                    "Choose the band that holds the second geometry input (ISCE2 los.rdr: band 2)")
            first, second = validation.CONVENTION_QUANTITIES[convention]
            if needs_inc:
                validation.check_geometry_input(inc, inc_band, first, f"INCIDENCE_{k}",
                                                f"INCIDENCE_ANGLE_{k}")
            validation.check_geometry_input(head, head_band, second, f"HEADING_{k}",
                                            f"HEADING_ANGLE_{k}")
            if needs_inc and not isinstance(inc, str) and not isinstance(head, str):
                validation.geometry_pair(inc, head, convention,
                                         (f"INCIDENCE_ANGLE_{k}", f"HEADING_ANGLE_{k}"))
            if convention == "unit_vector" and isinstance(inc, str) and isinstance(head, str):
                validation.check_unit_vector_raster([(inc, inc_band), (head, head_band)],
                                                    f"INCIDENCE_{k} and HEADING_{k} (east, north)")
            if isinstance(sigma, float) and not sigma > 0:
                raise parameter_error(f"SIGMA_VALUE_{k}", sigma, "a 1-sigma must be positive",
                                      "Give a positive value in the observation's unit")
            observations.append(dec.Observation(
                path=path, band=band, kind=kind, incidence=inc, heading=head, sigma=sigma,
                incidence_band=inc_band, heading_band=head_band, name=f"OBS_{k}"))
        return observations

    # --- run ----------------------------------------------------------------------
    def compute(self, parameters, context, feedback):
        convention = dec.ANGLE_CONVENTIONS[self.parameterAsEnum(parameters, "ANGLE_CONVENTION", context)]
        look = ("right", "left")[self.parameterAsEnum(parameters, "LOOK_DIRECTION", context)]
        model = MODEL_KEYS[self.parameterAsEnum(parameters, "COMPONENTS", context)]
        grid = GRID_KEYS[self.parameterAsEnum(parameters, "GRID", context)]
        observations = self._observations(parameters, context, convention, feedback)
        components = dec.COMPONENT_MODELS[model]
        if len(observations) < len(components):
            raise parameter_error(
                "COMPONENTS", MODEL_LABELS[MODEL_KEYS.index(model)],
                f"{len(observations)} observations cannot determine {len(components)} components",
                "Add a third observation with another geometry (e.g. an azimuth offset) or "
                "choose east + up")
        resolution = None
        crs_wkt = None
        if grid == "custom":
            if not self._given(parameters, "GRID_RESOLUTION") or \
                    not self.parameterAsDouble(parameters, "GRID_RESOLUTION", context) > 0:
                raise parameter_error("GRID_RESOLUTION", parameters.get("GRID_RESOLUTION"),
                                      "a custom grid needs a resolution",
                                      "Give the pixel size in metres")
            resolution = self.parameterAsDouble(parameters, "GRID_RESOLUTION", context)
            crs = self.parameterAsCrs(parameters, "GRID_CRS", context)
            crs_wkt = crs.toWkt() if crs.isValid() else None
        azimuth = self.parameterAsDouble(parameters, "HORIZONTAL_AZIMUTH", context)
        max_condition = self.parameterAsDouble(parameters, "MAX_CONDITION", context)
        coverage = dec.COVERAGE_CHOICES[self.parameterAsEnum(parameters, "COVERAGE", context)]

        wanted = set(components) | {"sigma", "residual", "count"}
        paths = {}
        skipped = []
        for key, (name, _label) in OUTPUTS.items():
            path = self.output_raster_path(parameters, name, context)
            if key in wanted and path:
                paths[key] = path
            elif path:
                skipped.append(path)
        used = {k: v for k, v in parameters.items() if not str(k).startswith("OUTPUT")}
        summary = dec.decompose(
            observations, paths, model=model, horizontal_azimuth=azimuth, convention=convention,
            look_direction=look, grid=grid, grid_resolution_m=resolution, grid_crs_wkt=crs_wkt,
            max_condition=max_condition, parameters=used, monitor=self.monitor(feedback),
            coverage=coverage)
        skipped += [p for k, p in paths.items() if k not in summary.outputs]
        if skipped:  # outputs this model does not produce: do not try to load them
            layers = context.layersToLoadOnCompletion()
            for p in skipped:
                layers.pop(p, None)
            context.setLayersToLoadOnCompletion(layers)
        for note in summary.notes:
            feedback.pushInfo(note)
        lacking = ("missing an observation, angle or sigma" if coverage == "all" else
                   f"with fewer than {len(components)} observations")
        feedback.pushInfo(
            f"{summary.solved} of {summary.pixels} pixels solved; {summary.missing} {lacking}; "
            f"{summary.ill_conditioned} ill-conditioned (condition number above "
            f"{summary.max_condition:g}). Unit: {summary.units or 'not recorded'}.")
        if summary.partial:
            feedback.pushInfo(f"{summary.partial} of the solved pixels used fewer than all "
                              f"{len(observations)} observations (OUTPUT_COUNT shows where)")
        if summary.ill_conditioned:
            feedback.pushWarning(
                f"{summary.ill_conditioned} pixels have nearly parallel geometries (condition "
                f"number above {summary.max_condition:g}) and are NaN: the observations cannot "
                "separate the components there")
        results = {}
        unit = summary.units
        for key, path in summary.outputs.items():
            name, label = OUTPUTS[key]
            if key in components:
                kind, units = DIVERGING, unit
            elif key == "count":
                kind, units = SEQUENTIAL, "observations"
            else:
                kind, units = SEQUENTIAL, summary.sigma_units if key == "sigma" else unit
            stats = summary.stats[key][0]
            self.finish_raster(path, context, kind, units, stats, layer_name=f"{label} ({model})")
            results[name] = path
        return results
