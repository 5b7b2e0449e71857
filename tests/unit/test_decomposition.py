"""Decomposition of LOS / range offsets / azimuth offsets into east, north, up (core)."""

import numpy as np
import pytest

from displacement_toolkit.core import decomposition as d
from displacement_toolkit.core import geometry as g

from ..tile_tasks import tile_column_tasks

# Worked Sentinel-1 example, numbers from MintPy 1.6.4 (get_unit_vector4component_of_interest)
ASC_VEC = (-0.546973, -0.116263, 0.829038)   # theta 34, heading -12
DESC_VEC = (0.615568, -0.130843, 0.777146)   # theta 39, heading -168


def _s1_geometry(shape, seed=0):
    """Per-pixel Sentinel-1-like angles: incidence 30-46 deg across range, heading ~ -12 / -168."""
    rows, cols = shape
    rng = np.random.default_rng(seed)
    ramp = np.linspace(30.0, 46.0, cols)[None, :].repeat(rows, 0)
    asc_inc = ramp + rng.uniform(-0.2, 0.2, shape)
    desc_inc = ramp[:, ::-1] + rng.uniform(-0.2, 0.2, shape)
    asc_head = -12.0 + np.linspace(-0.6, 0.6, rows)[:, None] + 0 * ramp
    desc_head = -168.0 + np.linspace(0.6, -0.6, rows)[:, None] + 0 * ramp
    return asc_inc, asc_head, desc_inc, desc_head


def _enu_field(shape):
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols] / max(rows, cols)
    east = 0.03 * np.sin(3 * xx) * np.cos(2 * yy)
    north = 0.02 * np.cos(4 * xx + yy)
    up = -0.05 * np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * 8)
    return east, north, up


def _solve(kinds_angles, observations, model, sigma=None, azimuth=None, **kw):
    """Helper: unit vectors -> design matrix -> solve_wls on flattened pixels."""
    size = np.asarray(observations[0]).size
    vectors = [d.observation_unit_vector(kind, a, b) for kind, a, b in kinds_angles]
    U = d.stack_unit_vectors(vectors, size)
    G = d.design_matrix(U, d.component_basis(model, azimuth))
    y = np.stack([np.ravel(o) for o in observations], axis=1)
    s = None if sigma is None else np.stack(
        [np.broadcast_to(np.ravel(v), (size,)) for v in sigma], axis=1)
    return d.solve_wls(G, y, s, **kw)


# --- the worked example ---------------------------------------------------------------------

def test_worked_example_unit_vectors_and_los():
    asc = d.observation_unit_vector("los", 34.0, -12.0)
    desc = d.observation_unit_vector("los", 39.0, -168.0)
    assert asc == pytest.approx(ASC_VEC, abs=1e-6)
    assert desc == pytest.approx(DESC_VEC, abs=1e-6)
    enu = np.array([0.010, 0.0, -0.020])
    assert np.dot(asc, enu) == pytest.approx(-0.022050, abs=1e-6)
    assert np.dot(desc, enu) == pytest.approx(-0.009387, abs=1e-6)


def test_worked_example_east_up_solution_is_exact():
    res = _solve([("los", 34.0, -12.0), ("los", 39.0, -168.0)],
                 [np.array([np.dot(ASC_VEC, (0.010, 0, -0.020))]),
                  np.array([np.dot(DESC_VEC, (0.010, 0, -0.020))])], "east_up")
    # the MintPy unit vectors are rounded to 1e-6, so the inverse is exact to ~1e-8
    assert res.x[0] == pytest.approx([0.010, -0.020], abs=2e-8)
    # with our own unit vectors the round trip is exact to float64 precision
    los = [np.array([g.project_enu(0.010, 0.0, -0.020, g.los_unit_vector_from_heading(34, -12))]),
           np.array([g.project_enu(0.010, 0.0, -0.020, g.los_unit_vector_from_heading(39, -168))])]
    res = _solve([("los", 34.0, -12.0), ("los", 39.0, -168.0)], los, "east_up")
    assert res.x[0] == pytest.approx([0.010, -0.020], abs=1e-15)
    pair = np.array([ASC_VEC, DESC_VEC])[:, [0, 2]]
    assert res.condition[0] == pytest.approx(np.linalg.cond(pair), rel=1e-5)
    assert np.isnan(res.residual[0])  # not over-determined


def test_north_bias_of_the_east_up_model_matches_the_documented_formula():
    # bias b = G^-1 g_north from the MintPy unit vectors, computed independently here
    G = np.array([[ASC_VEC[0], ASC_VEC[2]], [DESC_VEC[0], DESC_VEC[2]]])
    b = np.linalg.solve(G, [ASC_VEC[1], DESC_VEC[1]])
    assert b == pytest.approx([-0.019372, -0.153019], abs=2e-6)  # the numbers in the docs
    north = 0.010
    truth = np.array([0.010, north, -0.020])
    res = _solve([("los", 34.0, -12.0), ("los", 39.0, -168.0)],
                 [np.array([np.dot(ASC_VEC, truth)]), np.array([np.dot(DESC_VEC, truth)])],
                 "east_up")
    assert res.x[0] - [0.010, -0.020] == pytest.approx(b * north, abs=1e-8)
    # 1 cm north -> -0.19 mm east, -1.53 mm up
    assert (res.x[0] - [0.010, -0.020]) * 1000 == pytest.approx([-0.194, -1.530], abs=1e-3)
    R = d.model_response(np.array([ASC_VEC, DESC_VEC]), d.component_basis("east_up"))
    assert R == pytest.approx(np.array([[1, b[0], 0], [0, b[1], 1]]), abs=1e-9)


# --- round trips on per-pixel Sentinel-1 geometry ---------------------------------------------

