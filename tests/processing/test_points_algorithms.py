"""The point-dataset algorithms through processing.run: load_points, points_velocity (equal to
timeseries_velocity on the same series), points_rereference, and ascending + descending
points -> points_to_grid -> decompose recovering east and up within the gridding error."""

import datetime as dt

import numpy as np
import pytest
from qgis.core import QgsProcessingException

from displacement_toolkit.core import points as P
from displacement_toolkit.core import synthetic_points as S
from displacement_toolkit.core.raster_io import raster_info, read_block

from ..conftest import UTM33N, recording_feedback, run_algorithm

D0 = dt.date(2019, 1, 6)
BOUNDS = (4.0e6, 2.8e6, 4.004e6, 2.804e6)          # EPSG:3035 metres, 4 km x 4 km
CELL = 500.0
GRAD_E, GRAD_U = 1.5e-3, 1.0e-3                    # mm/yr per metre (1.5 and 1 mm/yr per km)


def east(x, y):
    return 6.0 + GRAD_E * (x - BOUNDS[0])


def up(x, y):
    return -10.0 + GRAD_U * (y - BOUNDS[1])


def _egms(tmp_path, name, incidence, heading, first, seed, n=1600, dates=30, seasonal=3.0):
    dates = [first + dt.timedelta(days=12 * k) for k in range(dates)]
    pts = S.synthetic_points(n, dates, BOUNDS, S.laea_europe(), incidence, heading, east, up,
                             seasonal, seed=seed)
    return S.write_egms_csv(str(tmp_path / name), pts), pts


def _load(tmp_path, src, name):
    out = str(tmp_path / name)
    res = run_algorithm("displacement:load_points", {"INPUT": src, "OUTPUT": out})
    return res


def test_load_points_egms(tracks, tmp_path):
    path, pts = tracks["asc"]
    layer = P.PointLayer(path)
    assert layer.count == 1600 and layer.reference_date == D0
    qml = open(path[:-len(".gpkg")] + ".qml").read()     # styled by velocity, labels in mm/yr
    assert 'attr="velocity"' in qml and "mm/yr" in qml
    assert layer.metadata["orbit_direction"] == "ascending" and layer.metadata["track"] == "117"
    assert np.array_equal(layer.column(P.date_field(pts.dates[-1])), pts.series[:, -1])
    with pytest.raises(QgsProcessingException, match="X_FIELD"):
        run_algorithm("displacement:load_points", {
            "INPUT": S.write_generic_csv(str(tmp_path / "g.csv"), pts), "FORMAT": 4,
            "OUTPUT": str(tmp_path / "g.gpkg")})
    assert not (tmp_path / "g.gpkg").exists()


def test_load_points_warns_of_rows_without_coordinates(tracks, tmp_path):
    """A CSV whose rows lack a coordinate loads, with a warning that counts them."""
    import csv

    _, pts = tracks["asc"]
    path = S.write_generic_csv(str(tmp_path / "g.csv"), pts)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    rows[5][1] = rows[9][2] = ""                       # x of one row, y of another
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    feedback = recording_feedback()
    res = run_algorithm("displacement:load_points", {
        "INPUT": path, "FORMAT": 4, "X_FIELD": "x", "Y_FIELD": "y", "PID_FIELD": "id",
        "CRS": "EPSG:3035", "OUTPUT": str(tmp_path / "g.gpkg")}, feedback)
    assert res["POINTS"] == 1600
    assert feedback.warnings == ["2 of 1600 rows have no coordinates: they are kept without a "
                                 "geometry, and the point analyses skip them"]


