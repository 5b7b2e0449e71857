"""Point datasets: each format written by the generators of core/synthetic_points.py from the
published format descriptions is read back exactly by core/points.py; gridding and sampling."""

import datetime as dt
import sqlite3

import numpy as np
import pytest

from displacement_toolkit.core import points as P
from displacement_toolkit.core import points_analysis as A
from displacement_toolkit.core import synthetic_points as S

DATES = [dt.date(2019, 1, 6) + dt.timedelta(days=12 * k) for k in range(25)]
BOUNDS = (4.0e6, 2.8e6, 4.004e6, 2.804e6)


@pytest.fixture(scope="module")
def track():
    return S.synthetic_points(300, DATES, BOUNDS, S.laea_europe(), 39.0, -12.0,
                              lambda x, y: 4.0 + 0 * x, lambda x, y: -8.0 + 0 * y, seed=1)


def _load(tmp_path, path, reference_date=None, **kw):
    src = P.open_point_source(str(path), **kw)
    res = P.load_points(src, str(tmp_path / "out.gpkg"), reference_date)
    return src, res, P.PointLayer(res.path)


def _series(layer):
    return np.column_stack([layer.column(f) for f in layer.date_fields])


def test_egms_l2b_read_back_exactly(tmp_path, track):
    path = S.write_egms_csv(str(tmp_path / "EGMS_L2b_088_0286_IW2_VV_2019_2023_1.csv"), track)
    src, res, layer = _load(tmp_path, path)
    assert src.format == "egms" and res.count == 300
    assert layer.dates == DATES and layer.reference_date == DATES[0] and not res.shifted
    assert np.array_equal(_series(layer), track.series)
    assert np.array_equal(layer.column("velocity"), track.velocity)
    assert np.array_equal(layer.column("velocity_std"), track.velocity_std)
    x, y = layer.xy()
    assert np.array_equal(x, np.round(track.x, 2)) and np.array_equal(y, np.round(track.y, 2))
    assert np.allclose(layer.column("los_e"), np.round(track.los[:, 0], 4), atol=0)
    assert layer.text_column("pid") == track.pid
    assert layer.metadata["track"] == "88" and layer.metadata["level"] == "L2b"
    assert layer.metadata["orbit_direction"] == "ascending"
    assert layer.metadata["units"] == "mm" and layer.metadata["velocity_units"] == "mm/yr"
    assert layer.aliases["velocity"] == "velocity (mm/yr)"
    assert layer.aliases[P.date_field(DATES[3])] == f"displacement {DATES[3].isoformat()} (mm)"
    assert "3035" in layer.crs_wkt or "LAEA" in layer.crs_wkt


def test_egms_l3_up_component_latlon(tmp_path, track):
    path = S.write_egms_csv(str(tmp_path / "EGMS_L3_E40N28_100km_U_2019_2023_1.csv"), track,
                            coordinates="latlon", component="up")
    src, res, layer = _load(tmp_path, path)
    assert layer.metadata["level"] == "L3" and layer.metadata["component"] == "up"
    assert layer.metadata["quantity"] == "up_displacement" and not src.has_los
    x, y = layer.xy()
    assert np.array_equal(x, np.round(track.lon, 8)) and np.array_equal(y, np.round(track.lat, 8))
    assert np.array_equal(_series(layer), track.series)


def test_mintpy_save_qgis_read_back(tmp_path, track):
    path = S.write_mintpy_shapefile(str(tmp_path / "ts.shp"), track)
    src, res, layer = _load(tmp_path, path)
    assert src.format == "mintpy"
    assert np.array_equal(_series(layer), track.series)
    assert np.array_equal(layer.column("velocity"), track.velocity)
    assert np.allclose(layer.column("coherence"), 0.91)
    x, y = layer.xy()
    assert np.allclose(x, track.lon, atol=1e-12) and np.allclose(y, track.lat, atol=1e-12)
    assert layer.text_column("pid")[:2] == ["00000001", "00000002"]


def test_stamps_export_dates_and_values(tmp_path, track):
    path = S.write_stamps_csv(str(tmp_path / "stamps_tsexport.csv"), track)
    src, res, layer = _load(tmp_path, path)
    assert src.format == "stamps" and layer.dates == DATES
    assert S.matlab_datenum(dt.date(2000, 1, 1)) == 730486   # MATLAB datenum('2000-01-01')
    assert np.array_equal(_series(layer), track.series)
    assert np.array_equal(layer.column("velocity"), track.velocity)


def test_generic_csv_in_metres_with_reference_date(tmp_path, track):
    path = S.write_generic_csv(str(tmp_path / "gen.csv"), track, units="m")
    ref = DATES[4]
    src, res, layer = _load(tmp_path, path, x_field="x", y_field="y", crs="EPSG:3035", units="m",
                            pid_field="id", reference_date=ref)
    assert res.shifted and layer.reference_date == ref
    expected = track.series - track.series[:, [4]]
    assert np.allclose(_series(layer), expected, atol=1e-9)
    assert np.all(_series(layer)[:, 4] == 0)
    # no velocity column: the least-squares slope of the whole series (independent: polyfit)
    t = np.array([(d - DATES[0]).days / 365.25 for d in DATES])
    slope = np.polyfit(t, track.series.T, 1)[0]
    assert np.allclose(layer.column("velocity"), slope, atol=1e-9)
    assert layer.text_column("pid") == track.pid


