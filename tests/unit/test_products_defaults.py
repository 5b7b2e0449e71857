"""Layer choice by meaning and the defaults a product gives every algorithm
(core/products/defaults.py).

Truth: files written with the layout of MintPy's ``timeseries2velocity`` (src/mintpy/
timeseries2velocity.py, ``model2hdf5_dataset`` + ``writefile.layout_hdf5``): datasets
``intercept`` (UNIT m), ``interceptStd`` (m), ``velocity`` (m/year), ``velocityStd``
(m/year), ``residue`` (m), optional ``annualAmplitude`` (m), ``annualPhase`` (radian),
``step<date>`` (m), one ``UNIT`` attribute per dataset, and the file attributes
``FILE_TYPE = velocity``, ``UNIT = m/year``.  HDF5 lists the datasets alphabetically, so
``intercept`` comes first: the reader must not take it for the velocity.
"""

import h5py
import numpy as np
import pytest

from displacement_toolkit.core.products import ProductError, open_product
from displacement_toolkit.core.products.defaults import (check_displacement_layer, primary_layer,
                                                         product_defaults)
from displacement_toolkit.core.products.resolve import resolve_raster
from displacement_toolkit.core.raster_io import raster_info, read_block

from .test_products_hyp3_licsbas import NAME as HYP3_NAME
from .test_products_hyp3_licsbas import hyp3_dir, write_cum  # noqa: F401 (fixture)
from .test_products_isce2 import merged  # noqa: F401 (fixture)
from .test_products_mintpy import mintpy_dir, write  # noqa: F401 (fixture)
from .test_products_snap_opera import write_disp

H, W = 6, 8
ATTRS = {"LENGTH": str(H), "WIDTH": str(W), "X_FIRST": "-155.3", "Y_FIRST": "19.5",
         "X_STEP": "0.001", "Y_STEP": "-0.001", "X_UNIT": "degrees", "Y_UNIT": "degrees",
         "WAVELENGTH": "0.05546576", "HEADING": "-12.1", "ANTENNA_SIDE": "-1", "REF_Y": "2",
         "REF_X": "3", "PROCESSOR": "isce", "FILE_TYPE": "velocity", "UNIT": "m/year",
         "REF_DATE": "20200101", "START_DATE": "20200101", "END_DATE": "20211231",
         "CENTER_INCIDENCE_ANGLE": "33.0"}


def velocity_field():
    r, c = np.mgrid[0:H, 0:W]
    return (0.002 * (r - c) + 0.01).astype(np.float32)


def write_velocity_h5(path, seasonal=False):
    """A MintPy velocity.h5 as timeseries2velocity writes it (see the module docstring)."""
    datasets = {"intercept": (np.full((H, W), 0.05, np.float32), "m"),
                "interceptStd": (np.full((H, W), 0.003, np.float32), "m"),
                "velocity": (velocity_field(), "m/year"),
                "velocityStd": (np.full((H, W), 0.001, np.float32), "m/year"),
                "residue": (np.full((H, W), 0.004, np.float32), "m")}
    if seasonal:
        datasets.update({"annualAmplitude": (np.full((H, W), 0.006, np.float32), "m"),
                         "annualPhase": (np.full((H, W), 1.2, np.float32), "radian"),
                         "step20210101": (np.full((H, W), -0.02, np.float32), "m"),
                         "step20210101Std": (np.full((H, W), 0.002, np.float32), "m")})
    with h5py.File(path, "w") as f:
        for k, v in ATTRS.items():
            f.attrs[k] = v
        for name, (data, unit) in datasets.items():
            f.create_dataset(name, data=data).attrs["UNIT"] = unit
    return str(path)


def test_the_file_lists_intercept_first_but_velocity_is_the_default(tmp_path):
    path = write_velocity_h5(tmp_path / "velocity.h5", seasonal=True)
    with h5py.File(path, "r") as f:
        assert list(f.keys())[:3] == ["annualAmplitude", "annualPhase", "intercept"]
    p = open_product(path)
    assert primary_layer(p) == "velocity"
    out, _ = resolve_raster(path, str(tmp_path / "work"))
    assert raster_info(out).metadata["layer"] == "velocity"
    np.testing.assert_array_equal(read_block(out), velocity_field())


def test_units_per_dataset_from_the_file(tmp_path):
    p = open_product(write_velocity_h5(tmp_path / "velocity.h5", seasonal=True))
    units = {layer.name: layer.units for layer in p.layers}
    assert units == {"annualAmplitude": "m", "annualPhase": "rad", "intercept": "m",
                     "interceptStd": "m", "residue": "m", "step20210101": "m",
                     "step20210101Std": "m", "velocity": "m/yr", "velocityStd": "m/yr"}
    quantities = {layer.name: layer.quantity for layer in p.layers}
    assert quantities["velocity"] == "los_velocity"
    assert quantities["interceptStd"] == "intercept_std"
    assert quantities["step20210101Std"] == "step_std"


