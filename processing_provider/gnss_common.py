"""Glue shared by the two InSAR–GNSS comparison algorithms: geometry parameters,
InSAR units, the residual style of the output point layers, report output."""

import math
import os

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsGraduatedSymbolRenderer,
    QgsMarkerSymbol,
    QgsProcessing,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
    QgsRendererRange,
)


from ..core import units as core_units
from ..core import validation
from ..core.gnss_comparison import AZIMUTH_KINDS, REFERENCES, LosGeometry
from .base import band_parameter, parameter_error
from .styling import style_vector_output

REFERENCE_LABELS = [
    "None (compare as is)",
    "A named GNSS station (REFERENCE_STATION)",
    "Best-fit constant offset",
    "Best-fit plane (offset + ramp)",
]
AZIMUTH_LABELS = ["Heading (flight direction, clockwise from north)",
                  "LOS azimuth (ground to satellite, anti-clockwise from north; MintPy azimuthAngle)"]
LOOK_LABELS = ["right", "left"]
INSAR_UNIT_CHOICES = ["from the raster metadata", "m", "cm", "mm", "m/yr", "cm/yr", "mm/yr"]

_DIVERGING = ["#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b"]


def millimetres_text(value_m) -> str:
    """A statistic in metres (or m/yr) as millimetres for the log: two decimals, ``n/a`` when
    not finite."""
    value = float(value_m)
    return f"{value * 1000.0:.2f}" if math.isfinite(value) else "n/a"


def add_geometry_parameters(alg):
    """LOS geometry: a LOS unit-vector raster, or incidence/heading rasters, or angles."""
    alg.addParameter(QgsProcessingParameterRasterLayer(
        "LOS_ENU", "LOS unit-vector raster (bands east, north, up; ground to satellite)", optional=True))
    alg.addParameter(QgsProcessingParameterRasterLayer(
        "INCIDENCE", "Incidence angle raster (degrees from the vertical)", optional=True))
    alg.addParameter(band_parameter("INCIDENCE_BAND", "Incidence band", "INCIDENCE"))
    alg.addParameter(QgsProcessingParameterRasterLayer(
        "HEADING", "Heading or LOS azimuth raster (degrees, see AZIMUTH_CONVENTION)", optional=True))
    alg.addParameter(band_parameter("HEADING_BAND", "Heading band", "HEADING"))
    alg.addParameter(QgsProcessingParameterNumber(
        "INCIDENCE_ANGLE", "Incidence angle (degrees), when no raster",
        QgsProcessingParameterNumber.Type.Double, optional=True, minValue=0.0, maxValue=90.0))
    alg.addParameter(QgsProcessingParameterNumber(
        "HEADING_ANGLE", "Heading or LOS azimuth (degrees), when no raster",
        QgsProcessingParameterNumber.Type.Double, optional=True, minValue=-360.0, maxValue=360.0))
    alg.addParameter(QgsProcessingParameterEnum(
        "AZIMUTH_CONVENTION", "Meaning of HEADING / HEADING_ANGLE", AZIMUTH_LABELS, defaultValue=0))
    alg.addParameter(QgsProcessingParameterEnum(
        "LOOK_DIRECTION", "Look direction (with a heading)", LOOK_LABELS, defaultValue=0))


