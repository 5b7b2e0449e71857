"""GNSS station velocities and daily position series: readers and containers.

Conventions (see docs/conventions.md and docs/gnss_comparison.md):

* Components are local **east, north, up** (ENU), in that order, in **metres**
  (series) or **metres per year** (velocities) once read; sigmas in the same
  unit; correlations are dimensionless (``corr_en``, ``corr_eu``, ``corr_nu``).
* Station coordinates are geographic WGS84 **longitude, latitude** in degrees,
  longitude wrapped into [−180, 180) (the GAGE/PBO ``.vel`` format stores east
  longitudes 0–360).  Longitude always comes first in this module's
  signatures, so latitude and longitude cannot be swapped silently.
* Dates are UTC calendar days (:mod:`core.dates`): an NGL ``16JUL23`` daily
  solution and an InSAR acquisition at 16:04 on 2016-07-23 share the same day.

Formats read
    * NGL/UNR ``.tenv3`` daily series (:func:`read_tenv3`); the east/north/up
      position is the integer part (``_e0``) plus the fractional part
      (``__east``) of each line, so jumps of the integer part are handled.
    * NGL/UNR MIDAS velocity tables ``midas.<frame>.txt`` (:func:`read_midas`,
      27 columns: velocities in columns 9–11, sigmas 12–14, lat/lon/height
      25–27, m/yr).
    * GAGE/PBO ``.vel`` velocity files (:func:`read_gage_vel`, m/yr; one line
      per offset-bounded segment: the segment with the latest last epoch is kept).
    * CSV files with named columns (:func:`read_csv_velocities`,
      :func:`read_csv_series`), in a unit the caller states.

Every reader raises ``ValueError`` naming the file, the line and the column
when something cannot be read.
"""

from __future__ import annotations

import csv
import datetime as _dt
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from . import units as _units
from . import validation
from .dates import parse_date

#: Column-name aliases understood by the CSV readers (lower case, spaces/underscores ignored).
CSV_ALIASES = {
    "station": ("station", "site", "name", "sta", "id", "dot#"),
    "lon": ("lon", "longitude", "long", "elong", "x"),
    "lat": ("lat", "latitude", "nlat", "y"),
    "east": ("east", "e", "ve", "vel_e", "de", "de/dt", "velocity_east"),
    "north": ("north", "n", "vn", "vel_n", "dn", "dn/dt", "velocity_north"),
    "up": ("up", "u", "vu", "vel_u", "du", "du/dt", "velocity_up", "vertical"),
    "sig_east": ("sig_east", "sig_e", "se", "sigma_east", "sigma_e", "std_e", "sed"),
    "sig_north": ("sig_north", "sig_n", "sn", "sigma_north", "sigma_n", "std_n", "snd"),
    "sig_up": ("sig_up", "sig_u", "su", "sigma_up", "sigma_u", "std_u", "sud"),
    "corr_en": ("corr_en", "rne", "rho_en", "corr_ne"),
    "corr_eu": ("corr_eu", "reu", "rho_eu", "corr_ue"),
    "corr_nu": ("corr_nu", "rnu", "rho_nu", "corr_un"),
    "date": ("date", "day", "epoch", "time", "datetime"),
}


def wrap_longitude(lon):
    """Longitudes (degrees) wrapped into [−180, 180): 266.9 -> −93.1."""
    return (np.asarray(lon, dtype=np.float64) + 180.0) % 360.0 - 180.0


def _check_coordinates(lon, lat, source):
    lat = np.asarray(lat, dtype=np.float64)
    bad = np.abs(lat) > 90.0
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{source}: latitude {lat[i]!r} of station #{i + 1} is outside [-90, 90]: "
            "are longitude and latitude swapped?")
    lon = np.asarray(lon, dtype=np.float64)
    bad = (lon < -180.0) | (lon > 360.0)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{source}: longitude {lon[i]!r} of station #{i + 1} is outside [-180, 360]")


