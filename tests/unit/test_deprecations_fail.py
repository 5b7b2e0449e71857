"""pytest.ini turns deprecation warnings raised from the plugin's own modules into errors (what
the next QGIS, Qt or numpy removes, e.g. the QVariant QgsField constructor QGIS 3.38 deprecates),
and leaves those that QGIS, GDAL or numpy raise about themselves as warnings."""

import warnings

import pytest


@pytest.mark.parametrize("category", [DeprecationWarning, PendingDeprecationWarning])
def test_a_deprecation_in_a_plugin_module_fails_the_test(category):
    with pytest.raises(category, match="constructor is deprecated"):
        warnings.warn_explicit("QgsField constructor is deprecated", category, "fields.py", 1,
                               module="displacement_toolkit.processing_provider.fields")


def test_a_deprecation_inside_qgis_or_numpy_stays_a_warning():
    for module in ("qgis.core", "numpy.lib", "processing.gui.Postprocessing"):
        warnings.warn_explicit("something is deprecated", DeprecationWarning, "x.py", 1, module=module)
