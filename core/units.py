"""Units of displacement and velocity, and conversions between them.

Every raster this toolkit writes records its unit in the band metadata
(``units``) using the symbols below.  Displacements are lengths (m, cm, mm);
velocities are lengths per year (m/yr, cm/yr, mm/yr; a year is the Julian
year of 365.25 days).  Internally all numerics work in metres and metres per
year.
"""

from __future__ import annotations

LENGTH_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001}
VELOCITY_UNITS = {"m/yr": 1.0, "cm/yr": 0.01, "mm/yr": 0.001}
DAYS_PER_YEAR = 365.25

_ALIASES = {
    "meter": "m", "meters": "m", "metre": "m", "metres": "m",
    "centimeter": "cm", "centimeters": "cm", "centimetre": "cm", "centimetres": "cm",
    "millimeter": "mm", "millimeters": "mm", "millimetre": "mm", "millimetres": "mm",
    "m/year": "m/yr", "m/a": "m/yr", "m yr-1": "m/yr", "m/y": "m/yr",
    "cm/year": "cm/yr", "cm/a": "cm/yr", "cm yr-1": "cm/yr", "cm/y": "cm/yr",
    "mm/year": "mm/yr", "mm/a": "mm/yr", "mm yr-1": "mm/yr", "mm/y": "mm/yr",
}


def normalize_unit(unit: str) -> str:
    """Return the canonical symbol for ``unit`` (e.g. ``'metres'`` -> ``'m'``).

    Raises ValueError for a unit that is neither a length nor a velocity.
    """
    key = str(unit).strip()
    key = _ALIASES.get(key.lower(), key)
    if key in LENGTH_UNITS or key in VELOCITY_UNITS:
        return key
    raise ValueError(
        f"unknown unit {unit!r}: use one of {', '.join(list(LENGTH_UNITS) + list(VELOCITY_UNITS))}"
    )


def is_velocity_unit(unit: str) -> bool:
    """True for a length-per-year unit."""
    return normalize_unit(unit) in VELOCITY_UNITS


def unit_factor(from_unit: str, to_unit: str) -> float:
    """Multiplicative factor converting values in ``from_unit`` to ``to_unit``.

    Both must be lengths or both velocities; mixing them raises ValueError,
    because a displacement cannot become a velocity without a time span.
    """
    a, b = normalize_unit(from_unit), normalize_unit(to_unit)
    if (a in LENGTH_UNITS) != (b in LENGTH_UNITS):
        raise ValueError(
            f"cannot convert {a} to {b}: one is a displacement, the other a velocity"
        )
    table = LENGTH_UNITS if a in LENGTH_UNITS else VELOCITY_UNITS
    return table[a] / table[b]


def convert(values, from_unit: str, to_unit: str):
    """Convert ``values`` (scalar or numpy array) from ``from_unit`` to ``to_unit``."""
    factor = unit_factor(from_unit, to_unit)
    return values * factor if factor != 1.0 else values


#: Units recognised at the end of a band description, "Offset x (px)" (besides the lengths
#: and velocities above).
OTHER_UNITS = ("px", "pixel", "pixels", "rad", "deg", "degrees", "°", "dB", "1", "days", "yr",
               "m/pixel", "count")


def split_unit_suffix(text: str):
    """``"Vertical displacement (mm)"`` -> ``("Vertical displacement", "mm")``; text that
    does not end in a parenthesised unit comes back whole with an empty unit."""
    text = str(text or "").rstrip()
    if text.endswith(")") and " (" in text:
        base, unit = text[:-1].rsplit(" (", 1)
        try:
            normalize_unit(unit)
            return base.rstrip(), unit
        except ValueError:
            if unit in OTHER_UNITS:
                return base.rstrip(), unit
    return text, ""


def with_unit(text: str, unit: str) -> str:
    """``with_unit("Offset x", "px")`` -> ``"Offset x (px)"``: a label that carries its unit
    (an older unit suffix is replaced; no unit leaves the label as it is)."""
    base, _ = split_unit_suffix(text)
    return f"{base} ({unit})" if unit and base else (base or str(text or ""))
