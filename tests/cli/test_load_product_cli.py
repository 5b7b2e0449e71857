"""displacement:load_product through the real qgis_process binary (real PyRate ROI_PAC data)."""

from pathlib import Path

import numpy as np
import pytest

from displacement_toolkit.core.raster_io import raster_info, read_block

pytestmark = pytest.mark.cli

ROIPAC = Path(__file__).resolve().parents[1] / "data" / "pyrate_sydney_envisat" / "geo_061106-061211.unw"


def test_qgis_process_writes_the_interferogram_layers(qgis_process, tmp_path):
    out = tmp_path / "loaded"
    result = qgis_process("run", "displacement:load_product", "--",
                          f"INPUT={ROIPAC}", f"OUTPUT_FOLDER={out}", json_output=True)
    written = sorted(result["results"]["OUTPUT_LAYERS"])
    assert [Path(p).name for p in written] == ["geo_061106-061211_amplitude.tif",
                                               "geo_061106-061211_unwrapped_phase.tif"]
    phase_path = str(out / "geo_061106-061211_unwrapped_phase.tif")
    info = raster_info(phase_path)
    assert info.band_metadata[0]["units"] == "rad"
    assert info.metadata["reference_date"] == "2006-11-06"
    assert info.geotransform[0] == pytest.approx(150.91)
    raw = np.fromfile(ROIPAC, "<f4").reshape(72, 2, 47)[:, 1, :]
    phase = read_block(phase_path)
    np.testing.assert_array_equal(np.isnan(phase), raw == 0)
    np.testing.assert_array_equal(phase[raw != 0], raw[raw != 0])
    assert (out / "geo_061106-061211_unwrapped_phase.qml").exists()
