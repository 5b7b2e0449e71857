"""core.los: phase/LOS conversion, projections, masking, angle units, streamed rasters."""

import math
import os

import numpy as np
import pytest

from displacement_toolkit.core import los as L
from displacement_toolkit.core.geometry import los_unit_vector_from_heading
from displacement_toolkit.core.raster_io import (
    RasterError,
    crs_from_epsg,
    raster_info,
    read_block,
    write_array,
)

from ..tile_tasks import tile_column_tasks

UTM = crs_from_epsg(32633)
GT = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
S1 = 0.05546576


@pytest.fixture
def write(tmp_path):
    def _write(name, array, gt=GT):
        path = str(tmp_path / name)
        write_array(path, np.asarray(array, dtype=np.float32), gt, UTM)
        return path
    return _write


# ----------------------------------------------------------------------------- phase
def test_phase_of_minus_4pi_over_lambda_cm_is_one_cm_toward_the_satellite():
    phase = -4 * math.pi / S1 * 0.01
    for convention in ("isce2", "MintPy", "snap", "GAMMA", "ROI_PAC"):
        assert L.phase_to_los(phase, S1, convention) == pytest.approx(0.01, rel=1e-12)
    assert L.phase_to_los(phase, S1, "opposite") == pytest.approx(-0.01, rel=1e-12)
    # one fringe (2 pi) is half a wavelength of LOS motion
    assert abs(L.phase_to_los(2 * math.pi, S1)) == pytest.approx(S1 / 2)


@pytest.mark.parametrize("convention", list(L.PHASE_SIGNS))
@pytest.mark.parametrize("wavelength", [S1, L.WAVELENGTHS["alos2"], L.WAVELENGTHS["terrasarx"]])
def test_phase_round_trip(convention, wavelength):
    los = np.array([-0.2, -0.013, 0.0, 0.004, 0.15])
    assert np.allclose(L.phase_to_los(L.los_to_phase(los, wavelength, convention), wavelength,
                                      convention), los, rtol=1e-14, atol=1e-16)


def test_wavelength_presets_are_c_over_frequency():
    c = 299792458.0
    assert L.WAVELENGTHS["sentinel1"] == pytest.approx(c / 5.405e9, rel=1e-7)
    assert L.WAVELENGTHS["alos2"] == pytest.approx(c / 1.2575e9, rel=1e-6)
    assert L.WAVELENGTHS["terrasarx"] == pytest.approx(c / 9.65e9, rel=1e-6)


@pytest.mark.parametrize("bad", [0, -0.05, float("nan"), "abc", 5.6])
def test_bad_wavelength(bad):
    with pytest.raises(ValueError, match="wavelength"):
        L.check_wavelength(bad)


def test_unknown_convention():
    with pytest.raises(ValueError, match="unknown phase convention"):
        L.phase_sign("doris")


# ----------------------------------------------------------------------------- projection
def test_vertical_projection_analytic():
    d, masked = L.project_los(np.array([0.01, -0.02]), 0.0)
    assert np.allclose(d, [0.01, -0.02]) and not masked.any()          # theta = 0: identity
    d, _ = L.project_los(np.array([0.01]), 60.0)
    assert d[0] == pytest.approx(0.02, rel=1e-12)                       # cos 60 = 1/2: x2
    d, masked = L.project_los(np.array([0.01, 0.01]), np.array([78.0, 79.0]), max_amplification=5)
    assert masked.tolist() == [False, True]                             # 1/cos 78.46 = 5
    assert np.isnan(d[1]) and d[0] == pytest.approx(0.01 / math.cos(math.radians(78)))


def test_east_and_custom_projections_recover_a_synthetic_motion():
    theta, heading = 34.0, -12.0
    l_vec = los_unit_vector_from_heading(theta, heading)
    # 2 cm eastward motion only
    d_los = 0.02 * l_vec[0]
    d, _ = L.project_los(np.array([d_los]), theta, "east", heading_deg=heading)
    assert d[0] == pytest.approx(0.02, rel=1e-12)
    # 5 cm along azimuth 120 deg, plunge 20 deg (downslope)
    a, p = math.radians(120), math.radians(20)
    m = (math.sin(a) * math.cos(p), math.cos(a) * math.cos(p), -math.sin(p))
    d_los = 0.05 * sum(x * y for x, y in zip(l_vec, m))
    d, _ = L.project_los(np.array([d_los]), theta, "custom", heading_deg=heading,
                         azimuth_deg=120, plunge_deg=20)
    assert d[0] == pytest.approx(0.05, rel=1e-12)
    # a custom direction straight down needs no heading
    assert L.sensitivity(30.0, "custom", plunge_deg=90) == pytest.approx(-math.cos(math.radians(30)))
    with pytest.raises(ValueError, match="needs the satellite heading"):
        L.sensitivity(30.0, "east")
    with pytest.raises(ValueError, match="plunge"):
        L.direction_vector("custom", 0, 95)


