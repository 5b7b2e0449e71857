"""core.inspection: sampling, velocity fits, re-referencing and guided-dialog previews."""

import csv
import datetime as dt
import hashlib
import math

import numpy as np
import pytest

from displacement_toolkit.core import inspection as ins
from displacement_toolkit.core.raster_io import crs_from_epsg, raster_info, read_block, write_array

GT = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
WKT = crs_from_epsg(32633)


def centre(col, row):
    """Map coordinates of the centre of pixel (col, row) of GT."""
    return GT[0] + (col + 0.5) * GT[1], GT[3] + (row + 0.5) * GT[5]


@pytest.fixture
def field_path(tmp_path):
    rows, cols = np.mgrid[0:20, 0:30]
    data = (rows * 100 + cols).astype(np.float32)
    return write_array(str(tmp_path / "field.tif"), data, GT, WKT,
                       band_metadata=[{"units": "mm", "quantity": "los_displacement"}])


def test_single_pixel_value_and_outside(field_path):
    x, y = centre(7, 4)
    assert ins.sample_point(field_path, x, y) == 407.0
    # any point inside the pixel, not only its centre
    assert ins.sample_point(field_path, x + 14.0, y - 14.0) == 407.0
    assert ins.pixel_of(GT, x + 16.0, y) == (8, 4)
    assert math.isnan(ins.sample_point(field_path, GT[0] - 1.0, GT[3] - 1.0))


def test_radius_median_ignores_a_spike_and_nodata(tmp_path):
    rows, cols = np.mgrid[0:20, 0:30]
    data = (rows * 100 + cols).astype(np.float32)
    data[4, 7] = 5000.0                 # spike at the clicked pixel
    path = write_array(str(tmp_path / "spike.tif"), data, GT, WKT)
    x, y = centre(7, 4)
    # disk of radius 1: 307, 406, 5000, 408, 507 -> median 408
    assert ins.sample_point(path, x, y, radius=1) == 408.0
    data[3, 7] = np.nan
    data[5, 7] = np.nan
    path = write_array(str(tmp_path / "holes.tif"), data, GT, WKT)
    # 406, 5000, 408 -> 408
    assert ins.sample_point(path, x, y, radius=1) == 408.0
    # radius 1.5 adds the diagonals 306, 308, 506, 508: median of
    # [306, 308, 406, 408, 506, 508, 5000] = 408
    assert ins.sample_point(path, x, y, radius=1.5) == 408.0
    # at the corner the disk is clipped: (0,0)=0, (1,0)=1, (0,1)=100 -> 1
    assert ins.sample_point(path, *centre(0, 0), radius=1) == 1.0


def test_describe_bands_reads_units_quantity_and_dates(tmp_path):
    path = write_array(
        str(tmp_path / "ts.tif"), np.zeros((2, 3, 3), np.float32), GT, WKT,
        descriptions=["a", "b"],
        band_metadata=[{"units": "m", "quantity": "los_displacement", "date": "2020-01-01"},
                       {"units": "m", "quantity": "los_displacement", "date": "2020-02-01"}],
        metadata={"reference_date": "2019-12-20", "incidence_angle": "34.0"})
    info = raster_info(path)
    bands = ins.describe_bands(info)
    assert [(b.units, b.quantity, b.date) for b in bands] == [
        ("m", "los_displacement", dt.date(2020, 1, 1)), ("m", "los_displacement", dt.date(2020, 2, 1))]
    assert ins.is_time_series(info)
    assert ins.pixel_geometry(info) == {"incidence_angle": "34.0"}
    assert ins.format_value(-0.012345678, "m") == "-0.01235 m"
    assert ins.format_value(float("nan"), "m") == "no data"


def make_series(tmp_path, shuffle=False):
    days = [dt.date(2020, 1, 1) + dt.timedelta(days=12 * k) for k in range(8)]
    velocity = -0.05  # m/yr
    t = np.array([(d - days[0]).days / 365.25 for d in days])
    values = velocity * t
    order = list(range(8))
    if shuffle:
        order = [3, 0, 7, 1, 5, 2, 6, 4]
    cube = np.stack([np.full((6, 5), values[i], np.float32) for i in order])
    cube[:, 2, 2] += 0.5   # a different pixel
    path = write_array(str(tmp_path / "series.tif"), cube, GT, WKT,
                       band_metadata=[{"units": "m", "quantity": "los_displacement",
                                       "date": days[i].isoformat()} for i in order],
                       metadata={"reference_date": "2020-01-01"})
    return path, days, values, velocity