def geometry_of_insar(alg, name, path, band, feedback):
    """The InSAR raster's own LOS geometry, for when no geometry parameter is given: per
    pixel from its processor product (incidence and LOS azimuth rasters), else the constant
    incidence and heading (or LOS azimuth) its metadata records (load_product's geometry_*,
    PyRate tags; core/products/defaults.py); ``None`` when it records none."""
    from qgis.core import QgsProcessingUtils

    from ..core.products.resolve import geometry_raster

    product = alg.raster_product(name)
    if product is not None and (product.geometry.incidence_layer or product.geometry.enu_layers) \
            and product.geometry.has_los_azimuth():
        tmp = QgsProcessingUtils.tempFolder()
        geom = LosGeometry(incidence_path=geometry_raster(product, "incidence", tmp),
                           azimuth_path=geometry_raster(product, "los_azimuth", tmp),
                           azimuth_kind="los_azimuth")
        feedback.pushInfo(f"LOS geometry per pixel from the {name} product ({product.processor}, "
                          f"{product.geometry.source}); set LOS_ENU or INCIDENCE/HEADING to override")
        return geom
    recorded = alg.raster_defaults(name, path, band)
    second = next((k for k in ("heading", "los_azimuth") if k in recorded), None)
    if "incidence" not in recorded or second is None:
        return None
    look = recorded["look_direction"].value if "look_direction" in recorded else "right"
    feedback.pushInfo(f"LOS geometry from {recorded['incidence'].source}: incidence "
                      f"{recorded['incidence'].value:g} deg, {second.replace('_', ' ')} "
                      f"{recorded[second].value:g} deg, {look}-looking; set LOS_ENU or "
                      "INCIDENCE/HEADING to override")
    return LosGeometry(incidence=float(recorded["incidence"].value),
                       azimuth=float(recorded[second].value), azimuth_kind=second, look_direction=look)


def geometry_from_parameters(alg, parameters, context, insar=None, feedback=None, points=None,
                             radius=100.0):
    """A core :class:`LosGeometry` from the geometry parameters (one source required);
    ``insar`` = (parameter name, path, band): when no geometry parameter is given, the
    geometry that raster records (:func:`geometry_of_insar`); InSAR ``points`` carrying
    los_e/los_n/los_u and no geometry parameter: the median LOS vector of the points within
    ``radius`` metres of each station."""
    enu = alg.raster_path(parameters, "LOS_ENU", context, required=False)
    inc = alg.raster_path(parameters, "INCIDENCE", context, required=False)
    head = alg.raster_path(parameters, "HEADING", context, required=False)
    kind = AZIMUTH_KINDS[alg.parameterAsEnum(parameters, "AZIMUTH_CONVENTION", context)]
    look = LOOK_LABELS[alg.parameterAsEnum(parameters, "LOOK_DIRECTION", context)]
    inc_angle = _optional_number(alg, parameters, "INCIDENCE_ANGLE", context)
    head_angle = _optional_number(alg, parameters, "HEADING_ANGLE", context)
    if inc_angle is not None:
        validation.incidence(inc_angle, "INCIDENCE_ANGLE")
    if head_angle is not None:
        validation.heading(head_angle, "HEADING_ANGLE", kind)
    if enu:
        info = alg.raster_info(enu, "LOS_ENU")
        if info.band_count < 2:
            raise parameter_error("LOS_ENU", enu, f"it has {info.band_count} band",
                                  "Give a raster with east, north (and up) unit-vector bands")
        bands = (1, 2, 3) if info.band_count >= 3 else (1, 2, 0)
        return LosGeometry(enu_path=enu, enu_bands=bands)
    no_geometry = not any((inc, head, inc_angle is not None, head_angle is not None))
    if no_geometry and points is not None and \
            all(points.has(f) for f in ("los_e", "los_n", "los_u")):
        if feedback is not None:
            feedback.pushInfo(f"LOS geometry: median unit vector of the InSAR points within "
                              f"{radius:g} m of each station (los_e, los_n, los_u)")
        return LosGeometry(points=points, points_radius=radius)
    if insar and no_geometry:
        geom = geometry_of_insar(alg, *insar, feedback)
        if geom is not None:
            return geom
    if inc is None and inc_angle is None:
        raise parameter_error("INCIDENCE", None, "no LOS geometry was given",
                              "Give LOS_ENU, or INCIDENCE (raster or INCIDENCE_ANGLE) with HEADING "
                              "(raster or HEADING_ANGLE)")
    if head is None and head_angle is None:
        raise parameter_error("HEADING", None, "no heading or LOS azimuth was given",
                              "Give a HEADING raster or HEADING_ANGLE (e.g. -12 for Sentinel-1 ascending)")
    geom = LosGeometry(incidence=inc_angle, azimuth=head_angle, azimuth_kind=kind, look_direction=look)
    if inc:
        geom.incidence_path = inc
        geom.incidence_band = alg.raster_band(parameters, "INCIDENCE", context,
                                              alg.raster_info(inc, "INCIDENCE"), "INCIDENCE_BAND")
    if head:
        geom.azimuth_path = head
        geom.azimuth_band = alg.raster_band(parameters, "HEADING", context,
                                            alg.raster_info(head, "HEADING"), "HEADING_BAND")
    return geom


