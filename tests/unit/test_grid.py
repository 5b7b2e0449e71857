"""core.grid: grid planning, warping onto a grid (against gdal.Warp itself) and lazy reading."""

import math
import os

import numpy as np
import pytest
from osgeo import gdal

from displacement_toolkit.core import grid as G
from displacement_toolkit.core.progress import Monitor, OperationCancelled
from displacement_toolkit.core.raster_io import (
    RasterError,
    crs_from_epsg,
    raster_info,
    read_block,
    write_array,
)

UTM = crs_from_epsg(32633)
WGS84 = crs_from_epsg(4326)
K = math.pi / 180.0 * 6371008.8  # metres per degree of latitude on the toolkit's sphere


@pytest.fixture
def write(tmp_path):
    def _write(name, array, gt, crs=UTM, **kw):
        path = str(tmp_path / name)
        write_array(path, np.asarray(array, dtype=np.float32), gt, crs, **kw)
        return path
    return _write


def gdal_reference(path, grid, resampling, tmp_path, src_nodata="nan"):
    """gdal.Warp called directly with the grid's settings (the independent truth)."""
    out = str(tmp_path / f"ref_{os.path.basename(path)}_{resampling}.tif")
    ds = gdal.Warp(out, path, outputBounds=grid.extent, xRes=grid.resolution[0],
                   yRes=grid.resolution[1], dstSRS=grid.crs_wkt, resampleAlg=resampling,
                   srcNodata=src_nodata, dstNodata="nan", outputType=gdal.GDT_Float32)
    arr, gt = ds.ReadAsArray(), ds.GetGeoTransform()
    ds = None
    return arr, gt


# ----------------------------------------------------------------------------- planning
def test_intersection_union_and_coarsest_finest_are_exact(write):
    a = write("a.tif", np.zeros((100, 120)), (500000, 30, 0, 4000000, 0, -30))   # 500000..503600
    b = write("b.tif", np.zeros((50, 40)), (500500, 50, 0, 3999000, 0, -50))     # 500500..502500
    g = G.plan_grid([a, b])
    assert g.geotransform == (500500.0, 50.0, 0.0, 3999000.0, 0.0, -50.0)
    assert (g.width, g.height) == (40, 40)
    assert g.extent == (500500.0, 3997000.0, 502500.0, 3999000.0)
    u = G.plan_grid([a, b], extent="union", resolution="finest")
    # union x 500000..503600, y 3996500..4000000 at 30 m, the pixel size of a (in the target
    # CRS): a's grid is kept, grown by whole pixels of a (bottom edge 4000000 - 117 x 30)
    assert u.geotransform == (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
    assert (u.width, u.height) == (120, 117)
    assert u.extent == (500000.0, 3996490.0, 503600.0, 4000000.0)
    assert G.pixels_on_grid(raster_info(a), u) and not G.pixels_on_grid(raster_info(b), u)
    # order of inputs and repeated runs do not change the grid
    assert G.plan_grid([b, a], extent="union", resolution="finest") == u


def test_target_aligned_pixels_and_custom_extent(write):
    a = write("a.tif", np.zeros((10, 10)), (500007, 20, 0, 4000013, 0, -20))
    g = G.plan_grid([a], resolution=25.0)
    assert g.geotransform[0] == 500000.0 and g.geotransform[3] == 4000025.0
    assert g.extent[2] >= 500207 and g.extent[1] <= 3999813
    c = G.plan_grid([a], extent=(500001, 3999901, 500049, 3999999), resolution=(10, 20))
    assert c.geotransform == (500000.0, 10.0, 0.0, 4000000.0, 0.0, -20.0)
    assert (c.width, c.height) == (5, 5)
    with pytest.raises(ValueError, match="positive"):
        G.plan_grid([a], resolution=0)
    with pytest.raises(ValueError, match="empty"):
        G.plan_grid([a], extent=(1, 1, 0, 2))


def test_reference_grid_is_reproduced_exactly(write):
    ref = write("ref.tif", np.zeros((30, 40)), (500003.5, 30, 0, 4000011.25, 0, -30))
    other = write("other.tif", np.zeros((20, 20)), (499000, 60, 0, 4001000, 0, -60))
    g = G.plan_grid([other, ref], extent="reference", resolution="reference", reference=ref)
    assert g == G.GridSpec.from_info(raster_info(ref))
    assert g.matches(raster_info(ref))
    # union at the reference resolution stays on the reference's pixel edges
    u = G.plan_grid([other, ref], extent="union", resolution="reference", reference=1)
    assert ((u.geotransform[0] - 500003.5) / 30) % 1 == pytest.approx(0, abs=1e-9)
    assert ((u.geotransform[3] - 4000011.25) / 30) % 1 == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError, match="reference raster"):
        G.plan_grid([other], extent="reference")