@pytest.mark.parametrize("shuffle", [False, True])
def test_series_sorted_by_date_and_velocity(tmp_path, shuffle):
    path, days, values, velocity = make_series(tmp_path, shuffle)
    s = ins.sample_series(path, *centre(1, 1), radius=0)
    assert s.dates == days
    np.testing.assert_allclose(s.values, values, atol=1e-7)
    assert s.units == "m" and s.reference_date == dt.date(2020, 1, 1)
    fit = ins.linear_velocity(s.dates, s.values)
    assert fit.velocity == pytest.approx(velocity, abs=1e-6)
    assert fit.count == 8 and fit.sigma == pytest.approx(0.0, abs=1e-5)
    other = ins.sample_series(path, *centre(2, 2))
    np.testing.assert_allclose(other.values, values + 0.5, atol=1e-6)


def test_velocity_date_range_and_noise():
    days = [dt.date(2021, 1, 1) + dt.timedelta(days=30 * k) for k in range(12)]
    t = np.array([(d - days[0]).days / 365.25 for d in days])   # years of 365.25 days
    rng = np.random.default_rng(3)
    y = 12.0 * (t - t[0]) + rng.normal(0, 0.5, t.size)
    y[8:] += 40.0  # a step after the 8th date
    fit = ins.linear_velocity(days, y, end=days[7])
    slope, intercept = np.polyfit(t[:8] - t[0], y[:8], 1)
    assert fit.velocity == pytest.approx(slope, rel=1e-10)
    assert fit.intercept == pytest.approx(intercept, rel=1e-10)
    assert fit.count == 8 and fit.end == days[7]
    # standard error from residuals, as numpy's covariance estimate
    _, cov = np.polyfit(t[:8] - t[0], y[:8], 1, cov="unscaled")
    resid = y[:8] - np.polyval([slope, intercept], t[:8] - t[0])
    assert fit.sigma == pytest.approx(math.sqrt(cov[0, 0] * (resid @ resid) / 6), rel=1e-8)
    assert fit.line([days[0], days[7]]) == pytest.approx([intercept, intercept + slope * t[7]])
    with pytest.raises(ValueError, match="at least two"):
        ins.linear_velocity(days, y, start=days[11])
    assert ins.velocity_unit("mm") == "mm/yr"


def test_inspector_velocity_is_timeseries_velocity_of_the_same_series(tmp_path):
    """The Inspector's fit (linear_velocity) is displacement:timeseries_velocity's model and
    solver: the same velocity and 1-sigma pixel by pixel, over a date range, with gaps; a
    pixel left with two values in the range is NaN there and refused here."""
    from displacement_toolkit.core import timeseries as ts

    days = [dt.date(2020, 1, 3) + dt.timedelta(days=12 * k + (k % 3)) for k in range(14)]
    t = np.array([(d - days[0]).days / 365.25 for d in days])
    rng = np.random.default_rng(7)
    cube = (np.array([3.0, -8.0, 15.0, 0.5])[None, :] * t[:, None]
            + rng.normal(0.0, 1.5, (14, 4))).reshape(14, 2, 2).astype(np.float32)
    cube[[2, 5, 6], 0, 1] = np.nan                       # gaps
    cube[2:12, 1, 1] = np.nan                            # two values left in the range (1, 12)
    path = write_array(str(tmp_path / "ts.tif"), cube, GT, WKT,
                       band_metadata=[{"units": "mm", "date": d.isoformat()} for d in days])
    start, end = days[1], days[12]
    stack = ts.open_stack([path])
    ts.timeseries_velocity(stack, start, end, str(tmp_path / "v.tif"), str(tmp_path / "s.tif"))
    v, sigma = read_block(str(tmp_path / "v.tif")), read_block(str(tmp_path / "s.tif"))
    for row, col in ((0, 0), (0, 1), (1, 0)):
        series = ins.sample_series(path, *centre(col, row))
        fit = ins.linear_velocity(series.dates, series.values, start, end)
        assert fit.velocity == pytest.approx(float(v[row, col]), rel=1e-6)
        assert fit.sigma == pytest.approx(float(sigma[row, col]), rel=1e-6)
    assert np.isnan(v[1, 1])
    series = ins.sample_series(path, *centre(1, 1))
    with pytest.raises(ValueError, match="at least three valid values.*2 given"):
        ins.linear_velocity(series.dates, series.values, start, end)


