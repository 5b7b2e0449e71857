"""The Displacement Inspector dock: menu action, clicks, time-series plot, reference point."""

import csv
import datetime as dt
import hashlib
import os

import numpy as np
import pytest
from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.gui import QgsMapMouseEvent
from qgis.PyQt.QtCore import QEvent, QPoint, Qt

from displacement_toolkit.core.raster_io import raster_info, read_block

pytestmark = pytest.mark.gui

GT = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
ROWS, COLS = 40, 50
DAYS = [dt.date(2020, 1, 5) + dt.timedelta(days=12 * k) for k in range(7)]
VELOCITY = -0.036  # m/yr, pixel (col 10, row 12) of the series


def centre(col, row):
    return GT[0] + (col + 0.5) * GT[1], GT[3] + (row + 0.5) * GT[5]


def los_field():
    r, c = np.mgrid[0:ROWS, 0:COLS]
    return (0.001 * c - 0.002 * r).astype(np.float32)   # metres


def series_cube():
    t = np.array([(d - DAYS[0]).days / 365.25 for d in DAYS])   # years of 365.25 days
    r, c = np.mgrid[0:ROWS, 0:COLS]
    # each pixel moves at VELOCITY * (1 + col/100); offset 0.01 m * row
    rate = VELOCITY * (1.0 + c / 100.0)
    return np.stack([(rate * (tk - t[0]) + 0.01 * r).astype(np.float32) for tk in t])


@pytest.fixture
def layers(make_raster, qgis_new_project, qgis_canvas):
    los = make_raster(los_field(), "los.tif", geotransform=GT,
                      band_metadata=[{"units": "m", "quantity": "los_displacement"}],
                      descriptions=["LOS displacement"],
                      metadata={"incidence_angle": "34.0", "heading": "-12.0"})
    ts = make_raster(series_cube(), "series.tif", geotransform=GT,
                     band_metadata=[{"units": "m", "quantity": "los_displacement",
                                     "date": d.isoformat()} for d in DAYS],
                     metadata={"reference_date": DAYS[0].isoformat()})
    plain = make_raster(np.ones((ROWS, COLS), np.float32), "plain.tif", geotransform=GT)
    out = {}
    for name, path in (("los", los), ("series", ts), ("plain", plain)):
        layer = QgsRasterLayer(path, name, "gdal")
        assert layer.isValid()
        QgsProject.instance().addMapLayer(layer)
        out[name] = layer
    qgis_canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:32633"))
    qgis_canvas.resize(600, 500)
    qgis_canvas.setExtent(QgsRectangle(GT[0], GT[3] + ROWS * GT[5], GT[0] + COLS * GT[1], GT[3]))
    qgis_canvas.refresh()
    return out


@pytest.fixture
def dock(qgis_canvas, layers, tmp_path):
    from displacement_toolkit.ui.inspector_dock import InspectorDock

    widget = InspectorDock(qgis_canvas)
    widget.folder_edit.setText(str(tmp_path / "reref"))
    yield widget
    widget.set_tool_active(False)
    widget.disconnect_project()
    widget.deleteLater()


def click(canvas, tool, x, y, button=Qt.MouseButton.LeftButton):
    """Release the mouse on the canvas at map coordinates (x, y), as a user click does."""
    tool.canvasReleaseEvent(mouse_event(canvas, QEvent.Type.MouseButtonRelease, x, y, button))


def mouse_event(canvas, kind, x, y, button):
    event = QgsMapMouseEvent(canvas, kind, QPoint(0, 0), button, button,
                             Qt.KeyboardModifier.NoModifier)
    event.setMapPoint(QgsPointXY(x, y))  # also sets the pixel position accordingly
    return event


