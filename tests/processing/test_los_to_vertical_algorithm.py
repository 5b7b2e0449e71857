"""displacement:los_to_vertical through processing.run: analytic values, grids, units, errors."""

import math
import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException

from displacement_toolkit.core.geometry import los_unit_vector_from_heading
from displacement_toolkit.core.raster_io import raster_info, read_block

from ..conftest import recording_feedback, run_algorithm

ALG = "displacement:los_to_vertical"
S1 = 0.05546576


@pytest.fixture
def los(make_raster):
    data = np.linspace(-0.04, 0.04, 16 * 12, dtype=np.float32).reshape(16, 12)
    data[2, 3] = np.nan
    return make_raster(data, "los.tif", band_metadata=[{"units": "m", "quantity": "los_displacement"}]), data


def test_constant_incidence_analytic_and_styled(provider, los, tmp_path):
    path, data = los
    out = str(tmp_path / "up0.tif")
    res = run_algorithm(ALG, {"INPUT": path, "INCIDENCE_ANGLE": 45, "OUTPUT": out})
    assert np.allclose(read_block(res["OUTPUT"]), math.sqrt(2) * data, rtol=1e-6,
                       equal_nan=True)                                          # 1 / cos 45
    res = run_algorithm(ALG, {"INPUT": path, "INCIDENCE_ANGLE": 60, "OUTPUT_UNITS": 2,
                              "OUTPUT": str(tmp_path / "up60.tif")})
    got = read_block(res["OUTPUT"])
    assert np.allclose(got, 2000 * data, rtol=1e-5, equal_nan=True)           # x2, in mm
    assert np.isnan(got[2, 3]) and res["MASKED_PIXELS"] == 0
    meta = raster_info(res["OUTPUT"]).band_metadata[0]
    assert meta["units"] == "mm" and meta["quantity"] == "vertical_displacement"
    assert "positive up" in meta["convention"]
    text = (tmp_path / "up60.qml").read_text()
    assert "singlebandpseudocolor" in text and ' mm"' in text


def test_phase_to_vertical_and_los_output(provider, make_raster, tmp_path):
    phase = np.full((6, 6), -4 * math.pi / S1 * 0.01, np.float32)
    path = make_raster(phase, "unw.tif")
    feedback = recording_feedback()
    res = run_algorithm(ALG, {"INPUT": path, "QUANTITY": 2, "PHASE_SIGN": 0, "INCIDENCE_ANGLE": 60,
                              "OUTPUT_UNITS": 1, "OUTPUT": str(tmp_path / "up.tif"),
                              "OUTPUT_LOS": str(tmp_path / "los.tif")}, feedback=feedback)
    assert np.allclose(read_block(res["OUTPUT"]), 2.0, rtol=1e-5)   # 1 cm toward = 2 cm up at 60 deg
    assert np.allclose(read_block(res["OUTPUT_LOS"]), 0.01, rtol=1e-5)
    assert raster_info(res["OUTPUT_LOS"]).band_metadata[0]["units"] == "m"
    assert any("LOS = -1 * wavelength / (4 pi) * phase" in line for line in feedback.lines)
    # the opposite sign: the same phase is 1 cm away from the satellite
    res = run_algorithm(ALG, {"INPUT": path, "QUANTITY": 2, "PHASE_SIGN": 5, "INCIDENCE_ANGLE": 60,
                              "OUTPUT": str(tmp_path / "roi.tif")})
    assert np.allclose(read_block(res["OUTPUT"]), -0.02, rtol=1e-5)
    # custom wavelength (L band) and a 60 degree incidence
    res = run_algorithm(ALG, {"INPUT": path, "QUANTITY": 2, "WAVELENGTH_PRESET": 3, "WAVELENGTH": 0.2384,
                              "INCIDENCE_ANGLE": 60, "OUTPUT": str(tmp_path / "l.tif")})
    assert np.allclose(read_block(res["OUTPUT"]), 2 * 0.01 * 0.2384 / S1, rtol=1e-5)


