"""displacement:decompose through processing.run (worked example, per-pixel geometry, errors)."""

import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from displacement_toolkit.core import geometry as g
from displacement_toolkit.core.raster_io import raster_info, read_block

from ..conftest import recording_feedback, run_algorithm

ALG = "displacement:decompose"
M = [{"units": "m"}]


def _outputs(tmp_path, *keys):
    return {f"OUTPUT_{k}": str(tmp_path / f"{k.lower()}.tif") for k in keys}


def test_worked_sentinel1_example(provider, make_raster, tmp_path):
    enu = (0.010, 0.0, -0.020)
    asc = np.full((6, 7), g.project_enu(*enu, g.los_unit_vector_from_heading(34, -12)), np.float32)
    desc = np.full((6, 7), g.project_enu(*enu, g.los_unit_vector_from_heading(39, -168)), np.float32)
    assert asc[0, 0] == pytest.approx(-0.022050, abs=1e-6)
    assert desc[0, 0] == pytest.approx(-0.009387, abs=1e-6)
    params = {
        "OBS_1": make_raster(asc, "asc.tif", band_metadata=M), "INCIDENCE_ANGLE_1": 34.0,
        "HEADING_ANGLE_1": -12.0, "SIGMA_VALUE_1": 0.003,
        "OBS_2": make_raster(desc, "desc.tif", band_metadata=M), "INCIDENCE_ANGLE_2": 39.0,
        "HEADING_ANGLE_2": -168.0, "SIGMA_VALUE_2": 0.004,
        **_outputs(tmp_path, "EAST", "NORTH", "UP", "SIGMA", "RESIDUAL"),
    }
    feedback = recording_feedback()
    result = run_algorithm(ALG, params, feedback=feedback)
    east = read_block(result["OUTPUT_EAST"])
    up = read_block(result["OUTPUT_UP"])
    assert east == pytest.approx(np.full((6, 7), 0.010), abs=1e-8)
    assert up == pytest.approx(np.full((6, 7), -0.020), abs=1e-8)
    # sigma: sqrt(diag((G^T W G)^-1)) with the MintPy unit vectors
    G = np.array([[-0.546973, 0.829038], [0.615568, 0.777146]])
    W = np.diag([1 / 0.003 ** 2, 1 / 0.004 ** 2])
    expected = np.sqrt(np.diag(np.linalg.inv(G.T @ W @ G)))
    sigma_path = result["OUTPUT_SIGMA"]
    assert read_block(sigma_path, 1)[0, 0] == pytest.approx(expected[0], rel=1e-5)
    assert read_block(sigma_path, 2)[0, 0] == pytest.approx(expected[1], rel=1e-5)
    info = raster_info(result["OUTPUT_UP"])
    assert info.band_metadata[0]["units"] == "m"
    assert info.band_metadata[0]["quantity"] == "up_displacement"
    assert os.path.exists(str(tmp_path / "up.qml")) and os.path.exists(str(tmp_path / "sigma.qml"))
    # north is not part of the east + up model, residual needs > 2 observations
    assert not result.get("OUTPUT_NORTH") and not os.path.exists(str(tmp_path / "north.tif"))
    assert not result.get("OUTPUT_RESIDUAL")
    assert any("42 of 42 pixels solved" in line for line in feedback.lines)


