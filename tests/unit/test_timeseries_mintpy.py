"""MintPy's time conventions in the velocity model (issue 17 item 6): the design matrix of
MintPy's timeseries2velocity, rebuilt here from its documented formulas, is reproduced
exactly by core.timeseries.design_matrix(time_axis="decimal_year", step_rule="mintpy").

MintPy is not installed here; the formulas are those of MintPy 1.6 (src/mintpy/utils/ptime.py
``yyyymmdd2years``; src/mintpy/utils/time_func.py ``get_design_matrix4time_func``,
``get_design_matrix4polynomial_func`` / ``periodic_func`` / ``step_func``; timeseries2velocity
passes ``seconds = CENTER_LINE_UTC`` and uses the first date as the time origin):

* decimal year  y = year + (day of year - 1)/365.25 [+ seconds / (365.25 * 24 * 60 * 60)]
* t = y - y(first date); columns t**0/0!, t**1/1!, then cos(2 pi / P t), sin(2 pi / P t) for
  each period P (1.0, 0.5), then one step column per stepDate: 1 where y(date, seconds) >
  y(step date) (step date at 00:00), else 0; the matrix is float32.
"""

import datetime as dt
import math

import numpy as np
import pytest
from scipy import linalg

from displacement_toolkit.core import timeseries as ts
from displacement_toolkit.core.raster_io import crs_from_epsg, read_block, write_array

CENTER_LINE_UTC = 58318.0      # 16:11:58 UTC, a Sentinel-1 evening pass
# 12-day Sentinel-1 series over a leap day and a year boundary, a few gaps
DATES = [dt.date(2019, 12, 10) + dt.timedelta(days=12 * k) for k in range(36) if k not in (5, 17)]
STEP_ON_ACQUISITION = DATES[20]       # 2020-08-30: an acquisition day
STEP_BETWEEN = dt.date(2020, 3, 1)    # no acquisition that day


def mintpy_decimal_year(day, seconds=0.0):
    """ptime.yyyymmdd2years for a YYYYMMDD string (hour = minute = second = 0)."""
    d = dt.datetime.strptime(day.strftime("%Y%m%d"), "%Y%m%d")
    y = d.year + (d.timetuple().tm_yday - 1) / 365.25
    if seconds:
        y += float(seconds) / (365.25 * 24 * 60 * 60)
    return y


def mintpy_design_matrix(dates, periods, steps, seconds):
    """float32 design matrix of time_func.get_design_matrix4time_func (polynomial 1)."""
    years = np.array([mintpy_decimal_year(d, seconds) for d in dates])
    t = years - years[0]
    A = np.zeros((len(dates), 2 + 2 * len(periods) + len(steps)), dtype=np.float32)
    A[:, 0] = t ** 0 / math.factorial(0)
    A[:, 1] = t ** 1 / math.factorial(1)
    for i, period in enumerate(periods):
        A[:, 2 + 2 * i] = np.cos(2 * np.pi / period * t)
        A[:, 3 + 2 * i] = np.sin(2 * np.pi / period * t)
    for j, step in enumerate(steps):
        A[:, 2 + 2 * len(periods) + j] = years > mintpy_decimal_year(step)
    return A


@pytest.mark.parametrize("seconds", [0.0, CENTER_LINE_UTC])
@pytest.mark.parametrize("seasonal", [False, True])
def test_design_matrix_is_mintpys_exactly(seconds, seasonal):
    steps = [STEP_BETWEEN, STEP_ON_ACQUISITION]
    ours, names = ts.design_matrix(DATES, DATES[0], seasonal, steps, time_axis="decimal_year",
                                   step_rule="mintpy", seconds=seconds)
    theirs = mintpy_design_matrix(DATES, [1.0, 0.5] if seasonal else [], steps, seconds)
    assert ours.shape == theirs.shape == (34, len(names))
    assert np.array_equal(ours.astype(np.float32), theirs)      # bit for bit in MintPy's float32
    # the columns are MintPy's, in MintPy's order
    assert STEP_ON_ACQUISITION == dt.date(2020, 8, 30)
    assert names[:2] == ["offset", "velocity"] and names[-2:] == [
        "step_2020-03-01", "step_2020-08-30"]


def test_the_two_conventions_differ_where_mintpy_users_meet_them():
    days, _ = ts.design_matrix(DATES, DATES[0], False, [STEP_ON_ACQUISITION])
    mint, _ = ts.design_matrix(DATES, DATES[0], False, [STEP_ON_ACQUISITION], "decimal_year",
                               "mintpy", 0.0)
    k = DATES.index(STEP_ON_ACQUISITION)
    # the acquisition on the step date: after the step here, before it in MintPy (no time of day)
    assert days[k, 2] == 1.0 and mint[k, 2] == 0.0
    assert np.array_equal(np.delete(days[:, 2], k), np.delete(mint[:, 2], k))
    # with MintPy's CENTER_LINE_UTC it is after the step there too
    timed, _ = ts.design_matrix(DATES, DATES[0], False, [STEP_ON_ACQUISITION], "decimal_year",
                                "mintpy", CENTER_LINE_UTC)
    assert timed[k, 2] == 1.0
    # time axis: the same within a calendar year; each 1 January MintPy's decimal year restarts,
    # so it gains 365.25 - 365 = 0.25 day after 2019 and loses 366 - 365.25 = 0.75 day after
    # the leap year 2020 relative to days / 365.25
    diff = (mint[:, 1] - days[:, 1]) * 365.25
    for i, d in enumerate(DATES):
        expected = {2019: 0.0, 2020: 0.25, 2021: 0.25 - 0.75}[d.year]
        assert diff[i] == pytest.approx(expected, abs=1e-9), d


