import math
import os

import numpy as np
import pytest
from osgeo import gdal

from displacement_toolkit.core import raster_io as rio
from displacement_toolkit.core.progress import OperationCancelled

GT = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
WKT = rio.crs_from_epsg(32633)


def test_round_trip_keeps_grid_units_metadata_and_nan(tmp_path):
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    data[1, 2] = np.nan
    path = str(tmp_path / "a.tif")
    rio.write_array(path, data, GT, WKT, descriptions=["LOS displacement"],
                    band_metadata=[{"units": "m", "quantity": "los_displacement"}],
                    metadata={"convention": "LOS positive toward the satellite"})
    info = rio.raster_info(path)
    assert info.shape == (3, 4) and info.geotransform == GT
    assert rio.same_crs(info.crs_wkt, WKT)
    assert info.descriptions == ["LOS displacement (m)"]   # the unit added to the description
    assert info.band_metadata[0]["units"] == "m"
    assert info.metadata["convention"].startswith("LOS positive")
    assert math.isnan(info.nodata[0])
    back = rio.read_block(path)
    assert np.array_equal(np.isnan(back), np.isnan(data))
    assert np.allclose(back[~np.isnan(back)], data[~np.isnan(data)])
    ds = gdal.Open(path)
    assert ds.GetMetadata("IMAGE_STRUCTURE")["COMPRESSION"] == "DEFLATE"
    assert ds.GetRasterBand(1).GetUnitType() == "m"