def test_per_pixel_isce2_los_rdr_three_observations_east_north_up(provider, make_raster, tmp_path):
    shape = (12, 15)
    inc_a = np.linspace(30, 46, 15)[None].repeat(12, 0)
    inc_d = inc_a[:, ::-1]
    az_a = g.heading_to_los_azimuth(-12.0 + np.zeros(shape))   # 102
    az_d = g.heading_to_los_azimuth(-168.0 + np.zeros(shape))  # -102
    yy, xx = np.mgrid[0:12, 0:15]
    e, n, u = 0.3 * np.cos(xx / 5.0), -0.5 + 0.02 * yy, -0.8 + 0.01 * xx
    los_a = g.project_enu(e, n, u, g.los_unit_vector(inc_a, az_a))
    los_d = g.project_enu(e, n, u, g.los_unit_vector(inc_d, az_d))
    azi = g.project_enu(e, n, u, g.along_track_unit_vector(-12.0))
    rng_d = -los_d  # a range offset (positive away from the satellite) as a 4th observation
    rdr_a = make_raster(np.stack([inc_a, az_a]).astype(np.float32), "los_a.rdr.tif")
    rdr_d = make_raster(np.stack([inc_d, az_d]).astype(np.float32), "los_d.rdr.tif")
    params = {
        "ANGLE_CONVENTION": 1, "COMPONENTS": 2,
        "OBS_1": make_raster(los_a.astype(np.float32), "a.tif", band_metadata=M),
        "INCIDENCE_1": rdr_a, "HEADING_1": rdr_a, "HEADING_BAND_1": 2,
        "OBS_2": make_raster(los_d.astype(np.float32), "d.tif", band_metadata=M),
        "INCIDENCE_2": rdr_d, "HEADING_2": rdr_d, "HEADING_BAND_2": 2,
        "OBS_3": make_raster(azi.astype(np.float32), "az.tif", band_metadata=M), "KIND_3": 2,
        "HEADING_ANGLE_3": 102.0,  # LOS azimuth -> heading -12; no incidence needed
        "OBS_4": make_raster(rng_d.astype(np.float32), "rg.tif", band_metadata=M), "KIND_4": 1,
        "INCIDENCE_4": rdr_d, "HEADING_4": rdr_d, "HEADING_BAND_4": 2,
        **_outputs(tmp_path, "EAST", "NORTH", "UP", "SIGMA", "RESIDUAL"),
    }
    result = run_algorithm(ALG, params)
    assert read_block(result["OUTPUT_EAST"]) == pytest.approx(e, abs=2e-7)
    assert read_block(result["OUTPUT_NORTH"]) == pytest.approx(n, abs=2e-7)
    assert read_block(result["OUTPUT_UP"]) == pytest.approx(u, abs=2e-7)
    assert np.nanmax(read_block(result["OUTPUT_RESIDUAL"])) < 1e-6
    assert raster_info(result["OUTPUT_SIGMA"]).band_count == 3
    # the same band of the same raster for both angles is caught
    params["HEADING_BAND_1"] = 1
    with pytest.raises(QgsProcessingException, match="HEADING_BAND_1 = 1.*same band"):
        run_algorithm(ALG, params)


def test_horizontal_model_and_ill_conditioned_warning(provider, make_raster, tmp_path):
    shape = (4, 10)
    h, u = 0.02, -0.03
    phi = 75.0
    e, n = h * np.sin(np.radians(phi)), h * np.cos(np.radians(phi))
    a = np.full(shape, g.project_enu(e, n, u, g.los_unit_vector_from_heading(34, -12)), np.float32)
    # second track: descending on the left half, ascending (nearly parallel) on the right half
    head = np.where(np.arange(10) < 5, -168.0, -12.5)[None].repeat(4, 0)
    inc = np.where(np.arange(10) < 5, 39.0, 41.0)[None].repeat(4, 0)
    b = g.project_enu(e, n, u, g.los_unit_vector_from_heading(inc, head)).astype(np.float32)
    params = {
        "COMPONENTS": 1, "HORIZONTAL_AZIMUTH": phi,
        "OBS_1": make_raster(a, "a.tif", band_metadata=M), "INCIDENCE_ANGLE_1": 34.0,
        "HEADING_ANGLE_1": -12.0,
        "OBS_2": make_raster(b, "b.tif", band_metadata=M),
        "INCIDENCE_2": make_raster(inc.astype(np.float32), "inc.tif"),
        "HEADING_2": make_raster(head.astype(np.float32), "head.tif"),
        **_outputs(tmp_path, "HORIZONTAL", "UP"),
    }
    feedback = recording_feedback()
    result = run_algorithm(ALG, params, feedback=feedback)
    hz, up = read_block(result["OUTPUT_HORIZONTAL"]), read_block(result["OUTPUT_UP"])
    assert hz[:, :5] == pytest.approx(np.full((4, 5), h), abs=1e-8)
    assert up[:, :5] == pytest.approx(np.full((4, 5), u), abs=1e-8)
    assert np.isnan(hz[:, 5:]).all() and np.isnan(up[:, 5:]).all()
    assert any("20 pixels have nearly parallel geometries" in w for w in feedback.warnings)


