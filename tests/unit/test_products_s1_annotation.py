"""Sentinel-1 annotation reader on a real S1B IW1 SLC annotation (tests/data/s1_slc_annotation_geometry).

Truth: the geolocation-grid values themselves (interpolation must reproduce them at the
nodes and be bilinear between them) and core.geometry for heading -> LOS azimuth.
"""

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from displacement_toolkit.core import geometry as geo
from displacement_toolkit.core.products import ProductError, open_product
from displacement_toolkit.core.products.s1_annotation import (
    incidence_at_lonlat,
    incidence_on_grid,
    radar_incidence,
    read_annotation,
)
from displacement_toolkit.core.raster_io import crs_from_epsg

XML = (Path(__file__).resolve().parents[1] / "data" / "s1_slc_annotation_geometry"
       / "s1b-iw1-slc-vv-20210401t052624-20210401t052649-026269-032297-004.xml")


def grid_points():
    root = ET.parse(XML).getroot()
    pts = root.findall("geolocationGrid/geolocationGridPointList/geolocationGridPoint")
    return np.array([[float(p.find(k).text) for k in ("line", "pixel", "latitude", "longitude",
                                                       "incidenceAngle")] for p in pts])


def test_scene_constants():
    ann = read_annotation(str(XML))
    assert ann.heading == pytest.approx(-165.6512198343102)
    assert ann.pass_direction == "Descending"
    assert ann.wavelength == pytest.approx(299792458.0 / 5.405000454334350e9)
    assert (ann.samples, ann.lines) == (21632, 13509)
    assert ann.line.size == 210
    # ESA's own incidenceAngleMidSwath agrees with the interpolated grid at mid-range (0.04 deg)
    mid = radar_incidence(ann, ann.lines / 2, ann.samples / 2)
    assert mid == pytest.approx(ann.incidence_mid_swath, abs=0.05)
    p = open_product(str(XML))
    assert p.geometry.look_direction == "right"
    # right-looking descending: LOS azimuth = 90 - h = 255.65 = -104.35 deg
    az = p.los_azimuth(0, 0, 1, 1)[0, 0]
    assert az == pytest.approx(-104.3487801656898)
    assert az == pytest.approx(float(geo.heading_to_los_azimuth(-165.6512198343102)))


def test_interpolation_reproduces_grid_nodes_and_is_bilinear_between_them():
    ann = read_annotation(str(XML))
    pts = grid_points()
    np.testing.assert_allclose(radar_incidence(ann, pts[:, 0], pts[:, 1]), pts[:, 4], atol=1e-9)
    np.testing.assert_allclose(incidence_at_lonlat(ann, pts[:, 3], pts[:, 2]), pts[:, 4], atol=1e-9)
    lines = np.unique(pts[:, 0])
    pixels = np.unique(pts[:, 1])
    node = {(a, b): c for a, b, c in zip(pts[:, 0], pts[:, 1], pts[:, 4])}
    l0, l1, p0, p1 = lines[3], lines[4], pixels[7], pixels[8]
    expected = (node[(l0, p0)] + node[(l0, p1)] + node[(l1, p0)] + node[(l1, p1)]) / 4
    assert radar_incidence(ann, (l0 + l1) / 2, (p0 + p1) / 2) == pytest.approx(expected, abs=1e-9)
    # incidence increases with range (pixel) along a line: 30.4 deg near, 36.8 deg far
    row = radar_incidence(ann, lines[0], np.linspace(0, 21631, 50))
    assert np.all(np.diff(row) > 0)
    assert row[0] == pytest.approx(30.74, abs=0.01) and row[-1] > 36.0


def test_incidence_on_a_projected_grid_matches_the_node_under_each_pixel_centre():
    from osgeo import osr

    ann = read_annotation(str(XML))
    pts = grid_points()
    k = 105  # an interior node
    lat, lon = pts[k, 2], pts[k, 3]
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromEPSG(4326)
    dst.ImportFromEPSG(32632)
    src.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    x, y, _ = osr.CoordinateTransformation(src, dst).TransformPoint(lon, lat)
    gt = (x - 15.0, 10.0, 0.0, y + 15.0, 0.0, -10.0)  # pixel (1, 1) is centred on the node
    inc = incidence_on_grid(ann, gt, crs_from_epsg(32632), 3, 3)
    assert inc[1, 1] == pytest.approx(pts[k, 4], abs=1e-6)
    assert np.all(np.abs(inc - pts[k, 4]) < 0.01)


def test_product_layer_is_nan_outside_the_footprint_and_within_the_range_inside():
    p = open_product(str(XML))
    inc = p.read("incidence_angle")
    finite = inc[np.isfinite(inc)]
    assert 0.3 < finite.size / inc.size < 0.95
    assert finite.min() >= 30.43 - 1e-3 and finite.max() <= 36.77 + 1e-3
    np.testing.assert_array_equal(p.read("incidence_angle", 1, 400, 300, 20, 30), inc[400:420, 300:330])


def test_missing_heading_is_named(tmp_path):
    text = XML.read_text()
    start = text.index("<platformHeading>")
    end = text.index("</platformHeading>") + len("</platformHeading>")
    bad = tmp_path / XML.name
    bad.write_text(text[:start] + text[end:])
    with pytest.raises(ProductError, match="platformHeading"):
        open_product(str(bad))


def test_geometry_summary_is_the_median_of_sampled_rows():
    p = open_product(str(XML))
    summary = p.geometry_summary()
    inc = p.read("incidence_angle")
    step = max(1, p.height // 256)
    sampled = inc[step // 2::step]
    assert summary["incidence"] == pytest.approx(float(np.nanmedian(sampled)), abs=1e-4)
    assert summary["los_azimuth"] == pytest.approx(-104.3487801656898)
    assert summary["heading"] == pytest.approx(-165.6512198343102)