def test_dock_opens_from_the_menu_and_unloads(qgis_iface, qgis_processing, layers):
    from displacement_toolkit.plugin.plugin import DisplacementToolkitPlugin

    registry = QgsApplication.processingRegistry()
    existing = registry.providerById("displacement")
    plugin = DisplacementToolkitPlugin(qgis_iface)
    plugin.provider = existing  # reuse the session's provider (initProcessing keeps it)
    plugin.initGui()
    try:
        action = next(a for a in plugin.actions if a.text() == "Displacement Inspector")
        assert plugin.tool_button.defaultAction() is action   # the toolbar's button
        action.trigger()
        dock = plugin.inspector.dock
        assert dock is not None and not dock.isHidden()
        assert qgis_iface.mapCanvas().mapTool() is dock.map_tool
        names = [dock.layer_list.item(i).text() for i in range(dock.layer_list.count())]
        assert sorted(names) == ["los", "plain", "series"]
        # displacement layers (units/quantity metadata) are ticked, others not
        assert sorted(layer.name() for layer in dock.checked_layers()) == ["los", "series"]
        action.trigger()  # a second trigger reuses the dock
        assert plugin.inspector.dock is dock
    finally:
        if existing is not None:
            plugin.provider = None  # leave the session provider registered
        plugin.unload()
    assert plugin.inspector.dock is None
    assert qgis_iface.mapCanvas().mapTool() is not dock.map_tool


def test_click_shows_the_value_with_units(dock, qgis_canvas):
    dock.set_tool_active(True)
    x, y = centre(20, 7)
    click(qgis_canvas, dock.map_tool, x + 5.0, y - 5.0)
    rows = {r["layer"]: r for r in dock.last_values}
    truth = 0.001 * 20 - 0.002 * 7
    assert rows["los"]["value"] == pytest.approx(truth, abs=1e-7)
    assert rows["los"]["units"] == "m" and rows["los"]["quantity"] == "los_displacement"
    assert rows["los"]["text"] == f"{truth:.4g} m"
    assert rows["los"]["geometry"] == "incidence angle 34°, heading -12°"
    table = dock.table_text()
    assert ["los", "1 LOS displacement", f"{truth:.4g} m", "los_displacement"] == table[0][:4]
    assert "plain" not in rows  # not ticked
    # a radius median: 3x3-ish disk of a linear field keeps the centre value
    dock.radius_spin.setValue(2.0)
    click(qgis_canvas, dock.map_tool, x, y)
    assert {r["layer"]: r for r in dock.last_values}["los"]["value"] == pytest.approx(truth, abs=1e-7)
    # right clicks are ignored
    dock.last_values = []
    click(qgis_canvas, dock.map_tool, x, y, Qt.MouseButton.RightButton)
    assert dock.last_values == []


def test_click_in_another_canvas_crs(dock, qgis_canvas, layers):
    wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
    to_geo = QgsCoordinateTransform(layers["los"].crs(), wgs84, QgsProject.instance())
    p = to_geo.transform(QgsPointXY(*centre(33, 21)))
    dock.inspect_point(p, crs=wgs84)
    rows = {r["layer"]: r for r in dock.last_values}
    assert rows["los"]["value"] == pytest.approx(0.001 * 33 - 0.002 * 21, abs=1e-7)


def test_hover_updates_values_without_plotting(dock, qgis_canvas):
    dock.hover_check.setChecked(True)
    x, y = centre(4, 30)
    dock.map_tool.canvasMoveEvent(
        mouse_event(qgis_canvas, QEvent.Type.MouseMove, x, y, Qt.MouseButton.NoButton))
    rows = {r["layer"]: r for r in dock.last_values}
    assert rows["los"]["value"] == pytest.approx(0.004 - 0.060, abs=1e-7)
    assert dock.plot.series == []


