#!/usr/bin/env python3
"""`make demo`: the main job end to end through qgis_process, on data shipped in the repository.

Each step lives in ``demo/steps/<name>.py`` and exposes ``run(demo) -> None``;
``demo/steps/__init__.py`` lists them in order.  A step calls algorithms with
``demo.run_algorithm("displacement:...", {...})`` (the real ``qgis_process``,
the way a user scripts it), reports numbers with ``demo.report(...)`` and
checks them against documented tolerances with ``demo.check(...)``.  The
demo exits non-zero if any step fails or any check is out of tolerance.
"""

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / ".build" / "plugins"))
sys.path.insert(0, str(REPO))


class Demo:
    """What a demo step can use: qgis_process, the output folder, report and check."""

    def __init__(self, output_dir):
        self.output = Path(output_dir).resolve()
        self.output.mkdir(parents=True, exist_ok=True)
        self.repo = REPO
        self.lines = []
        self.failures = []
        self.sections = []  # (title, html) for demo_output/index.html
        self.checks = 0
        self.timings = []  # (step, seconds)
        self._profile = tempfile.mkdtemp(prefix="dt_demo_profile_")

    def qgis_process(self, *args):
        env = dict(os.environ, QGIS_CUSTOM_CONFIG_PATH=self._profile, QT_QPA_PLATFORM="offscreen")
        cmd = [str(REPO / "scripts" / "qgis_process.sh"), *map(str, args)]
        return subprocess.run(cmd, capture_output=True, text=True, env=env)

    def run_algorithm(self, algorithm_id, parameters):
        """Run ``algorithm_id`` through ``qgis_process --json run``; return its results dict."""
        args = ["--json", "run", algorithm_id, "--"]
        for key, value in parameters.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            args.extend(f"{key}={v}" for v in values)
        started = time.perf_counter()
        proc = self.qgis_process(*args)
        if proc.returncode != 0:
            raise RuntimeError(f"{algorithm_id} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        results = json.loads(proc.stdout)["results"]
        print(f"    {algorithm_id} finished in {time.perf_counter() - started:.1f} s")
        return results

    def report(self, text):
        print("    " + text)
        self.lines.append(text)

    def check(self, label, value, limit, unit=""):
        """Record ``label = value`` and fail the demo if ``value`` exceeds ``limit``."""
        ok = value <= limit
        self.checks += 1
        mark = "ok" if ok else "OUT OF TOLERANCE"
        self.report(f"{label}: {value:.4g} {unit} (tolerance {limit:g} {unit}) {mark}")
        if not ok:
            self.failures.append(label)
        return ok

    def add_section(self, title, html):
        self.sections.append((title, html))


def _files(folder):
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_index(demo):
    import html

    body = "".join(f"<h2>{t}</h2>\n{h}\n" for t, h in demo.sections)
    status = (f"<p><b>{demo.checks} checks, {len(demo.failures)} failed</b>"
              + (": " + html.escape(", ".join(demo.failures)) if demo.failures else "")
              + ". Step times: " + ", ".join(f"{n} {t:.0f} s" for n, t in demo.timings) + ".</p>")
    summary = status + "".join(f"<li>{html.escape(line)}</li>" for line in demo.lines)
    (demo.output / "index.html").write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Displacement Toolkit demo</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto} img{max-width:100%}</style>"
        f"</head><body><h1>Displacement Toolkit demo</h1><ul>{summary}</ul>{body}</body></html>",
        encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="demo_output")
    parser.add_argument("--only", help="run only the step with this name")
    args = parser.parse_args()
    from demo.steps import STEPS

    os.environ["GDAL_PAM_ENABLED"] = "NO"   # no statistics side-cars next to the sample data
    data = REPO / "tests" / "data"
    before = _files(data)
    demo = Demo(args.output)
    started = time.perf_counter()
    for name in STEPS:
        if args.only and name != args.only:
            continue
        print(f"== {name}")
        step_started = time.perf_counter()
        try:
            importlib.import_module(f"demo.steps.{name}").run(demo)
        except Exception:
            traceback.print_exc()
            demo.failures.append(name)
        demo.timings.append((name, time.perf_counter() - step_started))
    after = _files(data)
    demo.check("files the demo wrote or changed in tests/data",
               sum(before.get(k) != after.get(k) for k in set(before) | set(after)), 0, "files")
    write_index(demo)
    print(f"\nDemo finished in {time.perf_counter() - started:.0f} s; outputs in {demo.output}")
    for line in demo.lines:
        print("  " + line)
    print("Step times: " + ", ".join(f"{n} {t:.0f} s" for n, t in demo.timings))
    failed = [f for f in demo.failures if f not in STEPS]   # failed checks (not steps)
    print(f"\n{demo.checks - len(failed)} of {demo.checks} checks passed"
          + (f"; failed: {', '.join(demo.failures)}" if demo.failures else ""))
    print(f"Report: {(demo.output / 'index.html').resolve()}")
    return 1 if demo.failures else 0


if __name__ == "__main__":
    sys.exit(main())
