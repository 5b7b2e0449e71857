#!/usr/bin/env python3
"""Static check for Qt5-only constructs that QGIS 4 (Qt 6, PyQt6) no longer accepts.

    .venv/bin/python scripts/check_qt6.py [PATH ...]     (make lint; tests/unit/test_qt6_check.py)

Follows the rules of QGIS's own porting script (scripts/pyqt5_to_pyqt6 in the QGIS sources) and
reports, as ``file:line:col: CODE message``:

  QT601  unscoped enum value (``Qt.AlignLeft``): PyQt6 knows only ``Qt.AlignmentFlag.AlignLeft``;
         found by looking the name up in the installed PyQt/QGIS (a value of an enum reached
         through a class that is not the enum itself)
  QT602  ``exec_`` (call or definition): Qt 6 has only ``exec``
  QT603  ``PyQt5``/``PyQt6``/``sip`` imported directly instead of through ``qgis.PyQt``
  QT604  ``QVariant`` used as a type or a null value: ``QMetaType.Type`` on QGIS >= 3.38
         (processing_provider/fields.py) and ``qgis.core.NULL``
  QT605  ``qApp``: ``QApplication.instance()``
  QT606  enum values renamed in Qt 6 (``Qt.MidButton``, ``Qt.TextColorRole``, ...)
  QT607  classes and calls removed in Qt 6 (``QRegExp``, ``qgis.PyQt.Qt``, ``resources_rc``,
         ``QDesktopWidget``/``desktop()``, ``QFontMetrics.width``, ``activated[str]``, the
         8-argument ``QDateTime``, ``QDateTime(QDate)``, ``addAction`` with 4 or more arguments)

A line that must keep such a construct says why with ``# qt6: <reason>`` (only for code that
runs on Qt 5 alone, e.g. the QGIS < 3.38 branch of a version switch). Exit status 1 when
something is found. Default paths: the plugin's own code (``__init__.py``, core, plugin,
processing_provider, ui) and its tests, scripts, demo and benchmarks.
"""

import ast
import enum
import importlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PATHS = ["__init__.py", "core", "plugin", "processing_provider", "ui", "tests", "scripts",
                 "demo", "benchmarks"]
SKIP_DIRS = {".venv", ".build", "__pycache__", ".cache", "data"}
PRAGMA = "# qt6:"

# modules whose names are looked up for unscoped enums
QT_MODULE_PREFIXES = ("qgis.PyQt", "qgis.core", "qgis.gui", "qgis.analysis", "qgis._3d",
                      "qgis.processing")
RENAMED_ENUMS = {
    ("Qt", "MidButton"): "Qt.MouseButton.MiddleButton",
    ("Qt", "TextColorRole"): "Qt.ItemDataRole.ForegroundRole",
    ("Qt", "BackgroundColorRole"): "Qt.ItemDataRole.BackgroundRole",
    ("QPainter", "HighQualityAntialiasing"): "QPainter.RenderHint.Antialiasing",
}
REMOVED_IMPORTS = {
    "QRegExp": "QRegExp is removed in Qt 6: use QRegularExpression",
    "QDesktopWidget": "QDesktopWidget is removed in Qt 6: use QScreen (QGuiApplication.screens())",
    "resources_rc": "compiled resources are removed in Qt 6: load icons and .ui files by path",
}


def is_enum_value(value):
    """True for a value of a C++ enum as PyQt5 (sip enum types), PyQt6 or QGIS (enum.Enum) show it."""
    if isinstance(value, enum.Enum):
        return True
    return type(type(value)).__name__ == "enumtype"


def is_enum_type(obj):
    return isinstance(obj, type) and (issubclass(obj, enum.Enum) or type(obj).__name__ == "enumtype")


