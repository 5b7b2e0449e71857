"""Displacement Toolkit: ground-displacement analysis from SAR and GNSS in QGIS.

QGIS calls :func:`classFactory` when the plugin is enabled.  Nothing heavy is
imported here: ``displacement_toolkit.core`` must stay importable without
QGIS, and the Qt/QGIS parts are imported only when QGIS asks for the plugin.
"""


def classFactory(iface):  # noqa: N802 (QGIS API name)
    """Create the plugin; ``iface`` is ``None`` under ``qgis_process``."""
    from .plugin.plugin import DisplacementToolkitPlugin

    return DisplacementToolkitPlugin(iface)