def test_series_csv_round_trip(tmp_path):
    path, days, values, _ = make_series(tmp_path)
    s = ins.sample_series(path, *centre(1, 1), label="P1")
    out = ins.write_series_csv(str(tmp_path / "s.csv"), [s])
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8 and rows[0]["label"] == "P1" and rows[0]["units"] == "m"
    np.testing.assert_allclose([float(r["value"]) for r in rows], values, atol=1e-7)
    assert [r["date"] for r in rows] == [d.isoformat() for d in days]


def _md5(path):
    return hashlib.md5(open(path, "rb").read()).hexdigest()


def test_rereference_writes_a_new_raster(tmp_path, field_path):
    before = _md5(field_path)
    x, y = centre(7, 4)
    out = str(tmp_path / "reref.tif")
    result = ins.rereference_raster(field_path, out, x, y, radius=1)
    assert result.reference_values == [407.0]
    data = read_block(out)
    rows, cols = np.mgrid[0:20, 0:30]
    np.testing.assert_array_equal(data, rows * 100 + cols - 407.0)
    assert data[4, 7] == 0.0
    info = raster_info(out)
    assert info.band_metadata[0]["units"] == "mm"
    assert info.band_metadata[0]["quantity"] == "los_displacement"
    assert float(info.band_metadata[0]["reference_value"]) == 407.0
    assert info.metadata["reference_point"] == f"{x!r} {y!r}"
    assert _md5(field_path) == before
    assert result.stats[0]["valid"] == 600
    with pytest.raises(ValueError, match="outside"):
        ins.rereference_raster(field_path, str(tmp_path / "no.tif"), 0.0, 0.0)


def test_rereference_time_series_per_band(tmp_path):
    path, days, values, _ = make_series(tmp_path)
    out = str(tmp_path / "ts_ref.tif")
    ins.rereference_raster(path, out, *centre(2, 2))
    s = ins.sample_series(out, *centre(0, 0))
    np.testing.assert_allclose(s.values, -0.5, atol=1e-6)
    assert ins.is_time_series(raster_info(out))


def test_rereference_refuses_a_point_without_data(tmp_path):
    data = np.ones((5, 5), np.float32)
    data[2, 2] = np.nan
    path = write_array(str(tmp_path / "hole.tif"), data, GT, WKT)
    with pytest.raises(ValueError, match="no valid value"):
        ins.rereference_raster(path, str(tmp_path / "o.tif"), *centre(2, 2))
    assert not (tmp_path / "o.tif").exists()


def test_window_grid_is_the_algorithm_grid():
    from displacement_toolkit.core.offset_tracking import TrackingParameters, output_grid

    g = ins.window_grid(100, 60, 32, 16, 4, 2, 16, 8)
    # window tops: 4, 20, 36, 52 (52 + 32 + 4 = 88 <= 100; 68 + 36 > 100); centres = top + 16
    np.testing.assert_array_equal(g.cols, [20, 36, 52, 68])
    # rows: tops 2, 10, ..., 42 (42 + 16 + 2 = 60); centres = top + 8
    np.testing.assert_array_equal(g.rows, np.arange(10, 51, 8))
    assert g.count == 4 * 6 and g.shape == (6, 4)
    assert (g.cols - 16 - 4).min() >= 0 and (g.cols + 16 + 4).max() <= 100
    # odd windows: fractional centres, as the algorithm's output grid
    g = ins.window_grid(101, 77, 33, 17, 5, 3, 10, 9)
    cols, rows = output_grid(101, 77, TrackingParameters(33, 17, 5, 3, 10, 9))
    np.testing.assert_array_equal(g.cols, cols)
    np.testing.assert_array_equal(g.rows, rows)
    assert g.cols[0] == 5 + 16.5
    with pytest.raises(ValueError, match="needs 40 columns"):
        ins.window_grid(30, 30, 32, 32, 4, 4, 8, 8)
    with pytest.raises(ValueError, match="STEP_X"):
        ins.window_grid(30, 30, 8, 8, 1, 1, 0, 8)


