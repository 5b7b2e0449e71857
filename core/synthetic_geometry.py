"""A synthetic side-looking radar geometry: latitude, longitude and incidence of every radar
pixel, for tests, the demo and benchmarks of geocoding (core/geocode.py).

Flat-Earth model of a right-looking radar flying along ``heading`` (degrees clockwise from
north) at ``altitude`` metres: slant range ``R = near_range + x·range_pixel`` (``x`` the
fractional column, GDAL convention), ground range ``sqrt(R² − altitude²)`` — non-linear in
the column, so the ground pixel shrinks with range and the incidence ``acos(altitude/R)``
grows across the swath — and along-track distance ``(y − rows/2)·azimuth_pixel +
skew·x`` (``y`` the fractional row; ``skew`` in metres per column shears the grid as a
squinted or zero-Doppler-misaligned geometry does).  Ground east/north offsets from the
scene centre are turned into degrees on the sphere of radius 6 371 008.8 m around
(``lon0``, ``lat0``).  Sentinel-1 IW-like defaults: ascending heading −12°, 693 km altitude,
near incidence about 31°.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_M = 6371008.8


@dataclass(frozen=True)
class RadarGeometry:
    """The geometry's constants (metres, degrees)."""

    width: int
    height: int
    lon0: float = -155.3
    lat0: float = 19.4
    heading: float = -12.0
    altitude: float = 693000.0
    near_range: float = 808000.0
    range_pixel: float = 2.33
    azimuth_pixel: float = 13.9
    skew: float = 0.0

    def ground(self, x, y):
        """(east, north) metres from the scene centre at radar positions x (columns), y (rows)."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        slant = self.near_range + x * self.range_pixel
        mid = self.near_range + 0.5 * self.width * self.range_pixel
        across = np.sqrt(slant ** 2 - self.altitude ** 2) - math.sqrt(mid ** 2 - self.altitude ** 2)
        along = (y - 0.5 * self.height) * self.azimuth_pixel + self.skew * (x - 0.5 * self.width)
        h = math.radians(self.heading)
        look = h + math.pi / 2.0                     # right-looking: range points to the right
        east = along * math.sin(h) + across * math.sin(look)
        north = along * math.cos(h) + across * math.cos(look)
        return east, north

    def lonlat(self, x, y):
        """(longitude, latitude) in degrees at radar positions x, y."""
        east, north = self.ground(x, y)
        k = math.pi / 180.0 * EARTH_RADIUS_M
        return (self.lon0 + east / (k * math.cos(math.radians(self.lat0))),
                self.lat0 + north / k)

    def incidence(self, x):
        """Incidence angle (degrees from the vertical) at column position x."""
        slant = self.near_range + np.asarray(x, dtype=np.float64) * self.range_pixel
        return np.degrees(np.arccos(self.altitude / slant))

    def pixel_centres(self):
        """(x, y) of every pixel centre, arrays of shape (height, width)."""
        y, x = np.mgrid[0:self.height, 0:self.width] + 0.5
        return x, y

    def to_radar(self, lon, lat, iterations: int = 30):
        """Radar positions (x, y) of (lon, lat): the inverse of :meth:`lonlat` by Newton steps
        (for truth values in tests)."""
        lon, lat = np.broadcast_arrays(np.asarray(lon, dtype=np.float64),
                                       np.asarray(lat, dtype=np.float64))
        x = np.full(lon.shape, 0.5 * self.width)
        y = np.full(lon.shape, 0.5 * self.height)
        for _ in range(iterations):
            f_lon, f_lat = self.lonlat(x, y)
            e = 1e-3
            a = np.array(self.lonlat(x + e, y)) - np.array((f_lon, f_lat))
            b = np.array(self.lonlat(x, y + e)) - np.array((f_lon, f_lat))
            det = (a[0] * b[1] - a[1] * b[0]) / e ** 2
            r_lon, r_lat = lon - f_lon, lat - f_lat
            dx = (r_lon * b[1] - r_lat * b[0]) / e / det
            dy = (a[0] * r_lat - a[1] * r_lon) / e / det
            x, y = x + dx, y + dy
        return x, y
