#!/usr/bin/env python3
"""Generate the synthetic earthquake sample used by `make demo` and docs/tutorial.md.

A Mw 6.8 right-lateral strike-slip earthquake (vertical fault, 25 km long, from
the surface to 12 km depth, 2.5 m of slip, Okada 1985 half-space) seen by a
Sentinel-1-like ascending and descending track.  Reproducible (fixed seeds),
runs in a few seconds:

    .venv/bin/python scripts/make_sample_data.py --output demo_output/data/earthquake

Written into the output folder (see :data:`FILES` and docs/tutorial.md):

* ``truth_east.tif``, ``truth_north.tif``, ``truth_up.tif``: the surface
  displacement (metres, positive east/north/up) on a north-up 30 m grid in
  UTM 11N (EPSG:32611) covering both tracks.
* For each track ``asc`` (heading −12°, mid-swath incidence 39°) and ``desc``
  (heading −168°, incidence 34°), in radar geometry (rows = azimuth along the
  flight direction, 14 m; columns = slant range, 2.3 m), 512 × 1024 pixels:
  ``<track>_reference_slc.tif`` and ``<track>_secondary_slc.tif`` (CFloat32
  complex speckle, coherence 0.9, 80 % bandwidth, TOPS-like azimuth phase
  ramp), ``<track>_incidence.tif`` and ``<track>_heading.tif`` (degrees,
  docs/conventions.md), and the true offsets of each reference pixel
  ``<track>_truth_range_offset.tif`` / ``<track>_truth_azimuth_offset.tif``
  (pixels) and ``<track>_truth_los.tif`` (metres, positive toward the
  satellite).
* ``gnss_stations.csv``: 8 synthetic GNSS stations (station, lon, lat, east,
  north, up, sig_east, sig_north, sig_up; coseismic displacement in metres
  with Gaussian noise of the stated sigma, seeded; true_east/north/up too).
* ``gnss_series.csv``: the same stations as positions (m) on 2024-01-01 (before)
  and 2024-01-13 (after the earthquake), long format (station, date, lon, lat,
  east, north, up, sigmas) as read by displacement:gnss_timeseries_comparison.
* ``scene.json``: every parameter above.

Radar geometry (flat Earth, explicit so that tests can check it):

* The radar grid is placed on the ground by an **affine geotransform with
  rotation terms**: column step = ground-range pixel ``2.3 m / sin θ_mid``
  along the horizontal look direction (away from the satellite,
  ``(cos h, −sin h)`` for a right-looking sensor), row step = 14 m along the
  flight direction ``(sin h, cos h)``.  GDAL (and so QGIS and the toolkit's
  common grid) then puts the radar-geometry products on a map grid exactly.
  The small nonlinearity of slant-to-ground range across 2.4 km of slant
  range (< 2 m) is ignored.
* Incidence varies across the swath as on a flat Earth seen from 693 km:
  ``cos θ = H / R`` with ``R`` the slant range of the column.
* **Range offset** (pixels) = (ground displacement · range unit vector) /
  2.3 m, with the range unit vector = −LOS (positive = range increase =
  motion away from the satellite, docs/conventions.md); so
  ``range offset × 2.3 m = −LOS displacement``.  **Azimuth offset** (pixels) =
  (ground displacement · (sin h, cos h, 0)) / 14 m.
* The secondary SLC images the ground displaced by the earthquake:
  ``secondary(q) = reflectivity(q − offset)`` with the offset of the ground
  point that moved to ``q`` (fixed-point iteration), so that the offset
  measured by a window centred at reference pixel ``p`` is the truth at
  ``p`` (core.synthetic_sar conventions).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO / ".build" / "plugins") not in sys.path:
    sys.path.insert(0, str(REPO / ".build" / "plugins"))

from displacement_toolkit.core.geometry import (  # noqa: E402
    along_track_unit_vector,
    los_unit_vector_from_heading,
    project_enu,
)
from displacement_toolkit.core.okada import fault_displacement_enu, moment_magnitude  # noqa: E402
from displacement_toolkit.core.raster_io import (  # noqa: E402
    crs_from_epsg, transform_xy, wgs84_wkt, write_array)
from displacement_toolkit.core.synthetic_sar import speckle_pair  # noqa: E402

EPSG = 32611
SCENE_CENTRE = (560000.0, 3850000.0)  # UTM 11N easting, northing (m)
ORBIT_HEIGHT = 693000.0               # m, flat Earth
RANGE_PIXEL = 2.3                     # slant range pixel (m)
AZIMUTH_PIXEL = 14.0                  # azimuth pixel (m)
SHAPE = (512, 1024)                   # rows (azimuth), columns (range)
COHERENCE = 0.9
BANDWIDTH = 0.8
RAMP_CYCLES = 0.15                    # azimuth spectral centroid at the central row (cycles/px)
RAMP_RATE = 5e-4                      # its change per row (cycles/px^2), TOPS-like
TRUTH_PIXEL = 30.0                    # m, north-up truth grid
SHEAR_MODULUS = 3.0e10

FAULT = {
    "strike": 30.0,            # degrees clockwise from north
    "dip": 90.0,
    "length": 25000.0,         # m
    "top_depth": 0.0,          # m (surface rupture)
    "bottom_depth": 12000.0,   # m
    "strike_slip": -2.5,       # m, negative = right-lateral
    "dip_slip": 0.0,
    "opening": 0.0,
    "poisson": 0.25,
    # the scene centre lies on the trace, 3.5 km from the north-eastern tip
    "distance_from_tip": 3500.0,
}

TRACKS = {
    "asc": {"heading": -12.0, "incidence": 39.0, "seed": 11},
    "desc": {"heading": -168.0, "incidence": 34.0, "seed": 23},
}

GNSS_SIGMA = (0.002, 0.002, 0.005)  # m: east, north, up
GNSS_SEED = 5
# station positions relative to the scene centre (m east, m north)
# (all more than 750 m from the fault trace and inside both tracks' footprints)
GNSS_OFFSETS = [(-1200.0, 2200.0), (900.0, -2600.0), (1300.0, 600.0), (-1400.0, -600.0),
                (400.0, 3000.0), (-400.0, -2700.0), (1300.0, -300.0), (-1600.0, 500.0)]
GNSS_DATES = ("2024-01-01", "2024-01-13")  # before and after the earthquake (series CSV)

FILES = ["truth_east.tif", "truth_north.tif", "truth_up.tif", "gnss_stations.csv",
         "gnss_series.csv", "scene.json"] + [
    f"{t}_{name}.tif" for t in TRACKS for name in (
        "reference_slc", "secondary_slc", "incidence", "heading",
        "truth_range_offset", "truth_azimuth_offset", "truth_los")]


def fault_centre():
    """Horizontal position (m) of the midpoint of the fault's top edge."""
    s, c = math.sin(math.radians(FAULT["strike"])), math.cos(math.radians(FAULT["strike"]))
    back = FAULT["length"] / 2.0 - FAULT["distance_from_tip"]
    return SCENE_CENTRE[0] - back * s, SCENE_CENTRE[1] - back * c