def test_raster_incidence_on_another_grid_equals_constant(provider, los, make_raster, tmp_path):
    path, data = los
    # 45 deg in radians on a coarser grid covering the input
    inc = make_raster(np.full((10, 8), math.radians(45), np.float32), "inc.tif",
                      geotransform=(499940.0, 60.0, 0.0, 4000060.0, 0.0, -60.0))
    feedback = recording_feedback()
    res = run_algorithm(ALG, {"INPUT": path, "INCIDENCE": inc, "OUTPUT": str(tmp_path / "r.tif")},
                        feedback=feedback)
    const = run_algorithm(ALG, {"INPUT": path, "INCIDENCE_ANGLE": 45, "OUTPUT": str(tmp_path / "c.tif")})
    assert np.allclose(read_block(res["OUTPUT"]), read_block(const["OUTPUT"]), rtol=1e-5, equal_nan=True)
    assert np.allclose(read_block(res["OUTPUT"]), data * math.sqrt(2), rtol=1e-5, equal_nan=True)
    log = "\n".join(feedback.lines)
    assert "read as radians" in log and "another grid" in log
    assert raster_info(res["OUTPUT"]).geotransform == raster_info(path).geotransform


def test_east_west_and_masking(provider, make_raster, tmp_path):
    theta, heading = 39.0, -168.0
    e = los_unit_vector_from_heading(theta, heading)[0]
    path = make_raster(np.full((4, 4), 0.03 * e, np.float32), "e.tif")
    res = run_algorithm(ALG, {"INPUT": path, "INCIDENCE_ANGLE": theta, "DIRECTION": 1, "HEADING": heading,
                              "OUTPUT": str(tmp_path / "east.tif")})
    assert np.allclose(read_block(res["OUTPUT"]), 0.03, rtol=1e-5)
    assert raster_info(res["OUTPUT"]).band_metadata[0]["quantity"] == "east_displacement"
    # north-south motion seen by Sentinel-1 ascending: |1/s| = 8.6 > 5 -> all masked: an
    # empty result is a failure that names the mask, and no file is kept (docs/safety.md)
    feedback = recording_feedback()
    with pytest.raises(QgsProcessingException, match="MAX_AMPLIFICATION masked all 16 pixels"):
        run_algorithm(ALG, {"INPUT": path, "INCIDENCE_ANGLE": 34, "DIRECTION": 2, "HEADING": -12,
                            "AZIMUTH": 0, "PLUNGE": 0, "OUTPUT": str(tmp_path / "n.tif")},
                      feedback=feedback)
    assert any("16 of 16 pixels" in line for line in feedback.lines)
    assert any("MAX_AMPLIFICATION masked 16 of 16 pixels (100.0 %)" in w for w in feedback.warnings)
    assert not (tmp_path / "n.tif").exists() and not (tmp_path / "n.qml").exists()


def test_velocity_units(provider, make_raster, tmp_path):
    path = make_raster(np.full((3, 3), 8.0, np.float32), "v.tif")
    res = run_algorithm(ALG, {"INPUT": path, "QUANTITY": 1, "INPUT_UNITS": 2, "OUTPUT_UNITS": 1,
                              "INCIDENCE_ANGLE": 60, "OUTPUT": str(tmp_path / "v_up.tif")})
    assert np.allclose(read_block(res["OUTPUT"]), 1.6)                     # 8 mm/yr LOS -> 1.6 cm/yr up
    meta = raster_info(res["OUTPUT"]).band_metadata[0]
    assert meta["units"] == "cm/yr" and meta["quantity"] == "vertical_velocity"


@pytest.mark.parametrize("params, message", [
    ({"INCIDENCE_ANGLE": 90}, "INCIDENCE_ANGLE = 90.*between 0 and 90"),
    ({"INCIDENCE_ANGLE": -3}, "INCIDENCE_ANGLE = -3.*between 0 and 90"),
    ({}, "INCIDENCE = None: no incidence"),
    ({"INCIDENCE_ANGLE": 30, "QUANTITY": 2, "WAVELENGTH_PRESET": 3, "WAVELENGTH": 0}, "WAVELENGTH = 0"),
    ({"INCIDENCE_ANGLE": 30, "QUANTITY": 2, "WAVELENGTH_PRESET": 3, "WAVELENGTH": -0.05}, "WAVELENGTH"),
    ({"INCIDENCE_ANGLE": 30, "QUANTITY": 2, "WAVELENGTH_PRESET": 3}, "WAVELENGTH = None"),
    ({"INCIDENCE_ANGLE": 30, "DIRECTION": 1}, "HEADING = None.*needs the satellite heading"),
    ({"INCIDENCE_ANGLE": 30, "BAND": 3}, "BAND = 3.*has 1 band"),
])
def test_errors_are_clear_and_write_nothing(provider, los, tmp_path, params, message):
    path, _ = los
    out = tmp_path / "bad.tif"
    with pytest.raises(QgsProcessingException, match=message):
        run_algorithm(ALG, {"INPUT": path, "OUTPUT": str(out), **params})
    assert not [f for f in os.listdir(tmp_path) if "bad" in f]


