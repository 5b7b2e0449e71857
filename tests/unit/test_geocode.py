"""core/geocode.py on a synthetic radar geometry with a known non-linear mapping (Sentinel-1-like
heading, ground range non-linear in slant range so the incidence grows across the swath, a
skew), a known field, GAMMA lookup tables written from the format description, and the real
Sentinel-1 annotation's geolocation grid.

Interpolation error: the value warped to a map point is the bilinear interpolation of
``g(c, r) = f(lonlat(c, r))`` between the four radar pixels around the point's radar position
(GDAL's exact geolocation inverse, errorThreshold 0, puts that position within 1e-3 pixel
here: measured with g = c; its default approximation of 0.125 pixel does not).
Bilinear interpolation on a unit grid is exact for ``1, c, r, c·r`` and errs by at most
``(max|g_cc| + max|g_rr|) / 8`` (the remainder of the tensor-product linear interpolant),
so every geocoded value lies within that bound plus ``|grad g| · 1e-3`` of the truth."""

import math
import os

import numpy as np
import pytest
from osgeo import gdal, osr

from displacement_toolkit.core import geocode as gc
from displacement_toolkit.core.progress import Monitor, OperationCancelled
from displacement_toolkit.core.raster_io import raster_info, read_block, write_array
from displacement_toolkit.core.synthetic_geometry import RadarGeometry

from ..conftest import TEST_DATA

IDENTITY = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
GEOMETRY = RadarGeometry(160, 200, range_pixel=150.0, azimuth_pixel=120.0, skew=20.0)
ANNOTATION = next((TEST_DATA / "s1_slc_annotation_geometry").glob("*.xml"))


def field(lon, lat):
    """A smooth field with curvature in both directions (e.g. offsets, px)."""
    g = GEOMETRY
    return 5.0 * np.sin((lon - g.lon0) * 40.0) * np.cos((lat - g.lat0) * 30.0) + 100.0 * (lon - g.lon0)


def write_float64(path, array):
    ds = gdal.GetDriverByName("GTiff").Create(str(path), array.shape[1], array.shape[0], 1,
                                              gdal.GDT_Float64)
    ds.GetRasterBand(1).WriteArray(array)
    ds = None
    return str(path)


def latlon(tmp_path, geometry=GEOMETRY):
    lon, lat = geometry.lonlat(*geometry.pixel_centres())
    return (write_float64(tmp_path / "lat.tif", lat), write_float64(tmp_path / "lon.tif", lon),
            lon, lat)


def map_positions(path):
    ds = gdal.Open(str(path))
    gt, w, h = ds.GetGeoTransform(), ds.RasterXSize, ds.RasterYSize
    ds = None
    r, c = np.mgrid[0:h, 0:w] + 0.5
    return gt[0] + c * gt[1], gt[3] + r * gt[5]


def error_bound(values):
    """Bilinear bound of the module docstring for g sampled on the radar pixels."""
    second = (np.nanmax(np.abs(np.diff(values, 2, axis=1)))
              + np.nanmax(np.abs(np.diff(values, 2, axis=0)))) / 8.0
    grad = max(np.nanmax(np.abs(np.diff(values, axis=1))), np.nanmax(np.abs(np.diff(values, axis=0))))
    return second + 1e-3 * grad


