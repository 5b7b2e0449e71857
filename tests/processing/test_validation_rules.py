"""One rule per physical quantity in every algorithm (core/validation.py, issue 16 items 7-8):
out-of-range incidences and headings, non-integral integers, duplicate station names, rasters
without CRS and NaN GNSS values are refused (or reported) with the parameter named, and
nothing is written."""

import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsVectorLayer

from displacement_toolkit.core import geometry as g
from displacement_toolkit.core.raster_io import transform_xy, wgs84_wkt, write_array

from ..conftest import UTM33N, run_algorithm

GT = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
M = [{"units": "m"}]


def _nothing_in(folder):
    return not folder.exists() or not os.listdir(folder)


# --------------------------------------------------------------------------- decompose
@pytest.fixture
def pair(make_raster):
    enu = (0.010, 0.0, -0.020)
    asc = np.full((6, 7), g.project_enu(*enu, g.los_unit_vector_from_heading(34, -12)), np.float32)
    desc = np.full((6, 7), g.project_enu(*enu, g.los_unit_vector_from_heading(39, -168)), np.float32)
    return make_raster(asc, "asc.tif", band_metadata=M), make_raster(desc, "desc.tif", band_metadata=M)


def _decompose(pair, out, **geometry):
    params = {"OBS_1": pair[0], "INCIDENCE_ANGLE_1": 34.0, "HEADING_ANGLE_1": -12.0,
              "OBS_2": pair[1], "INCIDENCE_ANGLE_2": 39.0, "HEADING_ANGLE_2": -168.0,
              "OUTPUT_EAST": str(out / "east.tif"), "OUTPUT_UP": str(out / "up.tif")}
    params.update(geometry)
    return run_algorithm("displacement:decompose", params)


@pytest.mark.parametrize("change, message", [
    ({"INCIDENCE_ANGLE_1": 95.0}, r"INCIDENCE_ANGLE_1 = 95.0: an incidence from the vertical must "
                                  r"be strictly between 0 and 90 degrees"),
    ({"INCIDENCE_ANGLE_1": -10.0}, r"INCIDENCE_ANGLE_1 = -10.0: .*strictly between 0 and 90"),
    ({"INCIDENCE_ANGLE_2": 90.0}, r"INCIDENCE_ANGLE_2 = 90.0: .*strictly between 0 and 90"),
    ({"HEADING_ANGLE_2": 400.0}, r"HEADING_ANGLE_2 = 400.0: a heading clockwise from north must "
                                 r"be between -360 and 360 degrees"),
    # LOS azimuth convention: same one-turn rule
    ({"ANGLE_CONVENTION": 1, "HEADING_ANGLE_1": 102.0, "HEADING_ANGLE_2": -470.0},
     r"HEADING_ANGLE_2 = -470.0: a LOS azimuth anti-clockwise from north"),
    # HyP3 convention: lv_theta in radians, below pi/2
    ({"ANGLE_CONVENTION": 2, "INCIDENCE_ANGLE_1": 56.0, "HEADING_ANGLE_1": 3.0},
     r"INCIDENCE_ANGLE_1 = 56.0: a HyP3 lv_theta .* strictly between 0 and 1.5708 radians"),
])
def test_decompose_refuses_out_of_range_angles(provider, pair, tmp_path, change, message):
    out = tmp_path / "out"
    with pytest.raises(QgsProcessingException, match=message):
        _decompose(pair, out, **change)
    assert _nothing_in(out)


def test_decompose_accepts_a_heading_within_one_turn_with_the_same_result(provider, pair, tmp_path):
    a = _decompose(pair, tmp_path / "a")
    b = _decompose(pair, tmp_path / "b", HEADING_ANGLE_1=348.0, HEADING_ANGLE_2=192.0)
    from displacement_toolkit.core.raster_io import read_block
    for key, truth in (("OUTPUT_EAST", 0.010), ("OUTPUT_UP", -0.020)):
        assert np.allclose(read_block(a[key]), truth, atol=1e-8)
        assert np.allclose(read_block(b[key]), truth, atol=1e-8)


def test_decompose_incidence_raster_out_of_range_reports_the_fraction(provider, pair, make_raster,
                                                                      tmp_path):
    inc = np.full((6, 7), 34.0, np.float32)
    inc[0, :3] = 91.0
    path = make_raster(inc, "inc_asc.tif")
    out = tmp_path / "out"
    with pytest.raises(QgsProcessingException, match=r"INCIDENCE_1 = .*inc_asc.tif': 3 of 42 valid "
                                                     r"pixels \(7.14 %\) are outside"):
        _decompose(pair, out, INCIDENCE_ANGLE_1=None, INCIDENCE_1=path)
    assert _nothing_in(out)