def test_clear_errors(provider, make_raster, tmp_path):
    a = make_raster(np.zeros((3, 3), np.float32), "a.tif", band_metadata=M)
    mm = make_raster(np.zeros((3, 3), np.float32), "mm.tif", band_metadata=[{"units": "mm"}])
    base = {"OBS_1": a, "INCIDENCE_ANGLE_1": 34.0, "HEADING_ANGLE_1": -12.0,
            "OBS_2": mm, "INCIDENCE_ANGLE_2": 39.0, "HEADING_ANGLE_2": -168.0,
            **_outputs(tmp_path, "EAST", "UP")}
    with pytest.raises(QgsProcessingException, match="OBS_1 in m, OBS_2 in mm"):
        run_algorithm(ALG, base)
    assert not os.path.exists(str(tmp_path / "east.tif"))
    p = dict(base, OBS_2=a)
    del p["HEADING_ANGLE_2"]
    with pytest.raises(QgsProcessingException, match="HEADING_2.*needs its geometry"):
        run_algorithm(ALG, p)
    with pytest.raises(QgsProcessingException, match="sigma is given for some.*not for OBS_2"):
        run_algorithm(ALG, dict(base, OBS_2=a, SIGMA_VALUE_1=0.01))
    with pytest.raises(QgsProcessingException, match="COMPONENTS.*2 observations cannot determine 3"):
        run_algorithm(ALG, dict(base, OBS_2=a, COMPONENTS=2))
    with pytest.raises(QgsProcessingException, match="INCIDENCE_ANGLE_3.*no observation"):
        run_algorithm(ALG, dict(base, OBS_2=a, INCIDENCE_ANGLE_3=30.0))


def _pair(make_raster, shape=(40, 30)):
    enu = (0.010, 0.0, -0.020)
    asc = np.full(shape, g.project_enu(*enu, g.los_unit_vector_from_heading(34, -12)), np.float32)
    desc = np.full(shape, g.project_enu(*enu, g.los_unit_vector_from_heading(39, -168)), np.float32)
    return {"OBS_1": make_raster(asc, "asc.tif", band_metadata=M), "INCIDENCE_ANGLE_1": 34.0,
            "HEADING_ANGLE_1": -12.0,
            "OBS_2": make_raster(desc, "desc.tif", band_metadata=M), "INCIDENCE_ANGLE_2": 39.0,
            "HEADING_ANGLE_2": -168.0}


def test_loaded_results_are_styled_and_unsolved_outputs_not_loaded(provider, make_raster, tmp_path,
                                                                   qgis_iface):
    import processing
    from qgis.core import QgsProject

    QgsProject.instance().removeAllMapLayers()
    params = dict(_pair(make_raster), **_outputs(tmp_path, "EAST", "NORTH", "UP", "HORIZONTAL",
                                                 "SIGMA", "RESIDUAL"))
    processing.runAndLoadResults(ALG, params)
    layers = {lyr.name(): lyr for lyr in QgsProject.instance().mapLayers().values()}
    assert set(layers) == {"East (east_up)", "Up (east_up)", "1-sigma (east_up)"}
    assert all(lyr.renderer().type() == "singlebandpseudocolor" for lyr in layers.values())
    assert not any(os.path.exists(str(tmp_path / f"{k}.tif")) for k in ("north", "horizontal", "residual"))
    QgsProject.instance().removeAllMapLayers()