class Checker(ast.NodeVisitor):
    def __init__(self, path, source):
        self.path = path
        self.lines = source.splitlines()
        self.findings = []
        self.names = {}  # local name -> imported object (Qt/QGIS modules and classes only)

    # -- reporting -------------------------------------------------------------------------
    def report(self, node, code, message):
        line = self.lines[node.lineno - 1] if 0 < node.lineno <= len(self.lines) else ""
        if PRAGMA in line:
            return
        self.findings.append((str(self.path), node.lineno, node.col_offset + 1, code, message))

    # -- imports ---------------------------------------------------------------------------
    def visit_Import(self, node):  # noqa: N802 (ast API)
        for alias in node.names:
            top = alias.name.split(".")[0]
            if top in ("PyQt5", "PyQt6", "sip"):
                self.report(node, "QT603", f"import {alias.name}: import it through qgis.PyQt "
                                           f"(e.g. from qgis.PyQt import {alias.name.split('.')[-1]})")
            elif alias.name.startswith(QT_MODULE_PREFIXES):
                obj = _import(alias.name)
                if obj is not None:
                    if alias.asname:
                        self.names[alias.asname] = obj
                    else:
                        self.names.setdefault(top, _import(top))
        self.generic_visit(node)

    def visit_ImportFrom(self, node):  # noqa: N802 (ast API)
        module = node.module or ""
        top = module.split(".")[0]
        if node.level == 0 and top in ("PyQt5", "PyQt6", "sip"):
            self.report(node, "QT603", f"from {module} import ...: import from "
                                       f"qgis.PyQt{module[len(top):]} instead")
        if module == "qgis.PyQt.Qt":
            self.report(node, "QT607", "qgis.PyQt.Qt is removed in Qt 6: import from qgis.PyQt.QtCore")
        for alias in node.names:
            if alias.name in REMOVED_IMPORTS:
                self.report(node, "QT607", REMOVED_IMPORTS[alias.name])
            if alias.name == "qApp":
                self.report(node, "QT605", "qApp is removed in Qt 6: use QApplication.instance()")
        if node.level == 0 and module.startswith(QT_MODULE_PREFIXES):
            base = _import(module)
            for alias in node.names:
                obj = getattr(base, alias.name, None) if base is not None else None
                if obj is None:
                    obj = _import(f"{module}.{alias.name}")
                if obj is not None:
                    self.names[alias.asname or alias.name] = obj
        self.generic_visit(node)

    # -- expressions -----------------------------------------------------------------------
    def resolve(self, node):
        """The object a dotted name (``Qt``, ``QtCore.Qt.AlignLeft``) stands for, or None."""
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute):
            parent = self.resolve(node.value)
            if parent is None:
                return None
            return getattr(parent, node.attr, None)
        return None

    def visit_Attribute(self, node):  # noqa: N802 (ast API)
        if node.attr == "exec_":
            self.report(node, "QT602", "exec_() is removed in Qt 6: call exec()")
        if isinstance(node.value, ast.Name):
            key = (node.value.id, node.attr)
            if key in RENAMED_ENUMS:
                self.report(node, "QT606", f"{key[0]}.{key[1]} is removed in Qt 6: "
                                           f"use {RENAMED_ENUMS[key]}")
                self.generic_visit(node)
                return
            elif node.value.id == "QVariant":
                self.report(node, "QT604", f"QVariant.{node.attr}: QVariant types are gone in "
                                           "Qt 6; use QMetaType.Type (QGIS >= 3.38, see "
                                           "processing_provider/fields.py) or qgis.core.NULL")
                self.generic_visit(node)
                return
            elif node.value.id == "qApp":
                self.report(node, "QT605", "qApp is removed in Qt 6: use QApplication.instance()")
        self.check_unscoped_enum(node)
        self.generic_visit(node)

    def check_unscoped_enum(self, node):
        owner = self.resolve(node.value)
        if owner is None or is_enum_type(owner) or not isinstance(owner, type):
            return
        try:
            value = getattr(owner, node.attr)
        except Exception:  # noqa: BLE001 (any lookup failure: not an enum we can judge)
            return
        if not is_enum_value(value) or is_enum_type(value):
            return
        enum_name = type(value).__name__
        if getattr(owner, enum_name, None) is not type(value):
            enum_name = next((name for name in dir(owner)
                              if getattr(owner, name, None) is type(value)), enum_name)
        if enum_name == node.attr:
            return
        dotted = ast.unparse(node.value) if hasattr(ast, "unparse") else "..."
        self.report(node, "QT601", f"unscoped enum {dotted}.{node.attr}: write "
                                   f"{dotted}.{enum_name}.{node.attr} (PyQt6 has scoped enums only)")

    def visit_FunctionDef(self, node):  # noqa: N802 (ast API)
        if node.name == "exec_":
            self.report(node, "QT602", "def exec_: Qt 6 calls exec(); name the method exec")
        self.generic_visit(node)

    def visit_Call(self, node):  # noqa: N802 (ast API)
        func = node.func
        if isinstance(func, ast.Name) and func.id == "QVariant":
            self.report(node, "QT604", "QVariant(...) as a null value: use qgis.core.NULL "
                                       "(PyQt6 has no QVariant constructor for types)")
        if isinstance(func, ast.Name) and func.id == "QDateTime":
            if len(node.args) == 8:
                self.report(node, "QT607", "QDateTime(y, m, d, h, min, s, ms, spec) is removed in "
                                           "Qt 6: use QDateTime(QDate(...), QTime(...), spec)")
            elif (len(node.args) == 1 and isinstance(node.args[0], ast.Call)
                  and isinstance(node.args[0].func, ast.Name) and node.args[0].func.id == "QDate"):
                self.report(node, "QT607", "QDateTime(QDate(...)) is removed in Qt 6: "
                                           "use QDateTime(QDate(...), QTime(0, 0, 0))")
        if isinstance(func, ast.Attribute):
            if func.attr == "desktop" and not node.args:
                self.report(node, "QT607", "QApplication.desktop() is removed in Qt 6: use "
                                           "QGuiApplication.screens() / widget.screen()")
            if func.attr == "addAction" and len(node.args) >= 4:
                self.report(node, "QT607", "addAction with 4 or more arguments changed order in "
                                           "Qt 6: create the QAction, then addAction(action)")
            if func.attr == "width" and isinstance(func.value, ast.Call):
                inner = func.value.func
                if ((isinstance(inner, ast.Attribute) and inner.attr == "fontMetrics")
                        or (isinstance(inner, ast.Name) and inner.id in ("QFontMetrics", "QFontMetricsF"))):
                    self.report(node, "QT607", "QFontMetrics.width() is removed in Qt 6: use "
                                               "horizontalAdvance()")
        self.generic_visit(node)

    def visit_Subscript(self, node):  # noqa: N802 (ast API)
        if (isinstance(node.value, ast.Attribute) and node.value.attr == "activated"
                and isinstance(node.slice, ast.Name) and node.slice.id == "str"):
            self.report(node, "QT607", "activated[str] is removed in Qt 6: use textActivated")
        self.generic_visit(node)