def test_round_trip_east_up_per_pixel_geometry():
    shape = (40, 60)
    ai, ah, di, dh = _s1_geometry(shape)
    east, _, up = _enu_field(shape)
    asc = g.project_enu(east, 0.0, up, g.los_unit_vector_from_heading(ai, ah))
    desc = g.project_enu(east, 0.0, up, g.los_unit_vector_from_heading(di, dh))
    res = _solve([("los", ai, ah), ("los", di, dh)], [asc, desc], "east_up")
    assert res.solved.all()
    assert res.x[:, 0].reshape(shape) == pytest.approx(east, abs=1e-15)
    assert res.x[:, 1].reshape(shape) == pytest.approx(up, abs=1e-15)


def test_round_trip_with_north_leaks_as_documented():
    shape = (20, 30)
    ai, ah, di, dh = _s1_geometry(shape)
    east, north, up = _enu_field(shape)
    va, vd = g.los_unit_vector_from_heading(ai, ah), g.los_unit_vector_from_heading(di, dh)
    res = _solve([("los", ai, ah), ("los", di, dh)],
                 [g.project_enu(east, north, up, va), g.project_enu(east, north, up, vd)], "east_up")
    # per pixel: estimate = truth + b * north, b = G^-1 g_north (2x2 solved with numpy)
    G = np.stack([np.stack([va[0], va[2]], -1), np.stack([vd[0], vd[2]], -1)], -2).reshape(-1, 2, 2)
    b = np.linalg.solve(G, np.stack([va[1], vd[1]], -1).reshape(-1, 2, 1))[..., 0]
    err = res.x - np.stack([east.ravel(), up.ravel()], 1)
    assert err == pytest.approx(b * north.reshape(-1, 1), abs=1e-15)
    assert np.abs(err[:, 1]).max() > 1e-3  # the bias is real: millimetres of fake uplift


def test_round_trip_east_north_up_from_los_and_azimuth_offset():
    shape = (20, 30)
    ai, ah, di, dh = _s1_geometry(shape)
    east, north, up = _enu_field(shape)
    asc = g.project_enu(east, north, up, g.los_unit_vector_from_heading(ai, ah))
    desc = g.project_enu(east, north, up, g.los_unit_vector_from_heading(di, dh))
    azi = g.project_enu(east, north, up, g.along_track_unit_vector(ah))  # positive along flight
    res = _solve([("los", ai, ah), ("los", di, dh), ("azimuth_offset", ai, ah)],
                 [asc, desc, azi], "east_north_up")
    assert res.solved.all()
    for j, truth in enumerate((east, north, up)):
        assert res.x[:, j].reshape(shape) == pytest.approx(truth, abs=1e-15)
    # asc LOS + desc LOS + asc range offset: the range offset is parallel to the asc LOS,
    # north is not resolved -> every pixel NaN, flagged ill-conditioned
    rng_a = -asc
    res2 = _solve([("los", ai, ah), ("los", di, dh), ("range_offset", ai, ah)],
                  [asc, desc, rng_a], "east_north_up")
    assert res2.ill_conditioned.all() and np.isnan(res2.x).all()
    assert np.isinf(res2.condition).all()


def test_los_only_cannot_give_north():
    with pytest.raises(ValueError, match="2 observations cannot determine 3"):
        _solve([("los", 34, -12), ("los", 39, -168)], [np.zeros(1), np.zeros(1)], "east_north_up")


def test_four_observations_range_and_azimuth_offsets():
    shape = (10, 12)
    ai, ah, di, dh = _s1_geometry(shape)
    east, north, up = _enu_field(shape)
    # range offsets: positive = range increase = away from the satellite
    rng_a = -g.project_enu(east, north, up, g.los_unit_vector_from_heading(ai, ah))
    rng_d = -g.project_enu(east, north, up, g.los_unit_vector_from_heading(di, dh))
    az_a = g.project_enu(east, north, up, g.along_track_unit_vector(ah))
    az_d = g.project_enu(east, north, up, g.along_track_unit_vector(dh))
    res = _solve([("range_offset", ai, ah), ("range_offset", di, dh),
                  ("azimuth_offset", ai, ah), ("azimuth_offset", di, dh)],
                 [rng_a, rng_d, az_a, az_d], "east_north_up")
    for j, truth in enumerate((east, north, up)):
        assert res.x[:, j].reshape(shape) == pytest.approx(truth, abs=1e-15)
    assert np.nanmax(res.residual) < 1e-15
    # subsidence of 1 m seen as range increase by both tracks
    r = _solve([("range_offset", 34, -12), ("range_offset", 39, -168)],
               [np.array([np.cos(np.radians(34))]), np.array([np.cos(np.radians(39))])], "east_up")
    assert r.x[0] == pytest.approx([0.0, -1.0], abs=1e-12)


def test_horizontal_along_azimuth_plus_up():
    shape = (8, 9)
    ai, ah, di, dh = _s1_geometry(shape)
    phi = 60.0  # clockwise from north
    hz = np.linspace(-0.02, 0.03, ai.size).reshape(shape)
    up = np.linspace(0.01, -0.04, ai.size).reshape(shape)
    e, n = hz * np.sin(np.radians(phi)), hz * np.cos(np.radians(phi))
    obs = [g.project_enu(e, n, up, g.los_unit_vector_from_heading(ai, ah)),
           g.project_enu(e, n, up, g.los_unit_vector_from_heading(di, dh))]
    res = _solve([("los", ai, ah), ("los", di, dh)], obs, "horizontal_up", azimuth=phi)
    assert res.x[:, 0] == pytest.approx(hz.ravel(), abs=1e-14)
    assert res.x[:, 1] == pytest.approx(up.ravel(), abs=1e-14)
    # azimuth 90 is east: the same as the east + up model
    assert d.component_basis("horizontal_up", 90.0) == pytest.approx(d.component_basis("east_up"))
    with pytest.raises(ValueError, match="horizontal azimuth"):
        d.component_basis("horizontal_up", None)