def test_offset_tracking_estimate():
    e = ins.estimate_offset_tracking(100, 60, 32, 16, 4, 2, 16, 8, output_bands=3,
                                     seconds_each=0.01, overhead=2.0)
    assert e.windows == 24 and e.grid_shape == (6, 4)
    assert e.output_bytes == 24 * 3 * 4
    assert e.seconds == pytest.approx(24 * 0.01 * 2.0)
    # two local threads: 1.68 times as fast, the measured speed-up of a swath-sized pair
    two = ins.estimate_offset_tracking(100, 60, 32, 16, 4, 2, 16, 8, seconds_each=0.01,
                                       overhead=2.0, threads=2)
    assert two.seconds == pytest.approx(24 * 0.01 * 2.0 / 1.68)
    real = ins.seconds_per_window(32, 32, 8, 8, batch=4, repeats=1)
    cplx = ins.seconds_per_window(32, 32, 8, 8, is_complex=True, batch=4, repeats=1)
    assert 0 < real < 1 and 0 < cplx < 1
    assert ins.format_bytes(1536) == "1.5 KiB" and ins.format_bytes(12) == "12 B"
    assert ins.format_seconds(95) == "1 min 35 s" and ins.format_seconds(0.2) == "< 1 s"


def test_guess_track_from_product_metadata(tmp_path):
    from displacement_toolkit.core.geometry import los_azimuth_to_heading

    def info_of(name, metadata, quantity="los_displacement"):
        path = write_array(str(tmp_path / name), np.zeros((4, 4), np.float32), GT, WKT,
                           band_metadata=[{"units": "m", "quantity": quantity}], metadata=metadata)
        return raster_info(path)

    g = ins.guess_track(info_of("a.tif", {"geometry_incidence": "34.000000",
                                          "geometry_heading": "-12.000000"}))
    assert g == {"kind": "los", "incidence": 34.0, "heading": -12.0, "look_direction": "right",
                 "sigma": None}
    # only a LOS azimuth (MintPy azimuthAngle 102 deg, right-looking) -> heading -12 deg
    g = ins.guess_track(info_of("b.tif", {"incidence_angle": "39", "geometry_los_azimuth": "102"}))
    assert g["incidence"] == 39.0
    assert g["heading"] == pytest.approx(float(los_azimuth_to_heading(102.0, "right")))
    assert g["heading"] == pytest.approx(-12.0)
    g = ins.guess_track(info_of("c.tif", {"geometry_look_direction": "left",
                                          "geometry_los_azimuth": "-78"}, "range_offset"))
    assert g["kind"] == "range_offset" and g["look_direction"] == "left"
    assert g["heading"] == pytest.approx(-12.0)   # -90 - h = -78 -> h = -12
    assert ins.guess_track(info_of("d.tif", {}, "azimuth_offset")) == {
        "kind": "azimuth_offset", "incidence": None, "heading": None, "look_direction": "right",
        "sigma": None}


