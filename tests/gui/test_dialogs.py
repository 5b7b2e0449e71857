"""Guided dialogs: the Processing parameters they build, their previews and estimates."""

import math

import numpy as np
import pytest
from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProject,
    QgsRasterLayer,
)

from displacement_toolkit.core import inspection
from displacement_toolkit.ui import decomposition_dialog as dd
from displacement_toolkit.ui import offset_tracking_dialog as od

pytestmark = pytest.mark.gui

ASC = (-0.546973, -0.116263, 0.829038)   # docs/conventions.md worked example
DSC = (0.615568, -0.130843, 0.777146)


@pytest.fixture
def registered(qgis_processing):
    """The toolkit's algorithms registered (a provider of our own when none is: the session
    `provider` fixture must not be created before the lifecycle tests remove providers)."""
    from qgis.core import QgsApplication

    from displacement_toolkit.processing_provider.provider import DisplacementProvider

    registry = QgsApplication.processingRegistry()
    own = None
    if registry.providerById("displacement") is None:
        own = DisplacementProvider()
        assert registry.addProvider(own)
    yield registry
    if own is not None:
        registry.removeProvider(own)


EAST = 0.010 + 0.0001 * np.arange(40)[None, :] * np.ones((30, 1))   # metres
UP = -0.020 + 0.0002 * np.arange(30)[:, None] * np.ones((1, 40))


@pytest.fixture
def tracks_layers(make_raster, qgis_new_project):
    asc_los = (EAST * ASC[0] + UP * ASC[2]).astype(np.float32)   # north = 0
    dsc_los = (EAST * DSC[0] + UP * DSC[2]).astype(np.float32)
    meta = [{"units": "m", "quantity": "los_displacement"}]
    asc = make_raster(asc_los, "asc.tif", band_metadata=meta,
                      metadata={"geometry_incidence": "34.000000", "geometry_heading": "-12.000000",
                                "geometry_look_direction": "right"})
    dsc = make_raster(dsc_los, "dsc.tif", band_metadata=meta,
                      metadata={"incidence_angle": "39", "geometry_los_azimuth": "-102"})
    inc = make_raster(np.full((30, 40), 39.0, np.float32), "inc.tif")
    out = {}
    for name, path in (("asc", asc), ("dsc", dsc), ("inc", inc)):
        layer = QgsRasterLayer(path, name, "gdal")
        QgsProject.instance().addMapLayer(layer)
        out[name] = layer
    return out


# ------------------------------------------------------------------ decomposition
def test_decomposition_parameters_pure():
    tracks = [dd.Track("/d/asc.tif", 1, "los", 34.0, -12.0, 0.005),
              dd.Track("/d/dsc.tif", 2, "los", "/d/inc.tif", -168.0, "/d/sigma.tif"),
              dd.Track("/d/az.tif", 1, "azimuth_offset", None, -12.0)]
    params = dd.decomposition_parameters(tracks, "heading", "right", "east_north_up",
                                         outputs={"OUTPUT_EAST": "/o/e.tif"})
    assert params == {
        "OBS_1": "/d/asc.tif", "BAND_1": 1, "KIND_1": 0, "INCIDENCE_ANGLE_1": 34.0,
        "HEADING_ANGLE_1": -12.0, "SIGMA_VALUE_1": 0.005,
        "OBS_2": "/d/dsc.tif", "BAND_2": 2, "KIND_2": 0, "INCIDENCE_2": "/d/inc.tif",
        "HEADING_ANGLE_2": -168.0, "SIGMA_2": "/d/sigma.tif",
        "OBS_3": "/d/az.tif", "BAND_3": 1, "KIND_3": 2, "HEADING_ANGLE_3": -12.0,
        "ANGLE_CONVENTION": 0, "LOOK_DIRECTION": 0, "COMPONENTS": dd.model_keys().index("east_north_up"),
        "OUTPUT_EAST": "/o/e.tif"}
    with pytest.raises(ValueError, match="2 to 4"):
        dd.decomposition_parameters(tracks[:1])
    with pytest.raises(ValueError, match="heading"):
        dd.decomposition_parameters([tracks[0], dd.Track("/d/x.tif", 1, "los", 34.0, None)])


