"""Decomposition of asc + desc range offsets and asc + desc azimuth offsets -> east, north, up.

``displacement:decompose`` with four observations (range offsets in metres, positive = range
increase; azimuth offsets in metres, positive along the flight direction; per-pixel incidence
and heading rasters in radar geometry), COMPONENTS = east + north + up, on a custom 100 m
north-up grid in UTM 11N (the radar-geometry products carry an affine, rotated geotransform, so
GDAL resamples them onto the map grid).  Each observation is weighted by its 1-sigma: the
median offset-tracking sigma (pixels) x the pixel size (range 2.3 m, azimuth 14 m).

Truth: the Okada field at the output pixel centres.  Tolerances (documented), away from the
rupture (pixel centres more than 800 m from the trace: the 64 x 64 tracking windows, 896 m
long in azimuth, plus one 100 m output pixel) - measured values in the demo summary:

* east <= 0.03 m and up <= 0.03 m (set by the range offsets, about 1.4 cm per track, and by the
  weak north/up separation of near-polar orbits);
* north <= 0.10 m (set by the azimuth offsets, about 8 cm per track: 14 m pixels);
* all pixels, including the 2.5 m step smeared over a window: east/north/up <= 0.35 m.
"""

import numpy as np

from . import earthquake_offsets
from ._common import (
    earthquake_dir,
    fault_distance,
    map_figure,
    pixel_centres,
    read,
    require_style,
    rmse,
    truth_enu,
)

FAR = 800.0
TOL_FAR = {"east": 0.03, "north": 0.10, "up": 0.03}
TOL_ALL = 0.35
GRID_RESOLUTION = 100.0


def outputs(demo):
    out = demo.output / "earthquake"
    return {"OUTPUT_EAST": out / "decomposed_east.tif", "OUTPUT_NORTH": out / "decomposed_north.tif",
            "OUTPUT_UP": out / "decomposed_up.tif", "OUTPUT_SIGMA": out / "decomposed_sigma.tif",
            "OUTPUT_RESIDUAL": out / "decomposed_residual.tif"}


def run(demo):
    data = earthquake_dir(demo)
    params = {"COMPONENTS": 2, "ANGLE_CONVENTION": 0, "LOOK_DIRECTION": 0, "GRID": 2,
              "GRID_RESOLUTION": GRID_RESOLUTION, "GRID_CRS": "EPSG:32611"}
    slot = 1
    for track in ("asc", "desc"):
        ot = earthquake_offsets.outputs(demo, track)
        sigma_px_x, _ = read(ot["OUTPUT_SIGMA"], 1)
        sigma_px_y, _ = read(ot["OUTPUT_SIGMA"], 2)
        for kind, key, sigma in ((1, "OUTPUT_X_METRES", float(np.nanmedian(sigma_px_x)) * 2.3),
                                 (2, "OUTPUT_Y_METRES", float(np.nanmedian(sigma_px_y)) * 14.0)):
            params.update({f"OBS_{slot}": ot[key], f"KIND_{slot}": kind,
                           f"INCIDENCE_{slot}": data / f"{track}_incidence.tif",
                           f"HEADING_{slot}": data / f"{track}_heading.tif",
                           f"SIGMA_VALUE_{slot}": round(sigma, 5)})
            slot += 1
    paths = outputs(demo)
    demo.run_algorithm("displacement:decompose", dict(params, **paths))
    panels = []
    for comp in ("east", "north", "up"):
        est, gt = read(paths[f"OUTPUT_{comp.upper()}"])
        truth = truth_enu(gt, est.shape)[("east", "north", "up").index(comp)]
        far = fault_distance(*pixel_centres(gt, est.shape)) > FAR
        e_far, n_far = rmse(est, truth, far)
        e_all, n_all = rmse(est, truth)
        demo.report(f"decomposed {comp}: RMSE vs truth {e_far * 100:.2f} cm away from the rupture "
                    f"({n_far} px of {GRID_RESOLUTION:g} m), {e_all * 100:.1f} cm over all {n_all} px "
                    f"(true range {np.nanmin(truth):+.2f}..{np.nanmax(truth):+.2f} m)")
        demo.check(f"decomposed {comp} RMSE (> {FAR:g} m from the trace)", e_far, TOL_FAR[comp], "m")
        demo.check(f"decomposed {comp} RMSE (all pixels)", e_all, TOL_ALL, "m")
        vmax = float(np.nanmax(np.abs(truth))) if comp != "up" else 0.3
        shown = np.where(np.isfinite(est), truth, np.nan)
        panels += [(f"{comp}, decomposed (m)", est, "m", vmax), (f"{comp}, truth (m)", shown, "m", vmax)]
    sigma, _ = read(paths["OUTPUT_SIGMA"], 1)
    demo.report(f"decomposition 1-sigma (median, east band): {np.nanmedian(sigma) * 100:.2f} cm")
    require_style(demo, paths["OUTPUT_EAST"], paths["OUTPUT_NORTH"], paths["OUTPUT_UP"])
    figure = map_figure(demo, "earthquake_enu", panels, ncols=2)
    demo.add_section(
        "Decomposition: asc + desc range and azimuth offsets -> east, north, up",
        f"<p>displacement:decompose with four observations on a {GRID_RESOLUTION:g} m grid "
        "(UTM 11N), weighted by the offset-tracking sigma. Left: decomposed; right: Okada truth. "
        f"Pixels within {FAR:g} m of the rupture blend both sides of the fault "
        f"(window length {64 * 14 / 1000:.1f} km in azimuth).</p>" + figure)
