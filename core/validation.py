"""One validation per physical quantity, used by every algorithm that takes it.

Each function refuses a value that cannot be what the parameter means, with a ValueError
whose message starts with the parameter name and the value, says what is wrong and how to
fix it (``NAME = value: problem. Fix``), so the Processing base class can pass it on as it is.
The rules (docs/conventions.md, "Validation rules"):

* **Incidence** (from the vertical at the ground): strictly between 0 and 90 degrees
  (0 and pi/2 radians).  0 is nadir and 90 grazing: no SAR images either, and a projection
  on the vertical divides by cos(90°) = 0.
* **Heading, LOS azimuth** (degrees) and HyP3 ``lv_phi`` (radians): any angle within one
  turn either way, [-360, 360] degrees ([-2 pi, 2 pi] radians), is accepted and used
  modulo 360 (348 and -12 are the same heading).  Beyond one turn the value is refused, not
  wrapped: 400 is a typing error more often than a heading of 40.  HyP3 ``lv_theta`` (the
  look vector's elevation) is an incidence's complement: strictly between 0 and pi/2.
  Unit-vector components (LiCSBAS, OPERA) lie in [-1, 1] with east² + north² < 1; a
  unit-vector raster is checked pixel by pixel (:func:`check_unit_vector_raster`: length 1
  within :data:`UNIT_VECTOR_TOLERANCE`, pointing up).
* **Wavelength**: metres, between 1 mm and 1 m (Ka band 8.4 mm to P band 0.69 m); a value
  of 5.5 is centimetres, not metres, and is refused.
* **Integers** (window sizes, steps, counts): an integral value; 2.5 is refused, never
  rounded to 3.
* **Station names**: unique in a file (compared without case, as stations are looked up);
  the duplicates and the file are named.

Rasters of angles are checked over all their valid (finite, non-nodata) pixels before
anything is written: the error gives how many pixels are out of range and their range.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class Range:
    """Accepted interval of one quantity (``low``/``high`` inclusive or not)."""

    low: float
    high: float
    low_inclusive: bool
    high_inclusive: bool
    unit: str
    meaning: str
    hint: str

    def contains(self, values) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        above = v >= self.low if self.low_inclusive else v > self.low
        below = v <= self.high if self.high_inclusive else v < self.high
        return above & below

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if not (self.low_inclusive or self.high_inclusive):
            return f"strictly between {self.low:g} and {self.high:g}{unit}"
        if self.low_inclusive and self.high_inclusive:
            return f"between {self.low:g} and {self.high:g}{unit} (inclusive)"
        lo = "[" if self.low_inclusive else "("
        hi = "]" if self.high_inclusive else ")"
        return f"in {lo}{self.low:g}, {self.high:g}{hi}{unit}"


_HALF_PI = math.pi / 2
_TWO_PI = 2 * math.pi

#: Accepted ranges of the angle-like quantities (see the module docstring).
RANGES = {
    "incidence": Range(0.0, 90.0, False, False, "degrees", "an incidence from the vertical",
                       "Give the incidence in degrees from the vertical (Sentinel-1: 29 to 46); "
                       "an elevation angle e is an incidence of 90 - e"),
    "incidence_radians": Range(0.0, _HALF_PI, False, False, "radians",
                               "an incidence from the vertical",
                               "Give the incidence in radians from the vertical (0.5 to 0.8 "
                               "for Sentinel-1) or declare the units as degrees"),
    "heading": Range(-360.0, 360.0, True, True, "degrees", "a heading clockwise from north",
                     "Give the flight direction in degrees clockwise from north, within one "
                     "turn (Sentinel-1 ascending about -12 or 348, descending about -168 or 192)"),
    "los_azimuth": Range(-360.0, 360.0, True, True, "degrees",
                         "a LOS azimuth anti-clockwise from north",
                         "Give the ground-to-satellite azimuth in degrees anti-clockwise from "
                         "north, within one turn (MintPy azimuthAngle; right-looking: 90 - heading)"),
    "azimuth": Range(-360.0, 360.0, True, True, "degrees", "an azimuth clockwise from north",
                     "Give the direction in degrees clockwise from north (90 = east), within "
                     "one turn"),
    "lv_theta": Range(0.0, _HALF_PI, False, False, "radians",
                      "a HyP3 lv_theta (look-vector elevation)",
                      "Give lv_theta in radians (incidence = 90 deg - lv_theta)"),
    "lv_phi": Range(-_TWO_PI, _TWO_PI, True, True, "radians",
                    "a HyP3 lv_phi (look-vector orientation from east)",
                    "Give lv_phi in radians, within one turn"),
    "unit_east": Range(-1.0, 1.0, True, True, "", "an east component of a unit vector",
                       "Give the east component of the ground-to-satellite unit vector"),
    "unit_north": Range(-1.0, 1.0, True, True, "", "a north component of a unit vector",
                        "Give the north component of the ground-to-satellite unit vector"),
}

#: The two geometry quantities of each angle convention of the toolkit
#: (core.decomposition.ANGLE_CONVENTIONS, core.gnss_comparison.AZIMUTH_KINDS).
CONVENTION_QUANTITIES = {
    "heading": ("incidence", "heading"),
    "los_azimuth": ("incidence", "los_azimuth"),
    "hyp3": ("lv_theta", "lv_phi"),
    "unit_vector": ("unit_east", "unit_north"),
}

WAVELENGTH_RANGE_M = (0.001, 1.0)


def _error(parameter: str, value, problem: str, fix: str) -> ValueError:
    return ValueError(f"{parameter} = {value!r}: {problem}. {fix}")


def finite_number(value, parameter: str, meaning: str = "the value") -> float:
    """``value`` as a finite float, or ValueError naming ``parameter`` (``meaning``: what
    the number is, for the message)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _error(parameter, value, f"{meaning} must be a number", "Give a number") from None
    if not math.isfinite(number):
        raise _error(parameter, value, f"{meaning} must be a finite number",
                     "Give a finite number")
    return number