# --------------------------------------------------------------------------- LOS -> vertical
@pytest.mark.parametrize("change, message", [
    ({"DIRECTION": 1, "HEADING": 400.0}, r"HEADING = 400.0: a heading clockwise from north"),
    ({"INCIDENCE_ANGLE": 0.0}, r"INCIDENCE_ANGLE = 0.0: .*strictly between 0 and 90"),
    ({"DIRECTION": 2, "HEADING": -12.0, "AZIMUTH": 450.0},
     r"AZIMUTH = 450.0: an azimuth clockwise from north must be between -360 and 360"),
    ({"QUANTITY": 2, "WAVELENGTH_PRESET": 3, "WAVELENGTH": 5.55},
     r"WAVELENGTH = 5.55: a wavelength of 5.55 m is not a SAR wavelength"),
])
def test_los_to_vertical_uses_the_same_rules(provider, make_raster, tmp_path, change, message):
    path = make_raster(np.full((4, 5), 0.01, np.float32), "los.tif", band_metadata=M)
    out = tmp_path / "out"
    with pytest.raises(QgsProcessingException, match=message):
        run_algorithm("displacement:los_to_vertical", {
            "INPUT": path, "INCIDENCE_ANGLE": 35.0, "OUTPUT": str(out / "up.tif"), **change})
    assert _nothing_in(out)


# --------------------------------------------------------------------------- integers
def test_window_of_two_and_a_half_is_refused_not_run_as_three(provider, make_raster, tmp_path):
    rng = np.random.default_rng(1)
    ref = make_raster(rng.random((40, 40)).astype(np.float32), "ref.tif")
    sec = make_raster(rng.random((40, 40)).astype(np.float32), "sec.tif")
    out = tmp_path / "out"
    for name, value in (("WINDOW_X", 16.5), ("STEP_Y", 2.5)):
        with pytest.raises(QgsProcessingException, match=rf"{name} = {value}: must be a whole number"):
            run_algorithm("displacement:offset_tracking", {
                "REFERENCE": ref, "SECONDARY": sec, "WINDOW_X": 16, "WINDOW_Y": 16, "SEARCH_X": 2,
                "SEARCH_Y": 2, name: value, "OUTPUT_X": str(out / "x.tif"),
                "OUTPUT_Y": str(out / "y.tif"), "OUTPUT_SNR": str(out / "snr.tif"),
                "OUTPUT_SIGMA": str(out / "sigma.tif")})
    assert _nothing_in(out)


# --------------------------------------------------------------------------- GNSS
def _stations(n=3):
    """WGS84 positions of ``n`` stations inside the 20 x 20 UTM 33N raster at GT."""
    x = GT[0] + 30.0 * np.array([4.5, 10.5, 15.5][:n])
    y = GT[3] - 30.0 * np.array([5.5, 12.5, 8.5][:n])
    return transform_xy(x, y, UTM33N, wgs84_wkt())


def _gnss_csv(path, names, velocities_mm=None):
    lon, lat = _stations(len(names))
    rows = ["station,lon,lat,east,north,up"]
    for i, name in enumerate(names):
        e, n, u = velocities_mm[i] if velocities_mm else (1.0, 2.0, -3.0)
        rows.append(f"{name},{lon[i]:.9f},{lat[i]:.9f},{e},{n},{u}")
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def _compare(insar, gnss, out, **extra):
    params = {"INSAR": insar, "GNSS_FILE": gnss, "GNSS_UNITS": 2, "INCIDENCE_ANGLE": 34.0,
              "HEADING_ANGLE": -12.0, "SAMPLE_RADIUS": 10.0, "MIN_PIXELS": 1,
              "OUTPUT": str(out / "cmp.gpkg")}
    params.update(extra)
    return run_algorithm("displacement:gnss_los_comparison", params)


@pytest.fixture
def insar(make_raster):
    return make_raster(np.full((20, 20), 0.004, np.float32), "vel.tif",
                       band_metadata=[{"units": "m/yr"}])


def test_gnss_duplicate_station_names_are_refused_naming_them_and_the_file(provider, insar, tmp_path):
    gnss = _gnss_csv(tmp_path / "gnss_dup.csv", ["HLNA", "AHUP", "hlna"])
    out = tmp_path / "out"
    with pytest.raises(QgsProcessingException, match=r"GNSS_FILE = .*gnss_dup.csv: station names "
                                                     r"must be unique, but 'HLNA' \(2 times: "
                                                     r"entries 1, 3\)"):
        _compare(insar, gnss, out)
    assert _nothing_in(out)


def test_rereference_to_a_station_on_a_raster_without_crs_says_so(provider, tmp_path):
    series = str(tmp_path / "series.tif")
    write_array(series, np.zeros((2, 20, 20), np.float32), GT, "",
                band_metadata=[{"date": "2021-01-01", "units": "m"}, {"date": "2021-01-13", "units": "m"}])
    gnss = _gnss_csv(tmp_path / "table.csv", ["A", "B", "C"])
    out = tmp_path / "out"
    with pytest.raises(QgsProcessingException, match=r"the raster has no CRS") as err:
        run_algorithm("displacement:rereference", {
            "INPUT": [series], "GNSS_FILE": gnss, "GNSS_STATION": "A", "OUTPUT": str(out / "r.tif")})
    assert "outside" not in str(err.value)
    assert _nothing_in(out)


