"""The velocity model (offset, velocity, seasonal terms, steps; MintPy's time axis and step
rule as options) and its per-pixel least-squares fit over a date range."""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import dates as _dates
from ..execution import (
    TASK_BYTES,
    task_windows,
    zip_tasks,
)
from ..progress import ensure_monitor
from ..raster_io import (
    RasterWriter,
)
from ..tiles import TileLayout
from ..units import DAYS_PER_YEAR
from .stack import (
    check_date_range,
    engine_for_stack,
    EpochsReader,
    Stack,
    _band_meta,
    _base_metadata,
    _convention,
    _velocity_quantity,
)


# --------------------------------------------------------------------------- velocity model
#: Above this many distinct validity patterns in one block, the velocity fit uses
#: masked normal equations (one small solve per pixel, vectorised) instead of one
#: pseudo-inverse per pattern.
MAX_PATTERNS = 256

#: Time axes of the velocity model: ``days`` = days since the origin / 365.25 (default);
#: ``decimal_year`` = MintPy's (``ptime.yyyymmdd2years``): year + (day of year − 1)/365.25
#: (+ time of day / (365.25 · 86400 s)), minus the origin's.  They differ across 31 December
#: (a leap year's 366th day is 365/365.25 = 0.99932 yr, then the year restarts at .0).
TIME_AXES = ("days", "decimal_year")
#: Which side of a step an acquisition on the step date falls: ``on_or_after`` (default: the
#: event precedes that day's acquisition) or ``mintpy`` (MintPy ``time_func``: the step
#: column is t > t_step with t the acquisition's decimal year including its time of day
#: (``CENTER_LINE_UTC``) and t_step the step date at 00:00: an acquisition on the step date
#: is after the step when it has a time of day, **before** it when the time is 0 / unknown).
STEP_RULES = ("on_or_after", "mintpy")
SECONDS_PER_YEAR = DAYS_PER_YEAR * 86400.0


def decimal_years(dates: Sequence, seconds: float = 0.0) -> np.ndarray:
    """MintPy's decimal year of each date: year + (day of year − 1)/365.25, plus ``seconds``
    (time of day) / (365.25 · 86400), in that order of operations (float64)."""
    out = []
    for d in dates:
        day = _dates.parse_date(d)
        y = day.year + (day.timetuple().tm_yday - 1) / DAYS_PER_YEAR
        if seconds:
            y += float(seconds) / SECONDS_PER_YEAR
        out.append(y)
    return np.array(out, dtype=np.float64)


def years_since(dates: Sequence, origin, time_axis: str = "days", seconds: float = 0.0) -> np.ndarray:
    """Time of each date since ``origin`` in years (float64) on ``time_axis``
    (:data:`TIME_AXES`): days / 365.25, or MintPy's decimal years (``seconds``: the
    acquisitions' time of day, which cancels here as origin and dates share it)."""
    if time_axis not in TIME_AXES:
        raise ValueError(f"TIME_AXIS {time_axis!r}: use one of {', '.join(TIME_AXES)}")
    if time_axis == "decimal_year":
        return decimal_years(dates, seconds) - decimal_years([origin], seconds)[0]
    o = _dates.parse_date(origin)
    return np.array([(_dates.parse_date(d) - o).days / DAYS_PER_YEAR for d in dates],
                    dtype=np.float64)


def step_column(dates: Sequence, step, step_rule: str = "on_or_after",
                seconds: float = 0.0) -> np.ndarray:
    """Heaviside column of a step at date ``step`` (1 after, 0 before; :data:`STEP_RULES`)."""
    if step_rule not in STEP_RULES:
        raise ValueError(f"STEP_RULE {step_rule!r}: use one of {', '.join(STEP_RULES)}")
    if step_rule == "mintpy":
        t = decimal_years(dates, seconds)
        return (t > decimal_years([step])[0]).astype(np.float64)
    sd = _dates.parse_date(step)
    return np.array([1.0 if _dates.parse_date(d) >= sd else 0.0 for d in dates])