def test_parameters_name_the_real_algorithm_options(registered):
    """Every parameter the dialog builds exists in displacement:decompose, and each enum
    index points at the option that names the chosen key."""
    from displacement_toolkit.ui.common import unknown_parameters

    alg = registered.algorithmById(dd.ALGORITHM_ID)
    assert alg is not None
    tracks = [dd.Track("/d/asc.tif", 1, "los", 34.0, -12.0, 0.005),
              dd.Track("/d/dsc.tif", 1, "range_offset", "/d/inc.tif", -168.0, "/d/s.tif"),
              dd.Track("/d/az.tif", 1, "azimuth_offset", None, -12.0)]
    params = dd.decomposition_parameters(tracks, "los_azimuth", "left", "horizontal_up", 75.0,
                                         outputs={"OUTPUT_EAST": "/o/e.tif", "OUTPUT_UP": "/o/u.tif"},
                                         coverage="any")
    assert unknown_parameters(alg, params) == []

    def option(name):
        return alg.parameterDefinition(name).options()[params[name]].lower()

    assert option("KIND_1").startswith("los displacement")
    assert option("KIND_2").startswith("range offset")
    assert option("KIND_3").startswith("azimuth (along-track) offset")
    assert option("ANGLE_CONVENTION").startswith("incidence + los azimuth")
    assert option("LOOK_DIRECTION").startswith("left")
    assert option("COMPONENTS").startswith("horizontal")
    assert option("COVERAGE").startswith("wherever the observations available")
    assert params["HORIZONTAL_AZIMUTH"] == 75.0


def test_geometry_preview_vectors_and_condition():
    tracks = [dd.Track("a", 1, "los", 34.0, -12.0), dd.Track("b", 1, "los", 39.0, -168.0)]
    vectors, cond = dd.geometry_preview(tracks, components="east_up")
    np.testing.assert_allclose(vectors, [ASC, DSC], atol=1e-6)
    g = np.array([[ASC[0], ASC[2]], [DSC[0], DSC[2]]])
    assert cond == pytest.approx(np.linalg.cond(g), rel=1e-4)
    assert 1.3 < cond < 1.5
    _, cond3 = dd.geometry_preview(tracks, components="east_north_up")
    assert math.isinf(cond3)
    # an ascending azimuth offset makes east + north + up solvable
    tracks.append(dd.Track("c", 1, "azimuth_offset", None, -12.0))
    vectors, cond3 = dd.geometry_preview(tracks, components="east_north_up")
    h = math.radians(-12.0)
    np.testing.assert_allclose(vectors[2], [math.sin(h), math.cos(h), 0.0], atol=1e-12)
    assert cond3 == pytest.approx(np.linalg.cond(vectors), rel=1e-6)
    # LOS azimuth convention gives the same vectors
    v2, _ = dd.geometry_preview([dd.Track("a", 1, "los", 34.0, 102.0)], convention="los_azimuth")
    np.testing.assert_allclose(v2[0], ASC, atol=1e-6)