def test_known_field_within_the_bilinear_bound_nan_kept_and_metadata(tmp_path):
    lat_path, lon_path, lon, lat = latlon(tmp_path)
    values = field(lon, lat)
    band2 = np.full(values.shape, 7.0)
    data = np.stack([values, band2]).astype(np.float32)
    data[:, 90:100, 40:50] = np.nan                       # a masked patch (both bands)
    src = write_array(str(tmp_path / "dx.tif"), data, IDENTITY, "",
                      ["Offset x (range)", "SNR"],
                      [{"units": "px", "quantity": "range_offset", "date": "2021-04-01"},
                       {"units": "", "quantity": "snr"}], {"reference_date": "2021-03-26"})
    out = str(tmp_path / "geo.tif")
    res = gc.geocode(src, gc.Geolocation(latitude=lat_path, longitude=lon_path), out,
                     resolution=100.0)
    got = read_block(out, 1).astype(np.float64)
    x, y = map_positions(out)
    col, row = GEOMETRY.to_radar(x, y)
    inside = (col > 0.5) & (col < 159.5) & (row > 0.5) & (row < 199.5)
    near_patch = (col > 38.5) & (col < 51.5) & (row > 88.5) & (row < 101.5)
    in_patch = (col > 40.5) & (col < 49.5) & (row > 90.5) & (row < 99.5)
    assert np.isfinite(got[inside & ~near_patch]).all()
    assert np.isnan(got[in_patch]).all() and in_patch.sum() > 50
    err = np.abs(got - field(x, y))[inside & ~near_patch]
    bound = error_bound(values)
    assert 0.005 < bound < 0.02
    assert err.max() <= bound
    # outside the footprint (more than a pixel beyond the outer pixel centres) nothing
    outside = (col < -1) | (col > 161) | (row < -1) | (row > 201)
    assert np.isnan(got[outside]).all()
    # the constant band stays exactly constant (nodata never mixed in)
    second = read_block(out, 2)
    assert np.nanmax(np.abs(second - 7.0)) < 1e-5
    info = raster_info(out)
    assert info.descriptions == raster_info(src).descriptions     # "Offset x (range) (px)", "SNR"
    assert info.band_metadata[0]["units"] == "px" and info.band_metadata[0]["date"] == "2021-04-01"
    assert info.metadata["reference_date"] == "2021-03-26"
    assert not any(k.startswith("STATISTICS_") for k in info.band_metadata[0])
    srs = osr.SpatialReference(wkt=info.crs_wkt)
    assert srs.GetAuthorityCode(None) == "4326"
    # 100 m at the scene's latitude, and pixel edges on multiples of the resolution
    ry = -info.geotransform[5]
    assert ry * math.pi / 180 * 6371008.8 == pytest.approx(100.0, rel=1e-9)
    assert info.geotransform[3] / ry == pytest.approx(round(info.geotransform[3] / ry), abs=1e-6)
    assert 0.6 < res.valid_fraction < 1.0


def test_same_result_as_gdal_geolocation_warp(tmp_path):
    """The documented GDAL recipe (docs/offset_tracking.md) on the same grid gives the same
    numbers: the toolkit adds no resampling of its own."""
    lat_path, lon_path, lon, lat = latlon(tmp_path)
    values = field(lon, lat).astype(np.float32)
    values[5:9, 5:9] = np.nan
    src = write_array(str(tmp_path / "v.tif"), values, IDENTITY, "")
    for resampling in ("bilinear", "nearest", "average"):
        out = str(tmp_path / f"geo_{resampling}.tif")
        res = gc.geocode(src, gc.Geolocation(latitude=lat_path, longitude=lon_path), out,
                         resolution=300.0 if resampling == "average" else 120.0,
                         resampling=resampling)
        vrt = gdal.Translate(str(tmp_path / "manual.vrt"), src, format="VRT")
        vrt.SetMetadata({"X_DATASET": lon_path, "X_BAND": "1", "Y_DATASET": lat_path,
                         "Y_BAND": "1", "PIXEL_OFFSET": "0", "LINE_OFFSET": "0",
                         "PIXEL_STEP": "1", "LINE_STEP": "1",
                         "GEOREFERENCING_CONVENTION": "PIXEL_CENTER",
                         "SRS": osr.SRS_WKT_WGS84_LAT_LONG}, "GEOLOCATION")
        vrt = None
        xmin, ymin, xmax, ymax = res.grid.extent
        manual = gdal.Warp("", str(tmp_path / "manual.vrt"), format="MEM", geoloc=True,
                           dstSRS="EPSG:4326", outputBounds=(xmin, ymin, xmax, ymax),
                           xRes=res.grid.resolution[0], yRes=res.grid.resolution[1],
                           resampleAlg={"nearest": "near"}.get(resampling, resampling),
                           srcNodata="nan", dstNodata="nan", outputType=gdal.GDT_Float32,
                           errorThreshold=0)
        expected = manual.ReadAsArray()
        manual = None
        got = read_block(out)
        assert got.shape == expected.shape
        assert np.array_equal(np.isnan(got), np.isnan(expected))
        assert np.nanmax(np.abs(got - expected)) == 0.0


