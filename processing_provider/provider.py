"""The ``displacement`` Processing provider."""

import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import algorithm_classes

PROVIDER_ID = "displacement"
PROVIDER_NAME = "Displacement Toolkit"
ICONS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "icons")
ICON_PATH = os.path.join(ICONS_DIR, "icon.svg")


def icon_path(*names):
    """``icons/<name>.svg`` of the first name that has one (an algorithm's own icon, then
    its family's, e.g. ``icon_path("los_to_vertical", "grids")``), else the toolkit's icon."""
    for name in names:
        path = os.path.join(ICONS_DIR, f"{name}.svg")
        if name and os.path.exists(path):
            return path
    return ICON_PATH


class DisplacementProvider(QgsProcessingProvider):
    """Registers every algorithm listed in :func:`algorithm_classes`."""

    def id(self):
        return PROVIDER_ID

    def name(self):
        return PROVIDER_NAME

    def longName(self):
        return "Displacement Toolkit: ground displacement from SAR and GNSS"

    def icon(self):
        return QIcon(ICON_PATH)

    def svgIconPath(self):
        return ICON_PATH

    def loadAlgorithms(self):
        for cls in algorithm_classes():
            self.addAlgorithm(cls())

    def supportedOutputRasterLayerExtensions(self):
        return ["tif"]

    def defaultRasterFileExtension(self):
        return "tif"