def test_rereference_to_a_duplicated_station_is_refused(provider, tmp_path):
    series = str(tmp_path / "series.tif")
    write_array(series, np.zeros((2, 20, 20), np.float32), GT, UTM33N,
                band_metadata=[{"date": "2021-01-01", "units": "m"}, {"date": "2021-01-13", "units": "m"}])
    gnss = _gnss_csv(tmp_path / "table.csv", ["A", "B", "A"])
    out = tmp_path / "out"
    with pytest.raises(QgsProcessingException, match=r"GNSS_FILE = .*table.csv: station names must be "
                                                     r"unique, but 'A' \(2 times"):
        run_algorithm("displacement:rereference", {
            "INPUT": [series], "GNSS_FILE": gnss, "GNSS_STATION": "A", "OUTPUT": str(out / "r.tif")})
    assert _nothing_in(out)


@pytest.mark.parametrize("change, message", [
    ({"INCIDENCE_ANGLE": 90.0}, r"INCIDENCE_ANGLE = 90.0: an incidence from the vertical must be "
                                r"strictly between 0 and 90 degrees"),
    ({"AZIMUTH_CONVENTION": 1, "HEADING_ANGLE": 102.0, "INCIDENCE_ANGLE": 0.0},
     r"INCIDENCE_ANGLE = 0.0"),
    ({"MIN_PIXELS": 2.5}, r"MIN_PIXELS = 2.5: must be a whole number"),
])
def test_gnss_comparison_uses_the_same_rules(provider, insar, tmp_path, change, message):
    gnss = _gnss_csv(tmp_path / "gnss.csv", ["A", "B", "C"])
    out = tmp_path / "out"
    with pytest.raises(QgsProcessingException, match=message):
        _compare(insar, gnss, out, **change)
    assert _nothing_in(out)


def test_raster_without_crs_says_so(provider, make_raster, tmp_path):
    bare = make_raster(np.full((20, 20), 0.004, np.float32), "nocrs.tif", crs_wkt="",
                       band_metadata=[{"units": "m/yr"}])
    gnss = _gnss_csv(tmp_path / "gnss.csv", ["A", "B", "C"])
    out = tmp_path / "out"
    with pytest.raises(QgsProcessingException, match=r"INSAR = .*nocrs.tif': the raster has no CRS") as err:
        _compare(bare, gnss, out)
    assert "swapped" not in str(err.value)
    assert _nothing_in(out)


def test_nan_gnss_velocities_are_reported_as_such(provider, insar, tmp_path):
    gnss = _gnss_csv(tmp_path / "gnss.csv", ["A", "B", "C"],
                     [(1.0, 2.0, -3.0), ("nan", "nan", "nan"), (1.0, 2.0, -3.0)])
    res = _compare(insar, gnss, tmp_path)
    status = {f["station"]: f["status"] for f in QgsVectorLayer(res["OUTPUT"], "o", "ogr").getFeatures()}
    assert status == {"A": "ok", "B": "no GNSS value (NaN in the GNSS data)", "C": "ok"}
    assert res["N"] == 2
    # all NaN: the failure names the cause, not the geometry
    gnss = _gnss_csv(tmp_path / "gnss_nan.csv", ["A", "B"], [("nan",) * 3] * 2)
    with pytest.raises(QgsProcessingException, match=r"no GNSS value \(NaN in the GNSS data\): 2") as err:
        _compare(insar, gnss, tmp_path / "out2")
    assert "no LOS geometry" not in str(err.value)


# --------------------------------------------------------------------------- time series
def test_timeseries_decompose_refuses_a_zero_incidence(provider, tmp_path):
    paths = []
    for name in ("asc", "desc"):
        p = str(tmp_path / f"{name}.tif")
        write_array(p, np.zeros((2, 5, 6), np.float32), GT, UTM33N,
                    band_metadata=[{"date": "2021-01-01", "units": "m"},
                                   {"date": "2021-01-13", "units": "m"}])
        paths.append(p)
    out = tmp_path / "out"
    with pytest.raises(QgsProcessingException, match=r"INCIDENCE_1 = 0.0: an incidence .*strictly"):
        run_algorithm("displacement:timeseries_decompose", {
            "TRACK_1": [paths[0]], "INCIDENCE_1": 0.0, "HEADING_1": -12.0,
            "TRACK_2": [paths[1]], "INCIDENCE_2": 39.0, "HEADING_2": -168.0,
            "EAST": str(out / "e.tif"), "UP": str(out / "u.tif")})
    assert _nothing_in(out)
