"""The QGIS plugin class: provider registration, menu and toolbar.

``initProcessing`` registers the provider (``qgis_process`` and headless
use call only this); ``initGui`` calls it and adds the "Displacement
Toolkit" menu under Raster and a toolbar holding ONE drop-down button (the
Inspector by default; the guided dialogs and every algorithm, with their
family icons, in its menu); ``unload`` removes all of it.
The constructor never touches ``iface``: it is ``None`` under
``qgis_process``.
"""

import os
from functools import partial

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QUrl
from qgis.PyQt.QtGui import QDesktopServices, QIcon
from qgis.PyQt.QtWidgets import QAction, QMenu, QToolButton

from ..processing_provider.provider import ICON_PATH, DisplacementProvider, icon_path

CONVENTIONS_DOC = os.path.join(os.path.dirname(os.path.dirname(__file__)), "docs", "conventions.md")
MENU_NAME = "&Displacement Toolkit"
TOOLBAR_NAME = "Displacement Toolkit"
TOOLBAR_OBJECT_NAME = "DisplacementToolkitToolbar"


class DisplacementToolkitPlugin:
    """Entry object created by :func:`displacement_toolkit.classFactory`."""

    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.actions = []
        self.toolbar = None
        self.tool_menu = None
        self.tool_button = None
        self.extra_ui = []  # objects with an ``unload()`` added by ui/ modules

    # --- Processing -----------------------------------------------------
    def initProcessing(self):  # noqa: N802 (QGIS API)
        """Register the ``displacement`` provider once."""
        if self.provider is not None:
            return
        self.provider = DisplacementProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    # --- GUI ------------------------------------------------------------
    def initGui(self):  # noqa: N802 (QGIS API)
        self.initProcessing()
        if self.iface is None:
            return
        self.toolbar = self.iface.addToolBar(TOOLBAR_NAME)
        self.toolbar.setObjectName(TOOLBAR_OBJECT_NAME)
        self.tool_menu = QMenu(TOOLBAR_NAME, self.iface.mainWindow())
        self.tool_button = QToolButton()
        self.tool_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.tool_button.setMenu(self.tool_menu)
        self.tool_button.setToolTip(TOOLBAR_NAME)
        self.init_interactive_ui()
        self.tool_button.setDefaultAction(self.actions[0])   # the Inspector
        self.toolbar.addWidget(self.tool_button)
        group = None
        # the registry lists algorithms by id: gather each group under one section
        for algorithm in sorted(self.provider.algorithms(),
                                key=lambda a: (a.group(), a.displayName())):
            if algorithm.group() != group:
                group = algorithm.group()
                self.tool_menu.addSection(group)
            self.add_action(
                algorithm.displayName(),
                partial(self.open_algorithm_dialog, algorithm.id()),
                icon=algorithm.icon(),
                tooltip=algorithm.shortDescription() or algorithm.displayName(),
            )
        self.tool_menu.addSeparator()
        self.add_action("Conventions and Help", self.open_conventions)

    def init_interactive_ui(self):
        """The Displacement Inspector dock (ui/inspector_dock.py, unloaded through extra_ui)
        and the guided dialogs (ui/decomposition_dialog.py, ui/offset_tracking_dialog.py)."""
        from ..ui.inspector_dock import InspectorController, inspector_icon

        self.inspector = InspectorController(self.iface)
        self.extra_ui.append(self.inspector)
        self.add_action("Displacement Inspector", self.inspector.show, icon=inspector_icon(),
                        tooltip="Values with units, time series, velocity and reference point "
                                "at the clicked pixel")
        self.tool_menu.addSection("Guided")
        self.add_action("Decomposition (guided)", self.open_decomposition_dialog,
                        icon=QIcon(icon_path("decomposition")),
                        tooltip="Tracks table with a live preview of the unit vectors and the "
                                "condition of the system; runs displacement:decompose")
        self.add_action("Offset Tracking (guided)", self.open_offset_tracking_dialog,
                        icon=QIcon(icon_path("offset_tracking")),
                        tooltip="Preview of the window grid, run-time and size estimate; runs "
                                "displacement:offset_tracking")

    def open_decomposition_dialog(self):
        from ..ui.decomposition_dialog import DecompositionDialog

        self._guided_dialog = DecompositionDialog(self.iface.mainWindow())
        self._guided_dialog.show()

    def open_offset_tracking_dialog(self):
        from ..ui.offset_tracking_dialog import OffsetTrackingDialog

        self._guided_dialog = OffsetTrackingDialog(self.iface.mainWindow())
        self._guided_dialog.show()

    def add_action(self, text, callback, icon=None, tooltip=None):
        """Add an action to the plugin menu (under Raster) and the toolbar button's menu."""
        action = QAction(icon or QIcon(ICON_PATH), text, self.iface.mainWindow())
        action.setObjectName("DisplacementToolkit_" + "".join(c for c in text if c.isalnum()))
        if tooltip:
            action.setToolTip(tooltip)
        action.triggered.connect(callback)
        self.iface.addPluginToRasterMenu(MENU_NAME, action)
        if self.tool_menu is not None:
            self.tool_menu.addAction(action)
        self.actions.append(action)
        return action

    def open_algorithm_dialog(self, algorithm_id):
        """Open the Processing dialog of ``algorithm_id`` without blocking (no modal loop
        that would read a dialog QGIS has deleted)."""
        from ..ui.common import run_algorithm_dialog

        self._algorithm_run = run_algorithm_dialog(algorithm_id, {}, lambda *_: None)

    def open_conventions(self):
        """Open docs/conventions.md (signs, units, angles) in the system viewer."""
        QDesktopServices.openUrl(QUrl.fromLocalFile(CONVENTIONS_DOC))

    def unload(self):
        for item in self.extra_ui:
            item.unload()
        self.extra_ui = []
        if self.iface is not None:
            for action in self.actions:
                self.iface.removePluginRasterMenu(MENU_NAME, action)
                action.deleteLater()
            for widget in (self.tool_button, self.tool_menu, self.toolbar):
                if widget is not None:
                    widget.deleteLater()
        self.actions = []
        self.toolbar = self.tool_menu = self.tool_button = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