def test_cancel_leaves_no_output(provider, make_raster, tmp_path):
    from displacement_toolkit.processing_provider.decompose import DecomposeAlgorithm

    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda p: feedback.cancel() if p > 0 else None)
    params = dict(_pair(make_raster, (600, 600)), **_outputs(tmp_path, "EAST", "UP", "SIGMA"))
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run_algorithm(DecomposeAlgorithm().create(), params, feedback=feedback)  # 2 blocks
    assert not [f for f in os.listdir(tmp_path) if f.startswith(("east", "up", "sigma", ".east", ".up"))]


# --- processor products given directly: geometry from the product -----------------------------
def _mintpy_pair(tmp_path):
    from .test_los_to_vertical_algorithm import MH, MW, write_mintpy

    r, c = np.mgrid[0:MH, 0:MW]
    east = 0.004 * (c - 3.0)                      # m/yr
    up = -0.01 + 0.002 * r
    inc_a, inc_d = 30.0 + 1.5 * c, 44.0 - 1.5 * c
    az_a = np.full((MH, MW), float(g.heading_to_los_azimuth(-12.0)))
    az_d = float(g.heading_to_los_azimuth(-168.0)) + 0.5 * r
    paths = []
    for name, inc, az, head in (("asc", inc_a, az_a, "-12"), ("desc", inc_d, az_d, "-168")):
        e, _, u = g.los_unit_vector(inc, az)
        paths.append(write_mintpy(tmp_path / name, e * east + u * up, inc, az, HEADING=head))
    return paths, east, up


@pytest.mark.parametrize("convention", [0, 1, 3])    # heading, LOS azimuth, unit vector
def test_mintpy_asc_desc_products_geometry_from_the_products(provider, tmp_path, convention):
    (asc, desc), east, up = _mintpy_pair(tmp_path)
    feedback = recording_feedback()
    res = run_algorithm(ALG, {"OBS_1": asc, "OBS_2": desc, "ANGLE_CONVENTION": convention,
                              "OUTPUT_EAST": str(tmp_path / "e.tif"), "OUTPUT_UP": str(tmp_path / "u.tif"),
                              "OUTPUT_SIGMA": "TEMPORARY_OUTPUT"}, feedback=feedback)
    assert np.allclose(read_block(res["OUTPUT_EAST"]), east, atol=1e-6)
    assert np.allclose(read_block(res["OUTPUT_UP"]), up, atol=1e-6)
    gt = raster_info(res["OUTPUT_UP"]).geotransform
    assert gt == pytest.approx((-155.3, 0.001, 0.0, 19.5, 0.0, -0.001))
    assert sum("per pixel from the product (MintPy, geometryGeo.h5)" in x for x in feedback.lines) == 4


def test_product_without_geometry_names_the_parameter(provider, tmp_path):
    unw = os.path.join(os.path.dirname(__file__), "..", "data", "pyrate_sydney_envisat",
                       "geo_060619-061002.unw")
    (asc, _), _, _ = _mintpy_pair(tmp_path)
    with pytest.raises(QgsProcessingException, match="INCIDENCE_2.*ROI_PAC.*incidence angle parameter"):
        run_algorithm(ALG, {"OBS_1": asc, "OBS_2": unw, "OUTPUT_UP": str(tmp_path / "u.tif")})
    with pytest.raises(QgsProcessingException, match="ANGLE_CONVENTION"):
        run_algorithm(ALG, {"OBS_1": asc, "OBS_2": asc, "ANGLE_CONVENTION": 2,
                            "OUTPUT_UP": str(tmp_path / "u2.tif")})
    assert not os.path.exists(tmp_path / "u.tif") and not os.path.exists(tmp_path / "u2.tif")


