"""The shared algorithm machinery: errors, cancel, cleanup of partial outputs, styling."""

import os
import re

import numpy as np
import pytest
from qgis.core import (
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProject,
    QgsRasterLayer,
)

from displacement_toolkit.core.raster_io import RasterWriter, iter_blocks, read_block
from displacement_toolkit.processing_provider.base import DisplacementAlgorithm, band_parameter
from displacement_toolkit.processing_provider.styling import DIVERGING

from ..conftest import recording_feedback, run_algorithm


class DoubleIt(DisplacementAlgorithm):
    """A test-only algorithm: output = 2 * input, written in 4-row blocks."""

    NAME = "test_double"
    DISPLAY_NAME = "Double (test)"
    GROUP = "Tests"
    GROUP_ID = "tests"
    HELP = "Doubles the input."

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Input"))
        self.addParameter(band_parameter("BAND", "Band", "INPUT"))
        self.addParameter(QgsProcessingParameterBoolean("FAIL_HALFWAY", "Fail", False))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Output"))

    def compute(self, parameters, context, feedback):
        path = self.raster_path(parameters, "INPUT", context)
        info = self.raster_info(path, "INPUT")
        band = self.raster_band(parameters, "INPUT", context, info, "BAND")
        out = self.output_raster_path(parameters, "OUTPUT", context)
        monitor = self.monitor(feedback)
        fail = self.parameterAsBool(parameters, "FAIL_HALFWAY", context)
        with RasterWriter(out, info.width, info.height, info.geotransform, info.crs_wkt,
                          band_metadata=[{"units": "m"}]) as w:
            for r0, n in iter_blocks(info.height, 4):
                w.write(1, r0, 2 * read_block(path, band, r0, 0, n))
                if fail and r0 >= 4:
                    raise ValueError("failing on purpose")
                monitor.update((r0 + n) / info.height)
            stats = w.stats(1)
        self.finish_raster(out, context, DIVERGING, "m", stats, layer_name="Doubled")
        return {"OUTPUT": out}


@pytest.fixture
def source(make_raster):
    data = np.linspace(-0.05, 0.05, 16 * 8, dtype=np.float32).reshape(16, 8)
    data[0, 0] = np.nan
    return make_raster(data), data


def test_runs_and_writes_a_styled_output(provider, source, tmp_path):
    path, data = source
    out = str(tmp_path / "double.tif")
    result = run_algorithm(DoubleIt().create(), {"INPUT": path, "BAND": 1, "OUTPUT": out})
    got = read_block(result["OUTPUT"])
    assert np.isnan(got[0, 0])
    assert np.allclose(got[1:], 2 * data[1:])
    qml = tmp_path / "double.qml"
    text = qml.read_text()
    assert "singlebandpseudocolor" in text
    labels = re.findall(r'label="([^"]*)"', text)
    values = [float(label.split()[0]) for label in labels]
    assert all(label.endswith(" m") for label in labels)
    assert values == pytest.approx([-v for v in reversed(values)])  # symmetric around 0
    assert max(values) == pytest.approx(np.percentile(np.abs(2 * data[1:]), 98), rel=0.02)
    layer = QgsRasterLayer(out, "x", "gdal")
    assert layer.renderer().type() == "singlebandpseudocolor"  # the .qml is applied on open


def test_failure_removes_partial_outputs(provider, source, tmp_path):
    path, _ = source
    out = str(tmp_path / "fail.tif")
    with pytest.raises(QgsProcessingException, match="failing on purpose"):
        run_algorithm(DoubleIt().create(), {"INPUT": path, "FAIL_HALFWAY": True, "OUTPUT": out})
    assert not [f for f in os.listdir(tmp_path) if f.startswith(("fail", ".fail"))]


def test_cancel_stops_and_leaves_no_output(provider, source, tmp_path):
    path, _ = source
    out = str(tmp_path / "cancelled.tif")
    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda p: feedback.cancel() if p > 30 else None)
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run_algorithm(DoubleIt().create(), {"INPUT": path, "OUTPUT": out}, feedback=feedback)
    assert not [f for f in os.listdir(tmp_path) if "cancelled" in f]


def test_missing_band_is_a_clear_error(provider, source, tmp_path):
    path, _ = source
    with pytest.raises(QgsProcessingException, match="BAND = 2.*has 1 band"):
        run_algorithm(DoubleIt().create(), {"INPUT": path, "BAND": 2, "OUTPUT": str(tmp_path / "o.tif")})
    assert not (tmp_path / "o.tif").exists()


def test_post_processor_styles_and_names_loaded_results(provider, source, tmp_path, qgis_iface):
    import processing

    path, _ = source
    out = str(tmp_path / "loaded.tif")
    QgsProject.instance().removeAllMapLayers()
    processing.runAndLoadResults(DoubleIt().create(), {"INPUT": path, "OUTPUT": out})
    layers = [lyr for lyr in QgsProject.instance().mapLayers().values() if lyr.source() == out]
    assert len(layers) == 1
    assert layers[0].name() == "Doubled"
    assert layers[0].renderer().type() == "singlebandpseudocolor"
    shader = layers[0].renderer().shader().rasterShaderFunction()
    labels = [item.label for item in shader.colorRampItemList()]
    assert labels[len(labels) // 2] == "0 m"
    QgsProject.instance().removeAllMapLayers()


class DoubleWithEstimatedStats(DoubleIt):
    """DoubleIt, styled from statistics that claim (as a decimated estimate can) that the
    output has no valid pixel."""

    NAME = "test_double_estimated"

    def finish_raster(self, path, context, kind, units, stats, layer_name=None, band=1):
        super().finish_raster(path, context, kind, units, {"valid": 0, "valid_exact": False},
                              layer_name, band)


def test_an_estimated_zero_is_checked_before_failing(provider, make_raster, tmp_path):
    """An empty output fails the run, but only when an exact scan agrees: one valid pixel
    that a decimated sample missed keeps the output."""
    data = np.full((16, 8), np.nan, np.float32)
    data[13, 5] = 0.25
    out = str(tmp_path / "sparse_x2.tif")
    feedback = recording_feedback()
    result = run_algorithm(DoubleWithEstimatedStats().create(),
                           {"INPUT": make_raster(data, "sparse.tif"), "OUTPUT": out}, feedback=feedback)
    assert np.nansum(read_block(result["OUTPUT"])) == 0.5
    assert any("found no valid pixel, but sparse_x2.tif has some" in line for line in feedback.lines)
    empty = make_raster(np.full((16, 8), np.nan, np.float32), "empty.tif")
    with pytest.raises(QgsProcessingException, match=r"OUTPUT = .*empty_x2\.tif': the result has no "
                       r"valid pixel \(all 128 are NaN\).*INPUT \(empty\.tif\): every value is nodata"):
        run_algorithm(DoubleWithEstimatedStats().create(),
                      {"INPUT": empty, "OUTPUT": str(tmp_path / "empty_x2.tif")})
    assert not [f for f in os.listdir(tmp_path) if f.startswith(("empty_x2", ".empty_x2"))]
