#!/usr/bin/env python3
"""Offset tracking of a Sentinel-1 IW swath-sized pair (issue 20): time and peak memory per
process, locally and on a 2-worker local Dask cluster.

Scene: a synthetic complex pair of FRAME_ROWS x FRAME_COLS samples (default 13 000 x 21 000,
one IW swath of a frame), CFloat32 GeoTIFFs written block by block: circular complex Gaussian
speckle smoothed by a 3-tap filter along each axis (a band-limited spectrum, as SLCs have),
the secondary the same field moved by a known whole-pixel offset (SHIFT_X, SHIFT_Y) with 5 %
independent noise.  Defaults of displacement:offset_tracking (64 x 64 windows, step 32,
search +-8, coarse pass on).  Accuracy is not the point here (benchmarks/bench_offset_tracking.py
measures it); the median offsets are checked against the shift.

Runs (each in its own process: peak RSS is that run's): local with DISPLACEMENT_TOOLKIT_THREADS
= 1 and = 2, and the 2-worker cluster (1 thread each; the workers' peaks and CPU times asked from
them).  The CPU time of every run is reported next to its wall time: the machine may be shared,
and a wall time far above CPU time / threads means the run waited for the processor.
BENCH_FRAME_SCALE (default 1.0) scales both sides.  Writes benchmarks/results/frame_scale.md.
"""

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / ".build" / "plugins"))
sys.path.insert(0, str(REPO))

SCALE = float(os.environ.get("BENCH_FRAME_SCALE", "1.0"))
FRAME_ROWS = int(13000 * SCALE)
FRAME_COLS = int(21000 * SCALE)
SHIFT_X, SHIFT_Y = 3, -2
BLOCK = 1024


def write_pair(folder):
    from osgeo import gdal

    rng = np.random.default_rng(7)
    paths = [os.path.join(folder, "reference.tif"), os.path.join(folder, "secondary.tif")]
    driver = gdal.GetDriverByName("GTiff")
    sets = [driver.Create(p, FRAME_COLS, FRAME_ROWS, 1, gdal.GDT_CFloat32,
                          ["TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512", "BIGTIFF=YES"])
            for p in paths]
    margin = 4
    for r0 in range(0, FRAME_ROWS, BLOCK):
        n = min(BLOCK, FRAME_ROWS - r0)
        # the field for rows r0 - SHIFT_Y - margin .. r0 + n + margin (same seed stream per
        # row block: regenerate the rows the secondary needs from a per-row generator)
        lo, hi = r0 - margin - abs(SHIFT_Y), r0 + n + margin + abs(SHIFT_Y)
        rows = []
        for r in range(lo, hi):
            g = np.random.default_rng(abs(r) * 2 + (r < 0))
            rows.append(g.standard_normal(FRAME_COLS + 2 * margin + 2 * abs(SHIFT_X))
                        + 1j * g.standard_normal(FRAME_COLS + 2 * margin + 2 * abs(SHIFT_X)))
        field = np.asarray(rows, np.complex64)
        field = (field[:-2] + 2 * field[1:-1] + field[2:])[:, :]          # smooth along rows
        field = field[:, :-2] + 2 * field[:, 1:-1] + field[:, 2:]          # and columns
        off_r, off_c = margin + abs(SHIFT_Y) - 1, margin + abs(SHIFT_X) - 1
        ref = field[off_r:off_r + n, off_c:off_c + FRAME_COLS]
        # secondary(r, c) = reference(r - SHIFT_Y, c - SHIFT_X): the feature moves by +SHIFT
        sec = field[off_r - SHIFT_Y:off_r - SHIFT_Y + n, off_c - SHIFT_X:off_c - SHIFT_X + FRAME_COLS]
        noise = 0.05 * 4 * (rng.standard_normal(sec.shape) + 1j * rng.standard_normal(sec.shape))
        sets[0].GetRasterBand(1).WriteArray(ref, 0, r0)
        sets[1].GetRasterBand(1).WriteArray((sec + noise).astype(np.complex64), 0, r0)
    for ds in sets:
        ds.FlushCache()
    return paths


def _child(spec):
    from benchmarks.bench_scaling import peak_rss_mib

    os.environ.pop("DISPLACEMENT_TOOLKIT_SCHEDULER", None)
    from displacement_toolkit.core import execution as X
    from displacement_toolkit.core import offset_tracking as OT

    if spec["kind"] == "dask2":
        engine = X.DaskEngine(spec["address"])
    else:
        engine = X.LocalEngine(int(spec["kind"][-1]))
    p = OT.TrackingParameters(snr_threshold=5.0)
    load = os.getloadavg()[0]
    started, cpu = time.perf_counter(), time.process_time()
    res = OT.track_offsets(spec["ref"], spec["sec"], p, engine=engine)
    seconds = time.perf_counter() - started
    peak = peak_rss_mib()
    print(json.dumps({"seconds": seconds, "cpu_s": time.process_time() - cpu, "load": load,
                      "peak_mib": peak, "windows": int(res.dx.size),
                      "valid": int(np.isfinite(res.dx).sum()),
                      "median_dx": float(np.nanmedian(res.dx)),
                      "median_dy": float(np.nanmedian(res.dy)),
                      "tasks": engine.summary()}))


