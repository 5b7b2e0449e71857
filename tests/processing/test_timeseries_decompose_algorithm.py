"""displacement:timeseries_decompose through processing.run: ascending (dated multi-band
raster) and descending (single-date files on another grid, other dates) sampled from a known
east/up history; per-pixel geometry raster; bad input."""

import datetime as dt
import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException

from displacement_toolkit.core.geometry import los_unit_vector_from_heading
from displacement_toolkit.core.raster_io import raster_info, read_block, write_array
from displacement_toolkit.processing_provider.timeseries_decompose import TimeseriesDecompose

from ..conftest import UTM33N, run_algorithm

GT_A = (499980.0, 30.0, 0.0, 3999990.0, 0.0, -30.0)   # edges on multiples of 30 m
GT_D = (499950.0, 30.0, 0.0, 4000020.0, 0.0, -30.0)   # one pixel larger on each side
T0 = dt.date(2021, 1, 1)
ASC, DESC = (34.0, -12.0), (39.0, -168.0)


def east(t):
    return 0.015 * t


def up(t):
    return -0.04 * t


def _los(geometry, dates):
    g = np.array(los_unit_vector_from_heading(*geometry))
    t = np.array([(d - T0).days / 365.25 for d in dates])
    los = g[0] * east(t) + g[2] * up(t)
    return los - los[0]


@pytest.fixture
def tracks(tmp_path):
    da = [dt.date(2021, 1, 2) + dt.timedelta(days=12 * k) for k in range(10)]
    dd = [dt.date(2021, 1, 6) + dt.timedelta(days=12 * k) for k in range(10)]
    la, ld = _los(ASC, da), _los(DESC, dd)
    asc = str(tmp_path / "asc.tif")
    write_array(asc, np.stack([np.full((8, 9), v, np.float32) for v in la]), GT_A, UTM33N,
                band_metadata=[{"date": d.isoformat(), "units": "m"} for d in da],
                metadata={"reference_date": da[0].isoformat()})
    desc = []
    for d, v in zip(dd[1:], ld[1:]):        # the reference date itself is implicit (zero)
        p = str(tmp_path / f"displacement_{dd[0]:%Y%m%d}_{d:%Y%m%d}.tif")
        write_array(p, np.full((10, 11), v, np.float32), GT_D, UTM33N)
        desc.append(p)
    return asc, desc, da, dd


def test_east_and_up_series_match_the_truth_at_common_dates(provider, tracks, tmp_path):
    asc, desc, da, dd = tracks
    outs = {k: str(tmp_path / f"{k.lower()}.tif") for k in ("EAST", "UP", "SIGMA_EAST", "SIGMA_UP")}
    res = run_algorithm(TimeseriesDecompose().create(), {
        "TRACK_1": [asc], "INCIDENCE_1": ASC[0], "HEADING_1": ASC[1], "SIGMA_1": 0.005,
        "TRACK_2": desc, "INCIDENCE_2": DESC[0], "HEADING_2": DESC[1], "SIGMA_2": 0.005, **outs})
    assert res["REFERENCE_DATE"] == "2021-01-06"
    expected_dates = sorted({d for d in da + dd if dd[0] <= d <= da[-1]})
    assert res["DATES"] == len(expected_dates) == 18
    info = raster_info(outs["EAST"])
    assert [m["date"] for m in info.band_metadata] == [d.isoformat() for d in expected_dates]
    assert info.metadata["reference_date"] == "2021-01-06"
    assert (info.width, info.height) == (9, 8)           # intersection of the grids
    t = np.array([(d - T0).days / 365.25 for d in expected_dates])
    for path, truth in ((outs["EAST"], east(t) - east(t[0])), (outs["UP"], up(t) - up(t[0]))):
        got = np.stack([read_block(path, b + 1) for b in range(18)])
        assert np.abs(got - truth[:, None, None]).max() < 2e-6
    assert raster_info(outs["SIGMA_UP"]).band_metadata[0]["units"] == "m"
    assert np.all(read_block(outs["SIGMA_UP"], 3) > 0.003)
    assert "#440154" in (tmp_path / "sigma_up.qml").read_text()
    assert "#2166ac" in (tmp_path / "up.qml").read_text()


def test_per_pixel_geometry_raster_and_regular_step(provider, tracks, tmp_path):
    asc, desc, da, dd = tracks
    g = los_unit_vector_from_heading(*ASC)
    enu = str(tmp_path / "asc_los_enu.tif")
    write_array(enu, np.stack([np.full((20, 20), c, np.float32) for c in g]),
                (499380.0, 60.0, 0.0, 4000590.0, 0.0, -60.0), UTM33N)   # coarser, larger grid
    outs = {"EAST": str(tmp_path / "e.tif"), "UP": str(tmp_path / "u.tif")}
    res = run_algorithm(TimeseriesDecompose().create(), {
        "TRACK_1": [asc], "LOS_ENU_1": enu, "TRACK_2": desc, "INCIDENCE_2": DESC[0],
        "HEADING_2": DESC[1], "STEP_DAYS": 30, **outs})
    assert res["DATES"] == 4                              # 01-06, 02-05, 03-07, 04-06
    t = np.array([(dt.date(2021, 1, 6) + dt.timedelta(days=30 * k) - T0).days / 365.25
                  for k in range(4)])
    got = np.stack([read_block(outs["UP"], b + 1) for b in range(4)])
    assert np.abs(got - (up(t) - up(t[0]))[:, None, None]).max() < 2e-6