def geometry_description(geom):
    """One line describing the geometry source (for the report)."""
    if geom.points is not None:
        return f"median LOS unit vector of the InSAR points within {geom.points_radius:g} m"
    if geom.enu_path:
        return f"LOS unit vectors from {os.path.basename(geom.enu_path)}"
    inc = os.path.basename(geom.incidence_path) if geom.incidence_path else f"{geom.incidence} deg"
    az = os.path.basename(geom.azimuth_path) if geom.azimuth_path else f"{geom.azimuth} deg"
    return f"incidence {inc}, {geom.azimuth_kind} {az}, {geom.look_direction}-looking"


def _optional_number(alg, parameters, name, context):
    value = parameters.get(name)
    if value is None or value == "":
        return None
    return alg.parameterAsDouble(parameters, name, context)


def add_reference_parameters(alg):
    alg.addParameter(QgsProcessingParameterEnum(
        "REFERENCE", "Referencing of InSAR to GNSS", REFERENCE_LABELS, defaultValue=2))
    alg.addParameter(QgsProcessingParameterString(
        "REFERENCE_STATION", "Reference station (with REFERENCE = named station)", optional=True))


def reference_from_parameters(alg, parameters, context):
    method = REFERENCES[alg.parameterAsEnum(parameters, "REFERENCE", context)]
    station = (alg.parameterAsString(parameters, "REFERENCE_STATION", context) or "").strip()
    if method == "station" and not station:
        raise parameter_error("REFERENCE_STATION", station, "REFERENCE is a named station but no "
                              "station was given", "Give the station's name, e.g. HLNA")
    return method, station or None


def add_sampling_parameters(alg):
    alg.addParameter(QgsProcessingParameterNumber(
        "SAMPLE_RADIUS", "Sample radius around each station (metres)",
        QgsProcessingParameterNumber.Type.Double, defaultValue=100.0, minValue=0.0))
    alg.addParameter(QgsProcessingParameterNumber(
        "MIN_PIXELS", "Minimum valid InSAR pixels within the radius",
        QgsProcessingParameterNumber.Type.Integer, defaultValue=3, minValue=1))


def add_field_parameters(alg, parent):
    """Field mapping for a GNSS point layer (also column names of a CSV file)."""
    specs = [("STATION_FIELD", "Station name field / column", QgsProcessingParameterField.DataType.Any),
             ("EAST_FIELD", "East component field / column", QgsProcessingParameterField.DataType.Numeric),
             ("NORTH_FIELD", "North component field / column", QgsProcessingParameterField.DataType.Numeric),
             ("UP_FIELD", "Up component field / column", QgsProcessingParameterField.DataType.Numeric),
             ("SIG_EAST_FIELD", "East sigma field / column", QgsProcessingParameterField.DataType.Numeric),
             ("SIG_NORTH_FIELD", "North sigma field / column", QgsProcessingParameterField.DataType.Numeric),
             ("SIG_UP_FIELD", "Up sigma field / column", QgsProcessingParameterField.DataType.Numeric)]
    for name, label, kind in specs:
        alg.addParameter(QgsProcessingParameterField(name, label, None, parent, kind, optional=True))