def test_without_per_dataset_units_the_table_not_the_file_unit_applies(tmp_path):
    # older MintPy files carry only the file's UNIT (m/year): it is the velocity's, not the
    # intercept's nor its standard deviation's
    path = tmp_path / "velocity.h5"
    with h5py.File(path, "w") as f:
        for k, v in ATTRS.items():
            f.attrs[k] = v
        for name in ("intercept", "interceptStd", "velocity", "velocityStd"):
            f.create_dataset(name, data=np.zeros((H, W), np.float32))
    units = {layer.name: layer.units for layer in open_product(str(path)).layers}
    assert units == {"intercept": "m", "interceptStd": "m", "velocity": "m/yr", "velocityStd": "m/yr"}


@pytest.mark.parametrize("layer", ["intercept", "interceptStd", "residue", "velocityStd",
                                   "annualPhase"])
def test_a_non_displacement_layer_is_refused_as_a_displacement(tmp_path, layer):
    p = open_product(write_velocity_h5(tmp_path / "velocity.h5", seasonal=True))
    with pytest.raises(ProductError, match=f"layer '{layer}' is the .*not a displacement.*"
                                           "choose the layer 'velocity'"):
        check_displacement_layer(p, layer)
    check_displacement_layer(p, "velocity")


def test_defaults_of_a_mintpy_velocity_name_their_source(tmp_path):
    p = open_product(write_velocity_h5(tmp_path / "velocity.h5"))
    d = product_defaults(p)
    assert d["layer"].value == "velocity"
    assert d["los_quantity"].value == "los_velocity" and d["units"].value == "m/yr"
    assert d["wavelength"].value == pytest.approx(0.05546576)
    assert d["incidence"].value == pytest.approx(33.0)
    assert d["heading"].value == pytest.approx(-12.1)
    assert d["look_direction"].value == "right"
    assert d["reference_date"].value.isoformat() == "2020-01-01"
    assert "MintPy velocity velocity.h5" in d["wavelength"].source
    assert "velocity.h5 attributes" in d["incidence"].source
    assert "phase_convention" not in d                       # not a phase layer
    assert product_defaults(p, "intercept")["units"].value == "m"




@pytest.fixture
def products(tmp_path, request):
    """One file of each multi-layer product, as the readers' own tests write them."""
    mintpy, hyp3, isce = (request.getfixturevalue(n) for n in ("mintpy_dir", "hyp3_dir", "merged"))
    stack = write(tmp_path / "ifgramStack.h5",
                  {"coherence": np.full((2, H, W), 0.5, np.float32),
                   "connectComponent": np.ones((2, H, W), np.int16),
                   "unwrapPhase": np.zeros((2, H, W), np.float32),
                   "date": np.array([[b"20200101", b"20200113"], [b"20200101", b"20200125"]])},
                  FILE_TYPE="ifgramStack", UNIT="radian")
    return {"mintpy_velocity": (str(mintpy / "velocity.h5"), "velocity"),
            "mintpy_timeseries": (str(mintpy / "timeseries.h5"), "timeseries"),
            "mintpy_geometry": (str(mintpy / "geometryGeo.h5"), "incidenceAngle"),
            "mintpy_ifgramstack": (stack, "unwrapPhase"),
            "licsbas_cum": (write_cum(tmp_path / "cum.h5"), "cum"),
            "opera_disp": (write_disp(tmp_path / "OPERA_L3_DISP-S1_IW_F11116_VV_20200101T020304Z_"
                                                 "20200301T020304Z_v1.0.nc"), "displacement"),
            "hyp3_folder": (str(hyp3), "los_displacement"),
            "hyp3_phase_tif": (str(hyp3 / f"{HYP3_NAME}_unw_phase.tif"), "unwrapped_phase"),
            "isce2_unw": (str(isce / "filt_topophase.unw"), "unwrapped_phase")}


@pytest.mark.parametrize("kind", ["mintpy_velocity", "mintpy_timeseries", "mintpy_geometry",
                                  "mintpy_ifgramstack", "licsbas_cum", "opera_disp", "hyp3_folder",
                                  "hyp3_phase_tif", "isce2_unw"])
def test_every_multi_layer_product_defaults_to_what_it_is_about(products, kind):
    path, expected = products[kind]
    p = open_product(path)
    assert primary_layer(p) == expected, p.layer_names
    d = product_defaults(p)
    quantity, units, sign = {
        "mintpy_velocity": ("los_velocity", "m/yr", None),
        "mintpy_timeseries": ("los_displacement", "m", None),
        "mintpy_geometry": (None, "deg", None), "mintpy_ifgramstack": ("phase", "rad", "mintpy"),
        "licsbas_cum": ("los_displacement", "mm", None), "opera_disp": ("los_displacement", "m", None),
        "hyp3_folder": ("los_displacement", "m", None), "hyp3_phase_tif": ("phase", "rad", "gamma"),
        "isce2_unw": ("phase", "rad", "isce2")}[kind]
    assert (d["los_quantity"].value if "los_quantity" in d else None) == quantity
    assert d["units"].value == units
    assert (d["phase_convention"].value if "phase_convention" in d else None) == sign


