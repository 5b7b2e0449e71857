"""displacement:los_to_vertical: phase/LOS conversion and projection on one direction (core.los)."""

import os

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingUtils,
)

from ..core import los as core_los
from ..core import validation
from ..core.products.defaults import primary_band
from ..core.products.resolve import geometry_raster
from ..core.units import normalize_unit
from .base import DisplacementAlgorithm, band_parameter, parameter_error
from .styling import DIVERGING

QUANTITY_KEYS = ["los_displacement", "los_velocity", "phase", "input"]
QUANTITY_LABELS = ["LOS displacement", "LOS velocity (per year)", "Unwrapped phase (radians)",
                   "From the input (what its processor or metadata says; else LOS displacement)"]
LENGTH_UNITS = ["m", "cm", "mm"]
INPUT_UNIT_KEYS = LENGTH_UNITS + ["input"]
INPUT_UNIT_LABELS = LENGTH_UNITS + ["From the input (its units; else m)"]
WAVELENGTH_KEYS = ["sentinel1", "alos2", "terrasarx", "custom", "metadata"]
WAVELENGTH_LABELS = [
    f"Sentinel-1 C band ({core_los.WAVELENGTHS['sentinel1']} m)",
    f"ALOS-2 / NISAR L band ({core_los.WAVELENGTHS['alos2']} m)",
    f"TerraSAR-X X band ({core_los.WAVELENGTHS['terrasarx']} m)",
    "Custom (WAVELENGTH)",
    "From the input (its product or metadata: Load product's geometry_wavelength, PyRate's "
    "WAVELENGTH_METRES, ...)",
]
PHASE_KEYS = ["isce2", "mintpy", "snap", "gamma", "roipac", "opposite"]
PHASE_LABELS = ["ISCE2 (LOS = -lambda/4pi * phase)", "MintPy unwrapPhase (LOS = -lambda/4pi * phase)",
                "SNAP (LOS = -lambda/4pi * phase)", "GAMMA (LOS = -lambda/4pi * phase)",
                "ROI_PAC (LOS = -lambda/4pi * phase)",
                "Opposite sign (LOS = +lambda/4pi * phase)"]
ANGLE_UNIT_KEYS = ["auto", "degrees", "radians"]
DIRECTION_KEYS = ["vertical", "east", "custom"]
DIRECTION_LABELS = ["Vertical (positive up)", "East-west horizontal (positive east; needs HEADING)",
                    "Custom direction (AZIMUTH and PLUNGE)"]


