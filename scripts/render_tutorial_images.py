#!/usr/bin/env python3
"""Render the tutorial's screenshots offscreen from the outputs of `make demo`.

    make demo
    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/render_tutorial_images.py \
        --demo-output demo_output --output docs/img

Each map is rendered by QGIS itself (QgsMapRendererParallelJob) with the .qml style that the
toolkit wrote next to every output, so it looks as in the desktop; the graphical-modeler view of
docs/models/earthquake_decomposition.model3 is rendered from QgsModelGraphicsScene.
"""

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

MAPS = [
    # (image name, title, layers from top to bottom, relative to the demo output)
    ("tutorial_asc_range_offset.png", "Ascending range offset (px), radar geometry",
     ["earthquake/asc_range_offset_px.tif"]),
    ("tutorial_desc_azimuth_offset.png", "Descending azimuth offset (px), radar geometry",
     ["earthquake/desc_azimuth_offset_px.tif"]),
    ("tutorial_east.png", "Decomposed east (m)", ["earthquake/decomposed_east.tif"]),
    ("tutorial_north.png", "Decomposed north (m)", ["earthquake/decomposed_north.tif"]),
    ("tutorial_up.png", "Decomposed up (m) and GNSS stations (LOS residual)",
     ["earthquake/gnss_stations_comparison.gpkg", "earthquake/decomposed_up.tif"]),
    ("tutorial_asc_only_vertical.png", "Up from the ascending LOS alone (m)",
     ["earthquake/asc_only_vertical.tif"]),
    ("tutorial_kilauea.png", "Kilauea: LOS 2016-07-11 to 09-21 (m) and GNSS stations (bias)",
     ["kilauea/kilauea_stations.gpkg",
      str(REPO / "tests/data/geepers_hawaii/hawaii/displacement_20160711_20160921.tif")]),
]


def _layer(path):
    from qgis.core import QgsRasterLayer, QgsVectorLayer

    path = str(path)
    if path.endswith((".gpkg", ".shp", ".geojson")):
        layer = QgsVectorLayer(path, Path(path).stem, "ogr")
    else:
        layer = QgsRasterLayer(path, Path(path).stem, "gdal")
    if not layer.isValid():
        raise SystemExit(f"cannot open {path}")
    qml = Path(path).with_suffix(".qml")
    if qml.is_file():
        layer.loadNamedStyle(str(qml))
    return layer


def render_map(paths, title, target, size=(640, 560)):
    from qgis.core import QgsMapRendererParallelJob, QgsMapSettings
    from qgis.PyQt.QtCore import QSize, Qt
    from qgis.PyQt.QtGui import QColor, QFont, QPainter

    layers = [_layer(p) for p in paths]
    settings = QgsMapSettings()
    settings.setLayers(layers)
    base = layers[-1]
    settings.setDestinationCrs(base.crs())
    extent = base.extent()
    extent.scale(1.05)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(*size))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    painter = QPainter(image)
    painter.setPen(QColor("black"))
    font = QFont()
    font.setPointSize(11)
    painter.setFont(font)
    painter.drawText(10, 8, size[0] - 20, 24, int(Qt.AlignmentFlag.AlignLeft), title)
    painter.end()
    if not image.save(str(target)):
        raise SystemExit(f"cannot write {target}")


def render_model(model_path, target):
    from qgis.core import QgsProcessingContext, QgsProcessingModelAlgorithm
    from qgis.gui import QgsModelGraphicsScene
    from qgis.PyQt.QtCore import QRectF
    from qgis.PyQt.QtGui import QColor, QImage, QPainter

    model = QgsProcessingModelAlgorithm()
    if not model.fromFile(str(model_path)):
        raise SystemExit(f"cannot read {model_path}")
    scene = QgsModelGraphicsScene()
    scene.setModel(model)
    context = QgsProcessingContext()
    scene.createItems(model, context)
    rect = scene.itemsBoundingRect().adjusted(-20, -20, 20, 20)
    image = QImage(int(rect.width()), int(rect.height()), QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    scene.render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
    painter.end()
    if not image.save(str(target)):
        raise SystemExit(f"cannot write {target}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-output", default=str(REPO / "demo_output"))
    parser.add_argument("--output", default=str(REPO / "docs" / "img"))
    args = parser.parse_args()
    from qgis.core import QgsApplication
    from qgis.PyQt.QtWidgets import QApplication  # noqa: F401  (the modeler scene needs widgets)

    app = QgsApplication([], True)
    app.initQgis()
    sys.path.insert(0, str(REPO / ".build" / "plugins"))
    from displacement_toolkit.processing_provider.provider import DisplacementProvider

    provider = DisplacementProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    demo = Path(args.demo_output)
    for name, title, layers in MAPS:
        render_map([demo / p for p in layers], title, out / name)
        print(f"wrote {out / name}")
    render_model(REPO / "docs" / "models" / "earthquake_decomposition.model3",
                 out / "tutorial_model.png")
    print(f"wrote {out / 'tutorial_model.png'}")
    app.exitQgis()


if __name__ == "__main__":
    main()
