"""displacement:common_grid through the real qgis_process."""

import numpy as np
import pytest

from displacement_toolkit.core.raster_io import raster_info, read_block

pytestmark = pytest.mark.cli


def test_common_grid_from_the_command_line(qgis_process, make_raster, tmp_path):
    a = make_raster(np.full((40, 40), 0.01, np.float32), "a.tif",
                    band_metadata=[{"units": "m", "quantity": "los_displacement"}])
    b = make_raster(np.full((10, 10), 2.0, np.float32), "b.tif",
                    geotransform=(500300.0, 90.0, 0.0, 3999700.0, 0.0, -90.0))
    out = tmp_path / "out"
    result = qgis_process("run", "displacement:common_grid", "--", f"LAYERS={a}", f"LAYERS={b}",
                          "EXTENT=1", f"OUTPUT_FOLDER={out}", json_output=True)
    paths = result["results"]["OUTPUT_LAYERS"]
    assert len(paths) == 2
    infos = [raster_info(p) for p in paths]
    # union x 500000..501200, y 3998800..4000000 at the coarsest resolution, b's 90 m, on b's
    # pixel edges (b is in the target CRS: its grid is kept and b is copied)
    for info in infos:
        assert info.geotransform == (499940.0, 90.0, 0.0, 4000060.0, 0.0, -90.0)
        assert (info.width, info.height) == (14, 14)
    assert np.array_equal(read_block(paths[1])[4:, 4:], read_block(b))
    assert np.nanmax(np.abs(read_block(paths[0]) - 0.01)) < 1e-7
    assert (out / "a_grid.qml").exists() and (out / "b_grid.qml").exists()
