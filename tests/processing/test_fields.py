"""processing_provider/fields.py: output fields hold the Python type they are declared with,
made without a deprecated QgsField constructor on the running QGIS."""

import warnings

import pytest
from qgis.core import QgsFeature, QgsVectorLayer

from displacement_toolkit.processing_provider.fields import make_field, make_fields


def test_fields_round_trip_their_values_through_a_layer(qgis_app):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a deprecated constructor would raise here
        fields = make_fields([("station", str), ("residual", float), ("n_pixels", int)])
    assert fields.names() == ["station", "residual", "n_pixels"]
    layer = QgsVectorLayer("None", "t", "memory")
    assert layer.dataProvider().addAttributes(fields.toList())
    layer.updateFields()
    feature = QgsFeature(layer.fields())
    feature.setAttributes(["P123", "2.5", "7"])  # strings, converted by the field types
    assert layer.dataProvider().addFeatures([feature])[0]
    values = next(layer.getFeatures()).attributes()
    assert values == ["P123", 2.5, 7]
    assert [type(v) for v in values] == [str, float, int]
    assert [f.isNumeric() for f in layer.fields()] == [False, True, True]


def test_unknown_field_type_is_a_clear_error():
    with pytest.raises(ValueError, match="'when'.*not one of str, float, int"):
        make_field("when", bytes)
