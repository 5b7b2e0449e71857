"""core.okada against published check values and independent analytic limits."""

import numpy as np
import pytest

from displacement_toolkit.core.okada import (
    fault_displacement_enu,
    moment_magnitude,
    okada85_point,
    okada85_rectangle,
)

# Okada (1985) Table 2, Poisson solid (lambda = mu): x = 2, y = 3, d = 4, dip = 70 deg.
# Case 2 (finite rectangle, L = 3, W = 2, unit slip) and case 1 (point source, unit potency).
# The same numbers, to more digits, are pinned in Hdef's okada92_unit_tests.f90 (M. Herman).
TABLE2_RECTANGLE = {
    "strike": (-8.6891650042561549e-3, -4.2975821897415613e-3, -2.7474058276388967e-3),
    "dip": (-4.6823487628354045e-3, -3.5267267968718020e-2, -3.5638557673268470e-2),
    "tensile": (-2.6599600964428191e-4, 1.0564074876983659e-2, 3.2141931142207676e-3),
}
TABLE2_POINT = {
    "strike": (-9.4474186064630631e-4, -1.0229885427654646e-3, -7.4201246532591128e-4),
    "dip": (-1.1723215364075840e-3, -2.0819985410726201e-3, -2.5315947108865925e-3),
    "tensile": (-3.5716333691232548e-4, 3.5310854913572190e-4, -2.0068126969335952e-4),
}
SLIPS = {"strike": (1.0, 0.0, 0.0), "dip": (0.0, 1.0, 0.0), "tensile": (0.0, 0.0, 1.0)}


@pytest.mark.parametrize("kind", ["strike", "dip", "tensile"])
def test_okada_1985_table2_rectangle(kind):
    u = okada85_rectangle(2.0, 3.0, 4.0, 70.0, 3.0, 2.0, *SLIPS[kind], poisson=0.25)
    np.testing.assert_allclose(np.array(u, dtype=float), TABLE2_RECTANGLE[kind], rtol=1e-9)
    # the published table, to its 4 printed digits
    np.testing.assert_allclose(np.array(u, dtype=float),
                               np.round(np.array(TABLE2_RECTANGLE[kind]), 6), atol=6e-6)


@pytest.mark.parametrize("kind", ["strike", "dip", "tensile"])
def test_okada_1985_table2_point_source(kind):
    u = okada85_point(2.0, 3.0, 4.0, 70.0, *SLIPS[kind], poisson=0.25)
    np.testing.assert_allclose(np.array(u, dtype=float), TABLE2_POINT[kind], rtol=1e-9)


@pytest.mark.parametrize("dip", [90.0, 70.0, 35.0])
@pytest.mark.parametrize("kind", ["strike", "dip", "tensile"])
def test_small_far_fault_matches_point_source(dip, kind):
    """A 0.2 x 0.2 fault seen from 20-40 fault sizes away equals a point source of the same
    potency at its centre (Okada 1985 section 2 is the limit of section 3)."""
    length = width = 0.2
    depth_centre = 5.0
    sd, cd = np.sin(np.radians(dip)), np.cos(np.radians(dip))
    bottom = depth_centre + width / 2 * sd
    x = np.array([4.0, -3.0, 6.0, 0.5, -5.0])
    y = np.array([2.0, 5.0, -4.0, -6.0, -1.0])
    u_rect = okada85_rectangle(x, y, bottom, dip, length, width, *SLIPS[kind])
    # the centre of the rectangle in the fault frame: x = L/2, y = W/2 cos(dip)
    potency = np.array(SLIPS[kind]) * length * width
    u_pt = okada85_point(x - length / 2, y - width / 2 * cd, depth_centre, dip, *potency)
    scale = np.max(np.abs(u_pt))
    np.testing.assert_allclose(np.array(u_rect), np.array(u_pt), atol=2e-3 * scale)


def test_point_source_far_field_decays_as_inverse_square():
    """Along a ray from the epicentre, r^2 |u| tends to a constant far from the source."""
    r = np.array([50.0, 100.0, 200.0, 400.0])
    x, y = r * np.cos(0.4), r * np.sin(0.4)
    ux, uy, uz = okada85_point(x, y, 1.0, 90.0, 1.0, 0.0, 0.0)
    mag = np.sqrt(ux ** 2 + uy ** 2 + uz ** 2)
    scaled = mag * r ** 2
    np.testing.assert_allclose(scaled, scaled[-1], rtol=0.03)
    # and a finite fault far away decays the same way
    ux, uy, uz = okada85_rectangle(x, y, 2.0, 90.0, 1.0, 1.0, 1.0)
    mag2 = np.sqrt(ux ** 2 + uy ** 2 + uz ** 2) * r ** 2
    np.testing.assert_allclose(mag2[1:], mag2[-1], rtol=0.03)


