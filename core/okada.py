"""Surface displacement of a dislocation in an elastic half-space (Okada 1985).

Okada, Y. (1985). Surface deformation due to shear and tensile faults in a
half-space. Bulletin of the Seismological Society of America 75(4),
1135-1154.  The functions below are written from the published closed-form
expressions (section 2 for a point source, section 3 for a finite
rectangular source, with the singular cases of Okada (1992), BSSA 82(2),
section "Singularities").

Frames, units and signs
-----------------------
* Okada's fault frame (:func:`okada85_rectangle`, :func:`okada85_point`):
  ``x`` along strike, ``y`` perpendicular to strike (90° anti-clockwise from
  ``x``, i.e. to the *left* of the strike direction), ``z`` up.  The fault
  dips toward ``−y`` (to the right of the strike direction, Aki & Richards).
  The rectangle's reference point is the start (``x = 0``) of its
  **bottom** edge at depth ``d``; it extends ``L`` along strike and ``W``
  up dip.
* Slip components are the motion of the hanging-wall block relative to the
  footwall block: ``U1`` strike-slip (positive = left-lateral), ``U2``
  dip-slip (positive = reverse / thrust), ``U3`` tensile opening (positive =
  opening).  Displacements come out in the unit of the slip; lengths (x, y,
  d, L, W) share any one unit.  For a point source, ``U·dA`` (potency,
  unit length³) replaces ``U``.
* :func:`fault_displacement_enu` works in map coordinates: east, north
  (metres, any projected CRS), strike clockwise from north in degrees, dip
  from the horizontal in degrees, and returns east, north, up displacement
  (positive east, north and up) in the unit of the slip.
* The medium is a Poisson solid (ν = 0.25, λ = μ) unless ``poisson`` says
  otherwise; only ``μ/(λ+μ) = 1 − 2ν`` enters the surface displacements.

Everything is vectorised with numpy over the observation points.
"""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np

# A dip whose cosine is below this is treated as exactly vertical (Okada 1992, eps = 1e-6):
# the general expressions lose precision there and the cos δ = 0 forms apply.
_COS_EPS = 1e-6


def _medium_ratio(poisson: float) -> float:
    """μ/(λ+μ) = 1 − 2ν for a Poisson ratio ν in (−1, 0.5)."""
    nu = float(poisson)
    if not -1.0 < nu < 0.5:
        raise ValueError(f"Poisson ratio must be in (-1, 0.5), got {poisson!r}")
    return 1.0 - 2.0 * nu


def _dip_trig(dip_deg: float) -> Tuple[float, float]:
    dip = float(dip_deg)
    if not 0.0 < dip <= 90.0:
        raise ValueError(f"dip must be in (0, 90] degrees, got {dip_deg!r}")
    sd, cd = math.sin(math.radians(dip)), math.cos(math.radians(dip))
    if abs(cd) < _COS_EPS:
        sd, cd = 1.0, 0.0
    return sd, cd


def _log_safe(r, a):
    """ln(R + a), replaced by −ln(R − a) where R + a vanishes (Okada 1992, singular case iii)."""
    s = r + a
    tiny = s <= 1e-12 * np.maximum(r, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tiny, -np.log(np.where(tiny, r - a, 1.0)), np.log(np.where(tiny, 1.0, s)))


