"""Helpers shared by the demo steps (not a step itself): sample data, raster reading,
truth on any grid, RMSE and figures for demo_output/index.html."""

from __future__ import annotations

import html
import importlib.util
import math
from pathlib import Path

import numpy as np
from osgeo import gdal

gdal.UseExceptions()

REPO = Path(__file__).resolve().parents[2]
KILAUEA = REPO / "tests" / "data" / "geepers_hawaii"  # shared with the GNSS tests (SOURCE.txt)

_SCENE = None


def scene_module():
    """scripts/make_sample_data.py as a module (constants, truth functions, generator)."""
    global _SCENE
    if _SCENE is None:
        path = REPO / "scripts" / "make_sample_data.py"
        spec = importlib.util.spec_from_file_location("make_sample_data", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _SCENE = module
    return _SCENE


def earthquake_dir(demo, regenerate=False):
    """Folder of the synthetic earthquake sample; generated on first use (a few seconds) or
    when ``regenerate`` (the earthquake_data step does, so the data follow the generator)."""
    folder = demo.output / "data" / "earthquake"
    module = scene_module()
    if regenerate or not all((folder / name).is_file() for name in module.FILES):
        module.generate(folder, log=lambda text: print("    " + text))
    return folder


def read(path, band=1):
    """(array float64 with NaN nodata, geotransform) of one band."""
    ds = gdal.Open(str(path))
    b = ds.GetRasterBand(band)
    arr = b.ReadAsArray().astype(np.float64)
    nodata = b.GetNoDataValue()
    if nodata is not None and not math.isnan(nodata):
        arr[arr == nodata] = np.nan
    return arr, ds.GetGeoTransform()


def pixel_centres(gt, shape):
    """Map coordinates of the pixel centres of a grid (rotation terms included)."""
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    x = gt[0] + (cols + 0.5) * gt[1] + (rows + 0.5) * gt[2]
    y = gt[3] + (cols + 0.5) * gt[4] + (rows + 0.5) * gt[5]
    return x, y


def fault_distance(x, y):
    """Horizontal distance (m) from map points to the synthetic fault trace (a line)."""
    m = scene_module()
    fe, fn = m.fault_centre()
    s, c = math.sin(math.radians(m.FAULT["strike"])), math.cos(math.radians(m.FAULT["strike"]))
    return np.abs(-(x - fe) * c + (y - fn) * s)


def truth_enu(gt, shape):
    """True (east, north, up) displacement (m) at the pixel centres of a grid."""
    return scene_module().ground_displacement(*pixel_centres(gt, shape))


def truth_offsets(track, gt, shape):
    """True (range, azimuth) offsets (px) and LOS (m) at the pixel centres of a grid lying on the
    radar geometry of ``track`` (e.g. the offset-tracking output grid)."""
    m = scene_module()
    spec = m.TRACKS[track]
    ref_gt = m.track_geotransform(spec["heading"], spec["incidence"])
    inv = gdal.InvGeoTransform(ref_gt)
    x, y = pixel_centres(gt, shape)
    col = inv[0] + x * inv[1] + y * inv[2]  # fractional radar column (GDAL convention)
    inc_cols = m.column_incidence(spec["incidence"])
    incidence = np.interp(col - 0.5, np.arange(inc_cols.size), inc_cols)
    e, n, u = m.ground_displacement(x, y)
    return m.offsets_px(e, n, u, incidence, spec["heading"])


def rmse(estimate, truth, mask=None):
    """Root-mean-square of estimate − truth over finite pixels (and ``mask``); (rmse, count)."""
    ok = np.isfinite(estimate) & np.isfinite(truth)
    if mask is not None:
        ok &= mask
    if not ok.any():
        return float("nan"), 0
    d = estimate[ok] - truth[ok]
    return float(np.sqrt(np.mean(d * d))), int(ok.sum())


def figure_dir(demo):
    folder = demo.output / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def map_figure(demo, name, panels, ncols=2, title=None):
    """Save a grid of maps: ``panels`` = [(title, array, unit, vmax or None)]; return html."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(panels)
    nrows = int(math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.6 * nrows), squeeze=False)
    for ax, (label, arr, unit, vmax) in zip(axes.flat, panels):
        finite = arr[np.isfinite(arr)]
        if vmax is None:
            vmax = float(np.percentile(np.abs(finite), 98)) if finite.size else 1.0
        im = ax.imshow(arr, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, shrink=0.8, label=unit)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = figure_dir(demo) / f"{name}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return f"<img src='figures/{path.name}' alt='{html.escape(name)}'>"


def scatter_figure(demo, name, x, y, xlabel, ylabel, labels=None, title=None):
    """Scatter of y against x with the 1:1 line; return html."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    ax.scatter(x, y, s=22, c="#b2182b", zorder=3)
    lo = float(np.nanmin([np.nanmin(x), np.nanmin(y)]))
    hi = float(np.nanmax([np.nanmax(x), np.nanmax(y)]))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8, label="1:1")
    if labels is not None:
        for xi, yi, t in zip(x, y, labels):
            ax.annotate(str(t), (xi, yi), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = figure_dir(demo) / f"{name}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return f"<img src='figures/{path.name}' alt='{html.escape(name)}'>"


def require_style(demo, *paths):
    """Check that each output raster has its .qml style next to it (the toolkit's contract)."""
    missing = [str(p) for p in paths if not Path(p).with_suffix(".qml").is_file()]
    demo.check("outputs without a .qml style", len(missing), 0, "files")
    return not missing
