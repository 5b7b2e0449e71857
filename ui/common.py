"""Small helpers shared by the guided dialogs (Qt/QGIS glue only)."""

from qgis.core import Qgis, QgsApplication, QgsMapLayerProxyModel, QgsRasterLayer

#: Raster-layer filter of QgsMapLayerComboBox (QGIS 3.22 ... 4).
RASTER_FILTER = getattr(getattr(Qgis, "LayerFilter", None), "RasterLayer", None)
if RASTER_FILTER is None:
    RASTER_FILTER = QgsMapLayerProxyModel.Filter.RasterLayer


def layer_path(layer):
    """GDAL path of a raster layer of the gdal provider, else None."""
    if not isinstance(layer, QgsRasterLayer) or layer.providerType() != "gdal":
        return None
    return layer.source().split("|")[0]


def find_algorithm(algorithm_id):
    """The registered Processing algorithm ``algorithm_id`` or None (not landed / not loaded)."""
    return QgsApplication.processingRegistry().algorithmById(algorithm_id)


def unknown_parameters(algorithm, parameters):
    """Names in ``parameters`` that ``algorithm`` does not define (empty if no algorithm)."""
    if algorithm is None:
        return []
    names = {d.name() for d in algorithm.parameterDefinitions()}
    names |= {d.name() for d in algorithm.destinationParameterDefinitions()}
    return sorted(k for k in parameters if k not in names)


def run_algorithm_dialog(algorithm_id, parameters):
    """Open the Processing dialog of ``algorithm_id`` filled with ``parameters``.

    The run is the toolbox's own (same results, recorded in the Processing
    history).  Returns the results dict, or None when the user cancelled.
    """
    import processing

    return processing.execAlgorithmDialog(algorithm_id, parameters)