def test_average_never_mixes_nodata_in(tmp_path):
    lat_path, lon_path, _, _ = latlon(tmp_path)
    values = np.full((200, 160), 3.0, dtype=np.float32)
    values[:, 80:] = -9999.0                              # declared nodata
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "m.tif"), 160, 200, 1, gdal.GDT_Float32)
    ds.GetRasterBand(1).WriteArray(values)
    ds.GetRasterBand(1).SetNoDataValue(-9999.0)
    ds = None
    out = str(tmp_path / "avg.tif")
    gc.geocode(str(tmp_path / "m.tif"), gc.Geolocation(latitude=lat_path, longitude=lon_path),
               out, resolution=500.0, resampling="average")
    got = read_block(out)
    finite = got[np.isfinite(got)]
    assert finite.size > 100 and np.all(finite == 3.0)
    x, y = map_positions(out)
    col, _ = GEOMETRY.to_radar(x, y)
    assert np.isnan(got[(col > 82) & (col < 158)]).all()


def test_lat_lon_with_nan_edges_like_mintpy(tmp_path):
    """GDAL 3.6 cannot take NaN in geolocation arrays: they are copied with a nodata value."""
    lon, lat = GEOMETRY.lonlat(*GEOMETRY.pixel_centres())
    lon[:, :20] = np.nan
    lat[:, :20] = np.nan
    lat_path, lon_path = write_float64(tmp_path / "lat.tif", lat), write_float64(tmp_path / "lon.tif", lon)
    good_lon, good_lat = GEOMETRY.lonlat(*GEOMETRY.pixel_centres())
    src = write_array(str(tmp_path / "v.tif"), field(good_lon, good_lat).astype(np.float32),
                      IDENTITY, "")
    out = str(tmp_path / "geo.tif")
    res = gc.geocode(src, gc.Geolocation(latitude=lat_path, longitude=lon_path), out,
                     resolution=100.0)
    assert any("nodata" in n for n in res.notes)
    got = read_block(out).astype(np.float64)
    x, y = map_positions(out)
    col, row = GEOMETRY.to_radar(x, y)
    inside = (col > 20.5) & (col < 159.5) & (row > 0.5) & (row < 199.5)
    assert np.isfinite(got[inside]).all()
    assert np.abs(got - field(x, y))[inside].max() <= error_bound(field(good_lon, good_lat))
    assert np.isnan(got[col < 18]).all()


def test_offset_tracking_window_grid(tmp_path):
    """Offsets on a window grid (step 8, windows 16, search 4): each pixel is a window centre
    on the SLC grid the latitude/longitude describe."""
    from displacement_toolkit.core import offset_tracking as ot
    slc = RadarGeometry(640, 800, range_pixel=37.5, azimuth_pixel=30.0, skew=5.0)
    lat_path, lon_path, _, _ = latlon(tmp_path, slc)
    p = ot.TrackingParameters(window_x=16, window_y=16, search_x=4, search_y=4, step_x=8, step_y=8)
    cols, rows = ot.output_grid(640, 800, p)
    cc, rr = np.meshgrid(cols, rows)
    values = field(*slc.lonlat(cc, rr))
    meta = gc.radar_metadata(IDENTITY, "", {gc.LATITUDE_KEY: lat_path, gc.LONGITUDE_KEY: lon_path},
                             ot.output_geotransform(IDENTITY, p))
    src = write_array(str(tmp_path / "dx.tif"), values.astype(np.float32),
                      ot.output_geotransform(IDENTITY, p), "", metadata=meta)
    out = str(tmp_path / "geo.tif")
    res = gc.geocode(src, None, out)                      # everything from the metadata
    assert any("sampled" in n for n in res.notes)
    got = read_block(out).astype(np.float64)
    x, y = map_positions(out)
    col, row = slc.to_radar(x, y)
    j, i = (col - cols[0]) / 8.0, (row - rows[0]) / 8.0  # fractional window index
    inside = (j > 0) & (j < cols.size - 1) & (i > 0) & (i < rows.size - 1)
    assert inside.sum() > 1000
    assert np.isfinite(got[inside]).all()
    assert np.abs(got - field(x, y))[inside].max() <= error_bound(values) + 1e-4
    # half a window off would be far outside the bound
    shifted = field(*slc.lonlat(col + 4.0, row))
    assert np.abs(got - shifted)[inside].max() > 10 * error_bound(values)
    # default resolution: the square pixel of a window's ground area
    spacing = [n for n in res.notes if n.startswith("ground spacing")][0]
    assert "x 240 m (rows)" in spacing


