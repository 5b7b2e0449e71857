#!/usr/bin/env python3
"""Benchmark of reading products and writing them as GeoTIFFs (what displacement:load_product
does): a MintPy timeseries.h5 and a ROI_PAC-style RMG interferogram, block by block.

Writes benchmarks/results/load_product.md with the numbers measured in this run.
"""

import datetime as dt
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / ".build" / "plugins"))

from displacement_toolkit.core.products import open_product  # noqa: E402
from displacement_toolkit.core.products.export import write_layer  # noqa: E402


def make_mintpy(path, n, rows, cols):
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f.attrs.update({"FILE_TYPE": "timeseries", "LENGTH": str(rows), "WIDTH": str(cols),
                        "X_FIRST": "-118.0", "Y_FIRST": "36.0", "X_STEP": "0.0008",
                        "Y_STEP": "-0.0008", "X_UNIT": "degrees", "UNIT": "m", "REF_DATE": "20200101"})
        ds = f.create_dataset("timeseries", (n, rows, cols), np.float32, chunks=(1, 128, cols))
        for k in range(n):
            ds[k] = rng.normal(0, 0.01, (rows, cols)).astype(np.float32)
        day = dt.date(2020, 1, 1)
        f.create_dataset("date", data=np.array([(day + dt.timedelta(12 * k)).strftime("%Y%m%d").encode()
                                                for k in range(n)]))


def make_roipac(path, rows, cols):
    rng = np.random.default_rng(1)
    data = np.empty((rows, 2, cols), "<f4")
    data[:, 0] = 1.0
    data[:, 1] = rng.normal(0, 3, (rows, cols))
    data.tofile(path)
    with open(str(path) + ".rsc", "w") as f:
        f.write(f"WIDTH {cols}\nFILE_LENGTH {rows}\nX_FIRST 150.0\nY_FIRST -34.0\nX_STEP 0.0008\n"
                "Y_STEP -0.0008\nWAVELENGTH 0.0562\nDATE12 200101-200113\n")


def timed(func):
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def main():
    rows_out = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        n, rows, cols = 10, 2000, 2000
        make_mintpy(tmp / "timeseries.h5", n, rows, cols)
        p = open_product(str(tmp / "timeseries.h5"))
        t = timed(lambda: write_layer(p, "timeseries", str(tmp / "ts.tif")))
        mpix = n * rows * cols / 1e6
        rows_out.append(("MintPy timeseries.h5 -> dated 10-band GeoTIFF", f"{n} x {rows} x {cols}",
                         f"{t:.2f}", f"{mpix / t:.1f}"))
        rows, cols = 4000, 4000
        make_roipac(tmp / "geo_200101-200113.unw", rows, cols)
        p = open_product(str(tmp / "geo_200101-200113.unw"))
        t = timed(lambda: write_layer(p, "unwrapped_phase", str(tmp / "unw.tif")))
        rows_out.append(("ROI_PAC .unw (RMG) -> phase GeoTIFF", f"{rows} x {cols}", f"{t:.2f}",
                         f"{rows * cols / 1e6 / t:.1f}"))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    text = [
        "## load_product (core.products.export.write_layer)\n",
        f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, load average at the end {os.getloadavg()[0]:.2f} (other "
        "processes shared the cores when it is above 2), Python " + platform.python_version() + ".\n",
        "| product | size | seconds | Mpixel/s |",
        "|---|---|---|---|",
    ]
    text += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows_out]
    text.append(f"\nPeak resident memory of the whole benchmark process: {peak_mb:.0f} MB "
                "(includes building the inputs; the reader and writer work in blocks of at most "
                "32 MB per band).\n")
    out = REPO / "benchmarks" / "results" / "load_product.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(text))
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