@pytest.fixture
def series(tmp_path):
    """A 2 x 3 pixel series: 21 mm/yr, annual signal, a 15 mm step on an acquisition date,
    deterministic 'noise', in metres, with MintPy's CENTER_LINE_UTC in the metadata."""
    rng = np.random.default_rng(42)
    t = np.array([(d - DATES[0]).days / 365.25 for d in DATES])
    base = 0.021 * t + 0.004 * np.sin(2 * np.pi * t + 0.3) + 0.015 * np.array(
        [d >= STEP_ON_ACQUISITION for d in DATES]) + rng.normal(0, 0.002, t.size)
    cube = np.stack([np.full((2, 3), v) * np.array([[1.0, 0.5, -1.0], [2.0, 0.0, 0.3]])
                     for v in base - base[0]]).astype(np.float32)
    path = str(tmp_path / "series.tif")
    write_array(path, cube, (0, 30, 0, 0, 0, -30), crs_from_epsg(32633),
                band_metadata=[{"date": d.isoformat(), "units": "m"} for d in DATES],
                metadata={"reference_date": DATES[0].isoformat(),
                          "CENTER_LINE_UTC": str(CENTER_LINE_UTC)})
    return path, cube


def _mintpy_velocity(cube, seconds):
    """MintPy's estimate: scipy.linalg.lstsq of the float32 design matrix and float32 data."""
    G = mintpy_design_matrix(DATES, [1.0, 0.5], [STEP_ON_ACQUISITION], seconds)
    m = linalg.lstsq(G, cube.reshape(len(DATES), -1), cond=None)[0]
    return m[1].reshape(cube.shape[1:]), m[-1].reshape(cube.shape[1:])


def test_velocity_and_step_match_mintpy_with_its_conventions(series, tmp_path):
    path, cube = series
    stack = ts.open_stack([path])
    assert ts.acquisition_seconds(stack.metadata) == (CENTER_LINE_UTC, "CENTER_LINE_UTC")
    log = []
    monitor = ts.ensure_monitor(None)
    monitor._log = log.append
    res = ts.timeseries_velocity(stack, DATES[0], DATES[-1], str(tmp_path / "v.tif"),
                                 seasonal=True, steps=[STEP_ON_ACQUISITION], monitor=monitor,
                                 steps_path=str(tmp_path / "s.tif"), time_axis="decimal_year",
                                 step_rule="mintpy")
    assert any("time of day 58318 s from CENTER_LINE_UTC" in line for line in log)
    v_mintpy, s_mintpy = _mintpy_velocity(cube, CENTER_LINE_UTC)
    v = read_block(res.paths["velocity"])
    s = read_block(res.paths["steps"])
    scale = np.abs(v_mintpy).max()
    assert np.abs(v - v_mintpy).max() < 2e-6 * scale          # float32 solve in MintPy
    assert np.abs(s - s_mintpy).max() < 2e-6 * np.abs(s_mintpy).max()
    # the toolkit's default convention gives a different velocity on the same series
    stack = ts.open_stack([path])
    default = ts.timeseries_velocity(stack, DATES[0], DATES[-1], str(tmp_path / "d.tif"),
                                     seasonal=True, steps=[STEP_ON_ACQUISITION])
    differs = np.abs(read_block(default.paths["velocity"]) - v_mintpy).max()
    assert differs > 100 * np.abs(v - v_mintpy).max()


def test_mintpy_step_rule_without_time_of_day_puts_the_step_date_before(series, tmp_path):
    path, cube = series
    stack = ts.open_stack([path])
    res = ts.timeseries_velocity(stack, DATES[0], DATES[-1], str(tmp_path / "v.tif"),
                                 seasonal=True, steps=[STEP_ON_ACQUISITION], time_axis="decimal_year",
                                 step_rule="mintpy", seconds=0.0)
    v_mintpy, _ = _mintpy_velocity(cube, 0.0)
    v = read_block(res.paths["velocity"])
    assert np.abs(v - v_mintpy).max() < 2e-6 * np.abs(v_mintpy).max()
    with pytest.raises(ValueError, match="STEP_RULE 'isce'"):
        ts.design_matrix(DATES, DATES[0], steps=[STEP_BETWEEN], step_rule="isce")
    with pytest.raises(ValueError, match="TIME_AXIS 'julian'"):
        ts.design_matrix(DATES, DATES[0], time_axis="julian")
