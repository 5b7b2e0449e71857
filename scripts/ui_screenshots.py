"""Render the Inspector window screenshot of docs/inspector.md offscreen (docs/img/inspector_window.png).

The dock, plot and guided dialogs at their default sizes come from the GUI tests
(tests/gui/test_screenshots.py, ``make screenshots``).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/ui_screenshots.py [output_folder]

Synthetic data (written to a temporary folder): a 60-date LOS time series with
a subsidence bowl (−40 mm/yr at its centre), an ascending and a descending LOS
layer carrying their geometry metadata, and a speckle-like image pair for
offset tracking.  Nothing here is used by the plugin at run time.
"""

import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLUGINS = REPO / ".build" / "plugins"
if not (PLUGINS / "displacement_toolkit").exists():
    PLUGINS.mkdir(parents=True, exist_ok=True)
    (PLUGINS / "displacement_toolkit").symlink_to(Path("..", ".."))
sys.path.insert(0, str(PLUGINS))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
)

GT = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)


def make_data(folder):
    from displacement_toolkit.core.raster_io import crs_from_epsg, write_array

    wkt = crs_from_epsg(32633)
    rows, cols = 120, 160
    r, c = np.mgrid[0:rows, 0:cols]
    bowl = np.exp(-(((c - 70) / 25.0) ** 2 + ((r - 60) / 20.0) ** 2))
    days = [dt.date(2019, 1, 6) + dt.timedelta(days=12 * k) for k in range(60)]
    t = np.array([(d - days[0]).days / 365.25 for d in days])   # years
    rng = np.random.default_rng(7)
    seasonal = 0.004 * np.sin(2 * np.pi * t)
    cube = np.stack([(-0.040 * bowl * tk + seasonal[k] * (c / cols)
                      + rng.normal(0, 0.0015, (rows, cols))).astype(np.float32)
                     for k, tk in enumerate(t)])
    series = write_array(
        str(folder / "s1_asc_timeseries.tif"), cube, GT, wkt,
        descriptions=[f"LOS displacement {d.isoformat()}" for d in days],
        band_metadata=[{"units": "m", "quantity": "los_displacement", "date": d.isoformat()}
                       for d in days],
        metadata={"reference_date": days[0].isoformat(), "geometry_incidence": "34.000000",
                  "geometry_heading": "-12.000000", "geometry_look_direction": "right"})
    asc = write_array(str(folder / "asc_los.tif"), cube[-1], GT, wkt,
                      band_metadata=[{"units": "m", "quantity": "los_displacement"}],
                      descriptions=["LOS displacement"],
                      metadata={"geometry_incidence": "34.000000", "geometry_heading": "-12.000000"})
    dsc = write_array(str(folder / "dsc_los.tif"), (0.8 * cube[-1]).astype(np.float32), GT, wkt,
                      band_metadata=[{"units": "m", "quantity": "los_displacement"}],
                      descriptions=["LOS displacement"],
                      metadata={"incidence_angle": "39.0", "geometry_los_azimuth": "-102.0"})
    from scipy.ndimage import gaussian_filter

    texture = gaussian_filter(rng.random((600, 800)), 2.0).astype(np.float32)
    ref = write_array(str(folder / "reference.tif"), texture, GT, wkt)
    sec = write_array(str(folder / "secondary.tif"), np.roll(texture, (2, 3), (0, 1)), GT, wkt)
    return series, asc, dsc, ref, sec, days


def wait_for(canvas):
    canvas.refreshAllLayers()
    canvas.waitWhileRendering()
    QgsApplication.processEvents()


def main(out_dir):
    from qgis.gui import QgsMapCanvas
    from qgis.PyQt.QtCore import Qt
    from qgis.PyQt.QtWidgets import QMainWindow

    from displacement_toolkit.core.raster_io import pixel_to_map
    from displacement_toolkit.processing_provider.styling import DIVERGING, apply_raster_style
    from displacement_toolkit.ui.inspector_dock import InspectorDock

    out_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="dt_screens_"))
    series, asc, dsc, ref, sec, days = make_data(folder)
    project = QgsProject.instance()
    layers = {}
    for name, path in (("time series (asc)", series), ("ascending LOS", asc),
                       ("descending LOS", dsc), ("reference", ref), ("secondary", sec)):
        layer = QgsRasterLayer(path, name, "gdal")
        project.addMapLayer(layer)
        layers[name] = layer
    apply_raster_style(layers["time series (asc)"], DIVERGING, "m",
                       {"valid": 1, "abs_p98": 0.05, "min": -0.05, "max": 0.05},
                       band=len(days))

    window = QMainWindow()
    canvas = QgsMapCanvas()
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:32633"))
    canvas.setLayers([layers["time series (asc)"]])
    window.setCentralWidget(canvas)
    dock = InspectorDock(canvas, window)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.resize(1360, 980)
    window.show()
    window.resizeDocks([dock], [560], Qt.Orientation.Horizontal)
    canvas.setExtent(layers["time series (asc)"].extent())
    wait_for(canvas)
    for item in range(dock.layer_list.count()):
        name = dock.layer_list.item(item).text()
        checked = name in ("time series (asc)", "ascending LOS")
        dock.layer_list.item(item).setCheckState(
            Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
    dock.radius_spin.setValue(2.0)
    for col, row in ((140, 20), (100, 75), (70, 60)):
        x, y = pixel_to_map(GT, col + 0.5, row + 0.5)
        dock.inspect_point(QgsPointXY(x, y))
    dock.set_fit_range(days[5], days[40])
    dock.set_tool_active(True)
    wait_for(canvas)
    window.grab().save(str(out_dir / "inspector_window.png"))
    for w in (window,):
        w.close()
    dock.disconnect_project()
    return sorted(str(p) for p in out_dir.glob("*.png"))


if __name__ == "__main__":
    app = QgsApplication([], True)
    app.setPrefixPath("/usr", True)
    app.initQgis()
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "img"
    for path in main(target):
        print(path)
    app.exitQgis()
