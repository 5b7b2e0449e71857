"""The help of the toolkit's algorithms: a short side-panel text and the full page.

The side panel (and ``qgis_process help``, which prints it raw, so plain text) shows the
algorithm's ``HELP`` (what it does, units), one line per parameter (its label carries the
unit) and the conventions.  The Help button opens the algorithm's full page shipped inside
the plugin, ``docs/algorithms/<name>.md`` (scripts/package.py packs docs/).
"""

import os

from qgis.PyQt.QtCore import QUrl

DOCS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "docs")


def parameter_lines(algorithm):
    """``• Window width (pixels) (WINDOW_X)`` for every parameter; repeated slots (``OBS_1``
    ... ``OBS_4``) share one line, ``(OBS_1 … _4)``."""
    lines, slots = [], {}
    for d in algorithm.parameterDefinitions():
        stem, _, slot = d.name().rpartition("_")
        repeated = slot.isdigit() and bool(stem)
        if repeated:
            slots.setdefault(stem, []).append(slot)
            if slot != "1":
                continue
        lines.append((stem if repeated else None, f"• {d.description()} ({d.name()}"))
    return [text + (f" … _{slots[stem][-1]}" if stem and len(slots[stem]) > 1 else "") + ")"
            for stem, text in lines]


def short_help(algorithm, summary, conventions):
    """The side-panel text of ``algorithm``: ``summary`` (its HELP) on one paragraph, the
    parameter lines, ``conventions`` and where the full help is."""
    return (" ".join(summary.split()) + "\n\nParameters:\n"
            + "\n".join(parameter_lines(algorithm)) + "\n\n" + conventions
            + f"\n\nFull help: the Help button (docs/algorithms/{algorithm.name()}.md).")


def help_url(name):
    """file:// URL of the page of algorithm ``name`` in the plugin's own docs folder."""
    return QUrl.fromLocalFile(os.path.join(DOCS_DIR, "algorithms", f"{name}.md")).toString()
