"""scripts/check_qt6.py: the plugin, its tests and scripts have no Qt5-only construct, and the
check finds each kind of construct that QGIS's Qt 6 porting rules name (and not their Qt 6 form)."""

import importlib.util

import pytest

from ..conftest import REPO


@pytest.fixture(scope="module")
def check_qt6():
    spec = importlib.util.spec_from_file_location("check_qt6", REPO / "scripts" / "check_qt6.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_checkout_has_no_qt5_only_construct(check_qt6, capsys):
    status = check_qt6.main([])
    out = capsys.readouterr().out
    assert status == 0, out
    n_files = int(out.split("check_qt6: ")[1].split()[0])
    assert n_files > 100  # the plugin, its tests and scripts were all read


QT5 = '''\
from qgis.PyQt.QtCore import Qt, QVariant
from qgis.PyQt import QtCore
from qgis.PyQt.QtWidgets import QApplication, QDialogButtonBox, QSizePolicy
from qgis.core import Qgis, QgsProcessing, QgsWkbTypes
from PyQt5.QtCore import QTimer
import sip
a = Qt.AlignLeft
b = QtCore.Qt.AlignRight
c = QSizePolicy.Expanding
d = QgsProcessing.TypeRaster
e = QgsWkbTypes.Point
f = Qgis.Float32
g = QDialogButtonBox.Ok | QDialogButtonBox.StandardButton.Cancel
h = dialog.exec_()
i = QVariant()
j = QVariant.Double
k = Qt.MidButton
combo.activated[str].connect(slot)
width = widget.fontMetrics().width("x")
screen = QApplication.desktop()
'''

QT6 = '''\
from qgis.PyQt.QtCore import Qt, QMetaType
from qgis.PyQt import QtCore, sip
from qgis.PyQt.QtWidgets import QDialogButtonBox, QSizePolicy
from qgis.core import NULL, Qgis, QgsProcessing, QgsWkbTypes
a = Qt.AlignmentFlag.AlignLeft
b = QtCore.Qt.AlignmentFlag.AlignRight
c = QSizePolicy.Policy.Expanding
d = QgsProcessing.SourceType.TypeRaster
e = QgsWkbTypes.Type.Point
f = Qgis.DataType.Float32
g = QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
h = dialog.exec()
i = NULL
j = QMetaType.Type.Double
k = Qt.MouseButton.MiddleButton
combo.textActivated.connect(slot)
width = widget.fontMetrics().horizontalAdvance("x")
spec.loader.exec_module(module)
name = QgsWkbTypes.displayString(e)
kept = QgsProcessing.TypeRaster  # qt6: a reason
'''


def test_each_qt5_construct_is_found_where_it_is(check_qt6):
    found = [(line, code) for _, line, _, code, _ in check_qt6.check_source(QT5)]
    assert found == [(5, "QT603"), (6, "QT603"), (7, "QT601"), (8, "QT601"), (9, "QT601"),
                     (10, "QT601"), (11, "QT601"), (12, "QT601"), (13, "QT601"), (14, "QT602"),
                     (15, "QT604"), (16, "QT604"), (17, "QT606"), (18, "QT607"), (19, "QT607"),
                     (20, "QT607")]
    message = {code: msg for _, line, _, code, msg in check_qt6.check_source(QT5) if line == 7}
    assert "Qt.AlignmentFlag.AlignLeft" in message["QT601"]


def test_the_qt6_forms_pass(check_qt6):
    assert check_qt6.check_source(QT6) == []
