"""scripts/make_sample_data.py: the documented files, shapes and fields, and offsets that are
the ENU field projected on the range and along-track directions (checked independently)."""

import csv
import importlib.util
import json
import math

import numpy as np
import pytest
from osgeo import gdal, osr

from displacement_toolkit.core.okada import fault_displacement_enu
from displacement_toolkit.core.raster_io import read_block

from ..conftest import REPO

gdal.UseExceptions()


def _load_file(relative, name):
    """A repository file as a module, by path: not through sys.path, which QGIS edits when it
    unloads a plugin (qgis.utils removes the plugin package's folder -- the checkout itself
    when it is named displacement_toolkit -- so ``import demo`` would depend on test order)."""
    spec = importlib.util.spec_from_file_location(name, REPO / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_script():
    return _load_file("scripts/make_sample_data.py", "make_sample_data")


@pytest.fixture(scope="module")
def scene(earthquake_scene):
    return earthquake_scene


def test_every_documented_file_is_written_with_its_shape(scene):
    module, out, description = scene
    for name in module.FILES:
        assert (out / name).is_file(), name
    for track in ("asc", "desc"):
        for name in ("reference_slc", "secondary_slc", "incidence", "heading",
                     "truth_range_offset", "truth_azimuth_offset", "truth_los"):
            ds = gdal.Open(str(out / f"{track}_{name}.tif"))
            assert (ds.RasterYSize, ds.RasterXSize) == (512, 1024)
            if name.endswith("slc"):
                assert gdal.GetDataTypeName(ds.GetRasterBand(1).DataType) == "CFloat32"
    saved = json.loads((out / "scene.json").read_text())
    assert saved["moment_magnitude"] == pytest.approx(6.83, abs=0.01)
    assert 6.6 <= description["moment_magnitude"] <= 7.0


def test_geotransform_pixel_sizes_and_incidence(scene):
    _module, out, description = scene
    for track, heading, inc in (("asc", -12.0, 39.0), ("desc", -168.0, 34.0)):
        gt = gdal.Open(str(out / f"{track}_reference_slc.tif")).GetGeoTransform()
        ground = 2.3 / math.sin(math.radians(inc))
        assert math.hypot(gt[1], gt[4]) == pytest.approx(ground, rel=1e-9)
        assert math.hypot(gt[2], gt[5]) == pytest.approx(14.0, rel=1e-9)
        # rows follow the flight direction (heading clockwise from north)
        assert math.degrees(math.atan2(gt[2], gt[5])) == pytest.approx(heading, abs=1e-9)
        incidence = read_block(str(out / f"{track}_incidence.tif"))
        assert np.all(np.diff(incidence[0]) > 0)  # incidence grows with range
        assert incidence[0, 511:513].mean() == pytest.approx(inc, abs=0.01)
        assert np.all(read_block(str(out / f"{track}_heading.tif")) == np.float32(heading))


def test_truth_offsets_are_the_enu_field_projected(scene):
    """Recompute the offsets at a few pixels from the Okada field and the LOS vector written
    out by hand (docs/conventions.md): range offset = -LOS / 2.3 m, azimuth = along-track / 14 m."""
    module, out, _ = scene
    rng = np.random.default_rng(3)
    for track, spec in module.TRACKS.items():
        gt = gdal.Open(str(out / f"{track}_reference_slc.tif")).GetGeoTransform()
        rg = read_block(str(out / f"{track}_truth_range_offset.tif"))
        az = read_block(str(out / f"{track}_truth_azimuth_offset.tif"))
        los_file = read_block(str(out / f"{track}_truth_los.tif"))
        inc = read_block(str(out / f"{track}_incidence.tif"))
        rows, cols = rng.integers(0, 512, 20), rng.integers(0, 1024, 20)
        x = gt[0] + (cols + 0.5) * gt[1] + (rows + 0.5) * gt[2]
        y = gt[3] + (cols + 0.5) * gt[4] + (rows + 0.5) * gt[5]
        fe, fn = module.fault_centre()
        e, n, u = fault_displacement_enu(
            x, y, fault_east=fe, fault_north=fn, strike=30.0, dip=90.0, length=25000.0,
            top_depth=0.0, bottom_depth=12000.0, strike_slip=-2.5)
        theta = np.radians(inc[rows, cols].astype(float))
        h = math.radians(spec["heading"])
        alpha = math.pi / 2 - h  # right-looking LOS azimuth
        los = -np.sin(theta) * math.sin(alpha) * e + np.sin(theta) * math.cos(alpha) * n + np.cos(theta) * u
        along = math.sin(h) * e + math.cos(h) * n
        np.testing.assert_allclose(los_file[rows, cols], los, atol=1e-6)
        np.testing.assert_allclose(rg[rows, cols], -los / 2.3, atol=1e-6)
        np.testing.assert_allclose(az[rows, cols], along / 14.0, atol=1e-6)
        assert np.max(np.abs(rg)) > 0.2  # decimetres to metres of motion


def _coherence(a, b):
    return abs(np.vdot(a, b)) / math.sqrt(np.vdot(a, a).real * np.vdot(b, b).real)


def test_secondary_slc_carries_the_offsets(scene):
    """Away from the fault, shifting the secondary back by the true offset restores the
    documented coherence (0.9); without the shift the coherence is lower."""
    module, out, _ = scene
    ref = read_block(str(out / "asc_reference_slc.tif"))
    sec = read_block(str(out / "asc_secondary_slc.tif"))
    rg = read_block(str(out / "asc_truth_range_offset.tif"))
    az = read_block(str(out / "asc_truth_azimuth_offset.tif"))
    # the chip where the range offset is largest in magnitude and smoothest
    r0, c0 = 32, 32
    best = None
    for r in range(32, 512 - 96, 32):
        for c in range(32, 1024 - 96, 32):
            chip = rg[r:r + 64, c:c + 64]
            if np.ptp(chip) < 0.04 and (best is None or abs(chip.mean()) > best):
                best, r0, c0 = abs(chip.mean()), r, c
    assert best > 0.1
    dx, dy = float(rg[r0:r0 + 64, c0:c0 + 64].mean()), float(az[r0:r0 + 64, c0:c0 + 64].mean())
    a = ref[r0:r0 + 64, c0:c0 + 64].astype(complex)
    big = sec[r0 - 32:r0 + 96, c0 - 32:c0 + 96].astype(complex)
    fy = np.fft.fftfreq(128)[:, None]
    fx = np.fft.fftfreq(128)[None, :]
    back = np.fft.ifft2(np.fft.fft2(big) * np.exp(2j * np.pi * (fx * dx + fy * dy)))[32:96, 32:96]
    raw = big[32:96, 32:96]
    assert _coherence(a, back) == pytest.approx(module.COHERENCE, abs=0.04)
    assert _coherence(a, raw) < _coherence(a, back) - 0.02


def test_gnss_csv_matches_the_field_within_noise(scene):
    module, out, _ = scene
    with open(out / "gnss_stations.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromEPSG(4326)
    dst.ImportFromEPSG(32611)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    tr = osr.CoordinateTransformation(src, dst)
    for row in rows:
        x, y, _ = tr.TransformPoint(float(row["lon"]), float(row["lat"]))
        e, n, u = module.ground_displacement(x, y)
        assert float(row["true_east"]) == pytest.approx(float(e), abs=2e-4)
        assert float(row["true_up"]) == pytest.approx(float(u), abs=2e-4)
        for comp, sig in (("east", 0.002), ("north", 0.002), ("up", 0.005)):
            assert abs(float(row[comp]) - float(row[f"true_{comp}"])) < 5 * sig


def test_demo_truth_on_any_grid_matches_the_written_truth(scene):
    """demo/steps/_common.truth_offsets (used to score offset tracking on its output grid)
    reproduces the generator's truth rasters when asked on the reference grid, and gives the
    field at window centres of a coarser, shifted grid."""
    common = _load_file("demo/steps/_common.py", "demo_steps_common")
    truth_enu, truth_offsets = common.truth_enu, common.truth_offsets

    _module, out, _ = scene
    for track in ("asc", "desc"):
        gt = gdal.Open(str(out / f"{track}_reference_slc.tif")).GetGeoTransform()
        rg, az, los = truth_offsets(track, gt, (512, 1024))
        np.testing.assert_allclose(rg, read_block(str(out / f"{track}_truth_range_offset.tif")), atol=2e-6)
        np.testing.assert_allclose(az, read_block(str(out / f"{track}_truth_azimuth_offset.tif")), atol=2e-6)
        np.testing.assert_allclose(los, read_block(str(out / f"{track}_truth_los.tif")), atol=2e-6)
        # a grid of 16-pixel cells whose first centre is reference pixel (8, 8): same values there
        coarse = (gt[0] + 0.5 * gt[1] + 0.5 * gt[2], gt[1] * 16, gt[2] * 16,
                  gt[3] + 0.5 * gt[4] + 0.5 * gt[5], gt[4] * 16, gt[5] * 16)
        rg_c, _az_c, _los_c = truth_offsets(track, coarse, (32, 64))
        np.testing.assert_allclose(rg_c, rg[8::16, 8::16], atol=1e-3)  # incidence interpolated
    gt = gdal.Open(str(out / "truth_east.tif")).GetGeoTransform()
    e, n, u = truth_enu(gt, read_block(str(out / "truth_east.tif")).shape)
    np.testing.assert_allclose(e, read_block(str(out / "truth_east.tif")), atol=1e-6)
    np.testing.assert_allclose(u, read_block(str(out / "truth_up.tif")), atol=1e-6)