def test_coverage_union_solves_where_a_third_track_does_not_reach(provider, make_raster, tmp_path):
    enu = (0.010, 0.0, -0.020)
    geos = {"a": (34.0, -12.0), "d": (39.0, -168.0), "d2": (44.0, -167.0)}
    los = {k: g.project_enu(*enu, g.los_unit_vector_from_heading(*v)) for k, v in geos.items()}
    gt_half = (500000.0, 30.0, 0.0, 4000000.0 - 4 * 30.0, 0.0, -30.0)    # rows 4..7 of the others
    params = {
        "OBS_1": make_raster(np.full((8, 6), los["a"], np.float32), "a.tif", band_metadata=M),
        "INCIDENCE_ANGLE_1": 34.0, "HEADING_ANGLE_1": -12.0,
        "OBS_2": make_raster(np.full((8, 6), los["d"], np.float32), "d.tif", band_metadata=M),
        "INCIDENCE_ANGLE_2": 39.0, "HEADING_ANGLE_2": -168.0,
        "OBS_3": make_raster(np.full((4, 6), los["d2"], np.float32), "d2.tif", geotransform=gt_half,
                             band_metadata=M),
        "INCIDENCE_ANGLE_3": 44.0, "HEADING_ANGLE_3": -167.0,
        "COVERAGE": 1,
        **_outputs(tmp_path, "EAST", "UP", "SIGMA", "COUNT"),
    }
    feedback = recording_feedback()
    result = run_algorithm(ALG, params, feedback=feedback)
    up = read_block(result["OUTPUT_UP"])
    assert up.shape == (8, 6) and up == pytest.approx(np.full((8, 6), -0.020), abs=1e-8)
    count = read_block(result["OUTPUT_COUNT"])
    assert (count[:4] == 2).all() and (count[4:] == 3).all()
    assert raster_info(result["OUTPUT_COUNT"]).band_metadata[0]["quantity"] == "observation_count"
    assert os.path.exists(str(tmp_path / "count.qml"))
    sig_up = read_block(result["OUTPUT_SIGMA"], 2)
    assert (sig_up[:4] > sig_up[4:].max()).all()
    assert any("48 of 48 pixels solved" in line for line in feedback.lines)
    assert any("24 of the solved pixels used fewer than all 3 observations" in line
               for line in feedback.lines)
    # the default coverage: the intersection (the third track's 4 rows), no count output made
    params["COVERAGE"] = 0
    params.pop("OUTPUT_COUNT")
    params.update(_outputs(tmp_path / "strict", "EAST", "UP", "SIGMA"))
    os.makedirs(tmp_path / "strict")
    result = run_algorithm(ALG, params)
    assert read_block(result["OUTPUT_UP"]).shape == (4, 6)
    assert not result.get("OUTPUT_COUNT")


def test_geometry_recorded_in_plain_rasters_is_the_default(provider, make_raster, tmp_path):
    """GeoTIFFs carrying their geometry (Load product's geometry_* metadata) need no angles."""
    enu = (0.010, 0.0, -0.020)
    rasters = {}
    for name, (inc, head) in {"asc": (34.0, -12.0), "desc": (39.0, -168.0)}.items():
        los = g.project_enu(*enu, g.los_unit_vector_from_heading(inc, head))
        rasters[name] = make_raster(np.full((4, 5), los, np.float32), f"{name}.tif", band_metadata=M,
                                    metadata={"geometry_incidence": str(inc),
                                              "geometry_heading": str(head),
                                              "geometry_look_direction": "right"})
    feedback = recording_feedback()
    res = run_algorithm(ALG, {"OBS_1": rasters["asc"], "OBS_2": rasters["desc"],
                              **_outputs(tmp_path, "EAST", "UP")}, feedback=feedback)
    assert read_block(res["OUTPUT_EAST"]) == pytest.approx(np.full((4, 5), 0.010), abs=1e-7)
    assert read_block(res["OUTPUT_UP"]) == pytest.approx(np.full((4, 5), -0.020), abs=1e-7)
    log = "\n".join(feedback.lines)
    assert "OBS_1: incidence 34 deg from GDAL raster asc.tif" in log
    assert "OBS_2: heading -168 deg from GDAL raster desc.tif" in log


