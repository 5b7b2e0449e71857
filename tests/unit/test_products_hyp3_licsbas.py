"""HyP3 and LiCSBAS/LiCSAR readers on files with each processor's structure.

HyP3 INSAR_GAMMA (HyP3 InSAR product guide, MintPy prep_hyp3.py): ``<name>_unw_phase.tif``,
``_corr.tif``, ``_los_disp.tif``, ``_lv_theta.tif``, ``_lv_phi.tif`` (radians), UTM,
nodata 0, and ``<name>.txt`` with ``Heading: ...``.  lv_phi from east counter-clockwise
(0 = east, pi/2 = north); lv_theta elevation above the horizontal.

LiCSBAS cum.h5 (LiCSBAS13_sb_inv.py): ``cum`` (mm), ``vel`` (mm/yr), ``imdates``,
``refarea`` 'x1:x2/y1:y2', ``corner_lat/lon``, ``post_lat/lon`` (pixel-centre corner), and
``E.geo``/``N.geo``/``U.geo`` unit vectors.
"""

import zipfile

import h5py
import numpy as np
import pytest

from displacement_toolkit.core import geometry as geo
from displacement_toolkit.core.products import ProductError, open_product
from displacement_toolkit.core.raster_io import crs_from_epsg, write_array

H, W = 6, 9
NAME = "S1AA_20200101T020304_20200113T020305_VVP012_INT80_G_ueF_1A2B"
UTM_GT = (600000.0, 80.0, 0.0, 4100000.0, 0.0, -80.0)


def write_tif(path, array, nodata=0.0):
    from osgeo import gdal

    write_array(str(path), array, UTM_GT, crs_from_epsg(32611))
    ds = gdal.Open(str(path), gdal.GA_Update)
    ds.GetRasterBand(1).SetNoDataValue(nodata)
    ds = None
    return str(path)


@pytest.fixture
def hyp3_dir(tmp_path):
    d = tmp_path / NAME
    d.mkdir()
    r, c = np.mgrid[0:H, 0:W]
    phase = (0.1 * c - 2.0).astype(np.float32)
    phase[0, 0] = 0.0                             # HyP3 nodata
    write_tif(d / f"{NAME}_unw_phase.tif", phase)
    write_tif(d / f"{NAME}_corr.tif", np.full((H, W), 0.8, np.float32))
    write_tif(d / f"{NAME}_los_disp.tif", (-phase * 0.0554658 / (4 * np.pi)).astype(np.float32))
    theta = np.radians(90.0 - (33.0 + 0.2 * c)).astype(np.float32)   # incidence 33..34.6 deg
    phi = np.radians(np.full((H, W), 192.0, np.float32))              # LOS azimuth 102 deg
    write_tif(d / f"{NAME}_lv_theta.tif", theta)
    write_tif(d / f"{NAME}_lv_phi.tif", phi)
    (d / f"{NAME}.txt").write_text(
        "Reference Granule: S1A_IW_SLC__1SDV_20200101T020304_X\n"
        "Secondary Granule: S1A_IW_SLC__1SDV_20200113T020305_Y\n"
        "Reference Pass Direction: ASCENDING\nReference Orbit Number: 30000\n"
        "Baseline: 42.0\nUTC time: 7384.5\nHeading: -12.0\nSpacecraft height: 693000.0\n")
    return d


def test_hyp3_folder_layers_dates_and_lv_angles(hyp3_dir):
    p = open_product(str(hyp3_dir / f"{NAME}_unw_phase.tif"))
    assert p.processor == "HyP3"
    assert {"unwrapped_phase", "coherence", "los_displacement", "incidence_angle",
            "los_azimuth"} <= set(p.layer_names)
    assert p.geotransform == pytest.approx(UTM_GT)
    phase = p.read("unwrapped_phase")
    assert np.isnan(phase[0, 0]) and phase[0, 3] == pytest.approx(-1.7)
    layer = p.layer("los_displacement")
    assert layer.units == "m" and [d.isoformat() for d in layer.date_pair] == ["2020-01-01", "2020-01-13"]
    c = np.arange(W)
    np.testing.assert_allclose(p.incidence()[2], 33.0 + 0.2 * c, atol=1e-4)
    np.testing.assert_allclose(p.los_azimuth(), 102.0, atol=1e-4)
    e, n, u = p.los_unit_vector(0, 5, 1, 1)
    expected = geo.los_unit_vector(34.0, 102.0)
    assert (e[0, 0], n[0, 0], u[0, 0]) == pytest.approx(tuple(float(v) for v in expected), abs=1e-5)
    assert p.geometry.heading == pytest.approx(-12.0)
    assert p.metadata["Reference Pass Direction"] == "ASCENDING"
    assert p.wavelength() == pytest.approx(0.0554658, abs=1e-6)