@pytest.mark.parametrize("time_axis,step_rule", [(0, 0), (1, 1)])
def test_points_velocity_equals_timeseries_velocity(provider, make_raster, tmp_path, time_axis,
                                                    step_rule):
    rng = np.random.default_rng(3)
    dates = [D0 + dt.timedelta(days=12 * k) for k in range(45)]
    t = np.array([(d - D0).days / 365.25 for d in dates])
    rows, cols = 6, 5
    v = rng.uniform(-20, 20, rows * cols)
    cube = (v[None, :] * t[:, None] + 4 * np.sin(2 * np.pi * t)[:, None]
            + rng.normal(0, 1.0, (t.size, rows * cols))).astype(np.float32)
    cube[20:, 3] += 12.0                                    # a step on dates[20]
    cube[rng.random(cube.shape) < 0.1] = np.nan              # gaps: many validity patterns
    gt = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
    meta = [{"date": d.isoformat(), "units": "mm"} for d in dates]
    raster = make_raster(cube.reshape(-1, rows, cols), "series.tif", gt, band_metadata=meta,
                         metadata={"reference_date": D0.isoformat()})
    col, row = np.meshgrid(np.arange(cols), np.arange(rows))
    x, y = gt[0] + (col.ravel() + 0.5) * gt[1], gt[3] + (row.ravel() + 0.5) * gt[5]
    fields = [("pid", "text")] + [(P.date_field(d), "real") for d in dates]
    with P.PointWriter(str(tmp_path / "pts.gpkg"), UTM33N, fields, "points",
                       {"units": "mm", "reference_date": D0.isoformat()}) as w:
        w.write(x, y, {"pid": [str(i) for i in range(x.size)],
                       **{P.date_field(d): cube[k].astype(np.float64) for k, d in enumerate(dates)}})
        layer_path = w.commit()
    common = {"START_DATE": dates[2].isoformat(), "END_DATE": dates[40].isoformat(),
              "SEASONAL": True, "STEP_DATES": dates[20].isoformat(), "TIME_AXIS": time_axis,
              "STEP_RULE": step_rule}
    ras = {k: str(tmp_path / f"{k}.tif") for k in ("VELOCITY", "VELOCITY_SIGMA", "RMS_RESIDUAL")}
    run_algorithm("displacement:timeseries_velocity", {"INPUT": [raster], **common, **ras})
    res = run_algorithm("displacement:points_velocity", {
        "INPUT": layer_path, **common, "OUTPUT": str(tmp_path / "v.gpkg")})
    out = P.PointLayer(res["OUTPUT"])
    for field, key in (("velocity", "VELOCITY"), ("velocity_std", "VELOCITY_SIGMA"),
                       ("velocity_rms", "RMS_RESIDUAL")):
        raster_values = read_block(ras[key]).ravel().astype(np.float64)
        assert np.isfinite(raster_values).sum() == rows * cols
        assert out.column(field) == pytest.approx(raster_values, rel=1e-6, abs=1e-5)
    if step_rule == 0:      # the data step is on dates[20]: after it with this rule
        assert abs(out.column(f"step_{dates[20].strftime('%Y%m%d')}")[3] - 12.0) < 1.5
    assert out.metadata["step_rule"] == ("on_or_after", "mintpy")[step_rule]
    assert res["START_DATE_USED"] == dates[2].isoformat() and res["VALID_POINTS"] == rows * cols
    assert out.metadata["velocity_units"] == "mm/yr"


def test_points_rereference_point_and_polygon(tracks, tmp_path):
    layer_path, pts = tracks["asc"]
    cx, cy = 4002000.0, 2802000.0
    res = run_algorithm("displacement:points_rereference", {
        "INPUT": layer_path, "REFERENCE_POINT": f"{cx},{cy} [EPSG:3035]", "REFERENCE_RADIUS": 300,
        "OUTPUT": str(tmp_path / "r.gpkg")})
    near = np.hypot(pts.x - cx, pts.y - cy) <= 300
    assert res["REFERENCE_POINTS"] == near.sum() > 10
    out = P.PointLayer(res["OUTPUT"])
    expected = pts.velocity - np.median(pts.velocity[near])
    assert out.column("velocity") == pytest.approx(expected, abs=1e-9)
    last = P.date_field(pts.dates[-1])
    assert out.column(last) == pytest.approx(pts.series[:, -1] - np.median(pts.series[near, -1]),
                                             abs=1e-9)
    assert "300 m" in out.metadata["reference"]
    poly = f"POLYGON(({cx} {cy},{cx + 800} {cy},{cx + 800} {cy + 500},{cx} {cy + 500},{cx} {cy}))"
    res = run_algorithm("displacement:points_rereference", {
        "INPUT": layer_path, "REFERENCE_POLYGON": f"CRS=EPSG:3035;{poly}",
        "OUTPUT": str(tmp_path / "p.gpkg")})
    inside = (pts.x > cx) & (pts.x < cx + 800) & (pts.y > cy) & (pts.y < cy + 500)
    assert res["REFERENCE_POINTS"] == inside.sum()
    assert P.PointLayer(res["OUTPUT"]).column("velocity") == pytest.approx(
        pts.velocity - np.median(pts.velocity[inside]), abs=1e-9)