def test_bad_incidence_raster_values(provider, los, make_raster, tmp_path):
    path, _ = los
    inc = np.full((16, 12), 35.0, np.float32)
    inc[10, 5] = 91.0
    incp = make_raster(inc, "inc_bad.tif")
    with pytest.raises(QgsProcessingException, match="INCIDENCE = .*inc_bad.tif.*outside"):
        run_algorithm(ALG, {"INPUT": path, "INCIDENCE": incp, "OUTPUT": str(tmp_path / "bad.tif")})
    with pytest.raises(QgsProcessingException, match="INCIDENCE_BAND = 2"):
        run_algorithm(ALG, {"INPUT": path, "INCIDENCE": incp, "INCIDENCE_BAND": 2,
                            "OUTPUT": str(tmp_path / "bad.tif")})
    assert not [f for f in os.listdir(tmp_path) if f.startswith(("bad", ".bad"))]


def test_geometry_from_load_product_metadata(provider, make_raster, tmp_path):
    wavelength = 0.2384035
    phase = np.full((4, 4), -4 * math.pi / wavelength * 0.01, np.float32)
    meta = {"geometry_wavelength": "0.2384035", "geometry_incidence": "60", "geometry_heading": "-12",
            "geometry_look_direction": "right"}
    path = make_raster(phase, "unw_meta.tif", metadata=meta)
    feedback = recording_feedback()
    res = run_algorithm(ALG, {"INPUT": path, "QUANTITY": 2, "OUTPUT": str(tmp_path / "m.tif")},
                        feedback=feedback)
    assert np.allclose(read_block(res["OUTPUT"]), 0.02, rtol=1e-5)       # 1 cm LOS, 60 deg -> 2 cm up
    log = "\n".join(feedback.lines)
    assert "Wavelength 0.2384035 m from the input metadata" in log and "Incidence 60 deg from" in log
    # an explicit preset wins over the metadata
    res = run_algorithm(ALG, {"INPUT": path, "QUANTITY": 2, "WAVELENGTH_PRESET": 0,
                              "OUTPUT": str(tmp_path / "s1.tif")})
    assert np.allclose(read_block(res["OUTPUT"]), 0.02 * S1 / wavelength, rtol=1e-5)
    # east-west takes the recorded heading
    e = los_unit_vector_from_heading(60.0, -12.0)[0]
    los = make_raster(np.full((4, 4), 0.01 * e, np.float32), "los_meta.tif", metadata=meta)
    res = run_algorithm(ALG, {"INPUT": los, "DIRECTION": 1, "OUTPUT": str(tmp_path / "e.tif")})
    assert np.allclose(read_block(res["OUTPUT"]), 0.01, rtol=1e-5)
    # asking for the metadata wavelength of a raster without it is a clear error
    bare = make_raster(phase, "bare.tif")
    with pytest.raises(QgsProcessingException, match="WAVELENGTH_PRESET.*no geometry_wavelength"):
        run_algorithm(ALG, {"INPUT": bare, "QUANTITY": 2, "WAVELENGTH_PRESET": 4, "INCIDENCE_ANGLE": 30,
                            "OUTPUT": str(tmp_path / "bad.tif")})


# --- processor products given directly (core/products/resolve.py) ----------------------------
PYRATE = os.path.join(os.path.dirname(__file__), "..", "data", "pyrate_sydney_envisat")
MH, MW = 6, 8
MINTPY_ATTRS = {"LENGTH": str(MH), "WIDTH": str(MW), "X_FIRST": "-155.3", "Y_FIRST": "19.5",
                "X_STEP": "0.001", "Y_STEP": "-0.001", "X_UNIT": "degrees", "Y_UNIT": "degrees",
                "WAVELENGTH": "0.05546576", "HEADING": "-12.1", "ANTENNA_SIDE": "-1",
                "REF_Y": "2", "REF_X": "3", "PROCESSOR": "isce"}


def write_mintpy(folder, velocity, incidence, azimuth, **attrs):
    """velocity.h5 + geometryGeo.h5 with MintPy's structure (as tests/unit/test_products_mintpy.py)."""
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    for name, datasets, extra in (
            ("velocity.h5", {"velocity": velocity.astype(np.float32)},
             {"FILE_TYPE": "velocity", "UNIT": "m/year", "REF_DATE": "20200101"}),
            ("geometryGeo.h5", {"incidenceAngle": incidence.astype(np.float32),
                                "azimuthAngle": azimuth.astype(np.float32)}, {"FILE_TYPE": "geometry"})):
        with h5py.File(folder / name, "w") as f:
            for k, v in {**MINTPY_ATTRS, **attrs, **extra}.items():
                f.attrs[k] = v
            for key, data in datasets.items():
                f.create_dataset(key, data=data)
    return str(folder / "velocity.h5")