def test_hyp3_zip(hyp3_dir, tmp_path):
    zpath = tmp_path / f"{NAME}.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for f in hyp3_dir.iterdir():
            z.write(f, f"{NAME}/{f.name}")
    p = open_product(str(zpath))
    assert p.geometry.heading == pytest.approx(-12.0)
    np.testing.assert_allclose(p.read("coherence"), 0.8, rtol=1e-6)


def test_hyp3_grid_mismatch_is_reported(hyp3_dir):
    write_array(str(hyp3_dir / f"{NAME}_corr.tif"), np.ones((H + 1, W), np.float32), UTM_GT,
                crs_from_epsg(32611))
    with pytest.raises(ProductError, match=r"_corr\.tif.*is 9 x 7 pixels"):
        open_product(str(hyp3_dir))


def write_cum(path, with_enu=True):
    dates = np.array([20200101, 20200113, 20200125], dtype=np.int32)
    r, c = np.mgrid[0:H, 0:W]
    cum = np.stack([np.zeros((H, W)), 1.5 * c, 3.0 * c]).astype(np.float32)
    cum[:, 5, 8] = np.nan
    with h5py.File(path, "w") as f:
        f.create_dataset("imdates", data=dates)
        f.create_dataset("cum", data=cum, compression="gzip")
        f.create_dataset("vel", data=(36.5 * c).astype(np.float32))
        f.create_dataset("refarea", data="3:4/2:3")
        f.create_dataset("corner_lat", data=35.0)
        f.create_dataset("corner_lon", data=139.0)
        f.create_dataset("post_lat", data=-0.001)
        f.create_dataset("post_lon", data=0.001)
        f.create_dataset("gap", data=np.zeros((2, H, W), np.int8))
        if with_enu:
            e, n, u = geo.los_unit_vector(39.0, -102.0)
            for name, v in (("E.geo", e), ("N.geo", n), ("U.geo", u)):
                f.create_dataset(name, data=np.full((H, W), v, np.float32))
    return str(path)


def test_licsbas_cum_h5(tmp_path):
    p = open_product(write_cum(tmp_path / "cum.h5"))
    assert p.processor == "LiCSBAS"
    cum = p.layer("cum")
    assert cum.bands == 3 and cum.units == "mm"
    assert [d.isoformat() for d in cum.dates] == ["2020-01-01", "2020-01-13", "2020-01-25"]
    assert p.reference_date.isoformat() == "2020-01-01"
    # grid registration: the corner is the centre of the first pixel
    assert p.geotransform == pytest.approx((138.9995, 0.001, 0.0, 35.0005, 0.0, -0.001))
    np.testing.assert_allclose(p.read("cum", 3)[1], 3.0 * np.arange(W))
    assert np.isnan(p.read("cum", 2)[5, 8])
    assert p.layer("vel").units == "mm/yr"
    assert p.reference_point["row"] == 2 and p.reference_point["col"] == 3
    inc, az = p.incidence(), p.los_azimuth()
    np.testing.assert_allclose(inc, 39.0, atol=1e-4)
    np.testing.assert_allclose(az, -102.0, atol=1e-4)
    assert "gap" not in p.layer_names


def test_licsbas_cum_without_geometry_and_malformed(tmp_path):
    p = open_product(write_cum(tmp_path / "cum.h5", with_enu=False))
    with pytest.raises(ProductError, match="set the incidence angle parameter"):
        p.incidence()
    path = write_cum(tmp_path / "cum2.h5")
    with h5py.File(path, "a") as f:
        del f["post_lat"]
    with pytest.raises(ProductError, match=r"cum2\.h5.*'post_lat' is missing"):
        open_product(path)


def test_licsar_geotiffs_with_enu(tmp_path):
    e, n, u = geo.los_unit_vector(34.0, 100.0)
    gt = (10.0, 0.001, 0.0, 45.0, 0.0, -0.001)
    wkt = crs_from_epsg(4326)
    for comp, v in (("E", e), ("N", n), ("U", u)):
        write_array(str(tmp_path / f"015A_04939_131313.geo.{comp}.tif"), np.full((H, W), v, np.float32),
                    gt, wkt)
    phase = np.full((H, W), 2.0, np.float32)
    write_array(str(tmp_path / "20200101_20200113.geo.unw.tif"), phase, gt, wkt)
    p = open_product(str(tmp_path / "20200101_20200113.geo.unw.tif"))
    assert p.processor == "LiCSAR"
    assert [d.isoformat() for d in p.layer("unwrapped_phase").date_pair] == ["2020-01-01", "2020-01-13"]
    np.testing.assert_allclose(p.incidence(), 34.0, atol=1e-4)
    np.testing.assert_allclose(p.los_azimuth(), 100.0, atol=1e-4)
