"""core.timeseries: stacks, date selection, cumulative displacement, velocity fits and
re-referencing against synthetic series with known parameters and the real Kilauea series."""

import datetime as dt
import glob
import math
import os

import numpy as np
import pytest

from displacement_toolkit.core import timeseries as ts
from displacement_toolkit.core.dates import parse_date
from displacement_toolkit.core.raster_io import crs_from_epsg, raster_info, read_block, write_array

from ..conftest import TEST_DATA, UTM33N

GT = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
KILAUEA = sorted(glob.glob(str(TEST_DATA / "geepers_hawaii" / "hawaii" / "displacement_*.tif")))


def _dates(start, step_days, n):
    d0 = parse_date(start)
    return [d0 + dt.timedelta(days=step_days * k) for k in range(n)]


def _write_series(path, cube, dates, reference=None, units="m", gt=GT, crs=UTM33N, date_values=None):
    meta = [{"date": (date_values[i] if date_values else d.isoformat()), "units": units,
             "quantity": "los_displacement"} for i, d in enumerate(dates)]
    md = {"reference_date": reference} if reference else None
    write_array(str(path), cube.astype(np.float32), gt, crs, band_metadata=meta, metadata=md)
    return str(path)


# ---------------------------------------------------------------- model recovery
def _truth(t, v=0.02, c=0.003, a1=0.004, b1=-0.002, a2=0.001, b2=0.0015, step=0.0, step_t=None):
    y = c + v * t + a1 * np.cos(2 * np.pi * t) + b1 * np.sin(2 * np.pi * t) \
        + a2 * np.cos(4 * np.pi * t) + b2 * np.sin(4 * np.pi * t)
    if step_t is not None:
        y = y + step * (t >= step_t)
    return y


def test_fit_recovers_velocity_seasonal_terms_and_step_exactly():
    dates = _dates("2019-01-03", 12, 60)  # about two years, Sentinel-1 cadence
    step_date = dates[31]
    A, names = ts.design_matrix(dates, dates[0], seasonal=True, steps=[step_date])
    assert names == ["offset", "velocity", "annual_cos", "annual_sin", "semiannual_cos",
                     "semiannual_sin", f"step_{step_date.isoformat()}"]
    t = ts.years_since(dates, dates[0])
    # 3 pixels with different parameters
    v = np.array([0.02, -0.035, 0.0])
    step = np.array([0.01, -0.004, 0.02])
    Y = np.stack([_truth(t, v=v[j], step=step[j], step_t=t[31]) for j in range(3)], axis=1)
    fit = ts.fit_pixels(A, Y)
    assert fit.coef[1] == pytest.approx(v, abs=1e-12)
    assert fit.coef[2:6, 0] == pytest.approx([0.004, -0.002, 0.001, 0.0015], abs=1e-12)
    assert fit.coef[6] == pytest.approx(step, abs=1e-12)
    assert np.all(fit.rms < 1e-12)


def test_velocity_sigma_matches_the_textbook_formula_and_monte_carlo():
    rng = np.random.default_rng(1)
    dates = _dates("2020-01-01", 12, 40)
    A, _ = ts.design_matrix(dates, dates[0])
    t = A[:, 1]
    noise = 0.003
    P = 4000
    Y = 0.01 * t[:, None] + noise * rng.standard_normal((t.size, P))
    fit = ts.fit_pixels(A, Y)
    # textbook slope standard error, pixel by pixel
    resid = Y - A @ fit.coef
    s2 = (resid ** 2).sum(axis=0) / (t.size - 2)
    se = np.sqrt(s2 / ((t - t.mean()) ** 2).sum())
    assert fit.sigma[1] == pytest.approx(se, rel=1e-9)
    assert fit.rms == pytest.approx(np.sqrt((resid ** 2).mean(axis=0)), rel=1e-9)
    # the spread of the estimated velocities equals the mean predicted sigma (Monte Carlo)
    predicted = noise / math.sqrt(((t - t.mean()) ** 2).sum())
    assert np.std(fit.coef[1]) == pytest.approx(predicted, rel=0.05)
    assert np.mean(fit.sigma[1]) == pytest.approx(predicted, rel=0.05)


@pytest.mark.parametrize("acquisitions", [7, 40, 64, 65, 150])
def test_validity_patterns_group_exactly_the_pixels_with_the_same_valid_acquisitions(acquisitions):
    rng = np.random.default_rng(acquisitions)
    # a few patterns shared by many pixels, and patterns differing in one acquisition only
    base = rng.random((acquisitions, 6)) < 0.7
    valid = base[:, rng.integers(0, 6, 2000)]
    flips = rng.integers(0, 2000, 300)
    valid[rng.integers(0, acquisitions, 300), flips] ^= True
    inverse, sizes, order = ts.validity_patterns(valid)
    expected = {}
    for j in range(valid.shape[1]):
        expected.setdefault(valid[:, j].tobytes(), []).append(j)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    groups = [order[bounds[k]:bounds[k + 1]].tolist() for k in range(sizes.size)]
    assert sorted(groups) == sorted(expected.values())      # same partition, members ascending
    for k, members in enumerate(groups):
        assert (inverse[members] == k).all()