STEP_SAMPLES, STEP_LINES = 541, 79     # the annotation grid: every 1082 samples, 1501 lines


def _s1_input(tmp_path):
    """A raster on the annotation's radar grid, one pixel per 541 samples x 79 lines, centred
    so that the annotation's grid points are pixel centres (the geolocation, bilinear in each
    annotation cell, is then bilinear in each of the raster's cells too, as GDAL interpolates
    it), holding the SLC sample (band 1) and line (band 2) index of its centre."""
    ann = gc._AnnotationSampler(str(ANNOTATION)).annotation
    w, h = ann.samples // STEP_SAMPLES, ann.lines // STEP_LINES
    c, r = np.meshgrid(np.arange(w) * STEP_SAMPLES, np.arange(h) * STEP_LINES)
    t = (0.5 - STEP_SAMPLES / 2.0, float(STEP_SAMPLES), 0.0, 0.5 - STEP_LINES / 2.0, 0.0,
         float(STEP_LINES))
    src = write_array(str(tmp_path / "s1.tif"), np.stack([c, r]).astype(np.float32), IDENTITY, "",
                      metadata={gc.ANNOTATION_KEY: str(ANNOTATION),
                                gc.RADAR_TRANSFORM_KEY: " ".join(map(str, t))})
    return ann, src