def test_no_overlap_is_a_clear_error(write):
    a = write("a.tif", np.zeros((10, 10)), (500000, 30, 0, 4000000, 0, -30))
    b = write("b.tif", np.zeros((10, 10)), (600000, 30, 0, 4000000, 0, -30))
    with pytest.raises(ValueError, match="do not overlap.*a.tif, b.tif.*union"):
        G.plan_grid([a, b])
    assert G.plan_grid([a, b], extent="union").width == math.ceil(100300 / 30)


def test_utm_and_geographic_inputs(write):
    utm = write("utm.tif", np.ones((100, 100)), (500000, 30, 0, 4000000, 0, -30))
    # a geographic raster around the UTM one (zone 33 central meridian 15 E, lat ~36.1)
    geo = write("geo.tif", np.full((60, 80), 2.0), (14.99, 0.0005, 0, 36.14, 0, -0.0005), WGS84)
    g = G.plan_grid([utm, geo])                       # target = first input's CRS (UTM)
    assert G.crs_name(g.crs_wkt).startswith("EPSG:32633")
    # coarsest: the geographic pixels (0.0005 deg ~ 45 m x 55 m) win over the 30 m UTM ones
    assert 40 < g.resolution[0] < 60 and 40 < g.resolution[1] < 60
    gg = G.plan_grid([utm, geo], target_crs_wkt=WGS84, extent="union")
    assert G.crs_name(gg.crs_wkt).startswith("EPSG:4326")
    assert gg.extent[0] <= 14.99 and gg.extent[3] >= 36.14
    out_utm = G.warp_to_grid(utm, gg, resampling="bilinear", output_path=utm[:-4] + "_g.tif")
    out_geo = G.warp_to_grid(geo, gg, resampling="bilinear", output_path=geo[:-4] + "_g.tif")
    for path in (out_utm, out_geo):
        info = raster_info(path)
        assert info.geotransform == gg.geotransform and (info.width, info.height) == (gg.width, gg.height)
    a, b = read_block(out_utm), read_block(out_geo)
    assert np.nanmin(a) == pytest.approx(1.0) and np.nanmax(a) == pytest.approx(1.0)
    assert np.nanmin(b) == pytest.approx(2.0) and np.nanmax(b) == pytest.approx(2.0)
    assert np.isnan(a).any() and np.isfinite(a).any()


def test_metre_resolution_on_a_geographic_target(write):
    geo = write("geo.tif", np.zeros((100, 100)), (10.0, 0.001, 0, 60.05, 0, -0.001), WGS84)
    notes = []
    g = G.plan_grid([geo], resolution=100.0, resolution_in_metres=True, log=notes.append)
    lat = 60.0  # centre of 59.95..60.05
    assert g.resolution[1] == pytest.approx(100.0 / K, rel=1e-12)
    assert g.resolution[0] == pytest.approx(100.0 / (K * math.cos(math.radians(lat))), rel=1e-12)
    assert g.resolution[0] == pytest.approx(2 * g.resolution[1], rel=1e-3)   # cos 60 = 0.5
    mx, my = g.resolution_metres()
    assert mx == pytest.approx(100.0, rel=2e-4) and my == pytest.approx(100.0, rel=1e-12)
    assert len(notes) == 1 and "100 m" in notes[0] and "60.0000" in notes[0]
    assert f"{g.resolution[0]:.10g}" in notes[0] and f"{g.resolution[1]:.10g}" in notes[0]
    text = g.describe()
    assert "EPSG:4326" in text and "degrees" in text and "about 100 m" in text
    assert f"{g.width} x {g.height} pixels" in text


