"""Angle conventions, pinned by the worked Sentinel-1 example (MintPy 1.6.4 values)."""

import numpy as np
import pytest

from displacement_toolkit.core import geometry as g


def test_heading_to_los_azimuth_right_looking():
    assert g.heading_to_los_azimuth(-12.0) == pytest.approx(102.0)
    assert g.heading_to_los_azimuth(-168.0) == pytest.approx(-102.0)
    assert g.heading_to_los_azimuth(348.0) == pytest.approx(102.0)


def test_left_looking_points_the_other_way():
    right = np.array(g.los_unit_vector_from_heading(35.0, -12.0, "right"))
    left = np.array(g.los_unit_vector_from_heading(35.0, -12.0, "left"))
    assert left[:2] == pytest.approx(-right[:2])
    assert left[2] == pytest.approx(right[2])


def test_worked_example_unit_vectors():
    asc = g.los_unit_vector_from_heading(34.0, -12.0)
    desc = g.los_unit_vector_from_heading(39.0, -168.0)
    assert asc == pytest.approx((-0.546973, -0.116263, 0.829038), abs=1e-6)
    assert desc == pytest.approx((0.615568, -0.130843, 0.777146), abs=1e-6)


def test_worked_example_los_values():
    enu = (0.010, 0.0, -0.020)
    asc = g.project_enu(*enu, g.los_unit_vector_from_heading(34.0, -12.0))
    desc = g.project_enu(*enu, g.los_unit_vector_from_heading(39.0, -168.0))
    assert asc == pytest.approx(-0.022050, abs=1e-6)
    assert desc == pytest.approx(-0.009387, abs=1e-6)


def test_uplift_is_positive_los_and_range_decrease():
    los = g.los_unit_vector_from_heading(40.0, -12.0)
    rng = g.range_unit_vector_from_heading(40.0, -12.0)
    assert g.project_enu(0, 0, 1.0, los) > 0
    assert g.project_enu(0, 0, 1.0, rng) < 0


def test_along_track_vector_follows_heading():
    assert g.along_track_unit_vector(0.0) == pytest.approx((0.0, 1.0, 0.0))
    assert g.along_track_unit_vector(-12.0) == pytest.approx(
        (np.sin(np.radians(-12)), np.cos(np.radians(-12)), 0.0))


def test_unit_vector_round_trip_and_hyp3():
    inc, az = 37.5, 101.3
    e, n, u = g.los_unit_vector(inc, az)
    inc2, az2 = g.unit_vector_to_incidence_azimuth(e, n, u)
    assert (inc2, az2) == pytest.approx((inc, az))
    # HyP3: elevation above horizontal and orientation from east, counter-clockwise (radians)
    lv_theta = np.arctan2(u, np.hypot(e, n))
    lv_phi = np.arctan2(n, e)
    assert g.hyp3_to_incidence_azimuth(lv_theta, lv_phi) == pytest.approx((inc, az))
    assert g.up_from_horizontal_unit_vector(e, n) == pytest.approx(u)


def test_heading_and_azimuth_are_inverse():
    h = np.linspace(-180, 179, 37)
    for look in ("right", "left"):
        back = g.los_azimuth_to_heading(g.heading_to_los_azimuth(h, look), look)
        assert np.allclose(g.wrap_degrees(back - h), 0.0)


def test_bad_look_direction():
    with pytest.raises(ValueError, match="right"):
        g.heading_to_los_azimuth(0.0, "up")