def test_time_series_plot_velocity_and_csv(dock, qgis_canvas, tmp_path):
    cube = series_cube()
    click(qgis_canvas, dock.map_tool, *centre(10, 12))
    assert len(dock.plot.series) == 1
    label, days, values = dock.plot.plotted_points()[0]
    assert days == DAYS
    np.testing.assert_allclose(values, cube[:, 12, 10], atol=1e-7)
    # the matplotlib line carries the same points
    assert dock.plot.available
    line = dock.plot.axes.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), cube[:, 12, 10], atol=1e-7)
    assert len(line.get_xdata()) == len(DAYS)
    # table row of the series: last date with units
    row = {r["layer"]: r for r in dock.last_values}["series"]
    assert row["date"] == DAYS[-1] and row["units"] == "m"
    assert row["value"] == pytest.approx(cube[-1, 12, 10], abs=1e-7)
    # velocity of the clicked pixel: VELOCITY * (1 + 10/100) m/yr
    fit = dock.last_fit
    assert fit.velocity == pytest.approx(VELOCITY * 1.1, rel=1e-4)
    assert "m/yr" in dock.velocity_label.text()
    # a second pixel is overlaid; the fit follows the newest one
    click(qgis_canvas, dock.map_tool, *centre(40, 3))
    assert len(dock.plot.series) == 2
    np.testing.assert_allclose(dock.plot.series[1].values, cube[:, 3, 40], atol=1e-7)
    assert dock.last_fit.velocity == pytest.approx(VELOCITY * 1.4, rel=1e-4)
    # fit over a date range: 3 dates
    dock.set_fit_range(DAYS[2], DAYS[4])
    assert dock.last_fit.count == 3 and dock.last_fit.start == DAYS[2]
    # CSV export of both series
    path = dock.export_csv(str(tmp_path / "series.csv"))
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * len(DAYS)
    np.testing.assert_allclose([float(r["value"]) for r in rows[:7]], cube[:, 12, 10], atol=1e-7)
    # each plotted pixel is marked on the map in the colour of its curve
    assert len(dock.markers) == 2
    colours = [la.get_color() for la in dock.plot.axes.get_lines()[:2]]
    assert [m.color().name() for m in dock.markers] == colours
    # without overlay a click replaces the series
    dock.overlay_check.setChecked(False)
    click(qgis_canvas, dock.map_tool, *centre(1, 1))
    assert len(dock.plot.series) == 1 and len(dock.markers) == 1
    dock.clear_series()
    assert dock.plot.series == [] and dock.markers == [] and dock.last_fit is not None


def test_without_matplotlib_values_still_work(qgis_canvas, layers):
    from displacement_toolkit.ui.inspector_dock import InspectorDock
    from displacement_toolkit.ui.timeseries_plot import MATPLOTLIB_MISSING

    dock = InspectorDock(qgis_canvas, use_matplotlib=False)
    try:
        assert not dock.plot.available and dock.plot.message.text() == MATPLOTLIB_MISSING
        dock.inspect_point(QgsPointXY(*centre(10, 12)))
        assert len(dock.plot.series) == 1
        assert dock.last_fit.velocity == pytest.approx(VELOCITY * 1.1, rel=1e-4)
    finally:
        dock.disconnect_project()
        dock.deleteLater()


def _md5(path):
    return hashlib.md5(open(path, "rb").read()).hexdigest()


@pytest.fixture(params=["algorithm", "core"])
def reference_path(request, dock):
    """Both ways of the reference action: displacement:rereference (issue 11) and the
    dock's own core.inspection fallback (used when the algorithm is not registered)."""
    own = None
    if request.param == "algorithm":
        from displacement_toolkit.processing_provider.provider import DisplacementProvider
        from displacement_toolkit.ui.common import find_algorithm
        from displacement_toolkit.ui.inspector_dock import REREFERENCE_ID

        request.getfixturevalue("qgis_processing")
        registry = QgsApplication.processingRegistry()
        # not the session `provider` fixture: the lifecycle tests that run after these
        # remove every displacement provider, which would delete the session's one
        if registry.providerById("displacement") is None:
            own = DisplacementProvider()
            assert registry.addProvider(own)
        assert find_algorithm(REREFERENCE_ID) is not None
    dock.use_algorithm = request.param == "algorithm"
    yield request.param
    if own is not None:
        QgsApplication.processingRegistry().removeProvider(own)


def test_reference_point_creates_a_new_layer(dock, qgis_canvas, layers, tmp_path, reference_path):
    source = layers["los"].source()
    before = _md5(source)
    n_layers = len(QgsProject.instance().mapLayers())
    dock.select_layer(layers["los"])
    dock.radius_spin.setValue(1.0)
    dock.reference_button.setChecked(True)
    assert dock.reference_mode and qgis_canvas.mapTool() is dock.map_tool
    click(qgis_canvas, dock.map_tool, *centre(25, 10))
    assert not dock.reference_mode and not dock.reference_button.isChecked()
    assert len(QgsProject.instance().mapLayers()) == n_layers + 1
    # named by what it is and where it is referenced (QGIS's own transform as the truth)
    to_geo = QgsCoordinateTransform(layers["los"].crs(), QgsCoordinateReferenceSystem("EPSG:4326"),
                                    QgsProject.instance())
    lonlat = to_geo.transform(QgsPointXY(*centre(25, 10)))
    name = f"LOS displacement, re-referenced at {lonlat.x():.2f} E {lonlat.y():.2f} N"
    new = [la for la in QgsProject.instance().mapLayers().values() if la.name() == name]
    assert len(new) == 1 and new[0].isValid()
    path = new[0].source()
    assert os.path.dirname(path) == str(tmp_path / "reref")
    ref = 0.001 * 25 - 0.002 * 10   # median of a linear field over a symmetric disk
    np.testing.assert_allclose(read_block(path), los_field() - np.float32(ref), atol=1e-6)
    assert read_block(path)[10, 25] == pytest.approx(0.0, abs=1e-7)
    info = raster_info(path)
    assert info.band_metadata[0]["units"] == "m"
    assert float(info.band_metadata[0]["reference_value"]) == pytest.approx(ref, abs=1e-7)
    assert os.path.exists(os.path.splitext(path)[0] + ".qml")
    assert _md5(source) == before
    # the new layer is listed (ticked: it carries units) and a click reads zero there
    dock.inspect_point(QgsPointXY(*centre(25, 10)))
    values = {r["layer"]: r["value"] for r in dock.last_values}
    assert values[new[0].name()] == pytest.approx(0.0, abs=1e-7)


