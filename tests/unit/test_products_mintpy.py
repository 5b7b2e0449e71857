"""MintPy HDF5 reader on files written with MintPy's exact structure.

Structure (MintPy docs: docs/api/coord.md, docs/FAQs.md, the "Attributes" wiki, and
mintpy/objects/stack.py): datasets ``velocity``/``velocityStd`` (velocity.h5),
``timeseries`` + ``date`` (``YYYYMMDD`` bytes) + ``bperp`` (timeseries.h5), ``height``,
``incidenceAngle``, ``azimuthAngle``, ``slantRangeDistance``, ``shadowMask``,
``waterMask`` (geometryGeo.h5), ``temporalCoherence``, ``mask`` (bool); root attributes
FILE_TYPE, LENGTH, WIDTH, X_FIRST, Y_FIRST, X_STEP, Y_STEP, X_UNIT, Y_UNIT, EPSG, UNIT,
REF_Y, REF_X, REF_LAT, REF_LON, REF_DATE, WAVELENGTH, HEADING, ANTENNA_SIDE.
"""

import h5py
import numpy as np
import pytest
from osgeo import gdal, osr

from displacement_toolkit.core import geometry as geo
from displacement_toolkit.core.products import ProductError, open_product

H, W = 6, 8
GEO_ATTRS = {
    "LENGTH": str(H), "WIDTH": str(W), "X_FIRST": "-155.3", "Y_FIRST": "19.5",
    "X_STEP": "0.001", "Y_STEP": "-0.001", "X_UNIT": "degrees", "Y_UNIT": "degrees",
    "WAVELENGTH": "0.05546576", "HEADING": "-12.1", "ANTENNA_SIDE": "-1",
    "REF_Y": "2", "REF_X": "3", "REF_LAT": "19.4975", "REF_LON": "-155.2965",
    "PROCESSOR": "isce", "PLATFORM": "Sen", "ORBIT_DIRECTION": "ASCENDING",
}
DATES = [b"20200101", b"20200113", b"20200125", b"20200206"]


def write(path, datasets, **attrs):
    with h5py.File(path, "w") as f:
        for k, v in {**GEO_ATTRS, **attrs}.items():
            f.attrs[k] = v
        for name, data in datasets.items():
            f.create_dataset(name, data=data)
    return str(path)


def ramp(scale=1.0):
    r, c = np.mgrid[0:H, 0:W]
    return (scale * (r * W + c)).astype(np.float32)


@pytest.fixture
def mintpy_dir(tmp_path):
    vel = ramp(0.001)
    vel[0, 0] = np.nan
    write(tmp_path / "velocity.h5", {"velocity": vel, "velocityStd": np.full((H, W), 0.002, np.float32)},
          FILE_TYPE="velocity", UNIT="m/year", REF_DATE="20200101", START_DATE="20200101",
          END_DATE="20200206")
    ts = np.stack([ramp(0.0), ramp(0.001), ramp(0.002), ramp(0.003)])
    write(tmp_path / "timeseries.h5", {"timeseries": ts, "date": np.array(DATES),
                                       "bperp": np.zeros(4, np.float32)},
          FILE_TYPE="timeseries", UNIT="m", REF_DATE="20200101")
    inc = np.full((H, W), 34.0, np.float32) + ramp(0.01)
    inc[5, 7] = 0.0  # outside the swath
    write(tmp_path / "geometryGeo.h5", {"incidenceAngle": inc,
                                        "azimuthAngle": np.full((H, W), 102.0, np.float32),
                                        "height": ramp(10.0),
                                        "slantRangeDistance": np.full((H, W), 850e3, np.float32),
                                        "shadowMask": np.zeros((H, W), bool),
                                        "waterMask": np.ones((H, W), bool)},
          FILE_TYPE="geometry")
    write(tmp_path / "temporalCoherence.h5", {"temporalCoherence": np.full((H, W), 0.9, np.float32)},
          FILE_TYPE="temporalCoherence", UNIT="1")
    mask = np.ones((H, W), bool)
    mask[1, 1] = False
    write(tmp_path / "maskTempCoh.h5", {"mask": mask}, FILE_TYPE="mask")
    return tmp_path


