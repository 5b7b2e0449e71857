"""core/validation.py (one validation per physical quantity) and property tests (hypothesis)
of the validators and of the LOS geometry they guard (core/geometry.py, core/los.py)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from displacement_toolkit.core import decomposition as dec
from displacement_toolkit.core import geometry as g
from displacement_toolkit.core import los as L
from displacement_toolkit.core import validation as V
from displacement_toolkit.core.raster_io import crs_from_epsg, write_array

# derandomize and no example database: the same examples on every run and machine, so CI never
# fails on a new random draw
PROPERTY = settings(max_examples=100, deadline=None, derandomize=True, database=None)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
incidences = st.floats(min_value=1e-6, max_value=90 - 1e-6)
turn = st.floats(min_value=-360.0, max_value=360.0)


# ------------------------------------------------------------------------- examples
@pytest.mark.parametrize("value", [95.0, -10.0, 90.0, 0.0, float("nan"), "abc"])
def test_incidence_refused_names_the_parameter_and_value(value):
    with pytest.raises(ValueError, match=r"^INCIDENCE_ANGLE_1 = "):
        V.incidence(value, "INCIDENCE_ANGLE_1")


def test_incidence_message_says_what_is_wrong():
    with pytest.raises(ValueError, match=r"INCIDENCE_ANGLE = 95.0: an incidence from the vertical "
                                         r"must be strictly between 0 and 90 degrees"):
        V.incidence(95.0)
    with pytest.raises(ValueError, match="strictly between 0 and 1.5708 radians"):
        V.incidence(1.6, units="radians")
    assert V.incidence(0.6, units="radians") == 0.6


@pytest.mark.parametrize("convention, value, ok", [
    ("heading", 348.0, True), ("heading", -12.0, True), ("heading", -360.0, True),
    ("heading", 360.0, True), ("heading", 400.0, False), ("heading", -361.0, False),
    ("los_azimuth", 102.0, True), ("los_azimuth", 720.0, False),
])
def test_heading_one_rule_for_every_convention(convention, value, ok):
    if ok:
        assert V.heading(value, "HEADING", convention) == value
    else:
        with pytest.raises(ValueError, match=rf"HEADING = {value!r}: .*between -360 and 360 degrees"):
            V.heading(value, "HEADING", convention)


def test_geometry_pair_per_convention():
    assert V.geometry_pair(34.0, -12.0, "heading", ("A", "B")) == (34.0, -12.0)
    assert V.geometry_pair(None, -12.0, "heading", ("A", "B")) == (None, -12.0)
    with pytest.raises(ValueError, match=r"^A = 1.7: a HyP3 lv_theta"):
        V.geometry_pair(1.7, 0.3, "hyp3", ("A", "B"))      # lv_theta above pi/2
    with pytest.raises(ValueError, match=r"^B = 7.0: a HyP3 lv_phi"):
        V.geometry_pair(0.9, 7.0, "hyp3", ("A", "B"))      # lv_phi beyond one turn
    with pytest.raises(ValueError, match=r"^A = 0.8: with B = 0.8 the horizontal part"):
        V.geometry_pair(0.8, 0.8, "unit_vector", ("A", "B"))
    with pytest.raises(ValueError, match="unknown angle convention"):
        V.geometry_pair(1, 2, "degrees", ("A", "B"))


@pytest.mark.parametrize("value, message", [
    (0.0, "must be positive"), (-0.05, "must be positive"), (5.55, "not a SAR wavelength"),
    (1e-4, "not a SAR wavelength"), (float("inf"), "finite"), ("x", "must be a number"),
])
def test_wavelength(value, message):
    with pytest.raises(ValueError, match=rf"^WAVELENGTH = .*{message}"):
        V.wavelength(value)
    assert V.wavelength(0.05546576) == 0.05546576 and V.wavelength("0.2384") == 0.2384


def test_integer_refuses_fractions_instead_of_rounding():
    assert V.integer(64, "WINDOW_X") == 64
    assert V.integer(64.0, "WINDOW_X") == 64 and V.integer("64", "WINDOW_X") == 64
    with pytest.raises(ValueError, match=r"WINDOW_X = 2.5: must be a whole number .*e.g. 2 or 3"):
        V.integer(2.5, "WINDOW_X")
    with pytest.raises(ValueError, match=r"WINDOW_X = 4: must be at least 8"):
        V.integer(4, "WINDOW_X", minimum=8)


def test_unique_names_names_the_duplicates_and_the_file():
    V.unique_names(["A", "B", "C"], "/data/gnss.csv")
    with pytest.raises(ValueError, match=r"gnss.csv: station names must be unique, but 'A' \(2 "
                                         r"times: entries 1, 3\); 'b' \(2 times: entries 2, 4\)"):
        V.unique_names(["A", "b", "a", "B", "C"], "/data/gnss.csv")


def test_raster_scan_reports_count_fraction_and_range(tmp_path):
    inc = np.full((10, 10), 35.0, np.float32)
    inc[0, :3] = 95.0
    inc[5, 5] = -2.0
    inc[9, 9] = np.nan                                   # nodata is not counted
    path = str(tmp_path / "inc.tif")
    write_array(path, inc, (0, 1, 0, 0, 0, -1), crs_from_epsg(32633))
    with pytest.raises(ValueError, match=r"INCIDENCE_1 = .*inc.tif': 4 of 99 valid pixels "
                                         r"\(4.04 %\) are outside .* from -2 to 95"):
        V.check_raster(path, 1, "incidence", "INCIDENCE_1")
    V.check_raster(path, 1, "heading", "HEADING_1")      # the same numbers are valid headings


def test_unit_vector_raster_is_checked_pixel_by_pixel_with_a_stated_tolerance(tmp_path):
    """Length 1 ± UNIT_VECTOR_TOLERANCE (0.01) and up > 0 for 3 components; e² + n² < 1 for 2."""
    e, n, u = (np.full((4, 5), c, np.float32) for c in g.los_unit_vector_from_heading(39.0, -168.0))
    e[0, 0] = np.nan                                     # nodata: not counted
    scale = np.ones((4, 5), np.float32)
    scale[1, :2] = 1.009                                 # within the tolerance
    scale[2, :3] = 1.02                                  # 3 pixels 2 % too long
    path = str(tmp_path / "enu.tif")
    write_array(path, np.stack([e, n, u]) * scale, (0, 1, 0, 0, 0, -1), crs_from_epsg(32633))
    sources = [(path, 1), (path, 2), (path, 3)]
    with pytest.raises(ValueError, match=r"LOS_ENU_2 \(enu.tif band 1, enu.tif band 2, enu.tif band 3\): "
                                         r"3 of 19 valid pixels \(15.8 %\) .*from 1.02 to 1.02 .*"
                                         r"1 ± 0.01 .*\(0 of them point down\)"):
        V.check_unit_vector_raster(sources, "LOS_ENU_2")
    V.check_unit_vector_raster(sources, "LOS_ENU_2", tolerance=0.03)
    V.check_unit_vector_raster([(path, 1), (path, 2)], "INCIDENCE_1")   # e² + n² < 1 everywhere
    write_array(path, np.stack([e, n, -u]), (0, 1, 0, 0, 0, -1), crs_from_epsg(32633))
    with pytest.raises(ValueError, match=r"19 of 19 valid pixels \(100 %\).*\(19 of them point down\)"):
        V.check_unit_vector_raster(sources, "LOS_ENU_2")


# ------------------------------------------------------------------------- properties
@PROPERTY
@given(finite)
def test_incidence_accepted_exactly_inside_zero_ninety(theta):
    if 0.0 < theta < 90.0:
        assert V.incidence(theta) == theta
    else:
        with pytest.raises(ValueError, match="^INCIDENCE_ANGLE = "):
            V.incidence(theta)


@PROPERTY
@given(finite)
def test_heading_accepted_within_one_turn_only(h):
    if -360.0 <= h <= 360.0:
        assert V.heading(h) == h
    else:
        with pytest.raises(ValueError, match="^HEADING = "):
            V.heading(h)


@PROPERTY
@given(st.lists(st.one_of(st.floats(min_value=-200, max_value=200), st.just(float("nan"))),
                min_size=1, max_size=30), st.sampled_from(["incidence", "heading", "lv_theta"]))
def test_array_check_counts_exactly_the_finite_values_out_of_range(values, quantity):
    inside = {"incidence": lambda x: 0 < x < 90, "heading": lambda x: -360 <= x <= 360,
              "lv_theta": lambda x: 0 < x < math.pi / 2}[quantity]    # the documented rules
    v = np.array(values)
    finite = v[np.isfinite(v)]
    bad = np.array([x for x in finite if not inside(x)])
    if bad.size == 0:
        V.check_values(v, quantity, "P")
    else:
        with pytest.raises(ValueError) as err:
            V.check_values(v, quantity, "P")
        assert f"P: {bad.size} of {finite.size} valid pixels" in str(err.value)
        assert f"from {bad.min():g} to {bad.max():g}" in str(err.value)


@PROPERTY
@given(st.one_of(st.integers(-10**6, 10**6), finite))
def test_integer_never_rounds(x):
    if float(x) == math.floor(float(x)):
        assert V.integer(x, "N") == int(x)
    else:
        with pytest.raises(ValueError, match="whole number"):
            V.integer(x, "N")


@PROPERTY
@given(st.lists(st.text(alphabet="abcAB", min_size=1, max_size=2), max_size=8))
def test_unique_names_refuses_exactly_the_case_insensitive_duplicates(names):
    keys = [n.upper() for n in names]
    if len(set(keys)) == len(keys):
        V.unique_names(names, "f.csv")
    else:
        with pytest.raises(ValueError) as err:
            V.unique_names(names, "f.csv")
        for key in {k for k in keys if keys.count(k) > 1}:
            first = names[keys.index(key)]
            assert repr(first) in str(err.value)


@PROPERTY
@given(incidences, turn, st.sampled_from(["right", "left"]))
def test_los_unit_vector_has_norm_one_and_points_up(theta, heading, look):
    e, n, u = g.los_unit_vector_from_heading(theta, heading, look)
    assert math.isclose(float(e * e + n * n + u * u), 1.0, abs_tol=1e-12)
    assert float(u) == pytest.approx(math.cos(math.radians(theta)), abs=1e-12)
    # the horizontal part is perpendicular to the flight direction
    ae, an, _ = g.along_track_unit_vector(heading)
    assert float(e * ae + n * an) == pytest.approx(0.0, abs=1e-12)


@PROPERTY
@given(turn, st.sampled_from(["right", "left"]))
def test_heading_and_los_azimuth_convert_back_and_forth(heading, look):
    alpha = g.heading_to_los_azimuth(heading, look)
    assert -180.0 <= float(alpha) < 180.0
    back = float(g.los_azimuth_to_heading(alpha, look))
    assert math.isclose(math.cos(math.radians(back - heading)), 1.0, abs_tol=1e-12)
    # a heading and the same heading one turn away give the same LOS vector
    a = g.los_unit_vector_from_heading(35.0, heading, look)
    b = g.los_unit_vector_from_heading(35.0, heading - 360.0 if heading > 0 else heading + 360.0,
                                       look)
    assert np.allclose(a, b, atol=1e-12)


@PROPERTY
@given(incidences, st.floats(min_value=-180.0, max_value=179.999))
def test_every_convention_gives_the_same_los_vector(theta, alpha):
    """heading, LOS azimuth, HyP3 (lv_theta, lv_phi) and unit-vector inputs of one geometry
    give one LOS unit vector (core.decomposition.ANGLE_CONVENTIONS)."""
    truth = np.array(g.los_unit_vector(theta, alpha))
    heading = float(g.los_azimuth_to_heading(alpha, "right"))
    inputs = {"heading": (theta, heading), "los_azimuth": (theta, alpha),
              "hyp3": (math.radians(90.0 - theta), math.radians(alpha + 90.0)),
              "unit_vector": (truth[0], truth[1])}
    for convention, (a, b) in inputs.items():
        got = np.array(dec.observation_unit_vector("los", a, b, convention, "right"))
        # up = sqrt(1 - e^2 - n^2) of the unit-vector convention (OPERA) is ill-conditioned
        # near grazing: a rounding of about 1e-16 in e^2 + n^2 moves up by about 1e-16 / up
        tol = 1e-12 + (1e-15 / truth[2] if convention == "unit_vector" else 0.0)
        assert np.abs(got - truth).max() <= tol, convention
    inc, az = g.unit_vector_to_incidence_azimuth(*truth)
    assert float(inc) == pytest.approx(theta, rel=1e-9, abs=1e-12)
    assert math.cos(math.radians(float(az) - alpha)) == pytest.approx(1.0, abs=1e-12)


@PROPERTY
@given(st.floats(min_value=1.0, max_value=78.0), st.floats(min_value=-0.5, max_value=0.5))
def test_los_to_vertical_to_los_round_trip(theta, d_los):
    """Vertical motion U seen in LOS is U cos(theta); projecting back gives U (amplification
    1 / cos(theta) <= 5 up to 78.46 degrees)."""
    up, masked = L.project_los(np.array([d_los]), theta, "vertical")
    assert not masked[0]
    assert float(up[0]) == pytest.approx(d_los / math.cos(math.radians(theta)), rel=1e-12, abs=1e-15)
    los_again = g.project_enu(0.0, 0.0, up[0], g.los_unit_vector_from_heading(theta, -12.0))
    assert float(los_again) == pytest.approx(d_los, rel=1e-12, abs=1e-15)


@PROPERTY
@given(incidences, turn, st.floats(min_value=-0.1, max_value=0.1))
def test_east_projection_inverts_the_los_of_east_motion(theta, heading, east):
    l_vec = g.los_unit_vector_from_heading(theta, heading)
    d_los = g.project_enu(east, 0.0, 0.0, l_vec)
    out, masked = L.project_los(np.array([d_los]), theta, "east", heading_deg=heading)
    sensitivity = abs(float(l_vec[0]))
    assert bool(masked[0]) == (sensitivity * 5.0 < 1.0)
    if not masked[0]:
        assert float(out[0]) == pytest.approx(east, rel=1e-9, abs=1e-12)
