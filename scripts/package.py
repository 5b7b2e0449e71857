#!/usr/bin/env python3
"""Build dist/displacement_toolkit-<version>.zip for Plugin Manager > Install from ZIP.

The zip's top folder is ``displacement_toolkit/`` and holds only what QGIS
needs at run time: the plugin code, metadata, icons, docs and licence, no
tests, benchmarks, demo data or development files.
"""

import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INCLUDE_DIRS = ["core", "processing_provider", "plugin", "ui", "icons", "docs"]
INCLUDE_FILES = ["__init__.py", "metadata.txt", "LICENSE", "README.md"]
EXCLUDE_SUFFIXES = (".pyc",)


def tracked_files():
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def main():
    meta = configparser.ConfigParser()
    meta.read(REPO / "metadata.txt")
    version = meta["general"]["version"]
    tracked = tracked_files()
    files = [f for f in INCLUDE_FILES if (REPO / f).exists()]
    for folder in INCLUDE_DIRS:
        files += sorted(str(p.relative_to(REPO)) for p in (REPO / folder).rglob("*")
                        if p.is_file() and "__pycache__" not in p.parts
                        and not p.name.endswith(EXCLUDE_SUFFIXES))
    untracked = [f for f in files if f not in tracked]
    if untracked:
        print("package: ignoring files git does not track: " + ", ".join(untracked[:10]))
        files = [f for f in files if f in tracked]
    dist = REPO / "dist"
    dist.mkdir(exist_ok=True)
    target = dist / f"displacement_toolkit-{version}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in files:
            zf.write(REPO / rel, f"displacement_toolkit/{rel}")
    print(f"package: wrote {target} ({len(files)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