# ----------------------------------------------------------------------------- warping
@pytest.mark.parametrize("resampling", ["average", "bilinear", "cubic", "nearest", "median"])
def test_warp_matches_gdal_warp_called_directly(write, tmp_path, resampling):
    rng = np.random.default_rng(3)
    data = rng.normal(size=(90, 70)).astype(np.float32)
    data[20:30, 5:40] = np.nan
    src = write("src.tif", data, (500010, 20, 0, 4000000, 0, -20))
    other = write("other.tif", np.zeros((30, 30)), (500000, 45, 0, 3999990, 0, -45))
    g = G.plan_grid([src, other], extent="union")
    out = G.warp_to_grid(src, g, resampling=resampling, output_path=str(tmp_path / "out.tif"))
    ref, ref_gt = gdal_reference(src, g, G.gdal_resampling(resampling), tmp_path)
    got = read_block(out)
    info = raster_info(out)
    assert info.geotransform == g.geotransform == ref_gt
    assert (info.width, info.height) == (g.width, g.height)
    assert np.array_equal(got, ref, equal_nan=True)
    assert np.isfinite(got).sum() > 100


def test_reprojection_matches_gdal_warp(write, tmp_path):
    rng = np.random.default_rng(4)
    src = write("utm.tif", rng.normal(size=(60, 50)), (500000, 30, 0, 4000000, 0, -30))
    g = G.plan_grid([src], target_crs_wkt=WGS84, resolution=30, resolution_in_metres=True)
    out = G.warp_to_grid(src, g, resampling="bilinear", output_path=str(tmp_path / "o.tif"))
    ref, ref_gt = gdal_reference(src, g, "bilinear", tmp_path)
    assert ref_gt == g.geotransform == raster_info(out).geotransform
    assert np.array_equal(read_block(out), ref, equal_nan=True)


def test_reprojection_puts_values_at_the_right_place(write, tmp_path):
    # a linear field of UTM easting: bilinear resampling reproduces it wherever the output
    # pixel centre is transformed to the right source position. GDAL's approximate
    # transformer (error threshold 0.125 pixel) stays within 0.001 pixel on this grid; the
    # tolerance, 2e-4 km = 0.2 m, is 0.007 pixel
    from osgeo import osr
    # 300 km west of the central meridian, where the projection bends the most
    rows, cols = np.mgrid[0:200, 0:200]
    east = 200000 + 30 * (cols + 0.5)
    src = write("lin.tif", east / 1000.0, (200000, 30, 0, 4400000, 0, -30))
    g = G.plan_grid([src], target_crs_wkt=WGS84, resolution=30, resolution_in_metres=True)
    got = read_block(G.warp_to_grid(src, g, resampling="bilinear",
                                    output_path=str(tmp_path / "lin_ll.tif")))
    gt = g.geotransform
    r, c = np.mgrid[0:g.height, 0:g.width]
    lon, lat = gt[0] + (c + 0.5) * gt[1], gt[3] + (r + 0.5) * gt[5]
    geo, utm = osr.SpatialReference(), osr.SpatialReference()
    geo.ImportFromWkt(WGS84)
    utm.ImportFromWkt(UTM)
    for sr in (geo, utm):
        sr.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    pts = np.array(osr.CoordinateTransformation(geo, utm).TransformPoints(
        np.column_stack([lon.ravel(), lat.ravel()]).tolist()))
    truth = (pts[:, 0] / 1000.0).reshape(got.shape)
    px, py = (pts[:, 0] - 200000) / 30, (4400000 - pts[:, 1]) / 30
    inside = ((px > 1) & (px < 199) & (py > 1) & (py < 199)).reshape(got.shape)
    assert inside.sum() > 10000
    assert np.nanmax(np.abs(got - truth)[inside]) < 2e-4


