"""HTML reports of InSAR–GNSS comparisons (self-contained: figures embedded as base64 PNG).

Figures are drawn with matplotlib's object API and the Agg canvas (no pyplot,
no GUI backend), so this module runs headless and off the GUI thread.
Values are shown in millimetres (mm or mm/yr); the statistics are those of
:func:`core.gnss_comparison.agreement` (residual = InSAR − GNSS, r = Pearson
correlation coefficient, not R²).
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import tempfile
from typing import Dict, List

import numpy as np

from .dates import format_date

MM = 1000.0


def _figure(width=6.0, height=4.5):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _fmt(value, digits=2):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{value:.{digits}f}"


def stats_table(stats: Dict[str, float], unit: str) -> str:
    """HTML table of N, bias, RMSE, r, slope (bias/RMSE in ``unit``, from SI ×1000)."""
    rows = [("N (station values compared)", _fmt(stats.get("n")), ""),
            ("bias (mean InSAR − GNSS)", _fmt(stats.get("bias", math.nan) * MM), unit),
            ("RMSE", _fmt(stats.get("rmse", math.nan) * MM), unit),
            ("r (Pearson correlation, not R²)", _fmt(stats.get("r"), 3), ""),
            ("fitted slope (InSAR vs GNSS)", _fmt(stats.get("slope"), 3), "")]
    body = "".join(f"<tr><td>{html.escape(a)}</td><td>{b}</td><td>{html.escape(c)}</td></tr>"
                   for a, b, c in rows)
    return f"<table><tr><th>statistic</th><th>value</th><th>unit</th></tr>{body}</table>"


def _scatter(insar, gnss, gnss_sigma, insar_spread, labels, unit, title):
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    ok = np.isfinite(insar) & np.isfinite(gnss)
    g, a = gnss[ok] * MM, insar[ok] * MM
    xerr = np.where(np.isfinite(gnss_sigma[ok]), gnss_sigma[ok] * MM, 0.0)
    yerr = np.where(np.isfinite(insar_spread[ok]), insar_spread[ok] * MM, 0.0)
    ax.errorbar(g, a, xerr=xerr, yerr=yerr, fmt="o", ms=4, color="#2166ac", ecolor="#999999",
                capsize=2, label="stations")
    if g.size:
        lo = float(min(g.min(), a.min()))
        hi = float(max(g.max(), a.max()))
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=1, label="1:1")
        for lab, gx, ay in zip(np.asarray(labels, dtype=object)[ok], g, a):
            ax.annotate(str(lab), (gx, ay), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(f"GNSS LOS ({unit})")
    ax.set_ylabel(f"InSAR LOS ({unit})")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def _residual_map(x, y, residual, labels, unit, title):
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    ok = np.isfinite(residual)
    res = residual[ok] * MM
    vmax = float(np.max(np.abs(res))) if res.size else 1.0
    sc = ax.scatter((x[ok] - np.mean(x[ok])) / 1000.0 if ok.any() else [],
                    (y[ok] - np.mean(y[ok])) / 1000.0 if ok.any() else [],
                    c=res, cmap="RdBu_r", vmin=-vmax or -1, vmax=vmax or 1, s=60, edgecolors="k")
    if ok.any():
        for lab, xx, yy in zip(np.asarray(labels, dtype=object)[ok], (x[ok] - np.mean(x[ok])) / 1000.0,
                               (y[ok] - np.mean(y[ok])) / 1000.0):
            ax.annotate(str(lab), (xx, yy), fontsize=6, xytext=(4, 4), textcoords="offset points")
    fig.colorbar(sc, ax=ax, label=f"residual InSAR − GNSS ({unit})")
    ax.set_xlabel("easting from the stations' centre (km, InSAR CRS)")
    ax.set_ylabel("northing from the stations' centre (km, InSAR CRS)")
    ax.set_title(title)
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(alpha=0.3)
    return _png(fig)


_STYLE = ("<style>body{font-family:sans-serif;max-width:1000px;margin:1em auto;}"
          "table{border-collapse:collapse;margin:0.5em 0;}td,th{border:1px solid #ccc;"
          "padding:2px 6px;font-size:90%;}img{max-width:100%;}</style>")


def _write(path: str, title: str, parts: List[str]) -> str:
    text = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"{_STYLE}</head><body><h1>{html.escape(title)}</h1>" + "".join(parts) + "</body></html>")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report.", suffix=".partial", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


def _station_rows(headers, rows) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def velocity_report(result, path: str, inputs: Dict[str, str]) -> str:
    """Write the HTML report of a :class:`~core.gnss_comparison.VelocityComparison`."""
    unit = "mm/yr"
    parts = ["<p>LOS positive toward the satellite; residual = InSAR − GNSS after referencing "
             f"(REFERENCE = {html.escape(result.reference)}). Values in {unit}.</p>",
             _station_rows(["input", "value"], sorted(inputs.items())),
             "<h2>Agreement</h2>", stats_table(result.stats, unit)]
    scatter = _scatter(result.insar_los, result.gnss_los, result.gnss_los_sigma, result.insar_spread,
                       result.station, unit, "InSAR vs GNSS LOS velocity")
    residual_map = _residual_map(result.x, result.y, result.residual, result.station, unit,
                                 "Residual InSAR − GNSS")
    parts.append(f"<img src='{scatter}'>")
    parts.append(f"<img src='{residual_map}'>")
    rows = []
    for i, s in enumerate(result.station):
        rows.append([s, f"{result.lon[i]:.5f}", f"{result.lat[i]:.5f}",
                     _fmt(result.gnss_los[i] * MM), _fmt(result.gnss_los_sigma[i] * MM),
                     _fmt(result.insar_los[i] * MM), _fmt(result.insar_spread[i] * MM),
                     int(result.n_pixels[i]), _fmt(result.residual[i] * MM), result.status[i]])
    listed = [r for r in rows if r[-1] != "outside the InSAR raster"]
    outside = len(rows) - len(listed)
    parts.append("<h2>Stations</h2>")
    if outside:
        parts.append(f"<p>{outside} station(s) outside the InSAR raster are kept in the output "
                     "layer (status field) and not listed here.</p>")
    parts.append(_station_rows(["station", "lon", "lat", f"GNSS LOS ({unit})", f"σ ({unit})",
                                f"InSAR LOS ({unit})", f"spread ({unit})", "pixels",
                                f"residual ({unit})", "status"], listed))
    return _write(path, "InSAR–GNSS LOS velocity comparison", parts)


def timeseries_report(result, path: str, inputs: Dict[str, str]) -> str:
    """Write the HTML report of a :class:`~core.gnss_comparison.TimeseriesComparison`."""
    unit = "mm"
    ref = format_date(result.reference_date)
    parts = [f"<p>LOS displacement positive toward the satellite, relative to {ref}; GNSS on each "
             f"InSAR date = median of daily LOS values within ±{result.day_window} days; "
             f"residual = InSAR − GNSS after referencing (REFERENCE = {html.escape(result.reference)}, "
             f"date by date). Values in {unit}.</p>",
             _station_rows(["input", "value"], sorted(inputs.items())),
             "".join(f"<p>Date {format_date(d)} left out: {html.escape(why)}</p>"
                     for d, why in getattr(result, "skipped_dates", [])),
             "<h2>Agreement (all stations and dates except the reference date)</h2>",
             stats_table(result.stats, unit)]
    k_other = [k for k, d in enumerate(result.dates) if d != result.reference_date]
    labels = [f"{s} {format_date(result.dates[k])[5:]}" for s in result.station for k in k_other]
    parts.append("<img src='" + _scatter(
        result.insar_los[:, k_other].ravel(), result.gnss_los[:, k_other].ravel(),
        result.gnss_los_sigma[:, k_other].ravel(), result.insar_spread[:, k_other].ravel(),
        labels, unit, "InSAR vs GNSS LOS displacement") + "'>")
    rms = np.array([s["rmse"] for s in result.station_stats])
    bias = np.array([s["bias"] for s in result.station_stats])
    parts.append("<img src='" + _residual_map(result.x, result.y, bias, result.station, unit,
                                              "Mean residual per station") + "'>")
    rows = [[s, result.status[i], result.station_stats[i]["n"], _fmt(bias[i] * MM), _fmt(rms[i] * MM),
             _fmt(result.station_stats[i]["r"], 3)] for i, s in enumerate(result.station)]
    parts.append("<h2>Stations</h2>")
    parts.append(_station_rows(
        ["station", "status", "N dates", f"bias ({unit})", f"RMSE ({unit})", "r"], rows))
    parts.append("<h2>Time series per station</h2>")
    k_ref = result.dates.index(result.reference_date)
    for i, s in enumerate(result.station):
        if result.status[i] != "ok":
            continue
        fig = _figure(7.0, 3.2)
        ax = fig.add_subplot(1, 1, 1)
        days, los_daily = result.daily.get(s, ([], np.array([])))
        lo, hi = result.dates[0].toordinal() - 15, result.dates[-1].toordinal() + 15
        sel = np.array([lo <= d.toordinal() <= hi for d in days], dtype=bool)
        offset = result.gnss_los[i, k_ref]  # 0 by construction; GNSS daily is shifted below
        if sel.any():
            ref_abs = _window_reference(days, los_daily, result.reference_date, result.day_window)
            ax.plot([d for d, m in zip(days, sel) if m], (los_daily[sel] - ref_abs + offset) * MM, ".",
                    ms=2, color="#999999", label="GNSS daily LOS")
        ax.plot(result.dates, result.gnss_los[i] * MM, "s", mfc="none", color="k",
                label=f"GNSS ±{result.day_window} d median")
        ax.errorbar(result.dates, result.insar_los[i] * MM, yerr=np.nan_to_num(result.insar_spread[i] * MM),
                    fmt="o", color="#b2182b", capsize=2, label="InSAR (referenced)")
        ax.set_ylabel(f"LOS ({unit}) rel. {ref}")
        ax.set_title(f"{s}: RMSE {_fmt(rms[i] * MM)} {unit}, bias {_fmt(bias[i] * MM)} {unit}")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.autofmt_xdate()
        parts.append(f"<img src='{_png(fig)}'>")
    return _write(path, "InSAR–GNSS LOS time-series comparison", parts)


def _window_reference(days, values, centre, half_window):
    c = centre.toordinal()
    sel = np.array([abs(d.toordinal() - c) <= half_window for d in days], dtype=bool) & np.isfinite(values)
    return float(np.median(values[sel])) if sel.any() else math.nan