def test_vertical_dip_agrees_with_nearly_vertical_general_formula():
    """The cos(dip) = 0 expressions (Okada 1985 eq. 29) are the limit of the general ones."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-20, 30, 50)
    y = rng.uniform(-20, 20, 50)
    for slips in SLIPS.values():
        a = okada85_rectangle(x, y, 8.0, 90.0, 10.0, 6.0, *slips)
        b = okada85_rectangle(x, y, 8.0, 89.99, 10.0, 6.0, *slips)
        scale = max(np.max(np.abs(c)) for c in a)
        np.testing.assert_allclose(np.array(a), np.array(b), atol=2e-3 * scale)


def test_vertical_strike_slip_symmetries():
    """Vertical strike-slip fault centred at the origin: the fault-parallel displacement is
    antisymmetric across the fault and symmetric along it; up is antisymmetric in both
    directions (quadrant pattern); the fault-normal component is symmetric across the fault."""
    length, top, bottom = 20.0, 0.0, 10.0
    xs = np.array([3.0, 7.0, 12.0, 25.0])
    ys = np.array([0.5, 2.0, 6.0, 15.0])
    x, y = np.meshgrid(xs, ys)

    def field(px, py):
        return okada85_rectangle(px + length / 2, py, bottom, 90.0, length, bottom - top, 1.0)

    ux, uy, uz = field(x, y)
    ux_m, uy_m, uz_m = field(x, -y)       # mirror across the fault plane
    ux_a, uy_a, uz_a = field(-x, y)       # mirror along strike
    np.testing.assert_allclose(ux_m, -ux, atol=1e-12)
    np.testing.assert_allclose(uy_m, uy, atol=1e-12)
    np.testing.assert_allclose(uz_m, -uz, atol=1e-12)
    np.testing.assert_allclose(ux_a, ux, atol=1e-12)
    np.testing.assert_allclose(uy_a, -uy, atol=1e-12)
    np.testing.assert_allclose(uz_a, -uz, atol=1e-12)
    assert np.max(np.abs(uz)) > 1e-3  # the quadrant pattern is not trivially zero


def test_surface_rupture_offset_equals_slip_and_matches_screw_dislocation():
    """A very long vertical strike-slip fault from the surface to depth D is the 2-D screw
    dislocation with its image: u_parallel(y) = -(U / pi) atan(D / y) (left-lateral U > 0), a
    jump of exactly U across the trace."""
    depth, slip = 10.0, 2.5
    length = 4000.0
    y = np.array([-30.0, -10.0, -3.0, -1e-6, 1e-6, 3.0, 10.0, 30.0])
    ux, uy, uz = okada85_rectangle(length / 2, y, depth, 90.0, length, depth, slip)
    expected = -(slip / np.pi) * np.arctan(depth / y)
    np.testing.assert_allclose(ux, expected, atol=2e-3 * slip)
    jump = ux[3] - ux[4]
    assert jump == pytest.approx(slip, rel=1e-4)
    np.testing.assert_allclose(uz, 0.0, atol=1e-6 * slip)  # no vertical motion mid-fault


def test_enu_wrapper_rotates_strike_and_gives_right_lateral_sign():
    """Right-lateral (negative strike-slip) fault striking N40E: seen from either block the
    other moves to the right, so the block right of the strike direction (south-east) moves
    backward (toward S40W) and the block on the left moves along strike (as the Pacific plate,
    left of the N40W-striking San Andreas fault, moves north-west)."""
    strike = 40.0
    s, c = np.sin(np.radians(strike)), np.cos(np.radians(strike))
    # a point 1 m to the right (south-east) and to the left of the trace, at mid-length
    right = (c * 1.0, -s * 1.0)
    left = (-c * 1.0, s * 1.0)
    east = np.array([right[0], left[0]]) + 1000.0
    north = np.array([right[1], left[1]]) + 2000.0
    ue, un, uu = fault_displacement_enu(
        east, north, fault_east=1000.0, fault_north=2000.0, strike=strike, dip=90.0,
        length=30000.0, top_depth=0.0, bottom_depth=12000.0, strike_slip=-2.0)
    along = ue * s + un * c
    assert along[0] == pytest.approx(-1.0, abs=0.01)   # right block: -strike, U/2
    assert along[1] == pytest.approx(1.0, abs=0.01)    # left block: +strike, U/2
    across = -ue * c + un * s
    np.testing.assert_allclose(across, 0.0, atol=1e-3)
    # the wrapper equals the frame function with the documented change of origin
    ux, uy, uz = okada85_rectangle(15000.0 + np.array([0.0, 0.0]), np.array([-1.0, 1.0]),
                                   12000.0, 90.0, 30000.0, 12000.0, -2.0)
    np.testing.assert_allclose(uu, uz, atol=1e-12)
    np.testing.assert_allclose(along, ux, atol=1e-12)


def test_dipping_fault_wrapper_matches_table2_geometry():
    """fault_displacement_enu with strike 90 (x = east, y = north) reproduces Table 2 case 2."""
    dip, length, width, d = 70.0, 3.0, 2.0, 4.0
    sd, cd = np.sin(np.radians(dip)), np.cos(np.radians(dip))
    top = d - width * sd
    # strike 90: x along east, y = north.  Top-edge midpoint at x = L/2, y = W cos(dip)
    ue, un, uu = fault_displacement_enu(
        2.0, 3.0, fault_east=length / 2, fault_north=width * cd, strike=90.0, dip=dip,
        length=length, top_depth=top, bottom_depth=d, dip_slip=1.0)
    np.testing.assert_allclose([ue, un, uu], TABLE2_RECTANGLE["dip"], rtol=1e-9)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="dip"):
        okada85_rectangle(1.0, 1.0, 4.0, 0.0, 3.0, 2.0, 1.0)
    with pytest.raises(ValueError, match="free surface"):
        okada85_rectangle(1.0, 1.0, 1.0, 90.0, 3.0, 2.0, 1.0)
    with pytest.raises(ValueError, match="Poisson"):
        okada85_rectangle(1.0, 1.0, 4.0, 45.0, 3.0, 2.0, 1.0, poisson=0.5)
    with pytest.raises(ValueError, match="top_depth"):
        fault_displacement_enu(0.0, 0.0, fault_east=0, fault_north=0, strike=0, dip=90,
                               length=1, top_depth=5, bottom_depth=2, strike_slip=1)


def test_moment_magnitude_of_the_demo_fault():
    # 30 km x 12 km, 2.5 m, mu = 30 GPa: M0 = 2.7e19 N m -> Mw 6.89
    assert moment_magnitude(30e3, 12e3, 2.5) == pytest.approx(6.887, abs=0.002)
