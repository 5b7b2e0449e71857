"""The Displacement Inspector: a dock widget and its map tool.

Click on the map (or hover, when enabled) to see, for every ticked raster
layer, the value under the cursor with its unit and quantity (band metadata
``units``/``quantity``), the median over an adjustable radius, and the
viewing geometry when the dataset records it.  For time-series layers (dated
bands, see docs/conventions.md) the dock plots displacement against date at
each clicked pixel (several pixels overlaid), fits a linear velocity over a
chosen date range and exports the plotted series to CSV.  A click near a point of a point
layer with DYYYYMMDD fields (persistent scatterers, displacement:load_points) plots that
point's series and shows its velocity (ui/point_inspector.py).  A click on a GNSS
station of a comparison layer plots its GNSS LOS series with the InSAR values.  "Set reference
point" makes the next click create a NEW re-referenced layer (every band minus
its value at the point, through ``displacement:rereference`` when registered);
the source layer is never modified.

The numerics live in :mod:`..core.inspection`; this module is only Qt glue.
"""

import datetime as dt
import math
import os
import tempfile

import numpy as np
from qgis.core import (
    QgsCoordinateTransform,
    QgsExpression,
    QgsFeatureRequest,
    QgsPointXY,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.gui import QgsVertexMarker
from qgis.PyQt.QtCore import QDate, Qt
from qgis.PyQt.QtGui import QColor, QIcon
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDateEdit,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core import inspection
from ..core.raster_io import RasterError, layer_title, raster_info
from ..core.units import unit_factor
from .common import find_algorithm
from . import point_inspector
from .map_tool import InspectorMapTool
from .timeseries_plot import TimeSeriesPlot, series_colour

DOCK_OBJECT_NAME = "DisplacementInspectorDock"
#: Processing algorithm of the reference-point action when registered (issue 11);
#: core.inspection.rereference_raster (same arithmetic) otherwise.
REREFERENCE_ID = "displacement:rereference"
LAYER_ID_ROLE = Qt.ItemDataRole.UserRole
#: Layer column width (px; names are elided in the middle, full name in the tooltip), so the
#: value column next to it shows at the dock's default width of about 350 px.
LAYER_COLUMN_WIDTH = 120


def _raster_path(layer):
    """GDAL path of a raster layer from the gdal provider (None otherwise)."""
    if not isinstance(layer, QgsRasterLayer) or layer.providerType() != "gdal":
        return None
    return layer.source().split("|")[0]


def _is_station_layer(layer):
    return (isinstance(layer, QgsVectorLayer) and layer.isSpatial()
            and "station" in layer.fields().names() and not _is_station_table(layer))


def _is_station_table(layer):
    return (isinstance(layer, QgsVectorLayer)
            and all(name in layer.fields().names() for name in inspection.STATION_TABLE_FIELDS))


def _is_number(value):
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _xy(point):
    """``(502115, 3998175)``: whole units for projected coordinates, 6 digits otherwise."""
    def one(v):
        return f"{v:.0f}" if abs(v) >= 1e4 else f"{v:.6g}"
    return f"({one(point.x())}, {one(point.y())})"


def _geometry_text(items):
    """``{"geometry_incidence": "34.000000"}`` -> ``"incidence 34"`` (degrees for angles)."""
    parts = []
    for key, value in items.items():
        name = key[len("geometry_"):] if key.startswith("geometry_") else key
        try:
            text = f"{float(value):g}°"
        except ValueError:
            text = str(value)
        parts.append(f"{name.replace('_', ' ')} {text}")
    return ", ".join(parts)


def _looks_like_displacement(info):
    return any(m.get("units") or m.get("quantity") for m in info.band_metadata)


class InspectorDock(QDockWidget):
    """The dock widget (values table, time-series plot, velocity, reference point)."""

    COLUMNS = ("layer", "band", "value", "quantity", "geometry")

    def __init__(self, canvas, parent=None, use_matplotlib=True):
        super().__init__("Displacement Inspector", parent)
        self.setObjectName(DOCK_OBJECT_NAME)
        self.canvas = canvas
        self.project = QgsProject.instance()
        self.map_tool = InspectorMapTool(canvas)
        self.map_tool.picked.connect(self.on_picked)
        self.map_tool.hovered.connect(self.on_hovered)
        self.last_point = None
        self.last_values = []   # dicts: layer, band, value, units, quantity, text, date
        self.last_reference = None
        self.last_fit = None
        self.markers = []
        self.use_algorithm = True
        self.reference_mode = False
        self._build(use_matplotlib)
        self.refresh_layers()
        self.project.layersAdded.connect(self.refresh_layers)
        self.project.layersRemoved.connect(self.refresh_layers)

    # ------------------------------------------------------------------ UI
    def _build(self, use_matplotlib):
        body = QWidget(self)
        outer = QVBoxLayout(body)

        bar = QHBoxLayout()
        self.pick_button = QToolButton()
        self.pick_button.setText("Pick on map")
        self.pick_button.setCheckable(True)
        self.pick_button.setToolTip("Click on the map to read the values under the cursor")
        self.pick_button.toggled.connect(self.set_tool_active)
        bar.addWidget(self.pick_button)
        self.hover_check = QCheckBox("Hover")
        self.hover_check.setToolTip("Update the values while the mouse moves (no plot)")
        self.hover_check.toggled.connect(self._set_hover)
        bar.addWidget(self.hover_check)
        bar.addStretch(1)
        outer.addLayout(bar)
        radius_row = QHBoxLayout()   # a row of its own: the dock reads at about 350 px
        radius_row.addWidget(QLabel("Median radius"))
        self.radius_spin = QDoubleSpinBox()
        self.radius_spin.setRange(0.0, 50.0)
        self.radius_spin.setDecimals(1)
        self.radius_spin.setSingleStep(1.0)
        self.radius_spin.setSuffix(" px")
        self.radius_spin.setToolTip("Median over the pixels within this radius (0 = the pixel)")
        radius_row.addWidget(self.radius_spin)
        radius_row.addStretch(1)
        outer.addLayout(radius_row)

        self.point_label = QLabel("Click on the map (Pick on map).")
        self.point_label.setWordWrap(True)
        self.point_label.setMinimumWidth(1)   # long names wrap or clip, never widen the dock
        outer.addWidget(self.point_label)

        self.layer_list = QListWidget()
        self.layer_list.setToolTip("Layers to inspect (ticked); the selected one is re-referenced")
        self.layer_list.setMaximumHeight(84)
        outer.addWidget(self.layer_list)


        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels([c.capitalize() for c in self.COLUMNS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.moveSection(self.COLUMNS.index("value"), 1)   # layer, value: readable at 350 px
        self.table.setColumnWidth(0, LAYER_COLUMN_WIDTH)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        rows = self.table.verticalHeader().defaultSectionSize()
        top = self.table.horizontalHeader().sizeHint().height() + 4
        # 3 rows in view (more scroll), whatever the dock's height: the plot gets the rest
        self.table.setFixedHeight(top + 3 * rows + self.table.horizontalScrollBar().sizeHint().height())
        outer.addWidget(self.table)

        series_box = QGroupBox("Time series at the clicked pixels")
        sl = QVBoxLayout(series_box)
        self.plot = TimeSeriesPlot(use_matplotlib=use_matplotlib)
        self.plot.unitChanged.connect(self.update_fit)
        sl.addWidget(self.plot)
        self.whole_range_check = QCheckBox("Fit the whole series")
        self.whole_range_check.setToolTip("Velocity fit over every date; off: between the two dates below")
        self.whole_range_check.setChecked(True)
        self.whole_range_check.toggled.connect(self.update_fit)
        sl.addWidget(self.whole_range_check)
        fit_row = QHBoxLayout()
        self.start_edit = QDateEdit()
        self.end_edit = QDateEdit()
        for k, edit in enumerate((self.start_edit, self.end_edit)):
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setCalendarPopup(True)
            edit.dateChanged.connect(self.update_fit)
            if k:
                fit_row_to = QLabel("to")
                fit_row.addWidget(fit_row_to)
            fit_row.addWidget(edit)
        fit_row.addStretch(1)
        sl.addLayout(fit_row)
        self.velocity_label = QLabel("Velocity: —")
        self.velocity_label.setWordWrap(True)
        self.velocity_label.setMinimumWidth(1)   # long names wrap or clip, never widen the dock
        sl.addWidget(self.velocity_label)
        buttons = QHBoxLayout()
        self.overlay_check = QCheckBox("Overlay")
        self.overlay_check.setToolTip("Keep the plotted series when another pixel is clicked")
        self.overlay_check.setChecked(True)
        buttons.addWidget(self.overlay_check)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear_series)
        buttons.addWidget(self.clear_button)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(lambda: self.export_csv())
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        sl.addLayout(buttons)
        # in the box layout (not a splitter, which ignores height-for-width): a legend that
        # wraps over several lines makes the box taller instead of clipping the plot
        outer.addWidget(series_box, 4)
        self.fit_widgets = (self.whole_range_check, self.start_edit, self.end_edit,
                            self.velocity_label, fit_row_to)

        row = QHBoxLayout()   # reference point: a button and where the new layers go
        self.reference_button = QPushButton("Set reference point…")
        self.reference_button.setCheckable(True)
        self.reference_button.setToolTip(
            "The next click creates a NEW layer: the selected layer minus its value there")
        self.reference_button.toggled.connect(self.set_reference_mode)
        row.addWidget(self.reference_button)
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("output folder (empty: temporary folder)")
        self.folder_edit.setToolTip("Folder of the re-referenced layers (empty: a temporary folder)")
        row.addWidget(self.folder_edit, 1)
        browse = QToolButton()
        browse.setText("…")
        browse.clicked.connect(self._browse_folder)
        row.addWidget(browse)
        outer.addLayout(row)
        self.reference_label = QLabel("")
        self.reference_label.setWordWrap(True)
        self.reference_label.setMinimumWidth(1)   # long names wrap or clip, never widen the dock
        outer.addWidget(self.reference_label)
        self._show_fit_controls(False)
        scroll = QScrollArea()    # a short dock scrolls instead of squeezing the plot
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        # never narrower than the controls (a dock squeezes its widget, which clips them)
        scroll.setMinimumWidth(body.minimumSizeHint().width()
                               + scroll.verticalScrollBar().sizeHint().width())
        self.setWidget(scroll)

    def _show_fit_controls(self, on):
        """The velocity fit controls only when something is plotted (no placeholder dates)."""
        for widget in self.fit_widgets:
            widget.setVisible(bool(on))

    def _browse_folder(self):
        folder = QFileDialog.getExistingDirectory(self, "Folder for re-referenced layers")
        if folder:
            self.folder_edit.setText(folder)

    def _set_hover(self, on):
        self.map_tool.hover = bool(on)

    def set_tool_active(self, on=True):
        """Make the inspector's map tool the canvas tool (or release it)."""
        if on:
            self.canvas.setMapTool(self.map_tool)
        elif self.canvas.mapTool() is self.map_tool:
            self.canvas.unsetMapTool(self.map_tool)
        if self.pick_button.isChecked() != bool(on):
            self.pick_button.setChecked(bool(on))

    # ------------------------------------------------------------------ layers
    def refresh_layers(self, *_args):
        """List the project's GDAL raster layers; keep ticks, tick displacement layers by default."""
        previous = {self.layer_list.item(i).data(LAYER_ID_ROLE): self.layer_list.item(i).checkState()
                    for i in range(self.layer_list.count())}
        selected = self.selected_layer_id()
        self.layer_list.clear()
        for layer in self.project.mapLayers().values():
            path = _raster_path(layer)
            if path is None:
                continue
            try:
                info = raster_info(path)
            except RasterError:
                continue
            item = QListWidgetItem(layer.name())
            item.setData(LAYER_ID_ROLE, layer.id())
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            state = previous.get(layer.id())
            if state is None:
                state = Qt.CheckState.Checked if _looks_like_displacement(info) else Qt.CheckState.Unchecked
            item.setCheckState(state)
            if inspection.is_time_series(info):
                item.setToolTip(f"time series of {info.band_count} dated bands")
            self.layer_list.addItem(item)
            if layer.id() == selected:
                self.layer_list.setCurrentItem(item)

    def checked_layers(self):
        out = []
        for i in range(self.layer_list.count()):
            item = self.layer_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                layer = self.project.mapLayer(item.data(LAYER_ID_ROLE))
                if layer is not None:
                    out.append(layer)
        return out

    def set_layer_checked(self, layer, checked=True):
        for i in range(self.layer_list.count()):
            item = self.layer_list.item(i)
            if item.data(LAYER_ID_ROLE) == layer.id():
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def selected_layer_id(self):
        item = self.layer_list.currentItem()
        return item.data(LAYER_ID_ROLE) if item is not None else None

    def select_layer(self, layer):
        for i in range(self.layer_list.count()):
            if self.layer_list.item(i).data(LAYER_ID_ROLE) == layer.id():
                self.layer_list.setCurrentRow(i)

    # ------------------------------------------------------------------ picking
    def _canvas_crs(self):
        return self.canvas.mapSettings().destinationCrs()

    def _to_layer(self, point, layer, crs=None):
        source = crs or self._canvas_crs()
        target = layer.crs()
        if not source.isValid() or not target.isValid() or source == target:
            return QgsPointXY(point)
        return QgsCoordinateTransform(source, target, self.project).transform(QgsPointXY(point))

    def on_picked(self, point):
        if self.reference_mode:
            self.create_reference_layer(point)
        else:
            self.inspect_point(point)

    def on_hovered(self, point):
        if not self.reference_mode:
            self.inspect_point(point, plot=False)

    def inspect_point(self, point, crs=None, plot=True):
        """Read every ticked layer at ``point`` (canvas CRS unless ``crs`` is given).

        Fills the values table; for time-series layers adds the series to the
        plot (when ``plot``) and updates the velocity.  Returns the rows as dicts.
        """
        radius = self.radius_spin.value()
        self.last_point = QgsPointXY(point)
        crs_name = (crs or self._canvas_crs()).authid()
        self.point_label.setText(f"{_xy(point)} {crs_name}  (radius {radius:g} px)")
        rows = []
        new_series = []
        for layer in self.checked_layers():
            path = _raster_path(layer)
            try:
                info = raster_info(path)
            except RasterError:
                continue
            p = self._to_layer(point, layer, crs)
            bands = inspection.describe_bands(info)
            geometry = _geometry_text(inspection.pixel_geometry(info))
            if inspection.is_time_series(info):
                series = inspection.sample_series(
                    info, p.x(), p.y(), radius, label=f"{layer.name()} {_xy(p)}")
                new_series.append(series)
                last = len(series.dates) - 1
                quantity = next((b.quantity for b in bands if b.quantity), "")
                rows.append(self._row(layer, f"{series.dates[last].isoformat()} "
                                      f"({len(series.dates)} dates)", float(series.values[last]),
                                      series.units, quantity, geometry, series.dates[last]))
                continue
            values = inspection.sample_point_bands(info, p.x(), p.y(), None, radius)
            for b, value in zip(bands, values):
                label = f"{b.band}" + (f" {b.name}" if b.name else "")
                rows.append(self._row(layer, label, value, b.units, b.quantity, geometry, b.date))
        station = self.find_station(point, crs)
        if station is not None:
            layer, feature, gnss_rows = station
            name = str(feature["station"])
            stats = ", ".join(f"{key} {feature[key]:.3g}" for key in ("bias", "rmse", "r")
                              if key in feature.fields().names() and _is_number(feature[key]))
            try:
                gnss, insar = inspection.station_series(gnss_rows, name)
            except ValueError:
                gnss = None
            if gnss is not None:
                new_series.extend([gnss, insar])
                finite = np.flatnonzero(np.isfinite(gnss.values))
                last = int(finite[-1]) if finite.size else len(gnss.values) - 1
                rows.append(self._row(layer, f"station {name} {gnss.dates[last].isoformat()}",
                                      float(gnss.values[last]), gnss.units, "gnss_los", stats,
                                      gnss.dates[last]))
        point_rows, point_series = point_inspector.inspect_points(self, point, crs)
        rows.extend(point_rows)
        new_series.extend(point_series)
        self._fill_table(rows)
        self.last_values = rows
        if plot and new_series:
            self.plot_series(new_series, point, crs)
        return rows

    def plot_series(self, series, point=None, crs=None):
        """Plot core :class:`~..core.inspection.Series` (raster pixels, GNSS stations, points
        of any dataset) in the plot's unit, mark ``point`` on the map and refit the velocity.
        Without "Overlay pixels" they replace what was plotted."""
        if not self.overlay_check.isChecked():
            self.plot.clear()
            self.remove_markers()
        first_time = not self.plot.series
        for s in series:
            self.plot.add_series(s)
        if point is not None:
            self._add_marker(point, crs, len(self.plot.series) - 1)
        if first_time:
            self._reset_date_range()
        self.update_fit()

    # ------------------------------------------------------------------ GNSS stations
    STATION_TOLERANCE_PX = 8

    def find_station(self, point, crs=None):
        """The GNSS station nearest to ``point`` within a few screen pixels, in a point layer
        with a ``station`` field, with the rows of a comparison table layer (fields station,
        date, gnss_los, insar_los; ``displacement:gnss_timeseries_comparison``).
        Returns ``(station_layer, feature, table_rows)`` or None."""
        stations = [la for la in self.project.mapLayers().values() if _is_station_layer(la)]
        tables = [la for la in self.project.mapLayers().values() if _is_station_table(la)]
        if not stations or not tables:
            return None
        canvas_crs = self._canvas_crs()
        p = QgsPointXY(point)
        if crs is not None and crs.isValid() and canvas_crs.isValid() and crs != canvas_crs:
            p = QgsCoordinateTransform(crs, canvas_crs, self.project).transform(p)
        half = self.STATION_TOLERANCE_PX * max(self.canvas.mapUnitsPerPixel(), 1e-12)
        rect = QgsRectangle(p.x() - half, p.y() - half, p.x() + half, p.y() + half)
        best = None
        for layer in stations:
            search, centre = rect, p
            if canvas_crs.isValid() and layer.crs().isValid() and layer.crs() != canvas_crs:
                to_layer = QgsCoordinateTransform(canvas_crs, layer.crs(), self.project)
                search = to_layer.transformBoundingBox(rect)
                centre = to_layer.transform(p)
            for feature in layer.getFeatures(QgsFeatureRequest().setFilterRect(search)):
                geometry = feature.geometry()
                if geometry is None or geometry.isEmpty():
                    continue
                d = geometry.centroid().asPoint().distance(centre)
                if best is None or d < best[0]:
                    best = (d, layer, feature)
        if best is None:
            return None
        _, layer, feature = best
        name = str(feature["station"])
        rows = []
        expression = f'"station" = {QgsExpression.quotedValue(name)}'
        for table in tables:
            names = table.fields().names()
            for f in table.getFeatures(QgsFeatureRequest().setFilterExpression(expression)):
                row = {}
                for key in names:
                    value = f[key]
                    row[key] = value.toPyDate() if hasattr(value, "toPyDate") else value
                rows.append(row)
        return layer, feature, rows

    @staticmethod
    def _row(layer, band, value, units, quantity, geometry, date):
        return {"layer": layer.name(), "layer_id": layer.id(), "band": band, "value": value,
                "units": units, "quantity": quantity, "geometry": geometry, "date": date,
                "text": inspection.format_value(value, units)}

    def _fill_table(self, rows):
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            cells = (row["layer"], str(row["band"]), row["text"], row["quantity"], row["geometry"])
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)

    def table_text(self):
        """The values table as a list of rows of strings (tests, copy)."""
        return [[self.table.item(r, c).text() for c in range(self.table.columnCount())]
                for r in range(self.table.rowCount())]

    # ------------------------------------------------------------------ series / velocity
    def _reset_date_range(self):
        days = [d for s in self.plot.series for d in s.dates]
        if not days:
            return
        lo, hi = min(days), max(days)
        for edit, day in ((self.start_edit, lo), (self.end_edit, hi)):
            edit.blockSignals(True)
            edit.setDate(QDate(day.year, day.month, day.day))
            edit.blockSignals(False)

    def fit_range(self):
        """(start, end) dates of the velocity fit; (None, None) for the whole series."""
        if self.whole_range_check.isChecked():
            return None, None
        s, e = self.start_edit.date(), self.end_edit.date()
        return dt.date(s.year(), s.month(), s.day()), dt.date(e.year(), e.month(), e.day())

    def set_fit_range(self, start, end):
        """Fit only between ``start`` and ``end`` (datetime.date, inclusive)."""
        self.whole_range_check.setChecked(False)
        self.start_edit.setDate(QDate(start.year, start.month, start.day))
        self.end_edit.setDate(QDate(end.year, end.month, end.day))
        self.update_fit()

    def update_fit(self, *_args):
        """Fit a velocity to the most recent series; returns the core VelocityFit or None."""
        self.start_edit.setEnabled(not self.whole_range_check.isChecked())
        self.end_edit.setEnabled(not self.whole_range_check.isChecked())
        _, drawn, _ = self.plot.axis()
        self._show_fit_controls(bool(self.plot.series))
        if not drawn:
            self.velocity_label.setText("Velocity: —")
            self.plot.set_fit(None, None)
            return None
        series = drawn[-1]   # the newest series drawn, in the plot's unit
        start, end = self.fit_range()
        try:
            fit = inspection.linear_velocity(series.dates, series.values, start, end)
        except ValueError as exc:
            self.velocity_label.setText(f"Velocity: {exc}")
            self.plot.set_fit(None, None)
            return None
        unit = inspection.velocity_unit(series.units)
        sigma = "" if not math.isfinite(fit.sigma) else f" ± {fit.sigma:.3g}"
        text = f"{fit.velocity:.4g}{sigma} {unit}"
        if series.units in ("m", "cm"):  # also in mm/yr, the usual reading unit
            factor = unit_factor(unit, "mm/yr")
            mm_sigma = "" if not math.isfinite(fit.sigma) else f" ± {fit.sigma * factor:.2f}"
            text = f"{fit.velocity * factor:.2f}{mm_sigma} mm/yr ({text})"
        self.velocity_label.setText(
            f"Velocity: {text} from {fit.count} dates, {fit.start.isoformat()} to "
            f"{fit.end.isoformat()}, at {series.label}")
        self.plot.set_fit(fit, series)
        self.last_fit = fit
        return fit

    def clear_series(self):
        self.plot.clear()
        self.remove_markers()
        self.update_fit()

    def _add_marker(self, point, crs, index):
        """Mark a plotted pixel on the map, in the colour of its curve."""
        p = QgsPointXY(point)
        target = self._canvas_crs()
        if crs is not None and crs.isValid() and target.isValid() and crs != target:
            p = QgsCoordinateTransform(crs, target, self.project).transform(p)
        marker = QgsVertexMarker(self.canvas)
        marker.setCenter(p)
        marker.setColor(QColor(series_colour(index)))
        marker.setIconType(QgsVertexMarker.IconType.ICON_CIRCLE)
        marker.setIconSize(12)
        marker.setPenWidth(3)
        self.markers.append(marker)

    def remove_markers(self):
        for marker in self.markers:
            self.canvas.scene().removeItem(marker)
        self.markers = []

    def export_csv(self, path=None):
        """Write the plotted series to ``path`` (asks for one when None); returns the path."""
        if not self.plot.series:
            self.velocity_label.setText("Nothing to export: click on a time-series layer first.")
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export time series", "", "CSV (*.csv)")
            if not path:
                return None
        return inspection.write_series_csv(path, self.plot.series)

    # ------------------------------------------------------------------ reference point
    def set_reference_mode(self, on=True):
        self.reference_mode = bool(on)
        if on:
            self.set_tool_active(True)
            self.reference_label.setText("Click the reference point on the map.")
        if self.reference_button.isChecked() != bool(on):
            self.reference_button.setChecked(bool(on))

    def _reference_target(self):
        layer = self.project.mapLayer(self.selected_layer_id() or "")
        if _raster_path(layer):
            return layer
        checked = self.checked_layers()
        return checked[0] if checked else None

    def output_folder(self):
        folder = self.folder_edit.text().strip()
        if not folder:
            folder = tempfile.mkdtemp(prefix="displacement_reref_")
        os.makedirs(folder, exist_ok=True)
        return folder

    def create_reference_layer(self, point, layer=None, crs=None):
        """Write ``layer`` (default: the selected, else first ticked layer) minus its value at
        ``point`` to a new GeoTIFF, style it, add it to the project and return the new layer."""
        from ..processing_provider.styling import DIVERGING, write_raster_style

        layer = layer or self._reference_target()
        self.set_reference_mode(False)
        if layer is None:
            self.reference_label.setText("No raster layer to re-reference: tick or select one.")
            return None
        path = _raster_path(layer)
        p = self._to_layer(point, layer, crs)
        base = os.path.splitext(os.path.basename(path))[0]
        folder = self.output_folder()
        out = os.path.join(folder, f"{base}_ref_{p.x():.0f}_{p.y():.0f}.tif")
        k = 1
        while os.path.exists(out):
            k += 1
            out = os.path.join(folder, f"{base}_ref_{p.x():.0f}_{p.y():.0f}_{k}.tif")
        radius = self.radius_spin.value()
        algorithm = find_algorithm(REREFERENCE_ID) if self.use_algorithm else None
        try:
            if algorithm is not None:
                result = self._rereference_with_algorithm(path, p, layer.crs(), radius, out)
            else:
                result = inspection.rereference_raster(path, out, p.x(), p.y(), radius)
        except (ValueError, RasterError, QgsProcessingException) as exc:
            self.reference_label.setText(f"Not re-referenced: {exc}")
            return None
        units = next((d.units for d in inspection.describe_bands(raster_info(out)) if d.units), "")
        if algorithm is None:  # the algorithm writes its own style
            write_raster_style(out, DIVERGING, units, result.stats[-1], band=len(result.stats))
        new_layer = QgsRasterLayer(out, layer_title(raster_info(out)), "gdal")
        self.project.addMapLayer(new_layer)
        values = ", ".join(inspection.format_value(v, units) for v in result.reference_values[:3])
        more = " …" if len(result.reference_values) > 3 else ""
        self.reference_label.setText(f"New layer {new_layer.name()}: subtracted {values}{more}. {out}")
        self.last_reference = result
        return new_layer

    def _rereference_with_algorithm(self, path, point, crs, radius, out):
        """Run ``displacement:rereference`` (same radius median as the dock) on ``path``."""
        import processing

        text = f"{point.x()!r},{point.y()!r}" + (f" [{crs.authid()}]" if crs.authid() else "")
        context = QgsProcessingContext()
        context.setProject(self.project)
        processing.run(REREFERENCE_ID, {"INPUT": [path], "REFERENCE_POINT": text,
                                        "REFERENCE_RADIUS": float(radius), "OUTPUT": out},
                       context=context, feedback=QgsProcessingFeedback(), is_child_algorithm=True)
        info = raster_info(out)
        values = [float(m.get("reference_value", "nan")) for m in info.band_metadata]
        return inspection.RereferenceResult(out, values, [])

    # ------------------------------------------------------------------ lifecycle
    def closeEvent(self, event):  # noqa: N802 (Qt API)
        self.set_tool_active(False)
        super().closeEvent(event)

    def disconnect_project(self):
        self.remove_markers()
        for signal in (self.project.layersAdded, self.project.layersRemoved):
            try:
                signal.disconnect(self.refresh_layers)
            except (TypeError, RuntimeError):
                pass


class InspectorController:
    """Owns the dock and its menu action; the plugin calls :meth:`unload`."""

    def __init__(self, iface):
        self.iface = iface
        self.dock = None

    def show(self):
        """Create the dock on first use, show it and activate its map tool."""
        if self.dock is None:
            self.dock = InspectorDock(self.iface.mapCanvas(), self.iface.mainWindow())
            self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.refresh_layers()
        self.dock.show()
        self.dock.raise_()
        self.dock.set_tool_active(True)
        return self.dock

    def unload(self):
        if self.dock is None:
            return
        self.dock.set_tool_active(False)
        self.dock.disconnect_project()
        self.iface.removeDockWidget(self.dock)
        self.dock.deleteLater()
        self.dock = None


def inspector_icon():
    from ..processing_provider.provider import icon_path

    return QIcon(icon_path("inspector"))


__all__ = ["InspectorController", "InspectorDock"]