def test_velocity_georeferencing_units_reference_and_nodata(mintpy_dir):
    p = open_product(str(mintpy_dir / "velocity.h5"))
    assert p.processor == "MintPy" and p.product_type == "velocity"
    assert p.geotransform == pytest.approx((-155.3, 0.001, 0.0, 19.5, 0.0, -0.001))
    srs = osr.SpatialReference()
    srs.ImportFromWkt(p.crs_wkt)
    assert srs.GetAuthorityCode(None) == "4326"
    v = p.layer("velocity")
    assert (v.units, v.quantity) == ("m/yr", "los_velocity")
    data = p.read("velocity")
    assert np.isnan(data[0, 0])
    assert data[2, 3] == pytest.approx(0.001 * (2 * W + 3))
    assert p.layer("velocityStd").units == "m/yr"
    assert p.reference_point["row"] == 2 and p.reference_point["col"] == 3
    assert p.reference_point["x"] == pytest.approx(-155.3 + 3.5 * 0.001)
    assert p.reference_point["lat"] == pytest.approx(19.4975)
    assert p.reference_date.isoformat() == "2020-01-01"
    # GDAL's HDF5 driver does not apply X_FIRST/Y_FIRST: we must
    ds = gdal.Open(f'HDF5:"{mintpy_dir / "velocity.h5"}"://velocity')
    assert ds.GetGeoTransform() == (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def test_geometry_from_sibling_geometry_file_matches_core_geometry(mintpy_dir):
    p = open_product(str(mintpy_dir / "velocity.h5"))
    assert p.geometry.incidence_layer == "incidenceAngle"
    assert p.geometry.source == "geometryGeo.h5"
    assert p.geometry.look_direction == "right"
    assert p.geometry.heading == pytest.approx(-12.1)
    assert p.wavelength() == pytest.approx(0.05546576)
    inc = p.incidence()
    assert np.isnan(inc[5, 7])                       # 0 = outside the swath
    assert inc[0, 0] == pytest.approx(34.0)
    e, n, u = p.los_unit_vector()
    e0, n0, u0 = geo.los_unit_vector(34.0, 102.0)
    assert (e[0, 0], n[0, 0], u[0, 0]) == pytest.approx((float(e0), float(n0), float(u0)), abs=1e-6)
    # the worked example of docs/conventions.md
    assert (float(e0), float(n0), float(u0)) == pytest.approx((-0.546973, -0.116263, 0.829038), abs=1e-6)
    assert p.layer("incidenceAngle").metadata["auxiliary"] == "geometryGeo.h5"


def test_timeseries_dates_and_bands(mintpy_dir):
    p = open_product(str(mintpy_dir / "timeseries.h5"))
    ts = p.layer("timeseries")
    assert ts.bands == 4 and ts.units == "m" and ts.quantity == "los_displacement"
    assert [d.isoformat() for d in ts.dates] == ["2020-01-01", "2020-01-13", "2020-01-25", "2020-02-06"]
    assert ts.reference_date.isoformat() == "2020-01-01"
    expected = ramp(0.003)
    expected[1, 1] = np.nan          # masked by the maskTempCoh.h5 beside it
    np.testing.assert_allclose(p.read("timeseries", 4), expected)
    np.testing.assert_allclose(p.read("timeseries", 3, 1, 2, 3, 4), ramp(0.002)[1:4, 2:6])
    assert p.metadata["mask"] == "maskTempCoh.h5 (mask, 0 = masked)"
    np.testing.assert_allclose(open_product(str(mintpy_dir / "timeseries.h5"), mask=False)
                               .read("timeseries", 4), ramp(0.003))
    assert "bperp" not in p.layer_names and "date" not in p.layer_names


def test_geometry_coherence_and_mask_files(mintpy_dir):
    g = open_product(str(mintpy_dir / "geometryGeo.h5"))
    assert g.geometry.incidence_layer == "incidenceAngle"
    assert g.geometry.los_azimuth_layer == "azimuthAngle"
    np.testing.assert_allclose(g.los_azimuth(), 102.0)
    assert g.layer("height").units == "m"
    c = open_product(str(mintpy_dir / "temporalCoherence.h5"))
    np.testing.assert_allclose(c.read("temporalCoherence"), 0.9, rtol=1e-6)
    m = open_product(str(mintpy_dir / "maskTempCoh.h5"))
    mask = m.read("mask")
    assert mask[1, 1] == 0.0 and mask[0, 0] == 1.0 and np.isfinite(mask).all()


def test_utm_epsg_and_radar_coordinates(tmp_path):
    path = write(tmp_path / "velocity.h5", {"velocity": ramp()}, FILE_TYPE="velocity", UNIT="m/year",
                 X_FIRST="500000.0", Y_FIRST="4000000.0", X_STEP="30.0", Y_STEP="-30.0",
                 X_UNIT="meters", Y_UNIT="meters", EPSG="32611")
    p = open_product(path)
    srs = osr.SpatialReference()
    srs.ImportFromWkt(p.crs_wkt)
    assert srs.GetAuthorityCode(None) == "32611"
    radar = tmp_path / "radar"
    radar.mkdir()
    with h5py.File(radar / "velocity.h5", "w") as f:
        f.attrs.update({"LENGTH": str(H), "WIDTH": str(W), "FILE_TYPE": "velocity", "UNIT": "m/year"})
        f.create_dataset("velocity", data=ramp())
    r = open_product(str(radar / "velocity.h5"))
    assert not r.has_geotransform and r.crs_wkt == ""
    with pytest.raises(ProductError, match="set the incidence angle parameter"):
        r.incidence()


def test_malformed_files_are_reported(tmp_path, mintpy_dir):
    # truncated HDF5
    raw = (mintpy_dir / "velocity.h5").read_bytes()
    bad = tmp_path / "truncated_velocity.h5"
    bad.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(ProductError, match=r"truncated_velocity\.h5.*HDF5"):
        open_product(str(bad))
    # missing LENGTH
    with h5py.File(tmp_path / "nolength.h5", "w") as f:
        f.attrs["FILE_TYPE"] = "velocity"
        f.attrs["WIDTH"] = str(W)
        f.create_dataset("velocity", data=ramp())
    with pytest.raises(ProductError, match=r"nolength\.h5.*LENGTH is missing"):
        open_product(str(tmp_path / "nolength.h5"))
    # wrong shape
    path = write(tmp_path / "shape.h5", {"velocity": np.zeros((H + 1, W), np.float32)},
                 FILE_TYPE="velocity")
    with pytest.raises(ProductError, match=r"shape\.h5.*'velocity' has shape \(7, 8\)"):
        open_product(path)
    # dates that do not match the slices
    path = write(tmp_path / "ts.h5", {"timeseries": np.zeros((3, H, W), np.float32),
                                      "date": np.array(DATES)}, FILE_TYPE="timeseries")
    with pytest.raises(ProductError, match="3 slices but the 'date' dataset has 4 dates"):
        open_product(path)
    # X_FIRST without the rest
    path = write(tmp_path / "nostep.h5", {"velocity": ramp()}, FILE_TYPE="velocity")
    with h5py.File(path, "a") as f:
        del f.attrs["Y_STEP"]
    with pytest.raises(ProductError, match="Y_STEP is missing"):
        open_product(path)


def test_ifgram_stack_has_one_date_pair_per_band(tmp_path):
    pairs = np.array([[b"20200101", b"20200113"], [b"20200101", b"20200125"], [b"20200113", b"20200125"]])
    unw = np.stack([ramp(0.1), ramp(0.2), ramp(0.1)])
    unw[1, 0, 0] = 0.0
    datasets = {"unwrapPhase": unw, "coherence": np.full((3, H, W), 0.5, np.float32),
                "date": pairs, "bperp": np.zeros(3, np.float32), "dropIfgram": np.ones(3, bool)}
    path = write(tmp_path / "ifgramStack.h5", datasets,
                 FILE_TYPE="ifgramStack", UNIT="radian", NO_DATA_VALUE="0")
    p = open_product(path)
    layer = p.layer("unwrapPhase")
    assert (layer.bands, layer.units) == (3, "rad")
    assert [(a.isoformat(), b.isoformat()) for a, b in layer.band_date_pairs] == [
        ("2020-01-01", "2020-01-13"), ("2020-01-01", "2020-01-25"), ("2020-01-13", "2020-01-25")]
    assert "-phase" in layer.convention
    assert np.isnan(p.read("unwrapPhase", 2)[0, 0])
    np.testing.assert_allclose(p.read("unwrapPhase", 2)[1:], ramp(0.2)[1:], rtol=1e-6)
    assert layer.band_description(3).endswith("2020-01-13_2020-01-25")


def test_a_gdal_subdataset_name_opens_the_product(mintpy_dir):
    """QGIS shows a MintPy dataset loaded through GDAL's HDF5 driver with this source."""
    p = open_product(f'HDF5:"{mintpy_dir / "velocity.h5"}"://velocity')
    assert p.processor == "MintPy" and p.geometry.incidence_layer == "incidenceAngle"


def test_hdfeos5_product(tmp_path):
    """MintPy save_hdfeos5.py layout: HDFEOS/GRIDS/timeseries/{observation,quality,geometry}."""
    path = tmp_path / "S1_IW12_128_0593_0597_20200101_20200206.he5"
    with h5py.File(path, "w") as f:
        for k, v in {**GEO_ATTRS, "FILE_TYPE": "HDFEOS", "REF_DATE": "20200101", "UNIT": "m"}.items():
            f.attrs[k] = v
        g = f.create_group("HDFEOS/GRIDS/timeseries")
        obs = g.create_group("observation")
        obs.create_dataset("displacement", data=np.stack([ramp(0.0), ramp(0.001), ramp(0.002), ramp(0.003)]))
        obs.create_dataset("date", data=np.array(DATES))
        obs.create_dataset("bperp", data=np.zeros(4, np.float32))
        q = g.create_group("quality")
        q.create_dataset("temporalCoherence", data=np.full((H, W), 0.95, np.float32))
        q.create_dataset("mask", data=np.ones((H, W), bool))
        geom = g.create_group("geometry")
        geom.create_dataset("incidenceAngle", data=np.full((H, W), 38.0, np.float32))
        geom.create_dataset("azimuthAngle", data=np.full((H, W), -102.0, np.float32))
        geom.create_dataset("height", data=ramp(5.0))
    p = open_product(str(path))
    d = p.layer("displacement")
    assert d.bands == 4 and d.units == "m" and d.reference_date.isoformat() == "2020-01-01"
    assert [x.isoformat() for x in d.dates][-1] == "2020-02-06"
    np.testing.assert_allclose(p.read("displacement", 2), ramp(0.001), rtol=1e-6)
    np.testing.assert_allclose(p.incidence(), 38.0)
    np.testing.assert_allclose(p.los_azimuth(), -102.0)
    assert p.geotransform == pytest.approx((-155.3, 0.001, 0.0, 19.5, 0.0, -0.001))
    assert {"temporalCoherence", "mask", "height"} <= set(p.layer_names)
