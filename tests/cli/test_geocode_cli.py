"""displacement:geocode through the real qgis_process: a GAMMA lookup table given as files, and
a MintPy radar-geometry velocity.h5 given alone (its geometryRadar.h5 found by the reader)."""

import math

import h5py
import numpy as np
import pytest

from displacement_toolkit.core import geocode as gc
from displacement_toolkit.core.raster_io import raster_info, read_block, write_array

from ..unit.test_geocode import GEOMETRY, IDENTITY, field, write_dem_par, write_lookup_table

pytestmark = pytest.mark.cli


def test_gamma_lookup_table_from_the_command_line(qgis_process, tmp_path):
    g = GEOMETRY
    lon_c, lat_c = g.lonlat(*g.pixel_centres())
    post, width, height = 0.002, 210, 150
    corner_lon = math.floor(lon_c.min() / post) * post
    corner_lat = math.ceil(lat_c.max() / post) * post
    mlon, mlat = np.meshgrid(corner_lon + np.arange(width) * post, corner_lat - np.arange(height) * post)
    col, row = g.to_radar(mlon, mlat)
    rng, az = col - 0.5, row - 0.5
    outside = (rng < 0) | (rng > g.width - 1) | (az < 0) | (az > g.height - 1)
    rng[outside], az[outside] = 0.0, 0.0
    write_lookup_table(tmp_path / "lookup_fine", rng, az)
    write_dem_par(str(tmp_path / "dem_seg.par"), width, height, corner_lon, corner_lat, post, -post)
    src = write_array(str(tmp_path / "disp.tif"), field(lon_c, lat_c).astype(np.float32), IDENTITY,
                      "", ["LOS displacement"], [{"units": "m", "quantity": "los_displacement"}])
    out = tmp_path / "disp_geo.tif"
    result = qgis_process("run", "displacement:geocode", "--", f"INPUT={src}",
                          f"LOOKUP_TABLE={tmp_path / 'lookup_fine'}",
                          f"DEM_PAR={tmp_path / 'dem_seg.par'}", f"OUTPUT={out}", json_output=True)
    assert 0.3 < result["results"]["VALID_FRACTION"] < 1.0
    got = read_block(str(out)).astype(np.float64)
    assert np.isnan(got[outside]).all()
    err = np.abs(got - field(mlon, mlat))[~outside]
    assert err.max() < 0.01                     # the bilinear bound of tests/unit/test_geocode.py
    info = raster_info(str(out))
    assert (info.width, info.height) == (width, height)
    assert info.band_metadata[0]["units"] == "m" and (tmp_path / "disp_geo.qml").exists()


def test_mintpy_radar_velocity_alone_from_the_command_line(qgis_process, tmp_path):
    h, w = 40, 30
    from displacement_toolkit.core.synthetic_geometry import RadarGeometry
    g = RadarGeometry(w, h, range_pixel=300.0, azimuth_pixel=400.0, skew=15.0)
    lon, lat = g.lonlat(*g.pixel_centres())
    velocity = (0.5 * (lon - g.lon0) + 0.2 * (lat - g.lat0)).astype(np.float32)
    velocity[:, :3] = np.nan
    attrs = {"LENGTH": str(h), "WIDTH": str(w), "UNIT": "m/year"}
    with h5py.File(tmp_path / "velocity.h5", "w") as f:
        f.attrs.update(dict(attrs, FILE_TYPE="velocity"))
        f.create_dataset("velocity", data=velocity)
    lat_nan, lon_nan = lat.copy(), lon.copy()
    lat_nan[-1, :], lon_nan[-1, :] = np.nan, np.nan      # MintPy marks no data with NaN
    with h5py.File(tmp_path / "geometryRadar.h5", "w") as f:
        f.attrs.update(dict(attrs, FILE_TYPE="geometry"))
        f.create_dataset("incidenceAngle", data=np.full((h, w), 35.0, np.float32))
        f.create_dataset("latitude", data=lat_nan)
        f.create_dataset("longitude", data=lon_nan)
    out = tmp_path / "velocity_geo.tif"
    qgis_process("run", "displacement:geocode", "--", f"INPUT={tmp_path / 'velocity.h5'}",
                 "LOCAL_UTM=true", "RESOLUTION=200", f"OUTPUT={out}", json_output=True)
    info = raster_info(str(out))
    assert "UTM zone 5N" in info.crs_wkt and info.geotransform[1] == 200.0
    assert info.metadata["geolocation"].startswith("latitude latitude")
    got = read_block(str(out)).astype(np.float64)
    r, c = np.mgrid[0:info.height, 0:info.width] + 0.5
    x = info.geotransform[0] + c * info.geotransform[1]
    y = info.geotransform[3] + r * info.geotransform[5]
    from displacement_toolkit.core.raster_io import transform_xy, wgs84_wkt
    mlon, mlat = transform_xy(x, y, info.crs_wkt, wgs84_wkt())
    col, row = g.to_radar(mlon, mlat)
    # GDAL's geolocation warper also leaves empty the cell next to invalid latitude/longitude
    # (the last row here): inside = more than one cell from it
    inside = (col > 3.5) & (col < w - 0.5) & (row > 0.5) & (row < h - 2.5)
    assert inside.sum() > 200
    assert np.isfinite(got[inside]).all()
    truth = 0.5 * (mlon - g.lon0) + 0.2 * (mlat - g.lat0)
    assert np.abs(got - truth)[inside].max() < 1e-4
    assert np.isnan(got[col < 2.5]).all()                # the NaN columns stay NaN
    assert np.isnan(got[row > h + 0.5]).all()            # nothing beyond the last valid row
    assert gc.RADAR_TRANSFORM_KEY not in info.metadata