def test_reference_point_outside_the_data_is_refused(dock, layers, reference_path):
    n_layers = len(QgsProject.instance().mapLayers())
    dock.select_layer(layers["los"])
    assert dock.create_reference_layer(QgsPointXY(0.0, 0.0)) is None
    assert "outside" in dock.reference_label.text()
    assert len(QgsProject.instance().mapLayers()) == n_layers


def test_reference_point_on_a_time_series(dock, layers, reference_path):
    from displacement_toolkit.core.inspection import describe_bands, is_time_series

    dock.select_layer(layers["series"])
    new = dock.create_reference_layer(QgsPointXY(*centre(10, 12)))
    assert new is not None and new.isValid()
    cube = series_cube()
    path = new.source()
    for k in range(len(DAYS)):
        np.testing.assert_allclose(read_block(path, k + 1), cube[k] - cube[k, 12, 10], atol=1e-6)
    info = raster_info(path)
    assert is_time_series(info)
    assert [b.date for b in describe_bands(info)] == DAYS
    np.testing.assert_allclose(dock.last_reference.reference_values, cube[:, 12, 10], atol=1e-7)


@pytest.fixture
def stations(layers):
    """A GNSS station layer (P123 at pixel (30, 20), FAR at (2, 2)) and its comparison table,
    values in mm."""
    from qgis.core import QgsFeature, QgsGeometry, QgsVectorLayer

    wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
    to_geo = QgsCoordinateTransform(layers["los"].crs(), wgs84, QgsProject.instance())
    stations = QgsVectorLayer(
        "Point?crs=EPSG:4326&field=station:string&field=bias:double&field=rmse:double"
        "&field=r:double&field=units:string", "gnss stations", "memory")
    table = QgsVectorLayer(
        "None?field=station:string&field=date:string&field=gnss_los:double"
        "&field=insar_los:double&field=units:string", "gnss table", "memory")
    for name, col, row in (("P123", 30, 20), ("FAR", 2, 2)):
        f = QgsFeature(stations.fields())
        f.setAttributes([name, 0.4, 1.2, 0.98, "mm"])
        f.setGeometry(QgsGeometry.fromPointXY(to_geo.transform(QgsPointXY(*centre(col, row)))))
        stations.dataProvider().addFeatures([f])
    values = {"P123": [(d, -2.0 * k, -2.2 * k) for k, d in enumerate(DAYS[:4])],
              "FAR": [(DAYS[0], 9.0, 9.0), (DAYS[1], 8.0, 8.0)]}
    for name, series in values.items():
        for d, g, i in reversed(series):  # unsorted on purpose
            f = QgsFeature(table.fields())
            f.setAttributes([name, d.isoformat(), g, i, "mm"])
            table.dataProvider().addFeatures([f])
    QgsProject.instance().addMapLayers([stations, table])
    return stations, table