def test_nan_and_nodata_are_never_averaged_in(write, tmp_path):
    data = np.arange(16, dtype=np.float32).reshape(4, 4)
    data[0, 0] = np.nan                    # block (0,0): mean of 1, 4, 5
    data[2:4, 2:4] = np.nan                # block (1,1): nothing valid -> NaN
    src = write("nan.tif", data, (0, 1, 0, 4, 0, -1), crs="")
    g = G.GridSpec("", (0, 2, 0, 4, 0, -2), 2, 2)
    got = read_block(G.warp_to_grid(src, g, output_path=str(tmp_path / "a.tif")))
    assert got[0, 0] == pytest.approx((1 + 4 + 5) / 3)
    assert got[0, 1] == pytest.approx((2 + 3 + 6 + 7) / 4)
    assert got[1, 0] == pytest.approx((8 + 9 + 12 + 13) / 4)
    assert np.isnan(got[1, 1])
    # an integer raster with a declared nodata value (-9999)
    path = str(tmp_path / "int.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 4, 4, 1, gdal.GDT_Int16)
    ds.SetGeoTransform((0, 1, 0, 4, 0, -1))
    ints = np.array([[-9999, 10, 1, 1], [20, 30, 1, 1], [-9999, -9999, 5, 5], [-9999, -9999, 5, 5]])
    ds.GetRasterBand(1).WriteArray(ints)
    ds.GetRasterBand(1).SetNoDataValue(-9999)
    ds = None
    got = read_block(G.warp_to_grid(path, g, output_path=str(tmp_path / "b.tif")))
    assert got[0, 0] == pytest.approx(20.0) and got[0, 1] == pytest.approx(1.0)
    assert np.isnan(got[1, 0]) and got[1, 1] == pytest.approx(5.0)
    # bilinear: NaN neighbours are excluded from the weights, not treated as numbers
    with G.GridReader(src, G.GridSpec("", (0, 1, 0, 4, 0, -1), 4, 4), resampling="bilinear") as r:
        assert r.direct
        assert np.array_equal(r.read(0, 4), data, equal_nan=True)


def test_one_pixel_raster(write, tmp_path):
    one = write("one.tif", [[7.5]], (500000, 100, 0, 4000000, 0, -100))
    big = write("big.tif", np.zeros((20, 20)), (499500, 50, 0, 4000500, 0, -50))
    g = G.plan_grid([one])
    assert (g.width, g.height) == (1, 1) and g.geotransform == (500000, 100, 0, 4000000, 0, -100)
    assert read_block(G.warp_to_grid(one, g, output_path=str(tmp_path / "o1.tif")))[0, 0] == 7.5
    gi = G.plan_grid([one, big], resolution="finest")     # intersection = the single pixel
    assert (gi.width, gi.height) == (2, 2) and gi.extent == (500000, 3999900, 500100, 4000000)
    got = read_block(G.warp_to_grid(one, gi, resampling="nearest", output_path=str(tmp_path / "o2.tif")))
    assert np.all(got == 7.5)
    gu = G.plan_grid([one, big], extent="union")
    got = read_block(G.warp_to_grid(one, gu, output_path=str(tmp_path / "o3.tif")))
    assert np.nansum(got) == pytest.approx(7.5) and np.isfinite(got).sum() == 1


def test_mismatched_band_counts_and_band_subsets(write, tmp_path):
    three = np.stack([np.full((10, 10), v, np.float32) for v in (1, 2, 3)])
    multi = write("multi.tif", three, (500000, 30, 0, 4000000, 0, -30),
                  descriptions=["a", "b", "c"],
                  band_metadata=[{"units": "m", "quantity": "los_displacement"}] * 3)
    single = write("single.tif", np.full((5, 5), 9), (500000, 60, 0, 4000000, 0, -60))
    g = G.plan_grid([multi, single])
    out_m = G.warp_to_grid(multi, g, output_path=str(tmp_path / "m.tif"))
    out_s = G.warp_to_grid(single, g, output_path=str(tmp_path / "s.tif"))
    im, is_ = raster_info(out_m), raster_info(out_s)
    assert (im.band_count, is_.band_count) == (3, 1)
    assert im.geotransform == is_.geotransform == g.geotransform
    for b in (1, 2, 3):
        assert np.all(read_block(out_m, b) == b)
    assert im.descriptions == ["a (m)", "b (m)", "c (m)"]   # the unit in every description
    assert im.band_metadata[1]["units"] == "m" and im.band_metadata[1]["resampling"] == "average"
    sub = G.warp_to_grid(multi, g, bands=[3], output_path=str(tmp_path / "b3.tif"))
    assert raster_info(sub).band_count == 1 and np.all(read_block(sub) == 3)
    with pytest.raises(RasterError, match="band 4 does not exist"):
        G.warp_to_grid(multi, g, bands=[4], output_path=str(tmp_path / "bad.tif"))
    assert not (tmp_path / "bad.tif").exists()


def test_cancel_leaves_no_file(write, tmp_path):
    src = write("src.tif", np.zeros((50, 50)), (500000, 30, 0, 4000000, 0, -30))
    g = G.plan_grid([src], resolution=60)
    with pytest.raises(OperationCancelled):
        G.warp_to_grid(src, g, output_path=str(tmp_path / "c.tif"),
                       monitor=Monitor(is_cancelled=lambda: True))
    assert not [f for f in os.listdir(tmp_path) if f.startswith(("c.tif", ".c.tif"))]


# ----------------------------------------------------------------------------- GridReader
def test_grid_reader_blocks_equal_the_warped_raster(write, tmp_path):
    rng = np.random.default_rng(5)
    data = rng.normal(size=(64, 48)).astype(np.float32)
    data[::7, ::5] = np.nan
    src = write("src.tif", data, (500000, 25, 0, 4000000, 0, -25), band_metadata=[{"units": "m"}])
    g = G.plan_grid([src], resolution=40)
    whole = read_block(G.warp_to_grid(src, g, resampling="bilinear", output_path=str(tmp_path / "w.tif")))
    with G.GridReader(src, g, resampling="bilinear") as reader:
        assert not reader.direct
        blocks = [reader.read(r0, min(5, g.height - r0)) for r0 in range(0, g.height, 5)]
        assert all(b.dtype == np.float32 and b.shape[1] == g.width for b in blocks)
        with pytest.raises(ValueError, match="outside the grid"):
            reader.read(g.height - 1, 2)
    assert np.array_equal(np.vstack(blocks), whole, equal_nan=True)
    with G.GridReader(src, G.GridSpec.from_info(raster_info(src))) as direct:
        assert direct.direct and np.array_equal(direct.read(3, 4), data[3:7], equal_nan=True)
    with pytest.raises(RasterError, match="band 2 does not exist"):
        G.GridReader(src, g, band=2)


def test_gridspec_validation_and_matching(write):
    path = write("a.tif", np.zeros((4, 5)), (500000, 30, 0, 4000000, 0, -30))
    g = G.GridSpec.from_info(raster_info(path))
    assert g.shape == (4, 5) and g.resolution == (30.0, 30.0)
    assert g.resolution_metres() == (30.0, 30.0)
    shifted = G.GridSpec(UTM, (500000 + 30 * 1e-8, 30, 0, 4000000, 0, -30), 5, 4)
    assert shifted.matches(raster_info(path))                       # rounding only
    assert not G.GridSpec(UTM, (500001, 30, 0, 4000000, 0, -30), 5, 4).matches(raster_info(path))
    assert not G.GridSpec(WGS84, g.geotransform, 5, 4).matches(raster_info(path))
    with pytest.raises(ValueError, match="north-up"):
        G.GridSpec(UTM, (0, 1, 0.1, 0, 0, -1), 2, 2)
    with pytest.raises(ValueError, match="at least one pixel"):
        G.GridSpec(UTM, (0, 1, 0, 0, 0, -1), 0, 2)
    with pytest.raises(ValueError, match="unknown resampling"):
        G.gdal_resampling("lanczos5")
    assert G.choose_resampling(raster_info(path), G.GridSpec(UTM, (0, 60, 0, 0, 0, -60), 1, 1)) == "average"
    assert G.choose_resampling(raster_info(path), G.GridSpec(UTM, (0, 10, 0, 0, 0, -10), 1, 1)) == "bilinear"


# ----------------------------------------------------------------------------- grids kept
ODD = (500020.0, 30.0, 0.0, 4000010.0, 0.0, -30.0)    # edges not on multiples of 30 m


def test_identical_grids_are_kept_and_copied_bit_for_bit(write, tmp_path):
    rng = np.random.default_rng(3)
    values = rng.normal(0, 0.01, (128, 128)).astype(np.float32)
    values[5:9, 60:70] = np.nan
    a = write("a.tif", values, ODD)
    b = write("b.tif", values * 2, ODD)
    # issue 17: came out 129 x 129 on a grid shifted by 20 m, averaged, with a NaN border
    for extent in ("intersection", "union"):
        for resolution in ("coarsest", "finest"):
            g = G.plan_grid([a, b], extent=extent, resolution=resolution)
            assert g == G.GridSpec.from_info(raster_info(a))
    out = G.warp_to_grid(a, g, resampling=G.choose_resampling(raster_info(a), g),
                         output_path=str(tmp_path / "a_grid.tif"))
    assert raster_info(out).geotransform == ODD
    assert read_block(out).tobytes() == values.tobytes()
    assert G.layer_resampling(raster_info(b), g, "average") == ("nearest", True)
    out = G.warp_to_grid(b, g, resampling="nearest", output_path=str(tmp_path / "b_grid.tif"))
    assert read_block(out).tobytes() == (values * 2).tobytes()


def test_integer_layer_on_the_grid_is_copied_with_nodata_as_nan(write, tmp_path):
    values = np.arange(1, 401, dtype=np.uint16).reshape(20, 20)
    values[3, 4] = 0
    path = str(tmp_path / "dn.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 20, 20, 1, gdal.GDT_UInt16)
    ds.SetGeoTransform(ODD)
    ds.SetProjection(UTM)
    ds.GetRasterBand(1).SetNoDataValue(0)
    ds.GetRasterBand(1).WriteArray(values)
    ds = None
    # a larger float raster on the same pixel edges (one pixel more on every side)
    big = write("big.tif", np.zeros((22, 22)), (ODD[0] - 30, 30, 0, ODD[3] + 30, 0, -30))
    g = G.plan_grid([big, path], extent="union")
    assert g.geotransform == (ODD[0] - 30, 30.0, 0.0, ODD[3] + 30, 0.0, -30.0)
    method, copied = G.layer_resampling(raster_info(path), g)
    assert (method, copied) == ("nearest", True)
    got = read_block(G.warp_to_grid(path, g, resampling=method,
                                   output_path=str(tmp_path / "dn_grid.tif")))
    expected = np.full((22, 22), np.nan, np.float32)
    expected[1:21, 1:21] = np.where(values == 0, np.nan, values).astype(np.float32)
    assert got.tobytes() == expected.tobytes()


def _utm_pair(write, values):
    """A 30 m raster in UTM 33N near the zone's eastern edge and a 30 m raster in UTM 34N on
    its own 30 m grid over the same ground."""
    u33 = write("u33.tif", values, (800000.0, 30.0, 0.0, 4500000.0, 0.0, -30.0))
    src, dst = G._srs(UTM), G._srs(crs_from_epsg(32634))
    x, y, _ = gdal.osr.CoordinateTransformation(src, dst).TransformPoint(800000.0, 4500000.0)
    u34 = write("u34.tif", values, (round(x / 30) * 30, 30.0, 0.0, round(y / 30) * 30, 0.0, -30.0),
                crs_from_epsg(32634))
    return u33, u34


def test_derived_resolution_snaps_to_the_pixel_size_in_the_same_crs(write, tmp_path):
    values = np.random.default_rng(4).normal(size=(128, 128)).astype(np.float32)
    u33, u34 = _utm_pair(write, values)
    # GDAL suggests 30.018 m for the UTM 34N raster in UTM 33N (issue 17: 30.0093 m pixels)
    suggested = G._footprint(raster_info(u34), UTM)[4]
    assert 30.01 < suggested < 30.03
    notes = []
    g = G.plan_grid([u33, u34], log=notes.append)
    assert g.geotransform == (800000.0, 30.0, 0.0, 4500000.0, 0.0, -30.0)
    assert (g.width, g.height) == (128, 128)
    assert notes == [f"resolution {suggested:.10g} x {G._footprint(raster_info(u34), UTM)[5]:.10g}"
                     " m (coarsest) snapped to 30 x 30, the pixel size of u33.tif in the same CRS"]
    out = G.warp_to_grid(u33, g, resampling=G.choose_resampling(raster_info(u33), g),
                         output_path=str(tmp_path / "u33_grid.tif"))
    assert read_block(out).tobytes() == values.tobytes()
    assert G.choose_resampling(raster_info(u34), g) == "bilinear"       # reprojected
    # the other way round: the UTM 34N raster's grid is kept
    g34 = G.plan_grid([u34, u33], resolution="finest")
    assert g34 == G.GridSpec.from_info(raster_info(u34))
    # a custom resolution is taken as given, and the edges are multiples of it
    c = G.plan_grid([u33, u34], resolution=30.018)
    k = c.geotransform[0] / 30.018
    assert c.resolution == (30.018, 30.018) and k == pytest.approx(round(k), abs=1e-9)


def test_snapping_stays_within_one_percent(write):
    a = write("a.tif", np.zeros((50, 50)), (500000, 30, 0, 4000000, 0, -30))
    # a geographic raster whose suggested UTM resolution is about 45 m x 55 m: not snapped
    geo = write("geo.tif", np.zeros((40, 40)), (15.0, 0.0005, 0, 36.14, 0, -0.0005), WGS84)
    notes = []
    g = G.plan_grid([a, geo], extent="union", log=notes.append)
    assert g.resolution[0] > 40 and not notes
    assert not G.pixels_on_grid(raster_info(a), g)