def test_nan_patterns_are_handled_per_pixel_by_both_solvers():
    rng = np.random.default_rng(2)
    dates = _dates("2020-01-01", 12, 30)
    A, _ = ts.design_matrix(dates, dates[0], seasonal=True)
    t = A[:, 1]
    P = 600
    v = rng.uniform(-0.05, 0.05, P)
    Y = v[None, :] * t[:, None] + 0.004 * np.cos(2 * np.pi * t)[:, None]
    Y += 1e-4 * rng.standard_normal(Y.shape)
    holes = rng.random(Y.shape) < 0.15
    Y[holes] = np.nan
    Y[:, 0] = np.nan               # a pixel with no data
    Y[:-3, 1] = np.nan             # a pixel with 3 values: too few for 6 terms
    grouped = ts.fit_pixels(A, Y, max_patterns=10 ** 6)
    normal = ts.fit_pixels(A, Y, max_patterns=0, min_group=10 ** 9)
    hybrid = ts.fit_pixels(A, Y, max_patterns=0, min_group=3)
    assert grouped.patterns > 100
    for fit in (grouped, normal):
        assert np.isnan(fit.coef[1, :2]).all()
        err = np.abs(fit.coef[1, 2:] - v[2:])
        assert np.all(err < 5 * fit.sigma[1, 2:])       # within the sigma the fit reports
        assert np.median(err) < 1e-3
    assert normal.coef[:, 2:] == pytest.approx(grouped.coef[:, 2:], abs=1e-9)
    assert normal.sigma[:, 2:] == pytest.approx(grouped.sigma[:, 2:], rel=1e-6)
    assert hybrid.coef[:, 2:] == pytest.approx(grouped.coef[:, 2:], abs=1e-9)
    assert hybrid.rms[2:] == pytest.approx(grouped.rms[2:], rel=1e-6)
    # each pixel equals an independent lstsq on its own valid values
    for j in (5, 77, 401):
        ok = np.isfinite(Y[:, j])
        x, *_ = np.linalg.lstsq(A[ok], Y[ok, j], rcond=None)
        assert grouped.coef[:, j] == pytest.approx(x, abs=1e-10)


def test_velocity_raster_recovers_a_known_field_with_seasonal_and_step(tmp_path):
    dates = _dates("2018-06-05", 12, 55)
    step_date = dates[25] - dt.timedelta(days=3)   # between two acquisitions
    t = ts.years_since(dates, dates[0])
    rows, cols = 9, 7
    vfield = np.linspace(-0.04, 0.03, rows * cols).reshape(rows, cols)
    cube = np.stack([vfield * tk + 0.005 * np.sin(2 * np.pi * tk) + 0.012 * (d >= step_date)
                     for tk, d in zip(t, dates)])
    cube[:, 0, 0] = np.nan
    src = _write_series(tmp_path / "series.tif", cube, dates, reference=dates[0].isoformat())
    stack = ts.open_stack([src])
    res = ts.timeseries_velocity(stack, dates[0], dates[-1], str(tmp_path / "v.tif"),
                                 str(tmp_path / "s.tif"), str(tmp_path / "r.tif"),
                                 seasonal=True, steps=[step_date.strftime("%Y%m%d")])
    v = read_block(res.paths["velocity"])
    assert np.isnan(v[0, 0])
    assert v[~np.isnan(v)] == pytest.approx(vfield[~np.isnan(v)].astype(np.float32), abs=2e-6)
    assert np.nanmax(read_block(res.paths["rms"])) < 2e-6   # float32 storage only
    info = raster_info(res.paths["velocity"])
    assert info.band_metadata[0]["units"] == "m/yr"
    assert info.band_metadata[0]["quantity"] == "los_velocity"
    assert info.metadata["steps"] == step_date.isoformat()
    assert info.metadata["acquisition_count"] == "55"
    assert raster_info(res.paths["sigma"]).band_metadata[0]["units"] == "m/yr"
    assert raster_info(res.paths["rms"]).band_metadata[0]["units"] == "m"
    # without the step and the seasonal terms the fit is biased and the RMS shows it
    res2 = ts.timeseries_velocity(stack, dates[0], dates[-1], str(tmp_path / "v2.tif"),
                                  None, str(tmp_path / "r2.tif"))
    assert np.nanmedian(read_block(res2.paths["rms"])) > 0.003


def test_velocity_over_a_sub_period_uses_only_the_dates_inside(tmp_path):
    dates = _dates("2020-01-01", 10, 20)
    t = ts.years_since(dates, dates[0])
    # slope 0.01 m/yr until day 100, 0.05 m/yr after
    y = np.where(t < 100 / 365.25, 0.01 * t, 0.01 * 100 / 365.25 + 0.05 * (t - 100 / 365.25))
    cube = np.repeat(y[:, None, None], 4, axis=1).repeat(3, axis=2)
    src = _write_series(tmp_path / "s.tif", cube, dates)
    stack = ts.open_stack([src])
    res = ts.timeseries_velocity(stack, "2020-04-10", "2020-07-09", str(tmp_path / "v.tif"))
    assert res.dates[0] == dt.date(2020, 4, 10) and res.dates[-1] == dt.date(2020, 7, 9)
    assert np.allclose(read_block(res.paths["velocity"]), 0.05, atol=1e-6)


# ---------------------------------------------------------------- date selection and formats
def test_nearest_acquisition_reports_the_chosen_date():
    dates = ["2016-07-11", "2016-07-23", "2016-08-04"]
    s = ts.nearest_acquisition(dates, "2016-07-20")
    assert (s.index, s.date, s.offset_days) == (1, dt.date(2016, 7, 23), 3)
    assert "nearest acquisition 2016-07-23 (+3 days)" in s.describe()
    tie = ts.nearest_acquisition(dates, "2016-07-17")      # 6 days from both: earlier wins
    assert tie.date == dt.date(2016, 7, 11)
    assert ts.nearest_acquisition(dates, "20160804T235959").offset_days == 0
    with pytest.raises(ValueError, match="END_DATE 2016-09-01 is outside the time series "
                                         r"\(2016-07-11 to 2016-08-04\)"):
        ts.nearest_acquisition(dates, "2016-09-01", "END_DATE")


def test_dates_with_time_of_day_and_formats_match_by_calendar_day(tmp_path):
    dates = _dates("2021-03-01", 6, 4)
    raw = ["2021-03-01T16:04:31", "20210307", "2021-03-13T23:59:59Z", "20210319T000001"]
    cube = np.stack([np.full((3, 3), float(k)) for k in range(4)])
    src = _write_series(tmp_path / "d.tif", cube, dates, date_values=raw)
    stack = ts.open_stack([src])
    assert stack.dates == dates
    res = ts.cumulative_displacement(stack, "2021-03-07T05:00:00", "20210313",
                                     str(tmp_path / "c.tif"))
    assert (res.start.offset_days, res.end.offset_days) == (0, 0)
    assert np.allclose(read_block(res.path), 1.0)


