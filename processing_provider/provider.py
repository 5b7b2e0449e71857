"""The ``displacement`` Processing provider."""

import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from ..core import execution
from .algorithms import algorithm_classes

PROVIDER_ID = "displacement"
#: Processing › Options › Providers › Displacement Toolkit: where block-wise work runs.
SCHEDULER_SETTING = "DISPLACEMENT_TOOLKIT_SCHEDULER"
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

    def load(self):
        """Register the provider's setting (a Dask scheduler address), then the algorithms."""
        try:
            from processing.core.ProcessingConfig import ProcessingConfig, Setting
        except ImportError:   # Processing plugin absent: no options page, environment only
            return super().load()
        ProcessingConfig.settingIcons[self.name()] = self.icon()
        ProcessingConfig.addSetting(Setting(
            self.name(), SCHEDULER_SETTING,
            "Dask scheduler for block-wise work (tcp://host:port; empty: this machine's cores; "
            f"the {execution.SCHEDULER_ENV} environment variable takes precedence)", "",
            valuetype=Setting.STRING))
        ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self):
        try:
            from processing.core.ProcessingConfig import ProcessingConfig
        except ImportError:
            return
        if SCHEDULER_SETTING in ProcessingConfig.settings:   # gone when unloaded twice
            ProcessingConfig.removeSetting(SCHEDULER_SETTING)

    def loadAlgorithms(self):
        # also called after Processing › Options is accepted: pick up the scheduler setting
        execution.set_default_scheduler(_setting(SCHEDULER_SETTING))
        for cls in algorithm_classes():
            self.addAlgorithm(cls())

    def supportedOutputRasterLayerExtensions(self):
        return ["tif"]

    def defaultRasterFileExtension(self):
        return "tif"


def _setting(name):
    try:
        from processing.core.ProcessingConfig import ProcessingConfig
    except ImportError:
        return None
    return ProcessingConfig.getSetting(name) or None