def check_quantity(value, quantity: str, parameter: str) -> float:
    """A scalar of ``quantity`` (a key of :data:`RANGES`) as a float, or ValueError."""
    rng = RANGES[quantity]
    number = finite_number(value, parameter, rng.meaning)
    if not bool(rng.contains(number)):
        raise _error(parameter, value, f"{rng.meaning} must be {rng.describe()}", rng.hint)
    return number


def incidence(value, parameter: str = "INCIDENCE_ANGLE", units: str = "degrees") -> float:
    """An incidence (degrees or radians, as given) strictly between 0 and 90 degrees."""
    return check_quantity(value, "incidence_radians" if units == "radians" else "incidence",
                          parameter)


def heading(value, parameter: str = "HEADING", convention: str = "heading") -> float:
    """A heading or LOS azimuth (degrees) within one turn, or ValueError (never wrapped here:
    the trigonometry of core.geometry takes any angle of the accepted range)."""
    return check_quantity(value, "los_azimuth" if convention == "los_azimuth" else "heading",
                          parameter)


def geometry_pair(first, second, convention: str, parameters: Sequence[str]):
    """Check the two constants of an angle convention (``None`` = not given, skipped).

    ``parameters``: the names of the two inputs; returns ``(first, second)`` as floats or None.
    For ``unit_vector`` the pair must also have east² + north² < 1."""
    if convention not in CONVENTION_QUANTITIES:
        raise ValueError(f"unknown angle convention {convention!r}: use one of "
                         f"{', '.join(CONVENTION_QUANTITIES)}")
    out = [None if v is None else check_quantity(v, q, p)
           for v, q, p in zip((first, second), CONVENTION_QUANTITIES[convention], parameters)]
    if convention == "unit_vector" and None not in out and out[0] ** 2 + out[1] ** 2 >= 1.0:
        raise _error(parameters[0], first, f"with {parameters[1]} = {second!r} the horizontal "
                     "part of the unit vector is 1 or more (no upward component)",
                     "Give the east and north components of the ground-to-satellite unit vector")
    return tuple(out)


def check_values(values, quantity: str, parameter: str, source: str = "") -> None:
    """ValueError when finite ``values`` (an array, e.g. a raster block) of ``quantity``
    fall outside its range: how many, the fraction and their extremes are reported."""
    rng = RANGES[quantity]
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    bad = finite[~rng.contains(finite)]
    if bad.size:
        raise _range_error(rng, parameter, source, bad.size, finite.size,
                           float(bad.min()), float(bad.max()))


