"""The guided dialogs' Run path, end to end through the real Processing dialog.

"Run…" opens the toolbox's AlgorithmDialog without blocking; the test clicks its Run,
waits for the algorithm, closes it like a user and checks that the outputs are loaded,
hold the right numbers, and that no exception was raised in any Qt slot on the way
(PyQt reports those through ``sys.excepthook`` instead of raising them in the test).
"""

import sys
import time

import numpy as np
import pytest
from qgis.core import QgsProject, QgsRasterLayer
from qgis.PyQt.QtWidgets import QApplication

from displacement_toolkit.core.raster_io import read_block
from displacement_toolkit.ui import decomposition_dialog as dd
from displacement_toolkit.ui import offset_tracking_dialog as od

from .test_dialogs import EAST, UP, registered, tracks_layers  # noqa: F401 (fixtures)

pytestmark = pytest.mark.gui


@pytest.fixture
def slot_errors(monkeypatch):
    """Exceptions raised inside Qt slots during the test (PyQt hands them to sys.excepthook)."""
    errors = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, tb: errors.append((kind, value)))
    return errors


@pytest.fixture
def desktop(qgis_iface, monkeypatch):
    """pytest-qgis's interface, completed with the browser model the Processing dialog asks for."""
    from qgis.gui import QgsBrowserGuiModel

    model = QgsBrowserGuiModel()
    monkeypatch.setattr(qgis_iface, "browserModel", lambda: model, raising=False)
    yield qgis_iface


def wait_until(condition, seconds=60.0):
    """Process Qt events until ``condition()`` holds (AssertionError after ``seconds``)."""
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        QApplication.processEvents()
        time.sleep(0.01)


def run_through_processing(guided, outputs):
    """Click Run… in ``guided``, set ``outputs`` in the Processing dialog, click its Run,
    wait for the end and close it; returns the Processing dialog's run object."""
    run = guided.run()
    assert run is not None and run.alive(), guided.status_label.text()
    assert not guided.run_button.isEnabled()
    run.dialog.setParameters({**run.dialog.createProcessingParameters(), **outputs})
    run.dialog.runAlgorithm()
    wait_until(lambda: guided.last_state != "running")
    if run.alive():
        run.dialog.close()           # the click on Close that used to raise
    for _ in range(5):
        QApplication.processEvents()
    return run


def test_offset_tracking_run_to_completion(make_raster, qgis_new_project, desktop, registered,  # noqa: F811
                                          tmp_path, slot_errors):
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(7)
    texture = gaussian_filter(rng.random((120, 140)), 1.2).astype(np.float32)
    ref = make_raster(texture, "ref.tif")
    sec = make_raster(np.roll(texture, (1, 2), (0, 1)), "sec.tif")     # dy = +1, dx = +2
    for path, name in ((ref, "reference"), (sec, "secondary")):
        QgsProject.instance().addMapLayer(QgsRasterLayer(path, name, "gdal"))
    guided = od.OffsetTrackingDialog(measure=lambda *key: 0.001)
    layers = QgsProject.instance().mapLayersByName
    guided.reference_combo.setLayer(layers("reference")[0])
    guided.secondary_combo.setLayer(layers("secondary")[0])
    guided.set_values(window_x=32, window_y=32, search_x=6, search_y=6, step_x=24, step_y=24)
    out_x = str(tmp_path / "dx.tif")
    run_through_processing(guided, {"OUTPUT_X": out_x, "COARSE_SEARCH": False})
    assert slot_errors == []
    assert guided.last_state == "done" and guided.run_button.isEnabled()
    assert guided.last_results["OUTPUT_X"] == out_x
    assert out_x in guided.status_label.text()
    assert np.nanmedian(read_block(out_x)) == pytest.approx(2.0, abs=0.05)
    loaded = [la.source() for la in QgsProject.instance().mapLayers().values()]
    assert out_x in loaded                       # Processing loaded the result
    guided.close()


def test_decomposition_run_to_completion(tracks_layers, desktop, registered,  # noqa: F811
                                         tmp_path, slot_errors):
    guided = dd.DecompositionDialog()
    guided.set_track(0, tracks_layers["asc"])
    guided.set_track(1, tracks_layers["dsc"])
    east, up = str(tmp_path / "east.tif"), str(tmp_path / "up.tif")
    run_through_processing(guided, {"OUTPUT_EAST": east, "OUTPUT_UP": up})
    assert slot_errors == []
    assert guided.last_state == "done"
    assert east in guided.status_label.text() and up in guided.status_label.text()
    np.testing.assert_allclose(read_block(east), EAST, atol=2e-6)
    np.testing.assert_allclose(read_block(up), UP, atol=2e-6)
    guided.close()


def test_closing_the_processing_dialog_without_running(tracks_layers, desktop, registered,  # noqa: F811
                                                       slot_errors):
    guided = dd.DecompositionDialog()
    guided.set_track(0, tracks_layers["asc"])
    guided.set_track(1, tracks_layers["dsc"])
    run = guided.run()
    run.dialog.close()
    wait_until(lambda: guided.last_state == "closed", 5)
    assert slot_errors == [] and guided.run_button.isEnabled()
    assert "closed without running" in guided.status_label.text()
    guided.close()