def ground_displacement(east, north):
    """True (east, north, up) displacement (m) at map positions (m, EPSG:32611)."""
    fe, fn = fault_centre()
    keys = ("strike", "dip", "length", "top_depth", "bottom_depth", "strike_slip", "dip_slip",
            "opening", "poisson")
    return fault_displacement_enu(east, north, fault_east=fe, fault_north=fn,
                                  **{k: FAULT[k] for k in keys})


def magnitude():
    width = (FAULT["bottom_depth"] - FAULT["top_depth"]) / math.sin(math.radians(FAULT["dip"]))
    return moment_magnitude(FAULT["length"], width, FAULT["strike_slip"], SHEAR_MODULUS)


def track_geotransform(heading, incidence_mid, shape=SHAPE):
    """Affine geotransform (with rotation) of a radar grid centred on the scene centre."""
    rows, cols = shape
    h = math.radians(heading)
    ground_pixel = RANGE_PIXEL / math.sin(math.radians(incidence_mid))
    look = (math.cos(h), -math.sin(h))      # horizontal, away from a right-looking sensor
    along = (math.sin(h), math.cos(h))      # flight direction
    gt1, gt4 = ground_pixel * look[0], ground_pixel * look[1]
    gt2, gt5 = AZIMUTH_PIXEL * along[0], AZIMUTH_PIXEL * along[1]
    x0 = SCENE_CENTRE[0] - cols / 2.0 * gt1 - rows / 2.0 * gt2
    y0 = SCENE_CENTRE[1] - cols / 2.0 * gt4 - rows / 2.0 * gt5
    return (x0, gt1, gt2, y0, gt4, gt5)


def pixel_ground(gt, rows, cols):
    """Map position (m) of fractional pixel indices (row, col), pixel centre at index + 0.5."""
    x = gt[0] + (cols + 0.5) * gt[1] + (rows + 0.5) * gt[2]
    y = gt[3] + (cols + 0.5) * gt[4] + (rows + 0.5) * gt[5]
    return x, y


