"""ISCE2 reader on images written with ISCE2's structure: a flat binary file plus the
``.xml`` that ``isceobj.Image.renderHdr()`` writes (``<imageFile>`` with ``width``,
``length``, ``number_bands``, ``data_type``, ``scheme``, ``byte_order`` properties and
``coordinate1``/``coordinate2`` components).

Band meanings (ISCE2 topo and MintPy prep_isce / readfile): los.rdr band 1 = incidence
angle, band 2 = LOS azimuth (anti-clockwise from north); dense_offsets.bil band 1 =
azimuth offset, band 2 = range offset, -10000 = failed; *.unw band 1 amplitude,
band 2 unwrapped phase (0 = nodata).
"""

import numpy as np
import pytest

from displacement_toolkit.core import geometry as geo
from displacement_toolkit.core.products import ProductError, open_product

H, W = 5, 7

XML = """<imageFile>
    <property name="ISCE_VERSION"><value>Release: 2.6.3</value></property>
    <property name="access_mode"><value>read</value></property>
    <property name="byte_order"><value>l</value></property>
    <property name="data_type"><value>{dtype}</value></property>
    <property name="family"><value>image</value></property>
    <property name="file_name"><value>{name}</value></property>
    <property name="image_type"><value>{image_type}</value></property>
    <property name="length"><value>{length}</value></property>
    <property name="number_bands"><value>{bands}</value></property>
    <property name="scheme"><value>{scheme}</value></property>
    <property name="width"><value>{width}</value></property>
    <property name="xmax"><value>{width}</value></property>
    <property name="xmin"><value>0</value></property>
    <component name="coordinate1">
        <factorymodule>isceobj.Image</factorymodule>
        <factoryname>createCoordinate</factoryname>
        <doc>First coordinate of a 2D image (width).</doc>
        <property name="delta"><value>{dx}</value></property>
        <property name="endingvalue"><value>{x1}</value></property>
        <property name="family"><value>coordinate</value></property>
        <property name="name"><value>ImageCoordinate_name</value></property>
        <property name="size"><value>{width}</value></property>
        <property name="startingvalue"><value>{x0}</value></property>
    </component>
    <component name="coordinate2">
        <factorymodule>isceobj.Image</factorymodule>
        <factoryname>createCoordinate</factoryname>
        <doc>Second coordinate of a 2D image (length).</doc>
        <property name="delta"><value>{dy}</value></property>
        <property name="endingvalue"><value>{y1}</value></property>
        <property name="family"><value>coordinate</value></property>
        <property name="name"><value>ImageCoordinate_name</value></property>
        <property name="size"><value>{length}</value></property>
        <property name="startingvalue"><value>{y0}</value></property>
    </component>
</imageFile>
"""


def write_isce(path, bands, scheme="BIL", dtype="FLOAT", geo_coords=None, image_type="bil"):
    """bands: list of (H, W) arrays; geo_coords: (x0, dx, y0, dy) or None (radar: 0/1)."""
    arr = np.stack(bands).astype(np.float32 if dtype == "FLOAT" else np.float64)
    if scheme == "BIL":
        raw = arr.transpose(1, 0, 2)
    elif scheme == "BIP":
        raw = arr.transpose(1, 2, 0)
    else:
        raw = arr
    raw.astype("<" + raw.dtype.str[1:]).tofile(path)
    x0, dx, y0, dy = geo_coords or (0.0, 1.0, 0.0, 1.0)
    with open(str(path) + ".xml", "w") as f:
        f.write(XML.format(dtype=dtype, name=path.name, image_type=image_type, length=H, width=W,
                           bands=len(bands), scheme=scheme, dx=dx, x0=x0, x1=x0 + W * dx,
                           dy=dy, y0=y0, y1=y0 + H * dy))
    return str(path)


def field(offset=0.0, scale=1.0):
    r, c = np.mgrid[0:H, 0:W]
    return (offset + scale * (r * W + c)).astype(np.float32)