def test_north_motion_is_masked_for_east_looking_geometry():
    # Sentinel-1 ascending sees north motion with sensitivity -0.116: |1/s| = 8.6 > 5
    d, masked = L.project_los(np.array([0.001]), 34.0, "custom", heading_deg=-12.0, azimuth_deg=0)
    assert masked[0] and np.isnan(d[0])
    d, masked = L.project_los(np.array([0.001]), 34.0, "custom", max_amplification=10,
                              heading_deg=-12.0, azimuth_deg=0)
    assert not masked[0] and d[0] == pytest.approx(0.001 / -0.116263, rel=1e-4)


def test_incidence_checks_and_angle_units():
    L.check_incidence_values([0.1, 45.0, 89.9])
    for bad in ([90.0], [-1.0], [30.0, 120.0], [0.0, 30.0]):
        with pytest.raises(ValueError, match="between 0 and 90 degrees"):
            L.check_incidence_values(bad)
    assert L.detect_angle_units(0.68)[0] == "radians"
    assert L.detect_angle_units(39.0)[0] == "degrees"
    units, note = L.detect_angle_units(0.68, "degrees")
    assert units == "radians" and "declared in degrees" in note
    units, note = L.detect_angle_units(39.0, "radians")
    assert units == "degrees" and "declared in radians" in note
    assert L.detect_angle_units(39.0, "degrees") == ("degrees", None)


# ----------------------------------------------------------------------------- rasters
def test_raster_constant_vs_raster_incidence_and_nan(write, tmp_path):
    data = np.linspace(-0.03, 0.03, 12 * 10, dtype=np.float32).reshape(12, 10)
    data[3, 4] = np.nan
    inp = write("los.tif", data)
    inc = write("inc.tif", np.full((12, 10), 60.0))
    a = L.los_to_direction(inp, str(tmp_path / "a.tif"), incidence=60.0, rows_per_block=5)
    b = L.los_to_direction(inp, str(tmp_path / "b.tif"), incidence=inc, rows_per_block=5)
    ga, gb = read_block(str(tmp_path / "a.tif")), read_block(str(tmp_path / "b.tif"))
    assert np.allclose(ga, 2 * data, equal_nan=True, rtol=1e-6)
    assert np.array_equal(ga, gb, equal_nan=True)
    assert np.isnan(ga[3, 4]) and np.isfinite(ga).sum() == data.size - 1
    assert a["masked"] == b["masked"] == 0
    meta = raster_info(str(tmp_path / "a.tif")).band_metadata[0]
    assert meta["units"] == "m" and meta["quantity"] == "vertical_displacement"
    assert "positive up" in meta["convention"] and meta["incidence_source"] == "constant 60 deg"


def test_incidence_on_another_grid_and_in_radians(write, tmp_path):
    data = np.full((20, 20), 0.01, np.float32)
    inp = write("los.tif", data)
    # incidence on a coarser 60 m grid covering the input, varying along columns, in radians
    cols = np.radians(np.linspace(20, 50, 12))
    inc = write("inc.tif", np.tile(cols, (12, 1)), gt=(499970.0, 60.0, 0.0, 4000030.0, 0.0, -60.0))
    res = L.los_to_direction(inp, str(tmp_path / "v.tif"), incidence=inc, incidence_units="degrees")
    assert any("declared in degrees" in n for n in res["notes"])
    assert any("another grid" in n for n in res["notes"])
    got = read_block(str(tmp_path / "v.tif"))
    # truth: the incidence bilinearly interpolated at each input pixel centre
    x = 500000 + 30 * (np.arange(20) + 0.5)
    col = (x - 499970) / 60 - 0.5
    theta = np.interp(col, np.arange(12), np.linspace(20, 50, 12))
    assert np.allclose(got[7], 0.01 / np.cos(np.radians(theta)), rtol=1e-5)


