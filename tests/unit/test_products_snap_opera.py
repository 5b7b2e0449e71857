"""SNAP BEAM-DIMAP and OPERA readers on files with each processor's structure.

BEAM-DIMAP: ``.dim`` XML (Raster_Dimensions, Data_Access/Data_File, Tie_Point_Grids/
Tie_Point_Grid_Info with OFFSET_X/Y and STEP_X/Y, Image_Interpretation/Spectral_Band_Info,
Geoposition/IMAGE_TO_MODEL_TRANSFORM, Abstracted_Metadata MDATTRs) + ``.data/`` ENVI
files (big-endian float32, byte order = 1).  Truth for the tie-point grid: a field linear
in image coordinates, which bilinear interpolation (and linear extrapolation) reproduces
exactly at every pixel.

OPERA DISP-S1: root datasets ``displacement``, ``temporal_coherence``,
``connected_component_labels`` (``_FillValue``), ``x``/``y`` pixel-centre coordinates,
``spatial_ref`` (``crs_wkt``), ``identification/reference_datetime`` and
``secondary_datetime``; CSLC-S1 static: ``data/los_east``, ``data/los_north``,
``data/x_coordinates``, ``data/y_coordinates``, ``data/projection``.
"""

import h5py
import numpy as np
import pytest

from displacement_toolkit.core import geometry as geo
from displacement_toolkit.core.products import ProductError, open_product
from displacement_toolkit.core.raster_io import crs_from_epsg

H, W = 31, 45
BAND = "Unw_Phase_ifg_VV_13Jan2020_01Jan2020"

DIM = """<?xml version="1.0" encoding="ISO-8859-1"?>
<Dimap_Document name="{name}.dim">
    <Metadata_Id><METADATA_FORMAT version="2.12.1">DIMAP</METADATA_FORMAT></Metadata_Id>
    <Dataset_Id><DATASET_SERIES>BEAM-PRODUCT</DATASET_SERIES><DATASET_NAME>{name}</DATASET_NAME></Dataset_Id>
    <Coordinate_Reference_System><WKT>{wkt}</WKT></Coordinate_Reference_System>
    <Geoposition><IMAGE_TO_MODEL_TRANSFORM>0.0002,0.0,0.0,-0.0002,11.0,46.5</IMAGE_TO_MODEL_TRANSFORM></Geoposition>
    <Raster_Dimensions><NCOLS>{W}</NCOLS><NROWS>{H}</NROWS><NBANDS>2</NBANDS></Raster_Dimensions>
    <Data_Access>
        <DATA_FILE_FORMAT>ENVI</DATA_FILE_FORMAT>
        <DATA_FILE_FORMAT_DESC>ENVI File Format</DATA_FILE_FORMAT_DESC>
        <DATA_FILE_ORGANISATION>BAND_SEPARATE</DATA_FILE_ORGANISATION>
        <Data_File><DATA_FILE_PATH href="{name}.data/{band}.hdr" /><BAND_INDEX>0</BAND_INDEX></Data_File>
        <Data_File>
            <DATA_FILE_PATH href="{name}.data/coh_VV_13Jan2020_01Jan2020.hdr" />
            <BAND_INDEX>1</BAND_INDEX>
        </Data_File>
        <Tie_Point_Grid_File>
            <TIE_POINT_GRID_FILE_PATH href="{name}.data/tie_point_grids/incident_angle.hdr" />
            <TIE_POINT_GRID_INDEX>0</TIE_POINT_GRID_INDEX>
        </Tie_Point_Grid_File>
    </Data_Access>
    <Tie_Point_Grids>
        <NUM_TIE_POINT_GRIDS>1</NUM_TIE_POINT_GRIDS>
        <Tie_Point_Grid_Info>
            <TIE_POINT_GRID_INDEX>0</TIE_POINT_GRID_INDEX>
            <TIE_POINT_DESCRIPTION />
            <PHYSICAL_UNIT>deg</PHYSICAL_UNIT>
            <TIE_POINT_GRID_NAME>incident_angle</TIE_POINT_GRID_NAME>
            <DATA_TYPE>float32</DATA_TYPE>
            <NCOLS>5</NCOLS><NROWS>4</NROWS>
            <OFFSET_X>0.5</OFFSET_X><OFFSET_Y>0.5</OFFSET_Y>
            <STEP_X>10.0</STEP_X><STEP_Y>10.0</STEP_Y>
            <CYCLIC>false</CYCLIC>
        </Tie_Point_Grid_Info>
    </Tie_Point_Grids>
    <Image_Interpretation>
        <Spectral_Band_Info>
            <BAND_INDEX>0</BAND_INDEX><BAND_DESCRIPTION /><BAND_NAME>{band}</BAND_NAME>
            <BAND_RASTER_WIDTH>{W}</BAND_RASTER_WIDTH><BAND_RASTER_HEIGHT>{H}</BAND_RASTER_HEIGHT>
            <DATA_TYPE>float32</DATA_TYPE><PHYSICAL_UNIT>radian</PHYSICAL_UNIT>
            <NO_DATA_VALUE_USED>true</NO_DATA_VALUE_USED><NO_DATA_VALUE>0.0</NO_DATA_VALUE>
        </Spectral_Band_Info>
        <Spectral_Band_Info>
            <BAND_INDEX>1</BAND_INDEX><BAND_DESCRIPTION /><BAND_NAME>coh_VV_13Jan2020_01Jan2020</BAND_NAME>
            <BAND_RASTER_WIDTH>{W}</BAND_RASTER_WIDTH><BAND_RASTER_HEIGHT>{H}</BAND_RASTER_HEIGHT>
            <DATA_TYPE>float32</DATA_TYPE><PHYSICAL_UNIT />
            <NO_DATA_VALUE_USED>true</NO_DATA_VALUE_USED><NO_DATA_VALUE>0.0</NO_DATA_VALUE>
        </Spectral_Band_Info>
    </Image_Interpretation>
    <Dataset_Sources>
        <MDElem name="metadata">
            <MDElem name="Abstracted_Metadata">
                <MDATTR name="PRODUCT" type="ascii">S1A_IW_SLC__1SDV_20200101</MDATTR>
                <MDATTR name="MISSION" type="ascii">SENTINEL-1A</MDATTR>
                <MDATTR name="PASS" type="ascii">ASCENDING</MDATTR>
                <MDATTR name="antenna_pointing" type="ascii">right</MDATTR>
                <MDATTR name="radar_frequency" type="float64" unit="MHz">5405.000454334349</MDATTR>
                <MDATTR name="centre_heading" type="float64">-11.5</MDATTR>
                <MDATTR name="incidence_near" type="float64" unit="deg">30.5</MDATTR>
                <MDATTR name="incidence_far" type="float64" unit="deg">35.3</MDATTR>
                <MDATTR name="first_line_time" type="utc">01-JAN-2020 17:05:01.000000</MDATTR>
            </MDElem>
        </MDElem>
    </Dataset_Sources>
</Dimap_Document>
"""