@dataclass
class GnssVelocities:
    """Station velocities (ENU, m/yr) at WGS84 lon/lat (degrees, lon in [−180, 180))."""

    station: List[str]
    lon: np.ndarray
    lat: np.ndarray
    east: np.ndarray
    north: np.ndarray
    up: np.ndarray
    sig_east: np.ndarray
    sig_north: np.ndarray
    sig_up: np.ndarray
    corr_en: np.ndarray
    corr_eu: np.ndarray
    corr_nu: np.ndarray
    units: str = "m/yr"
    source: str = ""

    def __len__(self) -> int:
        return len(self.station)

    def index(self, name: str) -> int:
        """Position of station ``name`` (case-insensitive); ValueError if absent."""
        wanted = str(name).strip().upper()
        for i, s in enumerate(self.station):
            if s.upper() == wanted:
                return i
        raise ValueError(f"station {name!r} is not in {self.source or 'the GNSS data'}")


@dataclass
class GnssSeries:
    """One station's daily positions (ENU, metres) at WGS84 lon/lat (degrees)."""

    station: str
    lon: float
    lat: float
    dates: List[_dt.date]
    east: np.ndarray
    north: np.ndarray
    up: np.ndarray
    sig_east: np.ndarray
    sig_north: np.ndarray
    sig_up: np.ndarray
    corr_en: np.ndarray = field(default=None)
    corr_eu: np.ndarray = field(default=None)
    corr_nu: np.ndarray = field(default=None)
    source: str = ""

    def __post_init__(self):
        n = len(self.dates)
        for name in ("corr_en", "corr_eu", "corr_nu"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(n))

    def ordinals(self) -> np.ndarray:
        """Dates as proleptic Gregorian day numbers (``date.toordinal()``)."""
        return np.array([d.toordinal() for d in self.dates], dtype=np.int64)


def _float(text, path, line_no, column):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(
            f"{os.path.basename(path)} line {line_no}, column {column}: "
            f"{text!r} is not a number") from None
    return value


# --------------------------------------------------------------------- NGL .tenv3
_TENV3_COLUMNS = 23


def read_tenv3(path: str) -> GnssSeries:
    """Read an NGL/UNR ``.tenv3`` daily series.

    Positions are returned in metres relative to the integer parts of the first
    line (``e0 + east - e0_first`` ...), so only differences are meaningful;
    sigmas in metres; the station position is the mean lat/lon of the file.
    Dates come from the ``YYMMMDD`` column (calendar day, UTC).
    """
    name = os.path.basename(path)
    rows = []
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        for line_no, line in enumerate(fh, start=1):
            parts = line.split()
            if not parts or parts[0].lower() == "site" or line.startswith("#"):
                continue
            if len(parts) < _TENV3_COLUMNS:
                raise ValueError(
                    f"{name} line {line_no}: {len(parts)} columns, a .tenv3 line has "
                    f"{_TENV3_COLUMNS} (site YYMMMDD yyyy.yyyy MJD week d reflon e0 east n0 north "
                    "u0 up ant sig_e sig_n sig_u corr_en corr_eu corr_nu lat lon height)")
            try:
                day = parse_date(parts[1])
            except ValueError:
                raise ValueError(f"{name} line {line_no}, column 2 (YYMMMDD): {parts[1]!r} "
                                 "is not a date") from None
            cols = {
                "e0": 7, "east": 8, "n0": 9, "north": 10, "u0": 11, "up": 12,
                "sig_e": 14, "sig_n": 15, "sig_u": 16, "corr_en": 17, "corr_eu": 18,
                "corr_nu": 19, "lat": 20, "lon": 21,
            }
            values = {k: _float(parts[i], path, line_no, f"{i + 1} ({k})") for k, i in cols.items()}
            rows.append((parts[0], day, values))
    if not rows:
        raise ValueError(f"{name}: no daily solution lines (is it an NGL .tenv3 file?)")
    stations = {r[0] for r in rows}
    if len(stations) > 1:
        raise ValueError(f"{name}: several stations in one .tenv3 file ({', '.join(sorted(stations))})")
    rows.sort(key=lambda r: r[1])
    first = rows[0][2]

    def col(key):
        return np.array([r[2][key] for r in rows], dtype=np.float64)

    east = (col("e0") - first["e0"]) + col("east")
    north = (col("n0") - first["n0"]) + col("north")
    up = (col("u0") - first["u0"]) + col("up")
    lat, lon = col("lat"), col("lon")
    _check_coordinates(lon, lat, name)
    return GnssSeries(
        station=rows[0][0], lon=float(wrap_longitude(np.mean(lon))), lat=float(np.mean(lat)),
        dates=[r[1] for r in rows], east=east, north=north, up=up,
        sig_east=col("sig_e"), sig_north=col("sig_n"), sig_up=col("sig_u"),
        corr_en=col("corr_en"), corr_eu=col("corr_eu"), corr_nu=col("corr_nu"), source=name)