def column_incidence(incidence_mid, cols=SHAPE[1]):
    """Incidence (degrees) of each column on a flat Earth seen from ORBIT_HEIGHT."""
    r_mid = ORBIT_HEIGHT / math.cos(math.radians(incidence_mid))
    r = r_mid + (np.arange(cols) + 0.5 - cols / 2.0) * RANGE_PIXEL
    return np.degrees(np.arccos(ORBIT_HEIGHT / r))


def offsets_px(east, north, up, incidence, heading):
    """(range, azimuth) offsets in pixels of a ground displacement (m); see the module doc."""
    los = los_unit_vector_from_heading(incidence, heading)
    los_disp = project_enu(east, north, up, los)
    along = project_enu(east, north, up, along_track_unit_vector(heading))
    return -los_disp / RANGE_PIXEL, along / AZIMUTH_PIXEL, los_disp


def make_track(name, spec, out, crs, log=print):
    rows, cols = SHAPE
    gt = track_geotransform(spec["heading"], spec["incidence"])
    inc_col = column_incidence(spec["incidence"])
    incidence = np.broadcast_to(inc_col[None, :], SHAPE)
    heading = np.full(SHAPE, spec["heading"])
    r, c = np.mgrid[0:rows, 0:cols].astype(np.float64)
    # truth on the reference grid
    e, n, u = ground_displacement(*pixel_ground(gt, r, c))
    rg, az, los = offsets_px(e, n, u, incidence, spec["heading"])
    # offsets on the secondary grid: the ground point p that moved to q satisfies p = q - d(p)
    rg_s, az_s = rg.copy(), az.copy()
    for _ in range(3):
        es, ns, us = ground_displacement(*pixel_ground(gt, r - az_s, c - rg_s))
        rg_s, az_s, _los = offsets_px(es, ns, us, incidence, spec["heading"])
    ref, sec = speckle_pair(SHAPE, rg_s, az_s, coherence=COHERENCE, bandwidth=BANDWIDTH,
                            azimuth_ramp_cycles=RAMP_CYCLES, azimuth_ramp_rate=RAMP_RATE,
                            seed=spec["seed"])
    meta = {
        "track": name, "heading_deg": f"{spec['heading']:g}",
        "incidence_mid_deg": f"{spec['incidence']:g}", "look_direction": "right",
        "RANGE_PIXEL_SIZE": f"{RANGE_PIXEL:g}", "AZIMUTH_PIXEL_SIZE": f"{AZIMUTH_PIXEL:g}",
        "geometry": "radar (rows = azimuth along flight, columns = slant range); affine ground "
                    "geotransform, flat Earth (scripts/make_sample_data.py)",
        "synthetic": "yes",
    }
    slc_meta = dict(meta, coherence=f"{COHERENCE:g}", bandwidth=f"{BANDWIDTH:g}",
                    azimuth_ramp_cycles=f"{RAMP_CYCLES:g}", azimuth_ramp_rate=f"{RAMP_RATE:g}")
    write_array(str(out / f"{name}_reference_slc.tif"), ref, gt, crs,
                descriptions=["reference SLC"], band_metadata=[{"quantity": "slc"}],
                metadata=dict(slc_meta, role="reference"))
    write_array(str(out / f"{name}_secondary_slc.tif"), sec, gt, crs,
                descriptions=["secondary SLC"], band_metadata=[{"quantity": "slc"}],
                metadata=dict(slc_meta, role="secondary"))
    write_array(str(out / f"{name}_incidence.tif"), incidence.astype(np.float32), gt, crs,
                descriptions=["incidence"],
                band_metadata=[{"units": "degree", "quantity": "incidence_angle",
                                "convention": "at the ground, from the vertical"}], metadata=meta)
    write_array(str(out / f"{name}_heading.tif"), heading.astype(np.float32), gt, crs,
                descriptions=["heading"],
                band_metadata=[{"units": "degree", "quantity": "heading",
                                "convention": "flight direction, clockwise from north"}],
                metadata=meta)
    for key, arr, desc, units, conv in (
            ("truth_range_offset", rg, "true range offset", "px",
             "secondary minus reference; positive = range increase (away from the satellite)"),
            ("truth_azimuth_offset", az, "true azimuth offset", "px",
             "secondary minus reference; positive along the flight direction"),
            ("truth_los", los, "true LOS displacement", "m", "positive toward the satellite")):
        write_array(str(out / f"{name}_{key}.tif"), arr.astype(np.float32), gt, crs,
                    descriptions=[desc],
                    band_metadata=[{"units": units, "quantity": key[6:], "convention": conv}],
                    metadata=meta)
    log(f"  {name}: {rows} x {cols} px, range offsets {rg.min():+.3f}..{rg.max():+.3f} px, "
        f"azimuth offsets {az.min():+.3f}..{az.max():+.3f} px")
    return gt


