"""`make package` builds a zip that Plugin Manager can install."""

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_package_zip_has_the_plugin_folder_and_no_dev_files():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "package.py")],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    target = Path(proc.stdout.strip().split("wrote ")[1].split(" (")[0])
    names = zipfile.ZipFile(target).namelist()
    assert {n.split("/")[0] for n in names} == {"displacement_toolkit"}
    for required in ("__init__.py", "metadata.txt", "LICENSE", "core/raster_io.py",
                     "processing_provider/provider.py", "plugin/plugin.py", "icons/icon.svg"):
        assert f"displacement_toolkit/{required}" in names
    assert not [n for n in names if n.split("/")[1] in ("tests", "benchmarks", "demo", ".ci", "Makefile")]
    # the Help button's pages and every icon the plugin points to ship inside the plugin
    from displacement_toolkit.processing_provider.algorithms import algorithm_classes

    for cls in algorithm_classes():
        assert f"displacement_toolkit/docs/algorithms/{cls.NAME}.md" in names, cls.NAME
    for icon in (REPO / "icons").glob("*.svg"):
        assert f"displacement_toolkit/icons/{icon.name}" in names


def test_metadata_is_complete_for_the_plugin_repository():
    import configparser

    meta = configparser.ConfigParser()
    meta.read(REPO / "metadata.txt")
    general = meta["general"]
    for key in ("name", "qgisMinimumVersion", "description", "about", "version", "author", "email",
                "repository", "tracker", "homepage", "tags", "category", "icon", "changelog"):
        assert general.get(key, "").strip(), key
    assert general["qgisMinimumVersion"] == "3.22"
    assert general["hasProcessingProvider"] == "yes"
    assert general["supportsQt6"] == "True"
    assert (REPO / general["icon"]).exists()
