"""Peers of the offset-tracking benchmark; runs inside benchmarks/.venv (scikit-image, OpenCV).

Usage: peers_offset_tracking.py JOB.json -> writes, for every scene and method, the offsets
(secondary minus reference, pixels) on the same window grid as the toolkit, and the time (the
best of the job's ``repeats`` runs).
``peers_offset_tracking.py --serve``: one JSON request per line on stdin (ref, sec, window,
search, step, method, out), one run each, answered by a JSON line (the time in seconds) after
writing ``out + "_dx.npy"`` and ``"_dy.npy"``; lets a benchmark interleave a peer's runs with its
own (benchmarks/bench_offset_tracking_fast.py).
Data come as .npy files (float32 detected images); nothing here imports the toolkit.
"""

import json
import sys
import time

import numpy as np


def grid(shape, window, search, step):
    n_r = (shape[0] - window - 2 * search) // step + 1
    n_c = (shape[1] - window - 2 * search) // step + 1
    return search + step * np.arange(n_r), search + step * np.arange(n_c)


def skimage_pcc(ref, sec, window, search, step, hann):
    from skimage.filters import window as skwindow
    from skimage.registration import phase_cross_correlation
    tops, lefts = grid(ref.shape, window, search, step)
    w = skwindow("hann", (window, window)) if hann else None
    dx = np.full((tops.size, lefts.size), np.nan)
    dy = np.full_like(dx, np.nan)
    for i, t in enumerate(tops):
        for j, le in enumerate(lefts):
            a = ref[t:t + window, le:le + window]
            b = sec[t:t + window, le:le + window]
            if hann:
                a = (a - a.mean()) * w
                b = (b - b.mean()) * w
            shift, _, _ = phase_cross_correlation(a, b, upsample_factor=64)
            dy[i, j], dx[i, j] = -shift[0], -shift[1]
    return dx, dy


def pyramid_peak(c, px, py, levels=6, half=2):
    """Sub-pixel peak of a correlation surface by successive x2 bicubic zooms (cv2.resize) of
    the (2 half + 1)^2 neighbourhood of the current maximum: 6 levels = 1/64 pixel."""
    import cv2
    surf, y, x = c, py, px
    oy, ox, spacing = 0.0, 0.0, 1.0     # surf[i, j] lies at (oy + spacing i, ox + spacing j)
    for _ in range(levels):
        y0, y1 = max(y - half, 0), min(y + half + 1, surf.shape[0])
        x0, x1 = max(x - half, 0), min(x + half + 1, surf.shape[1])
        big = cv2.resize(np.ascontiguousarray(surf[y0:y1, x0:x1]), None, fx=2, fy=2,
                         interpolation=cv2.INTER_CUBIC)
        # cv2.resize: output pixel k samples input coordinate (k + 0.5) / 2 - 0.5
        oy, ox = oy + spacing * (y0 - 0.25), ox + spacing * (x0 - 0.25)
        spacing /= 2.0
        surf = big
        y, x = np.unravel_index(int(np.argmax(big)), big.shape)
    return oy + spacing * y, ox + spacing * x


def opencv_match(ref, sec, window, search, step, pyramid):
    import cv2
    tops, lefts = grid(ref.shape, window, search, step)
    dx = np.full((tops.size, lefts.size), np.nan)
    dy = np.full_like(dx, np.nan)
    for i, t in enumerate(tops):
        for j, le in enumerate(lefts):
            tpl = np.ascontiguousarray(ref[t:t + window, le:le + window])
            img = np.ascontiguousarray(sec[t - search:t + window + search,
                                           le - search:le + window + search])
            c = cv2.matchTemplate(img, tpl, cv2.TM_CCOEFF_NORMED)
            _, _, _, (px, py) = cv2.minMaxLoc(c)
            if not (1 <= px < c.shape[1] - 1 and 1 <= py < c.shape[0] - 1):
                continue
            if pyramid == "levels":
                sy, sx = pyramid_peak(c, px, py)
            elif pyramid:
                h = 3
                y0, y1 = max(py - h, 0), min(py + h + 1, c.shape[0])
                x0, x1 = max(px - h, 0), min(px + h + 1, c.shape[1])
                patch = c[y0:y1, x0:x1]
                big = cv2.resize(patch, None, fx=64, fy=64, interpolation=cv2.INTER_CUBIC)
                by, bx = np.unravel_index(int(np.argmax(big)), big.shape)
                sy = y0 + (by + 0.5) / 64.0 - 0.5
                sx = x0 + (bx + 0.5) / 64.0 - 0.5
            else:
                cy = c[py - 1:py + 2, px]
                cx = c[py, px - 1:px + 2]
                sy = py + 0.5 * (cy[0] - cy[2]) / (cy[0] - 2 * cy[1] + cy[2])
                sx = px + 0.5 * (cx[0] - cx[2]) / (cx[0] - 2 * cx[1] + cx[2])
            dy[i, j], dx[i, j] = sy - search, sx - search
    return dx, dy


METHODS = {
    "scikit-image phase_cross_correlation x64":
        lambda r, s, w, se, st: skimage_pcc(r, s, w, se, st, False),
    "scikit-image phase_cross_correlation x64 + Hann":
        lambda r, s, w, se, st: skimage_pcc(r, s, w, se, st, True),
    "OpenCV matchTemplate CCOEFF_NORMED + parabola":
        lambda r, s, w, se, st: opencv_match(r, s, w, se, st, False),
    "OpenCV matchTemplate CCOEFF_NORMED + x64 pyramid":
        lambda r, s, w, se, st: opencv_match(r, s, w, se, st, True),
    "OpenCV matchTemplate CCOEFF_NORMED + x64 pyramid of 6 x2 zooms":
        lambda r, s, w, se, st: opencv_match(r, s, w, se, st, "levels"),
}


def main(job_path):
    import cv2
    cv2.setNumThreads(1)
    job = json.load(open(job_path))
    out = {}
    for scene in job["scenes"]:
        ref = np.load(scene["ref"]).astype(np.float32)
        sec = np.load(scene["sec"]).astype(np.float32)
        for name, fn in METHODS.items():
            elapsed = float("inf")
            for _ in range(int(job.get("repeats", 1))):
                t0 = time.perf_counter()
                dx, dy = fn(ref, sec, job["window"], job["search"], job["step"])
                elapsed = min(elapsed, time.perf_counter() - t0)
            base = scene["ref"][:-len("_ref.npy")] + "_" + str(list(METHODS).index(name))
            np.save(base + "_dx.npy", dx)
            np.save(base + "_dy.npy", dy)
            out.setdefault(scene["name"], {})[name] = {"dx": base + "_dx.npy", "dy": base + "_dy.npy",
                                                       "seconds": elapsed}
    import skimage
    out["_versions"] = {"opencv": cv2.__version__, "scikit-image": skimage.__version__,
                        "numpy": np.__version__}
    json.dump(out, open(job["output"], "w"))


def serve():
    import cv2
    cv2.setNumThreads(1)
    for line in sys.stdin:
        req = json.loads(line)
        ref = np.load(req["ref"]).astype(np.float32)
        sec = np.load(req["sec"]).astype(np.float32)
        t0 = time.perf_counter()
        dx, dy = METHODS[req["method"]](ref, sec, req["window"], req["search"], req["step"])
        seconds = time.perf_counter() - t0
        np.save(req["out"] + "_dx.npy", dx)
        np.save(req["out"] + "_dy.npy", dy)
        print(json.dumps({"seconds": seconds, "opencv": cv2.__version__}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        serve()
    else:
        main(sys.argv[1])
