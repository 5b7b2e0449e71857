"""Outputs say what they are: band descriptions carry the unit and loaded layers are named
by quantity, date and reference (core.raster_io.band_description / layer_title, applied by
the base class to every algorithm's rasters)."""

import glob

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputLayerDefinition,
    QgsProject,
)

from displacement_toolkit.core.raster_io import raster_info
from displacement_toolkit.core.timeseries import transform_point, wgs84_wkt

from ..conftest import TEST_DATA

KILAUEA = sorted(glob.glob(str(TEST_DATA / "geepers_hawaii" / "hawaii" / "displacement_*.tif")))


def test_rereferenced_layer_name_and_band_units(provider, tmp_path):
    import processing

    wkt = raster_info(KILAUEA[0]).crs_wkt
    x, y = 252930.0 + 120.5 * 30, 2146890.0 - 240.5 * 30
    lon, lat = transform_point(x, y, wkt, wgs84_wkt())
    out = str(tmp_path / "ref.tif")
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    processing.run("displacement:rereference", {
        "INPUT": KILAUEA[:1], "REFERENCE_POINT": f"{x!r},{y!r}",
        "OUTPUT": QgsProcessingOutputLayerDefinition(out, QgsProject.instance())},
        context=context, feedback=QgsProcessingFeedback(), is_child_algorithm=True)
    assert context.willLoadLayerOnCompletion(out)
    name = context.layerToLoadOnCompletionDetails(out).name
    day = KILAUEA[0].split("_")[-1][:8]
    # the product's metadata gives a unit (m) but no quantity: a displacement, not said LOS
    assert name == (f"Displacement {day[:4]}-{day[4:6]}-{day[6:]}, re-referenced at "
                    f"{abs(lon):.2f} W {lat:.2f} N"), name
    info = raster_info(out)
    assert info.descriptions[0].endswith(f"({info.band_metadata[0]['units']})")
    # the Layers panel's continuous legend shows the unit after its min and max too
    from qgis.core import QgsRasterLayer

    layer = QgsRasterLayer(out, "styled", "gdal")   # loads the .qml written next to it
    units = info.band_metadata[0]["units"]
    ramp = layer.renderer().shader().rasterShaderFunction()
    assert ramp.legendSettings().suffix() == f" {units}"
    assert all(label.endswith(f" {units}") for label, _ in layer.renderer().legendSymbologyItems())
    assert layer.bandName(1).endswith(f"({units})")