# --- angle conventions ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", d.KINDS)
@pytest.mark.parametrize("look", ["right", "left"])
def test_every_convention_gives_the_same_unit_vector(kind, look):
    inc, head = np.array([31.0, 38.5, 45.0]), np.array([-12.0, -168.0, -190.0])
    ref = np.array(d.observation_unit_vector(kind, inc, head, "heading", look))
    alpha = g.heading_to_los_azimuth(head, look)
    got = d.observation_unit_vector(kind, inc, alpha, "los_azimuth", look)
    assert np.array(got) == pytest.approx(ref, abs=1e-12)
    e, n, u = g.los_unit_vector(inc, alpha)
    lv_theta, lv_phi = np.arctan2(u, np.hypot(e, n)), np.arctan2(n, e)
    assert np.array(d.observation_unit_vector(kind, lv_theta, lv_phi, "hyp3", look)) == \
        pytest.approx(ref, abs=1e-12)
    assert np.array(d.observation_unit_vector(kind, e, n, "unit_vector", look)) == \
        pytest.approx(ref, abs=1e-12)


def test_mintpy_los_azimuth_pins_the_worked_example():
    # ISCE2/MintPy: asc azimuthAngle 102, desc -102
    assert d.observation_unit_vector("los", 34.0, 102.0, "los_azimuth") == pytest.approx(ASC_VEC, abs=1e-6)
    assert d.observation_unit_vector("los", 39.0, -102.0, "los_azimuth") == pytest.approx(DESC_VEC, abs=1e-6)
    assert d.observation_unit_vector("azimuth_offset", 34.0, 102.0, "los_azimuth") == pytest.approx(
        (np.sin(np.radians(-12)), np.cos(np.radians(-12)), 0.0), abs=1e-12)
    # azimuth offsets need no incidence (the algorithm passes 0) except for unit vectors
    along = (np.sin(np.radians(-12)), np.cos(np.radians(-12)), 0.0)
    assert d.observation_unit_vector("azimuth_offset", 0.0, 102.0, "los_azimuth") == pytest.approx(along)
    assert d.observation_unit_vector("azimuth_offset", 0.0, np.radians(192.0), "hyp3") == pytest.approx(along)
    with pytest.raises(ValueError, match="unknown angle convention"):
        d.observation_unit_vector("los", 34, 102, "degrees")
    with pytest.raises(ValueError, match="unknown observation kind"):
        d.observation_unit_vector("phase", 34, 102)


# --- masking, conditioning, uncertainty --------------------------------------------------------

def test_nan_in_one_observation_masks_only_that_pixel():
    shape = (6, 7)
    ai, ah, di, dh = _s1_geometry(shape)
    east, _, up = _enu_field(shape)
    asc = g.project_enu(east, 0, up, g.los_unit_vector_from_heading(ai, ah))
    desc = g.project_enu(east, 0, up, g.los_unit_vector_from_heading(di, dh))
    asc[2, 3] = np.nan
    ai[4, 4] = np.nan  # a missing angle too
    res = _solve([("los", ai, ah), ("los", di, dh)], [asc, desc], "east_up")
    assert res.missing.sum() == 2
    assert np.isnan(res.x.reshape(*shape, 2)[2, 3]).all()
    assert np.isnan(res.x.reshape(*shape, 2)[4, 4]).all()
    ok = res.solved.reshape(shape)
    assert res.x[:, 0].reshape(shape)[ok] == pytest.approx(east[ok], abs=1e-15)


def test_partial_solves_each_pixel_with_the_observations_it_has():
    shape = (5, 6)
    ai, ah, di, dh = _s1_geometry(shape)
    east, north, up = _enu_field(shape)
    vec_a = g.los_unit_vector_from_heading(ai, ah)
    vec_d = g.los_unit_vector_from_heading(di, dh)
    vec_a2 = g.los_unit_vector_from_heading(ai + 8.0, ah - 1.0)        # a second ascending track
    asc, desc, asc2 = (g.project_enu(east, 0, up, v) for v in (vec_a, vec_d, vec_a2))
    asc2[:, 3:] = np.nan          # the third track does not reach the right half
    desc[4, 0] = np.nan           # asc + asc2 only: nearly parallel -> ill-conditioned
    asc[4, 5] = np.nan            # desc only: too few
    geo = [("los", ai, ah), ("los", di, dh), ("los", ai + 8.0, ah - 1.0)]
    strict = _solve(geo, [asc, desc, asc2], "east_up")
    assert strict.solved.reshape(shape)[:, 3:].sum() == 0 and strict.solved.sum() == 14
    res = _solve(geo, [asc, desc, asc2], "east_up", partial=True)
    used = res.used.reshape(shape)
    assert (used[:4, :3] == 3).all() and (used[:4, 3:] == 2).all() and (used[4, 1:5] == [3, 3, 2, 2]).all()
    assert used[4, 0] == 0 and res.ill_conditioned.reshape(shape)[4, 0]
    assert used[4, 5] == 0 and res.missing.reshape(shape)[4, 5]
    ok = res.solved.reshape(shape)
    assert ok.sum() == 28
    x = res.x.reshape(*shape, 2)
    assert x[..., 0][ok] == pytest.approx(east[ok], abs=1e-15)
    assert x[..., 1][ok] == pytest.approx(up[ok], abs=1e-15)
    # the pixels with all three observations are solved exactly as without partial
    both = strict.solved
    assert res.x[both] == pytest.approx(strict.x[both], abs=1e-15)
    assert res.sigma[both] == pytest.approx(strict.sigma[both], rel=1e-12)
    # with two observations: the pair's own sigma (larger) and no residual
    pair = _solve(geo[:2], [asc, desc], "east_up")
    two = (res.used == 2)
    assert res.sigma[two] == pytest.approx(pair.sigma[two], rel=1e-12)
    assert (res.sigma[two] > 1.01 * _solve(geo, [asc, desc, g.project_enu(east, 0, up, vec_a2)],
                                           "east_up").sigma[two]).all()
    assert np.isnan(res.residual[two]).all() and np.isfinite(res.residual[res.used == 3]).all()