# ---------------------------------------------------------------- cumulative displacement
def test_cumulative_displacement_on_synthetic_series(tmp_path):
    dates = _dates("2020-01-05", 12, 10)
    cube = np.stack([np.full((5, 6), 0.001 * k * k) for k in range(10)])
    cube[3, 2, 2] = np.nan
    src = _write_series(tmp_path / "s.tif", cube, dates, reference="2020-01-05", units="mm")
    stack = ts.open_stack([src])
    assert not stack.has_implicit_reference      # the reference date is a band
    out = tmp_path / "c.tif"
    res = ts.cumulative_displacement(stack, "2020-02-01", "2020-04-12", str(out))
    assert res.start.date == dates[2] and res.end.date == dates[8]
    got = read_block(str(out))
    assert np.isnan(got).sum() == 0
    assert np.allclose(got, 0.001 * (64 - 4))
    info = raster_info(str(out))
    assert info.band_metadata[0]["units"] == "mm"
    assert info.metadata["start_date"] == "2020-01-29" and info.metadata["end_date"] == "2020-04-10"
    assert info.metadata["start_date_requested"] == "2020-02-01"
    res = ts.cumulative_displacement(stack, "2020-01-20", "2020-02-11", str(tmp_path / "c2.tif"))
    assert np.isnan(read_block(res.path)[2, 2])   # the end date is NaN there


@pytest.mark.parametrize("start,end,message", [
    ("2020-03-01", "2020-02-01", "START_DATE 2020-03-01 is not before END_DATE 2020-02-01"),
    ("2019-12-01", "2020-02-01", "START_DATE 2019-12-01 is outside the time series"),
    ("2020-01-06", "2020-01-07", "both select the acquisition 2020-01-05"),
    ("2020-01-06", "not a date", "'not a date' is not a date"),
])
def test_cumulative_bad_dates_are_clear_errors_and_write_nothing(tmp_path, start, end, message):
    dates = _dates("2020-01-05", 12, 4)
    src = _write_series(tmp_path / "s.tif", np.zeros((4, 3, 3)), dates)
    out = tmp_path / "out" / "c.tif"
    with pytest.raises(ValueError, match=message):
        ts.cumulative_displacement(ts.open_stack([src]), start, end, str(out))
    assert not out.exists()
    assert not out.parent.exists() or not os.listdir(out.parent)


# ---------------------------------------------------------------- stacks from lists of files
def test_list_of_single_date_files_with_reference_in_the_name(tmp_path):
    days = ["20200113", "20200101", "20200125"]   # given out of order
    paths = []
    for k, d in enumerate(days):
        p = tmp_path / f"displacement_20191220_{d}.tif"
        write_array(str(p), np.full((4, 4), 0.01 * (k + 1), np.float32), GT, UTM33N)
        paths.append(str(p))
    stack = ts.open_stack(paths)
    assert stack.dates == [dt.date(2019, 12, 20), dt.date(2020, 1, 1), dt.date(2020, 1, 13),
                           dt.date(2020, 1, 25)]
    assert stack.has_implicit_reference and stack.units == "m" and stack.units_assumed
    assert np.all(stack.read(0, 0, 4) == 0)
    assert np.allclose(stack.read(2, 0, 4), 0.01)
    # the folder form gives the same stack
    assert ts.open_stack([str(tmp_path)]).dates == stack.dates


def test_rasters_on_different_grids_point_to_common_grid(tmp_path):
    a = tmp_path / "displacement_20200101_20200113.tif"
    b = tmp_path / "displacement_20200101_20200125.tif"
    write_array(str(a), np.zeros((4, 4), np.float32), GT, UTM33N)
    write_array(str(b), np.zeros((4, 4), np.float32), (500015.0, 30, 0, 4000000.0, 0, -30), UTM33N)
    with pytest.raises(ValueError, match="is not on the grid of .*displacement:common_grid"):
        ts.open_stack([str(a), str(b)])


def test_duplicate_dates_mixed_units_and_undated_bands_are_errors(tmp_path):
    a = _write_series(tmp_path / "a.tif", np.zeros((1, 3, 3)), [dt.date(2020, 1, 1)])
    b = _write_series(tmp_path / "b.tif", np.zeros((1, 3, 3)), [dt.date(2020, 1, 1)])
    with pytest.raises(ValueError, match="two layers have the date 2020-01-01"):
        ts.open_stack([a, b])
    c = _write_series(tmp_path / "c.tif", np.zeros((1, 3, 3)), [dt.date(2020, 1, 2)], units="mm")
    with pytest.raises(ValueError, match="different units"):
        ts.open_stack([a, c])
    u = tmp_path / "undated.tif"
    write_array(str(u), np.zeros((2, 3, 3), np.float32), GT, UTM33N)
    with pytest.raises(ValueError, match="band 1 has no date"):
        ts.open_stack([str(u)])
    assert ts.open_stack([str(u)], require_dates=False).count == 2


def test_too_few_acquisitions_and_bad_steps_are_clear_errors(tmp_path):
    dates = _dates("2020-01-01", 12, 6)
    src = _write_series(tmp_path / "s.tif", np.zeros((6, 3, 3)), dates)
    stack = ts.open_stack([src])
    with pytest.raises(ValueError, match=r"6 acquisition\(s\) .* too few .*annual.*7"):
        ts.timeseries_velocity(stack, dates[0], dates[-1], str(tmp_path / "v.tif"), seasonal=True)
    with pytest.raises(ValueError, match="STEP_DATES 2020-03-15: the step needs acquisitions both"):
        ts.timeseries_velocity(stack, dates[0], dates[-1], str(tmp_path / "v.tif"),
                               steps=["2020-03-15"])
    with pytest.raises(ValueError, match="START_DATE 2020-02-01 is not before END_DATE"):
        ts.timeseries_velocity(stack, "2020-02-01", "2020-01-15", str(tmp_path / "v.tif"))
    with pytest.raises(ValueError, match="outside the time series"):
        ts.timeseries_velocity(stack, "2021-01-01", "2021-06-01", str(tmp_path / "v.tif"))
    assert not list(tmp_path.glob("v*"))


