"""Viewing geometry: the one place where angle conventions are converted.

Conventions used by every function of the toolkit (see docs/conventions.md):

* Coordinates are local east, north, up (ENU), in that order.
* **Incidence** θ is measured at the ground from the vertical (0° = looking
  straight down), in degrees.
* **Heading** h is the flight direction, clockwise from north, in degrees
  (Sentinel-1 ascending ≈ −12° (= 348°), descending ≈ −168° (= 192°)).
* **LOS azimuth** α (MintPy ``azimuthAngle``, ISCE2 ``los.rdr`` band 2) is the
  azimuth of the ground→satellite vector projected on the horizontal plane,
  measured from north, **anti-clockwise** positive, in degrees.  For a
  right-looking sensor α = 90° − h; for a left-looking one α = −90° − h.
* The **LOS unit vector** points from the ground to the satellite:
  ``(e, n, u) = (−sin θ·sin α, sin θ·cos α, cos θ)``.  A LOS displacement is
  the projection of the ground motion on this vector, so it is **positive
  toward the satellite** (uplift gives positive LOS).
* A **range offset** is positive when the range increases (motion away from
  the satellite): its unit vector is the negative of the LOS vector.
* An **along-track (azimuth) offset** is positive along the flight direction:
  ``(sin h, cos h, 0)``.
* HyP3 ``lv_theta`` is the elevation of the look vector above the horizontal,
  ``lv_phi`` its orientation from east, counter-clockwise, both in radians
  (HyP3 product guide): θ = 90° − lv_theta, α = lv_phi − 90°.

Worked Sentinel-1 example (numbers match MintPy 1.6.4's ``get_unit_vector4
component_of_interest``): ascending θ = 34°, h = −12° gives α = 102° and the
unit vector (−0.546973, −0.116263, 0.829038); descending θ = 39°,
h = −168° gives α = −102° and (0.615568, −0.130843, 0.777146).
"""

from __future__ import annotations

import numpy as np

LOOK_DIRECTIONS = ("right", "left")


def _check_look(look_direction: str) -> str:
    look = str(look_direction).lower()
    if look not in LOOK_DIRECTIONS:
        raise ValueError(f"look direction must be 'right' or 'left', not {look_direction!r}")
    return look


def wrap_degrees(angle):
    """Wrap angles (degrees) into [−180, 180)."""
    return (np.asarray(angle, dtype=np.float64) + 180.0) % 360.0 - 180.0


def heading_to_los_azimuth(heading_deg, look_direction: str = "right"):
    """LOS azimuth α (ground→satellite, from north, anti-clockwise; degrees)
    of a sensor flying along ``heading_deg`` (clockwise from north)."""
    look = _check_look(look_direction)
    offset = 90.0 if look == "right" else -90.0
    return wrap_degrees(offset - np.asarray(heading_deg, dtype=np.float64))


def los_azimuth_to_heading(los_azimuth_deg, look_direction: str = "right"):
    """Inverse of :func:`heading_to_los_azimuth`: heading (clockwise from north, degrees)."""
    look = _check_look(look_direction)
    offset = 90.0 if look == "right" else -90.0
    return wrap_degrees(offset - np.asarray(los_azimuth_deg, dtype=np.float64))


def los_unit_vector(incidence_deg, los_azimuth_deg):
    """Ground→satellite unit vector (east, north, up) from incidence and LOS azimuth.

    Both in degrees; arrays broadcast.  Returns a tuple of three arrays.
    """
    theta = np.radians(np.asarray(incidence_deg, dtype=np.float64))
    alpha = np.radians(np.asarray(los_azimuth_deg, dtype=np.float64))
    return (-np.sin(theta) * np.sin(alpha), np.sin(theta) * np.cos(alpha), np.cos(theta))


def los_unit_vector_from_heading(incidence_deg, heading_deg, look_direction: str = "right"):
    """Ground→satellite unit vector (east, north, up) from incidence and heading (degrees)."""
    return los_unit_vector(incidence_deg, heading_to_los_azimuth(heading_deg, look_direction))


def along_track_unit_vector(heading_deg):
    """Unit vector (east, north, up) along the flight direction (azimuth offsets, MAI)."""
    h = np.radians(np.asarray(heading_deg, dtype=np.float64))
    return (np.sin(h), np.cos(h), np.zeros_like(h))


def range_unit_vector_from_heading(incidence_deg, heading_deg, look_direction: str = "right"):
    """Unit vector of increasing range (satellite→ground): the negative LOS vector."""
    e, n, u = los_unit_vector_from_heading(incidence_deg, heading_deg, look_direction)
    return (-e, -n, -u)


def hyp3_to_incidence_azimuth(lv_theta_rad, lv_phi_rad):
    """Convert HyP3 ``lv_theta``/``lv_phi`` (radians) to incidence and LOS azimuth (degrees)."""
    incidence = 90.0 - np.degrees(np.asarray(lv_theta_rad, dtype=np.float64))
    azimuth = wrap_degrees(np.degrees(np.asarray(lv_phi_rad, dtype=np.float64)) - 90.0)
    return incidence, azimuth


def unit_vector_to_incidence_azimuth(east, north, up):
    """Incidence and LOS azimuth (degrees) of a ground→satellite unit vector
    (e.g. LiCSBAS ``E.geo/N.geo/U.geo``, OPERA ``los_east/los_north``)."""
    e = np.asarray(east, dtype=np.float64)
    n = np.asarray(north, dtype=np.float64)
    u = np.asarray(up, dtype=np.float64)
    # arctan2 of the horizontal and vertical parts: exact near the vertical, where
    # arccos(u) loses half the digits (found by the property tests), and no norm needed
    incidence = np.degrees(np.arctan2(np.hypot(e, n), u))
    azimuth = np.degrees(np.arctan2(-e, n))
    return incidence, azimuth


def up_from_horizontal_unit_vector(east, north):
    """Up component of a ground→satellite unit vector given only east and north
    (OPERA stores ``los_east``/``los_north``): ``sqrt(1 − e² − n²)``."""
    e = np.asarray(east, dtype=np.float64)
    n = np.asarray(north, dtype=np.float64)
    return np.sqrt(np.clip(1.0 - e * e - n * n, 0.0, 1.0))


def project_enu(east, north, up, unit_vector):
    """Project an ENU displacement on a unit vector ``(e, n, u)`` (same units as the displacement)."""
    ue, un, uu = unit_vector
    return east * ue + north * un + up * uu