def test_decomposition_dialog_fills_tracks_and_builds_parameters(tracks_layers, registered):
    calls = []
    dialog = dd.DecompositionDialog(runner=lambda alg, p, done: calls.append((alg, p, done)))
    assert len(dialog.rows) == 2
    dialog.set_track(0, tracks_layers["asc"])
    dialog.set_track(1, tracks_layers["dsc"])
    # filled from metadata: asc heading -12, dsc incidence 39 and heading from LOS azimuth -102
    t = dialog.tracks()
    assert (t[0].incidence, t[0].heading) == (34.0, -12.0)
    assert t[1].incidence == 39.0 and t[1].heading == pytest.approx(-168.0)
    assert t[0].source == tracks_layers["asc"].source()
    np.testing.assert_allclose(dialog.vectors, [ASC, DSC], atol=1e-6)
    assert "Condition number for east + up" in dialog.preview_label.text()
    assert f"{dialog.condition:.3g}" in dialog.preview_label.text()
    # per-pixel incidence layer and a sigma on track 2
    dialog.set_track(1, incidence=tracks_layers["inc"], sigma=0.004)
    params = dialog.parameters()
    assert params["INCIDENCE_2"] == tracks_layers["inc"].source()
    assert "INCIDENCE_ANGLE_2" not in params and params["SIGMA_VALUE_2"] == 0.004
    np.testing.assert_allclose(dialog.vectors[1], DSC, atol=1e-6)  # the layer is 39 deg everywhere
    assert "COVERAGE" not in params                      # the algorithm's default: all
    dialog.union_check.setChecked(True)
    params = dialog.parameters()
    assert params["COVERAGE"] == dd.dec.COVERAGE_CHOICES.index("any")
    dialog.run()
    assert calls == [(dd.ALGORITHM_ID, params, dialog.run_finished)]
    assert not dialog.run_button.isEnabled()           # until the Processing dialog reports
    calls[0][2]("closed", None)
    assert dialog.run_button.isEnabled() and "closed without running" in dialog.status_label.text()
    # 3 components with two LOS tracks: flagged singular
    dialog.components_combo.setCurrentIndex(dialog.components_combo.findData("east_north_up"))
    assert math.isinf(dialog.condition) and "singular" in dialog.preview_label.text()
    dialog.add_track()
    dialog.add_track()
    dialog.add_track()
    assert len(dialog.rows) == dd.MAX_TRACKS
    dialog.deleteLater()


def test_decomposition_dialog_runs_the_algorithm_to_the_truth(tracks_layers, registered, tmp_path):
    """The dialog's parameters, run through Processing, give back the east and up fields
    the two LOS layers were made from (same results as the toolbox)."""
    dialog = dd.DecompositionDialog(runner=lambda *a: pytest.fail("not the dialog path"))
    dialog.set_track(0, tracks_layers["asc"])
    dialog.set_track(1, tracks_layers["dsc"])
    _assert_runs_to_the_truth(dialog, tmp_path)
    dialog.deleteLater()


def _assert_runs_to_the_truth(dialog, tmp_path):
    """Run the dialog's parameters through Processing and compare with EAST and UP."""
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    from displacement_toolkit.core.raster_io import read_block

    outputs = {"OUTPUT_EAST": str(tmp_path / "east.tif"), "OUTPUT_UP": str(tmp_path / "up.tif")}
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    result = processing.run(dd.ALGORITHM_ID, dialog.parameters(outputs), context=context,
                            feedback=QgsProcessingFeedback(), is_child_algorithm=True)
    np.testing.assert_allclose(read_block(result["OUTPUT_EAST"]), EAST, atol=2e-6)
    np.testing.assert_allclose(read_block(result["OUTPUT_UP"]), UP, atol=2e-6)