@pytest.fixture(scope="module")
def tracks(provider, tmp_path_factory):
    """Ascending and descending EGMS files on different points and dates, loaded."""
    tmp = tmp_path_factory.mktemp("tracks")
    asc_csv, asc = _egms(tmp, "EGMS_L2b_117_0300_IW2_VV_2019_2023_1.csv", 39.0, -12.0, D0, 1)
    desc_csv, desc = _egms(tmp, "EGMS_L2b_022_0800_IW1_VV_2019_2023_1.csv", 34.0, -168.0,
                           D0 + dt.timedelta(days=5), 2)
    loaded = {}
    for name, csv, pts in (("asc", asc_csv, asc), ("desc", desc_csv, desc)):
        res = _load(tmp, csv, f"{name}.gpkg")
        assert res["POINTS"] == 1600 and res["REFERENCE_DATE_USED"] == min(pts.dates).isoformat()
        loaded[name] = (res["OUTPUT"], pts)
    return loaded


def _gridding_bound(asc, desc, xc, yc):
    """Largest east and up error (mm/yr) that gridding can cause (see the test below)."""
    G = np.array([[asc.los[0, 0], asc.los[0, 2]], [desc.los[0, 0], desc.los[0, 2]]])
    # + the LOS components written to 4 decimals (5e-5 each) times the largest |e| + |u|
    los_rounding = 5e-5 * (np.abs(east(xc, yc)) + np.abs(up(xc, yc))).max()
    eps = np.array([(abs(lv[0]) * GRAD_E + abs(lv[2]) * GRAD_U) * CELL / 2 + 0.005
                    + los_rounding for lv in (asc.los[0], desc.los[0])])
    return np.abs(np.linalg.inv(G)) @ eps


def _check_east_up(east_path, up_path, asc, desc):
    info = raster_info(east_path)
    gt = info.geotransform
    col, row = np.meshgrid(np.arange(info.width) + 0.5, np.arange(info.height) + 0.5)
    xc, yc = gt[0] + col * gt[1], gt[3] + row * gt[5]
    bound = _gridding_bound(asc, desc, xc, yc)
    assert bound[0] < 0.75 and bound[1] < 0.55                    # the bound is informative
    err_e = np.abs(read_block(east_path) - east(xc, yc))
    err_u = np.abs(read_block(up_path) - up(xc, yc))
    assert err_e.max() <= bound[0] and err_u.max() <= bound[1]
    # the errors come from the spread of the points in the cells (the solve of cell-centre
    # values would be exact): a sizeable part of the bound
    assert err_e.max() > 0.05 * bound[0]
    return err_e.max(), err_u.max(), bound