_IMPORTED = {}


def _import(name):
    if name not in _IMPORTED:
        try:
            _IMPORTED[name] = importlib.import_module(name)
        except Exception:  # noqa: BLE001 (not importable here: its names cannot be judged)
            _IMPORTED[name] = None
    return _IMPORTED[name]


def check_source(source, path="<string>"):
    """Findings ``(path, line, column, code, message)`` for one file's source text."""
    checker = Checker(path, source)
    checker.visit(ast.parse(source, filename=str(path)))
    return sorted(checker.findings, key=lambda f: (f[1], f[2]))


def python_files(paths):
    for path in paths:
        path = Path(path)
        if path.is_file() and path.suffix == ".py":
            yield path
        elif path.is_dir():
            for p in sorted(path.rglob("*.py")):
                if not SKIP_DIRS.intersection(p.relative_to(path).parts[:-1]):
                    yield p


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    paths = args or [REPO / p for p in DEFAULT_PATHS if (REPO / p).exists()]
    findings = []
    n_files = 0
    for path in python_files(paths):
        n_files += 1
        try:
            shown = path.relative_to(REPO)
        except ValueError:
            shown = path
        findings += check_source(path.read_text(encoding="utf-8"), shown)
    for path, line, col, code, message in findings:
        print(f"{path}:{line}:{col}: {code} {message}")
    print(f"check_qt6: {n_files} files, {len(findings)} Qt5-only constructs"
          + (" (QGIS 4 / Qt 6 would reject them)" if findings else ""))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