# --------------------------------------------------------------------- MIDAS
def read_midas(path: str) -> GnssVelocities:
    """Read an NGL/UNR MIDAS velocity table (``midas.IGS14.txt`` and plate-fixed variants).

    Columns (1-based): 1 station, 2 MIDAS label, 9–11 east/north/up velocity,
    12–14 their sigmas (m/yr), 25–27 latitude, longitude, height.  MIDAS gives
    no correlations (taken as 0).
    """
    name = os.path.basename(path)
    out: Dict[str, list] = {k: [] for k in ("station", "lat", "lon", "e", "n", "u", "se", "sn", "su")}
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        for line_no, line in enumerate(fh, start=1):
            parts = line.split()
            if not parts or line.lstrip().startswith("#"):
                continue
            if len(parts) < 27:
                raise ValueError(
                    f"{name} line {line_no}: {len(parts)} columns, a MIDAS line has 27 "
                    "(station label t1 tm dT m mgood n ve vn vu se sn su ... lat lon height)")
            out["station"].append(parts[0])
            for key, i in (("e", 8), ("n", 9), ("u", 10), ("se", 11), ("sn", 12), ("su", 13),
                           ("lat", 24), ("lon", 25)):
                out[key].append(_float(parts[i], path, line_no, i + 1))
    if not out["station"]:
        raise ValueError(f"{name}: no station lines (is it a MIDAS velocity table?)")
    return _velocities(out, name, "m/yr")


def _velocities(out, name, unit, corr=None) -> GnssVelocities:
    lon, lat = np.array(out["lon"], float), np.array(out["lat"], float)
    _check_coordinates(lon, lat, name)
    n = len(out["station"])
    factor = _units.unit_factor(unit, "m/yr") if _units.is_velocity_unit(unit) else None
    if factor is None:
        raise ValueError(f"{name}: velocities need a velocity unit (m/yr, cm/yr, mm/yr), not {unit!r}")
    corr = corr or {}
    return GnssVelocities(
        station=[str(s) for s in out["station"]], lon=wrap_longitude(lon), lat=lat,
        east=np.array(out["e"], float) * factor, north=np.array(out["n"], float) * factor,
        up=np.array(out["u"], float) * factor,
        sig_east=np.array(out["se"], float) * factor, sig_north=np.array(out["sn"], float) * factor,
        sig_up=np.array(out["su"], float) * factor,
        corr_en=np.array(corr.get("en", np.zeros(n)), float),
        corr_eu=np.array(corr.get("eu", np.zeros(n)), float),
        corr_nu=np.array(corr.get("nu", np.zeros(n)), float),
        units="m/yr", source=name)


