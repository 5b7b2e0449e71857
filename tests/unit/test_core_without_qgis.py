"""core/ must import in a Python that has no QGIS and no Qt."""

import subprocess
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    class Block:
        BLOCKED = ("qgis", "PyQt5", "PyQt6", "sip", "PySide2", "PySide6")
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.BLOCKED:
                raise ImportError("blocked for this test: " + name)
            return None

    sys.meta_path.insert(0, Block())
    sys.path.insert(0, sys.argv[1])
    import displacement_toolkit.core as core
    names = [m.name for m in pkgutil.walk_packages(core.__path__, "displacement_toolkit.core.")]
    for name in names:
        importlib.import_module(name)
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in Block.BLOCKED)
    assert not leaked, leaked
    print(len(names))
    """
)


def test_every_core_module_imports_without_qgis_or_qt():
    proc = subprocess.run(
        ["/usr/bin/python3", "-I", "-c", SCRIPT, str(REPO / ".build" / "plugins")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.strip()) >= 4  # progress, units, geometry, raster_io at least


def test_core_sources_do_not_mention_qt_or_qgis_imports():
    for path in (REPO / "core").rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")):
                assert "qgis" not in stripped and "PyQt" not in stripped, f"{path}: {line}"


def test_core_installs_on_its_own_with_pip(tmp_path):
    """`pip install` of the repository gives displacement_toolkit.core (what Dask workers
    need) and nothing of the plugin's QGIS parts; built from a copy so the checkout stays
    clean."""
    import shutil
    import sys

    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "__init__.py", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "core", source / "core",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    target = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    installed = sorted(p.name for p in (target / "displacement_toolkit").iterdir())
    assert "core" in installed and "processing_provider" not in installed and "ui" not in installed
    proc = subprocess.run(["/usr/bin/python3", "-I", "-c", SCRIPT, str(target)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.strip()) >= 20
