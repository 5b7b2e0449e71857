"""Persistent-scatterer and other point datasets: reading, the toolkit's point layer, writing.

Sources (:func:`open_point_source`, format detected from the file):

* **EGMS** CSV (European Ground Motion Service, Basic/Calibrated L2a/L2b and Ortho L3):
  ``pid``, ``easting``/``northing`` (ETRS89-LAEA, EPSG:3035) or ``latitude``/``longitude``,
  ``height``, ``mean_velocity`` and ``mean_velocity_std`` (mm/yr), ``acceleration``,
  ``seasonality``, ``incidence_angle``, ``track_angle``, ``los_east``/``los_north``/
  ``los_up`` (L2 only), and one ``YYYYMMDD`` column per acquisition (displacement in mm).
  The level, track and L3 component come from the file name
  (``EGMS_L2b_088_0286_IW2_VV_2019_2023_1.csv``, ``EGMS_L3_E40N27_100km_U_2019_2023_1.csv``).
* **MintPy** ``save_qgis.py`` layer (ESRI Shapefile, EPSG:4326): ``CODE``, ``HEIGHT``,
  ``VEL`` and ``V_STDEV`` (mm/yr), ``COHERENCE`` and one ``DYYYYMMDD`` field per date (mm).
* **StaMPS** export as the StaMPS-Visualizer writes it (``stamps_tsexport.csv``): columns
  ``export_res_1..N``; the first row holds the reference centre (lon, lat), NaN and the
  acquisition dates as MATLAB datenum − 1; then one row per point: lon, lat, mean
  velocity (mm/yr), displacement per date (mm).
* **CSV** with x/y columns (names given, CRS given) and date columns named ``YYYYMMDD``,
  ``DYYYYMMDD`` or ``YYYY-MM-DD``, in a unit given (m, cm or mm).

The toolkit's **point layer** (:class:`PointWriter`, :class:`PointLayer`) is a GeoPackage
point layer in the source CRS with ``pid`` (text), ``velocity`` and ``velocity_std``
(mm/yr), ``los_e``/``los_n``/``los_u`` (ground-to-satellite unit vector) when known, the
source's quality fields, and ``DYYYYMMDD`` fields (displacement in mm relative to the layer's
reference date, which is the same for every point).  Layer metadata: ``units``,
``velocity_units``, ``reference_date``, ``track``, ``orbit_direction``, ``source_format``...

Files are read in chunks of rows and the layer is written by chunks (bounded memory);
layers are read column by column or in row chunks.  LOS positive toward the satellite.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import itertools
import math
import os
import re
import sqlite3
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from osgeo import gdal, ogr, osr

from . import dates as _dates
from .progress import ensure_monitor
from .units import unit_factor

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

#: Rows parsed (and written) per chunk.
CHUNK_ROWS = 20000

FORMATS = ("auto", "egms", "mintpy", "stamps", "csv")
DATE_FIELD = re.compile(r"^D(\d{8})$")
_DATE_COLUMN = re.compile(r"^D?(\d{8})$|^(\d{4})[-_/](\d{2})[-_/](\d{2})$")
_EGMS_NAME = re.compile(r"EGMS_(L2a|L2b|L3)_(\w+?)_(?:(\d{3,4})_)?", re.IGNORECASE)
#: Quality fields kept from an EGMS file (source column -> layer field).
EGMS_EXTRA = {"height": "height", "height_wgs84": "height_wgs84", "rmse": "rmse",
              "temporal_coherence": "coherence", "amplitude_dispersion": "amplitude_dispersion",
              "incidence_angle": "incidence", "track_angle": "track_angle",
              "acceleration": "acceleration", "acceleration_std": "acceleration_std",
              "seasonality": "seasonality", "seasonality_std": "seasonality_std"}
MINTPY_EXTRA = {"HEIGHT": "height", "COHERENCE": "coherence"}
#: Field aliases (with units) of the point layer.
ALIASES = {"pid": "point id", "velocity": "velocity (mm/yr)", "velocity_std": "velocity 1-sigma (mm/yr)",
           "los_e": "LOS unit vector east (ground to satellite)",
           "los_n": "LOS unit vector north (ground to satellite)",
           "los_u": "LOS unit vector up (ground to satellite)",
           "height": "height (m)", "height_wgs84": "ellipsoidal height (m)", "rmse": "RMSE (mm)",
           "coherence": "temporal coherence", "incidence": "incidence angle (deg)",
           "track_angle": "track angle (deg from north)", "acceleration": "acceleration (mm/yr^2)",
           "acceleration_std": "acceleration 1-sigma (mm/yr^2)",
           "seasonality": "seasonal amplitude (mm)", "seasonality_std": "seasonal amplitude 1-sigma (mm)",
           "velocity_rms": "RMS residual (mm)", "count": "points",
           "annual_amplitude": "annual amplitude (mm)"}


def date_field(day) -> str:
    """``D20160723`` for a date."""
    return "D" + _dates.parse_date(day).strftime("%Y%m%d")


def _column_date(name: str) -> Optional[_dt.date]:
    m = _DATE_COLUMN.match(name.strip())
    if not m:
        return None
    try:
        if m.group(1):
            return _dt.datetime.strptime(m.group(1), "%Y%m%d").date()
        return _dt.date(int(m.group(2)), int(m.group(3)), int(m.group(4)))
    except ValueError:
        return None


def crs_wkt_of(value) -> str:
    """WKT of ``value`` (``EPSG:3035``, an integer code, WKT or PROJ string)."""
    srs = osr.SpatialReference()
    if isinstance(value, int) or str(value).isdigit():
        srs.ImportFromEPSG(int(value))
    else:
        srs.SetFromUserInput(str(value))
    return srs.ExportToWkt()


# --------------------------------------------------------------------------- sources
@dataclass
class PointSource:
    """What a point file holds and where (column names of its CSV form).

    ``columns``: CSV column names; ``roles``: role -> column (``pid``, ``x``, ``y``,
    ``velocity``, ``velocity_std``, ``los_e``, ``los_n``, ``los_u``); ``extra``: column ->
    layer field; ``date_columns``/``dates``: the displacement columns and their dates;
    ``factor``: source unit -> mm; ``skip_rows``: data rows to skip after the header.
    """

    path: str
    format: str
    crs_wkt: str
    columns: List[str]
    roles: Dict[str, str]
    extra: Dict[str, str]
    date_columns: List[str]
    dates: List[_dt.date]
    factor: float = 1.0
    velocity_factor: float = 1.0
    metadata: Dict[str, str] = field(default_factory=dict)
    skip_rows: int = 0
    csv_path: str = ""
    cleanup: List[str] = field(default_factory=list)

    @property
    def has_los(self) -> bool:
        return all(k in self.roles for k in ("los_e", "los_n", "los_u"))

    def describe(self) -> str:
        span = f"{self.dates[0]} .. {self.dates[-1]} ({len(self.dates)} dates)" if self.dates \
            else "no dates"
        meta = ", ".join(f"{k} {v}" for k, v in self.metadata.items()
                         if k in ("level", "track", "orbit_direction", "component"))
        return f"{self.format} {os.path.basename(self.path)}: {span}{', ' + meta if meta else ''}"

    def close(self) -> None:
        for p in self.cleanup:
            if os.path.exists(p):
                os.remove(p)
        self.cleanup = []


def _read_header(path: str) -> List[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            first = fh.readline()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{os.path.basename(path)} is not a text (UTF-8) CSV: byte "
                         f"{exc.start} is binary") from None
    if not first.strip():
        raise ValueError(f"{os.path.basename(path)} is empty")
    delim = ";" if first.count(";") > first.count(",") else ","
    return [c.strip() for c in next(csv.reader([first], delimiter=delim))]


def detect_format(path: str) -> str:
    """``egms``, ``mintpy``, ``stamps`` or ``csv`` from the file's columns."""
    if not str(path).lower().endswith((".csv", ".txt")):
        names = _vector_fields(path)
        if "VEL" in names and any(DATE_FIELD.match(n) for n in names):
            return "mintpy"
        return "csv"
    cols = _read_header(path)
    if "pid" in cols and "mean_velocity" in cols:
        return "egms"
    if cols and all(re.match(r"^export_res_\d+$", c) for c in cols):
        return "stamps"
    return "csv"


