"""Help that fits: a short side-panel text with every parameter on a line, and a Help button
that opens the full page shipped inside the plugin (docs/algorithms/<name>.md)."""

import os
import re

from qgis.PyQt.QtCore import QUrl

from displacement_toolkit.processing_provider.algorithms import algorithm_classes


def test_short_help_lists_every_parameter_and_links_the_shipped_page(provider):
    for cls in algorithm_classes():
        alg = provider.algorithm(cls.NAME)
        text = alg.shortHelpString()
        assert "<" not in text   # plain text: qgis_process help prints it raw
        summary = text.split("Parameters:")[0]
        assert len(summary.split()) <= 100, (alg.name(), len(summary.split()))
        for d in alg.parameterDefinitions():
            name = d.name()
            if re.search(r"_[2-9]$", name):
                name = name[:-1] + "1"   # repeated slots share the line of slot 1
            assert f"({name}" in text, (alg.name(), name)
        url = QUrl(alg.helpUrl())
        assert url.isLocalFile(), alg.helpUrl()
        page = url.toLocalFile()
        assert os.path.isfile(page), page
        with open(page, encoding="utf-8") as fh:
            full = fh.read()
        assert alg.displayName() in full and f"`{alg.parameterDefinitions()[0].name()}`" in full