def test_partial_weighted_matches_the_subset_solution():
    rng = np.random.default_rng(5)
    P = 50
    geo = [("los", 34.0, -12.0), ("los", 39.0, -168.0), ("azimuth_offset", 34.0, -12.0),
           ("range_offset", 39.0, -168.0)]
    truth = rng.normal(0, 0.02, (P, 3))
    vecs = np.array([d.observation_unit_vector(*k) for k in geo])
    y = truth @ vecs.T + rng.normal(0, 0.003, (P, 4))
    sig = np.array([0.005, 0.006, 0.02, 0.01])
    y[:25, 3] = np.nan                                    # range offsets on half the pixels
    res = _solve(geo, list(y.T), "east_north_up", sigma=list(sig), partial=True)
    sub = _solve(geo[:3], [y[:, k] for k in range(3)], "east_north_up", sigma=list(sig[:3]))
    full = _solve(geo, list(y.T), "east_north_up", sigma=list(sig))
    assert (res.used[:25] == 3).all() and (res.used[25:] == 4).all()
    assert res.x[:25] == pytest.approx(sub.x[:25], rel=1e-10, abs=1e-14)
    assert res.sigma[:25] == pytest.approx(sub.sigma[:25], rel=1e-10)
    assert res.x[25:] == pytest.approx(full.x[25:], rel=1e-10, abs=1e-14)
    assert res.residual[25:] == pytest.approx(full.residual[25:], rel=1e-10)
    assert np.isnan(res.residual[:25]).all()              # 3 observations, 3 components


def test_two_ascending_tracks_are_ill_conditioned_nan_not_garbage():
    inc = np.array([34.0, 36.0])
    res = _solve([("los", inc, -12.0), ("los", inc + 10.0, -12.5)],
                 [np.array([0.01, 0.01]), np.array([0.012, 0.02])], "east_up")
    assert res.ill_conditioned.all()
    assert np.isnan(res.x).all() and np.isnan(res.sigma).all()
    assert (res.condition > d.DEFAULT_MAX_CONDITION).all()
    # the threshold is a parameter
    res = _solve([("los", inc, -12.0), ("los", inc + 10.0, -12.5)],
                 [np.array([0.01, 0.01]), np.array([0.012, 0.02])], "east_up", max_condition=1e3)
    assert np.isfinite(res.x).all()


def test_condition_number_and_inverse_match_numpy():
    rng = np.random.default_rng(3)
    for n, m in ((2, 2), (3, 2), (3, 3), (4, 3)):
        G = rng.normal(size=(200, n, m))
        assert d.condition_number(G) == pytest.approx(np.linalg.cond(G), rel=1e-7)
        N = np.swapaxes(G, 1, 2) @ G
        inv, det = d._inverse_symmetric(N)
        assert inv == pytest.approx(np.linalg.inv(N), rel=1e-8, abs=1e-10)
        assert det == pytest.approx(np.linalg.det(N), rel=1e-9)


def test_weighted_residual_by_hand():
    # three LOS observations for east + up; one inconsistent by 3 mm
    vec = [g.los_unit_vector_from_heading(34, -12), g.los_unit_vector_from_heading(39, -168),
           g.los_unit_vector_from_heading(44, -12)]
    y = np.array([[g.project_enu(0.01, 0, -0.02, v) for v in vec]])
    y[0, 2] += 0.003
    sigma = np.array([0.001, 0.002, 0.004])
    G = np.array([[[v[0], v[2]] for v in vec]])
    res = d.solve_wls(G, y, sigma)
    W = np.diag(1 / sigma ** 2)
    x = np.linalg.solve(G[0].T @ W @ G[0], G[0].T @ W @ y[0])
    r = y[0] - G[0] @ x
    assert res.x[0] == pytest.approx(x, abs=1e-14)
    assert res.residual[0] == pytest.approx(np.sqrt(np.sum(r ** 2 / sigma ** 2) / np.sum(1 / sigma ** 2)),
                                            rel=1e-12)
    assert res.sigma[0] == pytest.approx(np.sqrt(np.diag(np.linalg.inv(G[0].T @ W @ G[0]))), rel=1e-12)


def test_sigma_propagation_matches_monte_carlo():
    rng = np.random.default_rng(42)
    trials = 40000
    kinds = [("los", 34.0, -12.0), ("los", 39.0, -168.0), ("azimuth_offset", 34.0, -12.0),
             ("los", 44.0, -168.0)]
    sig = np.array([0.004, 0.006, 0.05, 0.008])
    truth = np.array([0.2, -0.5, -0.8])
    vecs = np.array([d.observation_unit_vector(*k) for k in kinds])
    clean = vecs @ truth
    noisy = clean[None, :] + rng.normal(size=(trials, 4)) * sig
    res = _solve(kinds, [noisy[:, k] for k in range(4)], "east_north_up",
                 sigma=[np.full(trials, s) for s in sig])
    assert res.solved.all()
    mc_std = res.x.std(axis=0)
    assert res.x.mean(axis=0) == pytest.approx(truth, abs=4 * mc_std.max() / np.sqrt(trials))
    # standard error of a std estimate ~ 1/sqrt(2 trials) = 0.35 %
    assert mc_std == pytest.approx(res.sigma[0], rel=0.015)
    # and the weighted residual has the expected size: E[chi2] = n - m
    chi2 = np.sum(((noisy - res.x @ vecs.T) / sig) ** 2, axis=1)
    assert chi2.mean() == pytest.approx(1.0, rel=0.03)


