#!/usr/bin/env python3
"""Render docs/img/decomposition_geometry.png: the Sentinel-1 worked example of docs/decomposition.md.

Run from the repository: ``.venv/bin/python docs/img/decomposition_geometry.py``.  The
vectors come from core.decomposition (the conventions of docs/conventions.md).
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".build" / "plugins"))

from displacement_toolkit.core import decomposition as dec  # noqa: E402
from displacement_toolkit.core import geometry as g  # noqa: E402


def main():
    tracks = [("ascending", 34.0, -12.0, "#b2182b"), ("descending", 39.0, -168.0, "#2166ac")]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 5.2))
    # --- map view
    for name, inc, head, colour in tracks:
        h = np.radians(head)
        fx, fy = np.sin(h), np.cos(h)
        e, n, u = dec.observation_unit_vector("los", inc, head)
        alpha = float(g.heading_to_los_azimuth(head))
        ax.annotate("", xy=(fx, fy), xytext=(0, 0),
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=2, ls="--"))
        ax.text(1.12 * fx, 1.12 * fy, f"{name} flight\nheading h = {head:g}°", color=colour,
                ha="center", va="center", fontsize=9)
        ax.annotate("", xy=(e, n), xytext=(0, 0), arrowprops=dict(arrowstyle="-|>", color=colour, lw=3))
        ax.text(e * 1.05 + (0.02 if e > 0 else -0.02), n - 0.16,
                f"LOS (ground→satellite)\nazimuth α = 90° − h = {alpha:g}°\n"
                f"(e, n) = ({e:.6f}, {n:.6f})", color=colour, ha="left" if e > 0 else "right",
                va="top", fontsize=8.5)
    ax.annotate("N", xy=(-1.6, 1.4), xytext=(-1.6, 1.05), ha="center", va="top",
                arrowprops=dict(arrowstyle="-|>", color="k"))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    ax.set_xlim(-1.9, 1.9)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.set_xlabel("east")
    ax.set_ylabel("north")
    ax.set_title("Map view: right-looking Sentinel-1\n(α anti-clockwise from north, h clockwise)",
                 fontsize=10)
    # --- vertical section
    for name, inc, head, colour in tracks:
        e, n, u = dec.observation_unit_vector("los", inc, head)
        horiz = np.hypot(e, n) * np.sign(e)
        bx.annotate("", xy=(horiz, u), xytext=(0, 0), arrowprops=dict(arrowstyle="-|>", color=colour, lw=3))
        bx.plot([0, 0], [0, 1.0], color="0.6", lw=0.8)
        t = np.radians(np.linspace(0, inc, 30)) * np.sign(e)
        bx.plot(0.35 * np.sin(t), 0.35 * np.cos(t), color=colour, lw=1)
        bx.text(0.5 * np.sin(np.radians(inc / 2)) * np.sign(e), 0.42 * np.cos(np.radians(inc / 2)),
                f"θ = {inc:g}°", color=colour, ha="center", fontsize=9)
        bx.text(horiz * 1.04, u + 0.05, f"{name}\nu = cos θ = {u:.6f}", color=colour,
                ha="left" if e > 0 else "right", fontsize=8.5)
    los_a = g.project_enu(0.010, 0.0, -0.020, dec.observation_unit_vector("los", 34.0, -12.0))
    los_d = g.project_enu(0.010, 0.0, -0.020, dec.observation_unit_vector("los", 39.0, -168.0))
    bx.annotate("", xy=(0.3, -0.6), xytext=(0, 0), arrowprops=dict(arrowstyle="-|>", color="k", lw=2))
    bx.text(0.1, -0.65, "ground motion E = +10 mm, U = −20 mm\n"
            f"LOS: ascending {los_a * 1000:.3f} mm, descending {los_d * 1000:.3f} mm\n"
            "east + up solution: (10.000, −20.000) mm", fontsize=8.5, va="top", ha="center")
    bx.axhline(0, color="0.3", lw=1)
    bx.set_xlim(-1.2, 1.2)
    bx.set_ylim(-1.0, 1.2)
    bx.set_aspect("equal")
    bx.set_xlabel("horizontal: west (ascending satellite side) ... east (descending side)")
    bx.set_ylabel("up")
    bx.set_title("Vertical section: incidence θ from the vertical", fontsize=10)
    fig.tight_layout()
    out = Path(__file__).with_suffix(".png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