def test_gnss_station_series_with_the_insar_points(dock, qgis_canvas, layers, stations):
    x, y = centre(30, 20)
    click(qgis_canvas, dock.map_tool, x + 10.0, y - 10.0)
    labels = [s.label for s in dock.plot.series]
    assert "GNSS LOS P123" in labels and "InSAR LOS P123" in labels
    gnss = dock.plot.series[labels.index("GNSS LOS P123")]
    insar = dock.plot.series[labels.index("InSAR LOS P123")]
    assert gnss.dates == DAYS[:4] and insar.dates == DAYS[:4]
    np.testing.assert_allclose(gnss.values, [0.0, -2.0, -4.0, -6.0])
    np.testing.assert_allclose(insar.values, [0.0, -2.2, -4.4, -6.6])
    row = {r["layer"]: r for r in dock.last_values}["gnss stations"]
    assert row["band"] == f"station P123 {DAYS[3].isoformat()}"
    assert row["text"] == "-6 mm" and row["quantity"] == "gnss_los"
    assert row["geometry"] == "bias 0.4, rmse 1.2, r 0.98"
    # the raster layers are still read at the same click
    assert {r["layer"]: r for r in dock.last_values}["los"]["value"] == pytest.approx(
        0.001 * 30 - 0.002 * 20, abs=1e-7)
    # away from every station: no station row
    click(qgis_canvas, dock.map_tool, *centre(45, 35))
    assert "gnss stations" not in {r["layer"] for r in dock.last_values}


def test_one_unit_per_plot_axis(dock, qgis_canvas, layers, stations):
    """A raster series in m and GNSS series in mm share one axis: every curve is drawn in
    the axis unit (by default the first series' unit), the label says which, and the
    user's choice of unit converts every curve and the velocity."""
    cube = series_cube()
    x, y = centre(30, 20)
    click(qgis_canvas, dock.map_tool, x + 10.0, y - 10.0)   # raster series (m) + station (mm)
    units = [s.units for s in dock.plot.series]
    assert units == ["m", "mm", "mm"]
    truth = {"series": cube[:, 20, 30], "GNSS LOS P123": [0.0, -2.0, -4.0, -6.0],
             "InSAR LOS P123": [0.0, -2.2, -4.4, -6.6]}
    truth_unit = {"series": "m", "GNSS LOS P123": "mm", "InSAR LOS P123": "mm"}
    factor = {("m", "m"): 1.0, ("mm", "m"): 1e-3, ("m", "mm"): 1e3, ("mm", "mm"): 1.0}

    def check(axis_unit):
        assert dock.plot.axis_unit() == axis_unit
        assert dock.plot.axes.get_ylabel() == f"displacement ({axis_unit})"
        lines = dock.plot.axes.get_lines()
        for (label, _days, values), line in zip(dock.plot.plotted_points(), lines):
            key = "series" if label.startswith("series") else label
            expected = np.asarray(truth[key]) * factor[(truth_unit[key], axis_unit)]
            np.testing.assert_allclose(values, expected, rtol=1e-6, atol=1e-9)
            np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-6, atol=1e-9)
        assert len(dock.plot.plotted_points()) == 3

    check("m")                           # the first layer's unit
    assert dock.plot.unit_combo.currentText() == "m"
    assert "mm/yr" in dock.velocity_label.text()
    fit_m = dock.last_fit.velocity       # InSAR LOS P123 (the newest series), m/yr
    dock.plot.unit_combo.setCurrentIndex(dock.plot.unit_combo.findText("mm"))
    dock.plot.unit_combo.activated.emit(dock.plot.unit_combo.currentIndex())   # a user's pick
    check("mm")
    assert dock.last_fit.velocity == pytest.approx(fit_m * 1000.0, rel=1e-9)
    assert "mm/yr" in dock.velocity_label.text() and " m/yr" not in dock.velocity_label.text()
    # a series whose unit cannot be converted is left off the axis and named
    from displacement_toolkit.core.inspection import Series

    dock.plot.add_series(Series(DAYS[:2], np.array([0.0, 1.0]), "px", label="offset"))
    assert len(dock.plot.axes.get_lines()) == 3 + 2   # 3 curves, fit line, zero line
    assert "not drawn: offset (px, axis in mm)" in dock.plot.legend_text()
    # after Clear, the chosen unit stays for displacements, and gives way to an offset series
    dock.clear_series()
    dock.plot.add_series(Series(DAYS[:2], np.array([0.0, 0.002]), "m", label="again"))
    assert dock.plot.axis_unit() == "mm" and dock.plot.plotted_points()[0][2] == [0.0, 2.0]
    dock.clear_series()
    dock.plot.add_series(Series(DAYS[:2], np.array([0.0, 1.0]), "px", label="offset"))
    assert dock.plot.axis_unit() == "px" and len(dock.plot.plotted_points()) == 1