def test_bad_sigma_counts_as_missing():
    res = _solve([("los", 34.0, -12.0), ("los", 39.0, -168.0)],
                 [np.array([0.01, 0.02, 0.0]), np.array([0.0, 0.01, 0.01])], "east_up",
                 sigma=[np.array([0.001, 0.0, np.nan]), np.array([0.002, 0.002, 0.002])])
    assert res.missing.tolist() == [False, True, True]
    assert np.isfinite(res.x[0]).all()


# --- rasters: grids, units, masking (core.decompose on GeoTIFFs) ---------------------------------

from osgeo import osr  # noqa: E402

from displacement_toolkit.core.raster_io import crs_from_epsg, read_block, write_array  # noqa: E402

UTM33, UTM34 = crs_from_epsg(32633), crs_from_epsg(32634)
X0, Y0 = 700000.0, 5000000.0


def _truth(x, y):
    """A linear ENU field of map coordinates (UTM 33N, metres) -> metres."""
    east = 0.010 + 2e-6 * (x - X0) - 1e-6 * (y - Y0)
    north = -0.004 + 1e-6 * (x - X0)
    up = -0.020 + 1.5e-6 * (y - Y0) + 0.5e-6 * (x - X0)
    return east, north, up


def _centres(gt, shape):
    rows, cols = shape
    c, r = np.meshgrid(np.arange(cols) + 0.5, np.arange(rows) + 0.5)
    return gt[0] + c * gt[1], gt[3] + r * gt[5]


def _los_raster(tmp_path, name, gt, shape, inc, head, kind="los", crs=UTM33, units="m",
                north=True, to_utm33=None):
    x, y = _centres(gt, shape)
    if to_utm33 is not None:
        x, y = to_utm33(x, y)
    e, n, u = _truth(x, y)
    if not north:
        n = 0.0 * n
    vec = d.observation_unit_vector(kind, inc, head)
    values = (e * vec[0] + n * vec[1] + u * vec[2]).astype(np.float32)
    path = str(tmp_path / name)
    write_array(path, values, gt, crs, band_metadata=[{"units": units}] if units else None)
    return path, values


def _read(path, band=1):
    return read_block(path, band).astype(np.float64)


def test_rasters_round_trip_on_grids_differing_by_rounding(tmp_path):
    shape = (30, 40)
    gt_a = (X0, 30.0, 0.0, Y0, 0.0, -30.0)
    gt_d = (X0 + 1e-9, 30.0 * (1 + 1e-12), 0.0, Y0, 0.0, -30.0 * (1 - 1e-12))
    inc_a = np.linspace(30, 46, 40)[None].repeat(30, 0).astype(np.float32)
    inc_path = str(tmp_path / "inc_asc.tif")
    write_array(inc_path, inc_a, gt_a, UTM33)
    asc, _ = _los_raster(tmp_path, "asc.tif", gt_a, shape, inc_a.astype(np.float64), -12.0, north=False)
    desc, _ = _los_raster(tmp_path, "desc.tif", gt_d, shape, 39.0, -168.0, north=False)
    obs = [d.Observation(asc, kind="los", incidence=inc_path, heading=-12.0, name="OBS_1"),
           d.Observation(desc, kind="los", incidence=39.0, heading=-168.0, name="OBS_2")]
    out = {"east": str(tmp_path / "e.tif"), "up": str(tmp_path / "u.tif"),
           "north": str(tmp_path / "n.tif"), "sigma": str(tmp_path / "s.tif"),
           "residual": str(tmp_path / "r.tif")}
    s = d.decompose(obs, out, "east_up")
    assert (s.grid.width, s.grid.height) == (40, 30) and s.solved == 1200 and s.units == "m"
    assert set(s.outputs) == {"east", "up", "sigma"}  # north not in the model, residual n == m
    x, y = _centres(s.grid.geotransform, shape)
    e, _, u = _truth(x, y)
    assert _read(s.outputs["east"]) == pytest.approx(e, abs=2e-8)  # float32 inputs
    assert _read(s.outputs["up"]) == pytest.approx(u, abs=2e-8)
    from displacement_toolkit.core.raster_io import raster_info
    info = raster_info(s.outputs["up"])
    assert info.band_metadata[0]["units"] == "m" and info.band_metadata[0]["quantity"] == "up_displacement"
    assert raster_info(s.outputs["sigma"]).band_count == 2
    assert raster_info(s.outputs["sigma"]).band_metadata[0]["units"] == "1"  # no sigma given


