#!/usr/bin/env python3
"""Scaling of the block-wise algorithms over workers (core.execution, issue 20).

Each algorithm runs on the same synthetic scene three ways, one after another, best of
REPEATS: local with 1 thread, local with 2 threads, and a local Dask cluster of 2 worker
processes with 1 thread each (scheduler and workers on this machine, tests/dask_cluster.py).
Every run is in a fresh process so that its peak memory (VmHWM) is its own; the workers'
peaks are asked from them.  The outputs of every run are compared with the 1-thread run
(bit-identical expected).

Scenes (BENCH_SCALING_SIZE scales them, default 1.0):
* los_to_vertical: 6000^2 LOS, incidence raster on a 4x coarser grid (resampled per block);
* decompose: ascending 4000^2 + descending on a shifted 2x coarser grid, sigma constants;
* timeseries_velocity: 40 dates of 1500^2, seasonal model;
* rereference (to the median of a 5 x 5 pixel patch at the centre) of the same series;
* cumulative_displacement of a 2-date series of 6000^2 (it reads two dates only: on the
  40-date series above it took 0.26 s, mostly fixed costs);
* timeseries_decompose: two tracks of 16 dates, 2000^2 and 1000^2 on a shifted 2x coarser
  grid (the common grid: 1000^2), on different dates.
Writes benchmarks/results/scaling.md.
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

SCALE = float(os.environ.get("BENCH_SCALING_SIZE", "1.0"))
REPEATS = int(os.environ.get("BENCH_SCALING_REPEATS", "2"))
GT = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)


def peak_rss_mib() -> float:
    """Peak resident memory of this process since it started (VmHWM, MiB).  Not ru_maxrss,
    which Linux keeps across exec: a child started from a large parent would report the
    parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _n(size):
    return max(64, int(size * SCALE))