def footprint(gt, shape=SHAPE):
    rows, cols = shape
    corners = [(0, 0), (0, cols), (rows, 0), (rows, cols)]
    xs = [gt[0] + c * gt[1] + r * gt[2] for r, c in corners]
    ys = [gt[3] + c * gt[4] + r * gt[5] for r, c in corners]
    return min(xs), min(ys), max(xs), max(ys)


def make_truth_grid(out, crs, geotransforms):
    boxes = [footprint(gt) for gt in geotransforms]
    xmin = math.floor(min(b[0] for b in boxes) / TRUTH_PIXEL) * TRUTH_PIXEL
    ymin = math.floor(min(b[1] for b in boxes) / TRUTH_PIXEL) * TRUTH_PIXEL
    xmax = math.ceil(max(b[2] for b in boxes) / TRUTH_PIXEL) * TRUTH_PIXEL
    ymax = math.ceil(max(b[3] for b in boxes) / TRUTH_PIXEL) * TRUTH_PIXEL
    cols, rows = int(round((xmax - xmin) / TRUTH_PIXEL)), int(round((ymax - ymin) / TRUTH_PIXEL))
    gt = (xmin, TRUTH_PIXEL, 0.0, ymax, 0.0, -TRUTH_PIXEL)
    r, c = np.mgrid[0:rows, 0:cols].astype(np.float64)
    x, y = gt[0] + (c + 0.5) * gt[1], gt[3] + (r + 0.5) * gt[5]
    for comp, arr in zip(("east", "north", "up"), ground_displacement(x, y)):
        write_array(str(out / f"truth_{comp}.tif"), arr.astype(np.float32), gt, crs,
                    descriptions=[f"true {comp} displacement"],
                    band_metadata=[{"units": "m", "quantity": f"{comp}_displacement",
                                    "convention": f"positive {comp}"}],
                    metadata={"synthetic": "yes", "source": "Okada (1985) half-space"})
    return gt, (rows, cols)