def _vector_fields(path: str) -> List[str]:
    ds = ogr.Open(str(path))
    if ds is None or ds.GetLayerCount() == 0:
        raise ValueError(f"{os.path.basename(path)} is not a vector file GDAL can open")
    defn = ds.GetLayer(0).GetLayerDefn()
    return [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]


def _dated(cols: Sequence[str]) -> Tuple[List[str], List[_dt.date]]:
    pairs = [(c, _column_date(c)) for c in cols]
    pairs = [(c, d) for c, d in pairs if d is not None]
    pairs.sort(key=lambda p: p[1])
    days = [d for _, d in pairs]
    if len(set(days)) != len(days):
        raise ValueError("two displacement columns have the same date")
    return [c for c, _ in pairs], days


def _egms_source(path: str) -> PointSource:
    cols = _read_header(path)
    roles = {"pid": "pid", "velocity": "mean_velocity"}
    if "mean_velocity_std" in cols:
        roles["velocity_std"] = "mean_velocity_std"
    if "easting" in cols and "northing" in cols:
        roles.update(x="easting", y="northing")
        crs = crs_wkt_of(3035)
    elif "longitude" in cols and "latitude" in cols:
        roles.update(x="longitude", y="latitude")
        crs = crs_wkt_of(4326)
    else:
        raise ValueError(f"{os.path.basename(path)}: an EGMS file needs easting/northing or "
                         "latitude/longitude columns")
    for k, c in (("los_e", "los_east"), ("los_n", "los_north"), ("los_u", "los_up")):
        if c in cols:
            roles[k] = c
    extra = {c: f for c, f in EGMS_EXTRA.items() if c in cols}
    date_cols, days = _dated(cols)
    meta = {"source_format": "EGMS", "los_convention": "ground to satellite (east, north, up)"}
    m = _EGMS_NAME.search(os.path.basename(path))
    if m:
        meta["level"] = m.group(1).upper().replace("L2A", "L2a").replace("L2B", "L2b")
        if m.group(1).upper() != "L3" and m.group(2).isdigit():
            meta["track"] = str(int(m.group(2)))
    if meta.get("level") == "L3" or "los_east" not in cols:
        stem = os.path.splitext(os.path.basename(path))[0].upper()
        comp = re.search(r"_(E|U|N)(?:_|$)", stem.split("100KM")[-1] if "100KM" in stem else stem)
        if comp:
            meta["component"] = {"E": "east", "U": "up", "N": "north"}[comp.group(1)]
    return PointSource(path, "egms", crs, cols, roles, extra, date_cols, days, metadata=meta)


