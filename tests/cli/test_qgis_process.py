"""The real qgis_process binary sees the provider and every algorithm."""

import pytest

from displacement_toolkit.processing_provider.algorithms import algorithm_classes

pytestmark = pytest.mark.cli


def test_list_shows_the_provider_and_all_algorithms(qgis_process):
    listing = qgis_process("list", json_output=True)
    assert "displacement" in listing["providers"]
    provider = listing["providers"]["displacement"]
    assert provider["name"] == "Displacement Toolkit"
    expected = {f"displacement:{cls.NAME}" for cls in algorithm_classes()}
    assert set(provider.get("algorithms", {})) == expected


@pytest.mark.parametrize("cls", algorithm_classes(), ids=lambda c: c.NAME)
def test_help_prints_plain_text_with_conventions(qgis_process, cls):
    proc = qgis_process("help", f"displacement:{cls.NAME}")
    assert "Conventions" in proc.stdout
    assert "<" not in cls.HELP  # shortHelpString is printed raw: keep it plain text
