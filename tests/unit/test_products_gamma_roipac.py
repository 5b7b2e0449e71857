"""GAMMA and ROI_PAC readers on real PyRate Envisat interferograms (tests/data/pyrate_sydney_envisat).

Truth: the same interferogram exists in three independent encodings (ROI_PAC little-endian
RMG + .rsc, GAMMA big-endian + .par, PyRate GeoTIFF); numbers must agree between them and
with the parameter files read by hand here.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest

from displacement_toolkit.core import geometry as geo
from displacement_toolkit.core.products import ProductError, open_product

DATA = Path(__file__).resolve().parents[1] / "data" / "pyrate_sydney_envisat"
ROIPAC = DATA / "geo_060619-061002.unw"
GAMMA = DATA / "20060619-20061002_utm.unw"
TIF = DATA / "geo_060619-061002_unw.tif"
STEP = 0.000833333


def raw_roipac_phase():
    raw = np.fromfile(ROIPAC, "<f4").reshape(72, 2, 47)[:, 1, :].astype(np.float32)
    raw[raw == 0] = np.nan
    return raw


def test_roipac_reads_phase_band_georeferencing_dates_and_wavelength():
    p = open_product(str(ROIPAC))
    assert p.processor == "ROI_PAC"
    assert (p.width, p.height) == (47, 72)
    assert p.geotransform == pytest.approx((150.91, STEP, 0.0, -34.17, 0.0, -STEP))
    assert "WGS 84" in p.crs_wkt
    phase = p.read("unwrapped_phase")
    np.testing.assert_array_equal(phase, raw_roipac_phase())
    assert np.isnan(phase).sum() == 89            # the zeros of the file
    layer = p.layer("unwrapped_phase")
    assert layer.units == "rad"
    assert [d.isoformat() for d in layer.date_pair] == ["2006-06-19", "2006-10-02"]
    assert p.reference_date.isoformat() == "2006-06-19"
    assert p.wavelength() == pytest.approx(0.0562356424)
    # a window read matches the full read
    np.testing.assert_array_equal(p.read("unwrapped_phase", 1, 10, 5, 7, 9), phase[10:17, 5:14])


def test_roipac_without_incidence_names_the_parameter_to_set():
    p = open_product(str(ROIPAC))
    with pytest.raises(ProductError, match="set the incidence angle parameter"):
        p.incidence()
    with pytest.raises(ProductError, match="heading"):
        p.los_azimuth()


def test_gamma_reads_the_same_phase_big_endian_with_pixel_centre_corner():
    g = open_product(str(GAMMA))
    r = open_product(str(ROIPAC))
    assert g.processor == "GAMMA"
    np.testing.assert_array_equal(g.read("unwrapped_phase"), r.read("unwrapped_phase"))
    # PyRate copied X_FIRST into corner_lon; GAMMA's corner is a pixel centre
    assert g.geotransform == pytest.approx(
        (150.91 - STEP / 2, STEP, 0.0, -34.17 + STEP / 2, 0.0, -STEP), abs=1e-12)
    assert [d.isoformat() for d in g.layer("unwrapped_phase").date_pair] == ["2006-06-19", "2006-10-02"]


def test_gamma_geometry_from_slc_par_and_inc_raster():
    g = open_product(str(GAMMA))
    geom = g.geometry
    assert geom.heading == pytest.approx(193.1522256)
    assert geom.look_direction == "right"
    assert geom.wavelength == pytest.approx(299792458.0 / 5.334694994e9)
    inc = g.incidence()
    assert inc.shape == (72, 47)
    np.testing.assert_allclose(inc, 22.9671, atol=1e-4)   # the .inc raster (degrees here)
    az = g.los_azimuth()
    np.testing.assert_allclose(az, 90.0 - 193.1522256 + 360.0 - 360.0, atol=1e-9)
    e, n, u = g.los_unit_vector(0, 0, 2, 2)
    e0, n0, u0 = geo.los_unit_vector_from_heading(22.9671, 193.1522256, "right")
    np.testing.assert_allclose(e, e0, atol=1e-6)
    np.testing.assert_allclose(n, n0, atol=1e-6)
    np.testing.assert_allclose(u, u0, atol=1e-6)
    # descending right-looking Envisat: the satellite is to the east, LOS east component > 0
    assert float(e0) > 0.35


def test_pyrate_geotiff_agrees_with_roipac():
    t = open_product(str(TIF))
    r = open_product(str(ROIPAC))
    assert t.geotransform == pytest.approx(r.geotransform)
    layer = t.layers[0]
    assert layer.units == "rad"
    np.testing.assert_array_equal(t.read(layer.name), r.read("unwrapped_phase"))
    assert t.geometry.wavelength == pytest.approx(0.05623564240081464)


def test_truncated_gamma_file_is_reported_with_its_name(tmp_path):
    for name in ("20060619_utm_dem.par", "20060619_slc.par"):
        shutil.copy(DATA / name, tmp_path / name)
    bad = tmp_path / "20060619-20061002_utm.unw"
    bad.write_bytes(GAMMA.read_bytes()[:5000])
    with pytest.raises(ProductError, match=r"20060619-20061002_utm\.unw.*truncated"):
        open_product(str(bad))


def test_rsc_without_width_is_reported(tmp_path):
    shutil.copy(ROIPAC, tmp_path / ROIPAC.name)
    text = (DATA / (ROIPAC.name + ".rsc")).read_text().replace("WIDTH", "WIDTHX")
    (tmp_path / (ROIPAC.name + ".rsc")).write_text(text)
    with pytest.raises(ProductError, match=r"\.rsc.*WIDTH is missing"):
        open_product(str(tmp_path / ROIPAC.name))


def test_gamma_dem_par_without_corner_is_reported(tmp_path):
    shutil.copy(GAMMA, tmp_path / GAMMA.name)
    lines = [ln for ln in (DATA / "20060619_utm_dem.par").read_text().splitlines()
             if not ln.startswith(("post_lat", "post_lon"))]
    (tmp_path / "20060619_utm_dem.par").write_text("\n".join(lines))
    with pytest.raises(ProductError, match="post_lat"):
        open_product(str(tmp_path / GAMMA.name))


def test_gamma_lv_theta_and_lv_phi_rasters_in_radians(tmp_path):
    """GAMMA look_vector output (radians): incidence = 90 deg - lv_theta, LOS azimuth = lv_phi - 90 deg."""
    for name in ("20060619-20061002_utm.unw", "20060619_utm_dem.par", "20060619_slc.par"):
        shutil.copy(DATA / name, tmp_path / name)
    r, c = np.mgrid[0:72, 0:47]
    incidence = 20.0 + 0.1 * c
    np.radians(90.0 - incidence).astype(">f4").tofile(tmp_path / "20060619_utm.lv_theta")
    np.radians(np.full((72, 47), 90.0 - 103.0)).astype(">f4").tofile(tmp_path / "20060619_utm.lv_phi")
    g = open_product(str(tmp_path / GAMMA.name))
    np.testing.assert_allclose(g.incidence(), incidence, atol=1e-4)
    np.testing.assert_allclose(g.los_azimuth(), -103.0, atol=1e-4)
    assert g.layer("incidence_angle").metadata["auxiliary"] == "20060619_utm.lv_theta"


def test_gamma_raster_with_a_mintpy_prep_gamma_rsc(tmp_path):
    """MintPy's prep_gamma.py writes <file>.rsc (PROCESSOR gamma) next to GAMMA's big-endian file."""
    unw = tmp_path / GAMMA.name
    shutil.copy(GAMMA, unw)
    (tmp_path / (GAMMA.name + ".rsc")).write_text(
        "WIDTH 47\nFILE_LENGTH 72\nX_FIRST 150.91\nY_FIRST -34.17\nX_STEP 0.000833333\n"
        "Y_STEP -0.000833333\nX_UNIT degrees\nY_UNIT degrees\nWAVELENGTH 0.0562356424\n"
        "PROCESSOR gamma\nDATE12 060619-061002\nHEADING_DEG 193.1522256\n")
    p = open_product(str(unw))
    assert p.processor == "GAMMA"
    np.testing.assert_array_equal(p.read("unwrapped_phase"), raw_roipac_phase())
    assert p.geotransform == pytest.approx(open_product(str(ROIPAC)).geotransform)
    assert p.geometry.heading == pytest.approx(193.1522256)


# --- GAMMA inputs as users hold them -------------------------------------------------------
def test_dem_par_corner_is_the_centre_of_the_first_pixel():
    """The corner convention of GAMMA DEM/geocoding parameter files, pinned.

    GAMMA DIFF&GEO Reference Manual, "DEM_par": ``corner_lat`` / ``corner_lon`` (EQA) and
    ``corner_north`` / ``corner_east`` (UTM...) are the coordinates "of first DEM pixel"
    (a GAMMA pixel coordinate is the pixel's centre: pyroSAR's ``ISPPar.envidict`` shifts
    them by half a post to the north-west "since GAMMA pixel coordinates are defined for the
    pixel center").  LiCSBAS agrees: LiCSBAS02_ml_prep.py computes the last latitude as
    ``corner_lat + post_lat * (length - 1)`` (grid registration) and shifts by half a pixel
    when writing GeoTIFFs; its author confirms it in LiCSBAS issue #135 (open: users see the
    half pixel between GeoTIFF and EQA.dem_par).  PyRate's converter (pyrate/core/gamma.py,
    ``parse_dem_header``) copies ``corner_lat``/``corner_lon`` into the GeoTIFF origin (the
    pixel's edge), an open question since PyRate issue #13 ("gamma.py may be producing
    rasters 'out' by half a pixel").  So GDAL's origin is corner - post / 2.
    """
    par = {k.strip(): v.split()[0] for k, v in (ln.split(":", 1) for ln in
           (DATA / "20060619_utm_dem.par").read_text().splitlines() if ":" in ln)}
    lat, lon = float(par["corner_lat"]), float(par["corner_lon"])
    dlat, dlon = float(par["post_lat"]), float(par["post_lon"])
    g = open_product(str(GAMMA))
    x0, dx, _, y0, _, dy = g.geotransform
    assert (x0 + dx / 2, y0 + dy / 2) == pytest.approx((lon, lat), abs=1e-12)   # first pixel centre
    assert (dx, dy) == pytest.approx((dlon, dlat), abs=1e-15)
    # PyRate's GeoTIFF of the same data puts the corner at the pixel's edge: half a post apart
    t = open_product(str(TIF))
    assert (t.geotransform[0] - x0, t.geotransform[3] - y0) == pytest.approx((dlon / 2, dlat / 2))


def test_the_par_itself_opens_the_binary_it_describes(tmp_path):
    dem = np.fromfile(DATA / "20060619_utm.dem", ">f4").reshape(72, 47)
    p = open_product(str(DATA / "20060619_utm_dem.par"))
    assert p.path.endswith("20060619_utm.dem") and p.layer_names[0] == "height"
    np.testing.assert_array_equal(p.read("height"), dem.astype(np.float32))
    assert p.geotransform == pytest.approx(open_product(str(GAMMA)).geotransform)
    # an SLC parameter file whose SLC is not there: a clear error, not the header read as pixels
    with pytest.raises(ProductError, match=r"20060619_slc\.par.*parameter file, not a raster.*"
                                           r"20060619_slc or 20060619\.slc"):
        open_product(str(DATA / "20060619_slc.par"))
    # a <name>.dem_par describes <name>.dem (an EQA.dem_par folder is LiCSBAS's: little-endian)
    shutil.copy(DATA / "20060619_utm_dem.par", tmp_path / "sydney.dem_par")
    shutil.copy(DATA / "20060619_utm.dem", tmp_path / "sydney.dem")
    np.testing.assert_array_equal(open_product(str(tmp_path / "sydney.dem_par")).read("height"), dem)


def test_a_folder_of_gamma_outputs_is_a_stack_in_date_order(tmp_path):
    folder = tmp_path / "gamma"
    folder.mkdir()
    for name in ("20061106-20061211_utm.unw", "20060619-20061002_utm.unw", "20060619_utm_dem.par",
                 "20060619_slc.par", "20061106_slc.par", "20060619_utm.inc", "20060619_utm.dem"):
        shutil.copy(DATA / name, folder / name)
    p = open_product(str(folder))
    assert (p.processor, p.product_type) == ("GAMMA", "interferogram stack")
    layer = p.layer("unwrapped_phase")
    assert layer.bands == 2
    assert [(a.isoformat(), b.isoformat()) for a, b in layer.band_date_pairs] == [
        ("2006-06-19", "2006-10-02"), ("2006-11-06", "2006-12-11")]
    np.testing.assert_array_equal(p.read("unwrapped_phase", 1), raw_roipac_phase())
    roipac2 = open_product(str(DATA / "geo_061106-061211.unw")).read("unwrapped_phase")
    np.testing.assert_array_equal(p.read("unwrapped_phase", 2), roipac2)   # the ROI_PAC twin
    np.testing.assert_allclose(p.incidence(), 22.9671, atol=1e-4)
    assert p.geotransform == pytest.approx(open_product(str(GAMMA)).geotransform)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ProductError, match="HyP3.*or a folder of GAMMA"):
        open_product(str(empty))


def test_a_binary_with_its_own_par_beside_it(tmp_path):
    """ifg.unw + ifg.unw.par (a DEM/MAP parameter file of its grid), no *dem.par in the folder."""
    shutil.copy(GAMMA, tmp_path / "ifg.unw")
    shutil.copy(DATA / "20060619_utm_dem.par", tmp_path / "ifg.unw.par")
    p = open_product(str(tmp_path / "ifg.unw"))
    assert p.processor == "GAMMA" and p.metadata["dem_par"] == "ifg.unw.par"
    np.testing.assert_array_equal(p.read("unwrapped_phase"), raw_roipac_phase())
    assert p.geotransform == pytest.approx(open_product(str(GAMMA)).geotransform)
    # and the .par given instead of the binary opens the same raster
    np.testing.assert_array_equal(open_product(str(tmp_path / "ifg.unw.par")).read("unwrapped_phase"),
                                  raw_roipac_phase())