def test_phase_input_units_and_los_output(write, tmp_path):
    phase = np.full((4, 4), -4 * math.pi / S1 * 0.01, np.float32)
    inp = write("unw.tif", phase)
    res = L.los_to_direction(inp, str(tmp_path / "up.tif"), quantity="phase", wavelength=S1,
                             phase_convention="isce2", incidence=60.0, output_units="mm",
                             los_output_path=str(tmp_path / "los.tif"))
    assert np.allclose(read_block(str(tmp_path / "up.tif")), 20.0, rtol=1e-5)  # 1 cm LOS / cos 60
    assert np.allclose(read_block(str(tmp_path / "los.tif")), 0.01, rtol=1e-5)
    assert res["units"] == "mm"
    meta = raster_info(str(tmp_path / "up.tif")).band_metadata[0]
    assert meta["wavelength_m"] == "0.05546576" and meta["phase_convention"].startswith("isce2 (LOS = -1")
    # units: mm/yr velocity -> cm/yr -> mm/yr (each pass / cos 60 = x 2)
    vel = write("vel.tif", np.full((3, 3), 12.5))
    L.los_to_direction(vel, str(tmp_path / "v.tif"), quantity="los_velocity", input_units="mm/yr",
                       output_units="cm", incidence=60.0)
    info = raster_info(str(tmp_path / "v.tif"))
    assert info.band_metadata[0]["units"] == "cm/yr"
    assert np.allclose(read_block(str(tmp_path / "v.tif")), 2.5)
    L.los_to_direction(str(tmp_path / "v.tif"), str(tmp_path / "w.tif"), quantity="los_velocity",
                       input_units="cm/yr", output_units="mm/yr", incidence=60.0)
    assert np.allclose(read_block(str(tmp_path / "w.tif")), 50.0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(incidence=90.0), "between 0 and 90"),
    (dict(incidence=-5.0), "between 0 and 90"),
    (dict(quantity="phase", wavelength=0.0), "wavelength"),
    (dict(quantity="phase", wavelength=-1.0), "wavelength"),
    (dict(direction="east", incidence=30.0), "needs the satellite heading"),
    (dict(band=2, incidence=30.0), "band 2 does not exist"),
    (dict(input_units="mm/yr", incidence=30.0), "does not fit"),
    (dict(incidence=30.0, max_amplification=0.5), "MAX_AMPLIFICATION"),
])
def test_errors_write_nothing(write, tmp_path, kwargs, message):
    inp = write("los.tif", np.zeros((5, 5)))
    out = str(tmp_path / "out.tif")
    with pytest.raises((ValueError, RasterError), match=message):
        L.los_to_direction(inp, out, **kwargs)
    assert [f for f in os.listdir(tmp_path) if f.startswith(("out", ".out"))] == []


def test_invalid_incidence_raster_is_refused_before_writing(write, tmp_path):
    inp = write("los.tif", np.zeros((20, 5)))
    inc = np.full((20, 5), 30.0, np.float32)
    inc[15, 2] = 95.0
    incp = write("inc.tif", inc)
    with pytest.raises(ValueError, match=r"INCIDENCE = .*inc.tif.*1 of 100 valid pixels \(1 %\) are "
                       r"outside.*strictly between 0 and 90 degrees.*from 95 to 95"):
        L.los_to_direction(inp, str(tmp_path / "out.tif"), incidence=incp, rows_per_block=4)
    assert [f for f in os.listdir(tmp_path) if f.startswith(("out", ".out"))] == []


def _plain_raster(path, array, nodata=None):
    """A raster in radar geometry: no geotransform, no CRS (like ISCE2 .rdr files)."""
    from osgeo import gdal

    arr = np.asarray(array, dtype=np.float32)
    ds = gdal.GetDriverByName("GTiff").Create(path, arr.shape[1], arr.shape[0], 1, gdal.GDT_Float32)
    ds.GetRasterBand(1).WriteArray(arr)
    if nodata is not None:
        ds.GetRasterBand(1).SetNoDataValue(nodata)
    ds = None
    return path