FIELD_KEYS = {"STATION_FIELD": "station", "EAST_FIELD": "east", "NORTH_FIELD": "north", "UP_FIELD": "up",
              "SIG_EAST_FIELD": "sig_east", "SIG_NORTH_FIELD": "sig_north", "SIG_UP_FIELD": "sig_up"}


def field_mapping(alg, parameters, context):
    """{core key: field name} of the field parameters that were given."""
    mapping = {}
    for name, key in FIELD_KEYS.items():
        value = parameters.get(name)
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if value:
            mapping[key] = str(value)
    return mapping


def read_point_layer(alg, parameters, name, context, mapping, feedback):
    """Station names, WGS84 lon/lat and attribute columns of a GNSS point layer.

    Returns ``(stations, lon, lat, columns)`` with ``columns[key]`` a list of floats (NaN when
    empty); raises a parameter error naming the missing field or the non-numeric value."""
    source = alg.parameterAsSource(parameters, name, context)
    if source is None:
        return None
    fields = source.fields()
    for key in ("station", "east", "north", "up"):
        if key not in mapping:
            raise parameter_error(f"{key.upper()}_FIELD", None, f"a GNSS point layer needs the {key} field",
                                  f"Choose the field holding the {key} component"
                                  if key != "station" else "Choose the station-name field")
    for field in mapping.values():
        if fields.indexFromName(field) < 0:
            raise parameter_error(name, source.sourceName(), f"field {field!r} does not exist",
                                  "Choose one of " + ", ".join(fields.names()))
    transform = QgsCoordinateTransform(source.sourceCrs(), QgsCoordinateReferenceSystem("EPSG:4326"),
                                       context.transformContext())
    stations, lon, lat = [], [], []
    columns = {k: [] for k in mapping if k != "station"}
    for feature in source.getFeatures(QgsFeatureRequest()):
        geom = feature.geometry()
        if geom is None or geom.isEmpty():
            raise parameter_error(name, source.sourceName(), f"feature {feature.id()} has no geometry",
                                  "Give GNSS stations as points")
        point = transform.transform(geom.centroid().asPoint())
        stations.append(str(feature[mapping["station"]]))
        lon.append(point.x())
        lat.append(point.y())
        for key in columns:
            value = feature[mapping[key]]
            if value is None or (hasattr(value, "isNull") and value.isNull()) or value == "":
                columns[key].append(math.nan)
                continue
            try:
                columns[key].append(float(value))
            except (TypeError, ValueError):
                raise parameter_error(
                    mapping[key], value, f"station {stations[-1]} (feature {feature.id()}) has a "
                    "non-numeric value", "Fix the attribute or choose another field") from None
    if not stations:
        raise parameter_error(name, source.sourceName(), "the layer has no features", "Give GNSS stations")
    try:
        validation.unique_names(stations, source.sourceName())
    except ValueError as exc:
        raise parameter_error(name, source.sourceName(), str(exc), "Fix the layer") from None
    return stations, lon, lat, columns


def insar_scale(alg, parameters, context, info, band, target):
    """Factor converting raster values to ``target`` ('m' or 'm/yr') from INSAR_UNITS or the raster."""
    choice = alg.parameterAsEnum(parameters, "INSAR_UNITS", context)
    if choice == 0:
        from ..core.gnss_comparison import raster_units
        unit = raster_units(info.path, band)
        if unit is None:
            raise parameter_error("INSAR_UNITS", INSAR_UNIT_CHOICES[0],
                                  f"{os.path.basename(info.path)} band {band} does not record its unit",
                                  "Choose the unit of the InSAR values (m, mm, m/yr, ...)")
    else:
        unit = INSAR_UNIT_CHOICES[choice]
    return _scale_to(unit, target)