@pytest.mark.parametrize("change,message", [
    ({"TRACK_2": None}, "TRACK_2"),
    ({"INCIDENCE_2": None}, "INCIDENCE_2 = None: track 2 has no geometry"),
])
def test_bad_input_is_a_clear_error(provider, tracks, tmp_path, change, message):
    asc, desc, _, _ = tracks
    out = tmp_path / "out"
    params = {"TRACK_1": [asc], "INCIDENCE_1": ASC[0], "HEADING_1": ASC[1], "TRACK_2": desc,
              "INCIDENCE_2": DESC[0], "HEADING_2": DESC[1], "EAST": str(out / "e.tif"),
              "UP": str(out / "u.tif"), "SIGMA_EAST": str(out / "se.tif"),
              "SIGMA_UP": str(out / "su.tif")}
    params.update(change)
    with pytest.raises(QgsProcessingException, match=message):
        run_algorithm(TimeseriesDecompose().create(), params)
    assert not out.exists() or not os.listdir(out)


def test_tracks_without_a_common_period_are_refused(provider, tracks, tmp_path):
    asc, _, _, _ = tracks
    late = str(tmp_path / "late.tif")
    write_array(late, np.zeros((2, 8, 9), np.float32), GT_A, UTM33N,
                band_metadata=[{"date": "2022-06-01"}, {"date": "2022-06-13"}])
    out = tmp_path / "out"
    with pytest.raises(QgsProcessingException, match="do not overlap in time"):
        run_algorithm(TimeseriesDecompose().create(), {
            "TRACK_1": [asc], "INCIDENCE_1": ASC[0], "HEADING_1": ASC[1], "TRACK_2": [late],
            "INCIDENCE_2": DESC[0], "HEADING_2": DESC[1], "EAST": str(out / "e.tif"),
            "UP": str(out / "u.tif"), "SIGMA_EAST": str(out / "se.tif"),
            "SIGMA_UP": str(out / "su.tif")})
    assert not out.exists() or not os.listdir(out)


def test_coverage_union_uses_the_tracks_each_pixel_has(provider, tracks, tmp_path):
    asc, desc, da, dd = tracks
    asc2_geometry = (44.0, -13.0)                      # a second ascending track, larger grid
    asc2 = str(tmp_path / "asc2.tif")
    write_array(asc2, np.stack([np.full((10, 11), v, np.float32) for v in _los(asc2_geometry, da)]),
                GT_D, UTM33N, band_metadata=[{"date": d.isoformat(), "units": "m"} for d in da],
                metadata={"reference_date": da[0].isoformat()})
    outs = {"EAST": str(tmp_path / "e.tif"), "UP": str(tmp_path / "u.tif")}
    params = {"TRACK_1": [asc], "INCIDENCE_1": ASC[0], "HEADING_1": ASC[1],
              "TRACK_2": desc, "INCIDENCE_2": DESC[0], "HEADING_2": DESC[1],
              "TRACK_3": [asc2], "INCIDENCE_3": asc2_geometry[0], "HEADING_3": asc2_geometry[1],
              "COVERAGE": 1, **outs}
    res = run_algorithm(TimeseriesDecompose().create(), params)
    info = raster_info(outs["UP"])
    # the union is the descending grid; its outer ring lacks TRACK_1 and is solved from the
    # descending track and the second ascending one
    assert (info.width, info.height) == (11, 10) and info.metadata["coverage"] == "any"
    n = res["DATES"]
    dates = [dt.date.fromisoformat(m["date"]) for m in info.band_metadata]
    t = np.array([(d - T0).days / 365.25 for d in dates])
    got = np.stack([read_block(outs["UP"], b + 1) for b in range(n)])
    assert np.isfinite(got).all()
    assert np.abs(got - (up(t) - up(t[0]))[:, None, None]).max() < 2e-6
    # the default coverage: the intersection, TRACK_1's grid
    params["COVERAGE"] = 0
    params.update({"EAST": str(tmp_path / "e2.tif"), "UP": str(tmp_path / "u2.tif")})
    run_algorithm(TimeseriesDecompose().create(), params)
    strict = raster_info(str(tmp_path / "u2.tif"))
    assert (strict.width, strict.height) == (9, 8)


def test_los_enu_raster_that_is_not_a_unit_vector_is_refused(provider, tracks, tmp_path):
    """LOS_ENU_k is checked pixel by pixel (core.validation.check_unit_vector_raster): a
    vector of length 0.9 (e.g. a scaled or wrongly multilooked file) or pointing down
    (satellite-to-ground) would silently change every east/up value."""
    asc, desc, _, _ = tracks
    g = np.array(los_unit_vector_from_heading(*ASC))
    comps = np.stack([np.full((8, 9), c, np.float32) for c in g])
    comps[:, 0, :3] *= 0.9                    # 3 pixels too short
    comps[:, 1, :2] *= -1.0                   # 2 pixels satellite-to-ground
    enu = str(tmp_path / "enu.tif")
    write_array(enu, comps, GT_A, UTM33N)
    out = tmp_path / "out"
    params = {"TRACK_1": [asc], "LOS_ENU_1": enu, "TRACK_2": desc, "INCIDENCE_2": DESC[0],
              "HEADING_2": DESC[1], "EAST": str(out / "e.tif"), "UP": str(out / "u.tif")}
    with pytest.raises(QgsProcessingException,
                       match=r"LOS_ENU_1 .*5 of 72 valid pixels \(6\.94 %\) are not a ground-to-"
                             r"satellite unit vector: length .* from 0\.9 to 1 .*1 ± 0\.01.*"
                             r"\(2 of them point down\)"):
        run_algorithm(TimeseriesDecompose().create(), params)
    assert not out.exists() or not os.listdir(out)