def _start(spec):
    return subprocess.Popen([sys.executable, __file__, "--child", json.dumps(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc):
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(err[-3000:])
    return json.loads(out.strip().splitlines()[-1])


def _run(spec):
    return _result(_start(spec))


def _run_two_at_once(spec):
    """Two 1-thread runs started together in two processes: the machine's ceiling for two
    cores (nothing shared but the hardware).  The slower run's time, both runs' windows and
    CPU time."""
    runs = [_result(p) for p in [_start(dict(spec, kind="local1")) for _ in range(2)]]
    slower = max(runs, key=lambda r: r["seconds"])
    return dict(slower, windows=sum(r["windows"] for r in runs),
                cpu_s=sum(r["cpu_s"] for r in runs),
                peak_mib=max(r["peak_mib"] for r in runs), tasks="2 runs of the whole pair")


def main():
    from distributed import Client

    from tests.dask_cluster import local_cluster

    tmp = tempfile.mkdtemp(prefix="bench_frame_", dir=os.environ.get("BENCH_TMP"))
    results = {}
    try:
        t0 = time.perf_counter()
        ref, sec = write_pair(tmp)
        write_s = time.perf_counter() - t0
        print(f"pair written in {write_s:.0f} s", flush=True)
        with local_cluster(workers=2) as cluster:
            for kind in ("local1", "local2", "dask2"):
                results[kind] = _run({"kind": kind, "ref": ref, "sec": sec,
                                      "address": cluster.address})
                print(kind, results[kind], flush=True)
            results["pair"] = _run_two_at_once({"ref": ref, "sec": sec})
            print("two 1-thread runs at once", results["pair"], flush=True)

            def peak():   # runs on the workers: self-contained
                with open("/proc/self/status") as f:
                    return next(int(x.split()[1]) / 1024.0 for x in f if x.startswith("VmHWM:"))

            def cpu():    # the worker process's CPU time (idle during the local runs)
                import time
                return time.process_time()

            with Client(cluster.address, timeout=30, set_as_default=False) as client:
                worker_peaks = sorted(client.run(peak).values())
                results["dask2"]["cpu_s"] += sum(client.run(cpu).values())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    one = results["local1"]["seconds"]
    lines = [
        "## Frame-scale offset tracking (Sentinel-1 IW swath size)\n",
        f"Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the end. "
        f"`benchmarks/bench_frame_scale.py`: a synthetic complex pair of {FRAME_ROWS} x "
        f"{FRAME_COLS} samples (CFloat32 GeoTIFFs, {2 * FRAME_ROWS * FRAME_COLS * 8 / 2**30:.1f} "
        f"GiB, written in {write_s:.0f} s), shift {SHIFT_X} / {SHIFT_Y} px, offset_tracking "
        "defaults (64 x 64 windows, step 32, search +-8, coarse pass).\n",
        "| run | time | windows/s | speed-up | CPU time (all processes) | load average before | "
        "peak memory of the caller | median dx / dy (px) | tasks |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    names = {"local1": "local, 1 thread", "local2": "local, 2 threads",
             "dask2": "Dask, 2 workers x 1 thread",
             "pair": "ceiling: two local 1-thread runs at once (2 x the work)"}
    for kind, r in results.items():
        work = 2 if kind == "pair" else 1
        lines.append(f"| {names[kind]} | {r['seconds']:.0f} s | {r['windows'] / r['seconds']:.0f} | "
                     f"{work * one / r['seconds']:.2f}x | {r['cpu_s']:.0f} s | {r['load']:.1f} | "
                     f"{r['peak_mib']:.0f} MiB | "
                     f"{r['median_dx']:.3f} / {r['median_dy']:.3f} | {r['tasks']} |")
    lines.append(f"\n{results['local1']['windows']} windows, {results['local1']['valid']} valid. "
                 f"Peak memory of the two Dask workers: "
                 f"{', '.join(f'{p:.0f}' for p in worker_peaks)} MiB.\n")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "frame_scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    ok = all(abs(r["median_dx"] - SHIFT_X) < 0.05 and abs(r["median_dy"] - SHIFT_Y) < 0.05
             for r in results.values())
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(json.loads(sys.argv[2]))
        sys.exit(0)
    sys.exit(main())
