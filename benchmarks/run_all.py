#!/usr/bin/env python3
"""`make bench`: run every benchmarks/bench_*.py and rebuild docs/benchmarks.md.

Each benchmark script writes its own Markdown section to
``benchmarks/results/<name>.md`` (measured numbers, machine, date, the peers
measured in the same run).  This script runs them one after another (they
time things: never in parallel) and concatenates the sections.
``python benchmarks/run_all.py bench_offset_tracking`` runs only that one;
``python benchmarks/run_all.py --collect`` runs nothing and only rebuilds
docs/benchmarks.md from the committed sections.
"""

import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def main(argv):
    collect_only = "--collect" in argv
    argv = [a for a in argv if a != "--collect"]
    names = [] if collect_only else (argv or sorted(p.stem for p in HERE.glob("bench_*.py")))
    failed = []
    for name in names:
        print(f"== {name}")
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE / f"{name}.py")], cwd=REPO)
        print(f"   {name}: exit {proc.returncode} after {time.perf_counter() - started:.0f} s")
        if proc.returncode != 0:
            failed.append(name)
    sections = [p.read_text() for p in sorted((HERE / "results").glob("*.md"))]
    header = (
        "# Benchmarks\n\n"
        "Measured with `make bench` (benchmarks/run_all.py), which runs every\n"
        "`benchmarks/bench_*.py` one after another and assembles this page from\n"
        "`benchmarks/results/*.md`. Each section states its own date, machine and the peers\n"
        "measured in the same run. Speed and accuracy live here, not in timed unit tests.\n"
        f"Page assembled on {platform.machine()} with Python {platform.python_version()}.\n\n"
    )
    (REPO / "docs" / "benchmarks.md").write_text(header + "\n".join(sections))
    if failed:
        print("benchmarks failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
