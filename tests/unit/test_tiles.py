"""Tiles compressed in the tasks (core.tiles): the files equal GDAL's own, byte for byte in
every tile, and the writer refuses what would leave a tile unwritten or misplaced."""

import os

import numpy as np
import pytest
from osgeo import gdal

from displacement_toolkit.core import raster_io as rio
from displacement_toolkit.core import tiles

GT = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
WKT = rio.crs_from_epsg(32633)
HEIGHT, WIDTH, BANDS = 700, 1000, 3     # neither side a multiple of the 256-pixel tiles


def _scene():
    rng = np.random.default_rng(4)
    data = rng.normal(0.0, 0.02, (BANDS, HEIGHT, WIDTH)).astype(np.float32)
    data[0, :40, :300] = np.nan          # a corner without data
    data[1, 256:512] = np.nan            # a whole row of tiles without data
    data[2] = np.cumsum(data[2], axis=1)  # smooth: compresses well
    return data


def _write(path, data, step, packed):
    layout = tiles.TileLayout(WIDTH, HEIGHT, step)
    with rio.RasterWriter(path, WIDTH, HEIGHT, GT, WKT, BANDS,
                          band_metadata=[{"units": "m"}] * BANDS) as writer:
        for row in range(0, HEIGHT, step):
            for band in range(BANDS):
                block = data[band, row:row + step]
                writer.write(band + 1, row, layout.pack(block, row) if packed else block)
        return [writer.stats(b + 1) for b in range(BANDS)]


def _tile_bytes(path):
    with open(path, "rb") as f:
        offsets, sizes = tiles.read_tile_index(f)
        out = []
        for offset, size in zip(offsets.tolist(), sizes.tolist()):
            f.seek(offset)
            out.append(f.read(size))
    return out


def test_tiles_compressed_in_tasks_are_gdal_s_own_tiles(tmp_path):
    data = _scene()
    packed, plain = str(tmp_path / "packed.tif"), str(tmp_path / "plain.tif")
    stats_packed = _write(packed, data, 512, packed=True)
    stats_plain = _write(plain, data, 512, packed=False)
    # every tile holds the bytes GDAL itself wrote, so the pixels are the same too
    packed_tiles, plain_tiles = _tile_bytes(packed), _tile_bytes(plain)
    assert len(packed_tiles) == BANDS * 3 * 4
    assert packed_tiles == plain_tiles
    for band in range(BANDS):
        assert np.array_equal(rio.read_block(packed, band + 1), data[band], equal_nan=True)
    assert stats_packed == stats_plain
    # exact statistics, in the file too
    finite = data[0][np.isfinite(data[0])].astype(np.float64)
    assert stats_packed[0]["valid"] == finite.size == HEIGHT * WIDTH - 40 * 300
    assert stats_packed[0]["min"] == finite.min() and stats_packed[0]["max"] == finite.max()
    assert stats_packed[0]["mean"] == pytest.approx(finite.mean(), rel=1e-12)
    assert stats_packed[0]["std"] == pytest.approx(finite.std(), rel=1e-9)
    dataset = gdal.Open(packed)
    mean = dataset.GetRasterBand(1).GetMetadataItem("STATISTICS_MEAN")
    assert float(mean) == pytest.approx(finite.mean(), rel=1e-12)
    info = rio.raster_info(packed)
    assert info.band_metadata[0]["units"] == "m" and info.geotransform == GT
    assert gdal.Open(packed).GetMetadata("IMAGE_STRUCTURE")["COMPRESSION"] == "DEFLATE"
    assert not [f for f in os.listdir(tmp_path) if "partial" in f]


def test_unaligned_blocks_stay_arrays_and_are_written_by_gdal(tmp_path):
    layout = tiles.TileLayout(WIDTH, HEIGHT, 300)
    assert not layout.aligned
    block = np.zeros((300, WIDTH), np.float32)
    assert layout.pack(block, 0) is block
    data = _scene()
    path = str(tmp_path / "unaligned.tif")
    _write(path, data, 300, packed=True)
    for band in range(BANDS):
        assert np.array_equal(rio.read_block(path, band + 1), data[band], equal_nan=True)
    assert tiles.TileLayout(WIDTH, HEIGHT, HEIGHT).aligned   # one block is aligned


def test_a_missing_tile_fails_and_leaves_nothing(tmp_path):
    data = _scene()
    path = str(tmp_path / "missing.tif")
    layout = tiles.TileLayout(WIDTH, HEIGHT, 512)
    with pytest.raises(rio.RasterError, match="12 tiles were never written"):
        with rio.RasterWriter(path, WIDTH, HEIGHT, GT, WKT, BANDS) as writer:
            for band in range(BANDS):
                writer.write(band + 1, 0, layout.pack(data[band, :512], 0))
    assert os.listdir(tmp_path) == []


