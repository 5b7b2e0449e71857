"""Common grid and GNSS comparison on the synthetic earthquake's 8 GNSS stations.

1. ``displacement:common_grid`` puts the ascending range offsets (metres, radar geometry with a
   rotated geotransform) and the ascending incidence and heading rasters on one north-up 60 m
   grid in UTM 11N.
2. ``gdal:rastercalculator`` (QGIS' GDAL provider) turns the range offset into a LOS
   displacement: LOS = 0 - range offset (written "0-A": a formula starting with "-" is taken
   for an option by gdal_calc.py) (docs/conventions.md: a range offset is positive away from
   the satellite, LOS positive toward it).  The file is named
   ``displacement_20240101_20240113.tif`` so that it carries its dates.
3. ``displacement:gnss_timeseries_comparison`` projects the stations' daily positions
   (gnss_series.csv: 2024-01-01 before, 2024-01-13 after the earthquake, 2 mm / 5 mm noise)
   into the ascending LOS and compares them with the InSAR value (median within 100 m) with no
   referencing (offsets are absolute).

The decomposed east/north/up (previous step) are also sampled at the stations and compared
with the GNSS displacements.

Tolerances (documented): all 8 stations compared; LOS RMSE <= 25 mm (offset noise about
14 mm per window in range, plus GNSS noise); decomposed east and up at the stations <= 40 mm,
north <= 120 mm (azimuth offsets: 14 m pixels).
"""

import csv

import numpy as np
from osgeo import gdal

from displacement_toolkit.core.gnss_comparison import lonlat_to_crs
from displacement_toolkit.core.raster_io import crs_from_epsg

from . import earthquake_decomposition, earthquake_offsets
from ._common import earthquake_dir, read, require_style, scatter_figure

TOL_LOS_MM = 25.0
TOL_ENU = {"east": 0.04, "north": 0.12, "up": 0.04}


def run(demo):
    data = earthquake_dir(demo)
    out = demo.output / "earthquake"
    asc = earthquake_offsets.outputs(demo, "asc")
    grid = demo.run_algorithm("displacement:common_grid", {
        "LAYERS": [asc["OUTPUT_X_METRES"], data / "asc_incidence.tif", data / "asc_heading.tif"],
        "EXTENT": 0, "RESOLUTION": 3, "CUSTOM_RESOLUTION": 60, "TARGET_CRS": "EPSG:32611",
        "RESAMPLING": 0, "OUTPUT_FOLDER": out / "asc_map"})
    range_map, incidence_map, heading_map = grid["OUTPUT_LAYERS"]
    info = gdal.Info(range_map, format="json")
    demo.report(f"common grid: {info['size'][0]} x {info['size'][1]} px of 60 m, EPSG:32611 "
                "(ascending range offset, incidence, heading)")
    los_dir = out / "asc_los"
    los_dir.mkdir(parents=True, exist_ok=True)
    los = los_dir / "displacement_20240101_20240113.tif"
    demo.run_algorithm("gdal:rastercalculator", {
        "INPUT_A": range_map, "BAND_A": 1, "FORMULA": "0-A", "RTYPE": 5, "OUTPUT": los})
    if not los.is_file():  # gdal_calc.py errors do not always reach qgis_process' exit status
        raise RuntimeError(f"gdal:rastercalculator did not write {los}")
    results = demo.run_algorithm("displacement:gnss_timeseries_comparison", {
        "INSAR": [los], "INSAR_UNITS": 1, "GNSS_FILES": [data / "gnss_series.csv"],
        "GNSS_UNITS": 0, "INCIDENCE": incidence_map, "HEADING": heading_map,
        "REFERENCE": 0, "SAMPLE_RADIUS": 100,
        "OUTPUT": out / "gnss_stations_comparison.gpkg",
        "OUTPUT_TABLE": out / "gnss_station_dates.gpkg",
        "OUTPUT_REPORT": out / "gnss_report.html"})
    n, rmse_mm, bias, r = (float(results[k]) for k in ("N", "RMSE", "BIAS", "R"))
    demo.report(f"synthetic GNSS vs ascending range offsets in the LOS: N = {n:.0f} stations, "
                f"RMSE {rmse_mm:.1f} mm, bias {bias:+.1f} mm, r = {r:.3f}")
    demo.check("synthetic GNSS stations compared (missing)", abs(n - 8), 0, "")
    demo.check("synthetic GNSS - InSAR LOS RMSE", rmse_mm, TOL_LOS_MM, "mm")
    require_style(demo, range_map, out / "gnss_stations_comparison.gpkg")

    # decomposed east/north/up at the stations
    with open(data / "gnss_stations.csv", newline="", encoding="utf-8") as fh:
        stations = list(csv.DictReader(fh))
    xy = _utm(stations)
    enu_paths = earthquake_decomposition.outputs(demo)
    gnss_all, insar_all = [], []
    rows = []
    for comp in ("east", "north", "up"):
        arr, gt = read(enu_paths[f"OUTPUT_{comp.upper()}"])
        inv = gdal.InvGeoTransform(gt)
        est = []
        for x, y in xy:
            col = int(inv[0] + x * inv[1] + y * inv[2])
            row = int(inv[3] + x * inv[4] + y * inv[5])
            ok = 0 <= row < arr.shape[0] and 0 <= col < arr.shape[1]
            est.append(arr[row, col] if ok else np.nan)
        est = np.array(est)
        gnss = np.array([float(s[comp]) for s in stations])
        err = float(np.sqrt(np.nanmean((est - gnss) ** 2)))
        valid = int(np.isfinite(est).sum())
        demo.report(f"decomposed {comp} at the {valid} GNSS stations: RMSE {err * 1000:.1f} mm")
        demo.check(f"decomposed {comp} vs GNSS RMSE", err, TOL_ENU[comp], "m")
        demo.check(f"GNSS stations outside the decomposition ({comp})", len(stations) - valid, 0, "")
        gnss_all += list(gnss * 1000)
        insar_all += list(est * 1000)
        rows.append(f"<tr><td>{comp}</td><td>{valid}</td><td>{err * 1000:.1f}</td></tr>")
    figure = scatter_figure(demo, "earthquake_gnss_enu", gnss_all, insar_all,
                            "GNSS displacement (mm)", "decomposed InSAR offsets (mm)",
                            title="east, north, up at 8 synthetic stations")
    demo.add_section(
        "Common grid and GNSS comparison (synthetic stations)",
        f"<p>LOS comparison (ascending range offsets as LOS): N = {n:.0f}, RMSE {rmse_mm:.1f} mm, "
        f"bias {bias:+.1f} mm, r = {r:.3f}; report: <a href='earthquake/gnss_report.html'>"
        "gnss_report.html</a>.</p><table border='1' cellpadding='3'><tr><th>component</th>"
        "<th>stations</th><th>RMSE (mm)</th></tr>" + "".join(rows) + "</table>" + figure)


def _utm(stations):
    x, y = lonlat_to_crs([float(s["lon"]) for s in stations], [float(s["lat"]) for s in stations],
                         crs_from_epsg(32611))
    return list(zip(x, y))
