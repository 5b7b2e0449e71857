"""The documented recipe that puts radar-geometry offsets on a map (docs/offset_tracking.md,
"Offsets in radar geometry on a map"), run as written on a synthetic radar geometry."""

import re
from pathlib import Path

import numpy as np
from osgeo import gdal
from scipy import ndimage

from displacement_toolkit.core import offset_tracking as ot
from displacement_toolkit.core.raster_io import read_block, write_array

DOC = Path(__file__).resolve().parents[2] / "docs" / "offset_tracking.md"
HEIGHT, WIDTH = 512, 768
IDENTITY = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)      # what GDAL reports for a raster without georeferencing


def _recipe() -> str:
    text = DOC.read_text()
    section = text[text.index("### Offsets in radar geometry on a map"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def _lonlat(cols, rows):
    """A tilted, sheared radar geometry (degrees) at fractional pixel positions."""
    return (-155.3 + 2.5e-4 * cols - 0.6e-4 * rows, 19.3 + 0.5e-4 * cols - 1.3e-4 * rows)


def _field(lon, lat):
    """Offsets (pixels) linear in longitude and latitude."""
    return 1000.0 * (lon + 155.3) + 500.0 * (lat - 19.3)


def test_documented_geocoding_recipe_puts_each_window_on_its_ground_position(tmp_path):
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH] + 0.5                  # pixel centres
    lon, lat = _lonlat(cols, rows)
    write_array(str(tmp_path / "lat.tif"), lat, IDENTITY, "")
    write_array(str(tmp_path / "lon.tif"), lon, IDENTITY, "")
    # an offset-tracking output grid: its geotransform as the algorithm writes it
    p = ot.TrackingParameters()
    centre_cols, centre_rows = ot.output_grid(WIDTH, HEIGHT, p)
    cc, rr = np.meshgrid(centre_cols, centre_rows)
    write_array(str(tmp_path / "dx.tif"), _field(*_lonlat(cc, rr)).astype(np.float32),
                ot.output_geotransform(IDENTITY, p), "")
    code = _recipe()
    for name, value in (("offsets", repr(str(tmp_path / "dx.tif"))),
                        ("lat, lon", f"{str(tmp_path / 'lat.tif')!r}, {str(tmp_path / 'lon.tif')!r}"),
                        ("out", repr(str(tmp_path / "dx_geo.tif"))), ("resolution", "0.002")):
        code, n = re.subn(rf"^{re.escape(name)} = .*$", f"{name} = {value}", code, flags=re.M)
        assert n == 1, name
    exec(compile(code, "offset_tracking.md recipe", "exec"), {})

    ds = gdal.Open(str(tmp_path / "dx_geo.tif"))
    gt = ds.GetGeoTransform()
    assert gt[1] == 0.002 and gt[5] == -0.002
    got = read_block(ds, 1).astype(np.float64)
    ds = None
    r, c = np.mgrid[0:got.shape[0], 0:got.shape[1]] + 0.5
    truth = _field(gt[0] + c * gt[1], gt[3] + r * gt[5])
    inside = np.isfinite(got)
    # the footprint: every window centre lies on a valid pixel, nothing far outside them
    lon_c, lat_c = _lonlat(cc, rr)
    col_c = ((lon_c - gt[0]) / gt[1]).astype(int)
    row_c = ((lat_c - gt[3]) / gt[5]).astype(int)
    assert inside[row_c[1:-1, 1:-1], col_c[1:-1, 1:-1]].all()
    assert 0.9 * cc.size * (32 * 2.5e-4) * (32 * 1.3e-4) / 0.002 ** 2 < inside.sum()
    # more than 3/4 of a window spacing (3 pixels) inside the footprint, the warped offsets
    # are the field at each pixel's map position: within a tenth of the change between
    # neighbouring windows (about 4 and 9 here), in fact within 0.05
    inner = ndimage.binary_erosion(inside, iterations=3)
    assert inner.sum() > 0.6 * inside.sum()
    assert np.abs(got - truth)[inner].max() < 0.05
    # half a window off (the corner convention instead of the centre) would be ~4 off
    assert np.abs(got - truth)[inner].mean() < 0.02