# --------------------------------------------------------------------- GAGE / PBO .vel
def read_gage_vel(path: str) -> GnssVelocities:
    """Read a GAGE/PBO ``.vel`` velocity file (e.g. ``cwu.final_nam14.vel``).

    After the 4-character id and the 16-character name, the whitespace-separated
    fields are: ref_epoch ref_jday X Y Z **Nlat Elong** (east longitude 0–360) Up,
    dX dY dZ, sX sY sZ, Rxy Rxz Ryz, **dN dE dU** (m/yr), **SNd SEd SUd**,
    **Rne Rnu Reu**, first_epoch last_epoch.  A station appears once per
    offset-bounded segment: the segment with the latest ``last_epoch`` is kept.
    """
    name = os.path.basename(path)
    segments: Dict[str, tuple] = {}
    order: List[str] = []
    started = False
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not started:
                if line.startswith("*"):
                    started = True
                continue
            if not line.strip():
                continue
            station = line[1:5].strip()
            fields = line[5:].split()
            if not station or len(fields) < 29:
                raise ValueError(
                    f"{name} line {line_no}: cannot read a station line (expected a 4-character "
                    f"id, a 16-character name and 28 fields, found {max(0, len(fields) - 1)} "
                    "fields after the id)")
            fields = fields[-28:]  # the name may contain spaces
            idx = {"lat": 5, "lon": 6, "n": 17, "e": 18, "u": 19, "sn": 20, "se": 21, "su": 22,
                   "ne": 23, "nu": 24, "eu": 25}
            vals = {k: _float(fields[i], path, line_no, f"{k} (field {i + 1} after the name)")
                    for k, i in idx.items()}
            last = fields[27]
            if station not in segments:
                order.append(station)
                segments[station] = (last, vals)
            elif last >= segments[station][0]:
                segments[station] = (last, vals)
    if not started:
        raise ValueError(f"{name}: no '*Dot#' header line: is it a GAGE/PBO .vel file?")
    if not order:
        raise ValueError(f"{name}: no station lines after the header")
    out: Dict[str, list] = {k: [] for k in ("station", "lat", "lon", "e", "n", "u", "se", "sn", "su")}
    corr = {"en": [], "eu": [], "nu": []}
    for station in order:
        v = segments[station][1]
        out["station"].append(station)
        for k in ("lat", "lon", "e", "n", "u", "se", "sn", "su"):
            out[k].append(v[k])
        corr["en"].append(v["ne"])
        corr["eu"].append(v["eu"])
        corr["nu"].append(v["nu"])
    return _velocities(out, name, "m/yr", corr)


# --------------------------------------------------------------------- CSV
def _norm(name: str) -> str:
    return str(name).strip().lower().replace(" ", "").replace("_", "").replace("(m/yr)", "")


def _resolve_columns(header: Sequence[str], mapping: Optional[Dict[str, str]], wanted, path):
    """Map each wanted key to a header column index, from ``mapping`` or the aliases."""
    normalised = {_norm(h): i for i, h in enumerate(header)}
    found = {}
    for key in wanted:
        explicit = (mapping or {}).get(key)
        if explicit:
            i = normalised.get(_norm(explicit))
            if i is None:
                raise ValueError(
                    f"{os.path.basename(path)}: column {explicit!r} (for {key}) is not in the "
                    f"header ({', '.join(header)})")
            found[key] = i
            continue
        for alias in CSV_ALIASES[key]:
            i = normalised.get(_norm(alias))
            if i is not None:
                found[key] = i
                break
    return found


