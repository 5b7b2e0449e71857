"""displacement:cumulative_displacement through processing.run: the real Kilauea series
(compared with direct differences of the files), dated multi-band rasters, bad input."""

import glob
import os
import re

import numpy as np
import pytest
from qgis.core import QgsProcessingException

from displacement_toolkit.core.raster_io import raster_info, read_block, write_array
from displacement_toolkit.processing_provider.cumulative_displacement import CumulativeDisplacement

from ..conftest import TEST_DATA, UTM33N, run_algorithm

KILAUEA = sorted(glob.glob(str(TEST_DATA / "geepers_hawaii" / "hawaii" / "displacement_*.tif")))
GT = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)


def test_kilauea_cumulative_equals_the_direct_difference(provider, tmp_path):
    out = str(tmp_path / "cum.tif")
    res = run_algorithm(CumulativeDisplacement().create(), {
        "INPUT": KILAUEA, "START_DATE": "2016-07-24T03:00:00", "END_DATE": "20160910",
        "OUTPUT": out})
    assert (res["START_DATE_USED"], res["END_DATE_USED"]) == ("2016-07-23", "2016-09-09")
    assert res["INTERVAL_DAYS"] == 48
    got = read_block(out)
    direct = read_block(KILAUEA[3]) - read_block(KILAUEA[0])
    assert np.array_equal(np.isnan(got), np.isnan(direct))
    assert np.nanmax(np.abs(got - direct)) == 0.0
    info = raster_info(out)
    assert info.band_metadata[0]["units"] == "m"
    assert info.metadata["start_date"] == "2016-07-23" and info.metadata["end_date"] == "2016-09-09"
    assert info.metadata["start_date_requested"] == "2016-07-24"
    text = (tmp_path / "cum.qml").read_text()
    labels = re.findall(r'label="([^"]*)"', text)
    values = [float(label.split()[0]) for label in labels]
    assert all(label.endswith(" m") for label in labels)
    assert values == pytest.approx([-v for v in reversed(values)])   # diverging around 0


def test_dated_multiband_raster_in_millimetres(provider, make_raster, tmp_path):
    dates = ["2021-01-04", "2021-01-16", "2021-01-28", "2021-02-09"]
    cube = np.stack([np.full((6, 5), 3.0 * k) for k in range(4)]).astype(np.float32)
    cube[2, 1, 1] = np.nan
    src = make_raster(cube, "series.tif", band_metadata=[
        {"date": d, "units": "mm", "quantity": "los_displacement"} for d in dates],
        metadata={"reference_date": "2021-01-04"})
    out = str(tmp_path / "c.tif")
    run_algorithm(CumulativeDisplacement().create(), {
        "INPUT": [src], "START_DATE": "2021-01-05", "END_DATE": "2021-01-30", "OUTPUT": out})
    got = read_block(out)
    assert np.isnan(got[1, 1]) and np.isnan(got).sum() == 1
    assert np.nanmax(np.abs(got - 6.0)) == 0.0
    assert raster_info(out).band_metadata[0]["units"] == "mm"


@pytest.mark.parametrize("params,message", [
    ({"START_DATE": "2016-09-01", "END_DATE": "2016-08-01"},
     "START_DATE 2016-09-01 is not before END_DATE 2016-08-01"),
    ({"START_DATE": "2016-07-11", "END_DATE": "2017-01-01"},
     r"END_DATE 2017-01-01 is outside the time series \(2016-07-11 to 2016-09-21\)"),
    ({"START_DATE": "July", "END_DATE": "2016-08-01"}, "START_DATE = 'July'"),
])
def test_bad_dates_are_clear_errors_and_nothing_is_written(provider, tmp_path, params, message):
    out = tmp_path / "c.tif"
    with pytest.raises(QgsProcessingException, match=message):
        run_algorithm(CumulativeDisplacement().create(), {"INPUT": KILAUEA, "OUTPUT": str(out),
                                                          **params})
    assert not os.listdir(tmp_path)


def test_rasters_on_different_grids_are_refused(provider, tmp_path):
    a = tmp_path / "displacement_20200101_20200113.tif"
    b = tmp_path / "displacement_20200101_20200125.tif"
    write_array(str(a), np.zeros((5, 5), np.float32), GT, UTM33N)
    write_array(str(b), np.zeros((6, 5), np.float32), GT, UTM33N)
    out = tmp_path / "out" / "c.tif"
    with pytest.raises(QgsProcessingException, match=r"INPUT = .*not on the grid.*displacement:common_grid"):
        run_algorithm(CumulativeDisplacement().create(), {
            "INPUT": [str(a), str(b)], "START_DATE": "2020-01-01", "END_DATE": "2020-01-25",
            "OUTPUT": str(out)})
    assert not out.exists()


def test_mintpy_timeseries_h5_as_input_file(provider, tmp_path):
    from ..unit.test_timeseries import _dates, _mintpy_timeseries

    dates = _dates("2020-01-01", 12, 8)
    cube = np.stack([np.full((5, 6), 0.002 * k) for k in range(8)])
    cube[5, 0, 0] = np.nan
    src = _mintpy_timeseries(tmp_path / "timeseries.h5", cube, dates, "20200101")
    out = str(tmp_path / "c.tif")
    res = run_algorithm(CumulativeDisplacement().create(), {
        "INPUT_FILE": src, "START_DATE": "20200113", "END_DATE": "2020-03-01", "OUTPUT": out})
    assert (res["START_DATE_USED"], res["END_DATE_USED"]) == ("2020-01-13", "2020-03-01")
    got = read_block(out)
    assert np.isnan(got[0, 0]) and np.isnan(got).sum() == 1
    assert np.nanmax(np.abs(got - 0.002 * 4)) < 1e-7
    info = raster_info(out)
    assert info.band_metadata[0]["units"] == "m"
    assert info.band_metadata[0]["quantity"] == "los_displacement"
    assert info.geotransform[0] == pytest.approx(-155.3)