def design_matrix(dates: Sequence, origin, seasonal: bool = False,
                  steps: Sequence = (), time_axis: str = "days", step_rule: str = "on_or_after",
                  seconds: float = 0.0) -> Tuple[np.ndarray, List[str]]:
    """Design matrix of the displacement model and the names of its columns.

    ``d(t) = c + v·t [+ a1·cos 2πt + b1·sin 2πt + a2·cos 4πt + b2·sin 4πt]
    [+ Σ s_k·H(t − t_k)]`` with t in years since ``origin`` on ``time_axis``
    (:data:`TIME_AXES`; default days / 365.25), H the Heaviside step of ``step_rule``
    (:data:`STEP_RULES`; default: 1 for acquisitions **on or after** the step date, an
    event on an acquisition day being taken to precede the acquisition, 0 before).
    ``seconds``: the acquisitions' time of day (MintPy ``CENTER_LINE_UTC``), used by the
    ``mintpy`` step rule.  Columns: ``offset``, ``velocity``, ``annual_cos``, ``annual_sin``,
    ``semiannual_cos``, ``semiannual_sin``, ``step_YYYY-MM-DD`` -- the order of MintPy's
    ``time_func.get_design_matrix4time_func`` (polynomial 1, periodic 1.0 0.5, stepDate).
    """
    days = [_dates.parse_date(d) for d in dates]
    t = years_since(days, origin, time_axis, seconds)
    cols = [np.ones_like(t), t]
    names = ["offset", "velocity"]
    if seasonal:
        for k, label in ((1, "annual"), (2, "semiannual")):
            cols += [np.cos(2 * np.pi * k * t), np.sin(2 * np.pi * k * t)]
            names += [f"{label}_cos", f"{label}_sin"]
    for s in steps:
        sd = _dates.parse_date(s)
        cols.append(step_column(days, sd, step_rule, seconds))
        names.append(f"step_{sd.isoformat()}")
    return np.column_stack(cols), names


def acquisition_seconds(metadata: Dict[str, str]) -> Tuple[float, Optional[str]]:
    """Time of day of the acquisitions (seconds after 00:00 UTC) from MintPy's
    ``CENTER_LINE_UTC`` (a MintPy file read directly, or ``product_CENTER_LINE_UTC`` written
    by load_product), and the item it came from; (0.0, None) when not recorded."""
    for key in ("CENTER_LINE_UTC", "product_CENTER_LINE_UTC"):
        try:
            value = float(metadata[key])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(value) and 0.0 <= value < 86400.0:
            return value, key
    return 0.0, None


@dataclass
class FitResult:
    """Per-pixel least-squares fit of :func:`fit_pixels`.

    ``coef``: (p, P) model coefficients (series unit; velocity per year);
    ``sigma``: (p, P) 1-sigma of each coefficient from the residuals,
    ``sqrt(s² · [(AᵀA)⁻¹]_jj)`` with ``s² = Σr²/(n − p)``; ``rms``: (P,)
    ``sqrt(Σr²/n)``; ``count``: (P,) valid acquisitions used.  NaN where a
    pixel has fewer than p + 1 valid acquisitions or a singular sub-system.
    """

    coef: np.ndarray
    sigma: np.ndarray
    rms: np.ndarray
    count: np.ndarray
    patterns: int = 0