def test_decomposition_dialog_unset_incidence_takes_the_run_default_or_says_so(
        tracks_layers, make_raster, registered, tmp_path):
    """An incidence left unset ("—", the spin box minimum 0) is never sent as 0 degrees: the
    dialog shows the default a run would take (here PyRate's INCIDENCE_DEGREES tag, read
    by core.products like the algorithm does) and runs to the truth; a layer with no
    geometry gets a message saying the incidence is not set, not an error about 0."""
    asc_los = (EAST * ASC[0] + UP * ASC[2]).astype(np.float32)
    pyrate = make_raster(asc_los, "asc_pyrate.tif", band_metadata=[{"units": "m"}],
                         metadata={"INCIDENCE_DEGREES": "34.0", "DATA_UNITS": "m"})
    layer = QgsRasterLayer(pyrate, "asc_pyrate", "gdal")
    QgsProject.instance().addMapLayer(layer)
    calls = []
    dialog = dd.DecompositionDialog(runner=lambda *a: calls.append(a))
    dialog.set_track(0, layer, heading=-12.0)
    dialog.set_track(1, tracks_layers["dsc"])
    assert dialog.tracks()[0].incidence == 34.0
    np.testing.assert_allclose(dialog.vectors[0], ASC, atol=1e-6)
    _assert_runs_to_the_truth(dialog, tmp_path)
    # no geometry anywhere: the dialog says the incidence is not set, before any run
    bare = QgsRasterLayer(make_raster(asc_los, "bare.tif", band_metadata=[{"units": "m"}]),
                          "bare", "gdal")
    QgsProject.instance().addMapLayer(bare)
    dialog.set_track(0, bare, heading=-12.0)
    dialog.rows[0]["incidence"].setValue(0.0)            # typed 0: the "not set" minimum
    assert dialog.tracks()[0].incidence is None
    assert dialog.run() is None and not calls
    status = dialog.status_label.text()
    assert "Cannot run: track 1 needs its incidence: it is not set" in status
    assert "0 deg" not in status and "0.0" not in status and "between 0 and 90" not in status
    dialog.deleteLater()


def test_decomposition_dialog_other_angle_conventions(tracks_layers):
    dialog = dd.DecompositionDialog(runner=lambda *a: None, lookup=lambda _id: None)
    dialog.convention_combo.setCurrentIndex(dialog.convention_combo.findData("unit_vector"))
    header = [dialog.table.horizontalHeaderItem(c).text() for c in range(3, 7)]
    assert header == ["LOS east layer", "LOS east", "LOS north layer", "LOS north"]
    # metadata angles are not unit-vector components: the row keeps the user's values
    dialog.set_track(0, tracks_layers["asc"], incidence=ASC[0], heading=ASC[1])
    dialog.set_track(1, tracks_layers["dsc"], incidence=DSC[0], heading=DSC[1])
    assert dialog.convention_combo.currentData() == "unit_vector"
    t = dialog.tracks()
    assert (t[0].incidence, t[0].heading) == (ASC[0], ASC[1])
    np.testing.assert_allclose(dialog.vectors, [ASC, DSC], atol=2e-6)
    assert dialog.parameters()["ANGLE_CONVENTION"] == 3
    # LOS azimuth convention: a layer's heading metadata is converted (right-looking)
    dialog.convention_combo.setCurrentIndex(dialog.convention_combo.findData("los_azimuth"))
    dialog.set_track(0, tracks_layers["dsc"])
    dialog.set_track(0, tracks_layers["asc"])
    assert dialog.tracks()[0].heading == pytest.approx(102.0)   # alpha = 90 - h
    np.testing.assert_allclose(dialog.vectors[0], ASC, atol=1e-6)
    dialog.deleteLater()


def test_decomposition_dialog_without_the_algorithm(tracks_layers):
    dialog = dd.DecompositionDialog(runner=lambda *a: pytest.fail("must not run"),
                                    lookup=lambda _id: None)
    dialog.set_track(0, tracks_layers["asc"])
    assert dialog.run() is None
    assert "not available" in dialog.status_label.text()
    dialog.deleteLater()


# ------------------------------------------------------------------ offset tracking
def test_offset_tracking_parameters_pure():
    s = od.OffsetTrackingSettings("/r.tif", "/s.tif", 1, 2, 32, 16, 8, 4, 16, 8)
    assert od.offset_tracking_parameters(s, {"OUTPUT": "/o.tif"}) == {
        "REFERENCE": "/r.tif", "SECONDARY": "/s.tif", "BAND_REFERENCE": 1, "BAND_SECONDARY": 2,
        "WINDOW_X": 32, "WINDOW_Y": 16, "SEARCH_X": 8, "SEARCH_Y": 4, "STEP_X": 16, "STEP_Y": 8,
        "PRESET": 0, "IMAGE_TYPE": 0, "OUTPUT": "/o.tif"}
    with pytest.raises(ValueError, match="reference"):
        od.offset_tracking_parameters(od.OffsetTrackingSettings())