def make_scenes(folder):
    """Write the inputs; return {algorithm: json-able arguments}."""
    import datetime as dt

    from displacement_toolkit.core.raster_io import RasterWriter, crs_from_epsg

    crs = crs_from_epsg(32633)
    rng = np.random.default_rng(0)

    def write(name, shape, fn, gt=GT, bands=1, metas=None):
        path = os.path.join(folder, name)
        h, w = shape
        with RasterWriter(path, w, h, gt, crs, bands, band_metadata=metas or [{"units": "m"}]) as wr:
            for b in range(1, bands + 1):
                for r0 in range(0, h, 512):
                    n = min(512, h - r0)
                    wr.write(b, r0, fn(b, r0, n, w).astype(np.float32))
        return path

    def noise(scale):
        return lambda b, r0, n, w: 0.001 * b * scale + rng.normal(0, scale, (n, w))

    s = _n(6000)
    scenes = {"los_to_vertical": {
        "los": write("los.tif", (s, s), noise(0.01)),
        "inc": write("inc.tif", (s // 4, s // 4),
                     lambda b, r0, n, w: np.linspace(30, 45, w)[None, :].repeat(n, 0),
                     gt=(GT[0], 120.0, 0, GT[3], 0, -120.0))}}
    s = _n(4000)
    scenes["decompose"] = {
        "asc": write("asc.tif", (s, s), noise(0.01)),
        "dsc": write("dsc.tif", (s // 2, s // 2), noise(0.01),
                     gt=(GT[0] + 15.0, 60.0, 0, GT[3] - 15.0, 0, -60.0))}
    s = _n(1500)
    days = [dt.date(2020, 1, 1) + dt.timedelta(days=12 * k) for k in range(40)]
    scenes["timeseries_velocity"] = {
        "series": write("series.tif", (s, s), noise(0.003), bands=len(days),
                        metas=[{"units": "m", "date": d.isoformat()} for d in days]),
        "start": days[0].isoformat(), "end": days[-1].isoformat()}
    scenes["rereference"] = scenes["timeseries_velocity"]
    s = _n(6000)
    pair = [dt.date(2020, 1, 1), dt.date(2020, 7, 1)]
    scenes["cumulative_displacement"] = {
        "series": write("pair.tif", (s, s), noise(0.01), bands=2,
                        metas=[{"units": "m", "date": d.isoformat()} for d in pair]),
        "start": pair[0].isoformat(), "end": pair[1].isoformat()}
    s = _n(2000)
    tracks = []
    for name, first, gt in (("asc", dt.date(2021, 1, 1), GT),
                            ("dsc", dt.date(2021, 1, 4), (GT[0] + 45.0, 60.0, 0, GT[3] - 45.0, 0, -60.0))):
        shape = (s, s) if name == "asc" else (s // 2, s // 2)
        dates = [first + dt.timedelta(days=12 * k) for k in range(16)]
        tracks.append(write(f"{name}_series.tif", shape, noise(0.002), gt=gt, bands=16,
                            metas=[{"units": "m", "date": d.isoformat()} for d in dates]))
    scenes["timeseries_decompose"] = {"tracks": tracks}
    return scenes


def run_one(algorithm, args, engine_kind, out_folder, address=None):
    """Run one algorithm once in this process; return seconds and the output paths."""
    from displacement_toolkit.core import decomposition as D
    from displacement_toolkit.core import execution as X
    from displacement_toolkit.core import los as L
    from displacement_toolkit.core import timeseries as TS

    engine = {"local1": lambda: X.LocalEngine(1), "local2": lambda: X.LocalEngine(2),
              "dask2": lambda: X.DaskEngine(address)}[engine_kind]()
    out = lambda name: os.path.join(out_folder, f"{algorithm}_{engine_kind}_{name}.tif")  # noqa: E731
    started = time.perf_counter()
    if algorithm == "los_to_vertical":
        paths = [out("up")]
        L.los_to_direction(args["los"], paths[0], incidence=args["inc"], engine=engine)
    elif algorithm == "decompose":
        obs = [D.Observation(args["asc"], incidence=34.0, heading=-12.0, sigma=0.003),
               D.Observation(args["dsc"], incidence=39.0, heading=-168.0, sigma=0.004)]
        paths = [out("east"), out("up"), out("sigma")]
        D.decompose(obs, {"east": paths[0], "up": paths[1], "sigma": paths[2]}, engine=engine)
    elif algorithm == "timeseries_velocity":
        stack = TS.open_stack([args["series"]])
        paths = [out("velocity"), out("sigma")]
        TS.timeseries_velocity(stack, args["start"], args["end"], paths[0], paths[1],
                               seasonal=True, engine=engine)
        stack.close()
    elif algorithm == "cumulative_displacement":
        stack = TS.open_stack([args["series"]])
        paths = [out("cumulative")]
        TS.cumulative_displacement(stack, args["start"], args["end"], paths[0], engine=engine)
        stack.close()
    elif algorithm == "rereference":
        stack = TS.open_stack([args["series"]])
        paths = [out("rereferenced")]
        x = GT[0] + GT[1] * (stack.width // 2 + 0.5)
        y = GT[3] + GT[5] * (stack.height // 2 + 0.5)
        TS.rereference(stack, TS.point_reference(stack, x, y, radius=2.0), paths[0],
                       engine=engine)
        stack.close()
    else:
        tracks = [TS.Track([args["tracks"][0]], incidence=36.0, heading=-12.0, sigma=0.002),
                  TS.Track([args["tracks"][1]], incidence=41.0, heading=-168.0, sigma=0.002)]
        paths = [out("east"), out("up")]
        TS.timeseries_decompose(tracks, paths[0], paths[1], engine=engine)
    return time.perf_counter() - started, paths


def _child(spec):
    """Entry of a measuring subprocess: run, print JSON (seconds, paths, peak RSS MiB)."""
    seconds, paths = run_one(spec["algorithm"], spec["args"], spec["engine"], spec["out"],
                             spec.get("address"))
    peak = peak_rss_mib()
    print(json.dumps({"seconds": seconds, "paths": paths, "peak_mib": peak}))


def _start(spec):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    # the local runs cap every thread of the process, the outputs' compression included; the
    # Dask client compresses on this machine's cores while the workers compute
    env.pop("DISPLACEMENT_TOOLKIT_THREADS", None)
    threads = {"local1": "1", "local2": "2"}.get(spec["engine"])
    if threads:
        env["DISPLACEMENT_TOOLKIT_THREADS"] = threads
    return subprocess.Popen([sys.executable, __file__, "--child", json.dumps(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _result(proc):
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(err[-3000:])
    return json.loads(out.strip().splitlines()[-1])


def _measure(spec):
    return _result(_start(spec))


def _measure_two_at_once(spec):
    """Two 1-thread runs at the same time, in two processes (each its own output folder):
    the slower one's time.  Two runs of work in that time is the most two cores of this
    machine give when nothing is shared but the hardware (caches, memory, clock)."""
    procs = []
    for name in ("first", "second"):
        folder = os.path.join(spec["out"], name)
        os.makedirs(folder, exist_ok=True)
        procs.append(_start(dict(spec, engine="local1", out=folder)))
    return max(_result(p)["seconds"] for p in procs)


def _same(paths_a, paths_b):
    from displacement_toolkit.core.raster_io import raster_info, read_block

    for a, b in zip(paths_a, paths_b):
        for band in range(1, raster_info(a).band_count + 1):
            if not np.array_equal(read_block(a, band), read_block(b, band), equal_nan=True):
                return False
    return True


def _worker_peaks(address):
    from distributed import Client

    def peak():   # runs on the workers: self-contained
        with open("/proc/self/status") as f:
            return next(int(x.split()[1]) / 1024.0 for x in f if x.startswith("VmHWM:"))

    with Client(address, timeout=30, set_as_default=False) as client:
        return sorted(client.run(peak).values())


def main():
    from tests.dask_cluster import local_cluster

    tmp = tempfile.mkdtemp(prefix="bench_scaling_", dir=os.environ.get("BENCH_TMP"))
    rows = []
    try:
        scenes = make_scenes(tmp)
        with local_cluster(workers=2) as cluster:
            for algorithm, args in scenes.items():
                best = {}
                for _ in range(REPEATS):
                    for kind in ("local1", "local2", "dask2"):
                        spec = {"algorithm": algorithm, "args": args, "engine": kind, "out": tmp,
                                "address": cluster.address}
                        result = _measure(spec)
                        if kind not in best or result["seconds"] < best[kind]["seconds"]:
                            best[kind] = result
                    pair = _measure_two_at_once(spec)
                    best["pair"] = min(best.get("pair", pair), pair)
                identical = all(_same(best[k]["paths"], best["local1"]["paths"])
                                for k in ("local2", "dask2"))
                rows.append((algorithm, best, identical))
                print(f"{algorithm}: " + ", ".join(f"{k} {best[k]['seconds']:.2f} s"
                                                  for k in ("local1", "local2", "dask2"))
                      + f", two 1-thread runs at once {best['pair']:.2f} s, identical {identical}",
                      flush=True)
            workers_peak = _worker_peaks(cluster.address)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    load = os.getloadavg()
    lines = [
        "## Scaling over workers (core.execution)\n",
        f"Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores "
        f"({platform.processor() or platform.machine()}), Python {platform.python_version()}, "
        f"load average {load[0]:.1f} at the end; scenes at BENCH_SCALING_SIZE={SCALE:g}, best "
        f"of {REPEATS}. `benchmarks/bench_scaling.py`: each algorithm on 1 local thread, 2 local "
        "threads and a local Dask cluster of 2 worker processes (1 thread each); the caller "
        "appends the outputs' tiles, which the tasks compressed (core.tiles). The machine's "
        "ceiling: two 1-thread runs started at once in two processes, the slower one's time; "
        "2 x (1 thread) / that is the speed-up two cores give when only the hardware is shared. "
        "Peak memory is the calling process's (VmHWM).\n",
        "| algorithm | 1 thread | 2 threads | speed-up | Dask, 2 workers | speed-up | "
        "ceiling (two 1-thread runs at once) | peak MiB (1 thread / 2 threads / Dask client) | "
        "outputs identical |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for algorithm, best, identical in rows:
        one, two, dask = (best[k]["seconds"] for k in ("local1", "local2", "dask2"))
        peaks = " / ".join(f"{best[k]['peak_mib']:.0f}" for k in ("local1", "local2", "dask2"))
        lines.append(f"| {algorithm} | {one:.2f} s | {two:.2f} s | {one / two:.2f}x | "
                     f"{dask:.2f} s | {one / dask:.2f}x | {2 * one / best['pair']:.2f}x "
                     f"({best['pair']:.2f} s) | {peaks} | {'yes' if identical else 'NO'} |")
    lines.append(f"\nPeak memory of the two Dask workers over all runs: "
                 f"{', '.join(f'{p:.0f}' for p in workers_peak)} MiB.\n")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "scaling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r[2] for r in rows) else 1


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(json.loads(sys.argv[2]))
        sys.exit(0)
    sys.exit(main())