def test_integer_nodata_becomes_nan_never_zero(tmp_path):
    path = str(tmp_path / "int.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 3, 2, 1, gdal.GDT_Int16)
    ds.GetRasterBand(1).WriteArray(np.array([[0, 5, -9999], [7, -9999, 0]], dtype=np.int16))
    ds.GetRasterBand(1).SetNoDataValue(-9999)
    ds = None
    out = rio.read_block(path)
    assert out.dtype == np.float32
    assert np.isnan(out[0, 2]) and np.isnan(out[1, 1])
    assert out[0, 0] == 0 and out[1, 0] == 7


def test_complex_band_reads_as_complex_with_window(tmp_path):
    z = (np.arange(20).reshape(4, 5) + 1j * np.arange(20).reshape(4, 5)[::-1]).astype(np.complex64)
    path = str(tmp_path / "slc.tif")
    rio.write_array(path, z, GT, WKT)
    info = rio.raster_info(path)
    assert info.is_complex(1)
    win = rio.read_block(path, 1, row=1, col=2, rows=2, cols=3)
    assert win.dtype == np.complex64 and np.array_equal(win, z[1:3, 2:5])


def test_cint16_band_with_nodata(tmp_path):
    path = str(tmp_path / "cint.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 2, 1, 1, gdal.GDT_CInt16)
    ds.GetRasterBand(1).WriteArray(np.array([[3 + 4j, 0]], dtype=np.complex64))
    ds.GetRasterBand(1).SetNoDataValue(0)
    ds = None
    out = rio.read_block(path)
    assert out[0, 0] == 3 + 4j and np.isnan(out[0, 1].real)


def test_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "out.tif"
    with pytest.raises(OperationCancelled):
        with rio.RasterWriter(str(path), 10, 10, GT, WKT) as w:
            w.write(1, 0, np.ones((5, 10), np.float32))
            raise OperationCancelled("stop")
    assert os.listdir(tmp_path) == []


def test_writer_is_atomic_until_commit(tmp_path):
    path = tmp_path / "out.tif"
    with rio.RasterWriter(str(path), 4, 4, GT, WKT) as w:
        w.write(1, 0, np.ones((4, 4), np.float32))
        assert not path.exists()
    assert path.exists() and len(os.listdir(tmp_path)) == 1


def test_writer_statistics_use_finite_values_only(tmp_path):
    values = np.linspace(-2.0, 4.0, 10000, dtype=np.float32).reshape(100, 100)
    values[:10] = np.nan
    with rio.RasterWriter(str(tmp_path / "s.tif"), 100, 100, GT, WKT) as w:
        for r0, n in rio.iter_blocks(100, 7):
            w.write(1, r0, values[r0:r0 + n])
        st = w.stats(1)
    finite = values[np.isfinite(values)]
    assert st["valid"] == finite.size
    assert st["min"] == pytest.approx(finite.min()) and st["max"] == pytest.approx(finite.max())
    assert st["p98"] == pytest.approx(np.percentile(finite, 98), abs=0.05)


def test_blocks_cover_the_raster_exactly():
    blocks = list(rio.iter_blocks(1001, rio.block_rows(2000, 8, budget=8 * 2000 * 100)))
    assert blocks[0] == (0, 100) and blocks[-1] == (1000, 1)
    assert sum(n for _, n in blocks) == 1001


def test_bad_band_and_missing_file_messages(tmp_path):
    path = str(tmp_path / "one.tif")
    rio.write_array(path, np.zeros((2, 2)), GT, WKT)
    with pytest.raises(rio.RasterError, match="band 2 does not exist.*1 band"):
        rio.check_band(rio.raster_info(path), 2)
    with pytest.raises(rio.RasterError, match="nothere.tif"):
        rio.raster_info(str(tmp_path / "nothere.tif"))


def test_pixel_size_in_metres_for_projected_and_geographic():
    utm = rio.RasterInfo("x", 10, 10, 1, GT, WKT, ["Float32"], [None], [""])
    assert rio.pixel_size_metres(utm) == pytest.approx((30.0, 30.0))
    step = 0.000462963  # 1/2160 degree, a common MintPy geocoding step
    geo = rio.RasterInfo("y", 10, 10, 1, (-155.3, step, 0, 19.4 + 10 * step / 2, 0, -step),
                         rio.crs_from_epsg(4326), ["Float32"], [None], [""])
    dx, dy = rio.pixel_size_metres(geo)
    assert dy == pytest.approx(51.48, abs=0.05)
    assert dx == pytest.approx(51.48 * math.cos(math.radians(19.4)), abs=0.05)


def test_pixel_map_round_trip():
    col, row = rio.map_to_pixel(GT, *rio.pixel_to_map(GT, 12.25, 7.5))
    assert (col, row) == pytest.approx((12.25, 7.5))


def test_same_grid_tolerates_rounding_only():
    a = rio.RasterInfo("a", 5, 5, 1, GT, WKT, ["Float32"], [None], [""])
    b = rio.RasterInfo("b", 5, 5, 1, tuple(v * (1 + 1e-13) for v in GT), WKT, ["Float32"], [None], [""])
    c = rio.RasterInfo("c", 5, 5, 1, (GT[0] + 15, *GT[1:]), WKT, ["Float32"], [None], [""])
    assert a.same_grid(b) and not a.same_grid(c)


def test_reads_vrt_and_envi_sources_with_nodata(tmp_path):
    data = np.array([[1.0, -9999.0], [3.0, 4.0]], dtype=np.float32)
    envi = str(tmp_path / "phase.img")
    ds = gdal.GetDriverByName("ENVI").Create(envi, 2, 2, 1, gdal.GDT_Float32)
    ds.SetGeoTransform(GT)
    ds.GetRasterBand(1).WriteArray(data)
    ds.GetRasterBand(1).SetNoDataValue(-9999.0)
    ds = None
    vrt = str(tmp_path / "phase.vrt")
    gdal.Translate(vrt, envi, format="VRT")
    for path in (envi, vrt):
        info = rio.raster_info(path)
        assert info.geotransform == GT
        out = rio.read_block(path)
        assert np.isnan(out[0, 1]) and out[1, 1] == 4.0


# --- safety (docs/safety.md) --------------------------------------------------------------
def test_size_limit_default_and_environment_override(tmp_path, monkeypatch):
    path = str(tmp_path / "big.tif")
    monkeypatch.delenv(rio.MAX_VALUES_ENV, raising=False)
    assert rio.max_raster_values() == 4_000_000_000
    rio.check_raster_size(path, 1000, 1000, 2)                          # 2e6 values: fine
    with pytest.raises(rio.RasterError, match=r"200000 x 200000 pixels x 1 band\(s\) = 4e\+10 values, "
                                              r"more than the limit of 4e\+09.*DISPLACEMENT_TOOLKIT"):
        rio.check_raster_size(path, 200000, 200000)
    monkeypatch.setenv(rio.MAX_VALUES_ENV, "1e3")
    with pytest.raises(rio.RasterError, match="limit of 1e\\+03"):
        rio.RasterWriter(path, 40, 30, GT, WKT)                        # 1200 values > 1000
    assert os.listdir(tmp_path) == []                                  # refused before creating
    monkeypatch.setenv(rio.MAX_VALUES_ENV, "lots")
    with pytest.raises(rio.RasterError, match="'lots' is not a number"):
        rio.max_raster_values()


def test_size_beyond_the_free_disk_space(tmp_path, monkeypatch):
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    monkeypatch.setenv(rio.MAX_VALUES_ENV, str(10 * free))
    side = int(math.sqrt(free / 4)) + 1000                              # float32: just above free
    with pytest.raises(rio.RasterError, match=r"GB free"):
        rio.check_raster_size(str(tmp_path / "x.tif"), side, side)


def test_partial_files_of_dead_processes_are_removed(tmp_path):
    out = tmp_path / "out.tif"
    dead = tmp_path / f".out.tif.{2 ** 22 + 7}.0123abcd.partial.tif"     # above pid_max: no process
    legacy = tmp_path / ".out.tif.89abcdef.partial.tif"                # before process ids
    alive = tmp_path / f".out.tif.{os.getppid()}.01234567.partial.tif"
    other = tmp_path / f".out.tif.x.tif.{2 ** 22 + 7}.0123abcd.partial.tif"   # out.tif.x.tif's
    for p in (dead, legacy, alive, other):
        p.write_bytes(b"\0")
    assert sorted(rio.remove_stale_partials(str(out))) == sorted([str(dead), str(legacy)])
    assert sorted(os.listdir(tmp_path)) == sorted([alive.name, other.name])
    name = os.path.basename(rio.partial_path(str(out)))
    assert name.startswith(f".out.tif.{os.getpid()}.") and name.endswith(".partial.tif")


def test_a_truncated_file_is_a_raster_error_naming_it(tmp_path):
    path = str(tmp_path / "cut.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 64, 64, 1, gdal.GDT_Float32)
    ds.SetGeoTransform(GT)
    ds.GetRasterBand(1).WriteArray(np.ones((64, 64), np.float32))
    ds = None
    data = open(path, "rb").read()
    open(path, "wb").write(data[:len(data) - 64 * 64 * 4 + 200])
    assert rio.raster_info(path).shape == (64, 64)                      # the header is intact
    for read in (lambda: rio.read_block(path), lambda: rio.read_decimated(path, 1, 16),
                 lambda: rio.count_valid(path)):
        with pytest.raises(rio.RasterError, match="damaged or truncated") as caught:
            read()
        assert caught.value.path == path


def test_count_valid_is_exact_on_small_rasters(tmp_path):
    data = np.full((20, 30), np.nan, np.float32)
    data[3, 4] = 1.0
    data[10:12, 5] = -2.0
    path = rio.write_array(str(tmp_path / "v.tif"), np.stack([data, data]), GT, WKT)
    assert rio.count_valid(path) == (6, 1200, True)
    assert rio.count_valid(path, size=10)[2] is False


def test_has_valid_value_finds_one_pixel_a_decimated_read_misses(tmp_path):
    data = np.full((2, 600, 700), np.nan, np.float32)
    data[1, 599, 1] = 3.0                                  # band 2, last row
    path = rio.write_array(str(tmp_path / "sparse.tif"), data, GT, WKT)
    assert rio.count_valid(path, size=100)[0] == 0        # the decimated look misses it
    assert rio.has_valid_value(path, budget=700 * 8 * 64)  # 64-row blocks
    data[1, 599, 1] = np.nan
    assert not rio.has_valid_value(rio.write_array(str(tmp_path / "none.tif"), data, GT, WKT))


def test_band_descriptions_and_layer_titles_carry_units_dates_and_reference(tmp_path):
    """What the QGIS Layers panel and identify tool show: the unit in every band
    description, and a layer title naming the quantity, date and reference point."""
    from displacement_toolkit.core.dates import band_dates
    from displacement_toolkit.core.units import split_unit_suffix, with_unit

    assert rio.band_description("", {"quantity": "vertical_displacement", "units": "mm"}) == \
        "Vertical displacement (mm)"
    assert rio.band_description("Offset x", {"units": "px"}) == "Offset x (px)"
    assert rio.band_description("LOS (m)", {"units": "mm"}) == "LOS (mm)"   # replaced, not doubled
    assert rio.band_description("2016-07-23", {}) == "2016-07-23"
    assert split_unit_suffix("Velocity (mm/yr)") == ("Velocity", "mm/yr")
    assert split_unit_suffix("Kīlauea (summit)") == ("Kīlauea (summit)", "")
    assert with_unit("a", "") == "a"
    # dated bands keep their dates readable from descriptions with a unit
    wgs84 = rio.crs_from_epsg(4326)
    gt = (-155.40, 0.01, 0.0, 19.40, 0.0, -0.01)
    path = str(tmp_path / "reref.tif")
    rio.write_array(path, np.zeros((2, 3, 4), np.float32), gt, wgs84,
                    descriptions=["2016-07-23", "2016-08-04"],
                    band_metadata=[{"units": "m", "quantity": "los_displacement"}] * 2,
                    metadata={"reference_point": "-155.3125 19.2875", "reference_kind": "point"})
    info = rio.raster_info(path)
    assert info.descriptions == ["2016-07-23 (m)", "2016-08-04 (m)"]
    assert [d.isoformat() for d in band_dates(info.band_metadata, info.descriptions)] == [
        "2016-07-23", "2016-08-04"]
    assert rio.layer_title(info) == (
        "LOS displacement 2016-07-23 to 2016-08-04, re-referenced at 155.31 W 19.29 N")


def test_writer_stores_exact_statistics_beyond_the_sample(tmp_path):
    """The band statistics the file carries (gdalinfo -stats, QGIS layer properties) are those
    of every finite pixel, not of the styling sample: one extreme pixel among 90 000 counts,
    and the mean and standard deviation are numbers."""
    rng = np.random.default_rng(3)
    values = rng.normal(20.0, 10.0, (300, 300)).astype(np.float32)
    values[5, 7], values[250, 3] = -500.0, 800.0
    values[:, 299] = np.nan
    path = str(tmp_path / "big.tif")
    with rio.RasterWriter(path, 300, 300, GT, WKT) as w:
        for r0, n in rio.iter_blocks(300, 64):
            w.write(1, r0, values[r0:r0 + n])
        st = w.stats(1)
    finite = values[np.isfinite(values)].astype(np.float64)
    assert st["min"] == -500.0 and st["max"] == 800.0
    ds = gdal.Open(path)
    smin, smax, smean, sstd = ds.GetRasterBand(1).GetStatistics(False, False)
    ds = None
    assert (smin, smax) == (-500.0, 800.0)
    assert smean == pytest.approx(finite.mean(), rel=1e-9)
    assert sstd == pytest.approx(finite.std(), rel=1e-9)