# --- what MintPy users see: the masks beside the product, an area of interest ---------------
def test_mintpy_masks_beside_the_product_are_applied_by_default(tmp_path):
    path = write_velocity_h5(tmp_path / "velocity.h5")
    coh = np.ones((H, W), bool)
    coh[0, :3] = False                                    # low temporal coherence
    water = np.ones((H, W), np.int8)
    water[5, 6:] = 0                                      # water (MintPy: 1 = land)
    with h5py.File(tmp_path / "maskTempCoh.h5", "w") as f:
        f.attrs.update({"FILE_TYPE": "mask", "LENGTH": str(H), "WIDTH": str(W)})
        f.create_dataset("mask", data=coh)
    with h5py.File(tmp_path / "waterMask.h5", "w") as f:
        f.attrs.update({"FILE_TYPE": "waterMask", "LENGTH": str(H), "WIDTH": str(W)})
        f.create_dataset("waterMask", data=water)
    p = open_product(path)
    expected = velocity_field()
    expected[0, :3] = np.nan
    expected[5, 6:] = np.nan
    np.testing.assert_array_equal(p.read("velocity"), expected)
    np.testing.assert_array_equal(p.read("velocity", 1, 4, 5, 2, 3), expected[4:6, 5:8])   # windows too
    assert p.metadata["mask"] == ("maskTempCoh.h5 (mask, 0 = masked), "
                                  "waterMask.h5 (waterMask, 0 = masked)")
    assert np.isnan(p.read("velocityStd")[0, 0])         # every layer of the product
    np.testing.assert_array_equal(open_product(path, mask=False).read("velocity"), velocity_field())
    # a mask of another grid is not this product's: ignored
    with h5py.File(tmp_path / "maskTempCoh.h5", "w") as f:
        f.attrs.update({"FILE_TYPE": "mask", "LENGTH": "3", "WIDTH": "3"})
        f.create_dataset("mask", data=np.zeros((3, 3), bool))
    assert open_product(path).metadata["mask"] == "waterMask.h5 (waterMask, 0 = masked)"


def test_extent_reads_only_the_area_of_interest(tmp_path):
    from displacement_toolkit.core.products.subset import extent_window, subset_to_extent

    p = open_product(write_velocity_h5(tmp_path / "velocity.h5"))
    # x -155.2975..-155.2945 touches columns 2..5; y 19.4985..19.4962 rows 1..3 (0.001 deg pixels)
    assert extent_window(p, -155.2975, 19.4962, -155.2945, 19.4985) == (1, 2, 3, 4)
    calls = []
    layer = p.layer("velocity")
    reader = layer.reader
    layer.reader = lambda *a: calls.append(a) or reader(*a)
    s = subset_to_extent(p, -155.2975, 19.4962, -155.2945, 19.4985)
    assert (s.width, s.height) == (4, 3)
    assert s.geotransform == pytest.approx((-155.298, 0.001, 0.0, 19.499, 0.0, -0.001))
    np.testing.assert_array_equal(s.read("velocity"), velocity_field()[1:4, 2:6])
    assert calls == [(1, 1, 2, 3, 4)]                     # only the window was read
    assert (s.reference_point["row"], s.reference_point["col"]) == (1, 1)   # REF_Y 2, REF_X 3
    with pytest.raises(ProductError, match="does not overlap the product"):
        subset_to_extent(p, 10.0, 10.0, 11.0, 11.0)


def test_a_mask_added_later_is_not_hidden_by_the_converted_file(tmp_path):
    """Algorithms convert a product once (core/products/resolve.py); the masks it was read
    through are part of what identifies the converted file."""
    path = write_velocity_h5(tmp_path / "velocity.h5")
    first, _ = resolve_raster(path, str(tmp_path / "work"))
    assert np.isfinite(read_block(first)).all()
    mask = np.ones((H, W), bool)
    mask[2, 2] = False
    with h5py.File(tmp_path / "maskTempCoh.h5", "w") as f:
        f.attrs.update({"FILE_TYPE": "mask", "LENGTH": str(H), "WIDTH": str(W)})
        f.create_dataset("mask", data=mask)
    second, _ = resolve_raster(path, str(tmp_path / "work"))
    assert second != first
    data = read_block(second)
    assert np.isnan(data[2, 2]) and np.isfinite(data).sum() == H * W - 1
