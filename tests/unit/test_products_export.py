"""core.products.export: block-by-block writing, dated bands, progress and cancel (no QGIS)."""

import os
from pathlib import Path

import numpy as np
import pytest

from displacement_toolkit.core.products import open_product
from displacement_toolkit.core.products.export import default_layers, write_layer
from displacement_toolkit.core.progress import Monitor, OperationCancelled
from displacement_toolkit.core.raster_io import raster_info, read_block

from .test_products_mintpy import ramp
from .test_products_mintpy import mintpy_dir  # noqa: F401 (pytest fixture)

XML = (Path(__file__).resolve().parents[1] / "data" / "s1_slc_annotation_geometry"
       / "s1b-iw1-slc-vv-20210401t052624-20210401t052649-026269-032297-004.xml")


def test_small_blocks_give_the_same_raster_and_monotonic_progress(mintpy_dir, tmp_path):  # noqa: F811
    p = open_product(str(mintpy_dir / "timeseries.h5"))
    seen = []
    out = str(tmp_path / "ts.tif")
    write_layer(p, "timeseries", out, Monitor(progress=seen.append), block_bytes=8 * 8 * 2)  # 2 rows
    info = raster_info(out)
    assert info.band_count == 4 and info.metadata["reference_date"] == "2020-01-01"
    for b in range(1, 5):
        expected = ramp(0.001 * (b - 1))
        expected[1, 1] = np.nan      # masked by the maskTempCoh.h5 beside the time series
        np.testing.assert_allclose(read_block(out, b), expected, rtol=1e-6)
    assert len(seen) == 4 * 3 and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)


def test_cancel_leaves_no_file(mintpy_dir, tmp_path):  # noqa: F811
    p = open_product(str(mintpy_dir / "timeseries.h5"))
    calls = []
    monitor = Monitor(is_cancelled=lambda: calls.append(1) or len(calls) > 2)
    out = tmp_path / "ts.tif"
    with pytest.raises(OperationCancelled):
        write_layer(p, "timeseries", str(out), monitor, block_bytes=8 * 8 * 2)
    assert not out.exists() and not [f for f in os.listdir(tmp_path) if f.startswith(".ts.tif")]


def test_sentinel1_annotation_incidence_written_with_geometry_metadata(tmp_path):
    p = open_product(str(XML))
    assert [layer.name for layer in default_layers(p)] == ["incidence_angle"]
    out = str(tmp_path / "inc.tif")
    stats = write_layer(p, "incidence_angle", out)
    info = raster_info(out)
    assert info.metadata["geometry_heading"] == "-165.651219834"
    assert info.metadata["geometry_look_direction"] == "right"
    assert info.band_metadata[0]["units"] == "deg"
    assert 30.4 < stats["min"] and stats["max"] < 36.8