def test_rasters_in_different_utm_zones_partial_overlap_three_observations(tmp_path):
    # around 18 E (the 33/34 boundary), 45 N
    geo = osr.SpatialReference()
    geo.ImportFromEPSG(4326)
    geo.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    s33, s34 = (osr.SpatialReference(wkt=w) for w in (UTM33, UTM34))
    for s_ in (s33, s34):
        s_.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    to33 = osr.CoordinateTransformation(geo, s33).TransformPoint(18.0, 45.0)
    to34 = osr.CoordinateTransformation(geo, s34).TransformPoint(18.0, 45.0)
    t34_33 = osr.CoordinateTransformation(s34, s33)

    def to_utm33(x, y):
        pts = np.array(t34_33.TransformPoints(np.column_stack([x.ravel(), y.ravel()])))
        return pts[:, 0].reshape(x.shape), pts[:, 1].reshape(x.shape)

    global X0, Y0
    saved = (X0, Y0)
    X0, Y0 = round(to33[0], -2), round(to33[1], -2)
    try:
        shape = (24, 30)
        gt_a = (X0 - 1500.0, 100.0, 0.0, Y0 + 1200.0, 0.0, -100.0)
        gt_az = (X0 - 500.0, 100.0, 0.0, Y0 + 1200.0, 0.0, -100.0)  # partial overlap (shifted)
        x34, y34 = round(to34[0], -2), round(to34[1], -2)
        gt_d = (x34 - 1500.0, 100.0, 0.0, y34 + 1200.0, 0.0, -100.0)
        asc, _ = _los_raster(tmp_path, "asc.tif", gt_a, shape, 34.0, -12.0)
        azi, _ = _los_raster(tmp_path, "az.tif", gt_az, shape, 34.0, -12.0, kind="azimuth_offset")
        desc, _ = _los_raster(tmp_path, "desc.tif", gt_d, shape, 39.0, -168.0, crs=UTM34,
                              to_utm33=to_utm33)
        obs = [d.Observation(asc, incidence=34.0, heading=-12.0, name="OBS_1"),
               d.Observation(desc, incidence=39.0, heading=-168.0, name="OBS_2"),
               d.Observation(azi, kind="azimuth_offset", heading=-12.0, name="OBS_3")]
        out = {k: str(tmp_path / f"{k}.tif") for k in ("east", "north", "up", "residual")}
        s = d.decompose(obs, out, "east_north_up")
        assert s.grid.width == 20  # intersection of the shifted footprints (30 - 10 columns)
        assert s.missing > 0 and s.solved > 0.5 * s.pixels  # the warped edge of zone 34 is NaN
        x, y = _centres(s.grid.geotransform, s.grid.shape)
        truth = _truth(x, y)
        for key, t in zip(("east", "north", "up"), truth):
            got = _read(s.outputs[key])
            ok = np.isfinite(got)
            assert ok.sum() == s.solved
            # bilinear across UTM zones; GDAL's warper uses its approximate transformer
            # (error up to 0.125 pixel = 12.5 m, i.e. 2.5e-5 m of this field's 2e-6 m/m gradient)
            assert got[ok] == pytest.approx(t[ok], abs=3e-5)
        assert "residual" not in s.outputs  # 3 observations, 3 components: nothing to misfit
        assert any("not over-determined" in note for note in s.notes)
    finally:
        X0, Y0 = saved


def test_rasters_differing_in_resolution_and_extent_four_observations_with_sigma(tmp_path):
    # pixel edges on multiples of 60 m, so 'coarsest' is a clean 2 x 2 average
    fine = (702000.0, 30.0, 0.0, 5000040.0, 0.0, -30.0)
    coarse = (702060.0, 60.0, 0.0, 4999980.0, 0.0, -60.0)
    a, _ = _los_raster(tmp_path, "a.tif", fine, (40, 40), 34.0, -12.0)
    b, _ = _los_raster(tmp_path, "b.tif", coarse, (16, 16), 39.0, -168.0)
    c, _ = _los_raster(tmp_path, "c.tif", fine, (40, 40), 34.0, -12.0, kind="azimuth_offset")
    dd, _ = _los_raster(tmp_path, "d.tif", coarse, (16, 16), 39.0, -168.0, kind="range_offset")
    sig_path = str(tmp_path / "sig.tif")
    write_array(sig_path, np.full((16, 16), 0.02, np.float32), coarse, UTM33,
                band_metadata=[{"units": "m"}])
    obs = [d.Observation(a, incidence=34.0, heading=-12.0, sigma=0.005),
           d.Observation(b, incidence=39.0, heading=-168.0, sigma=0.006),
           d.Observation(c, kind="azimuth_offset", heading=-12.0, sigma=sig_path),
           d.Observation(dd, kind="range_offset", incidence=39.0, heading=-168.0, sigma=0.01)]
    out = {k: str(tmp_path / f"{k}.tif") for k in ("east", "north", "up", "sigma")}
    s = d.decompose(obs, out, "east_north_up", grid="coarsest")
    assert s.grid.resolution == (60.0, 60.0)
    assert s.grid.extent == (702060.0, 4999020.0, 703020.0, 4999980.0)
    x, y = _centres(s.grid.geotransform, s.grid.shape)
    for key, t in zip(("east", "north", "up"), _truth(x, y)):
        assert _read(s.outputs[key]) == pytest.approx(t, abs=1e-7)  # 2x2 average of a linear field
    vecs = np.array([d.observation_unit_vector(*k) for k in
                     (("los", 34, -12), ("los", 39, -168), ("azimuth_offset", 34, -12),
                      ("range_offset", 39, -168))])
    W = np.diag(1 / np.array([0.005, 0.006, 0.02, 0.01]) ** 2)
    expected = np.sqrt(np.diag(np.linalg.inv(vecs.T @ W @ vecs)))
    for j in range(3):
        assert _read(s.outputs["sigma"], j + 1) == pytest.approx(expected[j], rel=1e-6)


def test_units_mismatch_is_an_error(tmp_path):
    gt = (X0, 30.0, 0.0, Y0, 0.0, -30.0)
    a, _ = _los_raster(tmp_path, "a.tif", gt, (5, 5), 34.0, -12.0, units="m")
    b, _ = _los_raster(tmp_path, "b.tif", gt, (5, 5), 39.0, -168.0, units="mm")
    obs = [d.Observation(a, incidence=34.0, heading=-12.0, name="OBS_1"),
           d.Observation(b, incidence=39.0, heading=-168.0, name="OBS_2")]
    with pytest.raises(ValueError, match="do not share one unit.*OBS_1 in m, OBS_2 in mm"):
        d.decompose(obs, {"east": str(tmp_path / "e.tif")})
    assert not (tmp_path / "e.tif").exists()
    c, _ = _los_raster(tmp_path, "c.tif", gt, (5, 5), 39.0, -168.0, units="rad")
    obs[1] = d.Observation(c, incidence=39.0, heading=-168.0, name="OBS_2")
    with pytest.raises(ValueError, match="not a length or velocity"):
        d.decompose(obs, {"east": str(tmp_path / "e.tif")})
    obs[1] = d.Observation(a, incidence=39.0, heading=-168.0, name="OBS_2", sigma=0.01)
    with pytest.raises(ValueError, match="sigma is given for some observations but not for OBS_1"):
        d.decompose(obs, {"east": str(tmp_path / "e.tif")})