# ---------------------------------------------------------------- re-referencing
def test_point_reference_in_another_crs_with_radius_median(tmp_path):
    dates = _dates("2020-01-01", 12, 3)
    rows, cols = 20, 30
    rr, cc = np.mgrid[0:rows, 0:cols]
    cube = np.stack([0.001 * k * (rr + 2 * cc) for k in range(1, 4)]).astype(np.float64)
    src = _write_series(tmp_path / "s.tif", cube, dates)
    stack = ts.open_stack([src])
    # centre of pixel (row 10, col 12), given in WGS84 lon/lat
    x, y = GT[0] + 12.5 * 30, GT[3] - 10.5 * 30
    lon, lat = ts.transform_point(x, y, UTM33N, crs_from_epsg(4326))
    ref = ts.point_reference(stack, lon, lat, crs_from_epsg(4326), radius=1.5)
    # disk of radius 1.5 px = 3x3 block: median of a linear field = its centre value
    assert ref.values == pytest.approx([0.001 * k * (10 + 24) for k in range(1, 4)], abs=1e-7)
    assert ref.metadata["reference_pixel"] == "10 12"
    out = ts.rereference(stack, ref, str(tmp_path / "r.tif"))
    got = read_block(out.path, 2)
    assert got[10, 12] == pytest.approx(0.0, abs=1e-7)
    assert got[0, 0] == pytest.approx(-0.002 * 34, abs=1e-6)
    info = raster_info(out.path)
    assert info.metadata["reference_kind"] == "point"
    assert info.band_metadata[1]["date"] == dates[1].isoformat()
    assert float(info.band_metadata[1]["reference_value"]) == pytest.approx(0.002 * 34, abs=1e-7)
    # the source is untouched
    assert read_block(src, 2)[10, 12] == pytest.approx(0.002 * 34, abs=1e-6)
    with pytest.raises(ValueError, match="outside the raster"):
        ts.point_reference(stack, 0.0, 0.0)


def test_polygon_reference_is_the_mean_over_the_rasterised_polygon(tmp_path):
    rows, cols = 12, 15
    rr, cc = np.mgrid[0:rows, 0:cols]
    data = (rr * 100 + cc).astype(np.float64)
    data[3, 4] = np.nan
    src = tmp_path / "velocity.tif"
    write_array(str(src), data.astype(np.float32), GT, UTM33N,
                band_metadata=[{"units": "mm/yr", "quantity": "los_velocity"}])
    stack = ts.open_stack([str(src)], require_dates=False)
    # rows 2..5, columns 3..7 (pixel edges)
    x0, x1 = GT[0] + 3 * 30, GT[0] + 8 * 30
    y0, y1 = GT[3] - 6 * 30, GT[3] - 2 * 30
    wkt = f"POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"
    ref = ts.polygon_reference(stack, wkt, UTM33N)
    block = data[2:6, 3:8]
    assert ref.values[0] == pytest.approx(np.nanmean(block), abs=1e-4)
    assert ref.metadata["reference_polygon_pixels"] == "20"
    out = ts.rereference(stack, ref, str(tmp_path / "r.tif"))
    assert raster_info(out.path).band_metadata[0]["units"] == "mm/yr"
    assert np.nanmean(read_block(out.path)[2:6, 3:8]) == pytest.approx(0.0, abs=1e-3)
    with pytest.raises(ValueError, match="covers no pixel"):
        ts.polygon_reference(stack, "POLYGON((0 0,1 0,1 1,0 1,0 0))", UTM33N)
    # partly outside the raster (left edge), given in WGS84: rows 8..10, columns 0..1 inside
    corners = [(GT[0] - 5 * 30, GT[3] - 11 * 30), (GT[0] + 2 * 30, GT[3] - 11 * 30),
               (GT[0] + 2 * 30, GT[3] - 8 * 30), (GT[0] - 5 * 30, GT[3] - 8 * 30)]
    ll = [ts.transform_point(x, y, UTM33N, crs_from_epsg(4326)) for x, y in corners]
    wkt = "POLYGON((" + ",".join(f"{lon!r} {lat!r}" for lon, lat in ll + ll[:1]) + "))"
    ref = ts.polygon_reference(stack, wkt, crs_from_epsg(4326))
    assert ref.metadata["reference_polygon_pixels"] == "6"
    assert ref.values[0] == pytest.approx(data[8:11, 0:2].mean(), abs=1e-4)


