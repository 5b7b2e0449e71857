"""Parameters shared by the point-dataset algorithms (load_points, points_velocity,
points_rereference, points_to_grid): the input point layer and the output GeoPackage.
Glue only: the numerics are in core/points.py and core/points_analysis.py."""

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterVectorDestination,
    QgsProcessingParameterVectorLayer,
    QgsProcessingUtils,
)

from ..core.points import PointLayer
from .base import parameter_error

GROUP = "Point datasets (PS / EGMS)"
GROUP_ID = "points"


def point_source_type():
    """The point-layer type of QgsProcessingParameterVectorLayer (QGIS 3 and 4)."""
    scoped = getattr(QgsProcessing, "SourceType", None)
    if scoped is not None and hasattr(scoped, "TypeVectorPoint"):
        return scoped.TypeVectorPoint
    from qgis.core import Qgis

    return Qgis.ProcessingSourceType.VectorPoint


def add_points_parameter(alg, name="INPUT", description="Point layer (from load_points)"):
    alg.addParameter(QgsProcessingParameterVectorLayer(name, description, [point_source_type()]))


def add_points_output(alg, name="OUTPUT", description="Point layer"):
    alg.addParameter(QgsProcessingParameterVectorDestination(
        name, description, point_source_type()))


def open_points(alg, parameters, name, context, require_crs=False):
    """The core :class:`PointLayer` of a point-layer parameter; errors name the parameter.
    ``require_crs``: refuse a layer without CRS (distances, grids and other CRSs need it)."""
    layer = alg.parameterAsVectorLayer(parameters, name, context)
    if layer is None:
        raise parameter_error(name, parameters.get(name), "no point layer given",
                              "Choose a point layer (e.g. from displacement:load_points)")
    if layer.providerType() != "ogr":
        raise parameter_error(name, layer.name(), f"the layer comes from the "
                              f"'{layer.providerType()}' provider",
                              "Save it to a GeoPackage first (Export > Save Features As)")
    try:
        points = PointLayer(layer.source(), workdir=QgsProcessingUtils.tempFolder())
    except ValueError as exc:
        raise parameter_error(name, layer.source(), str(exc), "Give a point layer") from exc
    if require_crs and not points.crs_wkt:
        points.close()
        raise parameter_error(name, layer.source(), "the point layer has no CRS",
                              "Set its CRS (Layer Properties > Source) and save it, or load "
                              "the points again with displacement:load_points and its CRS")
    return points


def output_points_path(alg, parameters, name, context):
    """Destination of a point output (GeoPackage), registered for cleanup."""
    path = alg.parameterAsOutputLayer(parameters, name, context)
    if not path.lower().endswith(".gpkg"):
        raise parameter_error(name, path, "point layers are written as GeoPackage",
                              "Give a file name ending in .gpkg")
    return alg.track_output(path)


def style_points(alg, path, context, layer_name, field="velocity"):
    """Colour the points of an output by ``field`` (diverging, symmetric around zero over the
    98th percentile of |value|, labels with the unit): a .qml next to the GeoPackage and a
    post-processor when QGIS loads it."""
    from .gnss_common import style_point_output

    layer = PointLayer(path)
    try:
        if not layer.has(field):
            return
        unit = layer.metadata.get("velocity_units", "mm/yr") if field.startswith("velocity") \
            else layer.units
        style_point_output(alg, path, context, field, [layer.symmetric_range(field)], unit,
                           layer_name)
    finally:
        layer.close()
