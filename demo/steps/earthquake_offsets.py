"""Offset tracking on both synthetic tracks (complex SLC path) -> range/azimuth offsets.

``displacement:offset_tracking`` on the ascending and descending SLC pairs of the synthetic
earthquake (64 x 64 windows, search +-8 px, step 16 px, complex deramp and x2 oversampling),
pixel sizes 2.3 m (slant range) and 14 m (azimuth) for the outputs in metres.  The truth is the
Okada field projected on the range and along-track directions at each window centre (the ground
position of each output pixel).

Tolerances (documented):

* away from the rupture (window centres more than ``FAR`` = 600 m from the surface trace, so
  that no 64 x 64 window (234 m x 896 m on the ground) straddles it): RMSE <= 0.012 px per
  axis (measured about 0.006 px; the Cramer-Rao bound at coherence 0.9 with 64^2 windows is of
  that order), i.e. <= 2.8 cm in range and <= 17 cm in azimuth;
* all windows, including those straddling the 2.5 m surface offset, where a window sees two
  motions and returns a blend: RMSE <= 0.08 px (measured about 0.05 px in range);
* outputs in metres = pixels x pixel size (to 1e-5 m), every output styled (.qml).
"""

from ._common import (
    earthquake_dir,
    fault_distance,
    map_figure,
    pixel_centres,
    read,
    require_style,
    rmse,
    truth_offsets,
)

FAR = 600.0           # m from the fault trace
TOL_FAR_PX = 0.012
TOL_ALL_PX = 0.08
PARAMS = {"WINDOW_X": 64, "WINDOW_Y": 64, "SEARCH_X": 8, "SEARCH_Y": 8, "STEP_X": 16, "STEP_Y": 16,
          "PIXEL_SIZE_X": 2.3, "PIXEL_SIZE_Y": 14.0}


def outputs(demo, track):
    """Paths of the offset-tracking outputs of ``track`` (used by later steps)."""
    out = demo.output / "earthquake"
    return {key: out / f"{track}_{name}.tif" for key, name in (
        ("OUTPUT_X", "range_offset_px"), ("OUTPUT_Y", "azimuth_offset_px"),
        ("OUTPUT_X_METRES", "range_offset_m"), ("OUTPUT_Y_METRES", "azimuth_offset_m"),
        ("OUTPUT_SNR", "offset_snr"), ("OUTPUT_SIGMA", "offset_sigma_px"))}


def run(demo):
    data = earthquake_dir(demo)
    (demo.output / "earthquake").mkdir(parents=True, exist_ok=True)
    panels = []
    for track in ("asc", "desc"):
        paths = outputs(demo, track)
        demo.run_algorithm("displacement:offset_tracking", dict(
            PARAMS, REFERENCE=data / f"{track}_reference_slc.tif",
            SECONDARY=data / f"{track}_secondary_slc.tif", **paths))
        dx, gt = read(paths["OUTPUT_X"])
        dy, _ = read(paths["OUTPUT_Y"])
        dxm, _ = read(paths["OUTPUT_X_METRES"])
        dym, _ = read(paths["OUTPUT_Y_METRES"])
        true_rg, true_az, _los = truth_offsets(track, gt, dx.shape)
        far = fault_distance(*pixel_centres(gt, dx.shape)) > FAR
        for axis, est, truth, size in (("range", dx, true_rg, 2.3), ("azimuth", dy, true_az, 14.0)):
            e_far, n_far = rmse(est, truth, far)
            e_all, n_all = rmse(est, truth)
            demo.report(f"{track} {axis} offsets: {n_all} windows, RMSE vs truth {e_far:.4f} px "
                        f"({e_far * size * 100:.2f} cm) away from the rupture ({n_far} windows), "
                        f"{e_all:.4f} px over all windows")
            demo.check(f"{track} {axis} offset RMSE (> {FAR:g} m from the trace)", e_far,
                       TOL_FAR_PX, "px")
            demo.check(f"{track} {axis} offset RMSE (all windows)", e_all, TOL_ALL_PX, "px")
        err_m = max(float(abs(dxm - dx * 2.3)[~(dx != dx)].max()),
                    float(abs(dym - dy * 14.0)[~(dy != dy)].max()))
        demo.check(f"{track} offsets in metres = px x pixel size (max error)", err_m, 1e-5, "m")
        require_style(demo, *paths.values())
        vmax = float(max(abs(true_rg).max(), 1e-3))
        panels += [(f"{track} range offset, measured (px)", dx, "px", vmax),
                   (f"{track} range offset, truth (px)", true_rg, "px", vmax),
                   (f"{track} azimuth offset, measured (px)", dy, "px", None),
                   (f"{track} azimuth offset, truth (px)", true_az, "px", None)]
    figure = map_figure(demo, "earthquake_offsets", panels, ncols=4)
    demo.add_section(
        "Offset tracking (complex SLC path), ascending and descending",
        "<p>displacement:offset_tracking, 64 x 64 windows every 16 px, in radar geometry "
        "(rows = azimuth, columns = range). Outputs: <code>earthquake/&lt;track&gt;_range_offset_px"
        ".tif</code>, <code>..._m.tif</code>, SNR and sigma, each with its .qml.</p>" + figure)