class LosToVertical(DisplacementAlgorithm):
    NAME = "los_to_vertical"
    DISPLAY_NAME = "LOS to vertical (or any one direction)"
    GROUP = "Grids and geometry"
    GROUP_ID = "grids"
    # short: the side panel; the full text is docs/algorithms/los_to_vertical.md (Help button)
    HELP = """
    Converts unwrapped phase (rad) or LOS displacement/velocity into displacement along one
    direction: vertical (default), east-west or a custom azimuth and plunge, assuming all motion
    is along it (with two or more geometries use displacement:decompose). LOS is positive toward
    the satellite; phase → LOS = s · wavelength / 4π · phase. Quantity, units, wavelength and
    incidence (degrees from the vertical, strictly between 0 and 90; a raster or a constant)
    default to what the input records. Output in OUTPUT_UNITS (m, cm, mm or per year), NaN where
    the projection amplifies noise too much.
    """

    def initAlgorithm(self, config=None):  # noqa: N802
        double = QgsProcessingParameterNumber.Type.Double
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Input raster (LOS or phase)"))
        self.addParameter(band_parameter("BAND", "Band", "INPUT"))
        self.addParameter(QgsProcessingParameterEnum("QUANTITY", "Quantity", QUANTITY_LABELS, defaultValue=3))
        self.addParameter(QgsProcessingParameterEnum(
            "INPUT_UNITS", "Input units (per year for velocity; ignored for phase)", INPUT_UNIT_LABELS,
            defaultValue=3))
        self.addParameter(QgsProcessingParameterEnum(
            "WAVELENGTH_PRESET", "Wavelength (phase input)", WAVELENGTH_LABELS, defaultValue=4))
        self.addParameter(QgsProcessingParameterNumber(
            "WAVELENGTH", "Custom wavelength (m)", double, optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            "PHASE_SIGN", "Phase sign convention (processor)", PHASE_LABELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterRasterLayer(
            "INCIDENCE", "Incidence angle raster", optional=True))
        self.addParameter(band_parameter("INCIDENCE_BAND", "Incidence band", "INCIDENCE"))
        self.addParameter(QgsProcessingParameterEnum(
            "INCIDENCE_UNITS", "Incidence raster units", ANGLE_UNIT_KEYS, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            "INCIDENCE_ANGLE", "Constant incidence angle (degrees)", double, optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            "DIRECTION", "Direction", DIRECTION_LABELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            "HEADING", "Heading (degrees clockwise from north)", double, optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            "LOOK_DIRECTION", "Look direction", ["right", "left"], defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            "AZIMUTH", "Custom direction azimuth (degrees clockwise from north)", double, defaultValue=0.0))
        self.addParameter(QgsProcessingParameterNumber(
            "PLUNGE", "Custom direction plunge (degrees below horizontal)", double, defaultValue=0.0,
            minValue=-90.0, maxValue=90.0))
        self.addParameter(QgsProcessingParameterNumber(
            "MAX_AMPLIFICATION", "Maximum amplification |1/sensitivity|", double, defaultValue=5.0,
            minValue=1.0))
        self.addParameter(QgsProcessingParameterEnum(
            "OUTPUT_UNITS", "Output units (per year for velocity)", LENGTH_UNITS, defaultValue=0))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Projected displacement"))
        self.addParameter(QgsProcessingParameterRasterDestination(
            "OUTPUT_LOS", "LOS displacement (m, phase input only)", optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber("MASKED_PIXELS", "Pixels masked by MAX_AMPLIFICATION"))

    @staticmethod
    def _optional_number(parameters, name):
        value = parameters.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise parameter_error(name, value, "not a number", "Give a number") from None

    def _quantity_and_units(self, parameters, context, defaults, feedback):
        """QUANTITY and the length unit of INPUT_UNITS: as chosen, else (not given, or "from
        the input", the default) what the input says (a MintPy velocity is a LOS velocity in
        m/yr, a PyRate GeoTIFF with DATA_UNITS = RADIANS a phase, LiCSBAS cum in mm), else LOS
        displacement in m; a QUANTITY contradicting what a processor wrote is refused."""
        index = self.parameterAsEnum(parameters, "QUANTITY", context)
        stated = defaults.get("los_quantity")
        units = defaults.get("units")
        if parameters.get("QUANTITY") in (None, "") or QUANTITY_KEYS[index] == "input":
            quantity = stated.value if stated is not None else "los_displacement"
            feedback.pushInfo(f"QUANTITY: {QUANTITY_LABELS[QUANTITY_KEYS.index(quantity)]} from "
                              f"{stated.source}; set QUANTITY to override" if stated is not None else
                              "QUANTITY: the input does not say what it holds: read as LOS displacement")
        else:
            quantity = QUANTITY_KEYS[index]
            if stated is not None and stated.value != quantity:
                said = QUANTITY_LABELS[QUANTITY_KEYS.index(stated.value)]
                if defaults["processor"].value != "GDAL":
                    raise parameter_error(
                        "QUANTITY", QUANTITY_LABELS[index], f"the input is a {said} in "
                        f"{units.value if units else 'no stated unit'} ({stated.source})",
                        f"Leave QUANTITY unset (from the input) or choose '{said}'")
                # the toolkit's own metadata: a hint, the choice stands
                feedback.pushWarning(f"QUANTITY = {QUANTITY_LABELS[index]} although {stated.source} "
                                     f"says {said}: read as {QUANTITY_LABELS[index]} as asked")
                units = None
        unit_index = self.parameterAsEnum(parameters, "INPUT_UNITS", context)
        chosen = None if parameters.get("INPUT_UNITS") in (None, "") \
            or INPUT_UNIT_KEYS[unit_index] == "input" else INPUT_UNIT_KEYS[unit_index]
        if quantity == "phase" or units is None:
            return quantity, chosen or "m"
        try:
            stated_length = normalize_unit(units.value).split("/")[0]
        except ValueError:
            return quantity, chosen or "m"
        if chosen is None:
            feedback.pushInfo(f"INPUT_UNITS: {units.value} from {units.source}")
            return quantity, stated_length
        if stated_length != chosen:
            feedback.pushWarning(f"INPUT_UNITS = {chosen} although {units.source} says "
                                 f"{units.value}: the values are read as {chosen} as asked")
        return quantity, chosen

    def compute(self, parameters, context, feedback):
        path = self.raster_path(parameters, "INPUT", context)
        info = self.raster_info(path, "INPUT")
        band = self.raster_band(parameters, "INPUT", context, info, "BAND")
        product = self.raster_product("INPUT")   # a processor product given directly
        if parameters.get("BAND") in (None, "") and primary_band(path, product):
            band = primary_band(path, product)   # ROI_PAC .unw: the phase, not the amplitude
        defaults = self.raster_defaults("INPUT", path, band)   # what the file says, with sources
        if product is not None:
            layer = product.layer(defaults["layer"].value)
            which = f", band {band}: {layer.band_description(band)}" if 1 < layer.bands >= band else ""
            feedback.pushInfo(f"INPUT is a {product.processor} {product.product_type}: read from "
                              f"{os.path.basename(product.path)} (layer {layer.name}{which})")
        quantity, length = self._quantity_and_units(parameters, context, defaults, feedback)
        input_units = core_los.output_unit_for(quantity, length) if quantity != "phase" else "m"
        output_units = core_los.output_unit_for(
            quantity, LENGTH_UNITS[self.parameterAsEnum(parameters, "OUTPUT_UNITS", context)])

        recorded = core_los.geometry_from_metadata(info.metadata)
        sources = {key: "the input metadata (geometry_" + key + ")" for key in recorded}
        for key in ("wavelength", "heading", "incidence", "look_direction"):
            if key in defaults:
                recorded[key], sources[key] = defaults[key].value, defaults[key].source
        wavelength, convention = None, PHASE_KEYS[self.parameterAsEnum(parameters, "PHASE_SIGN", context)]
        if parameters.get("PHASE_SIGN") in (None, "") and "phase_convention" in defaults:
            convention = defaults["phase_convention"].value
        if quantity == "phase":
            preset = WAVELENGTH_KEYS[self.parameterAsEnum(parameters, "WAVELENGTH_PRESET", context)]
            custom = self._optional_number(parameters, "WAVELENGTH")
            if custom is not None:
                preset = "custom"               # a WAVELENGTH value always wins
            elif parameters.get("WAVELENGTH_PRESET") in (None, "") and "wavelength" not in recorded:
                preset = "sentinel1"
                feedback.pushInfo("The input records no wavelength: the Sentinel-1 C band preset is "
                                  "used (set WAVELENGTH_PRESET or WAVELENGTH otherwise)")
            if preset == "metadata":
                if "wavelength" not in recorded:
                    raise parameter_error("WAVELENGTH_PRESET", "from the input's metadata",
                                          "the input has no geometry_wavelength metadata",
                                          "Choose a preset or give WAVELENGTH in metres")
                wavelength = core_los.check_wavelength(recorded["wavelength"], "WAVELENGTH_PRESET")
                feedback.pushInfo(f"Wavelength {wavelength} m from the input metadata: "
                                  f"{sources['wavelength']}")
            elif preset == "custom" or custom is not None:
                if custom is None:
                    raise parameter_error("WAVELENGTH", None, "the custom wavelength is not given",
                                          "Give WAVELENGTH in metres, e.g. 0.05546576")
                wavelength = core_los.check_wavelength(custom, "WAVELENGTH")
            else:
                wavelength = core_los.WAVELENGTHS[preset]
            feedback.pushInfo(f"Phase -> LOS: wavelength {wavelength} m, {convention} convention: "
                              f"LOS = {core_los.phase_sign(convention):+.0f} * wavelength / (4 pi) * phase "
                              "(positive toward the satellite)")

        inc_path = self.raster_path(parameters, "INCIDENCE", context, required=False)
        constant = self._optional_number(parameters, "INCIDENCE_ANGLE")
        if inc_path:
            inc_info = self.raster_info(inc_path, "INCIDENCE")
            inc_band = self.raster_band(parameters, "INCIDENCE", context, inc_info, "INCIDENCE_BAND")
            incidence = inc_path
            if constant is not None:
                feedback.pushInfo("Both INCIDENCE and INCIDENCE_ANGLE are given: the raster is used.")
        elif constant is None and product is not None and (product.geometry.incidence_layer
                                                           or product.geometry.enu_layers):
            inc_path = geometry_raster(product, "incidence", QgsProcessingUtils.tempFolder(),
                                       monitor=self.monitor(feedback))
            incidence, inc_band = inc_path, 1
            feedback.pushInfo(f"Incidence per pixel from the product ({product.processor}, "
                              f"{product.geometry.source}); set INCIDENCE or INCIDENCE_ANGLE to override")
        elif constant is not None or "incidence" in recorded:
            inc_band = 1
            if constant is None:
                constant = recorded["incidence"]
                origin = (f"the product ({product.processor}, {product.geometry.source})"
                          if product is not None else sources["incidence"])
                feedback.pushInfo(f"Incidence {constant:g} deg from {origin}")
            validation.incidence(constant, "INCIDENCE_ANGLE")
            incidence = constant
        else:
            problem = "no incidence is given"
            if product is not None:
                problem += (f" and the {product.processor} {product.product_type} "
                            f"{os.path.basename(product.path)} carries no incidence angle")
            raise parameter_error("INCIDENCE", None, problem,
                                  "Choose an INCIDENCE raster or give INCIDENCE_ANGLE in degrees")
        inc_units = ANGLE_UNIT_KEYS[self.parameterAsEnum(parameters, "INCIDENCE_UNITS", context)]

        direction = DIRECTION_KEYS[self.parameterAsEnum(parameters, "DIRECTION", context)]
        heading = self._optional_number(parameters, "HEADING")
        azimuth = self.parameterAsDouble(parameters, "AZIMUTH", context)
        plunge = self.parameterAsDouble(parameters, "PLUNGE", context)
        if heading is None and "heading" in recorded and core_los.needs_heading(direction, plunge):
            heading = recorded["heading"]
            feedback.pushInfo(f"Heading {heading:g} deg from the input's metadata: {sources['heading']}")
        if heading is None and core_los.needs_heading(direction, plunge):
            raise parameter_error("HEADING", None, f"the {direction} direction needs the satellite heading",
                                  "Give HEADING in degrees clockwise from north (Sentinel-1 ascending "
                                  "about -12, descending about -168)")
        look = ["right", "left"][self.parameterAsEnum(parameters, "LOOK_DIRECTION", context)]
        if parameters.get("LOOK_DIRECTION") in (None, "") and "look_direction" in recorded:
            look = recorded["look_direction"]
            feedback.pushInfo(f"Look direction {look} from {sources['look_direction']}")
        max_amp = self.parameterAsDouble(parameters, "MAX_AMPLIFICATION", context)

        out = self.output_raster_path(parameters, "OUTPUT", context)
        los_out = self.output_raster_path(parameters, "OUTPUT_LOS", context) if quantity == "phase" else None
        if not los_out and parameters.get("OUTPUT_LOS") and quantity != "phase":
            feedback.pushInfo("OUTPUT_LOS is written only for phase input; skipped.")
        try:
            result = core_los.los_to_direction(
                path, out, band=band, quantity=quantity, input_units=input_units,
                output_units=output_units, incidence=incidence, incidence_band=inc_band,
                incidence_units=inc_units, direction=direction, heading_deg=heading,
                look_direction=look, azimuth_deg=azimuth, plunge_deg=plunge, wavelength=wavelength,
                phase_convention=convention, max_amplification=max_amp, los_output_path=los_out,
                monitor=self.monitor(feedback))
        except ValueError as exc:
            if "incidence raster" in str(exc):
                raise parameter_error("INCIDENCE", inc_path, str(exc), "Check the incidence band and "
                                      "units") from exc
            raise
        for note in result["notes"]:
            feedback.pushInfo(note)
        self.report_mask("MAX_AMPLIFICATION", result["masked"], result["masked"] + result["valid"])
        feedback.pushInfo(f"Incidence: {result['incidence_source']}; output {result['quantity']} in "
                          f"{result['units']}")
        name = os.path.splitext(os.path.basename(path))[0]
        self.finish_raster(out, context, DIVERGING, result["units"], result["stats"],
                           layer_name=f"{name} {direction} ({result['units']})")
        results = {"OUTPUT": out, "MASKED_PIXELS": result["masked"]}
        if los_out:
            self.finish_raster(los_out, context, DIVERGING, "m", result["los_stats"],
                               layer_name=f"{name} LOS (m)")
            results["OUTPUT_LOS"] = los_out
        return results