def test_mintpy_velocity_h5_path_and_layer_with_geometry_from_product(provider, tmp_path):
    from qgis.core import QgsRasterLayer

    r, c = np.mgrid[0:MH, 0:MW]
    vel = 0.002 * (r - c) + 0.01
    inc = 30.0 + 1.5 * c                                   # per pixel, degrees
    path = write_mintpy(tmp_path / "mintpy", vel, inc, np.full((MH, MW), 102.0))
    truth = vel / np.cos(np.radians(inc))                  # vertical velocity, m/yr
    feedback = recording_feedback()
    res = run_algorithm(ALG, {"INPUT": path, "QUANTITY": 1, "OUTPUT": str(tmp_path / "up.tif")},
                        feedback=feedback)
    got = read_block(res["OUTPUT"])
    assert np.allclose(got, truth, rtol=1e-5)
    info = raster_info(res["OUTPUT"])
    assert info.geotransform == pytest.approx((-155.3, 0.001, 0.0, 19.5, 0.0, -0.001))
    assert any("Incidence per pixel from the product (MintPy, geometryGeo.h5)" in x for x in feedback.lines)
    layer = QgsRasterLayer(f'HDF5:"{path}"://velocity', "velocity", "gdal")   # an already loaded layer
    assert layer.isValid()
    res = run_algorithm(ALG, {"INPUT": layer, "QUANTITY": 1, "DIRECTION": 1,
                              "OUTPUT": str(tmp_path / "east.tif")})
    e, _, _ = los_unit_vector_from_heading(inc, -12.1, "right")   # HEADING from the product
    assert np.allclose(read_block(res["OUTPUT"]), vel / e, rtol=1e-4)


def _roipac_phase(name):
    from osgeo import gdal

    ds = gdal.Open(os.path.join(PYRATE, name))           # GDAL's ROI_PAC driver: band 2 = phase
    phase = ds.GetRasterBand(2).ReadAsArray().astype(np.float64)
    phase[phase == 0] = np.nan
    return phase


def test_roipac_unw_wavelength_from_product_incidence_required(provider, tmp_path):
    unw = os.path.join(PYRATE, "geo_060619-061002.unw")
    with pytest.raises(QgsProcessingException, match="INCIDENCE.*ROI_PAC.*carries no incidence"):
        run_algorithm(ALG, {"INPUT": unw, "QUANTITY": 2, "OUTPUT": str(tmp_path / "no.tif")})
    assert not os.path.exists(tmp_path / "no.tif")
    res = run_algorithm(ALG, {"INPUT": unw, "BAND": 2, "QUANTITY": 2, "INCIDENCE_ANGLE": 22.9671,
                              "OUTPUT": str(tmp_path / "up.tif")})
    truth = -0.0562356424 / (4 * math.pi) * _roipac_phase("geo_060619-061002.unw") \
        / math.cos(math.radians(22.9671))
    got = read_block(res["OUTPUT"])
    assert np.isfinite(got).sum() > 1000
    assert np.allclose(got, truth, rtol=1e-5, atol=1e-9, equal_nan=True)


def test_gamma_unw_wavelength_and_incidence_from_product(provider, tmp_path):
    import shutil

    folder = tmp_path / "gamma"
    shutil.copytree(PYRATE, folder)
    feedback = recording_feedback()
    res = run_algorithm(ALG, {"INPUT": str(folder / "20060619-20061002_utm.unw"), "QUANTITY": 2,
                              "OUTPUT": str(tmp_path / "up.tif")}, feedback=feedback)
    phase = np.fromfile(folder / "20060619-20061002_utm.unw", ">f4").reshape(72, 47).astype(np.float64)
    phase[phase == 0] = np.nan
    wavelength = 299792458.0 / 5.334694994e9    # radar_frequency of 20060619_slc.par
    truth = -wavelength / (4 * math.pi) * phase / math.cos(math.radians(22.9671))
    assert np.allclose(read_block(res["OUTPUT"]), truth, rtol=1e-5, atol=1e-9, equal_nan=True)
    assert any("Incidence per pixel from the product (GAMMA" in x for x in feedback.lines)


