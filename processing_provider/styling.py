"""One styling mechanism for every raster the toolkit writes (and its point layers).

* ``diverging``: displacement, velocity, offsets: blue-white-red ramp
  symmetric around zero (blue negative, red positive), from −a to +a with
  a the 98th percentile of |value|.
* ``sequential``: quality layers (SNR, sigma, correlation, counts): a
  viridis-like ramp from the 2nd to the 98th percentile.

The ramp items carry the unit in their labels, so the legend reads
"−0.05 m … 0.05 m".  :func:`write_raster_style` saves the style as a
``.qml`` next to the raster (QGIS applies it whenever the file is opened,
including outputs of ``processing.run`` and ``qgis_process``);
:class:`RasterStylePostProcessor` applies it to layers that Processing loads
in the desktop.  Point layers get the same treatment with their own renderer
(:func:`style_vector_output`).
"""

import os

from qgis.core import (
    QgsColorRampLegendNodeSettings,
    QgsColorRampShader,
    QgsVectorLayer,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
    QgsRasterShader,
    QgsSingleBandPseudoColorRenderer,
)
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtXml import QDomDocument

DIVERGING = "diverging"
SEQUENTIAL = "sequential"

_DIVERGING_COLOURS = ["#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b"]
_SEQUENTIAL_COLOURS = ["#440154", "#443983", "#31688e", "#21918c", "#35b779", "#90d743", "#fde725"]


def style_path(raster_path):
    """The ``.qml`` path QGIS looks for next to ``raster_path``."""
    return os.path.splitext(raster_path)[0] + ".qml"


def _format_value(value, units):
    text = f"{value:.3g}"
    if text in ("-0", "0"):
        text = "0"
    return f"{text} {units}".strip()


def ramp_range(kind, stats):
    """(min, max) of the colour ramp from writer statistics (see ``RasterWriter.stats``)."""
    if not stats or not stats.get("valid"):
        return (-1.0, 1.0) if kind == DIVERGING else (0.0, 1.0)
    if kind == DIVERGING:
        a = stats.get("abs_p98") or max(abs(stats["min"]), abs(stats["max"])) or 1.0
        return (-a, a)
    lo, hi = stats["p2"], stats["p98"]
    if not hi > lo:
        lo, hi = stats["min"], stats["max"]
    if not hi > lo:
        hi = lo + 1.0
    return (lo, hi)


def build_renderer(provider, band, kind, units, stats):
    """A single-band pseudo-colour renderer for ``kind`` with unit labels."""
    lo, hi = ramp_range(kind, stats)
    colours = _DIVERGING_COLOURS if kind == DIVERGING else _SEQUENTIAL_COLOURS
    n = len(colours)
    items = []
    for i, colour in enumerate(colours):
        value = lo + (hi - lo) * i / (n - 1)
        if kind == DIVERGING and i == n // 2:
            value = 0.0
        items.append(QgsColorRampShader.ColorRampItem(value, QColor(colour), _format_value(value, units)))
    ramp = QgsColorRampShader(lo, hi)
    ramp.setColorRampType(QgsColorRampShader.Type.Interpolated)
    ramp.setColorRampItemList(items)
    if units and hasattr(ramp, "setLegendSettings"):   # QGIS >= 3.18: continuous legend
        settings = QgsColorRampLegendNodeSettings()    # "0.044 m" in the Layers panel too
        settings.setSuffix(f" {units}")
        ramp.setLegendSettings(settings)
    shader = QgsRasterShader()
    shader.setRasterShaderFunction(ramp)
    renderer = QgsSingleBandPseudoColorRenderer(provider, band, shader)
    renderer.setClassificationMin(lo)
    renderer.setClassificationMax(hi)
    return renderer


def apply_raster_style(layer, kind, units, stats, band=1):
    """Give ``layer`` the toolkit's style for ``kind`` (in place).  The renderer gets its
    input from the layer's pipe: no Python wrapper of the data provider is made, which off
    the main thread (a Processing task) sip could hand back as an already deleted object
    ("wrapped C/C++ object of type QgsRasterDataProvider has been deleted")."""
    layer.setRenderer(build_renderer(None, band, kind, units, stats))
    layer.triggerRepaint()


def write_raster_style(raster_path, kind, units, stats, band=1):
    """Write the ``.qml`` style next to ``raster_path`` and return its path."""
    layer = QgsRasterLayer(raster_path, os.path.basename(raster_path), "gdal")
    if not layer.isValid():
        raise ValueError(f"cannot style {raster_path!r}: QGIS cannot open it")
    apply_raster_style(layer, kind, units, stats, band)
    qml = style_path(raster_path)
    message, ok = layer.saveNamedStyle(qml)
    if not ok:
        raise ValueError(f"cannot write style {qml!r}: {message}")
    return qml


class RasterStylePostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Apply the ``.qml`` next to a result and rename the layer, once loaded in the desktop."""

    _alive = []  # Processing keeps only a C++ pointer: hold the Python objects

    def __init__(self, qml_path, layer_name=None):
        super().__init__()
        self.qml_path = qml_path
        self.layer_name = layer_name

    @classmethod
    def create(cls, qml_path, layer_name=None):
        instance = cls(qml_path, layer_name)
        cls._alive.append(instance)
        return instance

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API)
        if not isinstance(layer, QgsRasterLayer):
            return
        if os.path.exists(self.qml_path):
            layer.loadNamedStyle(self.qml_path)
        if self.layer_name:
            layer.setName(self.layer_name)
        layer.triggerRepaint()


class VectorRendererPostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Give a loaded vector result a copy of ``renderer`` (arrows, residual colours, ...)."""

    _alive = []  # Processing keeps only a C++ pointer: hold the Python objects

    def __init__(self, renderer):
        super().__init__()
        self.renderer = renderer

    @classmethod
    def create(cls, renderer):
        instance = cls(renderer)
        cls._alive.append(instance)
        return instance

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API)
        if isinstance(layer, QgsVectorLayer):
            layer.setRenderer(self.renderer.clone())
            layer.triggerRepaint()


def style_vector_output(dest_id, context, renderer, layer_name, fields):
    """Style a vector result the way rasters are styled: a ``.qml`` next to a file output
    (QGIS applies it whenever the file is opened) and a :class:`VectorRendererPostProcessor`
    when Processing loads the layer.  ``fields``: the numeric attributes the renderer uses."""
    path = str(dest_id).split("|")[0]
    if os.path.isfile(path):
        spec = "&".join(f"field={name}:double" for name in fields)
        template = QgsVectorLayer(f"Point?crs=EPSG:4326&{spec}", layer_name, "memory")
        template.setRenderer(renderer.clone())
        doc = QDomDocument("qgis")
        template.exportNamedStyle(doc)
        with open(os.path.splitext(path)[0] + ".qml", "w", encoding="utf-8") as fh:
            fh.write(doc.toString())
    if context.willLoadLayerOnCompletion(dest_id):
        details = context.layerToLoadOnCompletionDetails(dest_id)
        details.name = layer_name
        details.setPostProcessor(VectorRendererPostProcessor.create(renderer))
