"""Map tool of the Displacement Inspector: click (or hover) to pick a map point."""

from qgis.core import QgsPointXY
from qgis.gui import QgsMapToolEmitPoint
from qgis.PyQt.QtCore import Qt, pyqtSignal


class InspectorMapTool(QgsMapToolEmitPoint):
    """Emits ``picked(point)`` on a left click and ``hovered(point)`` while the mouse moves
    (only when :attr:`hover` is True).  Points are in the canvas CRS."""

    picked = pyqtSignal(QgsPointXY)
    hovered = pyqtSignal(QgsPointXY)

    def __init__(self, canvas):
        super().__init__(canvas)
        self.hover = False
        self.setCursor(Qt.CursorShape.CrossCursor)

    def canvasReleaseEvent(self, event):  # noqa: N802 (QGIS API)
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self.picked.emit(QgsPointXY(event.mapPoint()))

    def canvasMoveEvent(self, event):  # noqa: N802 (QGIS API)
        if self.hover:
            self.hovered.emit(QgsPointXY(event.mapPoint()))
