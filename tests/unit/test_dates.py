import datetime as dt

import pytest

from displacement_toolkit.core import dates as d


@pytest.mark.parametrize("text", [
    "2016-07-23", "20160723", "2016-07-23T16:04:31", "2016-07-23T23:59:59Z", "20160723T160431",
    "2016/07/23", "16JUL23", dt.datetime(2016, 7, 23, 16, 4), dt.date(2016, 7, 23),
])
def test_calendar_day_whatever_the_format(text):
    assert d.parse_date(text) == dt.date(2016, 7, 23)


def test_timezone_aware_values_are_taken_in_utc():
    local = dt.datetime(2016, 7, 23, 22, 0, tzinfo=dt.timezone(dt.timedelta(hours=-10)))
    assert d.parse_date(local) == dt.date(2016, 7, 24)
    assert d.parse_date("2016-07-23T22:00:00-10:00") == dt.date(2016, 7, 24)


def test_decimal_years_round_trip():
    assert d.decimal_year("2016-01-01") == 2016.0
    assert d.decimal_year("2017-07-02") == pytest.approx(2017 + 182 / 365)
    for day in ("2016-02-29", "2019-12-31", "2020-06-15"):
        assert d.decimal_year_to_date(d.decimal_year(day)) == d.parse_date(day)
    assert d.parse_date(2016.5) == dt.date(2016, 7, 2)


def test_band_dates_from_metadata_descriptions_and_file_names():
    got = d.band_dates([{"date": "2016-07-23"}, {}], ["x", "20160804"])
    assert got == [dt.date(2016, 7, 23), dt.date(2016, 8, 4)]
    one = d.band_dates([{}], [""], "hawaii/displacement_20160711_20160921.tif")
    assert one == [dt.date(2016, 9, 21)]
    assert d.reference_date({}, "displacement_20160711_20160921.tif") == dt.date(2016, 7, 11)
    assert d.reference_date({"REF_DATE": "20160711"}) == dt.date(2016, 7, 11)


def test_not_a_date_is_a_clear_error():
    with pytest.raises(ValueError, match="not a date"):
        d.parse_date("2016-13-45")
    with pytest.raises(ValueError, match="not a date"):
        d.parse_date("velocity")


def test_intervals():
    assert d.days_between("2016-07-11", "2016-07-23") == 12
    assert d.years_between("2016-01-01", "2017-01-01") == pytest.approx(366 / 365.25)
