"""GUI tests that look: the dock, its plot and both guided dialogs rendered at their
default sizes (offscreen ``QWidget.grab``), with checks of what the pictures show.

The pictures go to ``$DT_SCREENSHOTS_DIR`` (default ``.build/screenshots``);
``make screenshots`` writes them to docs/img for the README.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QMainWindow,
    QTableWidget,
    QWidget,
)

from .test_dialogs import registered, tracks_layers  # noqa: F401 (fixtures)
from .test_inspector_dock import centre, click, layers, stations  # noqa: F401 (fixtures)

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parents[2]
DOCK_WIDTH = 350   # about the width QGIS gives a new dock on the right


@pytest.fixture(scope="module")
def shots():
    folder = Path(os.environ.get("DT_SCREENSHOTS_DIR") or REPO / ".build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def settle():
    for _ in range(3):
        QApplication.processEvents()


def clipped_widgets(root):
    """Visible widgets under ``root`` smaller than their size hint where that cuts text:
    labels that do not wrap, buttons, combo and spin boxes.  Returns descriptions."""
    out = []
    for w in [root] + root.findChildren(QWidget):
        if not w.isVisibleTo(root) or w.width() == 0:
            continue
        if isinstance(w, QLabel) and w.wordWrap() and w.text():
            need = w.heightForWidth(w.width())    # every wrapped line shown
            if need > w.height():
                out.append(f"wrapped QLabel {w.text()[:40]!r}: {w.height()} < {need} px high")
            continue
        if type(w).__name__ == "FigureCanvasQTAgg" and w.height() < w.minimumHeight():
            out.append(f"plot canvas {w.height()} < {w.minimumHeight()} px high")
            continue
        if isinstance(w, QLabel) and (w.pixmap() is not None and not w.pixmap().isNull()
                                      or not w.text()):
            continue
        if not isinstance(w, (QLabel, QAbstractButton, QComboBox, QAbstractSpinBox)):
            continue
        if type(w).__name__ == "QAbstractButton":   # Qt's own dock title-bar buttons
            continue
        hint = w.sizeHint()
        if w.width() < hint.width() or w.height() < hint.height():
            name = getattr(w, "text", lambda: "")() if not isinstance(w, QComboBox) else w.currentText()
            out.append(f"{type(w).__name__} {name!r}: {w.width()}x{w.height()} < "
                       f"{hint.width()}x{hint.height()}")
    return out


def hidden_columns(table: QTableWidget):
    """Columns of ``table`` not entirely inside its viewport (need a horizontal scroll)."""
    header = table.horizontalHeader()
    width = table.viewport().width()
    return [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())
            if not header.isSectionHidden(c)
            and header.sectionViewportPosition(c) + header.sectionSize(c) > width + 1]


@pytest.fixture
def window(qgis_canvas):
    """A main window with the map canvas, as QGIS shows the Inspector dock."""
    win = QMainWindow()
    win.resize(1100, 860)   # a 1080p screen less the QGIS toolbars
    yield win
    win.close()


def test_inspector_dock_at_its_default_width(window, qgis_canvas, layers, stations, shots):  # noqa: F811
    from displacement_toolkit.ui.inspector_dock import InspectorDock

    # a long layer name, as layer_title makes them, must not widen the dock
    layers["series"].setName("Displacement 2020-01-05 to 2020-03-17, re-referenced at "
                             "15.09 E 36.12 N")
    qgis_canvas.setParent(None)
    window.setCentralWidget(qgis_canvas)
    dock = InspectorDock(qgis_canvas, window)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.show()
    window.resizeDocks([dock], [DOCK_WIDTH], Qt.Orientation.Horizontal)
    settle()
    try:
        assert abs(dock.width() - DOCK_WIDTH) <= 30, dock.width()
        scroll = dock.widget()    # the controls fit the dock's width: nothing cut on the right
        assert scroll.widget().width() <= scroll.viewport().width()
        # empty state: what to click, no date axis
        assert dock.plot.stack.currentWidget() is dock.plot.empty_label
        assert "click" in dock.plot.empty_label.text()
        assert not dock.start_edit.isVisible() and not dock.plot.unit_bar.isVisible()  # no 2000-01-01
        dock.grab().save(str(shots / "inspector_dock_empty.png"))
        assert clipped_widgets(dock) == []
        # a raster series (m) and a GNSS station (mm) at one click
        x, y = centre(30, 20)
        click(qgis_canvas, dock.map_tool, x + 10.0, y - 10.0)
        click(qgis_canvas, dock.map_tool, *centre(10, 12))
        settle()
        assert dock.start_edit.isVisible() and dock.start_edit.date().year() == 2020
        dock.plot.canvas.draw()
        dock.grab().save(str(shots / "inspector_dock.png"))
        assert scroll.widget().width() <= scroll.viewport().width()
        dock.plot.grab().save(str(shots / "inspector_plot.png"))
        assert clipped_widgets(dock) == []
        # value and unit readable without scrolling
        table = dock.table
        value_column = dock.COLUMNS.index("value")
        assert "value" not in [h.lower() for h in hidden_columns(table)]
        assert table.item(0, value_column).text().endswith(" m")
        assert table.horizontalHeader().sectionViewportPosition(value_column) >= 0
        # the plot: one unit, the legend outside the axes, labels inside the figure
        unit = dock.plot.axis_unit()
        assert unit == "m" and dock.plot.axes.get_ylabel() == "displacement (m)"
        assert {s.units for s in dock.plot.axis()[1]} == {unit}
        fig = dock.plot.figure
        renderer = fig.canvas.get_renderer()
        bbox = fig.bbox
        for text in [dock.plot.axes.yaxis.label] + dock.plot.axes.get_xticklabels():
            if text.get_text():
                extent = text.get_window_extent(renderer)
                assert extent.x0 >= bbox.x0 - 1 and extent.x1 <= bbox.x1 + 1, text.get_text()
                assert extent.y0 >= bbox.y0 - 1 and extent.y1 <= bbox.y1 + 1, text.get_text()
        assert dock.plot.axes.get_legend() is None          # the legend is under the plot
        assert "GNSS LOS P123" in dock.plot.legend_text()
    finally:
        dock.set_tool_active(False)
        dock.disconnect_project()
        window.removeDockWidget(dock)
        qgis_canvas.setParent(None)


def test_guided_dialogs_at_their_default_size(tracks_layers, registered, make_raster, shots):  # noqa: F811
    from qgis.core import QgsProject, QgsRasterLayer
    from scipy.ndimage import gaussian_filter

    from displacement_toolkit.ui import decomposition_dialog as dd
    from displacement_toolkit.ui import offset_tracking_dialog as od

    dialog = dd.DecompositionDialog()
    dialog.set_track(0, tracks_layers["asc"])
    dialog.set_track(1, tracks_layers["dsc"])
    dialog.show()
    settle()
    dialog.grab().save(str(shots / "decomposition_dialog.png"))
    assert hidden_columns(dialog.table) == []
    assert clipped_widgets(dialog) == []
    assert dialog.width() <= 1366 and dialog.height() <= 768   # a laptop screen
    dialog.close()

    texture = gaussian_filter(np.random.default_rng(3).random((240, 320)), 2.0).astype(np.float32)
    for name, array in (("reference image", texture), ("secondary image", np.roll(texture, 2, 1))):
        path = make_raster(array, name.replace(" ", "_") + ".tif")
        QgsProject.instance().addMapLayer(QgsRasterLayer(path, name, "gdal"))
    ot = od.OffsetTrackingDialog(measure=lambda *key: 0.001)
    ot.reference_combo.setLayer(QgsProject.instance().mapLayersByName("reference image")[0])
    ot.secondary_combo.setLayer(QgsProject.instance().mapLayersByName("secondary image")[0])
    ot.show()
    settle()
    ot.grab().save(str(shots / "offset_tracking_dialog.png"))
    assert clipped_widgets(ot) == []
    for combo in (ot.reference_combo, ot.secondary_combo):   # the layer name is readable
        assert combo.width() >= combo.fontMetrics().horizontalAdvance("secondary image") + 40
    ot.close()
