"""GNSS comparisons with InSAR points: points placed at the pixel centres of a raster give the
same InSAR values, counts and statistics as the raster path (median within SAMPLE_RADIUS)."""

import datetime as dt

import numpy as np
import pytest
from osgeo import osr

from displacement_toolkit.core import gnss_comparison as gc
from displacement_toolkit.core import points as P
from displacement_toolkit.core.gnss import GnssSeries, GnssVelocities
from displacement_toolkit.core.raster_io import crs_from_epsg, write_array

UTM33 = crs_from_epsg(32633)
GT = (500000.0, 50.0, 0.0, 5000000.0, 0.0, -50.0)
VEC = (-0.6, -0.12, float(np.sqrt(1 - 0.36 - 0.0144)))
REF = dt.date(2016, 7, 11)
DATES = [dt.date(2016, 7, 23), dt.date(2016, 8, 4), dt.date(2016, 8, 16)]


def _scene(tmp_path):
    rng = np.random.default_rng(5)
    cube = rng.normal(0, 0.01, (3, 30, 30)).astype(np.float32)
    cube[rng.random(cube.shape) < 0.15] = np.nan
    raster = write_array(str(tmp_path / "ts.tif"), cube, GT, UTM33,
                         band_metadata=[{"date": d.isoformat(), "units": "m"} for d in DATES],
                         metadata={"reference_date": REF.isoformat()})
    col, row = np.meshgrid(np.arange(30), np.arange(30))
    x, y = GT[0] + (col.ravel() + 0.5) * 50, GT[3] - (row.ravel() + 0.5) * 50
    fields = [("pid", "text"), ("los_e", "real"), ("los_n", "real"), ("los_u", "real")] + \
        [(P.date_field(d), "real") for d in DATES]
    with P.PointWriter(str(tmp_path / "pts.gpkg"), UTM33, fields, "points",
                       {"units": "m", "reference_date": REF.isoformat()}) as w:
        w.write(x, y, {"pid": [str(i) for i in range(x.size)],
                       **{f: np.full(x.size, c) for f, c in zip(("los_e", "los_n", "los_u"), VEC)},
                       **{P.date_field(d): cube[k].ravel().astype(np.float64)
                          for k, d in enumerate(DATES)}})
        layer = P.PointLayer(w.commit())
    # stations anywhere (not at pixel centres), well inside the scene
    sx, sy = GT[0] + rng.uniform(200, 1300, 8), GT[3] - rng.uniform(200, 1300, 8)
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromWkt(UTM33)
    dst.ImportFromEPSG(4326)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ll = np.array([osr.CoordinateTransformation(src, dst).TransformPoint(a, b)[:2]
                   for a, b in zip(sx, sy)])
    return raster, layer, ll[:, 0], ll[:, 1], rng


def test_velocity_comparison_points_equal_raster(tmp_path):
    raster, layer, lon, lat, rng = _scene(tmp_path)
    n = lon.size
    gnss = GnssVelocities(station=[f"S{i}" for i in range(n)], lon=lon, lat=lat,
                          east=rng.normal(0, 0.01, n), north=rng.normal(0, 0.01, n),
                          up=rng.normal(0, 0.01, n), sig_east=np.full(n, 1e-3),
                          sig_north=np.full(n, 1e-3), sig_up=np.full(n, 3e-3),
                          corr_en=np.zeros(n), corr_eu=np.zeros(n), corr_nu=np.zeros(n))
    geom = gc.LosGeometry(enu_path=None, incidence=float(np.degrees(np.arccos(VEC[2]))),
                          azimuth=float(np.degrees(np.arctan2(-VEC[0], VEC[1]))),
                          azimuth_kind="los_azimuth")
    for radius in (120.0, 260.0):                     # > half a pixel diagonal (35 m)
        a = gc.compare_velocities(gnss, raster, 2, 1.0, geom, radius, 3, "constant")
        b = gc.compare_velocities(gnss, layer, P.date_field(DATES[1]), 1.0, geom, radius, 3,
                                  "constant")
        assert a.status == b.status == ["ok"] * n
        assert np.array_equal(a.n_pixels, b.n_pixels) and a.n_pixels.min() >= 10
        assert np.array_equal(a.insar_raw, b.insar_raw)
        assert b.insar_spread == pytest.approx(a.insar_spread, abs=1e-15)
        assert b.stats["rmse"] == pytest.approx(a.stats["rmse"], abs=1e-15)
    # the LOS vector of the points near each station = the vector they carry
    e, nn, u = gc.LosGeometry(points=layer, points_radius=120.0).unit_vectors(lon, lat)
    assert e == pytest.approx(np.full(n, VEC[0])) and u == pytest.approx(np.full(n, VEC[2]))
    far = GnssVelocities(**{**gnss.__dict__, "lon": lon + 5.0})
    with pytest.raises(ValueError, match="have no InSAR point within the sample radius"):
        gc.compare_velocities(far, layer, P.date_field(DATES[0]), 1.0, geom)


def test_timeseries_comparison_points_equal_raster(tmp_path):
    raster, layer, lon, lat, rng = _scene(tmp_path)
    days = [dt.date(2016, 6, 1) + dt.timedelta(days=k) for k in range(120)]
    t = np.array([(d - days[0]).days / 365.25 for d in days])
    series = [GnssSeries(f"G{i}", lon[i], lat[i], list(days), *(rng.normal(0, 0.02) * t
                                                                  for _ in range(3)),
                         np.full(t.size, 1e-3), np.full(t.size, 1e-3), np.full(t.size, 3e-3))
              for i in range(lon.size)]
    geom = gc.LosGeometry(points=layer, points_radius=150.0)
    ras = gc.insar_epochs([(raster, b + 1, d) for b, d in enumerate(DATES)], REF)
    pts = gc.insar_epochs([(layer, P.date_field(d), d) for d in DATES], layer.reference_date)
    a = gc.compare_timeseries(series, ras, 1.0, geom, raster, radius=150.0, min_pixels=3)
    b = gc.compare_timeseries(series, pts, 1.0, geom, layer, radius=150.0, min_pixels=3)
    assert a.status == b.status == ["ok"] * lon.size
    assert np.array_equal(a.n_pixels, b.n_pixels)
    assert np.array_equal(a.insar_los, b.insar_los, equal_nan=True)
    assert b.stats["rmse"] == a.stats["rmse"]