# ---------------------------------------------------------------- the real Kilauea series
def test_kilauea_series_dates_cumulative_and_velocity(tmp_path):
    assert len(KILAUEA) == 5
    stack = ts.open_stack(KILAUEA)
    assert [d.isoformat() for d in stack.dates] == [
        "2016-07-11", "2016-07-23", "2016-08-04", "2016-08-16", "2016-09-09", "2016-09-21"]
    assert stack.reference_date == dt.date(2016, 7, 11) and stack.units == "m"
    # cumulative displacement = direct difference of the two files
    res = ts.cumulative_displacement(stack, "2016-08-01", "2016-09-20", str(tmp_path / "c.tif"))
    assert (res.start.date, res.end.date) == (dt.date(2016, 8, 4), dt.date(2016, 9, 21))
    direct = read_block(KILAUEA[4]) - read_block(KILAUEA[1])
    got = read_block(res.path)
    assert np.array_equal(np.isnan(got), np.isnan(direct))
    assert np.nanmax(np.abs(got - direct)) == 0.0
    # from the reference date: the file itself
    res = ts.cumulative_displacement(stack, "2016-07-11", "2016-08-16", str(tmp_path / "c0.tif"))
    assert np.nanmax(np.abs(read_block(res.path) - read_block(KILAUEA[2]))) == 0.0
    # velocity over the whole period: an independent lstsq at sample pixels
    v = ts.timeseries_velocity(stack, "2016-07-11", "2016-09-21", str(tmp_path / "v.tif"),
                               str(tmp_path / "s.tif"), str(tmp_path / "r.tif"))
    vel, sig, rms = (read_block(v.paths[k]) for k in ("velocity", "sigma", "rms"))
    t = np.array([(d - dt.date(2016, 7, 11)).days for d in stack.dates]) / 365.25
    cube = np.stack([np.zeros((400, 400), np.float32)] + [read_block(p) for p in KILAUEA])
    A = np.column_stack([np.ones_like(t), t])
    valid = np.isfinite(cube[1:]).all(axis=0)
    rows, cols = np.nonzero(valid)
    for k in (0, rows.size // 3, 2 * rows.size // 3, rows.size - 1):
        row, col = rows[k], cols[k]
        y = cube[:, row, col].astype(np.float64)
        x, rss, *_ = np.linalg.lstsq(A, y, rcond=None)
        assert vel[row, col] == pytest.approx(x[1], rel=1e-5, abs=1e-7)
        assert rms[row, col] == pytest.approx(math.sqrt(rss[0] / 6), rel=1e-5)
        se = math.sqrt(rss[0] / 4 / ((t - t.mean()) ** 2).sum())
        assert sig[row, col] == pytest.approx(se, rel=1e-5)
    assert np.array_equal(np.isfinite(vel), valid)


def test_kilauea_rereference_to_a_point_zeroes_it_in_every_file(tmp_path):
    stack = ts.open_stack(KILAUEA)
    # the centre of the crop, given in WGS84
    x, y = 252930 + 200.5 * 30, 2146890 - 200.5 * 30
    lon, lat = ts.transform_point(x, y, raster_info(KILAUEA[0]).crs_wkt, crs_from_epsg(4326))
    ref = ts.point_reference(stack, lon, lat, crs_from_epsg(4326), radius=0)
    out = ts.rereference(stack, ref, str(tmp_path / "r.tif"))
    assert out.bands == 5
    for b, path in enumerate(KILAUEA, start=1):
        src = read_block(path)
        got = read_block(out.path, b)
        assert got[200, 200] == 0.0
        assert np.nanmax(np.abs(got - (src - src[200, 200]))) == 0.0
    info = raster_info(out.path)
    assert info.metadata["reference_date"] == "2016-07-11"
    assert info.band_metadata[4]["date"] == "2016-09-21"


# ---------------------------------------------------------------- MintPy timeseries.h5
def _mintpy_timeseries(path, cube, dates, ref_date):
    import h5py

    h, w = cube.shape[1:]
    with h5py.File(path, "w") as f:
        attrs = {"FILE_TYPE": "timeseries", "UNIT": "m", "REF_DATE": ref_date,
                 "LENGTH": str(h), "WIDTH": str(w), "X_FIRST": "-155.3", "Y_FIRST": "19.5",
                 "X_STEP": "0.001", "Y_STEP": "-0.001", "X_UNIT": "degrees", "Y_UNIT": "degrees",
                 "REF_Y": "1", "REF_X": "1"}
        for k, v in attrs.items():
            f.attrs[k] = v
        f.create_dataset("timeseries", data=cube.astype(np.float32))
        f.create_dataset("date", data=np.array([d.strftime("%Y%m%d").encode() for d in dates]))
        f.create_dataset("bperp", data=np.zeros(len(dates), np.float32))
    return str(path)


def test_mintpy_timeseries_h5_velocity_and_cumulative(tmp_path):
    dates = _dates("2019-01-06", 12, 40)
    t = ts.years_since(dates, dates[0])
    rows, cols = 5, 6
    vfield = np.linspace(-0.03, 0.02, rows * cols).reshape(rows, cols)
    cube = np.stack([vfield * tk + 0.004 * np.cos(2 * np.pi * tk) for tk in t])
    cube -= cube[0]                                 # relative to REF_DATE = first date
    src = _mintpy_timeseries(tmp_path / "timeseries.h5", cube, dates, dates[0].strftime("%Y%m%d"))
    stack = ts.open_stack([src])
    assert stack.dates == dates and stack.reference_date == dates[0]
    assert stack.units == "m" and not stack.has_implicit_reference
    assert stack.geotransform == pytest.approx((-155.3, 0.001, 0, 19.5, 0, -0.001))
    res = ts.timeseries_velocity(stack, dates[0], dates[-1], str(tmp_path / "v.tif"),
                                 seasonal=True)
    assert read_block(res.paths["velocity"]) == pytest.approx(vfield, abs=2e-6)
    c = ts.cumulative_displacement(stack, dates[3], dates[30], str(tmp_path / "c.tif"))
    assert read_block(c.path) == pytest.approx(cube[30] - cube[3], abs=1e-6)
    assert raster_info(c.path).band_metadata[0]["units"] == "m"


# ---------------------------------------------------------------- interpolation and asc/desc
def test_interpolation_in_time_is_linear_and_never_extrapolates():
    src = [dt.date(2020, 1, 1), dt.date(2020, 1, 13), dt.date(2020, 1, 25)]
    values = np.array([[0.0, 1.0], [12.0, np.nan], [36.0, 3.0]])
    targets = ["2019-12-31", "2020-01-01", "2020-01-04", "20200113", "2020-01-19", "2020-01-25",
               "2020-01-26"]
    out = interpolate = ts.interpolate_in_time(src, values, targets)
    assert np.isnan(out[0]).all() and np.isnan(out[-1]).all()        # outside: NaN
    assert out[1:6, 0] == pytest.approx([0.0, 3.0, 12.0, 24.0, 36.0])
    # a NaN at 01-13 spoils only the dates that lean on it
    assert out[1, 1] == 1.0 and out[5, 1] == 3.0
    assert np.isnan(interpolate[2:5, 1]).all()
    assert ts.common_dates([src, ["2020-01-05", "2020-01-17", "2020-01-29"]]) == [
        dt.date(2020, 1, 5), dt.date(2020, 1, 13), dt.date(2020, 1, 17), dt.date(2020, 1, 25)]
    assert ts.common_dates([src, ["2020-01-05", "2020-01-29"]], step_days=10) == [
        dt.date(2020, 1, 5), dt.date(2020, 1, 15), dt.date(2020, 1, 25)]
    with pytest.raises(ValueError, match="do not overlap in time"):
        ts.common_dates([src, ["2021-01-05", "2021-01-29"]])


ASC = (34.0, -12.0)       # incidence, heading (docs/conventions.md worked example)
DESC = (39.0, -168.0)


def _enu_history(kind):
    """East/up displacement (m) as functions of time in years."""
    if kind == "linear":
        return (lambda t: 0.02 * t), (lambda t: -0.035 * t)
    return (lambda t: 0.02 * t + 0.006 * np.sin(2 * np.pi * t)), \
        (lambda t: -0.035 * t + 0.01 * np.cos(2 * np.pi * t))


def _track(tmp_path, name, geometry, start, step, n, east, up, gt, scale):
    from displacement_toolkit.core.geometry import los_unit_vector_from_heading

    g = np.array(los_unit_vector_from_heading(*geometry))
    t0 = dt.date(2020, 1, 1)
    dates = _dates(start, step, n)
    t = np.array([(d - t0).days / 365.25 for d in dates])
    los = g[0] * east(t) + g[2] * up(t)
    los = los - los[0]                       # relative to the track's own first date
    cube = los[:, None, None] * scale[None]
    return _write_series(tmp_path / f"{name}.tif", cube, dates, reference=dates[0].isoformat(),
                         gt=gt), dates, g


@pytest.mark.parametrize("history", ["linear", "seasonal"])
def test_asc_desc_series_on_different_dates_and_grids_recover_east_and_up(tmp_path, history):
    east, up = _enu_history(history)
    rows, cols = 12, 14
    cc = np.arange(cols)[None, :] * np.ones((rows, 1))
    scale = 1.0 + 0.02 * cc                       # spatially linear: exact under bilinear
    gt_a = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
    gt_d = (500015.0, 30.0, 0.0, 3999985.0, 0.0, -30.0)   # half a pixel off
    a, da, ga = _track(tmp_path, "asc", ASC, "2020-01-03", 12, 40, east, up, gt_a, scale)
    scale_d = 1.0 + 0.02 * (cc + 0.5)             # same physical field on the shifted grid
    d, dd, gd = _track(tmp_path, "desc", DESC, "2020-01-08", 12, 40, east, up, gt_d, scale_d)
    res = ts.timeseries_decompose(
        [ts.Track([a], *ASC, sigma=0.004), ts.Track([d], *DESC, sigma=0.004)],
        str(tmp_path / "east.tif"), str(tmp_path / "up.tif"),
        str(tmp_path / "se.tif"), str(tmp_path / "su.tif"))
    assert res.dates[0] == dt.date(2020, 1, 8) and res.dates[-1] == da[-1]
    assert len(res.dates) == 78                  # union of both tracks' dates in the overlap
    info = raster_info(res.paths["east"])
    assert info.band_count == 78 and info.metadata["reference_date"] == "2020-01-08"
    assert info.band_metadata[5]["date"] == res.dates[5].isoformat()
    assert info.band_metadata[5]["units"] == "m"
    t = np.array([(x - dt.date(2020, 1, 1)).days / 365.25 for x in res.dates])
    true_e = east(t) - east(t[0])
    true_u = up(t) - up(t[0])
    # interior pixels (away from the half-pixel edge) on the output grid
    ocol0 = (res.grid.geotransform[0] - gt_a[0]) / 30     # the planned grid may be shifted
    E = np.stack([read_block(res.paths["east"], b + 1) for b in range(78)])[:, 2:-2, 2:-2]
    U = np.stack([read_block(res.paths["up"], b + 1) for b in range(78)])[:, 2:-2, 2:-2]
    s = (1.0 + 0.02 * (np.arange(res.grid.width) + ocol0))[None, 2:-2]
    err_e = np.abs(E - true_e[:, None, None] * s[None])
    err_u = np.abs(U - true_u[:, None, None] * s[None])
    if history == "linear":
        assert err_e.max() < 2e-6 and err_u.max() < 2e-6      # float32 storage only
    else:
        # linear interpolation error bound: h^2/8 max|LOS''|, twice (the date itself and
        # the shift to the reference date), mapped through the inverse of the 2x2 system
        h = 12 / 365.25
        w = 2 * np.pi
        los_dd = [abs(g[0]) * 0.006 * w * w + abs(g[2]) * 0.01 * w * w for g in (ga, gd)]
        e_interp = 2 * h * h / 8 * max(los_dd) * s.max()
        ginv = np.linalg.inv(np.array([[ga[0], ga[2]], [gd[0], gd[2]]]))
        bound = np.abs(ginv).sum(axis=1).max() * e_interp
        assert err_e.max() < bound and err_u.max() < bound
        assert max(err_e.max(), err_u.max()) > 0.1 * bound     # the bound is not vacuous
        assert bound < 0.0015                                  # about 1 mm for 12-day sampling
    # sigma: the LOS sigma through interpolation weights and the 2x2 inverse
    se = read_block(res.paths["sigma_east"], 1)
    inv = np.linalg.inv(np.array([[ga[0], ga[2]], [gd[0], gd[2]]]))
    # first common date: desc exact (weight 1), asc interpolated 7/12 of the way from 01-03
    w1 = 5 / 12
    sig = np.array([0.004 * math.hypot(1 - w1, w1), 0.004])
    expected = math.sqrt(inv[0, 0] ** 2 * sig[0] ** 2 + inv[0, 1] ** 2 * sig[1] ** 2)
    assert np.nanmedian(se) == pytest.approx(expected, rel=1e-5)


def test_coverage_any_solves_where_a_third_track_does_not_reach(tmp_path):
    east, up = _enu_history("linear")
    rows, cols = 6, 14
    ones = np.ones((rows, cols))
    gt = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
    gt2 = (500000.0 + 7 * 30.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)     # 7 columns further east
    desc2 = (44.0, -167.0)
    a, _, _ = _track(tmp_path, "asc", ASC, "2020-01-03", 12, 20, east, up, gt, ones)
    d, _, _ = _track(tmp_path, "desc", DESC, "2020-01-03", 12, 20, east, up, gt, ones)
    d2, _, _ = _track(tmp_path, "desc2", desc2, "2020-01-03", 12, 20, east, up, gt2, ones)
    tracks = [ts.Track([a], *ASC), ts.Track([d], *DESC), ts.Track([d2], *desc2)]
    res = ts.timeseries_decompose(tracks, str(tmp_path / "e.tif"), str(tmp_path / "u.tif"),
                                  coverage="any")
    # union of the footprints, x 500000-500630, on the first track's pixel grid (so the tracks
    # are read without resampling): x < 500210 ascending + descending, 500210-500420 all three,
    # beyond the third track only
    gt_out = res.grid.geotransform
    assert gt_out == (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
    assert (res.grid.width, res.grid.height) == (21, 6)
    xc = gt_out[0] + 30.0 * (np.arange(res.grid.width) + 0.5)
    yc = gt_out[3] - 30.0 * (np.arange(res.grid.height) + 0.5)
    inner = (yc > 3999820.0) & (yc < 4000000.0)
    regions = {"pair": xc < 500210.0, "three": (xc > 500210.0) & (xc < 500420.0),
               "single": xc > 500420.0}
    assert [v.sum() for v in regions.values()] == [7, 7, 7] and inner.sum() == 6
    t = np.array([(x - dt.date(2020, 1, 1)).days / 365.25 for x in res.dates])
    E = np.stack([read_block(res.paths["east"], b + 1) for b in range(len(t))])[:, inner]
    U = np.stack([read_block(res.paths["up"], b + 1) for b in range(len(t))])[:, inner]
    true_e, true_u = east(t) - east(t[0]), up(t) - up(t[0])
    for name in ("pair", "three"):
        cols_ = regions[name]
        assert E[:, :, cols_] == pytest.approx(
            np.broadcast_to(true_e[:, None, None], E[:, :, cols_].shape), abs=2e-6), name
        assert U[:, :, cols_] == pytest.approx(
            np.broadcast_to(true_u[:, None, None], U[:, :, cols_].shape), abs=2e-6), name
    single = regions["single"]
    assert np.isnan(E[:, :, single]).all() and np.isnan(U[:, :, single]).all()  # one track: none
    assert raster_info(res.paths["east"]).metadata["coverage"] == "any"
    # the default: the intersection only (x 500210-500420)
    strict = ts.timeseries_decompose(tracks, str(tmp_path / "e2.tif"), str(tmp_path / "u2.tif"))
    assert strict.grid.geotransform[0] == 500210.0 and strict.grid.width == 7
    with pytest.raises(ValueError, match="unknown coverage"):
        ts.timeseries_decompose(tracks, str(tmp_path / "e3.tif"), str(tmp_path / "u3.tif"),
                                coverage="some")


def test_gnss_station_from_a_velocity_table_is_the_reference_point(tmp_path):
    # a velocity raster in WGS84 (0.001 degree pixels) and a CSV velocity table
    gt = (-155.30, 0.001, 0.0, 19.40, 0.0, -0.001)
    rr, cc = np.mgrid[0:20, 0:30]
    vel = (0.001 * rr + 0.0001 * cc).astype(np.float32)
    src = tmp_path / "velocity.tif"
    write_array(str(src), vel, gt, crs_from_epsg(4326),
                band_metadata=[{"units": "m/yr", "quantity": "los_velocity"}])
    table = tmp_path / "stations.csv"
    table.write_text("station,lon,lat,east,north,up\n"
                     "FAR1,-150.0,10.0,0.01,0.0,0.0\n"
                     "NEAR,-155.2875,19.3925,0.01,0.0,0.0\n")   # pixel row 7, column 12
    stack = ts.open_stack([str(src)], require_dates=False)
    ref = ts.gnss_reference(stack, str(table), "near", radius=0)
    assert ref.metadata["reference_station"] == "NEAR"
    assert ref.metadata["reference_pixel"] == "7 12"
    assert ref.values[0] == pytest.approx(0.001 * 7 + 0.0001 * 12, abs=1e-7)
    with pytest.raises(ValueError, match="station 'XYZ' is not in"):
        ts.gnss_reference(stack, str(table), "XYZ")
    with pytest.raises(ValueError, match="outside the raster"):
        ts.gnss_reference(stack, str(table), "FAR1")
    with pytest.raises(ValueError, match="name the station"):
        ts.gnss_reference(stack, str(table), "")


def test_rereferencing_a_mintpy_series_replaces_its_reference_point(tmp_path):
    dates = _dates("2020-01-01", 12, 5)
    rr, cc = np.mgrid[0:5, 0:6]
    cube = np.stack([0.001 * k * (rr + cc) for k in range(5)])
    src = _mintpy_timeseries(tmp_path / "timeseries.h5", cube, dates, "20200101")
    stack = ts.open_stack([src], require_dates=False, add_reference_epoch=False)
    # pixel (row 3, col 4) centre in lon/lat (X_FIRST -155.3, Y_FIRST 19.5, step 0.001)
    ref = ts.point_reference(stack, -155.3 + 4.5 * 0.001, 19.5 - 3.5 * 0.001)
    out = ts.rereference(stack, ref, str(tmp_path / "r.tif"))
    info = raster_info(out.path)
    assert out.bands == 5 and info.metadata["reference_pixel"] == "3 4"
    assert "REF_Y" not in info.metadata and "REF_Y=1" in info.metadata["previous_reference"]
    assert info.metadata["reference_date"] == "2020-01-01"
    for b in range(5):
        assert read_block(out.path, b + 1) == pytest.approx(cube[b] - cube[b][3, 4], abs=1e-7)


def test_velocity_of_a_stack_too_wide_for_a_row_of_tiles_goes_in_tiles_of_columns(tmp_path,
                                                                                   monkeypatch):
    """A stack so wide that one row of tiles of all its dates exceeds two task budgets (an
    EGMS-sized mosaic) is fitted in tasks of 256 x 256 pixels: the same outputs as
    full-width tasks, bit for bit, and the known velocity field."""
    from displacement_toolkit.core import execution as X
    from displacement_toolkit.core.timeseries import velocity as V

    dates = _dates("2019-01-03", 12, 20)
    t = ts.years_since(dates, dates[0])
    rows, cols = 300, 600
    vfield = np.linspace(-0.04, 0.03, rows * cols).reshape(rows, cols)
    cube = np.stack([vfield * tk + 0.004 * np.cos(2 * np.pi * tk) for tk in t])
    cube[:, 10:20, 300:320] = np.nan
    stack = ts.open_stack([_write_series(tmp_path / "wide.tif", cube, dates)])
    windows = []
    runs = {}
    for name, budget in (("columns", 2 ** 20), ("rows", X.TASK_BYTES)):
        monkeypatch.setattr(V, "task_windows", lambda *a, b=budget, **k: windows.append(
            X.task_windows(*a, budget=b)) or windows[-1])
        runs[name] = ts.timeseries_velocity(stack, dates[0], dates[-1],
                                            str(tmp_path / f"{name}_v.tif"),
                                            str(tmp_path / f"{name}_s.tif"), seasonal=True,
                                            engine=X.LocalEngine(2))
    assert windows[0] == [(r, min(256, rows - r), c, min(256, cols - c))
                          for r in (0, 256) for c in (0, 256, 512)]
    assert windows[1] == [(0, 256, 0, cols), (256, 44, 0, cols)]   # full-width, two workers
    for key in ("velocity", "sigma"):
        assert np.array_equal(read_block(runs["columns"].paths[key]),
                              read_block(runs["rows"].paths[key]), equal_nan=True)
    v = read_block(runs["columns"].paths["velocity"])
    assert np.isnan(v[10:20, 300:320]).all() and runs["columns"].valid_pixels == rows * cols - 200
    ok = np.isfinite(v)
    assert v[ok] == pytest.approx(vfield[ok].astype(np.float32), abs=2e-6)


def test_series_decomposition_on_a_grid_too_wide_for_a_row_of_tiles(tmp_path, monkeypatch):
    """timeseries_decompose on a grid whose rows of tiles exceed two task budgets goes in
    tasks of 256 x 256 pixels: the same outputs as full-width tasks, bit for bit, on a track
    resampled from a grid half a pixel off."""
    from displacement_toolkit.core import execution as X
    from displacement_toolkit.core.timeseries import decomposition as TD

    east, up = _enu_history("seasonal")
    rows, cols = 300, 520
    cc = np.arange(cols)[None, :] * np.ones((rows, 1))
    gt_a = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
    gt_d = (500015.0, 30.0, 0.0, 3999985.0, 0.0, -30.0)
    a, _, _ = _track(tmp_path, "asc", ASC, "2020-01-03", 12, 8, east, up, gt_a, 1.0 + 0.001 * cc)
    d, _, _ = _track(tmp_path, "desc", DESC, "2020-01-08", 12, 8, east, up, gt_d,
                     1.0 + 0.001 * (cc + 0.5))
    tracks = [ts.Track([a], *ASC, sigma=0.004), ts.Track([d], *DESC, sigma=0.004)]
    windows, runs = [], {}
    for name, budget in (("columns", 2 ** 20), ("rows", X.TASK_BYTES)):
        monkeypatch.setattr(TD, "task_windows", lambda *a, b=budget, **k: windows.append(
            X.task_windows(*a, budget=b)) or windows[-1])
        runs[name] = ts.timeseries_decompose(
            tracks, str(tmp_path / f"{name}_e.tif"), str(tmp_path / f"{name}_u.tif"),
            str(tmp_path / f"{name}_se.tif"), engine=X.LocalEngine(2))
    width, height = runs["rows"].grid.width, runs["rows"].grid.height
    assert len(windows[0]) == -(-height // 256) * -(-width // 256) and len(windows[1]) <= 2
    assert width > 512 and {c for _, _, c, _ in windows[0]} == {0, 256, 512}
    for key in ("east", "up", "sigma_east"):
        a_path, b_path = runs["columns"].paths[key], runs["rows"].paths[key]
        for band in range(1, raster_info(a_path).band_count + 1):
            assert np.array_equal(read_block(a_path, band), read_block(b_path, band),
                                  equal_nan=True)
    assert np.isfinite(read_block(runs["columns"].paths["east"], 5)[2:-2, 2:-2]).all()


def test_cumulative_and_rereference_of_a_stack_too_wide_for_a_row_of_tiles(tmp_path, monkeypatch):
    """cumulative_displacement and rereference of a stack whose rows of tiles exceed two task
    budgets go in tasks of 256 x 256 pixels: the same outputs as full-width tasks, bit for
    bit, and the expected values."""
    from displacement_toolkit.core import execution as X
    from displacement_toolkit.core.timeseries import cumulative as C
    from displacement_toolkit.core.timeseries import reference as R

    dates = _dates("2020-01-05", 12, 3)
    rng = np.random.default_rng(5)
    cube = rng.normal(0.0, 0.01, (3, 300, 600))
    cube[1, 5:9, 400:410] = np.nan
    stack = ts.open_stack([_write_series(tmp_path / "wide.tif", cube, dates)])
    reference = ts.point_reference(stack, GT[0] + 30.0 * 100.5, GT[3] - 30.0 * 50.5)
    windows, outputs = [], {}
    for name, budget in (("columns", 2 ** 19), ("rows", X.TASK_BYTES)):
        cut = lambda *a, b=budget, **k: windows.append(X.task_windows(*a, budget=b)) \
            or windows[-1]  # noqa: E731
        monkeypatch.setattr(C, "task_windows", cut)
        monkeypatch.setattr(R, "task_windows", cut)
        outputs[name] = (
            ts.cumulative_displacement(stack, dates[0], dates[-1], str(tmp_path / f"{name}_c.tif"),
                                       engine=X.LocalEngine(2)).path,
            ts.rereference(stack, reference, str(tmp_path / f"{name}_r.tif"),
                           engine=X.LocalEngine(2)).path)
    assert windows[0] == windows[1] == [(r, min(256, 300 - r), c, min(256, 600 - c))
                                        for r in (0, 256) for c in (0, 256, 512)]
    assert all(w[0][3] == 600 for w in windows[2:])     # full width with the whole budget
    c_cols, r_cols = outputs["columns"]
    c_rows, r_rows = outputs["rows"]
    assert np.array_equal(read_block(c_cols), read_block(c_rows), equal_nan=True)
    assert np.allclose(read_block(c_cols), (cube[2] - cube[0]).astype(np.float32), atol=1e-7)
    for band in (1, 2, 3):
        cut, whole = read_block(r_cols, band), read_block(r_rows, band)
        assert np.array_equal(cut, whole, equal_nan=True)
        assert np.isnan(cut[5:9, 400:410]).all() == (band == 2)
        assert cut[50, 100] == 0.0        # the reference pixel is zero after re-referencing
