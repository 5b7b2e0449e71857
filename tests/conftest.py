"""Shared fixtures.

pytest-qgis starts a headless QgsApplication before this file is imported.
The plugin is imported as ``displacement_toolkit`` from ``.build/plugins``
(a symlink to the checkout made by ``make setup``), exactly as QGIS sees it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGINS_DIR = REPO / ".build" / "plugins"
LINK = PLUGINS_DIR / "displacement_toolkit"
if not LINK.exists():
    PLUGINS_DIR.mkdir(parents=True, exist_ok=True)
    LINK.symlink_to(Path("..", ".."))
if str(PLUGINS_DIR) not in sys.path:
    sys.path.insert(0, str(PLUGINS_DIR))

from displacement_toolkit.core.raster_io import crs_from_epsg, write_array  # noqa: E402

TEST_DATA = REPO / "tests" / "data"
UTM33N = crs_from_epsg(32633)

# QGIS computes band statistics when it opens a raster as a layer, and GDAL saves them in a
# .aux.xml next to the file (its "PAM" side-car): keep the shipped test data read-only.  A test
# that reads a product's own side-car (PyRate) turns it back on for its copy in tmp_path.
os.environ["GDAL_PAM_ENABLED"] = "NO"


def _files(folder):
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session", autouse=True)
def tests_data_unchanged():
    """No test writes, changes or removes a file under tests/data (checked at the end)."""
    before = _files(TEST_DATA)
    yield
    after = _files(TEST_DATA)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, f"tests wrote into tests/data: {changed[:10]}"


@pytest.fixture(scope="session")
def provider(qgis_app, qgis_processing):
    """The displacement provider, registered once for the session."""
    from qgis.core import QgsApplication

    from displacement_toolkit.processing_provider.provider import DisplacementProvider

    registry = QgsApplication.processingRegistry()
    existing = registry.providerById("displacement")
    if existing is not None:
        yield existing
        return
    instance = DisplacementProvider()
    assert registry.addProvider(instance)
    yield instance


@pytest.fixture(scope="session")
def earthquake_scene(tmp_path_factory):
    """(make_sample_data module, folder, scene description): the demo's synthetic earthquake
    (scripts/make_sample_data.py), generated once per session for every test that uses it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_sample_data",
                                                  REPO / "scripts" / "make_sample_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("earthquake_scene")
    description = module.generate(out, log=lambda *_: None)
    return module, out, description


def recording_feedback():
    """A ``QgsProcessingFeedback`` that keeps what the algorithm logs: ``.lines`` (info)
    and ``.warnings``."""
    from qgis.core import QgsProcessingFeedback

    class RecordingFeedback(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.lines, self.warnings = [], []

        def pushInfo(self, info):  # noqa: N802 (QGIS API)
            self.lines.append(info)
            super().pushInfo(info)

        def pushWarning(self, warning):  # noqa: N802 (QGIS API)
            self.warnings.append(warning)
            super().pushWarning(warning)

    return RecordingFeedback()


def run_algorithm(algorithm, parameters, feedback=None, context=None):
    """``processing.run`` with a fresh context; raises QgsProcessingException on failure."""
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

    if context is None:
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
    return processing.run(algorithm, parameters, context=context,
                          feedback=feedback or QgsProcessingFeedback(), is_child_algorithm=True)


@pytest.fixture(scope="session")
def qgis_iface(qgis_iface):
    """pytest-qgis's interface double with a real layer tree view of the project.

    The double answers every method it does not implement with a MagicMock; QGIS 3.44's
    Processing passes ``iface.layerTreeView()`` on to C++ (QgsProcessingGuiUtils.addResultLayers)
    when it loads results, which rejects a mock. A real QgsLayerTreeView on the project's layer
    tree is what the QGIS desktop hands it.
    """
    from qgis.core import QgsLayerTreeModel, QgsProject
    from qgis.gui import QgsLayerTreeView

    if not isinstance(qgis_iface.layerTreeView(), QgsLayerTreeView):
        model = QgsLayerTreeModel(QgsProject.instance().layerTreeRoot())
        view = QgsLayerTreeView(qgis_iface.mainWindow())
        view.setModel(model)
        model.setParent(view)
        qgis_iface.layerTreeView = lambda: view
    return qgis_iface


@pytest.fixture
def make_raster(tmp_path):
    """Write a float (or complex) array to a GeoTIFF: ``make_raster(array, name, gt=..., crs=...)``."""

    def _make(array, name="input.tif", geotransform=(500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0),
              crs_wkt=UTM33N, band_metadata=None, descriptions=None, metadata=None):
        path = tmp_path / name
        write_array(str(path), np.asarray(array), geotransform, crs_wkt,
                    descriptions=descriptions, band_metadata=band_metadata, metadata=metadata)
        return str(path)

    return _make


@pytest.fixture(scope="session")
def qgis_process(tmp_path_factory):
    """Run the real ``qgis_process`` with the plugin from this checkout and its own profile.

    ``qgis_process("run", "displacement:x", "--", "A=1")`` returns the
    CompletedProcess; with ``json=True`` the parsed JSON of stdout.
    """
    profile = tmp_path_factory.mktemp("qgis_process_profile")

    def _run(*args, json_output=False, check=True, timeout=600):
        env = dict(os.environ)
        env["QGIS_CUSTOM_CONFIG_PATH"] = str(profile)
        env["QT_QPA_PLATFORM"] = "offscreen"
        env.pop("QGIS_OPTIONS_PATH", None)
        cmd = [str(REPO / "scripts" / "qgis_process.sh")]
        if json_output:
            cmd.append("--json")
        cmd.extend(str(a) for a in args)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"qgis_process {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}")
        if json_output and proc.returncode == 0:
            return json.loads(proc.stdout)
        return proc

    return _run
