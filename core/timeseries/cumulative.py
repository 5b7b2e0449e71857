"""Cumulative displacement between two dates of a stack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

from ..execution import (
    task_windows,
    zip_tasks,
)
from ..progress import ensure_monitor
from ..raster_io import (
    RasterWriter,
)
from ..tiles import TileLayout
from .stack import (
    check_date_range,
    engine_for_stack,
    nearest_acquisition,
    Selection,
    Stack,
    _band_meta,
    _base_metadata,
    _BlockTask,
    _convention,
)


# --------------------------------------------------------------------------- cumulative
@dataclass
class CumulativeResult:
    path: str
    start: Selection
    end: Selection
    units: str
    stats: Dict[str, float]


def _later_minus_earlier(task: _BlockTask):
    first, second = task.read()
    return task.packed(second - first)


def cumulative_displacement(stack: Stack, start, end, output: str, monitor=None,
                            engine=None) -> CumulativeResult:
    """Write ``output``: displacement from ``start`` to ``end`` = value at the acquisition
    nearest to ``end`` minus value at the acquisition nearest to ``start``.

    Both requested dates must lie within the series; the chosen acquisitions
    are recorded in the output metadata (``start_date``, ``end_date``,
    ``start_date_requested``, ``end_date_requested``).  Unit: the stack's
    length unit; sign: that of the input (positive = toward the satellite for
    LOS).  NaN where either date is NaN.  Raises ValueError when start is not
    before end, a date is outside the series, or both map to one acquisition.
    """
    monitor = ensure_monitor(monitor)
    if not stack.dated:
        raise ValueError("the input has layers without dates: a cumulative displacement needs a dated series")
    a, b = check_date_range(start, end, stack.dates)
    s0 = nearest_acquisition(stack.dates, a, "START_DATE")
    s1 = nearest_acquisition(stack.dates, b, "END_DATE")
    if s0.index == s1.index:
        raise ValueError(
            f"START_DATE {a.isoformat()} and END_DATE {b.isoformat()} both select the acquisition "
            f"{s0.date.isoformat()}: choose dates further apart (acquisitions: "
            f"{', '.join(d.isoformat() for d in stack.dates)})")
    days = (s1.date - s0.date).days
    meta = _base_metadata(stack, "displacement_toolkit cumulative_displacement")
    meta.update({
        "start_date": s0.date.isoformat(), "end_date": s1.date.isoformat(),
        "start_date_requested": a.isoformat(), "end_date_requested": b.isoformat(),
        "reference_date": s0.date.isoformat(), "date": s1.date.isoformat(),
        "interval_days": str(days),
    })
    quantity = stack.quantity or "displacement"
    band_meta = _band_meta(stack.units, quantity, {
        "date": s1.date.isoformat(), "reference_date": s0.date.isoformat(),
        "convention": _convention(stack)})
    desc = f"displacement {s0.date.isoformat()} to {s1.date.isoformat()} ({stack.units})"
    with RasterWriter(output, stack.width, stack.height, stack.geotransform, stack.crs_wkt, 1,
                      [desc], [band_meta], meta) as w:
        run = engine_for_stack(engine, stack, monitor)
        # two dates and their difference
        windows = task_windows(stack.height, stack.width, 12, run.workers)
        pair = stack.window_reader([s0.index, s1.index])
        tiles = TileLayout(stack.width, stack.height)
        tasks = (_BlockTask(r0, n, pair, tiles, col=c0, cols=cols)
                 for r0, n, c0, cols in windows)
        done = 0
        for task, difference in zip_tasks(run, _later_minus_earlier, tasks, monitor):
            w.write(1, task.row, difference, task.col)
            done += task.rows * task.cols
            monitor.update(done / (stack.width * stack.height))
        monitor.info(f"work done: {run.summary()}")
        stats = w.stats(1)
    return CumulativeResult(w.path, s0, s1, stack.units, stats)