def make_gnss(out):
    rng = np.random.default_rng(GNSS_SEED)
    rows = []
    for i, (dx, dy) in enumerate(GNSS_OFFSETS):
        x, y = SCENE_CENTRE[0] + dx, SCENE_CENTRE[1] + dy
        e, n, u = (float(v) for v in ground_displacement(x, y))
        noise = rng.standard_normal(3) * np.array(GNSS_SIGMA)
        lon, lat = (float(v) for v in transform_xy(x, y, crs_from_epsg(EPSG), wgs84_wkt()))
        rows.append({"station": f"SYN{i + 1}", "lon": f"{lon:.7f}", "lat": f"{lat:.7f}",
                     "east": f"{e + noise[0]:.5f}", "north": f"{n + noise[1]:.5f}",
                     "up": f"{u + noise[2]:.5f}", "sig_east": f"{GNSS_SIGMA[0]:g}",
                     "sig_north": f"{GNSS_SIGMA[1]:g}", "sig_up": f"{GNSS_SIGMA[2]:g}",
                     "true_east": f"{e:.5f}", "true_north": f"{n:.5f}", "true_up": f"{u:.5f}"})
    with open(out / "gnss_stations.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    # the same stations as daily positions (long format) on the day before and 12 days after
    # the earthquake: noise only, then the coseismic displacement plus noise (new draws)
    series = []
    for row in rows:
        for k, date in enumerate(GNSS_DATES):
            noise = rng.standard_normal(3) * np.array(GNSS_SIGMA)
            value = [float(row[f"true_{c}"]) * k for c in ("east", "north", "up")] + noise
            series.append({"station": row["station"], "date": date, "lon": row["lon"],
                           "lat": row["lat"], "east": f"{value[0]:.5f}",
                           "north": f"{value[1]:.5f}", "up": f"{value[2]:.5f}",
                           "sig_east": row["sig_east"], "sig_north": row["sig_north"],
                           "sig_up": row["sig_up"]})
    with open(out / "gnss_series.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(series[0]))
        writer.writeheader()
        writer.writerows(series)
    return rows


def generate(output, log=print):
    """Write every file of :data:`FILES` into ``output``; return the scene description."""
    started = time.perf_counter()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    crs = crs_from_epsg(EPSG)
    log(f"Synthetic Mw {magnitude():.2f} strike-slip earthquake -> {out}")
    gts = {name: make_track(name, spec, out, crs, log) for name, spec in TRACKS.items()}
    truth_gt, truth_shape = make_truth_grid(out, crs, gts.values())
    make_gnss(out)
    scene = {
        "epsg": EPSG, "scene_centre": SCENE_CENTRE, "fault": dict(FAULT),
        "fault_top_midpoint": fault_centre(), "moment_magnitude": round(magnitude(), 3),
        "shear_modulus_pa": SHEAR_MODULUS,
        "radar": {"shape_rows_cols": SHAPE, "range_pixel_m": RANGE_PIXEL,
                  "azimuth_pixel_m": AZIMUTH_PIXEL, "orbit_height_m": ORBIT_HEIGHT,
                  "coherence": COHERENCE, "bandwidth": BANDWIDTH,
                  "azimuth_ramp_cycles": RAMP_CYCLES, "azimuth_ramp_rate": RAMP_RATE,
                  "look_direction": "right"},
        "tracks": {k: dict(v, geotransform=gts[k]) for k, v in TRACKS.items()},
        "truth_grid": {"geotransform": truth_gt, "shape_rows_cols": truth_shape},
        "gnss": {"sigma_enu_m": GNSS_SIGMA, "seed": GNSS_SEED},
        "files": FILES,
    }
    (out / "scene.json").write_text(json.dumps(scene, indent=2), encoding="utf-8")
    log(f"  written in {time.perf_counter() - started:.1f} s")
    return scene


RADAR_FILES = [f"{t}_radar_{name}.tif" for t in TRACKS for name in (
    "reference_slc", "secondary_slc", "incidence", "heading", "latitude", "longitude")]


def make_radar_geometry(output, log=print):
    """The tracks of :func:`generate` (already in ``output``) as radar-geometry rasters without
    CRS, as ISCE2 or GAMMA deliver them: ``<track>_radar_{reference_slc, secondary_slc,
    incidence, heading}.tif`` (identity geotransform) with ``<track>_radar_latitude.tif`` and
    ``_longitude.tif`` (float64 degrees, WGS 84: each pixel centre of the track's affine ground
    geotransform), named in the rasters' metadata (``geolocation_latitude``/``_longitude``) so
    that displacement:geocode needs only the file (docs/geocode.md)."""
    from osgeo import gdal

    out = Path(output)
    crs = crs_from_epsg(EPSG)
    identity = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    rows, cols = SHAPE
    r, c = np.mgrid[0:rows, 0:cols].astype(np.float64)
    for track in TRACKS:
        ds = gdal.Open(str(out / f"{track}_reference_slc.tif"))
        x, y = pixel_ground(ds.GetGeoTransform(), r, c)
        ds = None
        lon, lat = transform_xy(x, y, crs, wgs84_wkt())
        geo = {}
        for key, values in (("latitude", lat), ("longitude", lon)):
            path = out / f"{track}_radar_{key}.tif"
            dst = gdal.GetDriverByName("GTiff").Create(str(path), cols, rows, 1, gdal.GDT_Float64,
                                                       ["TILED=YES", "COMPRESS=DEFLATE"])
            dst.GetRasterBand(1).WriteArray(values)
            dst.GetRasterBand(1).SetDescription(key)
            dst.GetRasterBand(1).SetMetadata({"units": "degree", "quantity": key})
            dst = None
            geo[f"geolocation_{key}"] = str(path.resolve())
        for name in ("reference_slc", "secondary_slc", "incidence", "heading"):
            src = gdal.Open(str(out / f"{track}_{name}.tif"))
            band = src.GetRasterBand(1)
            meta = dict(src.GetMetadata(), **geo)
            meta["geometry"] = ("radar (rows = azimuth along flight, columns = slant range), no "
                                "CRS; latitude/longitude rasters (scripts/make_sample_data.py)")
            write_array(str(out / f"{track}_radar_{name}.tif"), band.ReadAsArray(), identity, "",
                        descriptions=[band.GetDescription()], band_metadata=[band.GetMetadata()],
                        metadata=meta)
            band = src = None
    log(f"  radar geometry: {', '.join(RADAR_FILES)}")
    return [out / name for name in RADAR_FILES]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="demo_output/data/earthquake")
    parser.add_argument("--radar-geometry", action="store_true",
                        help="also write the tracks in radar geometry with latitude/longitude "
                             "rasters (for displacement:geocode)")
    args = parser.parse_args()
    generate(args.output)
    if args.radar_geometry:
        make_radar_geometry(args.output)


if __name__ == "__main__":
    main()
