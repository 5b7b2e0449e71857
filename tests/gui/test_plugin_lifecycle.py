"""The plugin loads, unloads and reloads through QGIS's own plugin machinery."""

import os

import pytest
from qgis.core import QgsApplication
from qgis.PyQt.QtWidgets import QToolBar

from displacement_toolkit.processing_provider.algorithms import algorithm_classes

pytestmark = pytest.mark.gui


_KEEP_ALIVE = []


def _providers():
    return [p for p in QgsApplication.processingRegistry().providers() if p.id() == "displacement"]


def _toolbars(qgis_iface):
    return [t for t in qgis_iface.mainWindow().findChildren(QToolBar)
            if t.objectName() == "DisplacementToolkitToolbar"]


@pytest.fixture
def fresh_registry():
    """Remove a provider left by Processing tests so that the plugin owns registration,
    and let QGIS import the plugin afresh (it only tracks modules it imported itself)."""
    import sys

    import qgis.utils

    from ..conftest import PLUGINS_DIR

    if str(PLUGINS_DIR) not in qgis.utils.plugin_paths:
        qgis.utils.plugin_paths.append(str(PLUGINS_DIR))
    qgis.utils.updateAvailablePlugins()
    assert "displacement_toolkit" in qgis.utils.available_plugins
    registry = QgsApplication.processingRegistry()
    for provider in _providers():
        registry.removeProvider(provider)
    saved = {k: v for k, v in sys.modules.items() if k.split(".")[0] == "displacement_toolkit"}
    for key in saved:
        del sys.modules[key]
    saved_path = list(sys.path)  # unloadPlugin removes the package folders from sys.path
    yield
    sys.path[:] = saved_path
    sys.modules.update(saved)
    from displacement_toolkit.processing_provider.provider import DisplacementProvider

    if not _providers():
        _KEEP_ALIVE.append(DisplacementProvider())  # the registry holds only the C++ side
        registry.addProvider(_KEEP_ALIVE[-1])


def test_load_unload_reload_leaves_no_duplicates(qgis_iface, qgis_app, qgis_processing, fresh_registry):
    import qgis.utils

    name = "displacement_toolkit"
    n_algorithms = len(algorithm_classes())
    qgis_iface.addPluginToRasterMenu.reset_mock()
    qgis_iface.removePluginRasterMenu.reset_mock()
    for round_ in range(2):
        assert qgis.utils.loadPlugin(name)
        assert qgis.utils.startPlugin(name)
        plugin = qgis.utils.plugins[name]
        assert len(_providers()) == 1
        assert len(_providers()[0].algorithms()) == n_algorithms
        # + Displacement Inspector (menu and toolbar), Decomposition (guided), Offset Tracking
        # (guided) and Conventions and Help (menu only)
        assert len(plugin.actions) == n_algorithms + 4
        live = [t for t in _toolbars(qgis_iface) if t is plugin.toolbar]
        # one toolbar entry: a drop-down button (the Inspector) whose menu holds every action
        assert len(live) == 1 and len(live[0].actions()) == 1
        assert plugin.tool_button.defaultAction().text() == "Displacement Inspector"
        assert [a for a in plugin.tool_menu.actions() if not a.isSeparator()] == plugin.actions
        # one section per group: each group's algorithms together under a single heading
        sections = [a.text() for a in plugin.tool_menu.actions() if a.isSeparator() and a.text()]
        groups = {a.group() for a in _providers()[0].algorithms()}
        assert len(sections) == len(set(sections)) and groups <= set(sections), sections
        # distinct icons per family: every algorithm's icon is its own or its group's
        icons = {a.svgIconPath() for a in _providers()[0].algorithms()}
        assert len(icons) >= 6 and all(os.path.exists(p) for p in icons)
        assert qgis_iface.addPluginToRasterMenu.call_count == len(plugin.actions) * (round_ + 1)
        menu_names = {c.args[0] for c in qgis_iface.addPluginToRasterMenu.call_args_list}
        assert menu_names == {"&Displacement Toolkit"}
        assert qgis.utils.unloadPlugin(name)
        assert _providers() == []
        assert qgis_iface.removePluginRasterMenu.call_count == qgis_iface.addPluginToRasterMenu.call_count
        assert plugin.actions == [] and plugin.toolbar is None


def test_class_factory_accepts_no_iface(qgis_app, fresh_registry):
    """Under qgis_process, classFactory gets iface=None; initProcessing alone must work."""
    from displacement_toolkit import classFactory

    plugin = classFactory(None)
    plugin.initProcessing()
    plugin.initProcessing()
    assert len(_providers()) == 1
    plugin.initGui()  # no interface: registers the provider only
    plugin.unload()
    assert _providers() == []
