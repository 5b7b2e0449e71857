"""Phase <-> LOS displacement and projection of LOS onto one direction (vertical, east, custom).

Conventions (docs/conventions.md, "Phase sign conventions" and "Line of sight"):

* **LOS displacement is positive toward the satellite**, in metres internally.
* Unwrapped phase φ (radians) -> LOS displacement d (m):
  ``d = s · λ/(4π) · φ`` with ``s = −1`` for ISCE2, MintPy (``unwrapPhase``), SNAP, GAMMA
  and ROI_PAC (positive phase = range increase = motion away from the satellite) and
  ``s = +1`` for ``opposite`` (chains that store the reversed sign, e.g. Kite's ROI_PAC
  reader).  So a phase of ``−4π/λ · 0.01`` is 1 cm toward the satellite.
* Incidence θ: at the ground, from the vertical, degrees, 0 < θ < 90 (core.validation).
* Projection assuming all motion is along one unit vector **m** (east, north, up):
  ``d_los = (l · m) · D``  so  ``D = d_los / (l · m)``; ``l · m`` is the *sensitivity*,
  with **l** the ground->satellite LOS unit vector of core.geometry.

  - vertical (m = up): sensitivity ``cos θ``; D positive up (``d_up = d_los / cos θ``);
  - east-west (m = east): sensitivity ``−sin θ · sin α`` (α LOS azimuth from the heading
    and look direction, core.geometry); D positive east;
  - custom: m from an azimuth (clockwise from north, degrees) and a plunge (degrees below
    the horizontal, positive downward, e.g. a landslide moving downslope):
    ``m = (sin A cos P, cos A cos P, −sin P)``; D positive along m.

  Pixels where ``|1/sensitivity| > max_amplification`` (default 5) are NaN: the
  projection would amplify the LOS noise more than that.  With one geometry the motion
  perpendicular to m is unknown and assumed zero; combine two or more geometries with
  the decomposition algorithm instead.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

import numpy as np

from .execution import BandSource, engine_from_environment, task_windows, zip_tasks
from .geometry import heading_to_los_azimuth, los_unit_vector
from .progress import ensure_monitor
from .raster_io import (
    RasterWriter,
    check_band,
    iter_blocks,
    raster_info,
)
from . import validation
from .tiles import TileLayout
from .units import is_velocity_unit, normalize_unit, unit_factor

#: Radar wavelengths in metres (c / centre frequency, c = 299 792 458 m/s).
WAVELENGTHS = {
    "sentinel1": 0.05546576,   # C band, 5.405 GHz (ESA Sentinel-1 product specification)
    "alos2": 0.2384035,        # L band, 1.2575 GHz (JAXA ALOS-2 PALSAR-2); NISAR L band 1.257 GHz: 0.2385
    "terrasarx": 0.03106658,   # X band, 9.65 GHz (DLR TerraSAR-X)
}

#: Phase sign per processor: LOS toward the satellite = sign · λ/(4π) · φ.
PHASE_SIGNS = {
    "isce2": -1.0,
    "mintpy": -1.0,
    "snap": -1.0,
    "gamma": -1.0,
    "roipac": -1.0,
    "opposite": 1.0,
}

QUANTITIES = ("los_displacement", "los_velocity", "phase")
DIRECTIONS = ("vertical", "east", "custom")
DEFAULT_MAX_AMPLIFICATION = 5.0
RADIANS_LIMIT = math.pi / 2 + 1e-6  # incidence values all <= this (and some > 0) are radians


# --------------------------------------------------------------------------- scalars
def check_wavelength(wavelength: float, parameter: str = "WAVELENGTH") -> float:
    """The wavelength in metres, or ValueError naming ``parameter`` (core.validation)."""
    return validation.wavelength(wavelength, parameter)


def phase_sign(convention: str) -> float:
    """Sign s of ``d_los = s · λ/(4π) · φ`` for a processor name (see PHASE_SIGNS)."""
    key = str(convention).lower().replace("-", "").replace("_", "").replace(" ", "")
    key = {"isce": "isce2", "roipac": "roipac", "mintpy": "mintpy"}.get(key, key)
    if key not in PHASE_SIGNS:
        raise ValueError(f"unknown phase convention {convention!r}: use one of "
                         f"{', '.join(PHASE_SIGNS)}")
    return PHASE_SIGNS[key]


def phase_to_los(phase, wavelength: float, convention: str = "mintpy"):
    """Unwrapped phase (radians) -> LOS displacement (m, positive toward the satellite)."""
    return phase * (phase_sign(convention) * check_wavelength(wavelength) / (4.0 * math.pi))


def los_to_phase(los, wavelength: float, convention: str = "mintpy"):
    """LOS displacement (m, positive toward the satellite) -> unwrapped phase (radians)."""
    return los * (4.0 * math.pi / (phase_sign(convention) * check_wavelength(wavelength)))


def direction_vector(direction: str, azimuth_deg: float = 0.0, plunge_deg: float = 0.0):
    """Unit vector (east, north, up) of the assumed motion.

    ``vertical``: up; ``east``: east; ``custom``: azimuth (clockwise from north) and plunge
    (below the horizontal, positive downward), degrees.
    """
    d = str(direction).lower()
    if d == "vertical":
        return (0.0, 0.0, 1.0)
    if d in ("east", "east-west", "east_west"):
        return (1.0, 0.0, 0.0)
    if d == "custom":
        if not -90.0 <= float(plunge_deg) <= 90.0:
            raise ValueError(f"the plunge must be between -90 and 90 degrees, not {plunge_deg!r}")
        a, p = math.radians(float(azimuth_deg)), math.radians(float(plunge_deg))
        return (math.sin(a) * math.cos(p), math.cos(a) * math.cos(p), -math.sin(p))
    raise ValueError(f"unknown direction {direction!r}: use vertical, east or custom")


def needs_heading(direction: str, plunge_deg: float = 0.0) -> bool:
    """True when the projection depends on the LOS azimuth (a horizontal component)."""
    m = direction_vector(direction, 0.0, plunge_deg)
    return abs(m[0]) > 1e-12 or abs(m[1]) > 1e-12


def sensitivity(incidence_deg, direction: str = "vertical", heading_deg: Optional[float] = None,
                look_direction: str = "right", azimuth_deg: float = 0.0, plunge_deg: float = 0.0):
    """``l · m``: the LOS displacement produced by a unit motion along the direction.

    Arrays broadcast; incidence in degrees.  ``heading_deg`` (clockwise from north) is
    required when the direction has a horizontal component.
    """
    m = direction_vector(direction, azimuth_deg, plunge_deg)
    theta = np.asarray(incidence_deg)
    if needs_heading(direction, plunge_deg):
        if heading_deg is None or not math.isfinite(float(heading_deg)):
            raise ValueError(f"the {direction} direction needs the satellite heading (degrees "
                             "clockwise from north, e.g. -12 for Sentinel-1 ascending)")
        alpha = heading_to_los_azimuth(float(heading_deg), look_direction)
        e, n, u = los_unit_vector(theta, alpha)
        return e * m[0] + n * m[1] + u * m[2]
    return np.cos(np.radians(theta)) * m[2]


def project_los(d_los, incidence_deg, direction: str = "vertical",
                max_amplification: float = DEFAULT_MAX_AMPLIFICATION, **geometry):
    """``d_los / sensitivity`` with NaN where ``|1/sensitivity| > max_amplification``.

    Same units as ``d_los``.  ``geometry``: heading_deg, look_direction, azimuth_deg,
    plunge_deg (see :func:`sensitivity`).  Returns (projected, masked) with ``masked``
    the boolean array of pixels removed by the amplification limit.
    """
    if not (max_amplification >= 1.0):
        raise ValueError(f"MAX_AMPLIFICATION must be >= 1, not {max_amplification!r}")
    s = np.asarray(sensitivity(incidence_deg, direction, **geometry))
    d = np.asarray(d_los)
    with np.errstate(divide="ignore", invalid="ignore"):
        masked = np.abs(s) * max_amplification < 1.0
        out = np.where(masked, np.nan, d / np.where(masked, 1.0, s))
    return out.astype(d.dtype if d.dtype.kind == "f" else np.float64, copy=False), masked & np.isfinite(d)


def check_incidence_values(values, source: str = "INCIDENCE_ANGLE") -> None:
    """ValueError when finite incidence values (degrees) are not strictly between 0 and 90
    (core.validation; ``source`` is the parameter named in the message)."""
    validation.check_values(values, "incidence", source)


def detect_angle_units(max_value: float, declared: str = "auto") -> Tuple[str, Optional[str]]:
    """Decide whether incidence values are degrees or radians from their maximum.

    Returns ``(units, note)``; ``note`` is a sentence to log when the declared units were
    overridden or guessed.  Values whose maximum is in (0, π/2] are radians (a SAR incidence
    below 1.6 degrees does not exist); larger values are degrees.
    """
    declared = str(declared).lower()
    if declared not in ("auto", "degrees", "radians"):
        raise ValueError(f"angle units must be auto, degrees or radians, not {declared!r}")
    if not math.isfinite(max_value) or max_value <= 0.0:
        return ("degrees" if declared == "auto" else declared), None
    looks_radians = max_value <= RADIANS_LIMIT
    if declared == "auto":
        units = "radians" if looks_radians else "degrees"
        return units, f"incidence values reach {max_value:.4g}: read as {units}"
    if declared == "degrees" and looks_radians:
        return "radians", (f"the incidence was declared in degrees but its values reach only "
                           f"{max_value:.4g}, which is radians ({math.degrees(max_value):.2f} deg): "
                           "converted from radians")
    if declared == "radians" and not looks_radians:
        return "degrees", (f"the incidence was declared in radians but its values reach "
                           f"{max_value:.4g}, which is degrees: used as degrees")
    return declared, None


def output_unit_for(quantity: str, length_unit: str) -> str:
    """Output unit: ``length_unit`` (m, cm, mm) for displacement/phase, per year for velocity."""
    base = normalize_unit(length_unit).split("/")[0]
    return f"{base}/yr" if quantity == "los_velocity" else base


# --------------------------------------------------------------------------- rasters
def geometry_from_metadata(metadata: Dict[str, str]) -> Dict[str, object]:
    """Viewing geometry recorded by ``displacement:load_product`` in a raster's dataset metadata
    (``geometry_wavelength`` m, ``geometry_heading`` deg clockwise from north,
    ``geometry_incidence`` deg, ``geometry_look_direction``).  Missing or unreadable items are
    left out; used only as defaults for parameters the user did not set."""
    out: Dict[str, object] = {}
    for key in ("wavelength", "heading", "incidence"):
        try:
            value = float(metadata[f"geometry_{key}"])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(value):
            out[key] = value
    look = str(metadata.get("geometry_look_direction", "")).lower()
    if look in ("right", "left"):
        out["look_direction"] = look
    return out


@dataclass(frozen=True)
class _ProjectionTask:
    """One block of :func:`los_to_direction`: rows ``row`` .. ``row + rows - 1``, columns
    ``col`` .. ``col + width - 1`` (picklable: runs in any engine worker)."""

    row: int
    rows: int
    col: int
    width: int
    los: BandSource                     # the input, scaled to metres (or m/yr)
    incidence: Optional[BandSource]     # incidence raster in degrees, or None for ...
    constant_theta: Optional[float]     # ... a constant incidence (degrees)
    direction: str
    max_amplification: float
    geometry: tuple                     # sorted (name, value) pairs of project_los's keywords
    out_factor: float
    keep_los: bool
    tiles: Optional[TileLayout]         # the outputs' tiles: results are compressed here


def _project_block(task: _ProjectionTask):
    """(projection in the output unit, LOS in metres or None, pixels masked) of one block."""
    d_los = task.los.read(task.row, task.rows, task.col, task.width)
    if task.incidence is not None:
        theta = task.incidence.read(task.row, task.rows, task.col, task.width)
    else:
        theta = np.float32(task.constant_theta)
    projected, masked = project_los(d_los, theta, task.direction, task.max_amplification,
                                    **dict(task.geometry))
    if task.out_factor != 1.0:
        projected = projected * np.float32(task.out_factor)
    return (task.tiles.pack(np.asarray(projected, dtype=np.float32), task.row, task.col),
            task.tiles.pack(d_los, task.row, task.col) if task.keep_los else None,
            int(np.count_nonzero(masked)))


def _sample_max(path: str, band: int, size: int = 256) -> float:
    from .raster_io import read_decimated

    vals = read_decimated(path, band, size)
    finite = vals[np.isfinite(vals)]
    return float(np.abs(finite).max()) if finite.size else float("nan")


def _input_scale(quantity: str, input_units: str, wavelength, phase_convention: str):
    """(factor to metres or m/yr, input unit, that base unit) of a LOS input."""
    if quantity == "phase":
        w = check_wavelength(wavelength)
        return phase_sign(phase_convention) * w / (4.0 * math.pi), "rad", "m"
    in_unit = normalize_unit(input_units)
    if is_velocity_unit(in_unit) != (quantity == "los_velocity"):
        kind = "a velocity (m/yr, cm/yr, mm/yr)" if quantity == "los_velocity" else \
            "a displacement (m, cm, mm)"
        raise ValueError(f"INPUT_UNITS {input_units!r} does not fit {quantity}: give {kind}")
    base_unit = "m/yr" if quantity == "los_velocity" else "m"
    return unit_factor(in_unit, base_unit), in_unit, base_unit


def _incidence_input(info, incidence, incidence_band: int, incidence_units: str, notes: list,
                     mon):
    """The incidence in degrees, checked before anything is written: (BandSource on the
    input's pixels, None, source text) for a raster, (None, degrees, source text) for a
    constant.  Notes for the log are appended to ``notes``."""
    from .grid import GridReader, GridSpec

    if not isinstance(incidence, str):
        value = float(incidence)
        units, note = detect_angle_units(abs(value), incidence_units if incidence_units != "auto"
                                         else "degrees")
        if note:
            notes.append(note)
        theta = math.degrees(value) if units == "radians" else value
        validation.incidence(theta, "INCIDENCE_ANGLE")
        return None, theta, f"constant {theta:g} deg"
    inc_info = raster_info(incidence)
    check_band(inc_info, incidence_band)
    units, note = detect_angle_units(_sample_max(incidence, incidence_band), incidence_units)
    if note:
        notes.append(note)
    scale = 180.0 / math.pi if units == "radians" else 1.0
    validation.check_raster(incidence, incidence_band,
                            "incidence_radians" if units == "radians" else "incidence",
                            "INCIDENCE", mon)
    source = f"raster {incidence} band {incidence_band} ({units})"
    if inc_info.same_grid(info):
        # same pixels (also radar-geometry rasters without a geotransform): read directly
        return BandSource(incidence, incidence_band, scale=scale), None, source
    if not (info.has_geotransform and inc_info.has_geotransform):
        raise ValueError(
            f"the incidence raster {incidence!r} ({inc_info.width} x {inc_info.height}) is not "
            f"on the input grid ({info.width} x {info.height}) and one of them has no "
            "geotransform (radar geometry), so it cannot be resampled: use the incidence of "
            "the same geometry (e.g. ISCE2 los.rdr for radar-coordinate interferograms)")
    try:
        grid = GridSpec.from_info(info)
    except ValueError as exc:
        raise ValueError(f"the input grid cannot take a resampled incidence raster: {exc}") from exc
    GridReader(incidence, grid, band=incidence_band, resampling="bilinear").close()  # checks now
    notes.append(f"the incidence raster is on another grid: resampled (bilinear) onto the "
                 f"input grid ({grid.describe()})")
    return BandSource(incidence, incidence_band, grid=grid, scale=scale), None, source


def _output_metadata(quantity, direction, m, out_unit, in_unit, source, max_amplification,
                     azimuth_deg, plunge_deg):
    """(band description, output quantity, band metadata) of a projection."""
    key = str(direction).lower()
    desc = {"vertical": "vertical displacement, positive up",
            "east": "east-west displacement, positive east",
            "custom": f"displacement along azimuth {azimuth_deg:g} deg, plunge {plunge_deg:g} deg "
                      "(positive along that direction)"}[key]
    q_out = {"vertical": "vertical", "east": "east", "custom": "directional"}[key]
    q_out += "_velocity" if quantity == "los_velocity" else "_displacement"
    meta = {
        "units": out_unit,
        "quantity": q_out,
        "convention": desc + "; only motion along this direction assumed (docs/conventions.md)",
        "direction_east_north_up": ",".join(f"{c:.6f}" for c in m),
        "incidence_source": source,
        "max_amplification": f"{float(max_amplification):g}",
        "input_quantity": quantity,
        "input_units": in_unit,
    }
    return desc, q_out, meta


def _project_blocks(template: _ProjectionTask, info, rows_per_block: Optional[int], run,
                    out_writer: RasterWriter, los_writer: Optional[RasterWriter], mon) -> int:
    """Run ``template``'s projection over the raster in tasks on ``run`` and write the
    results; return the pixels masked.  Tasks are :func:`~.execution.task_windows` (whole
    tiles, in tiles of columns on very wide rasters: a task holds 24 bytes per pixel), or
    full-width blocks of ``rows_per_block`` rows when given."""
    if rows_per_block:
        windows = [(r0, n, 0, info.width) for r0, n in iter_blocks(info.height, rows_per_block)]
        tiles = TileLayout(info.width, info.height, rows_per_block)
    else:
        windows = task_windows(info.height, info.width, 24, run.workers)
        tiles = TileLayout(info.width, info.height)
    tasks = (dataclasses.replace(template, row=r0, rows=n, col=c0, width=cols, tiles=tiles)
             for r0, n, c0, cols in windows)
    masked_total, done = 0, 0
    for task, (projected, d_los, masked) in zip_tasks(run, _project_block, tasks, mon):
        masked_total += masked
        out_writer.write(1, task.row, projected, task.col)
        if los_writer is not None:
            los_writer.write(1, task.row, d_los, task.col)
        done += task.rows * task.width
        mon.update(done / (info.width * info.height))
    return masked_total


def los_to_direction(
    input_path: str,
    output_path: str,
    band: int = 1,
    quantity: str = "los_displacement",
    input_units: str = "m",
    output_units: str = "m",
    incidence: Union[float, str] = 0.0,
    incidence_band: int = 1,
    incidence_units: str = "auto",
    direction: str = "vertical",
    heading_deg: Optional[float] = None,
    look_direction: str = "right",
    azimuth_deg: float = 0.0,
    plunge_deg: float = 0.0,
    wavelength: Optional[float] = None,
    phase_convention: str = "mintpy",
    max_amplification: float = DEFAULT_MAX_AMPLIFICATION,
    los_output_path: Optional[str] = None,
    monitor=None,
    rows_per_block: Optional[int] = None,
    engine=None,
) -> Dict[str, object]:
    """Convert a LOS raster (displacement, velocity or unwrapped phase) to motion along one
    direction, block by block, and write it to ``output_path`` (GeoTIFF, NaN nodata).

    ``incidence``: a constant in degrees or the path of an incidence raster (``incidence_band``,
    ``incidence_units`` auto/degrees/radians); a raster on another grid is resampled onto the
    input grid (bilinear, :class:`~.grid.GridReader`).  For ``quantity="phase"`` the
    ``wavelength`` (m) and ``phase_convention`` are required, and ``los_output_path``
    optionally receives the LOS displacement in metres.  Blocks are read and projected by
    ``engine`` (core.execution; default: local threads or the configured Dask scheduler).

    Everything is validated before anything is written; errors raise ValueError (or
    RasterError) and leave no file.  Returns a dict: ``notes`` (log lines), ``masked``
    (pixels removed by the amplification limit), ``valid``, ``stats`` (output), ``los_stats``,
    ``units``, ``incidence_source``.
    """
    mon = ensure_monitor(monitor)
    notes = []
    quantity = str(quantity).lower()
    if quantity not in QUANTITIES:
        raise ValueError(f"unknown quantity {quantity!r}: use one of {', '.join(QUANTITIES)}")
    info = raster_info(input_path)
    check_band(info, band)
    if info.is_complex(band):
        raise ValueError(f"band {band} of {input_path!r} is complex: give the unwrapped phase "
                         "(a real band), not the wrapped interferogram")
    if quantity == "phase":
        w = check_wavelength(wavelength)
    to_metres, in_unit, base_unit = _input_scale(quantity, input_units, wavelength,
                                                 phase_convention)
    out_unit = normalize_unit(output_units)
    if is_velocity_unit(out_unit) != (quantity == "los_velocity"):
        out_unit = output_unit_for(quantity, out_unit.split("/")[0])
    out_factor = unit_factor(base_unit, out_unit)
    if not (float(max_amplification) >= 1.0):
        raise ValueError(f"MAX_AMPLIFICATION must be >= 1, not {max_amplification!r}")
    m = direction_vector(direction, azimuth_deg, plunge_deg)
    geometry = dict(heading_deg=heading_deg, look_direction=look_direction,
                    azimuth_deg=azimuth_deg, plunge_deg=plunge_deg)
    sensitivity(30.0, direction, **geometry)  # raises now for a missing heading
    if heading_deg is not None and needs_heading(direction, plunge_deg):
        validation.heading(heading_deg, "HEADING")
    if str(direction).lower() == "custom":
        validation.check_quantity(azimuth_deg, "azimuth", "AZIMUTH")
    reader, constant_theta, source = _incidence_input(info, incidence, incidence_band,
                                                      incidence_units, notes, mon)

    desc, q_out, meta = _output_metadata(quantity, direction, m, out_unit, in_unit, source,
                                         max_amplification, azimuth_deg, plunge_deg)
    if quantity == "phase":
        meta["wavelength_m"] = f"{w:.9g}"
        meta["phase_convention"] = f"{phase_convention} (LOS = {to_metres / w * 4 * math.pi:+.0f} "\
                                   "* wavelength / (4 pi) * phase)"
    if heading_deg is not None and needs_heading(direction, plunge_deg):
        meta["heading_deg"] = f"{float(heading_deg):g}"
        meta["look_direction"] = look_direction

    out_writer = RasterWriter(output_path, info.width, info.height, info.geotransform, info.crs_wkt,
                              descriptions=[desc], band_metadata=[meta])
    los_writer = None
    try:
        if los_output_path and quantity == "phase":
            los_writer = RasterWriter(
                los_output_path, info.width, info.height, info.geotransform, info.crs_wkt,
                descriptions=["LOS displacement, positive toward the satellite"],
                band_metadata=[{"units": "m", "quantity": "los_displacement",
                                "convention": "positive toward the satellite",
                                "wavelength_m": meta["wavelength_m"],
                                "phase_convention": meta["phase_convention"]}])
        run = engine or engine_from_environment()
        mon.info(f"work runs on: {run.describe()}")
        template = _ProjectionTask(          # every task: its window and tiles filled in
            row=0, rows=0, col=0, width=0, los=BandSource(input_path, band, scale=to_metres),
            incidence=reader, constant_theta=None if reader is not None else constant_theta,
            direction=direction, max_amplification=float(max_amplification),
            geometry=tuple(sorted(geometry.items())), out_factor=out_factor,
            keep_los=los_writer is not None, tiles=None)
        masked_total = _project_blocks(template, info, rows_per_block, run, out_writer,
                                       los_writer, mon)
        mon.info(f"work done: {run.summary()}")
        stats = out_writer.stats(1)
        los_stats = los_writer.stats(1) if los_writer is not None else None
        if los_writer is not None:
            los_writer.commit()
        out_writer.commit()
    except BaseException:
        out_writer.abort()
        if los_writer is not None:
            los_writer.abort()
        raise
    total = info.width * info.height
    notes.append(f"{masked_total} of {total} pixels ({100.0 * masked_total / total:.2f} %) set to NaN: "
                 f"the projection would amplify LOS noise more than {float(max_amplification):g} times")
    return {
        "notes": notes,
        "masked": masked_total,
        "valid": stats.get("valid", 0),
        "stats": stats,
        "los_stats": los_stats,
        "units": out_unit,
        "incidence_source": source,
        "quantity": q_out,
    }