def test_generic_csv_errors_name_the_field(tmp_path, track):
    path = S.write_generic_csv(str(tmp_path / "gen.csv"), track)
    with pytest.raises(ValueError, match="X_FIELD 'east' is not a column"):
        P.open_point_source(path, x_field="east", y_field="y", crs="EPSG:3035")
    src = P.open_point_source(path, x_field="x", y_field="y", crs="EPSG:3035")
    with pytest.raises(ValueError, match="REFERENCE_DATE 2018-01-01 is not a date"):
        P.load_points(src, str(tmp_path / "o.gpkg"), "2018-01-01")
    assert not (tmp_path / "o.gpkg").exists()


def test_chunks_bound_memory_and_report_progress(tmp_path, track):
    path = S.write_egms_csv(str(tmp_path / "EGMS_L2a_088_0286_IW2_VV_2019_2023_1.csv"), track)
    seen = []
    from displacement_toolkit.core.progress import Monitor

    src = P.open_point_source(path)
    res = P.load_points(src, str(tmp_path / "c.gpkg"), None, Monitor(progress=seen.append),
                        chunk_rows=64)
    layer = P.PointLayer(res.path)
    assert np.array_equal(_series(layer), track.series)   # 5 chunks of at most 64 rows
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and len(seen) == 5
    con = sqlite3.connect(res.path)
    assert con.execute("SELECT COUNT(*) FROM rtree_points_geom").fetchone()[0] == 300


def test_median_per_cell_and_min_points():
    cells = np.array([0, 0, 0, 1, 1, 3, -1])
    values = np.array([5.0, 1.0, 3.0, 2.0, np.nan, 7.0, 100.0])
    med, count = A.aggregate(cells, values, 4, "median", 1)
    assert np.allclose(med[[0, 1, 3]], [3.0, 2.0, 7.0]) and np.isnan(med[2])
    assert count.tolist() == [3, 1, 0, 1]
    med2, _ = A.aggregate(np.array([2, 2, 2, 2]), np.array([4.0, 1.0, 3.0, 2.0]), 3)
    assert med2[2] == 2.5
    mean, _ = A.aggregate(cells, values, 4, "mean", 2)
    assert mean[0] == 3.0 and np.isnan(mean[1]) and np.isnan(mean[3])


def test_geographic_cell_size_in_metres():
    lon, lat = np.array([10.0, 10.01]), np.array([60.0, 60.01])
    g = A.grid_for_points(lon, lat, P.crs_wkt_of(4326), 100.0)
    k = np.pi / 180 * A.EARTH_RADIUS
    assert g.geotransform[5] * -k == pytest.approx(100.0)
    assert g.geotransform[1] * k * np.cos(np.radians(60.005)) == pytest.approx(100.0)


def test_rows_without_coordinates_are_kept_counted_and_skipped_by_the_analyses(tmp_path, track):
    """Rows with an empty x or y are loaded without a geometry and counted in ``unlocated``
    (the algorithm warns with that count); gridding skips them."""
    import csv

    path = S.write_generic_csv(str(tmp_path / "gen.csv"), track, units="mm")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    for i, cols in ((3, (1,)), (10, (2,)), (20, (1, 2))):    # rows after the header
        for c in cols:
            rows[i + 1][c] = ""
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    src, res, layer = _load(tmp_path, path, x_field="x", y_field="y", crs="EPSG:3035",
                            pid_field="id")
    assert res.count == len(track.pid) and res.unlocated == 3
    x, y = layer.xy()
    missing = ~(np.isfinite(x) & np.isfinite(y))
    assert np.flatnonzero(missing).tolist() == [3, 10, 20]
    assert np.allclose(_series(layer)[3], track.series[3] - track.series[3, 0], atol=1e-9)
    grid = A.grid_for_points(x, y, layer.crs_wkt, 1000.0)
    gridded = A.points_to_grid(layer, grid, "velocity", str(tmp_path / "v.tif"))
    assert gridded.points_used == len(track.pid) - 3


def test_empty_cells_and_a_zero_date_contradicted_later(tmp_path, track):
    """Empty cells are no data; a date that is zero in the first chunk but not later is not
    taken as the reference: the file is scanned again and shifted to the first date."""
    series = track.series.copy()
    series[5, 0] = np.nan              # first date column (pid is column 0)
    series[7, -1] = np.nan             # last column of the row
    series[9, 3:6] = np.nan            # a run of empty cells
    series[200, 0] = 1.5               # the first date is not zero everywhere
    pts = S.SyntheticPoints(**{**track.__dict__, "series": series})
    path = S.write_generic_csv(str(tmp_path / "gaps.csv"), pts, units="mm", date_style="compact")
    src = P.open_point_source(path, x_field="x", y_field="y", crs="EPSG:3035", pid_field="id")
    res = P.load_points(src, str(tmp_path / "g.gpkg"), chunk_rows=64)
    layer = P.PointLayer(res.path)
    assert res.reference_date == DATES[0] and res.shifted and res.dropped == 1
    expected = series - series[:, [0]]
    got = _series(layer)
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    assert np.allclose(got[np.isfinite(got)], expected[np.isfinite(expected)], atol=1e-12)
    assert got[200, 5] == pytest.approx(series[200, 5] - 1.5)
    assert np.all(np.isnan(got[5]))    # no value on the reference date: no series