def fit_pixels(A: np.ndarray, Y: np.ndarray, max_patterns: int = MAX_PATTERNS,
               min_group: int = 32) -> FitResult:
    """Least squares ``Y[:, j] ≈ A @ x_j`` for every pixel j, NaN values skipped per pixel.

    ``A``: (n, p) design matrix shared by all pixels; ``Y``: (n, P) observations.
    Pixels are grouped by their pattern of valid acquisitions and each group is
    solved at once with one pseudo-inverse (exact least squares).  When there are
    more than ``max_patterns`` patterns, only the patterns shared by at least
    ``min_group`` pixels are solved that way; the other pixels go through the
    masked normal equations ``(Aᵀ M_j A) x_j = Aᵀ M_j y_j``, all in one batched
    solve (the same solution for the well-conditioned systems kept; a pixel whose
    normalised normal matrix has a determinant below 1e-12 is left NaN).
    """
    A = np.asarray(A, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    n, p = A.shape
    P = Y.shape[1]
    valid = np.isfinite(Y)
    count = valid.sum(axis=0)
    coef = np.full((p, P), np.nan)
    sigma = np.full((p, P), np.nan)
    rms = np.full(P, np.nan)
    enough = count >= p + 1
    if not enough.any():
        return FitResult(coef, sigma, rms, count, 0)
    cols = np.flatnonzero(enough)
    inverse, sizes, order = validity_patterns(valid[:, cols])
    patterns = sizes.size
    grouped = np.ones(patterns, dtype=bool) if patterns <= max_patterns \
        else sizes >= max(1, int(min_group))
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    for k in np.flatnonzero(grouped):
        members = cols[order[bounds[k]:bounds[k + 1]]]
        rows = valid[:, members[0]]
        Ak = A[rows]
        if np.linalg.matrix_rank(Ak) < p:
            continue
        pinv = np.linalg.pinv(Ak)
        yk = Y[np.ix_(rows, members)]
        xk = pinv @ yk
        r = yk - Ak @ xk
        rss = np.einsum("ij,ij->j", r, r)
        m = rows.sum()
        cov = pinv @ pinv.T  # (AᵀA)⁻¹
        coef[:, members] = xk
        sigma[:, members] = np.sqrt(np.outer(np.diag(cov), rss / (m - p)))
        rms[members] = np.sqrt(rss / m)
    rest = cols[~grouped[inverse]]
    if rest.size:
        _normal_equations(A, Y[:, rest], valid[:, rest], rest, coef, sigma, rms)
    return FitResult(coef, sigma, rms, count, int(patterns))


def validity_patterns(valid: np.ndarray):
    """Group the pixels (columns of ``valid``, (n, P) bool) by their pattern of valid
    acquisitions: ``(inverse, sizes, order)`` with ``inverse[j]`` the group of pixel j,
    ``sizes[k]`` the pixels of group k and ``order`` the pixels sorted by group (increasing
    pixel index within a group), so group k is ``order[sum(sizes[:k]) : sum(sizes[:k+1])]``.

    Each pattern is packed into 64-bit words and the words are sorted as integers (numpy
    sorts integers without holding the GIL, unlike the row-wise ``np.unique(axis=0)``, so
    blocks fitted on several threads run in parallel)."""
    n, P = valid.shape
    packed = np.packbits(valid, axis=0)                            # (ceil(n/8), P) bytes
    padding = (-packed.shape[0]) % 8
    if padding:
        packed = np.concatenate([packed, np.zeros((padding, P), dtype=np.uint8)])
    words = np.ascontiguousarray(packed.T).view(np.uint64)         # (P, words)
    if words.shape[1] == 1:
        order = np.argsort(words[:, 0], kind="stable")
    else:
        order = np.lexsort(words.T[::-1])                          # stable, first word first
    ranked = words[order]
    changes = np.any(ranked[1:] != ranked[:-1], axis=1)
    inverse = np.empty(P, dtype=np.intp)
    inverse[order] = np.concatenate([[0], np.cumsum(changes)])
    starts = np.flatnonzero(np.concatenate([[True], changes]))
    sizes = np.diff(np.append(starts, P))
    return inverse, sizes, order


def _normal_equations(A, Y, valid, idx, coef, sigma, rms) -> None:
    """Masked normal equations for the pixels ``idx`` (columns of Y), written in place."""
    n, p = A.shape
    W = valid.astype(np.float64)                                   # (n, P)
    Yz = np.where(valid, Y, 0.0)
    AA = (A[:, :, None] * A[:, None, :]).reshape(n, p * p)         # outer products a_i a_iᵀ
    N = (AA.T @ W).T.reshape(-1, p, p)                             # Σ_i w_ij a_i a_iᵀ
    rhs = (A.T @ Yz).T                                             # (P, p)
    d = np.sqrt(np.einsum("jpp->jp", N))
    ok = np.all(d > 0, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        C = N / (d[:, :, None] * d[:, None, :])                    # unit diagonal
    sign, logdet = np.linalg.slogdet(np.where(ok[:, None, None], C, np.eye(p)))
    ok &= (sign > 0) & (logdet > math.log(1e-12))
    if not ok.any():
        return
    Ninv = np.linalg.inv(C[ok]) / (d[ok][:, :, None] * d[ok][:, None, :])
    x = np.einsum("jpq,jq->jp", Ninv, rhs[ok])                     # (P'', p)
    r = (Yz[:, ok] - A @ x.T) * W[:, ok]
    rss = np.einsum("ij,ij->j", r, r)
    m = W[:, ok].sum(axis=0)
    sel = idx[ok]
    coef[:, sel] = x.T
    sigma[:, sel] = np.sqrt(np.einsum("jpp->jp", Ninv).T * (rss / (m - p)))
    rms[sel] = np.sqrt(rss / m)


@dataclass
class VelocityResult:
    """Outputs of :func:`timeseries_velocity`: paths, the acquisitions used, the model
    columns and the statistics of each written raster (for styling)."""

    paths: Dict[str, str]
    dates: List[_dt.date]
    columns: List[str]
    units: str
    velocity_units: str
    stats: Dict[str, Dict[str, float]]
    valid_pixels: int


@dataclass
class VelocityModel:
    """The velocity model of a date range (:func:`velocity_model`): the requested range
    (``start``, ``end``), the acquisitions used (``indices`` into the series, ``dates``),
    the step dates, the design matrix ``A`` and its column ``names``."""

    start: _dt.date
    end: _dt.date
    indices: List[int]
    dates: List[_dt.date]
    steps: List[_dt.date]
    A: np.ndarray
    names: List[str]


def velocity_model(dates: Sequence, start, end, seasonal: bool = False, steps: Sequence = (),
                   time_axis: str = "days", step_rule: str = "on_or_after",
                   seconds: float = 0.0) -> VelocityModel:
    """The acquisitions of ``dates`` in [``start``, ``end``] and the design matrix
    (:func:`design_matrix`, time origin = the first acquisition used) of the model of
    :func:`timeseries_velocity`, shared by every velocity fit (rasters and points).
    ``time_axis``, ``step_rule``, ``seconds``: as :func:`design_matrix`.
    Raises ValueError for START after END, a range outside the series, fewer than p + 1
    acquisitions in the range or an ill-posed step."""
    a, b = check_date_range(start, end, dates)
    dates = [_dates.parse_date(d) for d in dates]
    first, last = min(dates), max(dates)
    for name, day in (("START_DATE", a), ("END_DATE", b)):
        if day < first or day > last:
            raise ValueError(f"{name} {day.isoformat()} is outside the time series "
                             f"({first.isoformat()} to {last.isoformat()}): choose a date within it")
    used = [i for i, d in enumerate(dates) if a <= d <= b]
    used_dates = [dates[i] for i in used]
    step_days = sorted({_dates.parse_date(s) for s in steps})
    for s in step_days:
        after = int(step_column(used_dates, s, step_rule, seconds).sum())
        before = len(used_dates) - after
        if before == 0 or after == 0:
            side = "after" if step_rule == "mintpy" else "on/after"
            raise ValueError(
                f"STEP_DATES {s.isoformat()}: the step needs acquisitions both before and {side} "
                f"it within {a.isoformat()} .. {b.isoformat()} ({before} before, {after} after): "
                "remove it or widen the date range")
    A, names = design_matrix(used_dates, used_dates[0] if used_dates else a, seasonal, step_days,
                             time_axis, step_rule, seconds)
    p = len(names)
    if len(used) < p + 1:
        model = "offset + velocity" + (" + annual + semi-annual terms" if seasonal else "") + \
            (f" + {len(step_days)} step(s)" if step_days else "")
        raise ValueError(
            f"{len(used)} acquisition(s) between START_DATE {a.isoformat()} and END_DATE "
            f"{b.isoformat()} are too few for the model {model} ({p} terms): it needs at least "
            f"{p + 1} to estimate the terms and their uncertainty; widen the range or "
            "simplify the model")
    if np.linalg.matrix_rank(A) < p:
        raise ValueError(f"the model {', '.join(names)} cannot be separated with the acquisitions "
                         f"{', '.join(d.isoformat() for d in used_dates)}: simplify the model")
    return VelocityModel(a, b, used, used_dates, step_days, A, names)


def timeseries_velocity(stack: Stack, start, end, velocity_path: str,
                        sigma_path: Optional[str] = None, rms_path: Optional[str] = None,
                        seasonal: bool = False, steps: Sequence = (), monitor=None,
                        steps_path: Optional[str] = None,
                        amplitude_path: Optional[str] = None, time_axis: str = "days",
                        step_rule: str = "on_or_after",
                        seconds: Optional[float] = None, engine=None) -> VelocityResult:
    """Least-squares velocity of every pixel over the acquisitions in [``start``, ``end``].

    Model (:func:`design_matrix`): offset + velocity·t, optionally annual and
    semi-annual sine/cosine terms (``seasonal``) and Heaviside steps at the
    dates ``steps`` (events; they must fall inside the range with acquisitions
    on both sides).  Outputs, all NaN where a pixel has fewer than p + 1 valid
    acquisitions (p = number of model terms):

    * ``velocity_path``: velocity in the stack unit per year (m → m/yr);
    * ``sigma_path``: its 1-sigma from the residuals (same unit);
    * ``rms_path``: RMS of the residuals (stack unit);
    * ``steps_path``: the size of each step, one band per step date (stack unit,
      positive = toward the satellite for LOS), band metadata ``date``;
    * ``amplitude_path``: annual amplitude ``sqrt(a1² + b1²)`` (stack unit; needs
      ``seasonal``).

    ``time_axis`` and ``step_rule``: see :data:`TIME_AXES` and :data:`STEP_RULES` (MintPy's
    conventions: ``decimal_year`` and ``mintpy``); ``seconds``: the acquisitions' time of day
    for the ``mintpy`` step rule (default: the stack's ``CENTER_LINE_UTC``, else 0; logged).

    The acquisitions used, the model and its terms are written in the metadata.
    Raises ValueError for START after END, a range outside the series, fewer
    than p + 1 acquisitions in the range or an ill-posed step.
    """
    monitor = ensure_monitor(monitor)
    if not stack.dated:
        raise ValueError("the input has layers without dates: a velocity needs a dated series")
    if seconds is None:
        seconds, source = acquisition_seconds(stack.metadata)
        if step_rule == "mintpy" and steps:
            monitor.info(f"MintPy step rule: acquisition time of day {seconds:g} s "
                         + (f"from {source}" if source else "(no CENTER_LINE_UTC: 00:00, so an "
                            "acquisition on a step date is before the step)"))
    model = velocity_model(stack.dates, start, end, seasonal, steps, time_axis, step_rule, seconds)
    a, b, used, used_dates = model.start, model.end, model.indices, model.dates
    step_days, A, names = model.steps, model.A, model.names
    vunit = f"{stack.units}/yr"
    meta = _base_metadata(stack, "displacement_toolkit timeseries_velocity")
    meta.update({
        "start_date_requested": a.isoformat(), "end_date_requested": b.isoformat(),
        "start_date": used_dates[0].isoformat(), "end_date": used_dates[-1].isoformat(),
        "acquisitions": ",".join(d.isoformat() for d in used_dates),
        "acquisition_count": str(len(used)),
        "model": " + ".join(names), "seasonal": str(bool(seasonal)),
        "steps": ",".join(s.isoformat() for s in step_days),
        "time_origin": used_dates[0].isoformat(), "year_days": str(DAYS_PER_YEAR),
        "time_axis": time_axis, "step_rule": step_rule,
    })
    if steps_path and not step_days:
        raise ValueError("STEPS output asked for, but no STEP_DATES were given")
    if amplitude_path and not seasonal:
        raise ValueError("ANNUAL_AMPLITUDE output asked for, but the seasonal terms are off: "
                         "set SEASONAL")
    conv = _convention(stack)
    vq = _velocity_quantity(stack.quantity)
    one = [{"convention": conv}]
    outputs = [("velocity", velocity_path, vunit, vq, ["velocity"], one),
               ("sigma", sigma_path, vunit, f"{vq}_sigma", ["velocity 1-sigma (from residuals)"],
                one),
               ("rms", rms_path, stack.units, "rms_residual", ["RMS residual of the fit"], one),
               ("steps", steps_path, stack.units, f"{stack.quantity or 'displacement'}_step",
                [f"step on {d.isoformat()}" for d in step_days],
                [{"convention": conv, "date": d.isoformat()} for d in step_days]),
               ("amplitude", amplitude_path, stack.units, "annual_amplitude",
                ["annual amplitude"], one)]
    step_rows = [names.index(f"step_{d.isoformat()}") for d in step_days]
    writers = {}
    paths, stats = {}, {}
    try:
        for key, path, unit, quantity, labels, extras in outputs:
            if not path:
                continue
            writers[key] = RasterWriter(
                path, stack.width, stack.height, stack.geotransform, stack.crs_wkt, len(labels),
                [f"{label} ({unit})" for label in labels],
                [_band_meta(unit, quantity, extra) for extra in extras], dict(meta))
        run = engine_for_stack(engine, stack, monitor)
        # a task holds its block of the series (float32); the fit goes in chunks of pixels
        windows = task_windows(stack.height, stack.width, 4 * len(used), run.workers)
        valid_pixels = done = 0
        tiles = TileLayout(stack.width, stack.height)
        tasks = (_VelocityTask(r0, n, stack.window_reader(used), A, tiles, tuple(step_rows),
                               seasonal, frozenset(writers), c0, cols)
                 for r0, n, c0, cols in windows)
        for task, blocks in zip_tasks(run, _velocity_block, tasks, monitor):
            valid_pixels += blocks["valid"]
            for key, w in writers.items():
                for band, values in enumerate(blocks[key], start=1):
                    w.write(band, task.row, values, task.col)
            done += task.rows * task.cols
            monitor.update(done / (stack.width * stack.height))
        monitor.info(f"work done: {run.summary()}")
        for key, w in writers.items():
            stats[key] = w.stats(1)
            paths[key] = w.commit()
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    return VelocityResult(paths, used_dates, names, stack.units, vunit, stats, valid_pixels)


@dataclass(frozen=True)
class _VelocityTask:
    """One row block of :func:`timeseries_velocity`."""

    row: int
    rows: int
    epochs: EpochsReader
    A: np.ndarray = field(compare=False)
    tiles: TileLayout                    # the outputs' tiles: written results compressed here
    step_rows: tuple = ()
    seasonal: bool = False
    written: frozenset = frozenset({"velocity"})   # the outputs written
    col: int = 0                         # the block's columns: col .. col + cols - 1
    cols: Optional[int] = None           # (None: to the last)


#: Bytes per pixel and acquisition the fit holds (~6 float64 (n, P) arrays).
FIT_BYTES = 48


def _velocity_block(task: _VelocityTask) -> Dict[str, list]:
    """The fitted terms of one block per written output (float32 (rows, width) rasters,
    packed by the task's tiles) and ``valid``, the pixels with a velocity; the fit goes in
    chunks of pixels that hold about TASK_BYTES."""
    Y = task.epochs.read(task.row, task.rows, task.col, task.cols).reshape(
        len(task.epochs.sources), -1)
    n, pixels = Y.shape
    bands = {"velocity": 1, "sigma": 1, "rms": 1, "steps": len(task.step_rows),
             "amplitude": 1 if task.seasonal else 0}
    blocks = {key: [np.empty(pixels, dtype=np.float32) for _ in range(count)]
              for key, count in bands.items()}
    chunk = max(1, TASK_BYTES // (FIT_BYTES * (n + task.A.shape[1])))
    for c0 in range(0, pixels, chunk):
        part = slice(c0, min(pixels, c0 + chunk))
        fit = fit_pixels(task.A, Y[:, part])
        blocks["velocity"][0][part] = fit.coef[1]
        blocks["sigma"][0][part] = fit.sigma[1]
        blocks["rms"][0][part] = fit.rms
        for out, i in zip(blocks["steps"], task.step_rows):
            out[part] = fit.coef[i]
        if task.seasonal:
            blocks["amplitude"][0][part] = np.hypot(fit.coef[2], fit.coef[3])
    results = {"valid": int(np.isfinite(blocks["velocity"][0]).sum())}
    for key in task.written:
        results[key] = [task.tiles.pack(b.reshape(task.rows, -1), task.row, task.col)
                        for b in blocks[key]]
    return results