def test_hyp3_geotiff_passes_through_with_incidence_from_its_product(provider, tmp_path):
    from ..unit.test_products_hyp3_licsbas import NAME, H, W, write_tif

    folder = tmp_path / NAME                            # HyP3 INSAR_GAMMA names, radians, nodata 0
    folder.mkdir()
    r, c = np.mgrid[0:H, 0:W]
    los = (0.01 * c - 0.02 + 0.001 * r).astype(np.float32)
    los[0, 0] = 0.0
    src = write_tif(folder / f"{NAME}_los_disp.tif", los)
    write_tif(folder / f"{NAME}_lv_theta.tif", np.radians(90.0 - (33.0 + 0.2 * c)).astype(np.float32))
    write_tif(folder / f"{NAME}_lv_phi.tif", np.radians(np.full((H, W), 192.0, np.float32)))
    (folder / f"{NAME}.txt").write_text("Heading: -12.0\n")
    feedback = recording_feedback()
    res = run_algorithm(ALG, {"INPUT": src, "OUTPUT": str(tmp_path / "up.tif")}, feedback=feedback)
    los = read_block(src)
    inc = 33.0 + 0.2 * np.arange(W)                     # from lv_theta = 90 deg - incidence
    assert np.isnan(los[0, 0])
    assert np.allclose(read_block(res["OUTPUT"]), los / np.cos(np.radians(inc)), rtol=1e-4,
                       equal_nan=True)
    assert any("Incidence per pixel from the product (HyP3" in x for x in feedback.lines)


# --- layer by meaning, and every default from the file (core/products/defaults.py) -----------
def test_mintpy_velocity_file_reads_velocity_not_intercept(provider, tmp_path):
    """A velocity.h5 as MintPy's timeseries2velocity writes it: HDF5 lists intercept first."""
    from ..unit.test_products_defaults import ATTRS, velocity_field, write_velocity_h5

    path = write_velocity_h5(tmp_path / "velocity.h5", seasonal=True)
    feedback = recording_feedback()
    res = run_algorithm(ALG, {"INPUT": path, "OUTPUT": str(tmp_path / "up.tif")}, feedback=feedback)
    inc = float(ATTRS["CENTER_INCIDENCE_ANGLE"])
    assert np.allclose(read_block(res["OUTPUT"]), velocity_field() / math.cos(math.radians(inc)),
                       rtol=1e-6)                                        # m/yr, not the intercept
    meta = raster_info(res["OUTPUT"]).band_metadata[0]
    assert (meta["quantity"], meta["units"]) == ("vertical_velocity", "m/yr")
    log = "\n".join(feedback.lines)
    assert "read from velocity.h5 (layer velocity)" in log
    assert "QUANTITY: LOS velocity (per year) from MintPy velocity velocity.h5, layer velocity" in log
    assert "INPUT_UNITS: m/yr from MintPy velocity velocity.h5" in log
    res = run_algorithm(ALG, {**dialog_defaults(), "INPUT": path, "OUTPUT": str(tmp_path / "up2.tif")})
    assert np.allclose(read_block(res["OUTPUT"]), velocity_field() / math.cos(math.radians(inc)),
                       rtol=1e-6)                                        # the dialog's defaults too
    # asking for the velocity of a velocity file as a displacement is refused
    with pytest.raises(QgsProcessingException, match="QUANTITY = 'LOS displacement': the input is a "
                                                     "LOS velocity .*in m/yr"):
        run_algorithm(ALG, {"INPUT": path, "QUANTITY": 0, "OUTPUT": str(tmp_path / "bad.tif")})
    # the intercept, residue and Std layers are not displacements: refused, nothing written
    for layer in ("intercept", "interceptStd", "residue", "velocityStd"):
        with pytest.raises(QgsProcessingException, match=f"layer '{layer}' is the .*not a displacement, "
                                                         "velocity or phase: choose the layer 'velocity'"):
            run_algorithm(ALG, {"INPUT": f'HDF5:"{path}"://{layer}', "OUTPUT": str(tmp_path / "bad.tif")})
    assert not [f for f in os.listdir(tmp_path) if f.startswith("bad")]