def _stamps_source(path: str) -> PointSource:
    cols = _read_header(path)
    if len(cols) < 4:
        raise ValueError(f"{os.path.basename(path)}: a StaMPS export needs lon, lat, velocity and "
                         "dates")
    with open(path, encoding="utf-8-sig") as fh:
        fh.readline()
        meta_row = next(csv.reader([fh.readline()]))
    try:
        nums = [float(v) if v.strip() else math.nan for v in meta_row]
        base = _dt.date(1, 1, 1).toordinal()
        # MATLAB datenum d is the proleptic day d - 366 of Python (ordinal 1 = 0001-01-01);
        # the export writes datenum - 1
        days = [_dt.date.fromordinal(int(round(v)) + 1 - 366 + base - 1) for v in nums[3:]]
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"{os.path.basename(path)}: the first row of a StaMPS export must hold "
                         "the reference centre and the dates (MATLAB datenum - 1)") from exc
    if not math.isnan(nums[2]):
        raise ValueError(f"{os.path.basename(path)}: the first row is not the StaMPS date row "
                         "(its third value should be NaN)")
    meta = {"source_format": "StaMPS", "reference_centre_lonlat": f"{nums[0]!r} {nums[1]!r}"}
    roles = {"x": cols[0], "y": cols[1], "velocity": cols[2]}
    return PointSource(path, "stamps", crs_wkt_of(4326), cols, roles, {}, cols[3:], days,
                       metadata=meta, skip_rows=1)


def _mintpy_source(path: str, workdir: str) -> PointSource:
    ds = ogr.Open(str(path))
    lyr = ds.GetLayer(0)
    ref = lyr.GetSpatialRef()
    crs = ref.ExportToWkt() if ref is not None else crs_wkt_of(4326)
    csv_path = os.path.join(workdir, f"mintpy_{uuid.uuid4().hex[:8]}.csv")
    gdal.VectorTranslate(csv_path, str(path), format="CSV",
                         layerCreationOptions=["GEOMETRY=AS_XY"])
    ds = None
    cols = _read_header(csv_path)
    roles = {"x": "X", "y": "Y", "velocity": "VEL", "pid": "CODE"}
    if "V_STDEV" in cols:
        roles["velocity_std"] = "V_STDEV"
    extra = {c: f for c, f in MINTPY_EXTRA.items() if c in cols}
    date_cols, days = _dated([c for c in cols if DATE_FIELD.match(c)])
    return PointSource(path, "mintpy", crs, cols, roles, extra, date_cols, days,
                       metadata={"source_format": "MintPy save_qgis"}, csv_path=csv_path,
                       cleanup=[csv_path])


def open_point_source(path: str, fmt: str = "auto", x_field: str = "", y_field: str = "",
                      crs: str = "", units: str = "mm", velocity_field: str = "",
                      velocity_std_field: str = "", pid_field: str = "",
                      workdir: Optional[str] = None) -> PointSource:
    """The :class:`PointSource` of a point file (module docstring).  ``fmt`` ``auto`` detects
    the format; the field arguments, ``crs`` and ``units`` (of the displacements; velocities
    are per year) apply to the generic CSV.  Raises ValueError naming what is missing."""
    path = str(path)
    if not os.path.isfile(path):
        raise ValueError(f"{path!r} does not exist")
    fmt = (fmt or "auto").lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown point format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "egms":
        src = _egms_source(path)
    elif fmt == "stamps":
        src = _stamps_source(path)
    elif fmt == "mintpy":
        src = _mintpy_source(path, workdir or tempfile.gettempdir())
    else:
        src = _generic_source(path, x_field, y_field, crs, units, velocity_field,
                              velocity_std_field, pid_field)
    if not src.dates and "velocity" not in src.roles:
        raise ValueError(f"{os.path.basename(path)} has neither date columns (YYYYMMDD, "
                         "DYYYYMMDD or YYYY-MM-DD) nor a velocity column")
    return src


def _generic_source(path, x_field, y_field, crs, units, velocity_field, velocity_std_field,
                    pid_field) -> PointSource:
    base = os.path.basename(path)
    if not str(path).lower().endswith((".csv", ".txt")):
        raise ValueError(f"{base}: give a CSV file (or an EGMS CSV, MintPy save_qgis shapefile or "
                         "StaMPS export)")
    cols = _read_header(path)
    for name, value in (("X_FIELD", x_field), ("Y_FIELD", y_field)):
        if not value:
            raise ValueError(f"{base}: name the {name} column of the CSV (columns: "
                             f"{', '.join(cols[:30])})")
        if value not in cols:
            raise ValueError(f"{base}: {name} {value!r} is not a column (columns: "
                             f"{', '.join(cols[:30])})")
    if not crs:
        raise ValueError(f"{base}: give the CRS of the x/y columns")
    roles = {"x": x_field, "y": y_field}
    for role, value in (("velocity", velocity_field), ("velocity_std", velocity_std_field),
                        ("pid", pid_field)):
        if value:
            if value not in cols:
                raise ValueError(f"{base}: {role} column {value!r} is not in the file")
            roles[role] = value
    date_cols, days = _dated([c for c in cols if c not in roles.values()])
    factor = unit_factor(units or "mm", "mm")
    return PointSource(path, "csv", crs_wkt_of(crs), cols, roles, {}, date_cols, days,
                       factor=factor, velocity_factor=factor,
                       metadata={"source_format": "CSV", "source_units": units or "mm"})


# --------------------------------------------------------------------------- chunked reading
@dataclass
class PointChunk:
    """Rows of a source: ``pid`` (list of str), ``x``, ``y``, ``values`` (role or extra
    field -> float64 array), ``series`` (n, dates) in mm (NaN = no value)."""

    pid: List[str]
    x: np.ndarray
    y: np.ndarray
    values: Dict[str, np.ndarray]
    series: np.ndarray


def _fill_empty(text: str, delim: str) -> str:
    """``nan`` in the empty cells of CSV ``text`` (lines ending in newline)."""
    double = delim + delim
    while double in text:                       # twice covers runs of empty cells
        text = text.replace(double, f"{delim}nan{delim}")
    text = text.replace(f"{delim}\r\n", f"{delim}nan\n").replace(f"{delim}\n", f"{delim}nan\n")
    text = text.replace(f"\n{delim}", f"\nnan{delim}")
    return f"nan{text}" if text.startswith(delim) else text