def _range_error(rng: Range, parameter: str, source: str, bad: int, total: int,
                 lo: float, hi: float) -> ValueError:
    where = f" = {source!r}" if source else ""
    return ValueError(
        f"{parameter}{where}: {bad} of {total} valid pixels ({100.0 * bad / total:.3g} %) are "
        f"outside the range of {rng.meaning}, {rng.describe()} (out-of-range values from "
        f"{lo:g} to {hi:g}). "
        f"{rng.hint}; if these pixels are fill values, declare them as the raster's nodata "
        "(gdal_edit.py -a_nodata VALUE)")


def check_raster(path: str, band: int, quantity: str, parameter: str, monitor=None) -> None:
    """Scan band ``band`` of the raster ``path`` block by block (bounded memory) and refuse it
    when any valid pixel is out of the range of ``quantity`` (see :func:`check_values`)."""
    from .raster_io import block_rows, iter_blocks, open_raster, raster_info, read_block

    rng = RANGES[quantity]
    info = raster_info(path)
    ds = open_raster(path)
    bad = total = 0
    lo, hi = math.inf, -math.inf
    try:
        for r0, n in iter_blocks(info.height, block_rows(info.width, 8)):
            if monitor is not None:
                monitor.check()
            v = read_block(ds, band, r0, 0, n).astype(np.float64, copy=False)
            finite = v[np.isfinite(v)]
            out = finite[~rng.contains(finite)]
            total += finite.size
            if out.size:
                bad += out.size
                lo, hi = min(lo, float(out.min())), max(hi, float(out.max()))
    finally:
        ds = None
    if bad:
        raise _range_error(rng, parameter, path, bad, total, lo, hi)


#: accepted deviation of a unit vector's length from 1 (float32 storage is 1e-7; LiCSBAS
#: multilooking averages neighbouring unit vectors, shortening them by < 1e-4)
UNIT_VECTOR_TOLERANCE = 0.01


def check_unit_vector_raster(sources, parameter: str, tolerance: float = UNIT_VECTOR_TOLERANCE,
                             monitor=None) -> None:
    """Refuse rasters that are not, pixel by pixel, a ground-to-satellite unit vector.

    ``sources``: ``[(path, band), ...]`` of the east, north and (optionally) up components,
    on one grid.  With three components every valid pixel (all components finite) must
    have ``| sqrt(e² + n² + u²) − 1 | <= tolerance`` and ``u > 0`` (a vector pointing
    down is satellite-to-ground: the LOS sign would flip); with two (up derived as
    ``sqrt(1 − e² − n²)``) ``e² + n² < 1``.  Scanned block by block; the ValueError names
    ``parameter``, the count and percentage of bad pixels and their range.  Components on
    different grids are not compared here (their ranges are checked one by one)."""
    from .raster_io import block_rows, iter_blocks, open_raster, raster_info, read_block

    infos = [raster_info(path) for path, _ in sources]
    if any((i.width, i.height) != (infos[0].width, infos[0].height) for i in infos[1:]):
        return
    datasets = {path: open_raster(path) for path, _ in sources}
    three = len(sources) == 3
    bad = down = total = 0
    lo, hi = math.inf, -math.inf
    try:
        for r0, n in iter_blocks(infos[0].height, block_rows(infos[0].width, 8)):
            if monitor is not None:
                monitor.check()
            comps = [read_block(datasets[path], band, r0, 0, n).astype(np.float64, copy=False)
                     for path, band in sources]
            valid = np.logical_and.reduce([np.isfinite(c) for c in comps])
            squared = sum(c[valid] ** 2 for c in comps)
            length = np.sqrt(squared)
            if three:
                wrong = np.abs(length - 1.0) > tolerance
                pointing_down = comps[2][valid] <= 0
                down += int(np.count_nonzero(pointing_down & ~wrong))
                wrong |= pointing_down
            else:
                wrong = squared >= 1.0
            total += int(valid.sum())
            if wrong.any():
                bad += int(wrong.sum())
                lo, hi = min(lo, float(length[wrong].min())), max(hi, float(length[wrong].max()))
    finally:
        datasets = None
    if not bad:
        return
    names = ", ".join(f"{os.path.basename(path)} band {band}" for path, band in sources)
    share = f"{bad} of {total} valid pixels ({100.0 * bad / total:.3g} %)"
    if three:
        problem = (f"{share} are not a ground-to-satellite unit vector: length "
                   f"sqrt(east² + north² + up²) from {lo:.4g} to {hi:.4g} where 1 ± {tolerance:g} "
                   f"is expected with up > 0 ({down} of them point down)")
        fix = ("Give a 3-band raster of the east, north and up components of the unit vector "
               "from the ground to the satellite (LiCSAR *.geo.E/N/U.tif; MintPy: "
               "los_east/north/up); a vector pointing down is satellite-to-ground: negate it")
    else:
        problem = (f"{share} have east² + north² >= 1 (horizontal length from {lo:.4g} to "
                   f"{hi:.4g}): no up component is left, the unit vector is not one")
        fix = ("Give the east and north components of the ground-to-satellite unit vector "
               "(OPERA los_east/los_north), not angles or another vector")
    raise ValueError(f"{parameter} ({names}): {problem}. {fix}; if these pixels are fill "
                     "values, declare them as the raster's nodata (gdal_edit.py -a_nodata VALUE)")