def test_read_overview_decimates_with_nodata(tmp_path):
    rows, cols = np.mgrid[0:100, 0:300]
    data = (cols // 3).astype(np.float32)
    data[:10, :30] = np.nan
    path = write_array(str(tmp_path / "big.tif"), data, GT, WKT)
    small, scale = ins.read_overview(path, max_size=100)
    assert small.shape == (33, 100) and scale == pytest.approx(3.0)
    # nearest neighbour: overview column j samples a full-resolution column in [3j, 3j+3)
    np.testing.assert_array_equal(small[-1], np.arange(100))
    assert np.isnan(small[0, 0]) and np.isfinite(small[-1, 0])


def test_station_series_from_a_comparison_table():
    rows = [
        {"station": "B", "date": "2020-01-13", "gnss_los": 1.0, "insar_los": 2.0, "units": "mm"},
        {"station": "A", "date": "2020-01-25", "gnss_los": -3.5, "insar_los": None, "units": "mm"},
        {"station": "A", "date": "2020-01-01", "gnss_los": 0.0, "insar_los": 0.0, "units": "mm"},
        {"station": "A", "date": "2020-01-13", "gnss_los": -1.5, "insar_los": -2.0, "units": "mm"},
    ]
    gnss, insar = ins.station_series(rows, "A")
    assert gnss.dates == [dt.date(2020, 1, 1), dt.date(2020, 1, 13), dt.date(2020, 1, 25)]
    np.testing.assert_array_equal(gnss.values, [0.0, -1.5, -3.5])
    np.testing.assert_array_equal(insar.values[:2], [0.0, -2.0])
    assert math.isnan(insar.values[2])
    assert gnss.units == insar.units == "mm" and gnss.label == "GNSS LOS A"
    with pytest.raises(ValueError, match="no rows"):
        ins.station_series(rows, "C")


def test_geometry_layer_files_next_to_a_loaded_product(tmp_path):
    zeros = np.zeros((4, 4), np.float32)
    meta = {"geometry_incidence_layer": "incidenceAngle", "geometry_los_azimuth_layer": "azimuthAngle"}
    vel = write_array(str(tmp_path / "velocity_velocity.tif"), zeros, GT, WKT, metadata=meta)
    inc = write_array(str(tmp_path / "velocity_incidenceAngle.tif"), zeros, GT, WKT)
    write_array(str(tmp_path / "other_incidenceAngle.tif"), zeros, GT, WKT)
    write_array(str(tmp_path / "velocity_notincidenceAngle2.tif"), zeros, GT, WKT)
    found = ins.geometry_layer_files(raster_info(vel))
    assert found == {"incidence": inc}   # no azimuthAngle file: not reported
    az = write_array(str(tmp_path / "azimuthAngle.tif"), zeros, GT, WKT)
    assert ins.geometry_layer_files(raster_info(vel)) == {"incidence": inc, "los_azimuth": az}
    assert ins.geometry_layer_files(raster_info(inc)) == {}


def test_series_gains_the_implicit_reference_epoch(tmp_path):
    days = [dt.date(2020, 1, 13), dt.date(2020, 1, 25), dt.date(2020, 2, 6)]
    cube = np.stack([np.full((3, 3), v, np.float32) for v in (-1.0, -2.0, -3.0)])
    path = write_array(str(tmp_path / "ts.tif"), cube, GT, WKT,
                       band_metadata=[{"units": "mm", "date": d.isoformat()} for d in days],
                       metadata={"reference_date": "2020-01-01"})
    s = ins.sample_series(path, *centre(1, 1))
    assert s.dates == [dt.date(2020, 1, 1)] + days
    np.testing.assert_array_equal(s.values, [0.0, -1.0, -2.0, -3.0])
    assert s.extra == {"implicit_reference_epoch": "2020-01-01"}
    # velocity through the zero epoch: -1 mm per 12 days
    assert ins.linear_velocity(s.dates, s.values).velocity == pytest.approx(-365.25 / 12)
    plain = ins.sample_series(path, *centre(1, 1), add_reference_epoch=False)
    assert plain.dates == days
    # outside the raster: all NaN, no zero epoch invented
    outside = ins.sample_series(path, 0.0, 0.0)
    assert outside.dates == days and np.all(np.isnan(outside.values))


def test_series_for_axis_converts_every_series_to_one_unit():
    import datetime as dt

    from displacement_toolkit.core.inspection import Series, display_units, series_for_axis

    days = [dt.date(2020, 1, 1), dt.date(2020, 1, 13)]
    raster = Series(days, np.array([0.01, -0.002]), "m", label="raster")
    gnss = Series(days, np.array([3.0, 4.5]), "mm", label="gnss")
    offsets = Series(days, np.array([1.0, 2.0]), "px", label="offsets")
    axis, drawn, left = series_for_axis([raster, gnss, offsets])
    assert axis == "m" and [s.label for s in drawn] == ["raster", "gnss"] and left == [offsets]
    np.testing.assert_allclose(drawn[1].values, [0.003, 0.0045])
    assert {s.units for s in drawn} == {"m"}
    axis, drawn, left = series_for_axis([raster, gnss], "cm")
    np.testing.assert_allclose(drawn[0].values, [1.0, -0.2])
    np.testing.assert_allclose(drawn[1].values, [0.3, 0.45])
    np.testing.assert_allclose(raster.values, [0.01, -0.002])   # the input is not changed
    # a series without a unit never joins an axis with one, and vice versa
    bare = Series(days, np.array([1.0, 2.0]), "", label="bare")
    assert series_for_axis([bare, gnss])[2] == [gnss]
    assert display_units("mm") == ["mm", "cm", "m"] and display_units("px") == ["px"]
    assert display_units("mm/yr") == ["mm/yr", "cm/yr", "m/yr"]