def test_ascending_descending_points_grid_decompose(tracks, tmp_path):
    """Two tracks on different points and dates -> grids -> decompose: east and up at the
    cell centres within the derived gridding error.

    Bound: for a field linear in space, every point of a square cell of side c differs from
    the value at the centre by at most (|dd/dx| + |dd/dy|) c/2, and so does their median; the
    velocities are written to 0.01 mm/yr (+-0.005). For track k with LOS unit vector l_k
    (north motion zero) d_k = l_e e + l_u u, so eps_k = (|l_e| g_e + |l_u| g_u) c/2 + 0.005.
    The 2x2 solve maps these to |de| <= sum_k |G^-1|_ek eps_k and likewise for up (here
    0.73 and 0.53 mm/yr for east and up, velocities of 6..12 and -10..-6 mm/yr)."""
    grids = {}
    for name in ("asc", "desc"):
        outs = {k: str(tmp_path / f"{name}_{k.lower()}.tif")
                for k in ("OUTPUT", "COUNT", "LOS", "TIMESERIES")}
        params = {"INPUT": tracks[name][0], **outs}
        params.update({"REFERENCE_LAYER": grids["asc"]["OUTPUT"]} if name == "desc"
                      else {"CELL_SIZE": CELL})
        res = run_algorithm("displacement:points_to_grid", params)
        assert res["POINTS_USED"] == 1600 and res["CELLS"] == 64
        grids[name] = outs
    count = read_block(grids["desc"]["COUNT"])
    assert count.sum() == 1600 and count.min() >= 10
    info = raster_info(grids["asc"]["OUTPUT"])
    assert info.band_metadata[0]["units"] == "mm/yr" and info.width == info.height == 8
    assert raster_info(grids["asc"]["TIMESERIES"]).band_metadata[3]["date"] == \
        (D0 + dt.timedelta(days=36)).isoformat()
    out = {k: str(tmp_path / f"{k}.tif") for k in ("OUTPUT_EAST", "OUTPUT_UP")}
    run_algorithm("displacement:decompose", {
        "OBS_1": grids["asc"]["OUTPUT"], "OBS_2": grids["desc"]["OUTPUT"], "ANGLE_CONVENTION": 3,
        "INCIDENCE_1": grids["asc"]["LOS"], "HEADING_1": grids["asc"]["LOS"], "HEADING_BAND_1": 2,
        "INCIDENCE_2": grids["desc"]["LOS"], "HEADING_2": grids["desc"]["LOS"],
        "HEADING_BAND_2": 2, "COMPONENTS": 0, **out})
    _check_east_up(out["OUTPUT_EAST"], out["OUTPUT_UP"], tracks["asc"][1], tracks["desc"][1])


