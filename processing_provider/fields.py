"""Attribute fields of output tables, made the way the running QGIS wants them.

QGIS 3.38 added ``QgsField(name, QMetaType.Type)`` and deprecated the ``QVariant.Type``
constructor, which Qt 6 (QGIS 4) no longer has; QGIS 3.22 .. 3.36 know only ``QVariant.Type``.
Algorithms describe their fields with Python types and never touch either enum.
"""

from qgis.core import Qgis, QgsField, QgsFields

QMETATYPE_FIELDS = Qgis.versionInt() >= 33800


def _field_types():
    if QMETATYPE_FIELDS:
        from qgis.PyQt.QtCore import QMetaType

        return {str: QMetaType.Type.QString, float: QMetaType.Type.Double, int: QMetaType.Type.Int}
    from qgis.PyQt.QtCore import QVariant

    # (QGIS < 3.38 runs on Qt 5 only)
    return {str: QVariant.Type.String, float: QVariant.Type.Double, int: QVariant.Type.Int}  # qt6: Qt5


FIELD_TYPES = _field_types()


def make_field(name, kind):
    """A ``QgsField`` called ``name`` holding ``kind`` values (``str``, ``float`` or ``int``)."""
    if kind not in FIELD_TYPES:
        raise ValueError(f"field {name!r}: type {kind!r} is not one of str, float, int")
    return QgsField(name, FIELD_TYPES[kind])


def make_fields(spec):
    """``QgsFields`` from ``[(name, str | float | int), ...]``, in that order."""
    fields = QgsFields()
    for name, kind in spec:
        fields.append(make_field(name, kind))
    return fields