def test_sentinel1_annotation_grid_points_and_corners(tmp_path):
    ann, src = _s1_input(tmp_path)
    sampler = gc._AnnotationSampler(str(ANNOTATION))
    lon, lat = sampler(ann.pixel + 0.5, ann.line + 0.5)  # the grid points themselves
    assert np.abs(lon - ann.longitude).max() < 1e-9 and np.abs(lat - ann.latitude).max() < 1e-9
    out = str(tmp_path / "s1_geo.tif")
    res = gc.geocode(src, None, out, resolution=100.0)
    # every annotation point inside the raster maps back to its own sample and line
    ds = gdal.Open(out)
    gt = ds.GetGeoTransform()
    bands = ds.ReadAsArray().astype(np.float64)
    ds = None
    inner = ((ann.pixel > 0) & (ann.pixel < ann.pixel.max()) & (ann.line > 0)
             & (ann.line < ann.line.max()))
    assert inner.sum() >= 100
    col = ((ann.longitude - gt[0]) / gt[1])[inner]
    row = ((ann.latitude - gt[3]) / gt[5])[inner]
    from scipy import ndimage
    got_pixel = ndimage.map_coordinates(bands[0], [row - 0.5, col - 0.5], order=1)
    got_line = ndimage.map_coordinates(bands[1], [row - 0.5, col - 0.5], order=1)
    err_pixel = np.abs(got_pixel - ann.pixel[inner])
    err_line = np.abs(got_line - ann.line[inner])
    # the lines are exact up to GDAL's inverse (bilinear in each cell, as the annotation);
    # the samples change slope at each grid point (terrain heights of 1 to 2.8 km shift the
    # ground range between grid columns), so interpolating the 100 m map pixels linearly
    # across that kink errs by at most h/4 (|s1| + |s2|) <= h/2 max|s| (slopes s1, s2 on its
    # sides): half the value's largest change over one map pixel around the point
    assert err_line.max() < 0.5
    change = ndimage.maximum_filter(np.nan_to_num(np.hypot(*np.gradient(bands[0]))), size=3)
    local = ndimage.map_coordinates(change, [row - 0.5, col - 0.5], order=0)
    assert np.all(err_pixel <= 0.5 * local)
    assert np.median(err_pixel) < 1.0                 # 4 m on the ground, map pixels of 100 m
    # the corner grid points of the annotation (outer pixel centres of the raster) lie inside
    # the output grid, less than one map pixel from its edge
    xmin, ymin, xmax, ymax = res.grid.extent
    rx, ry = res.grid.resolution
    for line in (ann.line.min(), (ann.lines // STEP_LINES - 1) * STEP_LINES):
        for pixel in (ann.pixel.min(), (ann.samples // STEP_SAMPLES - 1) * STEP_SAMPLES):
            lon_c, lat_c = sampler(np.array([pixel + 0.5]), np.array([line + 0.5]))
            assert xmin < lon_c[0] < xmax and ymin < lat_c[0] < ymax
    lon_all, lat_all = sampler(*np.meshgrid(
        np.arange(ann.samples // STEP_SAMPLES) * STEP_SAMPLES + 0.5,
        np.arange(ann.lines // STEP_LINES) * STEP_LINES + 0.5))
    assert lon_all.min() - xmin < 1.5 * rx and xmax - lon_all.max() < 1.5 * rx
    assert lat_all.min() - ymin < 1.5 * ry and ymax - lat_all.max() < 1.5 * ry
    corner = (ann.line == 0) & (ann.pixel == 0)
    assert lon_all[0, 0] == pytest.approx(float(ann.longitude[corner][0]), abs=1e-9)
    assert lat_all[0, 0] == pytest.approx(float(ann.latitude[corner][0]), abs=1e-9)
def write_lookup_table(path, rng, az):
    """A GAMMA lookup table: complex float32, big-endian, real = range sample, imaginary =
    azimuth line, (0, 0) outside the radar image (TintPy geocode.py reads it so)."""
    table = np.empty(rng.shape + (2,), dtype=">f4")
    table[..., 0], table[..., 1] = rng, az
    table.tofile(str(path))


def write_dem_par(path, width, height, corner_lon, corner_lat, post_lon, post_lat):
    """A GAMMA DEM parameter file (EQA): corner_lat/corner_lon = centre of the first pixel."""
    text = (f"Gamma DIFF&GEO DEM/MAP parameter file\ntitle: synthetic\nDEM_projection:     EQA\n"
            f"data_format:        REAL*4\nDEM_hgt_offset:          0.00000\n"
            f"DEM_scale:               1.00000\nwidth:                {width}\n"
            f"nlines:               {height}\ncorner_lat:     {corner_lat:.10f}  decimal degrees\n"
            f"corner_lon:    {corner_lon:.10f}  decimal degrees\n"
            f"post_lat:   {post_lat:.10e}  decimal degrees\npost_lon:    {post_lon:.10e}  "
            "decimal degrees\n\nellipsoid_name: WGS 84\n")
    open(path, "w").write(text)


def test_gamma_lookup_table(tmp_path):
    g = GEOMETRY
    lon_c, lat_c = g.lonlat(*g.pixel_centres())
    post = 0.001
    width, height = 420, 300
    corner_lon = math.floor(lon_c.min() / post) * post
    corner_lat = math.ceil(lat_c.max() / post) * post
    mlon, mlat = np.meshgrid(corner_lon + np.arange(width) * post, corner_lat - np.arange(height) * post)
    col, row = g.to_radar(mlon, mlat)
    rng, az = col - 0.5, row - 0.5                          # sample indices
    outside = (rng < 0) | (rng > g.width - 1) | (az < 0) | (az > g.height - 1)
    rng[outside], az[outside] = 0.0, 0.0
    write_lookup_table(tmp_path / "20210401.lt", rng, az)
    write_dem_par(str(tmp_path / "EQA.dem_par"), width, height, corner_lon, corner_lat, post, -post)
    values = field(lon_c, lat_c).astype(np.float32)
    values[90:100, 40:50] = np.nan
    src = write_array(str(tmp_path / "v.tif"), values, IDENTITY, "", ["v"], [{"units": "mm"}])
    geo = gc.Geolocation(lookup_table=str(tmp_path / "20210401.lt"), dem_par=str(tmp_path / "EQA.dem_par"))
    out = str(tmp_path / "geo.tif")
    res = gc.geocode(src, geo, out)
    info = raster_info(out)
    assert (info.width, info.height) == (width, height)
    assert info.geotransform == pytest.approx(
        (corner_lon - post / 2, post, 0, corner_lat + post / 2, 0, -post))
    assert res.grid.width == width
    got = read_block(out).astype(np.float64)
    near_patch = (col > 38.5) & (col < 51.5) & (row > 88.5) & (row < 101.5)
    ok = ~outside & ~near_patch
    assert np.abs(got - field(mlon, mlat))[ok].max() <= error_bound(field(lon_c, lat_c))
    assert np.isnan(got[outside]).all()
    in_patch = (col > 40.5) & (col < 49.5) & (row > 90.5) & (row < 99.5)
    assert np.isnan(got[in_patch]).all()
    assert info.band_metadata[0]["units"] == "mm"
    # nearest: every value is one of the input's
    gc.geocode(src, geo, str(tmp_path / "near.tif"), resampling="nearest")
    near = read_block(str(tmp_path / "near.tif"))
    assert np.isin(near[np.isfinite(near)], values[np.isfinite(values)]).all()
    # on UTM at 200 m: warped from the DEM grid
    gc.geocode(src, geo, str(tmp_path / "utm.tif"), crs="utm", resolution=200.0)
    utm = raster_info(str(tmp_path / "utm.tif"))
    assert osr.SpatialReference(wkt=utm.crs_wkt).GetUTMZone() == 5
    assert utm.geotransform[1] == 200.0
    # a table of the wrong size is named
    write_dem_par(str(tmp_path / "bad.dem_par"), width + 1, height, corner_lon, corner_lat, post, -post)
    with pytest.raises(ValueError, match="LOOKUP_TABLE .* bytes"):
        gc.geocode(src, gc.Geolocation(lookup_table=str(tmp_path / "20210401.lt"),
                                       dem_par=str(tmp_path / "bad.dem_par")), str(tmp_path / "x.tif"))
    assert not os.path.exists(tmp_path / "x.tif")


def test_errors_and_cancel(tmp_path):
    lat_path, lon_path, lon, lat = latlon(tmp_path)
    src = write_array(str(tmp_path / "v.tif"), field(lon, lat).astype(np.float32), IDENTITY, "")
    with pytest.raises(ValueError, match="names no geolocation"):
        gc.geocode(src, None, str(tmp_path / "a.tif"))
    mapped = write_array(str(tmp_path / "m.tif"), np.zeros((4, 4), np.float32),
                         (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0), gc.crs_from_epsg(32633))
    with pytest.raises(ValueError, match="already has a CRS"):
        gc.geocode(mapped, gc.Geolocation(latitude=lat_path, longitude=lon_path), str(tmp_path / "b.tif"))
    small = write_array(str(tmp_path / "s.tif"), np.zeros((10, 10), np.float32), IDENTITY, "")
    with pytest.raises(ValueError, match="LATITUDE/LONGITUDE are 160 x 200"):
        gc.geocode(small, gc.Geolocation(latitude=lat_path, longitude=lon_path), str(tmp_path / "c.tif"))
    with pytest.raises(ValueError, match="exactly one geolocation"):
        gc.Geolocation(latitude=lat_path, longitude=lon_path, annotation=str(ANNOTATION))
    progress = []
    gc.geocode(src, gc.Geolocation(latitude=lat_path, longitude=lon_path), str(tmp_path / "p.tif"),
               monitor=Monitor(progress=progress.append))
    assert progress[-1] == 1.0 and np.all(np.diff(progress) >= 0) and len(progress) > 5
    out = tmp_path / "cancelled.tif"
    with pytest.raises(OperationCancelled):
        gc.geocode(src, gc.Geolocation(latitude=lat_path, longitude=lon_path), str(out),
                   monitor=Monitor(is_cancelled=lambda: True))
    assert not out.exists()
    assert [p for p in os.listdir(tmp_path) if p.startswith((".cancelled", "geocode_"))] == []


def test_gamma_lookup_table_average_of_a_coarse_map_grid(tmp_path):
    """Map pixels of ~630 m over radar pixels of ~280 m x 120 m: average takes the mean of
    the radar pixels inside each map pixel (about 10), so white noise of 1 shrinks to about
    1/sqrt(10), where bilinear keeps most of it; declared nodata is never averaged in."""
    g = GEOMETRY
    post = 0.006
    lon_c, lat_c = g.lonlat(*g.pixel_centres())
    corner_lon = math.floor(lon_c.min() / post) * post
    corner_lat = math.ceil(lat_c.max() / post) * post
    width, height = 75, 55
    mlon, mlat = np.meshgrid(corner_lon + np.arange(width) * post, corner_lat - np.arange(height) * post)
    col, row = g.to_radar(mlon, mlat)
    rng, az = col - 0.5, row - 0.5
    outside = (rng < 0) | (rng > g.width - 1) | (az < 0) | (az > g.height - 1)
    rng[outside], az[outside] = 0.0, 0.0
    write_lookup_table(tmp_path / "coarse.lt", rng, az)
    write_dem_par(str(tmp_path / "coarse.dem_par"), width, height, corner_lon, corner_lat, post, -post)
    geo = gc.Geolocation(lookup_table=str(tmp_path / "coarse.lt"), dem_par=str(tmp_path / "coarse.dem_par"))
    rr, cc = np.mgrid[0:g.height, 0:g.width]
    noise = np.random.default_rng(3).standard_normal(rr.shape)
    src = write_array(str(tmp_path / "noisy.tif"), (0.3 * cc + 0.2 * rr + noise).astype(np.float32),
                      IDENTITY, "")
    inner = ~outside & (col > 4) & (col < g.width - 4) & (row > 6) & (row < g.height - 6)
    residual = {}
    for resampling in ("bilinear", "average"):
        out = str(tmp_path / f"{resampling}.tif")
        gc.geocode(src, geo, out, resampling=resampling)
        got = read_block(out).astype(np.float64)
        residual[resampling] = got[inner] - (0.3 * rng[inner] + 0.2 * az[inner])
    assert inner.sum() > 500
    # measured 0.24 against 0.68: the noise mean of >= 10 pixels (<= 0.32) plus the box mean of
    # the linear part, within half a pixel of the centre (0.25 at most, about 0.1 RMS)
    assert np.sqrt(np.mean(residual["average"] ** 2)) < 0.35
    assert np.sqrt(np.mean(residual["bilinear"] ** 2)) > 0.6
    # nodata: a constant with a declared -9999 half
    values = np.full((g.height, g.width), 4.0, dtype=np.float32)
    values[:, 80:] = -9999.0
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "half.tif"), g.width, g.height, 1,
                                              gdal.GDT_Float32)
    ds.GetRasterBand(1).WriteArray(values)
    ds.GetRasterBand(1).SetNoDataValue(-9999.0)
    ds = None
    gc.geocode(str(tmp_path / "half.tif"), geo, str(tmp_path / "half_avg.tif"), resampling="average")
    got = read_block(str(tmp_path / "half_avg.tif"))
    assert np.all(got[np.isfinite(got)] == 4.0) and np.isfinite(got).sum() > 300
    assert np.isnan(got[~outside & (col > 86)]).all()


def test_complex_interferogram_keeps_its_phase(tmp_path):
    lat_path, lon_path, lon, lat = latlon(tmp_path)
    g = GEOMETRY
    z = (2.0 * np.exp(1j * (50.0 * (lon - g.lon0) + 30.0 * (lat - g.lat0)))).astype(np.complex64)
    z[50:60, 50:60] = np.nan
    src = write_array(str(tmp_path / "ifg.tif"), z, IDENTITY, "", ["interferogram"], [{"units": "1"}])
    out = str(tmp_path / "ifg_geo.tif")
    res = gc.geocode(src, gc.Geolocation(latitude=lat_path, longitude=lon_path), out, resolution=100.0)
    assert raster_info(out).data_types == ["CFloat32"]
    got = read_block(out)
    x, y = map_positions(out)
    col, row = g.to_radar(x, y)
    near_hole = (col > 47.5) & (col < 62.5) & (row > 47.5) & (row < 62.5)
    inside = (col > 0.5) & (col < 159.5) & (row > 0.5) & (row < 199.5) & ~near_hole
    truth = np.exp(1j * (50.0 * (x - g.lon0) + 30.0 * (y - g.lat0)))
    assert np.isfinite(got[inside]).all()
    # measured 6e-5 rad and 0.006 (bilinear of a rotating phasor shortens it slightly)
    assert np.abs(np.angle(got[inside] * np.conj(truth[inside]))).max() < 1e-3
    assert np.abs(np.abs(got[inside]) - 2.0).max() < 0.02
    assert np.isnan(got[(col > 51) & (col < 59) & (row > 51) & (row < 59)]).all()
    assert res.stats[0]["max"] == pytest.approx(2.0, abs=0.01)      # styled on |z|
    with pytest.raises(ValueError, match="average.*mixes phases"):
        gc.geocode(src, gc.Geolocation(latitude=lat_path, longitude=lon_path),
                   str(tmp_path / "a.tif"), resampling="average")