def _scale_to(unit, target):
    unit = core_units.normalize_unit(unit)
    if core_units.is_velocity_unit(unit) != core_units.is_velocity_unit(target):
        what = "a velocity" if core_units.is_velocity_unit(unit) else "a displacement"
        need = "velocities (m/yr, mm/yr)" if core_units.is_velocity_unit(target) else "displacements (m, mm)"
        raise parameter_error("INSAR_UNITS", unit, f"units mismatch: the InSAR raster holds {what} but "
                              f"this comparison needs {need}",
                              "Use gnss_timeseries_comparison for displacements and gnss_los_comparison "
                              "for velocities, or correct INSAR_UNITS")
    return core_units.unit_factor(unit, target), unit


def add_points_parameters(alg, field_description):
    """INSAR_POINTS: InSAR as a point layer (e.g. from displacement:load_points) instead of
    rasters, and INSAR_FIELD (for the velocity comparison)."""
    from .points_common import point_source_type

    alg.addParameter(QgsProcessingParameterVectorLayer(
        "INSAR_POINTS", "or: InSAR points (from load_points)", [point_source_type()],
        optional=True))
    if field_description:
        alg.addParameter(QgsProcessingParameterString(
            "INSAR_FIELD", field_description, defaultValue="velocity", optional=True))


def insar_points(alg, parameters, context, raster_name="INSAR"):
    """The core PointLayer of INSAR_POINTS (None when not given); refuses both or neither."""
    from .points_common import open_points

    has_points = parameters.get("INSAR_POINTS") not in (None, "")
    has_raster = parameters.get(raster_name) not in (None, "", [])
    if has_points == has_raster:
        raise parameter_error(raster_name, parameters.get(raster_name),
                              "give InSAR either as rasters or as INSAR_POINTS" if has_points
                              else "no InSAR given", f"Give {raster_name} or INSAR_POINTS")
    return open_points(alg, parameters, "INSAR_POINTS", context) if has_points else None


def points_scale(alg, parameters, context, layer, field, target):
    """Factor converting the values of a point ``field`` to ``target``: INSAR_UNITS, else the
    layer metadata (velocity_units for velocity fields, units for the date fields)."""
    choice = alg.parameterAsEnum(parameters, "INSAR_UNITS", context)
    if choice:
        return _scale_to(INSAR_UNIT_CHOICES[choice], target)
    key = "velocity_units" if field.startswith("velocity") else "units"
    unit = layer.metadata.get(key, "mm/yr" if key == "velocity_units" else "mm")
    return _scale_to(unit, target)


def report_parameter(alg):
    alg.addParameter(QgsProcessingParameterFileDestination(
        "OUTPUT_REPORT", "Comparison report (HTML)", "HTML files (*.html *.htm)", optional=True))


def residual_renderer(field, values, units):
    """Graduated diverging renderer on ``field``: 7 classes symmetric around 0, labels with units."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    a = max(finite) if finite else 1.0
    a = a or 1.0
    edges = [-a + 2 * a * i / 7 for i in range(8)]
    edges[0] -= 1e-9 * a
    edges[-1] += 1e-9 * a
    ranges = []
    for i, colour in enumerate(_DIVERGING):
        symbol = QgsMarkerSymbol.createSimple({"name": "circle", "size": "3", "color": colour,
                                               "outline_color": "#333333"})
        label = f"{edges[i]:.3g} … {edges[i + 1]:.3g} {units}"
        ranges.append(QgsRendererRange(edges[i], edges[i + 1], symbol, label))
    renderer = QgsGraduatedSymbolRenderer(field, ranges)
    return renderer


def style_point_output(alg, dest_id, context, field, values, units, layer_name):
    """Style the output point layer by ``field``: a ``.qml`` next to a file output and a
    post-processor when QGIS loads the result."""
    style_vector_output(dest_id, context, residual_renderer(field, values, units), layer_name,
                        [field])


SOURCE_TYPES = {"point": QgsProcessing.SourceType.TypeVectorPoint}