def test_blocks_that_would_misplace_tiles_are_refused(tmp_path):
    data = _scene()
    layout = tiles.TileLayout(WIDTH, HEIGHT, 512)
    with pytest.raises(rio.RasterError, match="whole rows of tiles"):
        tiles.encode_tiles(data[0, 100:612], 100, WIDTH, HEIGHT)
    writer = rio.RasterWriter(str(tmp_path / "mixed.tif"), WIDTH, HEIGHT, GT, WKT, 1)
    writer.write(1, 0, data[0, :512])                       # GDAL's path first ...
    with pytest.raises(rio.RasterError, match="can only start"):
        writer.write(1, 512, layout.pack(data[0, 512:], 512))   # ... then tiles: refused
    writer.abort()
    writer = rio.RasterWriter(str(tmp_path / "after.tif"), WIDTH, HEIGHT, GT, WKT, 1)
    writer.write(1, 0, layout.pack(data[0, :512], 0))
    with pytest.raises(rio.RasterError, match="whole rows of tiles"):
        writer.write(1, 512, data[0, 512:600])              # a plain block inside a tile row
    writer.write(1, 512, data[0, 512:])                     # a plain block of whole rows: fine
    path = writer.commit()
    assert np.array_equal(rio.read_block(path), data[0], equal_nan=True)
    assert os.listdir(tmp_path) == ["after.tif"]


def test_abort_after_tiles_leaves_nothing(tmp_path):
    data = _scene()
    layout = tiles.TileLayout(WIDTH, HEIGHT, 512)
    writer = rio.RasterWriter(str(tmp_path / "aborted.tif"), WIDTH, HEIGHT, GT, WKT, 1)
    writer.write(1, 0, layout.pack(data[0, :512], 0))
    writer.abort()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("bigtiff", ["NO", "YES"])
def test_tile_index_is_written_in_classic_and_bigtiff_files(tmp_path, bigtiff):
    data = _scene()[2]
    path = str(tmp_path / f"{bigtiff}.tif")
    options = list(rio.GTIFF_OPTIONS) + ["PREDICTOR=3", "SPARSE_OK=TRUE", f"BIGTIFF={bigtiff}"]
    gdal.GetDriverByName("GTiff").Create(path, WIDTH, HEIGHT, 1, gdal.GDT_Float32,
                                         [o for o in options if not o.startswith("BIGTIFF=IF")])
    with open(path, "rb") as f:
        assert f.read(4)[2] == (43 if bigtiff == "YES" else 42)
        offsets, sizes = tiles.read_tile_index(f)
    assert not offsets.any() and not sizes.any()   # GDAL wrote an empty index
    target = tiles.TileFile(path, WIDTH, HEIGHT, 1)
    for row in (512, 0):                            # any order
        target.add(1, tiles.encode_tiles(data[row:row + 512], row, WIDTH, HEIGHT))
    assert target.missing() == 0
    target.close()
    assert np.array_equal(rio.read_block(path), data)


def test_one_tile_raster_keeps_its_index_in_the_directory_entry(tmp_path):
    data = np.linspace(-1, 1, 100 * 80, dtype=np.float32).reshape(100, 80)
    path = str(tmp_path / "small.tif")
    with rio.RasterWriter(path, 80, 100, GT, WKT) as writer:
        writer.write(1, 0, tiles.TileLayout(80, 100, 100).pack(data, 0))
    assert np.array_equal(rio.read_block(path), data)


def test_read_tile_index_refuses_untiled_files(tmp_path):
    path = str(tmp_path / "strips.tif")
    gdal.GetDriverByName("GTiff").Create(path, 10, 10, 1, gdal.GDT_Float32).FlushCache()
    with open(path, "rb") as f, pytest.raises(ValueError, match="not tiled"):
        tiles.read_tile_index(f)


def test_summary_is_exact_and_its_sample_repeatable():
    rng = np.random.default_rng(7)
    block = rng.normal(3.0, 2.0, (400, 500)).astype(np.float32)
    block[:100] = np.nan
    summary = tiles.summarize(block, 1000, (256, 0))
    finite = block[np.isfinite(block)].astype(np.float64)
    assert summary.valid == finite.size == 150000
    assert (summary.minimum, summary.maximum) == (finite.min(), finite.max())
    assert summary.total == pytest.approx(finite.sum(), rel=1e-12)
    assert summary.squares == pytest.approx(np.dot(finite, finite), rel=1e-12)
    # 1000 of the finite values, drawn again alike from the same seed
    assert summary.sample.size == 1000 and np.isin(summary.sample, finite).all()
    again = tiles.summarize(block, 1000, (256, 0))
    assert np.array_equal(again.sample, summary.sample)
    small = tiles.summarize(block[100:110], 1000000, (0, 0))
    assert small.sample.size == 5000                 # all of them when the quota allows
    sparse = np.full((400, 500), np.nan, np.float32)
    sparse[::50, ::50] = 1.0                         # 80 valid values: all of them
    assert tiles.summarize(sparse, 1000, (0, 0)).sample.size == 80
    empty = tiles.summarize(np.full((3, 3), np.nan, np.float32), 10, (0, 0))
    assert empty.valid == 0 and empty.sample.size == 0
