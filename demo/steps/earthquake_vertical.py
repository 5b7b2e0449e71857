"""LOS -> vertical from the ascending track alone: what the single-geometry assumption costs.

``displacement:los_to_vertical`` divides the ascending LOS displacement (from the range offsets,
put on a 60 m map grid in the previous step) by cos(incidence), i.e. assumes that the ground
moved only vertically.  Near a strike-slip rupture the motion is mostly horizontal, so the
"vertical" returned is mostly projected horizontal motion: its error against the true up is
compared with the error of the up component decomposed from both tracks (the previous step).

Checks (documented): the projection itself (output x cos(incidence) = input LOS, to 1e-4 m
after float32 storage); the assumption's cost shows: the single-track up RMSE away from the
rupture is at least 5 times the decomposed up RMSE (measured: tens of cm against about 1.3 cm).
"""

import numpy as np

from . import earthquake_decomposition
from ._common import fault_distance, map_figure, pixel_centres, read, require_style, rmse, truth_enu

FAR = 800.0


def run(demo):
    out = demo.output / "earthquake"
    los = out / "asc_los" / "displacement_20240101_20240113.tif"
    incidence = out / "asc_map" / "asc_incidence_grid.tif"
    up_single = out / "asc_only_vertical.tif"
    demo.run_algorithm("displacement:los_to_vertical", {
        "INPUT": los, "QUANTITY": 0, "INPUT_UNITS": 0, "INCIDENCE": incidence, "DIRECTION": 0,
        "OUTPUT_UNITS": 0, "OUTPUT": up_single})
    up, gt = read(up_single)
    los_arr, _ = read(los)
    inc, _ = read(incidence)
    back = up * np.cos(np.radians(inc))
    ok = np.isfinite(back) & np.isfinite(los_arr)
    demo.check("asc-only vertical x cos(incidence) - LOS (max)", float(np.max(np.abs(back - los_arr)[ok])),
               1e-4, "m")
    true_up = truth_enu(gt, up.shape)[2]
    far = fault_distance(*pixel_centres(gt, up.shape)) > FAR
    e_single, n_single = rmse(up, true_up, far)
    dec, dgt = read(earthquake_decomposition.outputs(demo)["OUTPUT_UP"])
    dec_far = fault_distance(*pixel_centres(dgt, dec.shape)) > FAR
    e_dec, _ = rmse(dec, truth_enu(dgt, dec.shape)[2], dec_far)
    demo.report(f"up from the ascending track alone (LOS / cos(incidence)): RMSE vs true up "
                f"{e_single * 100:.1f} cm ({n_single} px > {FAR:g} m from the trace), against "
                f"{e_dec * 100:.2f} cm for the asc + desc + azimuth decomposition")
    demo.check("decomposed up RMSE / single-track up RMSE", e_dec / e_single, 0.2, "")
    require_style(demo, up_single)
    shown = np.where(np.isfinite(up), true_up, np.nan)
    vmax = float(np.nanpercentile(np.abs(up), 98))
    figure = map_figure(demo, "earthquake_single_track", [
        ("up from asc LOS alone (m)", up, "m", vmax), ("true up (m)", shown, "m", vmax)], ncols=2)
    demo.add_section(
        "LOS to vertical from one track: the single-geometry assumption",
        f"<p>displacement:los_to_vertical on the ascending LOS: RMSE {e_single * 100:.1f} cm against "
        f"the true up, versus {e_dec * 100:.2f} cm from the decomposition. With one geometry the "
        "horizontal motion of a strike-slip earthquake is read as vertical.</p>" + figure)
