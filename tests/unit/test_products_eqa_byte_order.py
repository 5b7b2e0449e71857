"""A folder with a GAMMA ``EQA.dem_par`` holds either LiCSBAS flat files (little-endian
float32, numpy ``tofile``) or GAMMA binaries (big-endian): the reader decides by the
folder's layout and refuses when the layout does not tell.

Layouts (from the processors' own documentation):
- LiCSBAS02_ml_prep.py, "Outputs in GEOCml*": ``yyyymmdd_yyyymmdd/yyyymmdd_yyyymmdd.unw``
  (float32), ``.cc`` (uint8), ``baselines``, ``EQA.dem_par``, ``slc.mli.par`` (three lines:
  range_samples, azimuth_lines, radar_frequency), ``hgt``, ``E.geo``/``N.geo``/``U.geo``.
- GAMMA DIFF&GEO / LiCSAR ``geo/``: ``EQA.dem`` described by ``EQA.dem_par``, lookup tables
  ``*.lt``/``*.lt_fine``, look-vector angles ``*.lv_theta``/``*.lv_phi``, full MLI/SLC
  parameter files (``title:``, ``sensor:``, ``date:`` ...).

Truth: the values written, in their byte order; a wrong byte order gives 1e-38..1e38 junk.
"""

import numpy as np
import pytest

from displacement_toolkit.core.products import ProductError, open_product
from displacement_toolkit.core.products.resolve import is_product_source, resolve_raster

H, W = 4, 5


def dem_par(title="DEM", data_format="REAL*4"):
    return "\n".join([
        "Gamma DIFF&GEO DEM/MAP parameter file", f"title: {title}", "DEM_projection:     EQA",
        f"data_format:        {data_format}", f"width: {W}", f"nlines: {H}",
        "corner_lat:     35.0  decimal degrees", "corner_lon:    139.0  decimal degrees",
        "post_lat: -0.001 decimal degrees", "post_lon: 0.001 decimal degrees", ""])


VALUES = (np.arange(H * W, dtype=np.float32).reshape(H, W) + 1.25)


def licsbas_geocml(root):
    """A LiCSBAS GEOCml1 folder as LiCSBAS02_ml_prep.py writes it."""
    d = root / "GEOCml1"
    pair = d / "20200101_20200113"
    pair.mkdir(parents=True)
    (d / "EQA.dem_par").write_text(dem_par())
    (d / "slc.mli.par").write_text("range_samples:   5\nazimuth_lines:   4\n"
                                   "radar_frequency: 5405000000.0 Hz\n")
    (d / "baselines").write_text("20200101 20200113 0.0 0.0\n")
    VALUES.astype("<f4").tofile(pair / "20200101_20200113.unw")
    np.full((H, W), 200, np.uint8).tofile(pair / "20200101_20200113.cc")
    (VALUES * 10).astype("<f4").tofile(d / "hgt")
    return d


def gamma_geo(root):
    """A GAMMA/LiCSAR geo folder: EQA.dem (big-endian) with its EQA.dem_par and a lookup table."""
    d = root / "geo"
    d.mkdir(parents=True)
    (d / "EQA.dem_par").write_text(dem_par(title="021D_04972_131213"))
    VALUES.astype(">f4").tofile(d / "EQA.dem")
    np.zeros((H, 2 * W), ">f4").tofile(d / "20200101.lt_fine")
    VALUES.astype(">f4").tofile(d / "20200101_20200113.disp")
    return d


def test_licsbas_interferogram_in_its_pair_folder_is_little_endian(tmp_path):
    d = licsbas_geocml(tmp_path)
    p = open_product(str(d / "20200101_20200113" / "20200101_20200113.unw"))
    assert p.processor == "LiCSBAS"
    np.testing.assert_array_equal(p.read("unwrapped_phase"), VALUES)
    assert p.geotransform == pytest.approx((138.9995, 0.001, 0.0, 35.0005, 0.0, -0.001))
    hgt = open_product(str(d / "hgt"))
    assert hgt.processor == "LiCSBAS"
    np.testing.assert_array_equal(hgt.read(hgt.layer_names[0]), VALUES * 10)


def test_licsbas_results_folder_is_little_endian(tmp_path):
    """LiCSBAS13_sb_inv.py writes TS_GEOCml*/results/vel (mm/yr, float32) and the like."""
    results = tmp_path / "TS_GEOCml1" / "results"
    results.mkdir(parents=True)
    (results / "EQA.dem_par").write_text(dem_par())
    VALUES.astype("<f4").tofile(results / "vel")
    p = open_product(str(results / "vel"))
    assert p.processor == "LiCSBAS" and p.layer("los_velocity").units == "mm/yr"
    np.testing.assert_array_equal(p.read("los_velocity"), VALUES)


def test_gamma_dem_beside_eqa_dem_par_is_big_endian(tmp_path):
    d = gamma_geo(tmp_path)
    p = open_product(str(d / "EQA.dem"))
    assert p.processor == "GAMMA"
    np.testing.assert_array_equal(p.read("height"), VALUES)
    p = open_product(str(d / "20200101_20200113.disp"))
    assert p.processor == "GAMMA"
    np.testing.assert_array_equal(p.read(p.layer_names[0]), VALUES)


def test_a_gamma_binary_with_its_own_par_is_big_endian(tmp_path):
    (tmp_path / "EQA.dem_par").write_text(dem_par())
    (tmp_path / "ifg.unw.par").write_text(dem_par(title="ifg"))
    VALUES.astype(">f4").tofile(tmp_path / "ifg.unw")
    p = open_product(str(tmp_path / "ifg.unw"))
    assert p.processor == "GAMMA"
    np.testing.assert_array_equal(p.read("unwrapped_phase"), VALUES)


def test_a_folder_that_does_not_tell_is_refused_naming_both(tmp_path):
    (tmp_path / "EQA.dem_par").write_text(dem_par())
    VALUES.astype("<f4").tofile(tmp_path / "velocity.bin")
    with pytest.raises(ProductError, match=r"velocity\.bin.*LiCSBAS.*little-endian.*GAMMA.*big-endian"
                                           r".*LiCSBAS_flt2geotiff.*data2geotiff"):
        open_product(str(tmp_path / "velocity.bin"))
    # an algorithm given the file gets the same explanation, not "GDAL cannot open it"
    assert is_product_source(str(tmp_path / "velocity.bin"))
    with pytest.raises(ProductError, match="byte order cannot be decided"):
        resolve_raster(str(tmp_path / "velocity.bin"), str(tmp_path))
    # contradicting evidence (a LiCSBAS baselines file beside a GAMMA lookup table) is refused too
    gamma = gamma_geo(tmp_path / "both")
    (gamma / "baselines").write_text("20200101 20200113 0.0 0.0\n")
    with pytest.raises(ProductError, match=r"baselines.*20200101\.lt_fine"):
        open_product(str(gamma / "EQA.dem"))


def test_a_licsbas_pair_folder_is_not_read_as_a_gamma_stack(tmp_path):
    pair = licsbas_geocml(tmp_path) / "20200101_20200113"
    with pytest.raises(ProductError, match=r"LiCSBAS.*little-endian.*give the \.unw file"):
        open_product(str(pair))