def iter_source_chunks(src: PointSource, chunk_rows: int = CHUNK_ROWS,
                       monitor=None) -> Iterator[PointChunk]:
    """Parse ``src`` in chunks of ``chunk_rows`` rows (progress = bytes read)."""
    monitor = ensure_monitor(monitor)
    path = src.csv_path or src.path
    size = max(1, os.path.getsize(path))
    index = {c: i for i, c in enumerate(src.columns)}
    numeric = [r for r in ("x", "y", "velocity", "velocity_std", "los_e", "los_n", "los_u")
               if r in src.roles]
    num_cols = [index[src.roles[r]] for r in numeric] + [index[c] for c in src.extra] + \
        [index[c] for c in src.date_columns]
    pid_col = index.get(src.roles.get("pid", ""), None)
    counter = 0
    with open(path, "rb") as fh:
        header = fh.readline().decode("utf-8-sig")
        delim = ";" if header.count(";") > header.count(",") else ","
        for _ in range(src.skip_rows):
            fh.readline()
        while True:
            raw = b"".join(itertools.islice(fh, chunk_rows))
            if not raw.strip():
                break
            text = raw.decode("utf-8").replace('"', "")
            if not text.endswith("\n"):
                text += "\n"
            text = _fill_empty(text.replace("\r\n", "\n"), delim)
            try:
                table = np.loadtxt(io.StringIO(text), delimiter=delim, usecols=num_cols,
                                   dtype=np.float64, ndmin=2, comments=None)
            except ValueError as exc:
                raise ValueError(f"{os.path.basename(src.path)}: a value is not a number near row "
                                 f"{counter + 1}: {exc}") from exc
            n = table.shape[0]
            if pid_col is not None:
                pid = [ln.split(delim)[pid_col].strip() for ln in text.splitlines() if ln.strip()]
            else:
                pid = [str(counter + i + 1) for i in range(n)]
            counter += n
            k = len(numeric)
            values = {r: table[:, i] for i, r in enumerate(numeric)}
            for j, c in enumerate(src.extra):
                values[src.extra[c]] = table[:, k + j]
            series = table[:, k + len(src.extra):] * src.factor
            for r in ("velocity", "velocity_std"):
                if r in values:
                    values[r] = values[r] * src.velocity_factor
            yield PointChunk(pid, values.pop("x"), values.pop("y"), values, series)
            monitor.update(fh.tell() / size)


# --------------------------------------------------------------------------- writing
def _field_type(kind: str):
    return {"text": ogr.OFTString, "real": ogr.OFTReal, "integer": ogr.OFTInteger64}[kind]


class PointWriter:
    """Write a GeoPackage point layer by chunks.  GDAL creates the layer (schema, CRS, the
    R-tree spatial index and its triggers); the rows and their R-tree entries are then
    inserted through SQLite with the index triggers set aside (they call GDAL's SQL
    functions) and restored, as GDAL wrote them, on :meth:`commit`.  The file appears only on
    commit; :meth:`abort` (or an exception inside ``with``) leaves nothing.

    ``fields``: list of (name, kind) with kind ``text``, ``real`` or ``integer``;
    aliases come from :data:`ALIASES` (date fields: ``displacement YYYY-MM-DD (mm)``).
    """

    def __init__(self, path: str, crs_wkt: str, fields: Sequence[Tuple[str, str]],
                 layer_name: str = "points", metadata: Optional[Dict[str, str]] = None):
        self.path = os.path.abspath(str(path))
        if not self.path.lower().endswith(".gpkg"):
            raise ValueError(f"{path!r}: point layers are written as GeoPackage (.gpkg)")
        folder = os.path.dirname(self.path)
        os.makedirs(folder, exist_ok=True)
        self._tmp = os.path.join(folder, f".{os.path.basename(self.path)}."
                                         f"{uuid.uuid4().hex[:8]}.partial.gpkg")
        self.layer_name = layer_name
        self.fields = [(str(n), k) for n, k in fields]
        self.metadata = {str(k): str(v) for k, v in (metadata or {}).items()}
        self.count = 0
        self._bounds = [math.inf, math.inf, -math.inf, -math.inf]
        ds = ogr.GetDriverByName("GPKG").CreateDataSource(self._tmp)
        srs = None
        if crs_wkt:
            srs = osr.SpatialReference()
            srs.ImportFromWkt(crs_wkt)
        lyr = ds.CreateLayer(layer_name, srs, ogr.wkbPoint, ["FID=fid", "GEOMETRY_NAME=geom"])
        for name, kind in self.fields:
            lyr.CreateField(ogr.FieldDefn(name, _field_type(kind)))
        ds = None
        self._con = sqlite3.connect(self._tmp)
        # a temporary file renamed on commit: no journal or sync needed while it is written
        self._con.execute("PRAGMA journal_mode = OFF")
        self._con.execute("PRAGMA synchronous = OFF")
        _write_aliases(self._con, layer_name, [n for n, _ in self.fields])
        self._rtree = f"rtree_{layer_name}_geom"
        self._triggers = self._con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?",
            (f"{self._rtree}_%",)).fetchall()
        for name, _ in self._triggers:
            self._con.execute(f'DROP TRIGGER "{name}"')
        self._srs_id = self._con.execute(
            "SELECT srs_id FROM gpkg_geometry_columns WHERE table_name = ?",
            (layer_name,)).fetchone()[0]
        names = ", ".join(f'"{n}"' for n, _ in self.fields)
        marks = ", ".join("?" * (len(self.fields) + 2))
        self._sql = f'INSERT INTO "{layer_name}" (fid, geom, {names}) VALUES ({marks})'

    def write(self, x, y, columns: Dict[str, Sequence]) -> None:
        """Append points (``x``, ``y`` arrays; ``columns``: field -> values, NaN = NULL)."""
        x = np.asarray(x, dtype="<f8")
        y = np.asarray(y, dtype="<f8")
        n = x.size
        if n == 0:
            return
        ok = np.isfinite(x) & np.isfinite(y)
        blobs = _point_blobs(x, y, self._srs_id)
        cols = []
        for name, kind in self.fields:
            v = columns.get(name)
            if v is None:
                cols.append([None] * n)
            elif kind == "real":
                a = np.asarray(v, dtype=np.float64)
                cols.append(np.where(np.isfinite(a), a, None).tolist())
            else:
                cols.append(list(v))
        fids = range(self.count + 1, self.count + n + 1)
        rows = zip(fids, [b if good else None for b, good in zip(blobs, ok)], *cols)
        self._con.executemany(self._sql, rows)
        keep = np.flatnonzero(ok)
        self._con.executemany(f'INSERT INTO "{self._rtree}" VALUES (?, ?, ?, ?, ?)',
                              zip((keep + self.count + 1).tolist(), x[keep].tolist(),
                                  x[keep].tolist(), y[keep].tolist(), y[keep].tolist()))
        if ok.any():
            b = self._bounds
            b[0], b[1] = min(b[0], float(x[ok].min())), min(b[1], float(y[ok].min()))
            b[2], b[3] = max(b[2], float(x[ok].max())), max(b[3], float(y[ok].max()))
        self.count += n

    def commit(self) -> str:
        if self.count and math.isfinite(self._bounds[0]):
            self._con.execute("UPDATE gpkg_contents SET min_x=?, min_y=?, max_x=?, max_y=? "
                              "WHERE table_name=?", (*self._bounds, self.layer_name))
        for _, sql in self._triggers:
            self._con.execute(sql)
        self._con.commit()
        self._con.close()
        if self.metadata:
            ds = ogr.Open(self._tmp, 1)
            ds.GetLayer(0).SetMetadata(self.metadata)
            ds = None
        if os.path.exists(self.path):
            os.remove(self.path)
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._con.close()
        except sqlite3.Error:
            pass
        for suffix in ("", "-journal", "-wal", "-shm"):
            if os.path.exists(self._tmp + suffix):
                os.remove(self._tmp + suffix)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
        return False