class FakeOffsetTracking(QgsProcessingAlgorithm):
    def name(self):
        return "offset_tracking"

    def createInstance(self):  # noqa: N802
        return FakeOffsetTracking()

    def initAlgorithm(self, config=None):  # noqa: N802
        for name in ("REFERENCE", "SECONDARY"):
            self.addParameter(QgsProcessingParameterRasterLayer(name, name))
        for name in ("BAND_REFERENCE", "BAND_SECONDARY", "WINDOW_X", "WINDOW_Y", "SEARCH_X",
                     "SEARCH_Y", "STEP_X", "STEP_Y", "PRESET", "IMAGE_TYPE"):
            self.addParameter(QgsProcessingParameterNumber(name, name))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        return {}


def test_offset_tracking_dialog_preview_and_estimate(make_raster, qgis_new_project, monkeypatch):
    monkeypatch.setenv("DISPLACEMENT_TOOLKIT_THREADS", "2")   # the run's local threads
    rng = np.random.default_rng(1)
    ref = make_raster(rng.random((150, 200)).astype(np.float32), "ref.tif")
    sec = make_raster(rng.random((150, 200)).astype(np.float32), "sec.tif")
    layers = [QgsRasterLayer(p, n, "gdal") for p, n in ((ref, "ref"), (sec, "sec"))]
    for layer in layers:
        QgsProject.instance().addMapLayer(layer)
    calls, measured = [], []
    alg = FakeOffsetTracking()
    alg.initAlgorithm()
    dialog = od.OffsetTrackingDialog(runner=lambda a, p, done: calls.append((a, p)),
                                     measure=lambda *key: measured.append(key) or 0.002,
                                     lookup=lambda _id: alg)
    dialog.reference_combo.setLayer(layers[0])
    dialog.secondary_combo.setLayer(layers[1])
    dialog.set_values(window_x=32, window_y=32, search_x=8, search_y=8, step_x=40, step_y=30)
    # columns: first 16 + 8 = 24, last 200 - 16 - 8 = 176 -> 24, 64, 104, 144 (4)
    # rows: first 24, last 150 - 24 = 126 -> 24, 54, 84, 114 (4)
    np.testing.assert_array_equal(dialog.grid.cols, [24, 64, 104, 144])
    np.testing.assert_array_equal(dialog.grid.rows, [24, 54, 84, 114])
    e = dialog.estimate
    assert e.windows == 16 and e.output_bytes == 16 * od.OUTPUT_BANDS * 4
    # the one-thread time over the measured speed-up of two threads
    assert e.seconds == pytest.approx(16 * 0.002 * inspection.RUN_TIME_OVERHEAD
                                      / (1 + inspection.ADDED_THREAD_SPEED))
    assert "16 windows (4 rows × 4 columns)" in dialog.estimate_label.text()
    assert "on this machine (2 threads)" in dialog.estimate_label.text()
    assert measured[-1] == (32, 32, 8, 8, False, "accurate")
    # the time per window is measured again for the preset chosen
    dialog.preset_combo.setCurrentIndex(1)
    assert measured[-1] == (32, 32, 8, 8, False, "fast")
    # the preview is the image at full resolution (smaller than the preview size),
    # with the window outlines drawn in yellow: left edge of window (24, 24) at column 8
    image = dialog.preview_image
    assert (image.width(), image.height()) == (200, 150)
    edge = image.pixelColor(8, 24)
    assert (edge.red(), edge.green(), edge.blue()) == (255, 210, 0)
    inside = image.pixelColor(24, 24)
    assert inside.red() == inside.green() == inside.blue()   # grey image, not outline
    # the run passes exactly the dialog's parameters
    dialog.run()
    assert calls == [(od.ALGORITHM_ID, od.offset_tracking_parameters(dialog.settings()))]
    assert calls[0][1]["REFERENCE"] == ref and calls[0][1]["STEP_Y"] == 30
    # a window too large for the image is reported, not run
    dialog.set_values(window_x=400)
    assert dialog.grid is None and "needs 416 columns" in dialog.estimate_label.text()
    dialog.deleteLater()


