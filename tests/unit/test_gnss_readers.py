"""GNSS readers: NGL .tenv3, MIDAS, GAGE/PBO .vel (real file, in full), CSV; clear errors."""

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from displacement_toolkit.core import gnss

DATA = Path(__file__).resolve().parents[1] / "data"
GAGE = DATA / "gage_gnss_velocity" / "cwu.final_nam14.vel"
TENV3 = DATA / "geepers_hawaii" / "unr_tenv3"


def test_gage_table_is_parsed_in_full_with_longitudes_wrapped():
    vel = gnss.read_gage_vel(str(GAGE))
    # independent count: distinct 4-character ids after the '*Dot#' header line
    lines = GAGE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("*"))
    ids = {line[1:5] for line in lines[start + 1:] if line.strip()}
    assert len(ids) == 2194
    assert len(vel) == 2194 and set(vel.station) == ids
    assert np.all((vel.lon >= -180) & (vel.lon < 180))
    assert np.all(np.abs(vel.lat) <= 90)
    # 1NSU: east longitude 266.9023962 -> -93.0976038; dN 1.62, dE -0.19, dU -1.23 mm/yr
    i = vel.index("1NSU")
    assert vel.lon[i] == pytest.approx(266.9023961931 - 360.0, abs=1e-9)
    assert vel.lat[i] == pytest.approx(31.7508007131, abs=1e-9)  # last segment (2019-2023)
    assert (vel.east[i], vel.north[i], vel.up[i]) == pytest.approx((-0.00019, 0.00162, -0.00123))
    assert (vel.sig_east[i], vel.sig_north[i], vel.sig_up[i]) == pytest.approx((0.00011, 0.00017, 0.00057))
    assert (vel.corr_en[i], vel.corr_eu[i], vel.corr_nu[i]) == pytest.approx((-0.046, 0.075, 0.068))
    # UNIP (Mexico City, SOURCE.txt): vE 1.3, vN 2.8, vU -3.3 mm/yr at 19.313 N, -99.181 E
    j = vel.index("unip")
    assert vel.lat[j] == pytest.approx(19.313, abs=1e-3)
    assert vel.lon[j] == pytest.approx(-99.181, abs=1e-3)
    mm_yr = 1000 * np.array([vel.east[j], vel.north[j], vel.up[j]])
    assert mm_yr == pytest.approx([1.3, 2.8, -3.3], abs=0.05)


def test_gage_bad_line_names_file_and_line(tmp_path):
    lines = GAGE.read_text().splitlines()[:40]
    start = next(i for i, line in enumerate(lines) if line.startswith("*"))
    bad = lines[start + 2].replace("-0.00019", "abc", 1)
    lines[start + 2] = bad
    path = tmp_path / "bad.vel"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=rf"bad.vel line {start + 3}.*'abc' is not a number"):
        gnss.read_gage_vel(str(path))


def test_tenv3_dates_and_positions_from_integer_plus_fraction():
    s = gnss.read_tenv3(str(TENV3 / "HLNA.tenv3"))
    assert s.station == "HLNA"
    assert s.dates[0] == dt.date(2016, 1, 1) and len(s.dates) == 366
    raw = [line.split() for line in (TENV3 / "HLNA.tenv3").read_text().splitlines()[1:]]
    k = next(i for i, p in enumerate(raw) if p[1] == "16JUL23")
    first, row = raw[0], raw[k]
    assert s.dates[k] == dt.date(2016, 7, 23)
    expected_e = (float(row[7]) - float(first[7])) + float(row[8])
    expected_n = (float(row[9]) - float(first[9])) + float(row[10])
    assert s.east[k] == pytest.approx(expected_e, abs=1e-9)
    assert s.north[k] == pytest.approx(expected_n, abs=1e-9)
    assert s.sig_up[k] == pytest.approx(float(row[16]))
    assert s.lon == pytest.approx(-155.3102, abs=1e-3) and s.lat == pytest.approx(19.2933, abs=1e-3)


def _tenv3_line(day, e0, east, lat=19.0, lon=-155.0):
    return (f"TEST {day} 2016.5 57589 1906 3 -155.0 {e0} {east} 100 0.5 10 0.1 0.0 0.001 0.001 "
            f"0.003 0.0 0.0 0.0 {lat} {lon} 10.0\n")


def test_tenv3_integer_part_jump_is_continuous(tmp_path):
    path = tmp_path / "TEST.tenv3"
    path.write_text("site YYMMMDD ...\n" + _tenv3_line("16JUL22", 5, 0.998)
                    + _tenv3_line("16JUL23", 6, -0.001))
    s = gnss.read_tenv3(str(path))
    assert s.east == pytest.approx([0.998, 0.999])


def test_tenv3_short_line_and_bad_date(tmp_path):
    path = tmp_path / "S.tenv3"
    path.write_text(_tenv3_line("16JUL22", 5, 0.9) + "TEST 16JUL23 2016.5\n")
    with pytest.raises(ValueError, match="S.tenv3 line 2: 3 columns"):
        gnss.read_tenv3(str(path))
    path.write_text(_tenv3_line("16XYZ22", 5, 0.9))
    with pytest.raises(ValueError, match="line 1, column 2.*not a date"):
        gnss.read_tenv3(str(path))