def _write_aliases(con, table: str, names: Sequence[str]) -> None:
    """Field aliases (with units) in the GeoPackage schema extension (gpkg_data_columns:
    ``name``/``title``), which GDAL >= 3.7 and QGIS read as alternative names."""
    con.execute("CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, "
                "column_name TEXT NOT NULL, name TEXT, title TEXT, description TEXT, "
                "mime_type TEXT, constraint_name TEXT, "
                "CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name))")
    con.execute("CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, "
                "extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL)")
    for ext_table in ("gpkg_data_columns", "gpkg_data_column_constraints"):
        con.execute("INSERT INTO gpkg_extensions VALUES (?, NULL, 'gpkg_schema', "
                    "'http://www.geopackage.org/spec/#extension_schema', 'read-write')",
                    (ext_table,))
    con.executemany("INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, "
                    "title) VALUES (?, ?, ?, ?)",
                    [(table, n, _alias(n), _alias(n)) for n in names if _alias(n)])


def _read_only(path: str) -> sqlite3.Connection:
    """A read-only SQLite connection to ``path`` (any characters in the path)."""
    return sqlite3.connect(f"{Path(os.path.abspath(path)).as_uri()}?mode=ro", uri=True)


def field_aliases(path: str, table: str = "points") -> Dict[str, str]:
    """Field -> alias of a layer written by :class:`PointWriter` (gpkg_data_columns)."""
    con = _read_only(path)
    try:
        rows = con.execute("SELECT column_name, name FROM gpkg_data_columns WHERE table_name = ?",
                           (table,)).fetchall()
    except sqlite3.Error:
        rows = []
    con.close()
    return {c: n for c, n in rows if n}


def _alias(name: str) -> str:
    m = DATE_FIELD.match(name)
    if m:
        d = _dt.datetime.strptime(m.group(1), "%Y%m%d").date()
        return f"displacement {d.isoformat()} (mm)"
    return ALIASES.get(name, "")


def _point_blobs(x: np.ndarray, y: np.ndarray, srs_id: int) -> List[bytes]:
    """GeoPackage geometry blobs of points: header (magic, version 0, little-endian, no
    envelope, srs_id) + WKB point."""
    n = x.size
    b = np.zeros((n, 29), np.uint8)
    b[:, 0:2] = np.frombuffer(b"GP", np.uint8)
    b[:, 3] = 1
    b[:, 4:8] = np.frombuffer(np.int32(srs_id).astype("<i4").tobytes(), np.uint8)
    b[:, 8] = 1
    b[:, 9:13] = np.frombuffer(np.uint32(1).astype("<u4").tobytes(), np.uint8)
    b[:, 13:21] = np.ascontiguousarray(x, dtype="<f8").view(np.uint8).reshape(n, 8)
    b[:, 21:29] = np.ascontiguousarray(y, dtype="<f8").view(np.uint8).reshape(n, 8)
    return [bytes(r) for r in b]


def _blob_xy(blob: Optional[bytes]) -> Tuple[float, float]:
    if blob is None or len(blob) < 8:
        return math.nan, math.nan
    flags = blob[3]
    env = (0, 32, 48, 48, 64)[(flags >> 1) & 7]
    off = 8 + env
    order = "<" if blob[off] == 1 else ">"
    xy = np.frombuffer(blob, dtype=order + "f8", count=2, offset=off + 5)
    return float(xy[0]), float(xy[1])


