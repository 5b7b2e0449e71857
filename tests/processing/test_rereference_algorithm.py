"""displacement:rereference through processing.run: point in another CRS with a radius
median, GNSS station position, polygon mean; metadata; sources untouched; bad input."""

import glob
import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException

from displacement_toolkit.core.gnss import read_tenv3
from displacement_toolkit.core.raster_io import raster_info, read_block
from displacement_toolkit.core.timeseries import transform_point, wgs84_wkt
from displacement_toolkit.processing_provider.rereference import Rereference

from ..conftest import TEST_DATA, run_algorithm

HAWAII = TEST_DATA / "geepers_hawaii"
KILAUEA = sorted(glob.glob(str(HAWAII / "hawaii" / "displacement_*.tif")))
UTM5N_GT = (252930.0, 30.0, 0.0, 2146890.0, 0.0, -30.0)


def _pixel(x, y):
    return int((x - UTM5N_GT[0]) // 30), int((UTM5N_GT[3] - y) // 30)


def test_point_in_wgs84_with_radius_median_on_the_kilauea_series(provider, tmp_path):
    wkt = raster_info(KILAUEA[0]).crs_wkt
    x, y = UTM5N_GT[0] + 120.5 * 30, UTM5N_GT[3] - 240.5 * 30    # pixel (row 240, col 120)
    lon, lat = transform_point(x, y, wkt, wgs84_wkt())
    out = str(tmp_path / "ref.tif")
    res = run_algorithm(Rereference().create(), {
        "INPUT": KILAUEA, "REFERENCE_POINT": f"{lon!r},{lat!r} [EPSG:4326]",
        "REFERENCE_RADIUS": 2, "OUTPUT": out})
    info = raster_info(out)
    assert info.band_count == 5
    assert info.metadata["reference_kind"] == "point"
    assert info.metadata["reference_pixel"] == "240 120"
    assert "pixel row 240, column 120" in res["REFERENCE"]
    rr, cc = np.mgrid[-2:3, -2:3]
    disk = rr ** 2 + cc ** 2 <= 4
    for band, path in enumerate(KILAUEA, start=1):
        src = read_block(path)
        window = src[238:243, 118:123][disk]
        expected = np.median(window[np.isfinite(window)])
        assert float(info.band_metadata[band - 1]["reference_value"]) == pytest.approx(expected)
        assert np.nanmax(np.abs(read_block(out, band) - (src - np.float32(expected)))) == 0.0
        assert info.band_metadata[band - 1]["date"] == os.path.basename(path)[22:26] + "-" + \
            os.path.basename(path)[26:28] + "-" + os.path.basename(path)[28:30]


def test_gnss_station_position_is_the_reference(provider, tmp_path):
    tenv3 = str(HAWAII / "unr_tenv3" / "HLNA.tenv3")
    station = read_tenv3(tenv3)
    x, y = transform_point(station.lon, station.lat, wgs84_wkt(), raster_info(KILAUEA[0]).crs_wkt)
    col, row = _pixel(x, y)
    out = str(tmp_path / "ref.tif")
    run_algorithm(Rereference().create(), {"INPUT": KILAUEA[-1:], "GNSS_FILE": tenv3,
                                           "OUTPUT": out})
    info = raster_info(out)
    assert info.metadata["reference_kind"] == "gnss_station"
    assert info.metadata["reference_station"] == "HLNA"
    assert info.metadata["reference_pixel"] == f"{row} {col}"
    src = read_block(KILAUEA[-1])
    assert read_block(out)[row, col] == 0.0
    assert np.nanmax(np.abs(read_block(out) - (src - src[row, col]))) == 0.0
    with pytest.raises(QgsProcessingException, match="GNSS_FILE = .*holds station HLNA, not MANE"):
        run_algorithm(Rereference().create(), {"INPUT": KILAUEA[-1:], "GNSS_FILE": tenv3,
                                               "GNSS_STATION": "MANE",
                                               "OUTPUT": str(tmp_path / "x.tif")})
    assert not (tmp_path / "x.tif").exists()


def test_polygon_mean_on_a_velocity_raster(provider, make_raster, tmp_path):
    rr, cc = np.mgrid[0:10, 0:12]
    vel = (0.5 * rr + cc).astype(np.float32)
    src = make_raster(vel, "velocity.tif", band_metadata=[{"units": "mm/yr",
                                                           "quantity": "los_velocity"}])
    gt = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
    x0, x1, y0, y1 = gt[0] + 2 * 30, gt[0] + 6 * 30, gt[3] - 7 * 30, gt[3] - 4 * 30
    poly = f"CRS=EPSG:32633;POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"
    out = str(tmp_path / "ref.tif")
    run_algorithm(Rereference().create(), {"INPUT": [src], "REFERENCE_POLYGON": poly,
                                           "OUTPUT": out})
    expected = vel[4:7, 2:6].mean()
    got = read_block(out)
    assert got == pytest.approx(vel - expected, abs=1e-5)
    info = raster_info(out)
    assert info.band_metadata[0]["units"] == "mm/yr"
    assert info.metadata["reference_kind"] == "polygon"
    assert info.metadata["reference_polygon_pixels"] == "12"
    assert read_block(src) == pytest.approx(vel)        # the source is untouched


@pytest.mark.parametrize("params,message", [
    ({}, r"give exactly one reference \(now: none\)"),
    ({"REFERENCE_POINT": "0,0 [EPSG:4326]"}, "REFERENCE_POINT = .*outside the raster"),
    ({"REFERENCE_POINT": "258930,2140890 [EPSG:32605]",
      "REFERENCE_POLYGON": "POLYGON((0 0,1 0,1 1,0 0))"},
     r"give exactly one reference \(now: REFERENCE_POINT, REFERENCE_POLYGON\)"),
])
def test_bad_references_are_clear_errors(provider, tmp_path, params, message):
    out = tmp_path / "ref.tif"
    with pytest.raises(QgsProcessingException, match=message):
        run_algorithm(Rereference().create(), {"INPUT": KILAUEA, "OUTPUT": str(out), **params})
    assert not os.listdir(tmp_path)


def test_rereferenced_series_is_shown_on_its_last_date(provider, tmp_path):
    """A re-referenced time series is styled on its last date, not band 1: the Layers panel
    legend names that date and its unit, and the ramp spans that band's values (98th
    percentile of |values|, computed here from the file)."""
    from qgis.core import QgsDefaultRasterLayerLegend, QgsLayerTreeLayer, QgsRasterLayer
    from qgis.PyQt.QtCore import Qt

    out = str(tmp_path / "ref.tif")
    x, y = UTM5N_GT[0] + 120.5 * 30, UTM5N_GT[3] - 240.5 * 30
    run_algorithm(Rereference().create(), {"INPUT": KILAUEA, "REFERENCE_POINT": f"{x!r},{y!r}",
                                           "OUTPUT": out})
    info = raster_info(out)
    last = info.band_count
    layer = QgsRasterLayer(out, "ref", "gdal")
    layer.loadNamedStyle(str(tmp_path / "ref.qml"))
    renderer = layer.renderer()
    assert renderer.band() == last == 5
    values = read_block(out, last)
    a98 = float(np.percentile(np.abs(values[np.isfinite(values)]), 98))
    assert renderer.classificationMax() == pytest.approx(a98, rel=0.05)
    assert renderer.classificationMin() == pytest.approx(-renderer.classificationMax())
    nodes = QgsDefaultRasterLayerLegend(layer).createLayerTreeModelLegendNodes(QgsLayerTreeLayer(layer))
    title = nodes[0].data(Qt.ItemDataRole.DisplayRole)
    meta = info.band_metadata[last - 1]
    assert title.startswith(f"Band {last}: ") and meta["date"] in title and meta["units"] in title
    ramp = [n.data(Qt.ItemDataRole.DisplayRole) for n in nodes[1:]]
    assert ramp and all(meta["units"] in str(label) for label in ramp if label)
