"""displacement:los_to_vertical through processing.run: analytic values, grids, units, errors."""

import math
import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from displacement_toolkit.core.geometry import los_unit_vector_from_heading
from displacement_toolkit.core.raster_io import raster_info, read_block

from ..conftest import run_algorithm

ALG = "displacement:los_to_vertical"
S1 = 0.05546576


class LogFeedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.lines = []

    def pushInfo(self, info):  # noqa: N802
        self.lines.append(info)
        super().pushInfo(info)


@pytest.fixture
def los(make_raster):
    data = np.linspace(-0.04, 0.04, 16 * 12, dtype=np.float32).reshape(16, 12)
    data[2, 3] = np.nan
    return make_raster(data, "los.tif", band_metadata=[{"units": "m", "quantity": "los_displacement"}]), data


def test_constant_incidence_analytic_and_styled(provider, los, tmp_path):
    path, data = los
    out = str(tmp_path / "up0.tif")
    res = run_algorithm(ALG, {"INPUT": path, "INCIDENCE_ANGLE": 0, "OUTPUT": out})
    assert np.array_equal(read_block(res["OUTPUT"]), data, equal_nan=True)     # theta 0: identity
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
    feedback = LogFeedback()
    res = run_algorithm(ALG, {"INPUT": path, "QUANTITY": 2, "PHASE_SIGN": 0, "INCIDENCE_ANGLE": 0,
                              "OUTPUT_UNITS": 1, "OUTPUT": str(tmp_path / "up.tif"),
                              "OUTPUT_LOS": str(tmp_path / "los.tif")}, feedback=feedback)
    assert np.allclose(read_block(res["OUTPUT"]), 1.0, rtol=1e-5)             # 1 cm up (toward)
    assert np.allclose(read_block(res["OUTPUT_LOS"]), 0.01, rtol=1e-5)
    assert raster_info(res["OUTPUT_LOS"]).band_metadata[0]["units"] == "m"
    assert any("LOS = -1 * wavelength / (4 pi) * phase" in line for line in feedback.lines)
    # the opposite sign: the same phase is 1 cm away from the satellite
    res = run_algorithm(ALG, {"INPUT": path, "QUANTITY": 2, "PHASE_SIGN": 5, "INCIDENCE_ANGLE": 0,
                              "OUTPUT": str(tmp_path / "roi.tif")})
    assert np.allclose(read_block(res["OUTPUT"]), -0.01, rtol=1e-5)
    # custom wavelength (L band) and a 60 degree incidence
    res = run_algorithm(ALG, {"INPUT": path, "QUANTITY": 2, "WAVELENGTH_PRESET": 3, "WAVELENGTH": 0.2384,
                              "INCIDENCE_ANGLE": 60, "OUTPUT": str(tmp_path / "l.tif")})
    assert np.allclose(read_block(res["OUTPUT"]), 2 * 0.01 * 0.2384 / S1, rtol=1e-5)


def test_raster_incidence_on_another_grid_equals_constant(provider, los, make_raster, tmp_path):
    path, data = los
    # 45 deg in radians on a coarser grid covering the input
    inc = make_raster(np.full((10, 8), math.radians(45), np.float32), "inc.tif",
                      geotransform=(499940.0, 60.0, 0.0, 4000060.0, 0.0, -60.0))
    feedback = LogFeedback()
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
    # north-south motion seen by Sentinel-1 ascending: |1/s| = 8.6 > 5 -> all masked
    feedback = LogFeedback()
    res = run_algorithm(ALG, {"INPUT": path, "INCIDENCE_ANGLE": 34, "DIRECTION": 2, "HEADING": -12,
                              "AZIMUTH": 0, "PLUNGE": 0, "OUTPUT": str(tmp_path / "n.tif")},
                        feedback=feedback)
    assert res["MASKED_PIXELS"] == 16 and np.isnan(read_block(res["OUTPUT"])).all()
    assert any("16 of 16 pixels" in line for line in feedback.lines)


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
    feedback = LogFeedback()
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
        run_algorithm(ALG, {"INPUT": bare, "QUANTITY": 2, "WAVELENGTH_PRESET": 4, "INCIDENCE_ANGLE": 0,
                            "OUTPUT": str(tmp_path / "bad.tif")})