def test_nan_and_ill_conditioned_pixels_are_nan_and_counted(tmp_path):
    gt = (X0, 30.0, 0.0, Y0, 0.0, -30.0)
    a, va = _los_raster(tmp_path, "a.tif", gt, (6, 8), 34.0, -12.0, north=False)
    va[1, 2] = np.nan
    write_array(a, va, gt, UTM33, band_metadata=[{"units": "m"}])
    # second track: descending on the left half, a second ascending track on the right half
    head = np.where(np.arange(8)[None] < 4, -168.0, -13.0).repeat(6, 0)
    inc = np.where(np.arange(8)[None] < 4, 39.0, 42.0).repeat(6, 0)
    x, y = _centres(gt, (6, 8))
    e, _, u = _truth(x, y)
    vec = d.observation_unit_vector("los", inc, head)
    b = str(tmp_path / "b.tif")
    write_array(b, (e * vec[0] + u * vec[2]).astype(np.float32), gt, UTM33, band_metadata=[{"units": "m"}])
    hp, ip = str(tmp_path / "head.tif"), str(tmp_path / "inc.tif")
    write_array(hp, head.astype(np.float32), gt, UTM33)
    write_array(ip, inc.astype(np.float32), gt, UTM33)
    obs = [d.Observation(a, incidence=34.0, heading=-12.0), d.Observation(b, incidence=ip, heading=hp)]
    s = d.decompose(obs, {"up": str(tmp_path / "u.tif")})
    assert (s.missing, s.ill_conditioned, s.solved) == (1, 24, 23)
    got = _read(s.outputs["up"])
    assert np.isnan(got[:, 4:]).all() and np.isnan(got[1, 2])
    ok = np.isfinite(got)
    assert got[ok] == pytest.approx(u[ok], abs=2e-8)
    # only nearly parallel geometries: a clear error, nothing written
    obs = [d.Observation(a, incidence=34.0, heading=-12.0), d.Observation(b, incidence=42.0, heading=-13.0)]
    with pytest.raises(ValueError, match="no pixel could be solved.*nearly parallel"):
        d.decompose(obs, {"up": str(tmp_path / "u2.tif")})
    assert not (tmp_path / "u2.tif").exists()


def test_custom_grid_in_metres_on_another_crs(tmp_path):
    gt = (702000.0, 30.0, 0.0, 5000040.0, 0.0, -30.0)
    a, _ = _los_raster(tmp_path, "a.tif", gt, (40, 40), 34.0, -12.0, north=False)
    b, _ = _los_raster(tmp_path, "b.tif", gt, (40, 40), 39.0, -168.0, north=False)
    obs = [d.Observation(a, incidence=34.0, heading=-12.0), d.Observation(b, incidence=39.0, heading=-168.0)]
    s = d.decompose(obs, {"up": str(tmp_path / "u.tif")}, grid="custom", grid_resolution_m=90.0)
    assert s.grid.resolution == (90.0, 90.0)
    x, y = _centres(s.grid.geotransform, s.grid.shape)
    got = _read(s.outputs["up"])
    assert got.shape == (14, 14) and np.isfinite(got).all()  # 1200 m / 90 m, outward
    # the last row and column are only partly covered (averages of fewer source pixels);
    # the others are full 3 x 3 averages of the linear field = its value at the centre
    assert got[:-1, :-1] == pytest.approx(_truth(x, y)[2][:-1, :-1], abs=1e-7)
    with pytest.raises(ValueError, match="custom grid needs a positive resolution"):
        d.decompose(obs, {"up": str(tmp_path / "u2.tif")}, grid="custom")
    # geographic target CRS, metres converted at the centre latitude
    s = d.decompose(obs, {"up": str(tmp_path / "u3.tif")}, grid="custom", grid_resolution_m=90.0,
                    grid_crs_wkt=crs_from_epsg(4326))
    assert s.grid.is_geographic() and s.grid.resolution[1] == pytest.approx(90.0 / 111195.08, rel=1e-5)
    assert s.solved > 0


