#!/usr/bin/env python3
"""Offset tracking's fast preset against the six-zoom OpenCV pyramid peer, interleaved.

The full benchmark (bench_offset_tracking.py) takes minutes and times each method once per
scene; on a shared, loaded machine its absolute windows/s drift.  This focused comparison runs
the toolkit's ``preset="fast"`` (and, for reference, ``"accurate"``) and the peer
"OpenCV matchTemplate CCOEFF_NORMED + x64 pyramid of 6 x2 zooms" (peers_offset_tracking.py,
served by a subprocess in benchmarks/.venv) one after the other on the same scene, ``REPEATS``
times in turn, all with one thread, and keeps each method's best time: the *ratio* of windows/s
is meaningful under load because slow spells hit both alike.

Scenes: the benchmark's unaliased amplitude scenes (768 x 768 px, windows 64, search ±8,
step 32, sub-pixel fractions 0 .. 0.5, clean and noisy NCC ~0.8) and the real Sentinel-1 RTC
texture of tests/data/opera_rtc_s1 (each image against itself moved by a known Fourier shift,
windows 32, search ±4, step 16; the 42 images are tracked as one group).  Usage::

    bench_offset_tracking_fast.py [REPEATS]

prints a markdown table (RMSE x / y, windows/s, speed ratio, error ratio against the peer).
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import datetime  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_offset_tracking as full  # noqa: E402

ot, s = full.ot, full.s
PEER = "OpenCV matchTemplate CCOEFF_NORMED + x64 pyramid of 6 x2 zooms"
PRESETS = ("fast", "accurate")
REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 3


def scenes():
    """(group, name, reference, secondary, truth x, truth y, window, search, step)."""
    out, seed = [], 900
    for group, coh in (("amplitude non-aliased, clean", 1.0),
                       ("amplitude non-aliased, noisy (NCC ~0.8)", 0.894)):
        for f in full.FRACTIONS:
            seed += 1
            tx, ty = 1.0 + f, -(2.0 + f)
            r, a = s.amplitude_pair(full.SHAPE, tx, ty, coherence=coh, kind="smooth", seed=seed)
            out.append((group, f"{group} f={f}", r, a, tx, ty, full.WINDOW, full.SEARCH, full.STEP))
    k = 0
    for burst, images in full.rtc_images().items():
        for day, img in images:
            tx, ty = full.RTC_SHIFTS[k % len(full.RTC_SHIFTS)]
            k += 1
            out.append(("real Sentinel-1 RTC texture, known shift", f"rtc {burst} {day}", img,
                        full.fourier_shift(img, tx, ty), tx, ty, full.RTC_WINDOW,
                        full.RTC_SEARCH, full.RTC_STEP))
    return out


def main():
    py = full.ensure_peers()
    ot.WORKERS = 1
    peer = subprocess.Popen([str(py), str(HERE / "peers_offset_tracking.py"), "--serve"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    rows = {}          # (group, method) -> [errors x, errors y, seconds, windows]
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        items = scenes()
        for i, (_g, _n, ref, sec, *_rest) in enumerate(items):
            np.save(f"{tmp}/{i}_ref.npy", ref.astype(np.float32))
            np.save(f"{tmp}/{i}_sec.npy", sec.astype(np.float32))
        best = {}
        results = {}
        for _ in range(REPEATS):
            for i, (_g, _n, ref, sec, _tx, _ty, window, search, step) in enumerate(items):
                for preset in PRESETS:
                    p = ot.TrackingParameters(window_x=window, window_y=window, search_x=search,
                                              search_y=search, step_x=step, step_y=step,
                                              coarse_search=False, preset=preset)
                    t0 = time.perf_counter()
                    res = ot.track_offsets(ref, sec, p)
                    dt = time.perf_counter() - t0
                    best[(i, preset)] = min(best.get((i, preset), np.inf), dt)
                    results[(i, preset)] = (res.dx, res.dy)
                req = {"ref": f"{tmp}/{i}_ref.npy", "sec": f"{tmp}/{i}_sec.npy", "window": window,
                       "search": search, "step": step, "method": PEER, "out": f"{tmp}/{i}_peer"}
                peer.stdin.write(json.dumps(req) + "\n")
                peer.stdin.flush()
                answer = json.loads(peer.stdout.readline())
                best[(i, PEER)] = min(best.get((i, PEER), np.inf), answer["seconds"])
                results[(i, PEER)] = (np.load(f"{tmp}/{i}_peer_dx.npy"),
                                      np.load(f"{tmp}/{i}_peer_dy.npy"))
        peer.stdin.close()
        peer.wait()
        for i, (group, _n, _ref, _sec, tx, ty, *_r) in enumerate(items):
            for method in PRESETS + (PEER,):
                dx, dy = results[(i, method)]
                row = rows.setdefault((group, method), [[], [], 0.0, 0])
                row[0].append((dx - tx).ravel())
                row[1].append((dy - ty).ravel())
                row[2] += best[(i, method)]
                row[3] += dx.size
    load = os.getloadavg()
    print(f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, one thread, "
          f"best of {REPEATS} interleaved runs, load average at the end {load[0]:.1f} / "
          f"{load[1]:.1f} on {os.cpu_count()} cores, whole run {time.perf_counter() - t_start:.0f} s, "
          f"OpenCV {answer['opencv']}.\n")
    print("| scene group | method | RMSE x / y (px) | largest error (px) | valid | windows/s "
          "| speed / peer | RMSE / peer's |")
    print("|---|---|---|---|---|---|---|---|")
    for group in dict.fromkeys(g for g, _m in rows):
        ref_row = rows[(group, PEER)]
        ref_rate = ref_row[3] / ref_row[2]
        ref_rmse = [np.sqrt(np.nanmean(np.concatenate(ref_row[k]) ** 2)) for k in (0, 1)]
        for method in PRESETS + (PEER,):
            ex, ey, seconds, n = rows[(group, method)]
            ex, ey = np.concatenate(ex), np.concatenate(ey)
            ok = np.isfinite(ex) & np.isfinite(ey)
            rmse = [np.sqrt(np.mean(e[ok] ** 2)) for e in (ex, ey)]
            label = f"toolkit PRESET {method}" if method in PRESETS else method
            print(f"| {group} | {label} | {rmse[0]:.4f} / {rmse[1]:.4f} | "
                  f"{max(np.abs(ex[ok]).max(), np.abs(ey[ok]).max()):.4f} | {100 * ok.mean():.0f} % | "
                  f"{n / seconds:.0f} | {n / seconds / ref_rate:.2f} | "
                  f"{rmse[0] / ref_rmse[0]:.2f} / {rmse[1] / ref_rmse[1]:.2f} |")


if __name__ == "__main__":
    main()