def test_estimate_uses_the_measured_correlation_time():
    each = inspection.seconds_per_window(64, 64, 16, 16, batch=4, repeats=1)
    e = inspection.estimate_offset_tracking(1000, 800, 64, 64, 16, 16, 32, 32, seconds_each=each)
    assert e.seconds == pytest.approx(e.windows * each * inspection.RUN_TIME_OVERHEAD)


def test_dialogs_open_from_the_menu(qgis_iface, qgis_processing):
    from qgis.core import QgsApplication

    from displacement_toolkit.plugin.plugin import DisplacementToolkitPlugin

    existing = QgsApplication.processingRegistry().providerById("displacement")
    plugin = DisplacementToolkitPlugin(qgis_iface)
    plugin.provider = existing  # reuse the session's provider (initProcessing keeps it)
    plugin.initGui()
    try:
        actions = {a.text(): a for a in plugin.actions}
        actions["Decomposition (guided)"].trigger()
        assert isinstance(plugin._guided_dialog, dd.DecompositionDialog)
        assert not plugin._guided_dialog.isHidden()
        plugin._guided_dialog.close()
        actions["Offset Tracking (guided)"].trigger()
        assert isinstance(plugin._guided_dialog, od.OffsetTrackingDialog)
        plugin._guided_dialog.close()
        assert "Decomposition (guided)" not in [a.text() for a in plugin.toolbar.actions()]
    finally:
        if existing is not None:
            plugin.provider = None  # leave the session provider registered
        plugin.unload()


def test_decomposition_dialog_uses_per_pixel_geometry_written_next_to_the_product(
        make_raster, qgis_new_project):
    zeros = np.zeros((30, 40), np.float32)
    meta = {"geometry_incidence_layer": "incidenceAngle", "geometry_los_azimuth_layer": "azimuthAngle",
            "geometry_look_direction": "right"}
    vel = make_raster(zeros, "velocity_velocity.tif", metadata=meta,
                      band_metadata=[{"units": "m/yr", "quantity": "los_velocity"}])
    inc = make_raster(np.full((30, 40), 34.0, np.float32), "velocity_incidenceAngle.tif")
    az = make_raster(np.full((30, 40), 102.0, np.float32), "velocity_azimuthAngle.tif")
    layers = {}
    for name, path in (("vel", vel), ("inc", inc)):
        layers[name] = QgsRasterLayer(path, name, "gdal")
        QgsProject.instance().addMapLayer(layers[name])
    dialog = dd.DecompositionDialog(runner=lambda *a: None, lookup=lambda _id: None)
    dialog.convention_combo.setCurrentIndex(dialog.convention_combo.findData("los_azimuth"))
    dialog.set_track(0, layers["vel"])
    t = dialog.tracks()[0]
    assert t.incidence == inc and t.heading is None
    assert az in dialog.status_label.text()   # found, but not a layer of the project yet
    layers["az"] = QgsRasterLayer(az, "az", "gdal")
    QgsProject.instance().addMapLayer(layers["az"])
    dialog.set_track(0, layers["inc"])
    dialog.set_track(0, layers["vel"])
    t = dialog.tracks()[0]
    assert (t.incidence, t.heading) == (inc, az)
    np.testing.assert_allclose(dialog.vectors[0], ASC, atol=1e-6)   # medians 34 and 102 deg
    dialog.deleteLater()