def test_unit_vector_rasters_with_no_up_left_are_refused(provider, make_raster, tmp_path):
    """ANGLE_CONVENTION unit_vector (OPERA los_east/los_north): up = sqrt(1 - e² - n²) per
    pixel, so a pixel with e² + n² >= 1 would silently get up = 0; the east/north rasters
    are checked pixel by pixel (core.validation.check_unit_vector_raster)."""
    shape = (6, 7)
    ea, na, _ = g.los_unit_vector_from_heading(34, -12)
    ed, nd, _ = g.los_unit_vector_from_heading(39, -168)
    east_a = np.full(shape, ea, np.float32)
    east_a[0, :4] = 1.0                                   # 4 pixels: 1 + na² > 1
    enu = (0.01, 0.0, -0.02)
    params = {
        "ANGLE_CONVENTION": 3, "COMPONENTS": 0,
        "OBS_1": make_raster(np.full(shape, g.project_enu(*enu, g.los_unit_vector_from_heading(34, -12)),
                                     np.float32), "a.tif", band_metadata=M),
        "INCIDENCE_1": make_raster(east_a, "ea.tif"), "HEADING_1": make_raster(np.full(shape, na, np.float32),
                                                                             "na.tif"),
        "OBS_2": make_raster(np.full(shape, g.project_enu(*enu, g.los_unit_vector_from_heading(39, -168)),
                                     np.float32), "d.tif", band_metadata=M),
        "INCIDENCE_ANGLE_2": float(ed), "HEADING_ANGLE_2": float(nd),
        **_outputs(tmp_path, "EAST", "UP"),
    }
    with pytest.raises(QgsProcessingException,
                       match=r"INCIDENCE_1 and HEADING_1 \(east, north\) \(ea\.tif band 1, na\.tif band 1\): "
                             r"4 of 42 valid pixels \(9\.52 %\) have east² \+ north² >= 1"):
        run_algorithm(ALG, params)
    assert not (tmp_path / "east.tif").exists() and not (tmp_path / "up.tif").exists()
    east_a[0, :4] = ea                                    # the same inputs, fixed, run
    params["INCIDENCE_1"] = make_raster(east_a, "ea_ok.tif")
    result = run_algorithm(ALG, params)
    assert read_block(result["OUTPUT_EAST"]) == pytest.approx(np.full(shape, 0.01), abs=1e-6)
    assert read_block(result["OUTPUT_UP"]) == pytest.approx(np.full(shape, -0.02), abs=1e-6)


@pytest.mark.parametrize("cast", [float, np.float64, np.float32])
def test_numpy_numbers_from_the_python_console_are_their_values(provider, make_raster, tmp_path, cast):
    """processing.run from the Python console with numpy numbers (what core.geometry
    returns): QGIS reads a numpy float given to an optional number parameter without
    default as 0.0, so INCIDENCE_ANGLE_1 = np.float64(34) was refused as "0.0" and a
    unit-vector run crashed on a singular matrix; the base class passes their values."""
    shape = (3, 4)
    enu = (0.01, 0.0, -0.02)
    a, d = g.los_unit_vector_from_heading(34, -12), g.los_unit_vector_from_heading(39, -168)
    los_a, los_d = (np.full(shape, g.project_enu(*enu, v), np.float32) for v in (a, d))
    base = {"COMPONENTS": 0, "OBS_1": make_raster(los_a, "a.tif", band_metadata=M),
            "OBS_2": make_raster(los_d, "d.tif", band_metadata=M)}
    for convention, values in ((0, (34.0, -12.0, 39.0, -168.0)), (3, (a[0], a[1], d[0], d[1]))):
        out = {"OUTPUT_EAST": str(tmp_path / f"e{convention}.tif"),
               "OUTPUT_UP": str(tmp_path / f"u{convention}.tif")}
        a1, b1, a2, b2 = (cast(v) for v in values)
        result = run_algorithm(ALG, {**base, "ANGLE_CONVENTION": convention, "INCIDENCE_ANGLE_1": a1,
                                     "HEADING_ANGLE_1": b1, "INCIDENCE_ANGLE_2": a2, "HEADING_ANGLE_2": b2,
                                     **out})
        assert read_block(result["OUTPUT_EAST"]) == pytest.approx(np.full(shape, 0.01), abs=1e-6)
        assert read_block(result["OUTPUT_UP"]) == pytest.approx(np.full(shape, -0.02), abs=1e-6)