@pytest.fixture
def merged(tmp_path):
    d = tmp_path / "merged"
    d.mkdir()
    inc = field(30.0, 0.1)
    inc[0, 0] = 0.0  # outside the swath
    write_isce(d / "los.rdr", [inc, np.full((H, W), -102.0, np.float32)])
    amp = np.full((H, W), 5.0, np.float32)
    phase = field(-1.0, 0.05)
    phase[4, 6] = 0.0
    write_isce(d / "filt_topophase.unw", [amp, phase])
    return d


def test_los_rdr_bands_are_incidence_and_los_azimuth(merged):
    p = open_product(str(merged / "los.rdr"))
    assert p.processor == "ISCE2" and not p.has_geotransform
    inc = p.incidence()
    assert np.isnan(inc[0, 0])
    assert inc[2, 3] == pytest.approx(30.0 + 0.1 * (2 * W + 3), abs=1e-5)
    az = p.los_azimuth()
    assert np.isnan(az[0, 0]) and az[1, 1] == pytest.approx(-102.0)
    e, n, u = p.los_unit_vector(1, 1, 1, 1)
    e0, n0, u0 = geo.los_unit_vector(inc[1, 1], -102.0)
    assert (e[0, 0], n[0, 0], u[0, 0]) == pytest.approx((float(e0), float(n0), float(u0)))
    # descending (LOS azimuth -102 deg): the satellite is to the east
    assert e[0, 0] > 0


def test_unwrapped_interferogram_uses_the_neighbouring_los_rdr(merged):
    p = open_product(str(merged / "filt_topophase.unw"))
    phase = p.read("unwrapped_phase")
    assert np.isnan(phase[4, 6])
    assert phase[1, 2] == pytest.approx(-1.0 + 0.05 * (W + 2))
    np.testing.assert_allclose(p.read("amplitude"), 5.0)
    assert p.geometry.incidence_layer == "incidence_angle"
    assert p.geometry.source == "los.rdr"
    assert p.incidence()[2, 3] == pytest.approx(30.0 + 0.1 * (2 * W + 3), abs=1e-5)
    with pytest.raises(ProductError, match="radar wavelength"):
        p.wavelength()


def test_dense_offsets_band_order_and_failed_value(tmp_path):
    az = field(0.1, 0.01)
    rg = field(-0.5, 0.02)
    az[2, 2] = -10000.0
    rg[2, 2] = -10000.0
    path = write_isce(tmp_path / "dense_offsets.bil", [az, rg], scheme="BIP")
    p = open_product(path)
    assert p.layer_names == ["azimuth_offset", "range_offset"]
    a, r = p.read("azimuth_offset"), p.read("range_offset")
    assert np.isnan(a[2, 2]) and np.isnan(r[2, 2])
    assert a[1, 3] == pytest.approx(0.1 + 0.01 * (W + 3))
    assert r[1, 3] == pytest.approx(-0.5 + 0.02 * (W + 3))
    assert p.layer("range_offset").units == "pixel"
    with pytest.raises(ProductError, match="set the incidence angle parameter"):
        p.incidence()


def test_geocoded_image_georeferencing(tmp_path):
    path = write_isce(tmp_path / "filt_topophase.unw.geo", [field(1.0), field(2.0)],
                      geo_coords=(-118.0, 0.0008333, 35.9, -0.0008333))
    p = open_product(str(tmp_path / "filt_topophase.unw.geo.xml"))  # the .xml works too
    assert p.path == path
    assert p.geotransform == pytest.approx((-118.0, 0.0008333, 0.0, 35.9, 0.0, -0.0008333))
    assert "WGS 84" in p.crs_wkt


def test_truncated_and_malformed_images(tmp_path):
    path = write_isce(tmp_path / "los.rdr", [field(), field()])
    with open(path, "r+b") as f:
        f.truncate(50)
    with pytest.raises(ProductError, match=r"los\.rdr.*truncated"):
        open_product(path)
    path = write_isce(tmp_path / "hgt.rdr", [field()])
    text = (tmp_path / "hgt.rdr.xml").read_text()
    (tmp_path / "hgt.rdr.xml").write_text(text.replace('name="width"', 'name="widthx"'))
    with pytest.raises(ProductError, match=r"hgt\.rdr\.xml.*'width' is missing"):
        open_product(path)