def test_midas_table(tmp_path):
    # 27 columns: sta label t1 tm dT m mgood n ve vn vu se sn su e50 n50 u50 fe fn fu
    #             sve svn svu nsteps lat lon h
    line = ("P123 MIDAS5 2008.0 2024.0 16.0 5800 5790 5000 -0.0123 0.0045 0.0021 0.0003 0.0002 0.0009 "
            "0.1 0.2 0.3 0.05 0.04 0.06 0.002 0.002 0.004 1 36.5 240.25 100.0\n")
    path = tmp_path / "midas.NA.txt"
    path.write_text(line + line.replace("P123", "P124").replace(" 36.5 240.25", " 36.6 -119.5"))
    assert gnss.detect_velocity_format(str(path)) == "midas"
    v = gnss.read_velocities(str(path))
    assert v.station == ["P123", "P124"]
    assert v.lon == pytest.approx([-119.75, -119.5]) and v.lat == pytest.approx([36.5, 36.6])
    assert v.east == pytest.approx([-0.0123] * 2) and v.sig_up == pytest.approx([0.0009] * 2)
    path.write_text(line.rsplit(" ", 3)[0] + "\n")
    with pytest.raises(ValueError, match="line 1: 24 columns, a MIDAS line has 27"):
        gnss.read_midas(str(path))


def test_csv_velocities_units_aliases_and_errors(tmp_path):
    path = tmp_path / "vel.csv"
    path.write_text("Station,Longitude,Latitude,ve,vn,vu,sig_e,sig_n,sig_u\n"
                    "AAAA,200.5,19.4,12.0,-3.0,25.0,0.5,0.5,1.5\n")
    v = gnss.read_velocities(str(path), units="mm/yr")
    assert v.lon[0] == pytest.approx(-159.5)
    assert (v.east[0], v.north[0], v.up[0]) == pytest.approx((0.012, -0.003, 0.025))
    assert v.sig_up[0] == pytest.approx(0.0015)
    with pytest.raises(ValueError, match="GNSS units 'mm' are a displacement"):
        gnss.read_velocities(str(path), units="mm")
    path.write_text("station,lon,lat,east,north\nA,1,2,3,4\n")
    with pytest.raises(ValueError, match="missing column\\(s\\) up"):
        gnss.read_velocities(str(path), units="m/yr")
    path.write_text("station,lon,lat,east,north,up\nA,1,2,3,4,5\nB,1,2,x3,4,5\n")
    with pytest.raises(ValueError, match="vel.csv line 3, column 4 \\(east\\): 'x3' is not a number"):
        gnss.read_velocities(str(path), units="m/yr")
    # latitude and longitude swapped: |lat| > 90 is caught, not silently used
    path.write_text("station,lon,lat,east,north,up\nA,19.4,-155.3,0,0,0\n")
    with pytest.raises(ValueError, match="swapped"):
        gnss.read_velocities(str(path), units="m/yr")
    path.write_text("id,x_coord,lat,e,n,u\nA,1,2,3,4,5\n")
    with pytest.raises(ValueError, match="column 'LONG' \\(for lon\\) is not in the header"):
        gnss.read_velocities(str(path), units="m/yr", mapping={"lon": "LONG"})
    assert gnss.read_velocities(str(path), units="m/yr", mapping={"lon": "x_coord"}).lon[0] == 1.0


def test_csv_series_time_of_day_is_the_calendar_day(tmp_path):
    path = tmp_path / "series.csv"
    path.write_text("station,date,lon,lat,east,north,up\n"
                    "B,2016-07-24T00:00:00Z,10,45,1,2,3\n"
                    "B,2016-07-23T23:59:00,10,45,4,5,6\n"
                    "A,20160723T160431,11,46,7,8,9\n")
    series = {s.station: s for s in gnss.read_series([str(path)], units="mm")}
    assert series["B"].dates == [dt.date(2016, 7, 23), dt.date(2016, 7, 24)]
    assert series["B"].east == pytest.approx([0.004, 0.001])
    assert series["A"].dates == [dt.date(2016, 7, 23)]
    with pytest.raises(ValueError, match="are a velocity"):
        gnss.read_series([str(path)], units="mm/yr")
    path.write_text("station,date,lon,lat,east,north,up\nA,yesterday,1,2,3,4,5\n")
    with pytest.raises(ValueError, match="line 2, column 2 \\(date\\): 'yesterday' is not a date"):
        gnss.read_series([str(path)], units="m")


def test_duplicate_station_names_are_refused_naming_them_and_the_files(tmp_path):
    table = tmp_path / "vel.csv"
    table.write_text("station,lon,lat,east,north,up\nHLNA,-155.3,19.4,1,2,3\n"
                     "AHUP,-155.2,19.4,1,2,3\nhlna,-155.1,19.4,4,5,6\n")
    with pytest.raises(ValueError, match=r"vel.csv: station names must be unique, but 'HLNA' "
                                         r"\(2 times: entries 1, 3\)"):
        gnss.read_velocities(str(table), "csv", "mm/yr")
    rows = "station,date,lon,lat,east,north,up\n" + "".join(
        f"HLNA,2021-01-{d:02d},-155.3,19.4,0,0,{d}\n" for d in (1, 2))
    (tmp_path / "a.csv").write_text(rows)
    (tmp_path / "b.csv").write_text(rows.replace("HLNA", "hlna"))
    with pytest.raises(ValueError, match=r"station names must be unique, but HLNA comes from 2 "
                                         r"series \(in a.csv, b.csv\)"):
        gnss.read_series([str(tmp_path / "a.csv"), str(tmp_path / "b.csv")], "mm")