def _inv_safe(v):
    """1/v with 0 where v vanishes (the terms it multiplies vanish there; Okada 1992)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(v) > 0.0, 1.0 / np.where(v == 0.0, 1.0, v), 0.0)


def _rectangle_terms(xi, eta, q, sd, cd, ratio):
    """Strike-slip, dip-slip and tensile integrands (Okada 1985 eqs. 25-27) at corner (ξ, η)."""
    r = np.sqrt(xi * xi + eta * eta + q * q)
    ytil = eta * cd + q * sd
    dtil = eta * sd - q * cd
    # ln(R + η) and its singular form; 1/(R + η), 1/(R + ξ)
    ln_re = _log_safe(r, eta)
    inv_re = _inv_safe(r + eta)
    inv_rx = _inv_safe(r + xi)
    inv_r = _inv_safe(r)
    # θ = atan(ξη / (qR)); at q = 0 it is 0 (Okada 1992, singular case i)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(q == 0.0, 0.0, np.arctan(xi * eta / np.where(q == 0.0, 1.0, q * r)))
    rd = r + dtil
    inv_rd = _inv_safe(rd)
    if cd != 0.0:
        x = np.sqrt(xi * xi + q * q)
        with np.errstate(divide="ignore", invalid="ignore"):
            i5_arg = (eta * (x + q * cd) + x * (r + x) * sd) / (xi * (r + x) * cd)
            i5 = np.where(xi == 0.0, 0.0, ratio * 2.0 / cd * np.arctan(np.where(xi == 0.0, 0.0, i5_arg)))
        i4 = ratio / cd * (_log_safe(r, dtil) - sd * ln_re)
        i3 = ratio * (ytil * inv_rd / cd - ln_re) + sd / cd * i4
        i2 = ratio * (-ln_re) - i3
        i1 = ratio * (-xi * inv_rd / cd) - sd / cd * i5
    else:
        i1 = -ratio / 2.0 * xi * q * inv_rd * inv_rd
        i3 = ratio / 2.0 * (eta * inv_rd + ytil * q * inv_rd * inv_rd - ln_re)
        i2 = ratio * (-ln_re) - i3
        i4 = -ratio * q * inv_rd
        i5 = -ratio * xi * sd * inv_rd
    qr_re = q * inv_r * inv_re  # q / (R (R + η))
    qr_rx = q * inv_r * inv_rx  # q / (R (R + ξ))
    strike = (
        xi * qr_re + theta + i1 * sd,
        ytil * qr_re + q * cd * inv_re + i2 * sd,
        dtil * qr_re + q * sd * inv_re + i4 * sd,
    )
    dip = (
        q * inv_r - i3 * sd * cd,
        ytil * qr_rx + cd * theta - i1 * sd * cd,
        dtil * qr_rx + sd * theta - i5 * sd * cd,
    )
    xq = xi * qr_re - theta
    tensile = (
        q * qr_re - i3 * sd * sd,
        -dtil * qr_rx - sd * xq - i1 * sd * sd,
        ytil * qr_rx + cd * xq - i5 * sd * sd,
    )
    return strike, dip, tensile


def okada85_rectangle(x, y, depth, dip, length, width, u1=0.0, u2=0.0, u3=0.0, poisson=0.25):
    """Surface displacement (ux, uy, uz) of a rectangular dislocation in Okada's frame.

    ``x``, ``y``: observation points (arrays, any shape) in the fault frame
    (see the module docstring); ``depth``: depth ``d`` (> 0) of the fault's
    bottom edge; ``dip`` in degrees (0 < δ ≤ 90); ``length`` ``L`` along
    strike from ``x = 0``; ``width`` ``W`` up dip (``W·sin δ ≤ d``).
    ``u1``, ``u2``, ``u3``: strike-slip (left-lateral positive), dip-slip
    (reverse positive), opening; returns ux (along strike), uy, uz (up) in
    the unit of the slip.  Evaluated with Chinnery's notation
    ``f(ξ, η)|| = f(x, p) − f(x, p − W) − f(x − L, p) + f(x − L, p − W)``
    with ``p = y cos δ + d sin δ``, ``q = y sin δ − d cos δ``.
    """
    ratio = _medium_ratio(poisson)
    sd, cd = _dip_trig(dip)
    if not length > 0 or not width > 0:
        raise ValueError(f"fault length and width must be positive, got {length!r}, {width!r}")
    if width * sd > depth * (1.0 + 1e-12):
        raise ValueError(
            f"the fault would cross the free surface: width·sin(dip) = {width * sd:g} > depth {depth:g}")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    p = y * cd + depth * sd
    q = y * sd - depth * cd
    if cd == 0.0:
        q = y.copy()
    ux = np.zeros(np.broadcast(x, y).shape)
    uy = np.zeros_like(ux)
    uz = np.zeros_like(ux)
    for xi, eta, sign in ((x, p, 1.0), (x, p - width, -1.0), (x - length, p, -1.0),
                          (x - length, p - width, 1.0)):
        ss, ds, tf = _rectangle_terms(xi, eta, q, sd, cd, ratio)
        for k, out in enumerate((ux, uy, uz)):
            out += sign * (-u1 / (2 * np.pi) * ss[k] - u2 / (2 * np.pi) * ds[k]
                           + u3 / (2 * np.pi) * tf[k])
    return ux, uy, uz


def okada85_point(x, y, depth, dip, potency1=0.0, potency2=0.0, potency3=0.0, poisson=0.25):
    """Surface displacement (ux, uy, uz) of a point source (Okada 1985, section 2).

    The source is at depth ``depth`` below the origin of the fault frame;
    ``potency1..3`` = ``U1·dA``, ``U2·dA``, ``U3·dA`` (strike-slip,
    dip-slip, tensile; length³).  With lengths in metres and potency in m³
    the displacements are in metres.  The seismic moment is ``μ·U·dA``.
    """
    ratio = _medium_ratio(poisson)
    sd, cd = _dip_trig(dip)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    d = float(depth)
    if not d > 0:
        raise ValueError(f"point-source depth must be positive, got {depth!r}")
    p = y * cd + d * sd
    q = y * sd - d * cd
    r = np.sqrt(x * x + y * y + d * d)
    r3, r5 = r ** 3, r ** 5
    rd = r + d
    i1 = ratio * y * (1.0 / (r * rd * rd) - x * x * (3 * r + d) / (r3 * rd ** 3))
    i2 = ratio * x * (1.0 / (r * rd * rd) - y * y * (3 * r + d) / (r3 * rd ** 3))
    i3 = ratio * x / r3 - i2
    i4 = ratio * (-x * y * (2 * r + d) / (r3 * rd * rd))
    i5 = ratio * (1.0 / (r * rd) - x * x * (2 * r + d) / (r3 * rd * rd))
    c = 1.0 / (2 * np.pi)
    ux = (-potency1 * c * (3 * x * x * q / r5 + i1 * sd)
          - potency2 * c * (3 * x * p * q / r5 - i3 * sd * cd)
          + potency3 * c * (3 * x * q * q / r5 - i3 * sd * sd))
    uy = (-potency1 * c * (3 * x * y * q / r5 + i2 * sd)
          - potency2 * c * (3 * y * p * q / r5 - i1 * sd * cd)
          + potency3 * c * (3 * y * q * q / r5 - i1 * sd * sd))
    uz = (-potency1 * c * (3 * d * x * q / r5 + i4 * sd)
          - potency2 * c * (3 * d * p * q / r5 - i5 * sd * cd)
          + potency3 * c * (3 * d * q * q / r5 - i5 * sd * sd))
    return ux, uy, uz


def fault_displacement_enu(east, north, *, fault_east, fault_north, strike, dip, length,
                           top_depth, bottom_depth, strike_slip=0.0, dip_slip=0.0,
                           opening=0.0, poisson=0.25):
    """East, north, up surface displacement of a rectangular fault in map coordinates.

    ``east``, ``north``: observation points (metres, projected CRS; arrays).
    ``fault_east``, ``fault_north``: horizontal position of the midpoint of
    the fault's **top edge** (on the surface trace for a surface-rupturing
    fault).  ``strike``: clockwise from north (degrees); the fault dips to
    the right of the strike direction by ``dip`` degrees (0 < dip ≤ 90).
    ``length`` along strike (m); ``top_depth`` ≥ 0 and ``bottom_depth`` >
    ``top_depth`` (m) bound the fault vertically.  ``strike_slip`` (positive
    = left-lateral, negative = right-lateral), ``dip_slip`` (positive =
    reverse), ``opening``: in metres (or any unit: the output has the unit
    of the slip).  Returns ``(east, north, up)`` arrays, positive east,
    north and up.
    """
    sd, cd = _dip_trig(dip)
    if not bottom_depth > top_depth >= 0.0:
        raise ValueError(
            f"need 0 <= top_depth < bottom_depth, got top {top_depth!r}, bottom {bottom_depth!r}")
    width = (bottom_depth - top_depth) / sd
    st, ct = math.sin(math.radians(strike)), math.cos(math.radians(strike))
    de = np.asarray(east, dtype=np.float64) - fault_east
    dn = np.asarray(north, dtype=np.float64) - fault_north
    # strike frame: x along strike, y to the left of strike
    xs = de * st + dn * ct
    ys = -de * ct + dn * st
    # Okada's origin: start of the bottom edge = top midpoint − L/2 along strike, then W·cos δ
    # down dip horizontally (toward −y)
    x = xs + length / 2.0
    y = ys + width * cd
    ux, uy, uz = okada85_rectangle(x, y, bottom_depth, dip, length, width,
                                   strike_slip, dip_slip, opening, poisson)
    ue = ux * st - uy * ct
    un = ux * ct + uy * st
    return ue, un, uz


def moment_magnitude(length, width, slip, shear_modulus=3.0e10):
    """Moment magnitude Mw = (2/3)(log10 M0 − 9.1) of a fault (lengths, slip in m; μ in Pa)."""
    m0 = shear_modulus * length * width * abs(slip)
    return (2.0 / 3.0) * (math.log10(m0) - 9.1)
