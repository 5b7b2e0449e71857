"""The Displacement Inspector on point layers: a click near a point of a layer with
``DYYYYMMDD`` fields (persistent scatterers from displacement:load_points) adds the
point's series to the plot and its velocity to the values table.  Qt glue kept apart
from ui/inspector_dock.py (one call from ``InspectorDock.inspect_point``); the numbers come
from core/point_inspection.py."""

from qgis.core import (
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsPointXY,
    QgsRectangle,
    QgsVectorLayer,
    QgsWkbTypes,
)

from ..core import point_inspection

#: A point is picked within this many screen pixels of the click.
TOLERANCE_PX = 8


def is_point_series_layer(layer):
    """A visible-or-not point layer with at least one DYYYYMMDD field."""
    return (isinstance(layer, QgsVectorLayer) and layer.isValid()
            and layer.geometryType() == QgsWkbTypes.GeometryType.PointGeometry
            and bool(point_inspection.date_fields(layer.fields().names())))


def nearest_feature(dock, layer, point, crs=None):
    """The feature of ``layer`` nearest to ``point`` (canvas CRS unless ``crs``) within
    :data:`TOLERANCE_PX` screen pixels, with its position in the layer CRS, or None."""
    canvas_crs = dock.canvas.mapSettings().destinationCrs()
    p = QgsPointXY(point)
    if crs is not None and crs.isValid() and canvas_crs.isValid() and crs != canvas_crs:
        p = QgsCoordinateTransform(crs, canvas_crs, dock.project).transform(p)
    half = TOLERANCE_PX * max(dock.canvas.mapUnitsPerPixel(), 1e-12)
    rect = QgsRectangle(p.x() - half, p.y() - half, p.x() + half, p.y() + half)
    centre = p
    if canvas_crs.isValid() and layer.crs().isValid() and layer.crs() != canvas_crs:
        to_layer = QgsCoordinateTransform(canvas_crs, layer.crs(), dock.project)
        rect = to_layer.transformBoundingBox(rect)
        centre = to_layer.transform(p)
    best = None
    for feature in layer.getFeatures(QgsFeatureRequest().setFilterRect(rect)):
        geometry = feature.geometry()
        if geometry is None or geometry.isEmpty():
            continue
        where = geometry.asPoint()
        d = where.distance(centre)
        if best is None or d < best[0]:
            best = (d, feature, where)
    return None if best is None else (best[1], best[2])


def inspect_points(dock, point, crs=None):
    """Rows for the values table and series for the plot of the point nearest to the click
    in every point layer with date fields: ``(rows, series)``."""
    rows, series = [], []
    for layer in dock.project.mapLayers().values():
        if not is_point_series_layer(layer):
            continue
        picked = nearest_feature(dock, layer, point, crs)
        if picked is None:
            continue
        feature, where = picked
        attributes = {name: feature[name] for name in layer.fields().names()}
        metadata = point_inspection.layer_metadata(layer.source())
        pid = attributes.get("pid") or feature.id()
        s = point_inspection.point_series(attributes, metadata, f"{layer.name()} point {pid}",
                                          where.x(), where.y())
        series.append(s)
        velocity, sigma, unit = point_inspection.point_velocity(attributes, metadata)
        row = dock._row(layer, f"point {pid} velocity", velocity, unit,
                        metadata.get("quantity", "").replace("displacement", "velocity"),
                        f"{len(s.dates)} dates, reference {s.reference_date or '?'}", None)
        row["text"] = point_inspection.velocity_text(velocity, sigma, unit)
        rows.append(row)
    return rows, series