def test_graphical_model_points_to_east_up(tracks, tmp_path):
    """docs/models/points_decomposition.model3 (scripts/build_points_model.py) runs the same
    chain and recovers east and up within the same bound."""
    import importlib.util
    import sys

    from qgis.core import QgsProcessingModelAlgorithm

    from ..conftest import REPO

    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(REPO / "docs" / "models" / "points_decomposition.model3"))
    valid, issues = model.validate()
    assert valid, issues
    sys.path.insert(0, str(REPO / "scripts"))
    spec = importlib.util.spec_from_file_location("build_points_model",
                                                  REPO / "scripts" / "build_points_model.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    built = builder.build_model()
    for cid, child in built.childAlgorithms().items():
        assert sorted(child.parameterSources()) == \
            sorted(model.childAlgorithm(cid).parameterSources())
    outs = {"east": str(tmp_path / "east.tif"), "up": str(tmp_path / "up.tif")}
    params = {"asc_points": tracks["asc"][0], "desc_points": tracks["desc"][0],
              "cell_size": CELL, "min_points": 1}
    for p in model.parameterDefinitions():
        if p.isDestination():
            params[p.name()] = outs["east" if "east" in p.name() else "up"]
    run_algorithm(model, params)
    _check_east_up(outs["east"], outs["up"], tracks["asc"][1], tracks["desc"][1])


def test_gridded_time_series_into_timeseries_decompose(provider, tmp_path):
    """Linear series (no seasonal term) on different points and dates -> TIMESERIES and LOS
    grids -> timeseries_decompose: the cell median of v_i t is t median(v_i), so the east and up
    series grow at the decomposed cell velocity, within the velocity bound times the years."""
    grids = {}
    for name, inc, head, first, seed in (("asc", 39.0, -12.0, D0, 3),
                                         ("desc", 34.0, -168.0, D0 + dt.timedelta(days=5), 4)):
        csv, pts = _egms(tmp_path, f"EGMS_L2b_{seed:03d}_0001_IW1_VV_2019_2023_1.csv", inc,
                         head, first, seed, n=900, dates=20, seasonal=0.0)
        outs = {k: str(tmp_path / f"{name}_{k.lower()}.tif") for k in ("OUTPUT", "TIMESERIES",
                                                                       "LOS")}
        params = {"INPUT": _load(tmp_path, csv, f"{name}.gpkg")["OUTPUT"], **outs}
        params.update({"REFERENCE_LAYER": grids["asc"][0]["OUTPUT"]} if name == "desc"
                      else {"CELL_SIZE": CELL})
        run_algorithm("displacement:points_to_grid", params)
        grids[name] = (outs, pts)
    out = {k: str(tmp_path / f"ts_{k.lower()}.tif") for k in ("EAST", "UP")}
    res = run_algorithm("displacement:timeseries_decompose", {
        "TRACK_1": [grids["asc"][0]["TIMESERIES"]], "LOS_ENU_1": grids["asc"][0]["LOS"],
        "TRACK_2": [grids["desc"][0]["TIMESERIES"]], "LOS_ENU_2": grids["desc"][0]["LOS"],
        "SIGMA_EAST": None, "SIGMA_UP": None, **out})
    info = raster_info(out["EAST"])
    first = dt.date.fromisoformat(res["REFERENCE_DATE"])
    last = dt.date.fromisoformat(info.band_metadata[-1]["date"])
    years = (last - first).days / 365.25
    assert first == D0 + dt.timedelta(days=5) and years > 0.5
    gt = info.geotransform
    col, row = np.meshgrid(np.arange(info.width) + 0.5, np.arange(info.height) + 0.5)
    xc, yc = gt[0] + col * gt[1], gt[3] + row * gt[5]
    bound = _gridding_bound(grids["asc"][1], grids["desc"][1], xc, yc)
    # + the 0.01 mm rounding of the displacements (two values per date) through the solve
    G = np.array([[v.los[0, 0], v.los[0, 2]] for v in (grids["asc"][1], grids["desc"][1])])
    rounding = np.abs(np.linalg.inv(G)) @ np.array([0.01, 0.01])
    err_e = np.abs(read_block(out["EAST"], info.band_count) - east(xc, yc) * years)
    err_u = np.abs(read_block(out["UP"], info.band_count) - up(xc, yc) * years)
    assert err_e.max() <= bound[0] * years + rounding[0]
    assert err_u.max() <= bound[1] * years + rounding[1]


def test_gnss_comparison_points_at_pixel_centres_equal_the_raster(provider, tmp_path):
    from ..unit.test_gnss_comparison import Scene
    from ..processing.test_gnss_los_comparison_algorithm import _csv

    scene = Scene(tmp_path, lambda x, y: 0.005 + 1e-6 * (x - 500000) + 0.0 * y)
    values = read_block(scene.path)
    col, row = np.meshgrid(np.arange(120), np.arange(120))
    x, y = scene.gt[0] + (col.ravel() + 0.5) * 50, scene.gt[3] - (row.ravel() + 0.5) * 50
    with P.PointWriter(str(tmp_path / "ps.gpkg"), UTM33N, [("pid", "text"), ("velocity", "real")],
                       "points", {"velocity_units": "m/yr"}) as w:
        w.write(x, y, {"pid": [str(i) for i in range(x.size)],
                       "velocity": values.ravel().astype(np.float64)})
        points = w.commit()
    base = {"GNSS_FILE": _csv(scene, tmp_path / "gnss.csv"), "GNSS_UNITS": 2,
            "LOS_ENU": scene.geom, "SAMPLE_RADIUS": 60.0, "MIN_PIXELS": 1, "REFERENCE": 2}
    a = run_algorithm("displacement:gnss_los_comparison", {
        **base, "INSAR": scene.path, "OUTPUT": str(tmp_path / "a.gpkg")})
    b = run_algorithm("displacement:gnss_los_comparison", {
        **base, "INSAR_POINTS": points, "OUTPUT": str(tmp_path / "b.gpkg")})
    assert a["N"] == b["N"] == 12
    assert b["RMSE"] == pytest.approx(a["RMSE"], abs=1e-9) and b["BIAS"] == pytest.approx(
        a["BIAS"], abs=1e-9)
    na = P.PointLayer(str(tmp_path / "a.gpkg")).column("n_pixels")
    nb = P.PointLayer(str(tmp_path / "b.gpkg")).column("n_pixels")
    assert np.array_equal(na, nb) and na.min() >= 3
    with pytest.raises(QgsProcessingException, match="give InSAR either as rasters or"):
        run_algorithm("displacement:gnss_los_comparison", {
            **base, "INSAR": scene.path, "INSAR_POINTS": points, "OUTPUT": str(tmp_path / "c.gpkg")})


def test_gnss_timeseries_comparison_kilauea_points_equal_the_rasters(provider, tmp_path):
    """The real Kilauea series as points at the pixel centres (reference date 2016-07-11):
    the same stations, counts and statistics as the single-date rasters."""
    import glob
    import shutil

    from ..conftest import TEST_DATA

    data = tmp_path / "hawaii"
    shutil.copytree(TEST_DATA / "geepers_hawaii", data)
    rasters = sorted(glob.glob(str(data / "hawaii" / "displacement_*.tif")))
    tenv3 = sorted(glob.glob(str(data / "unr_tenv3" / "*.tenv3")))
    info = raster_info(rasters[0])
    gt = info.geotransform
    col, row = np.meshgrid(np.arange(info.width), np.arange(info.height))
    x, y = gt[0] + (col.ravel() + 0.5) * gt[1], gt[3] + (row.ravel() + 0.5) * gt[5]
    # only the pixels within 300 m of a station (the comparison uses 100 m)
    from displacement_toolkit.core.gnss import read_series
    from displacement_toolkit.core.raster_io import transform_xy, wgs84_wkt

    stations = read_series(tenv3)
    sx, sy = transform_xy([s.lon for s in stations], [s.lat for s in stations], wgs84_wkt(),
                          info.crs_wkt)
    near = np.zeros(x.size, bool)
    for a, b in zip(sx, sy):
        near |= np.hypot(x - a, y - b) <= 300.0
    keep = np.flatnonzero(near)
    days = [dt.date(2016, 7, 23), dt.date(2016, 8, 4), dt.date(2016, 8, 16),
            dt.date(2016, 9, 9), dt.date(2016, 9, 21)]
    fields = [("pid", "text")] + [(P.date_field(d), "real") for d in days]
    with P.PointWriter(str(tmp_path / "ps.gpkg"), info.crs_wkt, fields, "points",
                       {"units": "m", "reference_date": "2016-07-11"}) as w:
        w.write(x[keep], y[keep], {"pid": [str(i) for i in keep],
                                   **{P.date_field(d): read_block(p).ravel()[keep].astype(float)
                                      for d, p in zip(days, rasters)}})
        points = w.commit()
    base = {"GNSS_FILES": tenv3, "LOS_ENU": str(data / "hawaii" / "hawaii_los_enu.tif"),
            "REFERENCE": 2}
    a = run_algorithm("displacement:gnss_timeseries_comparison", {
        **base, "INSAR": rasters, "OUTPUT": str(tmp_path / "a.gpkg"),
        "OUTPUT_TABLE": str(tmp_path / "at.gpkg")})
    b = run_algorithm("displacement:gnss_timeseries_comparison", {
        **base, "INSAR_POINTS": points, "OUTPUT": str(tmp_path / "b.gpkg"),
        "OUTPUT_TABLE": str(tmp_path / "bt.gpkg")})
    assert a["N"] == b["N"] == 35 and b["REFERENCE_DATE"] == "2016-07-11"
    assert b["RMSE"] == pytest.approx(a["RMSE"], abs=1e-6)
    import sqlite3

    counts = [sqlite3.connect(str(tmp_path / f"{k}t.gpkg")).execute(
        f"SELECT station, date, n_pixels, insar_los FROM {k}t ORDER BY station, date").fetchall()
        for k in ("a", "b")]
    assert len(counts[0]) == 60 and [r[:3] for r in counts[0]] == [r[:3] for r in counts[1]]
    assert np.allclose([r[3] or 0 for r in counts[0]], [r[3] or 0 for r in counts[1]], atol=1e-9)