def test_coverage_any_solves_the_union_with_the_observations_each_pixel_has(tmp_path):
    shape = (8, 30)
    gt = {k: (X0 + dx, 100.0, 0.0, Y0, 0.0, -100.0) for k, dx in (("a2", 0.0), ("a", 1000.0),
                                                                     ("d", 2000.0))}
    a2, _ = _los_raster(tmp_path, "a2.tif", gt["a2"], shape, 42.0, -13.0, north=False)
    a, _ = _los_raster(tmp_path, "a.tif", gt["a"], shape, 34.0, -12.0, north=False)
    dd, _ = _los_raster(tmp_path, "d.tif", gt["d"], shape, 39.0, -168.0, north=False)
    obs = [d.Observation(a, incidence=34.0, heading=-12.0, name="OBS_1"),
           d.Observation(dd, incidence=39.0, heading=-168.0, name="OBS_2"),
           d.Observation(a2, incidence=42.0, heading=-13.0, name="OBS_3")]
    keys = ("east", "up", "sigma", "residual", "count")
    strict = d.decompose(obs, {k: str(tmp_path / f"s_{k}.tif") for k in keys})
    assert strict.grid.width == 10 and strict.solved == 80 and strict.partial == 0
    res = d.decompose(obs, {k: str(tmp_path / f"{k}.tif") for k in keys}, coverage="any")
    # union of the footprints: columns 0-9 OBS_3 only, 10-19 the two ascending tracks (parallel),
    # 20-29 all three, 30-39 ascending + descending, 40-49 descending only
    assert res.grid.width == 50 and res.grid.geotransform[0] == X0
    assert (res.solved, res.partial, res.missing, res.ill_conditioned) == (160, 80, 160, 80)
    count = _read(res.outputs["count"])
    assert (count[:, 20:30] == 3).all() and (count[:, 30:40] == 2).all()
    assert np.isnan(count[:, :20]).all() and np.isnan(count[:, 40:]).all()
    x, y = _centres(res.grid.geotransform, res.grid.shape)
    e, _, u = _truth(x, y)
    for key, t in (("east", e), ("up", u)):
        got = _read(res.outputs[key])
        assert np.isnan(got[:, :20]).all() and np.isnan(got[:, 40:]).all()
        assert got[:, 20:40] == pytest.approx(t[:, 20:40], abs=2e-8)
        # where all three observations exist, the same as the strict run
        assert got[:, 20:30] == pytest.approx(_read(strict.outputs[key]), abs=1e-9)
    residual = _read(res.outputs["residual"])
    assert np.isfinite(residual[:, 20:30]).all() and np.isnan(residual[:, 30:40]).all()
    sigma_up = _read(res.outputs["sigma"], 2)
    assert (sigma_up[:, 30:40] > sigma_up[:, 20:30].max()).all()   # fewer observations
    from displacement_toolkit.core.raster_io import raster_info
    assert raster_info(res.outputs["up"]).metadata["coverage"] == "any"
    with pytest.raises(ValueError, match="coverage"):
        d.decompose(obs, {"up": str(tmp_path / "x.tif")}, coverage="some")
    assert not (tmp_path / "x.tif").exists()


@pytest.mark.parametrize("threads", [1, 2])
def test_grid_too_wide_for_a_row_of_tiles_goes_in_tiles_of_columns(tmp_path, monkeypatch, threads):
    """A grid so wide that one row of tiles exceeds two task budgets (a continental grid) is
    cut in tasks of 256 x 256 pixels, which still compress their outputs: the same outputs as
    full-width tasks, bit for bit, and the truth of a linear field, with a per-pixel incidence
    resampled onto a shifted grid."""
    from displacement_toolkit.core import execution as X
    from displacement_toolkit.core.raster_io import raster_info

    shape = (300, 700)
    gt_a = (X0, 30.0, 0.0, Y0, 0.0, -30.0)
    gt_d = (X0 + 10.0, 30.0, 0.0, Y0 - 10.0, 0.0, -30.0)
    inc_a = np.linspace(30, 46, shape[1])[None].repeat(shape[0], 0).astype(np.float32)
    inc_path = str(tmp_path / "inc_asc.tif")
    write_array(inc_path, inc_a, gt_a, UTM33)
    asc, _ = _los_raster(tmp_path, "asc.tif", gt_a, shape, inc_a.astype(np.float64), -12.0,
                         north=False)
    desc, _ = _los_raster(tmp_path, "desc.tif", gt_d, shape, 39.0, -168.0, north=False)
    obs = [d.Observation(asc, incidence=inc_path, heading=-12.0, sigma=0.003),
           d.Observation(desc, incidence=39.0, heading=-168.0, sigma=0.004)]
    windows, packed, small_budget = tile_column_tasks(monkeypatch)
    runs = {}
    for name, cut in (("columns", small_budget), ("rows", X.task_windows)):
        monkeypatch.setattr(d, "task_windows", cut)
        out = {k: str(tmp_path / f"{name}_{k}.tif") for k in ("east", "up", "sigma")}
        runs[name] = d.decompose(obs, out, "east_up", engine=X.LocalEngine(threads))
    assert windows[0] == [(r, min(256, 300 - r), c, min(256, 700 - c))
                          for r in (0, 256) for c in (0, 256, 512)]
    # every block compressed in its task (the full-width run: one block at (0, 0))
    assert set(packed) == {(r, c) for r in (0, 256) for c in (0, 256, 512)}
    for key in ("east", "up", "sigma"):
        a, b = runs["columns"].outputs[key], runs["rows"].outputs[key]
        for band in range(1, raster_info(a).band_count + 1):
            assert np.array_equal(read_block(a, band), read_block(b, band), equal_nan=True)
    for key, bands in runs["rows"].stats.items():   # summed over other blocks: same to rounding
        for cut, whole in zip(runs["columns"].stats[key], bands):
            assert [cut[k] for k in ("valid", "min", "max")] == \
                [whole[k] for k in ("valid", "min", "max")]
            assert cut["mean"] == pytest.approx(whole["mean"], rel=1e-12)
            assert cut["std"] == pytest.approx(whole["std"], rel=1e-9)
    x, y = _centres(runs["columns"].grid.geotransform, runs["columns"].grid.shape)
    e, _, u = _truth(x, y)
    east, up = _read(runs["columns"].outputs["east"]), _read(runs["columns"].outputs["up"])
    inner = np.isfinite(east)
    inner[0], inner[:, 0], inner[-1], inner[:, -1] = False, False, False, False   # the edges
    assert inner.mean() > 0.95                  # resample the shifted track from one side only
    assert east[inner] == pytest.approx(e[inner], abs=3e-7)   # bilinear of a linear field
    assert up[inner] == pytest.approx(u[inner], abs=3e-7)