def test_pyrate_geotiff_tags_are_the_defaults(provider, tmp_path, monkeypatch):
    """PyRate's GeoTIFF of a GAMMA interferogram (its real metadata, .aux.xml, on the GAMMA
    binary's values): INCIDENCE_DEGREES and WAVELENGTH_METRES are used, and DATA_UNITS =
    RADIANS makes it a phase, without any parameter."""
    import shutil

    from osgeo import gdal

    from displacement_toolkit.core.raster_io import wgs84_wkt

    name = "20060619-20061002_utm_unw.tif"
    phase = np.fromfile(os.path.join(PYRATE, "20060619-20061002_utm.unw"), ">f4").reshape(72, 47) \
        .astype(np.float32)
    tif = str(tmp_path / name)
    ds = gdal.GetDriverByName("GTiff").Create(tif, 47, 72, 1, gdal.GDT_Float32)
    ds.SetGeoTransform((150.91, 0.000833333, 0.0, -34.17, 0.0, -0.000833333))   # PyRate's X_FIRST
    ds.SetProjection(wgs84_wkt())
    ds.GetRasterBand(1).WriteArray(phase)
    ds.GetRasterBand(1).SetNoDataValue(0.0)
    ds = None
    shutil.copy(os.path.join(PYRATE, name + ".aux.xml"), tif + ".aux.xml")
    # PyRate keeps these tags in GDAL's .aux.xml side-car: read it as users' GDAL does (the
    # session turns side-cars off so that nothing is written into tests/data; this is a copy)
    monkeypatch.setenv("GDAL_PAM_ENABLED", "YES")
    feedback = recording_feedback()
    res = run_algorithm(ALG, {"INPUT": tif, "OUTPUT": str(tmp_path / "up.tif")}, feedback=feedback)
    truth = phase.astype(np.float64)
    truth[truth == 0] = np.nan
    truth = -0.05623564240081464 / (4 * math.pi) * truth / math.cos(math.radians(22.9671))
    got = read_block(res["OUTPUT"])
    assert np.isfinite(got).sum() == 3295                                # 97.37 % of 72 x 47
    assert np.allclose(got, truth, rtol=1e-5, atol=1e-9, equal_nan=True)
    log = "\n".join(feedback.lines)
    assert "QUANTITY: Unwrapped phase (radians) from GAMMA raster" in log
    assert "Wavelength 0.05623564240081464 m from the input metadata: GAMMA raster " \
           f"{name} (PyRate tags INCIDENCE_DEGREES, WAVELENGTH_METRES)" in log
    assert f"Incidence 22.9671 deg from GAMMA raster {name} (PyRate tags" in log
    res = run_algorithm(ALG, {"INPUT": tif, "QUANTITY": 2, "OUTPUT": str(tmp_path / "up2.tif")})
    assert np.allclose(read_block(res["OUTPUT"]), truth, rtol=1e-5, atol=1e-9, equal_nan=True)
    # as the dialog runs it: every parameter at its default value, given explicitly
    res = run_algorithm(ALG, {**dialog_defaults(), "INPUT": tif, "OUTPUT": str(tmp_path / "up3.tif")})
    assert np.allclose(read_block(res["OUTPUT"]), truth, rtol=1e-5, atol=1e-9, equal_nan=True)


def dialog_defaults():
    """The parameter values the Processing dialog passes when nothing is changed."""
    from qgis.core import QgsApplication

    alg = QgsApplication.processingRegistry().algorithmById(ALG)
    return {d.name(): d.defaultValue() for d in alg.parameterDefinitions()
            if d.defaultValue() is not None}


def test_a_folder_of_gamma_interferograms(provider, tmp_path):
    """A folder of GAMMA outputs given as INPUT: BAND picks the interferogram (date order),
    the phase, wavelength and incidence come from the files."""
    import shutil

    folder = tmp_path / "gamma"
    folder.mkdir()
    for name in ("20060619-20061002_utm.unw", "20061106-20061211_utm.unw", "20060619_utm_dem.par",
                 "20060619_slc.par", "20060619_utm.inc"):
        shutil.copy(os.path.join(PYRATE, name), folder / name)
    feedback = recording_feedback()
    res = run_algorithm(ALG, {"INPUT": str(folder), "BAND": 2, "OUTPUT": str(tmp_path / "up.tif")},
                        feedback=feedback)
    wavelength = 299792458.0 / 5.334694994e9
    truth = -wavelength / (4 * math.pi) * _roipac_phase("geo_061106-061211.unw") \
        / math.cos(math.radians(22.9671))
    assert np.allclose(read_block(res["OUTPUT"]), truth, rtol=1e-5, atol=1e-9, equal_nan=True)
    assert any("(layer unwrapped_phase, band 2: unwrapped phase 2006-11-06_2006-12-11)" in x
               for x in feedback.lines)