def write_envi(path_no_ext, array, name):
    array.astype(">f4").tofile(str(path_no_ext) + ".img")
    rows, cols = array.shape
    with open(str(path_no_ext) + ".hdr", "w") as f:
        f.write("ENVI\ndescription = {Sentinel Application Platform (SNAP) Data Product}\n"
                f"samples = {cols}\nlines = {rows}\nbands = 1\nheader offset = 0\n"
                "file type = ENVI Standard\ndata type = 4\ninterleave = bsq\nbyte order = 1\n"
                f"band names = {{ {name} }}\n")


def inc_truth(x, y):
    """Incidence linear in image coordinates (x = col + 0.5, y = row + 0.5)."""
    return 30.0 + 0.1 * x + 0.02 * y


@pytest.fixture
def dim(tmp_path):
    name = "S1A_20200101_20200113_unw_tc"
    data = tmp_path / f"{name}.data"
    (data / "tie_point_grids").mkdir(parents=True)
    r, c = np.mgrid[0:H, 0:W]
    phase = (0.01 * c - 0.2).astype(np.float32)
    phase[3, 4] = 0.0
    write_envi(data / BAND, phase, BAND)
    write_envi(data / "coh_VV_13Jan2020_01Jan2020", np.full((H, W), 0.7, np.float32), "coh")
    ty, tx = np.mgrid[0:4, 0:5]
    write_envi(data / "tie_point_grids" / "incident_angle",
               inc_truth(0.5 + 10.0 * tx, 0.5 + 10.0 * ty).astype(np.float32), "incident_angle")
    (tmp_path / f"{name}.dim").write_text(DIM.format(name=name, band=BAND, W=W, H=H,
                                                     wkt=crs_from_epsg(4326)))
    return tmp_path / f"{name}.dim"


def test_snap_bands_dates_georeferencing_and_metadata(dim):
    p = open_product(str(dim))
    assert p.processor == "SNAP"
    assert p.geotransform == pytest.approx((11.0, 0.0002, 0.0, 46.5, 0.0, -0.0002))
    layer = p.layer(BAND)
    assert (layer.quantity, layer.units) == ("unwrapped_phase", "rad")
    assert [d.isoformat() for d in layer.date_pair] == ["2020-01-01", "2020-01-13"]
    phase = p.read(BAND)
    assert np.isnan(phase[3, 4]) and phase[2, 10] == pytest.approx(-0.1)
    assert p.layer("coh_VV_13Jan2020_01Jan2020").quantity == "coherence"
    assert p.geometry.heading == pytest.approx(-11.5)
    assert p.geometry.look_direction == "right"
    assert p.wavelength() == pytest.approx(299792458.0 / 5.405000454334349e9)
    assert p.metadata["PASS"] == "ASCENDING"


def test_snap_incidence_tie_point_grid_is_interpolated_to_every_pixel(dim):
    p = open_product(str(dim))
    inc = p.incidence()
    r, c = np.mgrid[0:H, 0:W]
    np.testing.assert_allclose(inc, inc_truth(c + 0.5, r + 0.5), atol=1e-4)   # incl. extrapolated cols 41-44
    assert inc.max() - inc.min() > 4.0      # not a scene constant (MintPy: (near + near) / 2)
    np.testing.assert_allclose(p.incidence(7, 20, 5, 6), inc[7:12, 20:26], atol=1e-9)