def test_offset_tracking_dialog_runs_the_algorithm_on_its_previewed_grid(
        make_raster, qgis_new_project, registered, tmp_path):
    """The dialog's parameters exist in displacement:offset_tracking, and its run returns
    the known shift on exactly the grid the dialog previewed."""
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback
    from scipy.ndimage import gaussian_filter

    from displacement_toolkit.core.raster_io import raster_info, read_block
    from displacement_toolkit.ui.common import unknown_parameters

    rng = np.random.default_rng(5)
    texture = gaussian_filter(rng.random((200, 240)), 1.2).astype(np.float32)
    ref = make_raster(texture, "ref_ot.tif")
    sec = make_raster(np.roll(texture, (2, 3), (0, 1)), "sec_ot.tif")   # dy = +2, dx = +3
    layers = [QgsRasterLayer(p, n, "gdal") for p, n in ((ref, "ref"), (sec, "sec"))]
    for layer in layers:
        QgsProject.instance().addMapLayer(layer)
    dialog = od.OffsetTrackingDialog(runner=lambda *a: pytest.fail("not the dialog path"),
                                     measure=lambda *key: 0.001)
    dialog.reference_combo.setLayer(layers[0])
    dialog.secondary_combo.setLayer(layers[1])
    dialog.set_values(window_x=32, window_y=32, search_x=8, search_y=8, step_x=24, step_y=24)
    alg = registered.algorithmById(od.ALGORITHM_ID)
    outputs = {"OUTPUT_X": str(tmp_path / "dx.tif"), "OUTPUT_Y": str(tmp_path / "dy.tif")}
    params = dialog.parameters(outputs)
    assert unknown_parameters(alg, params) == []
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    result = processing.run(od.ALGORITHM_ID, {**params, "COARSE_SEARCH": False}, context=context,
                            feedback=QgsProcessingFeedback(), is_child_algorithm=True)
    info = raster_info(result["OUTPUT_X"])
    # (200 - 32 - 16) // 24 + 1 = 7 rows, (240 - 32 - 16) // 24 + 1 = 9 columns
    assert (info.height, info.width) == dialog.grid.shape == (7, 9)
    assert dialog.estimate.windows == info.width * info.height
    # the previewed window centres are the output pixel centres on the map
    from displacement_toolkit.core.raster_io import pixel_to_map

    ref_gt = raster_info(ref).geotransform
    for j, i in ((0, 0), (8, 6)):
        expected = pixel_to_map(ref_gt, dialog.grid.cols[j], dialog.grid.rows[i])
        assert pixel_to_map(info.geotransform, j + 0.5, i + 0.5) == pytest.approx(expected)
    dx, dy = read_block(result["OUTPUT_X"]), read_block(result["OUTPUT_Y"])
    assert np.nanmedian(dx) == pytest.approx(3.0, abs=0.05)
    assert np.nanmedian(dy) == pytest.approx(2.0, abs=0.05)
    dialog.deleteLater()


def test_offset_tracking_dialog_offers_the_speed_preset_and_image_type(registered):
    """PRESET and IMAGE_TYPE: the dialog lists the algorithm's own options, in its order,
    defaults to theirs, and passes the chosen ones to the run."""
    alg = registered.algorithmById(od.ALGORITHM_ID)
    dialog = od.OffsetTrackingDialog(runner=lambda *a: None, measure=lambda *key: 0.001)
    for combo, name in ((dialog.preset_combo, "PRESET"), (dialog.image_type_combo, "IMAGE_TYPE")):
        definition = alg.parameterDefinition(name)
        assert [combo.itemText(i) for i in range(combo.count())] == definition.options()
        assert combo.currentIndex() == definition.defaultValue()
    dialog.preset_combo.setCurrentIndex(1)       # fast
    dialog.image_type_combo.setCurrentIndex(3)   # optical
    s = dialog.settings()
    s.reference, s.secondary = "/r.tif", "/s.tif"
    params = od.offset_tracking_parameters(s)
    assert (params["PRESET"], params["IMAGE_TYPE"]) == (1, 3)
    assert alg.parameterDefinition("PRESET").options()[1].startswith("Fast")
    assert alg.parameterDefinition("IMAGE_TYPE").options()[3].startswith("Optical")