def test_radar_geometry_rasters_and_nodata_propagation(tmp_path):
    los = np.full((6, 5), 0.01, np.float32)
    los[1, 1] = -9999.0                               # declared nodata of the input
    inc = np.full((6, 5), 60.0, np.float32)
    inc[4, 2] = -1.0                                  # declared nodata of the incidence raster
    lp = _plain_raster(str(tmp_path / "los.tif"), los, nodata=-9999.0)
    ip = _plain_raster(str(tmp_path / "inc.tif"), inc, nodata=-1.0)
    assert not raster_info(lp).has_geotransform
    L.los_to_direction(lp, str(tmp_path / "up.tif"), incidence=ip)
    got = read_block(str(tmp_path / "up.tif"))
    assert np.isnan(got[1, 1]) and np.isnan(got[4, 2])
    assert np.isfinite(got).sum() == 28 and np.allclose(got[np.isfinite(got)], 0.02, rtol=1e-6)
    # another size in radar geometry cannot be resampled: a clear error, nothing written
    small = _plain_raster(str(tmp_path / "inc_small.tif"), np.full((3, 3), 40.0))
    with pytest.raises(ValueError, match="not on the input grid.*no geotransform"):
        L.los_to_direction(lp, str(tmp_path / "bad.tif"), incidence=small)
    assert not (tmp_path / "bad.tif").exists()


def test_geometry_from_metadata_skips_bad_items():
    got = L.geometry_from_metadata({"geometry_wavelength": "0.0555", "geometry_heading": "nan",
                                    "geometry_incidence": "abc", "geometry_look_direction": "Left"})
    assert got == {"wavelength": 0.0555, "look_direction": "left"}
    assert L.geometry_from_metadata({}) == {}


@pytest.mark.parametrize("threads", [1, 2])
def test_raster_too_wide_for_a_row_of_tiles_goes_in_tiles_of_columns(write, tmp_path,
                                                                     monkeypatch, threads):
    """A raster so wide that one row of tiles exceeds two task budgets is projected in tasks
    of 256 x 256 pixels (bounded memory at any width), each compressing its outputs: the
    same projection and LOS outputs as full-width tasks, bit for bit, and the truth
    LOS / cos(incidence) with the incidence raster on a 4x coarser grid resampled per task."""
    from displacement_toolkit.core import execution as X

    height, width = 300, 700
    phase = np.linspace(-20.0, 20.0, height * width).reshape(height, width).astype(np.float32)
    phase[7, 300] = np.nan
    inp = write("phase.tif", phase)
    # the incidence grows eastward by 0.05 deg per pixel of a 4x coarser grid that covers the
    # input: bilinear resampling of this linear field is exact inside the coarse centres
    coarse = 30.0 + 0.05 * np.arange(width // 4 + 1)
    inc = write("inc.tif", np.repeat(coarse[None], height // 4 + 1, 0),
                gt=(GT[0], 120.0, 0.0, GT[3], 0.0, -120.0))
    windows, packed, small_budget = tile_column_tasks(monkeypatch)
    runs = {}
    for name, cut in (("columns", small_budget), ("rows", X.task_windows)):
        monkeypatch.setattr(L, "task_windows", cut)
        out, los = str(tmp_path / f"{name}_up.tif"), str(tmp_path / f"{name}_los.tif")
        runs[name] = (L.los_to_direction(inp, out, quantity="phase", wavelength=S1,
                                         incidence=inc, los_output_path=los,
                                         engine=X.LocalEngine(threads)), out, los)
    assert windows[0] == [(r, min(256, height - r), c, min(256, width - c))
                          for r in (0, 256) for c in (0, 256, 512)]
    # every block of both outputs compressed in its task (the full-width run: blocks at col 0)
    assert {(r, c) for r in (0, 256) for c in (0, 256, 512)} <= set(packed)
    (cut, up_c, los_c), (whole, up_w, los_w) = runs["columns"], runs["rows"]
    for a, b in ((up_c, up_w), (los_c, los_w)):
        assert np.array_equal(read_block(a), read_block(b), equal_nan=True)
    assert [cut["stats"][k] for k in ("valid", "min", "max")] == \
        [whole["stats"][k] for k in ("valid", "min", "max")]
    assert cut["stats"]["mean"] == pytest.approx(whole["stats"]["mean"], rel=1e-12)
    los_m = L.phase_to_los(phase.astype(np.float64), S1)
    up = read_block(up_c)
    assert np.isnan(up[7, 300]) and np.isfinite(up).sum() == phase.size - 1
    assert np.allclose(read_block(los_c), los_m, rtol=1e-6, atol=1e-9, equal_nan=True)
    theta = 30.0 + 0.05 * ((np.arange(width) + 0.5) / 4 - 0.5)     # at the pixel centres
    inner = np.s_[:, 2:]                                            # inside the coarse centres
    truth = los_m / np.cos(np.radians(theta))[None, :]
    assert np.allclose(up[inner], truth[inner], rtol=1e-5, atol=1e-8, equal_nan=True)