def test_snap_missing_data_file_is_reported(dim):
    (dim.parent / f"{dim.stem}.data" / f"{BAND}.img").unlink()
    with pytest.raises(ProductError, match=r"\.dim.*data file of band 'Unw_Phase"):
        open_product(str(dim))


def write_disp(path, utm=32611):
    x = 500015.0 + 30.0 * np.arange(W)
    y = 4000015.0 - 30.0 * np.arange(H)
    r, c = np.mgrid[0:H, 0:W]
    disp = (0.001 * c).astype(np.float32)
    disp[0, 0] = np.nan
    cc = np.ones((H, W), np.uint16)
    cc[1, 1] = 65535
    with h5py.File(path, "w") as f:
        f.create_dataset("displacement", data=disp)
        f["displacement"].attrs["units"] = "meters"
        f["displacement"].attrs["_FillValue"] = np.float32(np.nan)
        f.create_dataset("temporal_coherence", data=np.full((H, W), 0.9, np.float32))
        f.create_dataset("connected_component_labels", data=cc)
        f["connected_component_labels"].attrs["_FillValue"] = np.uint16(65535)
        f.create_dataset("x", data=x)
        f.create_dataset("y", data=y)
        f.create_dataset("spatial_ref", data=0)
        f["spatial_ref"].attrs["crs_wkt"] = crs_from_epsg(utm)
        ident = f.create_group("identification")
        ident.create_dataset("reference_datetime", data="2020-01-01 02:03:04.000000")
        ident.create_dataset("secondary_datetime", data="2020-03-01 02:03:04.000000")
        ident.create_dataset("frame_id", data=11116)
        f.create_group("corrections")
    return str(path)


def test_opera_disp_s1(tmp_path):
    name = "OPERA_L3_DISP-S1_IW_F11116_VV_20200101T020304Z_20200301T020304Z_v1.0.nc"
    p = open_product(write_disp(tmp_path / name))
    assert p.processor == "OPERA" and p.product_type == "DISP-S1"
    assert p.geotransform == pytest.approx((500000.0, 30.0, 0.0, 4000030.0, 0.0, -30.0))
    d = p.layer("displacement")
    assert (d.units, d.quantity) == ("m", "los_displacement")
    assert [x.isoformat() for x in d.date_pair] == ["2020-01-01", "2020-03-01"]
    v = p.read("displacement")
    assert np.isnan(v[0, 0]) and v[3, 5] == pytest.approx(0.005)
    assert np.isnan(p.read("connected_component_labels")[1, 1])
    assert p.reference_date.isoformat() == "2020-01-01"
    with pytest.raises(ProductError, match="set the incidence angle parameter"):
        p.incidence()


def test_opera_cslc_static_unit_vector(tmp_path):
    e, n, u = geo.los_unit_vector(40.0, -100.0)
    with h5py.File(tmp_path / "static.h5", "w") as f:
        f.create_group("identification").create_dataset("burst_id", data="t071_151200_iw2")
        g = f.create_group("data")
        g.create_dataset("los_east", data=np.full((H, W), e, np.float32))
        g.create_dataset("los_north", data=np.full((H, W), n, np.float32))
        g.create_dataset("x_coordinates", data=500005.0 + 10.0 * np.arange(W))
        g.create_dataset("y_coordinates", data=4000005.0 - 10.0 * np.arange(H))
        g.create_dataset("projection", data=32611)
    p = open_product(str(tmp_path / "static.h5"))
    np.testing.assert_allclose(p.incidence(), 40.0, atol=1e-3)
    np.testing.assert_allclose(p.los_azimuth(), -100.0, atol=1e-3)
    _, _, up = p.los_unit_vector(0, 0, 1, 1)
    assert up[0, 0] == pytest.approx(float(u), abs=1e-6)
    assert p.geotransform == pytest.approx((500000.0, 10.0, 0.0, 4000010.0, 0.0, -10.0))


def test_opera_shape_mismatch_and_unknown_hdf5(tmp_path):
    path = write_disp(tmp_path / "disp.h5")
    with h5py.File(path, "a") as f:
        del f["temporal_coherence"]
        f.create_dataset("temporal_coherence", data=np.zeros((H, W + 1), np.float32))
    with pytest.raises(ProductError, match=r"disp\.h5.*'temporal_coherence' has shape"):
        open_product(path)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("foo", data=np.zeros((2, 2)))
    with pytest.raises(ProductError, match=r"other\.h5.*not a MintPy, LiCSBAS cum\.h5 or OPERA"):
        open_product(str(tmp_path / "other.h5"))


def test_opera_layer_with_a_time_axis_of_one(tmp_path):
    path = write_disp(tmp_path / "disp.h5")
    with h5py.File(path, "a") as f:
        data = f["displacement"][()]
        del f["displacement"]
        f.create_dataset("displacement", data=data[np.newaxis])
    p = open_product(path)
    v = p.read("displacement")
    assert v.shape == (H, W) and v[3, 5] == pytest.approx(0.005)