def _read_csv_rows(path):
    with open(path, "r", encoding="utf-8-sig", newline="") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(fh, dialect)
        rows = [r for r in reader if r and any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{os.path.basename(path)}: the file is empty")
    return rows[0], rows[1:]


def _require(found, keys, header, path):
    missing = [k for k in keys if k not in found]
    if missing:
        raise ValueError(
            f"{os.path.basename(path)}: missing column(s) {', '.join(missing)} (header: "
            f"{', '.join(header)}). Name them in the header (e.g. station, lon, lat, east, "
            "north, up) or map them with the field parameters")


def read_csv_velocities(path: str, units: str, mapping: Optional[Dict[str, str]] = None) -> GnssVelocities:
    """Read station velocities from a CSV file with a header.

    Required columns: station, lon, lat, east, north, up; optional sig_east,
    sig_north, sig_up, corr_en, corr_eu, corr_nu (names from ``mapping`` or the
    aliases in :data:`CSV_ALIASES`).  ``units`` is the velocity unit of the
    components and sigmas (m/yr, cm/yr, mm/yr); a length unit raises ValueError.
    """
    name = os.path.basename(path)
    unit = _units.normalize_unit(units)
    if not _units.is_velocity_unit(unit):
        raise ValueError(f"{name}: GNSS units {unit!r} are a displacement, but velocities were "
                         "asked for: choose m/yr, cm/yr or mm/yr")
    header, rows = _read_csv_rows(path)
    keys = list(CSV_ALIASES)
    keys.remove("date")
    found = _resolve_columns(header, mapping, keys, path)
    _require(found, ("station", "lon", "lat", "east", "north", "up"), header, path)
    out: Dict[str, list] = {k: [] for k in ("station", "lat", "lon", "e", "n", "u", "se", "sn", "su")}
    corr = {"en": [], "eu": [], "nu": []}
    short = {"east": "e", "north": "n", "up": "u", "sig_east": "se", "sig_north": "sn", "sig_up": "su",
             "lon": "lon", "lat": "lat"}
    for line_no, row in enumerate(rows, start=2):
        out["station"].append(row[found["station"]].strip() if found["station"] < len(row) else "")
        for key, short_key in short.items():
            if key in found:
                i = found[key]
                text = row[i] if i < len(row) else ""
                out[short_key].append(_float(text, path, line_no, f"{i + 1} ({header[i]})"))
            else:
                out[short_key].append(np.nan)
        for key in ("en", "eu", "nu"):
            i = found.get("corr_" + key)
            corr[key].append(
                _float(row[i], path, line_no, f"{i + 1} ({header[i]})") if i is not None else 0.0)
    if not out["station"]:
        raise ValueError(f"{name}: no data rows after the header")
    return _velocities(out, name, unit, corr)


def read_csv_series(path: str, units: str, mapping: Optional[Dict[str, str]] = None) -> List[GnssSeries]:
    """Read daily positions of one or more stations from a CSV file (long format).

    Required columns: station, date, lon, lat, east, north, up (optional sigmas);
    ``units`` is the length unit (m, cm, mm).  Returns one :class:`GnssSeries`
    per station, in metres, sorted by date.
    """
    name = os.path.basename(path)
    unit = _units.normalize_unit(units)
    if _units.is_velocity_unit(unit):
        raise ValueError(f"{name}: GNSS units {unit!r} are a velocity, but a position time series "
                         "was given: choose m, cm or mm")
    factor = _units.unit_factor(unit, "m")
    header, rows = _read_csv_rows(path)
    found = _resolve_columns(header, mapping, list(CSV_ALIASES), path)
    _require(found, ("station", "date", "lon", "lat", "east", "north", "up"), header, path)
    per: Dict[str, list] = {}
    for line_no, row in enumerate(rows, start=2):
        station = row[found["station"]].strip()
        i = found["date"]
        try:
            day = parse_date(row[i])
        except (ValueError, IndexError):
            raise ValueError(f"{name} line {line_no}, column {i + 1} ({header[i]}): "
                             f"{row[i] if i < len(row) else ''!r} is not a date") from None
        vals = {}
        for key in ("lon", "lat", "east", "north", "up", "sig_east", "sig_north", "sig_up"):
            j = found.get(key)
            vals[key] = (_float(row[j] if j < len(row) else "", path, line_no, f"{j + 1} ({header[j]})")
                         if j is not None else np.nan)
        per.setdefault(station, []).append((day, vals))
    if not per:
        raise ValueError(f"{name}: no data rows after the header")
    series = []
    for station, items in per.items():
        items.sort(key=lambda t: t[0])

        def col(key, scale=1.0, items=items):
            return np.array([v[key] for _, v in items], dtype=np.float64) * scale

        lon, lat = col("lon"), col("lat")
        _check_coordinates(lon, lat, name)
        series.append(GnssSeries(
            station=station, lon=float(wrap_longitude(np.nanmean(lon))), lat=float(np.nanmean(lat)),
            dates=[d for d, _ in items], east=col("east", factor), north=col("north", factor),
            up=col("up", factor), sig_east=col("sig_east", factor), sig_north=col("sig_north", factor),
            sig_up=col("sig_up", factor), source=name))
    return series


# --------------------------------------------------------------------- dispatch
VELOCITY_FORMATS = ("auto", "gage", "midas", "csv")


def detect_velocity_format(path: str) -> str:
    """``gage``, ``midas`` or ``csv`` from the file's extension and first lines."""
    lower = path.lower()
    if lower.endswith(".vel"):
        return "gage"
    if lower.endswith((".csv", ".tsv")):
        return "csv"
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        head = [fh.readline() for _ in range(5)]
    if any(h.startswith("PBO Velocity") or h.startswith("*Dot#") for h in head):
        return "gage"
    parts = next((h.split() for h in head if h.strip() and not h.startswith("#")), [])
    if len(parts) >= 27 and parts[1].upper().startswith("MIDAS"):
        return "midas"
    if any("," in h for h in head):
        return "csv"
    raise ValueError(f"{os.path.basename(path)}: cannot tell the GNSS velocity format; "
                     "choose it (GAGE/PBO .vel, MIDAS, CSV)")


def read_velocities(path: str, fmt: str = "auto", units: str = "m/yr",
                    mapping: Optional[Dict[str, str]] = None) -> GnssVelocities:
    """Read a GNSS velocity file of format ``fmt`` (see :data:`VELOCITY_FORMATS`).

    ``units`` applies to CSV only; GAGE and MIDAS files are in m/yr by definition.
    """
    if not os.path.isfile(path):
        raise ValueError(f"GNSS file {path!r} does not exist")
    fmt = detect_velocity_format(path) if fmt == "auto" else fmt
    readers = {"gage": read_gage_vel, "midas": read_midas,
               "csv": lambda p: read_csv_velocities(p, units, mapping)}
    if fmt not in readers:
        raise ValueError(f"unknown GNSS velocity format {fmt!r}: use one of "
                         f"{', '.join(VELOCITY_FORMATS)}")
    velocities = readers[fmt](path)
    validation.unique_names(velocities.station, path)
    return velocities


def read_series(paths: Sequence[str], units: str = "m",
                mapping: Optional[Dict[str, str]] = None) -> List[GnssSeries]:
    """Read daily GNSS series from ``.tenv3`` files and/or CSV (long format) files."""
    series: List[GnssSeries] = []
    for path in paths:
        if not os.path.isfile(path):
            raise ValueError(f"GNSS file {path!r} does not exist")
        if path.lower().endswith((".tenv3", ".tenv")):
            series.append(read_tenv3(path))
        elif path.lower().endswith((".csv", ".tsv", ".txt")):
            series.extend(read_csv_series(path, units, mapping))
        else:
            raise ValueError(f"{os.path.basename(path)}: GNSS series must be NGL .tenv3 or CSV files")
    sources: Dict[str, List[str]] = {}
    for s in series:
        sources.setdefault(s.station.strip().upper(), []).append(s.source)
    dupes = {name: files for name, files in sources.items() if len(files) > 1}
    if dupes:
        raise ValueError("station names must be unique, but " + "; ".join(
            f"{name} comes from {len(files)} series (in {', '.join(files)})"
            for name, files in sorted(dupes.items())) + ": give each station once")
    return series