def check_geometry_input(value, band: int, quantity: str, raster_parameter: str,
                         constant_parameter: str, monitor=None):
    """Check one geometry input given as a raster path (scanned, :func:`check_raster`) or a
    constant (:func:`check_quantity`); ``None`` (not given) passes.  Returns the input."""
    if isinstance(value, str) and value:
        check_raster(value, band, quantity, raster_parameter, monitor)
    elif value is not None:
        check_quantity(value, quantity, constant_parameter)
    return value


def wavelength(value, parameter: str = "WAVELENGTH") -> float:
    """A radar wavelength in metres (1 mm to 1 m), or ValueError naming ``parameter``."""
    w = finite_number(value, parameter, "the wavelength (metres)")
    lo, hi = WAVELENGTH_RANGE_M
    if w <= 0:
        raise _error(parameter, value, "the wavelength must be positive (metres)",
                     "E.g. 0.05546576 for Sentinel-1")
    if not lo <= w <= hi:
        raise _error(parameter, value, f"a wavelength of {w:g} m is not a SAR wavelength "
                     f"({lo:g} to {hi:g} m)", "Give it in metres (0.0555 for C band, 0.238 for "
                     "L band, 0.031 for X band)")
    return w


def integer(value, parameter: str, minimum: Optional[int] = None,
            maximum: Optional[int] = None) -> int:
    """An integral number (``64``, ``64.0``, ``"64"``) as int; 2.5 is refused, not rounded."""
    number = finite_number(value, parameter)
    if number != math.floor(number):
        raise _error(parameter, value, "must be a whole number (it is not rounded)",
                     f"Give an integer, e.g. {math.floor(number):.0f} or {math.ceil(number):.0f}")
    n = int(number)
    if minimum is not None and n < minimum:
        raise _error(parameter, value, f"must be at least {minimum}", f"Give {minimum} or more")
    if maximum is not None and n > maximum:
        raise _error(parameter, value, f"must be at most {maximum}", f"Give {maximum} or less")
    return n


def unique_names(names: Iterable[str], source: str, what: str = "station") -> None:
    """ValueError naming the duplicated ``names`` (case-insensitive) and the ``source`` file."""
    rows = {}
    for i, name in enumerate(names):
        rows.setdefault(str(name).strip().upper(), []).append((i + 1, str(name).strip()))
    dupes = [(items[0][1], [i for i, _ in items]) for items in rows.values() if len(items) > 1]
    if dupes:
        listed = "; ".join(f"{name!r} ({len(at)} times: entries {', '.join(map(str, at[:5]))}"
                           f"{' ...' if len(at) > 5 else ''})" for name, at in dupes[:10])
        more = f" and {len(dupes) - 10} more" if len(dupes) > 10 else ""
        raise ValueError(
            f"{os.path.basename(str(source)) or 'the GNSS data'}: {what} names must be unique, "
            f"but {listed}{more} appear more than once (names compared without case). A "
            f"{what} chosen by name would be ambiguous: remove or rename the duplicates")