def _blobs_xy(blobs: Sequence[Optional[bytes]]) -> np.ndarray:
    """(n, 2) coordinates of GeoPackage point blobs: vectorised when they all are
    little-endian points without envelope (as :class:`PointWriter` and GDAL write them),
    one by one otherwise."""
    if blobs and all(b is not None and len(b) == 29 for b in blobs):
        raw = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(-1, 29)
        if np.all(raw[:, 3] == 1) and np.all(raw[:, 8] == 1):
            return raw[:, 13:29].copy().view("<f8").reshape(-1, 2).astype(np.float64)
    return np.array([_blob_xy(b) for b in blobs], dtype=np.float64).reshape(-1, 2)


# --------------------------------------------------------------------------- reading the layer
class PointLayer:
    """A point layer read column by column (GeoPackage through SQLite; any other vector
    file GDAL reads is first copied to a temporary GeoPackage).

    ``fields`` (name -> OGR type name), ``date_fields``/``dates`` (``DYYYYMMDD`` fields,
    sorted), ``metadata``, ``crs_wkt``, ``count``, ``units`` (of the date fields).
    """

    def __init__(self, path: str, layer: str = "", workdir: Optional[str] = None):
        path = str(path)
        if "|layername=" in path:
            path, layer = path.split("|layername=", 1)
            layer = layer.split("|")[0]
        self.source = path
        self._tmp = None
        if not path.lower().endswith(".gpkg"):
            self._tmp = os.path.join(workdir or tempfile.gettempdir(),
                                     f"points_{uuid.uuid4().hex[:8]}.gpkg")
            src = gdal.OpenEx(path, gdal.OF_VECTOR)
            if src is None:
                raise ValueError(f"{path!r} is not a vector layer GDAL can open")
            gdal.VectorTranslate(self._tmp, src, format="GPKG",
                                 layers=[layer] if layer else None,
                                 layerName="points", geometryType="POINT")
            path, layer = self._tmp, "points"
        ds = ogr.Open(path)
        if ds is None:
            raise ValueError(f"{path!r} is not a vector layer GDAL can open")
        lyr = ds.GetLayerByName(layer) if layer else ds.GetLayer(0)
        if lyr is None:
            raise ValueError(f"{os.path.basename(path)} has no layer {layer!r}")
        if ogr.GT_Flatten(lyr.GetGeomType()) not in (ogr.wkbPoint, ogr.wkbUnknown):
            raise ValueError(f"{os.path.basename(path)} layer {lyr.GetName()!r} is not a point "
                             "layer")
        self.path = path
        self.layer = lyr.GetName()
        ref = lyr.GetSpatialRef()
        # a GeoPackage without CRS (srs_id 0 or -1) reads as "Undefined geographic SRS"
        # (or "... Cartesian SRS"): no CRS, not degrees
        undefined = ref is None or (ref.GetName() or "").startswith("Undefined ")
        self.crs_wkt = "" if undefined else ref.ExportToWkt()
        defn = lyr.GetLayerDefn()
        self.fields = {defn.GetFieldDefn(i).GetName(): defn.GetFieldDefn(i).GetTypeName()
                       for i in range(defn.GetFieldCount())}
        self.metadata = dict(lyr.GetMetadata() or {})
        self.geometry_column = lyr.GetGeometryColumn() or "geom"
        self.fid_column = lyr.GetFIDColumn() or "fid"
        ds = None
        pairs = sorted((_dt.datetime.strptime(m.group(1), "%Y%m%d").date(), name)
                       for name in self.fields for m in [DATE_FIELD.match(name)] if m)
        self.dates = [d for d, _ in pairs]
        self.date_fields = [n for _, n in pairs]
        self.units = self.metadata.get("units", "mm")
        self._con = _read_only(path)
        self.count = int(self._con.execute(f'SELECT COUNT(*) FROM "{self.layer}"').fetchone()[0])
        self.aliases = field_aliases(path, self.layer)

    @property
    def reference_date(self) -> Optional[_dt.date]:
        value = self.metadata.get("reference_date")
        return _dates.parse_date(value) if value else None

    def has(self, name: str) -> bool:
        return name in self.fields

    def require(self, name: str) -> None:
        if name not in self.fields:
            raise ValueError(f"the point layer has no field {name!r} (fields: "
                             f"{', '.join(list(self.fields)[:30])})")

    def _row_chunks(self, first: str, names: Sequence[str], chunk_rows: int):
        """Rows (``first`` column, then ``names``) in chunks of ``chunk_rows``, in fid order."""
        cols = "".join(f', "{n}"' for n in names)
        cur = self._con.execute(f'SELECT "{first}"{cols} FROM "{self.layer}" '
                                f'ORDER BY "{self.fid_column}"')
        while True:
            rows = cur.fetchmany(chunk_rows)
            if not rows:
                return
            yield rows

    def iter_geometry_rows(self, names: Sequence[str] = (), chunk_rows: int = CHUNK_ROWS):
        """(coordinates (n, 2), rows of ``names`` values) in chunks, in fid order."""
        for rows in self._row_chunks(self.geometry_column, names, chunk_rows):
            yield _blobs_xy([r[0] for r in rows]), rows

    def xy(self) -> Tuple[np.ndarray, np.ndarray]:
        """Coordinates of all points (layer CRS), in fid order."""
        parts = [xy for xy, _ in self.iter_geometry_rows()]
        if not parts:
            return np.zeros(0), np.zeros(0)
        xy = np.vstack(parts)
        return xy[:, 0].copy(), xy[:, 1].copy()

    def iter_rows(self, names: Sequence[str], chunk_rows: int = CHUNK_ROWS
                  ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        """(fids, values (n, len(names)) float64, NULL = NaN) in chunks, in fid order."""
        for n in names:
            self.require(n)
        for rows in self._row_chunks(self.fid_column, names, chunk_rows):
            a = np.array(rows, dtype=np.float64).reshape(len(rows), len(names) + 1)
            yield a[:, 0].astype(np.int64), a[:, 1:]

    def column(self, name: str) -> np.ndarray:
        """All values of a numeric field (NaN for NULL), in fid order."""
        parts = [v[:, 0] for _, v in self.iter_rows([name])]
        return np.concatenate(parts) if parts else np.zeros(0)

    def symmetric_range(self, name: str, percentile: float = 98.0) -> float:
        """The ``percentile`` of |values| of a numeric field (1.0 when it has none): the
        half-width of a colour ramp centred on zero that outliers do not stretch."""
        values = np.abs(self.column(name))
        values = values[np.isfinite(values)]
        return float(np.percentile(values, percentile)) if values.size else 1.0

    def text_column(self, name: str) -> List[str]:
        self.require(name)
        cur = self._con.execute(f'SELECT "{name}" FROM "{self.layer}" ORDER BY "{self.fid_column}"')
        return ["" if r[0] is None else str(r[0]) for r in cur.fetchall()]

    def close(self) -> None:
        self._con.close()
        if self._tmp and os.path.exists(self._tmp):
            os.remove(self._tmp)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def copy_fields(layer: PointLayer) -> List[Tuple[str, str]]:
    """(name, kind) of a layer's fields, for a :class:`PointWriter` copying it."""
    kinds = {"Real": "real", "Integer": "integer", "Integer64": "integer"}
    return [(n, kinds.get(t, "text")) for n, t in layer.fields.items()]


def iter_layer_chunks(layer: PointLayer, chunk_rows: int = CHUNK_ROWS):
    """(x, y, columns) chunks with every field of ``layer`` (text fields as strings), for
    copying it with changes."""
    kinds = dict(copy_fields(layer))
    names = list(layer.fields)
    for xy, rows in layer.iter_geometry_rows(names, chunk_rows):
        columns = {}
        for j, n in enumerate(names, start=1):
            vals = [r[j] for r in rows]
            columns[n] = (np.array([math.nan if v is None else v for v in vals], dtype=np.float64)
                          if kinds[n] == "real" else vals)
        yield xy[:, 0], xy[:, 1], columns


# --------------------------------------------------------------------------- loading
@dataclass
class LoadResult:
    path: str
    count: int
    dates: List[_dt.date]
    reference_date: Optional[_dt.date]
    metadata: Dict[str, str]
    shifted: bool
    velocity_computed: bool
    dropped: int
    unlocated: int = 0      # rows kept without coordinates (no geometry; analyses skip them)


def orbit_direction(track_angles: np.ndarray = None, los_east: np.ndarray = None) -> str:
    """``ascending``/``descending`` from the median track angle (heading, degrees from north:
    ascending flies north) or, without it, the LOS east component (right-looking: the
    ground-to-satellite vector of an ascending pass points west); '' when unknown."""
    if track_angles is not None and np.isfinite(track_angles).any():
        h = np.nanmedian(np.cos(np.radians(track_angles)))
        return "ascending" if h > 0 else "descending"
    if los_east is not None and np.isfinite(los_east).any():
        return "ascending" if np.nanmedian(los_east) < 0 else "descending"
    return ""


def _zero_columns(series: np.ndarray) -> np.ndarray:
    """Columns (dates) that are zero (within 1e-9 mm) or empty at every row."""
    return np.all((np.abs(series) <= 1e-9) | np.isnan(series), axis=0)


def _find_zero_date(src: PointSource, monitor, chunk_rows: int = CHUNK_ROWS) -> Optional[int]:
    """Index of the date column that is zero (within 1e-9 mm) at every point, if any."""
    if not src.dates:
        return None
    zero = np.ones(len(src.dates), dtype=bool)
    for chunk in iter_source_chunks(src, chunk_rows, monitor):
        zero &= _zero_columns(chunk.series)
        if not zero.any():
            return None
    hits = np.flatnonzero(zero)
    return int(hits[0]) if hits.size else None


class _NotZeroAfterAll(Exception):
    """The date column zero in the first chunk is not zero in a later one."""


def load_points(src: PointSource, output: str, reference_date=None, monitor=None,
                chunk_rows: int = CHUNK_ROWS) -> LoadResult:
    """Write the toolkit's point layer (module docstring) from ``src`` to ``output`` (.gpkg).

    Reference date: ``reference_date`` (one of the dates) or, by default, the date at
    which every series is zero (EGMS, MintPy and StaMPS series start at zero) or else the
    first date; series not relative to it are shifted (each point minus its value at that
    date; a point without a value there loses its series and is counted in ``dropped``).
    One pass over the file: the zero date is taken from the first chunk and checked on the
    others (if a later chunk contradicts it, the file is scanned and written again).
    Without a velocity column the velocity is the least-squares slope of the whole series
    (:func:`.timeseries.fit_pixels`).  LOS vectors pointing down are flipped (ground to
    satellite has a positive up component).
    """
    monitor = ensure_monitor(monitor)
    ref_index = None
    if src.dates and reference_date:
        want = _dates.parse_date(reference_date)
        if want not in src.dates:
            raise ValueError(f"REFERENCE_DATE {want.isoformat()} is not a date of the file "
                             f"({src.dates[0]} .. {src.dates[-1]}): choose one of its dates")
        ref_index = src.dates.index(want)
    if "velocity" not in src.roles and len(src.dates) < 3:
        raise ValueError(f"{os.path.basename(src.path)}: no velocity column and fewer than 3 "
                         "dates to fit one")
    try:
        try:
            return _write_points(src, output, ref_index, None, monitor, chunk_rows)
        except _NotZeroAfterAll:
            monitor.info("the date at which the first rows are zero is not zero for all rows: "
                         "scanning the file for the reference date")
            zero = _find_zero_date(src, monitor.sub(0.0, 0.3), chunk_rows)
            return _write_points(src, output, None, -1 if zero is None else zero,
                                 monitor.sub(0.3, 1.0), chunk_rows)
    finally:
        src.close()


def _write_points(src: PointSource, output: str, ref_index: Optional[int],
                  known_zero: Optional[int], monitor, chunk_rows: int) -> LoadResult:
    """One pass of :func:`load_points`: ``ref_index`` explicit reference (or None: the zero
    date, ``known_zero`` when scanned before (-1: none), else from the first chunk)."""
    from . import timeseries as ts

    has_velocity = "velocity" in src.roles
    fit_A = None if has_velocity else ts.design_matrix(src.dates, src.dates[0])[0]
    fields = [("pid", "text"), ("velocity", "real"), ("velocity_std", "real")]
    if src.has_los:
        fields += [("los_e", "real"), ("los_n", "real"), ("los_u", "real")]
    fields += [(f, "real") for f in src.extra.values()]
    fields += [(date_field(d), "real") for d in src.dates]
    meta = dict(src.metadata)
    meta.update({"units": "mm", "velocity_units": "mm/yr", "quantity": "displacement",
                 "source": os.path.basename(src.path),
                 "software": "displacement_toolkit load_points",
                 "dates": ",".join(d.isoformat() for d in src.dates)})
    if src.metadata.get("component"):
        meta["quantity"] = f"{src.metadata['component']}_displacement"
    elif src.format in ("egms", "mintpy", "stamps"):
        meta["quantity"] = "los_displacement"
    dropped = los_flipped = located = valued = 0
    tracks = []
    zero = np.ones(len(src.dates), dtype=bool)
    check_zero = None          # the auto-chosen zero column, to be confirmed on every chunk
    subtract = False
    writer = PointWriter(output, src.crs_wkt, fields, "points", meta)
    try:
        for chunk in iter_source_chunks(src, chunk_rows, monitor):
            series = chunk.series
            if src.dates:
                zero &= _zero_columns(series)
                if writer.count == 0:                     # the first chunk decides
                    if ref_index is None:
                        first_zero = np.flatnonzero(zero)
                        if known_zero is not None:
                            ref_index = known_zero if known_zero >= 0 else 0
                            subtract = known_zero < 0
                        elif first_zero.size:
                            ref_index = check_zero = int(first_zero[0])
                        else:
                            ref_index, subtract = 0, True
                    else:
                        subtract = True
                elif check_zero is not None and not zero[check_zero]:
                    raise _NotZeroAfterAll()
                if subtract:
                    base = series[:, ref_index].copy()
                    dropped += int((~np.isfinite(base)).sum())
                    series = series - base[:, None]
            cols = {"pid": chunk.pid}
            cols.update(chunk.values)
            if not has_velocity:
                fit = ts.fit_pixels(fit_A, series.T)
                cols["velocity"], cols["velocity_std"] = fit.coef[1], fit.sigma[1]
            if src.has_los:
                e, n, u = (chunk.values[k] for k in ("los_e", "los_n", "los_u"))
                flip = u < 0
                los_flipped += int(flip.sum())
                sign = np.where(flip, -1.0, 1.0)
                cols.update(los_e=e * sign, los_n=n * sign, los_u=u * sign)
            if "track_angle" in chunk.values and len(tracks) < 1:
                tracks.append(chunk.values["track_angle"][:1000])
            for d, col in zip(src.dates, series.T):
                cols[date_field(d)] = col
            located += int((np.isfinite(chunk.x) & np.isfinite(chunk.y)).sum())
            velocity = cols.get("velocity")
            valued += int(np.isfinite(velocity).sum()) if velocity is not None else 0
            valued += int(np.isfinite(series).sum()) if src.dates else 0
            writer.write(chunk.x, chunk.y, cols)
        if writer.count == 0:
            raise ValueError(f"{os.path.basename(src.path)} holds no point")
        if located == 0 or valued == 0:
            raise ValueError(f"{os.path.basename(src.path)}: every one of its {writer.count} rows "
                             f"has empty {'coordinates' if located == 0 else 'values'}")
        ref_day = src.dates[ref_index] if src.dates else None
        if ref_day:
            writer.metadata["reference_date"] = ref_day.isoformat()
        direction = orbit_direction(np.concatenate(tracks) if tracks else None)
        if direction:
            writer.metadata["orbit_direction"] = direction
        if los_flipped:
            writer.metadata["los_flipped"] = f"{los_flipped} LOS vectors pointed down and were flipped"
        zero_at = np.flatnonzero(zero)
        shifted = subtract and not (zero_at.size and zero_at[0] == ref_index)
        if shifted:
            source_ref = f" (source reference {src.dates[zero_at[0]]})" if zero_at.size else ""
            writer.metadata["shifted_to_reference_date"] = \
                f"series shifted to zero at {ref_day.isoformat()}{source_ref}"
        if not has_velocity:
            writer.metadata["velocity_source"] = "least-squares slope of the whole series"
        meta = dict(writer.metadata)
        path = writer.commit()
    except BaseException:
        writer.abort()
        raise
    return LoadResult(path, writer.count, list(src.dates), ref_day, meta, shifted,
                      not has_velocity, dropped, writer.count - located)
