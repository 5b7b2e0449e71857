"""Dates of acquisitions and of time-series bands.

Convention: a date is a calendar day in UTC (``datetime.date``).  Values
carrying a time of day (``2016-07-23T16:04:31``, MintPy ``20160723T160431``)
are matched by their calendar day, so InSAR acquisitions at 16:04 and GNSS
daily solutions at 00:00 (or 12:00) of the same day compare as equal.

Dated rasters: a time series is a multi-band raster whose band ``k`` carries
the metadata item ``date`` (``YYYY-MM-DD``) and, for displacements relative
to a reference acquisition, the dataset metadata item ``reference_date``.
:func:`band_dates` also understands band descriptions that are dates and
file names such as ``displacement_20160711_20160723.tif`` (reference,
secondary).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from typing import List, Optional, Sequence

from .units import split_unit_suffix

DATE_KEY = "date"
REFERENCE_DATE_KEY = "reference_date"

_PATTERNS = (
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$"), "ymd"),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})(?:[T_ ]?\d{2}:?\d{2}(?::?\d{2}(?:\.\d*)?)?Z?)?$"), "ymd"),
    (re.compile(r"^(\d{4})/(\d{2})/(\d{2})$"), "ymd"),
    (re.compile(r"^(\d{2})([A-Z]{3})(\d{2})$"), "yymmmdd"),  # NGL .tenv3: 16JUL23
)
_MONTHS = {m: i + 1 for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])}
_IN_NAME = re.compile(r"(?<!\d)(19\d{2}|20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)")


def parse_date(value) -> _dt.date:
    """Calendar day (UTC) of ``value``: a date, datetime, decimal year, or a string in
    ISO (``2016-07-23``, ``2016-07-23T16:04:31Z``), compact (``20160723``,
    ``20160723T160431``), ``2016/07/23`` or NGL ``16JUL23`` form.

    A timezone-aware datetime is converted to UTC before taking its day.
    Raises ValueError naming the value when it is not a date.
    """
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc)
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 1900 <= value < 2200:
            return decimal_year_to_date(float(value))
        return parse_date(str(int(value)))
    text = str(value).strip()
    if text.endswith("Z") and "T" in text:
        try:
            return parse_date(_dt.datetime.fromisoformat(text[:-1] + "+00:00"))
        except ValueError:
            pass
    if "T" in text and ("+" in text[10:] or "-" in text[10:]):
        try:
            return parse_date(_dt.datetime.fromisoformat(text))
        except ValueError:
            pass
    for pattern, kind in _PATTERNS:
        m = pattern.match(text)
        if not m:
            continue
        try:
            if kind == "ymd":
                return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            yy, mon, dd = int(m.group(1)), _MONTHS.get(m.group(2)), int(m.group(3))
            if mon is None:
                break
            return _dt.date(2000 + yy if yy < 80 else 1900 + yy, mon, dd)
        except ValueError:
            break
    raise ValueError(f"{value!r} is not a date (use YYYY-MM-DD or YYYYMMDD)")


def decimal_year(day) -> float:
    """Decimal year of a calendar day (its start), e.g. 2016-07-02 -> 2016.5."""
    day = parse_date(day)
    start = _dt.date(day.year, 1, 1)
    length = (_dt.date(day.year + 1, 1, 1) - start).days
    return day.year + (day - start).days / length


def decimal_year_to_date(value: float) -> _dt.date:
    """Calendar day containing decimal year ``value`` (inverse of :func:`decimal_year`)."""
    year = int(value)
    start = _dt.date(year, 1, 1)
    length = (_dt.date(year + 1, 1, 1) - start).days
    return start + _dt.timedelta(days=int(round((value - year) * length - 1e-9)))


def days_between(start, end) -> int:
    """Whole days from ``start`` to ``end`` (calendar days, UTC)."""
    return (parse_date(end) - parse_date(start)).days


def years_between(start, end) -> float:
    """Years (of 365.25 days) from ``start`` to ``end``."""
    return days_between(start, end) / 365.25


def dates_in_name(path: str) -> List[_dt.date]:
    """All YYYYMMDD dates in a file name, in order (``a_20160711_20160723.tif`` -> two dates)."""
    found = []
    for m in _IN_NAME.finditer(os.path.basename(str(path))):
        try:
            found.append(_dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        except ValueError:
            continue
    return found


def band_dates(band_metadata: Sequence[dict], descriptions: Sequence[str],
               path: Optional[str] = None) -> List[Optional[_dt.date]]:
    """Date of each band of a raster, from (in order of preference) the band metadata item
    ``date``, a band description that is a date, or — for a single-band file — the last
    date in the file name (``displacement_<reference>_<secondary>.tif``).  ``None`` for a
    band with no date."""
    out: List[Optional[_dt.date]] = []
    for i, desc in enumerate(descriptions):
        meta = band_metadata[i] if i < len(band_metadata) else {}
        value = None
        for candidate in (meta.get(DATE_KEY), split_unit_suffix(desc)[0]):
            if candidate:
                try:
                    value = parse_date(candidate)
                    break
                except ValueError:
                    continue
        out.append(value)
    if path and len(out) == 1 and out[0] is None:
        named = dates_in_name(path)
        if named:
            out[0] = named[-1]
    return out


def reference_date(metadata: dict, path: Optional[str] = None) -> Optional[_dt.date]:
    """The reference date of a displacement raster: metadata ``reference_date`` (or
    MintPy's ``REF_DATE``), else the first of two dates in the file name."""
    for key in (REFERENCE_DATE_KEY, "REF_DATE"):
        if metadata.get(key):
            return parse_date(metadata[key])
    if path:
        named = dates_in_name(path)
        if len(named) >= 2:
            return named[0]
    return None


def format_date(day) -> str:
    """ISO form ``YYYY-MM-DD`` (what the toolkit writes in metadata)."""
    return parse_date(day).isoformat()
