"""Guided decomposition dialog: tracks table, live geometry preview, runs ``displacement:decompose``.

Each row of the table is one observation (track): a displacement layer and
band, its kind (LOS, range offset, azimuth offset), the incidence and heading
(a constant in degrees or a per-pixel angle layer) and an optional sigma.
Rows are filled from the product metadata when a layer is chosen
(:func:`..core.inspection.guess_track`).  Below the table, the LOS (or
offset) unit vectors of every track and the condition number of the system
are recomputed at every change with :mod:`..core.decomposition`, the same
code the algorithm uses.  "Run" opens (without blocking) the Processing dialog of
``displacement:decompose`` filled with :func:`decomposition_parameters`, so
the run is recorded in the Processing history like a toolbox run.
"""

from dataclasses import dataclass
from typing import List, Optional, Union

import numpy as np
from qgis.core import QgsProject
from qgis.gui import QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
)

from ..core import decomposition as dec
from ..core.geometry import heading_to_los_azimuth
from ..core.inspection import geometry_layer_files, guess_track, read_overview
from ..core.raster_io import RasterError, raster_info
from .common import (
    RASTER_FILTER,
    GuidedRunMixin,
    find_algorithm,
    grow_to_size_hint,
    layer_path,
    run_algorithm_dialog,
)

ALGORITHM_ID = "displacement:decompose"
MIN_TRACKS, MAX_TRACKS = 2, 4
KIND_LABELS = {"los": "LOS displacement", "range_offset": "range offset",
               "azimuth_offset": "azimuth offset"}
LOOK_DIRECTIONS = ("right", "left")
UNSET_ANGLE = -361.0  # minimum of the heading spin box, shown as "—" (not set)
#: Largest incidence the spin box offers: the algorithm refuses 90 (core.validation)
MAX_INCIDENCE = 89.999999
#: Per angle convention: combo text, the two input columns, the first input's range.
CONVENTION_TEXT = {
    "heading": ("incidence + heading (clockwise from north)", "Incidence (°)", "Heading (°)",
                (0.0, MAX_INCIDENCE)),
    "los_azimuth": ("incidence + LOS azimuth (anti-clockwise, MintPy/ISCE2)", "Incidence (°)",
                    "LOS azimuth (°)", (0.0, MAX_INCIDENCE)),
    "hyp3": ("HyP3 lv_theta + lv_phi (radians)", "lv_theta (rad)", "lv_phi (rad)",
             (UNSET_ANGLE, 360.0)),
    "unit_vector": ("LOS unit vector east + north (LiCSBAS, OPERA)", "LOS east", "LOS north",
                    (UNSET_ANGLE, 360.0)),
}
#: Conditions above this are flagged (same default as the algorithm's NaN threshold).
CONDITION_LIMIT = dec.DEFAULT_MAX_CONDITION

Angle = Union[float, str, None]


@dataclass
class Track:
    """One observation of the decomposition.

    ``source``: raster path; ``band``: 1-based; ``kind``: one of core.decomposition.KINDS;
    ``incidence``/``heading``/``sigma``: a number (degrees; sigma in the layer's unit),
    a raster path (per-pixel values) or None.  With the ``los_azimuth`` convention
    ``heading`` holds the LOS azimuth, etc. (the two angle inputs of the convention).
    """

    source: str
    band: int = 1
    kind: str = "los"
    incidence: Angle = None
    heading: Angle = None
    sigma: Angle = None


def decomposition_parameters(tracks: List[Track], convention: str = "heading",
                             look_direction: str = "right", components: str = "east_up",
                             horizontal_azimuth: Optional[float] = None, outputs=None,
                             coverage: str = "all") -> dict:
    """Processing parameters of ``displacement:decompose`` for ``tracks``.

    Slots ``k = 1..n``: ``OBS_k``, ``BAND_k``, ``KIND_k``, ``INCIDENCE_k`` (layer) or
    ``INCIDENCE_ANGLE_k`` (degrees), ``HEADING_k`` or ``HEADING_ANGLE_k``, ``SIGMA_k`` or
    ``SIGMA_VALUE_k``; then ``ANGLE_CONVENTION``, ``LOOK_DIRECTION``, ``COMPONENTS``
    (enum indices into the lists the algorithm indexes: core.decomposition KINDS and
    ANGLE_CONVENTIONS, right/left, the algorithm's MODEL_KEYS), ``HORIZONTAL_AZIMUTH`` for
    the horizontal + up model, ``COVERAGE`` when it is not the default ``all`` (index into
    core.decomposition COVERAGE_CHOICES), and the ``outputs`` dict (e.g.
    ``{"OUTPUT_EAST": path}``).  Raises ValueError for a track list the algorithm cannot take.
    """
    if not MIN_TRACKS <= len(tracks) <= MAX_TRACKS:
        raise ValueError(f"the decomposition takes {MIN_TRACKS} to {MAX_TRACKS} tracks, "
                         f"not {len(tracks)}")
    params = {}
    for k, t in enumerate(tracks, start=1):
        if not t.source:
            raise ValueError(f"track {k} has no displacement layer")
        if t.kind not in dec.KINDS:
            raise ValueError(f"track {k}: unknown kind {t.kind!r}")
        params[f"OBS_{k}"] = t.source
        params[f"BAND_{k}"] = int(t.band)
        params[f"KIND_{k}"] = dec.KINDS.index(t.kind)
        for what, value, layer_name, value_name in (
                ("incidence", t.incidence, f"INCIDENCE_{k}", f"INCIDENCE_ANGLE_{k}"),
                ("heading", t.heading, f"HEADING_{k}", f"HEADING_ANGLE_{k}"),
                ("sigma", t.sigma, f"SIGMA_{k}", f"SIGMA_VALUE_{k}")):
            if isinstance(value, str) and value:
                params[layer_name] = value
            elif value is not None:
                params[value_name] = float(value)
            elif what == "heading" or (what == "incidence" and t.kind != "azimuth_offset"):
                raise ValueError(
                    f"track {k} needs its {what}: it is not set (—) and the layer's metadata "
                    f"carries none; give the {what} as a constant (degrees in the incidence + "
                    "heading conventions) or choose an angle layer")
    params["ANGLE_CONVENTION"] = dec.ANGLE_CONVENTIONS.index(convention)
    params["LOOK_DIRECTION"] = LOOK_DIRECTIONS.index(look_direction)
    params["COMPONENTS"] = model_keys().index(components)
    if components == "horizontal_up":
        params["HORIZONTAL_AZIMUTH"] = float(horizontal_azimuth if horizontal_azimuth is not None
                                             else 90.0)
    if coverage != "all":
        params["COVERAGE"] = dec.COVERAGE_CHOICES.index(coverage)
    params.update(outputs or {})
    return params


def model_keys():
    """Component models in the order of the algorithm's COMPONENTS options."""
    try:
        from ..processing_provider.decompose import MODEL_KEYS
    except ImportError:  # the algorithm module is not part of this installation
        return tuple(dec.COMPONENT_MODELS)
    return tuple(MODEL_KEYS)


def representative(value: Angle) -> float:
    """A number for the preview: the constant, or the median of an angle layer (overview)."""
    if value is None:
        return float("nan")
    if isinstance(value, str):
        data, _ = read_overview(value, 1, 200)
        finite = data[np.isfinite(data)]
        return float(np.median(finite)) if finite.size else float("nan")
    return float(value)


def geometry_preview(tracks: List[Track], convention: str = "heading",
                     look_direction: str = "right", components: str = "east_up",
                     horizontal_azimuth: Optional[float] = None):
    """Unit vectors (east, north, up) of each track and the condition number of the
    system (unweighted, as the algorithm's threshold).  Angle layers enter through their
    median.  Returns ``(vectors (n, 3) array, condition)``; NaN rows for tracks whose
    angles are missing, and condition NaN then."""
    vectors = []
    for t in tracks:
        a, b = representative(t.incidence), representative(t.heading)
        if t.kind == "azimuth_offset" and not np.isfinite(a):
            a = 0.0  # the along-track vector does not depend on the incidence
        if not (np.isfinite(a) and np.isfinite(b)):
            vectors.append((np.nan, np.nan, np.nan))
            continue
        vectors.append(tuple(float(c) for c in dec.observation_unit_vector(
            t.kind, a, b, convention, look_direction)))
    vectors = np.array(vectors, dtype=np.float64).reshape(-1, 3)
    if vectors.size == 0 or not np.all(np.isfinite(vectors)):
        return vectors, float("nan")
    basis = dec.component_basis(components, horizontal_azimuth)
    g = dec.design_matrix(vectors[None], basis)
    return vectors, float(dec.condition_number(g)[0])


class DecompositionDialog(GuidedRunMixin, QDialog):
    """Table of tracks + preview + Run (opens the Processing dialog, recorded in history)."""

    ALGORITHM_ID = ALGORITHM_ID

    COLUMNS = ("Layer", "Band", "Kind", "Incidence layer", "Incidence (°)", "Heading layer",
               "Heading (°)", "Sigma (layer unit)")

    def __init__(self, parent=None, runner=run_algorithm_dialog, lookup=find_algorithm):
        super().__init__(parent)
        self.setWindowTitle("Decomposition into east, north, up (guided)")
        self.runner = runner
        self.lookup = lookup
        self.algorithm = lookup(ALGORITHM_ID)
        self.rows = []
        layout = QVBoxLayout(self)
        # grow with the content (longer status or estimate text) instead of squeezing it
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        intro = QLabel("One row per track (2 to 4). Angles: a constant in degrees, or a per-pixel "
                       "angle layer (then the constant is ignored). Sigma 0 = unweighted. "
                       "Conventions: docs/conventions.md.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for column in (0, 3, 5):  # layer combo boxes
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(column, 170)
        self.table.verticalHeader().setVisible(False)
        layout.addWidget(self.table)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add track")
        self.add_button.clicked.connect(lambda: self.add_track())
        self.remove_button = QPushButton("Remove last track")
        self.remove_button.clicked.connect(self.remove_track)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)

        form = QFormLayout()
        self.convention_combo = QComboBox()
        for key in dec.ANGLE_CONVENTIONS:
            self.convention_combo.addItem(CONVENTION_TEXT[key][0], key)
        self.convention_combo.currentIndexChanged.connect(self._convention_changed)
        self.look_combo = QComboBox()
        for key in LOOK_DIRECTIONS:
            self.look_combo.addItem(f"{key}-looking", key)
        self.components_combo = QComboBox()
        for key, names in dec.COMPONENT_MODELS.items():
            self.components_combo.addItem(" + ".join(names), key)
        self.azimuth_spin = QDoubleSpinBox()
        self.azimuth_spin.setRange(-360.0, 360.0)
        self.azimuth_spin.setValue(90.0)
        self.azimuth_spin.setSuffix(" °")
        form.addRow("Angles", self.convention_combo)
        form.addRow("Look direction", self.look_combo)
        form.addRow("Components", self.components_combo)
        form.addRow("Horizontal azimuth (horizontal + up)", self.azimuth_spin)
        self.union_check = QCheckBox("Also solve where only some tracks cover a pixel")
        self.union_check.setToolTip(
            "The result covers the union of the tracks; a pixel is solved with the tracks it "
            "has when they are at least as many as the components and their geometry passes "
            "the condition-number limit (e.g. ascending + descending where a third track does "
            "not reach). Off: only where every track has data.")
        form.addRow("Coverage", self.union_check)
        layout.addLayout(form)
        for combo in (self.convention_combo, self.look_combo, self.components_combo):
            combo.currentIndexChanged.connect(self.update_preview)
        self.azimuth_spin.valueChanged.connect(self.update_preview)

        self.preview_label = QLabel()
        self.preview_label.setTextFormat(Qt.TextFormat.RichText)
        self.preview_label.setWordWrap(True)
        layout.addWidget(self.preview_label)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setMinimumWidth(1)   # long output paths wrap, never widen the dialog
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status_label)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.run_button = box.addButton("Run…", QDialogButtonBox.ButtonRole.AcceptRole)
        box.accepted.connect(self.run)
        box.rejected.connect(self.reject)
        layout.addWidget(box)
        for _ in range(MIN_TRACKS):
            self.add_track()
        self._fit_table()

    def _fit_table(self):
        """Rows as tall as their editors, room for MAX_TRACKS rows, and a dialog wide enough
        for every column and tall enough for every control."""
        rows = self.table.verticalHeader()
        widgets = [self.table.cellWidget(0, c) for c in range(self.table.columnCount())]
        height = max(w.sizeHint().height() for w in widgets if w is not None) + 2
        rows.setDefaultSectionSize(height)
        for r in range(self.table.rowCount()):
            self.table.setRowHeight(r, height)
        frame = 2 * self.table.frameWidth()
        self.table.setMinimumHeight(self.table.horizontalHeader().sizeHint().height()
                                    + MAX_TRACKS * height + frame)
        self.table.resizeColumnsToContents()
        for column in (0, 3, 5):  # layer combo boxes
            self.table.setColumnWidth(column, max(170, self.table.columnWidth(column)))
        width = self.table.horizontalHeader().length() + frame + 2 * self.layout().spacing() + 24
        hint = self.sizeHint()   # explicit: Qt would cap a new window at 2/3 of the screen
        self.resize(max(width, hint.width()), hint.height())

    # ---------------------------------------------------------------- rows
    def add_track(self):
        if len(self.rows) >= MAX_TRACKS:
            return None
        r = self.table.rowCount()
        self.table.insertRow(r)
        row = {}
        row["layer"] = QgsMapLayerComboBox()
        row["layer"].setFilters(RASTER_FILTER)
        row["layer"].setAllowEmptyLayer(True)
        row["layer"].setLayer(None)
        row["band"] = QSpinBox()
        row["band"].setRange(1, 9999)
        row["kind"] = QComboBox()
        for key in dec.KINDS:
            row["kind"].addItem(KIND_LABELS[key], key)
        for what, low, high in (("incidence", 0.0, MAX_INCIDENCE), ("heading", UNSET_ANGLE, 360.0)):
            combo = QgsMapLayerComboBox()
            combo.setFilters(RASTER_FILTER)
            combo.setAllowEmptyLayer(True)
            combo.setLayer(None)
            spin = QDoubleSpinBox()
            spin.setRange(low, high)
            spin.setDecimals(6)
            spin.setSpecialValueText("—")  # the minimum means "not set"
            spin.setValue(low)
            row[what + "_layer"] = combo
            row[what] = spin
        row["sigma"] = QDoubleSpinBox()
        row["sigma"].setRange(0.0, 1e6)
        row["sigma"].setDecimals(4)
        row["sigma"].setSpecialValueText("none")
        order = ("layer", "band", "kind", "incidence_layer", "incidence", "heading_layer",
                 "heading", "sigma")
        for c, key in enumerate(order):
            self.table.setCellWidget(r, c, row[key])
        row["layer"].layerChanged.connect(lambda _layer, row=row: self._fill_from_metadata(row))
        row["band"].valueChanged.connect(lambda _v, row=row: self._fill_from_metadata(row, False))
        for key in ("kind",):
            row[key].currentIndexChanged.connect(self.update_preview)
        for key in ("incidence", "heading", "sigma"):
            row[key].valueChanged.connect(self.update_preview)
        for key in ("incidence_layer", "heading_layer"):
            row[key].layerChanged.connect(self.update_preview)
        self.rows.append(row)
        self._set_first_range(row, *CONVENTION_TEXT[self.convention_combo.currentData()][3])
        self.update_preview()
        return row

    def _convention_changed(self, *_args):
        """Relabel the two angle columns and set the first input's range for the convention."""
        _, first, second, (low, high) = CONVENTION_TEXT[self.convention_combo.currentData()]
        labels = list(self.COLUMNS)
        labels[3], labels[4] = first.split(" (")[0] + " layer", first
        labels[5], labels[6] = second.split(" (")[0] + " layer", second
        self.table.setHorizontalHeaderLabels(labels)
        for row in self.rows:
            self._set_first_range(row, low, high)

    @staticmethod
    def _set_first_range(row, low, high):
        spin = row["incidence"]
        unset = spin.value() == spin.minimum()
        spin.setRange(low, high)
        if unset:
            spin.setValue(low)

    def remove_track(self):
        if len(self.rows) <= MIN_TRACKS:
            return
        self.rows.pop()
        self.table.removeRow(self.table.rowCount() - 1)
        self.update_preview()

    def set_track(self, index, layer=None, band=1, kind=None, incidence=None, heading=None,
                  sigma=None):
        """Fill row ``index`` (adds rows as needed); angles are numbers or raster layers."""
        while len(self.rows) <= index:
            self.add_track()
        row = self.rows[index]
        if layer is not None:
            row["layer"].setLayer(layer)
        row["band"].setValue(int(band))
        if kind is not None:
            row["kind"].setCurrentIndex(row["kind"].findData(kind))
        for what, value in (("incidence", incidence), ("heading", heading)):
            if value is None:
                continue
            if isinstance(value, (int, float)):
                row[what + "_layer"].setLayer(None)
                row[what].setValue(float(value))
            else:
                row[what + "_layer"].setLayer(value)
        if sigma is not None:
            row["sigma"].setValue(float(sigma))
        self.update_preview()

    def _fill_from_metadata(self, row, new_layer=True):
        path = layer_path(row["layer"].currentLayer())
        if path is None:
            self.update_preview()
            return
        try:
            info = raster_info(path)
        except RasterError:
            return
        row["band"].setMaximum(info.band_count)
        guess = guess_track(info, row["band"].value())
        row["kind"].setCurrentIndex(row["kind"].findData(guess["kind"]))
        convention = self.convention_combo.currentData()
        if new_layer and convention in ("heading", "los_azimuth"):
            if guess["incidence"] is not None:
                row["incidence"].setValue(guess["incidence"])
            if guess["heading"] is not None:
                angle = guess["heading"]
                if convention == "los_azimuth":
                    angle = float(heading_to_los_azimuth(angle, guess["look_direction"]))
                row["heading"].setValue(angle)
            self.look_combo.setCurrentIndex(self.look_combo.findData(guess["look_direction"]))
            self._fill_geometry_layers(row, info, convention)
        self.update_preview()

    def _fill_geometry_layers(self, row, info, convention):
        """Per-pixel incidence (and, with the LOS azimuth convention, LOS azimuth) rasters
        written next to the layer by load_product, when they are layers of the project."""
        wanted = {"incidence": "incidence_layer"}
        if convention == "los_azimuth":
            wanted["los_azimuth"] = "heading_layer"
        missing = []
        for key, path in geometry_layer_files(info).items():
            if key not in wanted:
                continue
            layer = next((la for la in QgsProject.instance().mapLayers().values()
                          if layer_path(la) == path), None)
            if layer is None:
                missing.append(path)
            else:
                row[wanted[key]].setLayer(layer)
        if missing:
            self.status_label.setText("Per-pixel geometry found next to the layer (add it to the "
                                      "project to use it): " + ", ".join(missing))

    def showEvent(self, event):  # noqa: N802 (Qt API)
        super().showEvent(event)
        grow_to_size_hint(self)

    # ---------------------------------------------------------------- state
    def tracks(self) -> List[Track]:
        out = []
        for row in self.rows:
            values = {}
            for what in ("incidence", "heading"):
                layer = row[what + "_layer"].currentLayer()
                spin = row[what]
                value = None if spin.value() == spin.minimum() else spin.value()
                values[what] = layer_path(layer) if layer is not None else value
            sigma = row["sigma"].value()
            out.append(Track(source=layer_path(row["layer"].currentLayer()) or "",
                             band=row["band"].value(), kind=row["kind"].currentData(),
                             incidence=values["incidence"], heading=values["heading"],
                             sigma=sigma if sigma > 0 else None))
        return out

    def settings(self):
        return dict(convention=self.convention_combo.currentData(),
                    look_direction=self.look_combo.currentData(),
                    components=self.components_combo.currentData(),
                    horizontal_azimuth=self.azimuth_spin.value())

    def parameters(self, outputs=None):
        """The Processing parameters of the current state (ValueError when incomplete)."""
        return decomposition_parameters(self.tracks(), outputs=outputs,
                                        coverage="any" if self.union_check.isChecked() else "all",
                                        **self.settings())

    # ---------------------------------------------------------------- preview
    def update_preview(self, *_args):
        settings = self.settings()
        self.azimuth_spin.setEnabled(settings["components"] == "horizontal_up")
        try:
            vectors, condition = geometry_preview(self.tracks(), **settings)
        except (ValueError, RasterError) as exc:
            self.preview_label.setText(f"Preview unavailable: {exc}")
            self.condition = float("nan")
            return
        self.vectors, self.condition = vectors, condition
        lines = ["<b>Unit vectors (east, north, up)</b>"]
        for k, (v, track) in enumerate(zip(vectors, self.tracks()), start=1):
            text = "—" if not np.all(np.isfinite(v)) else ", ".join(f"{c:+.4f}" for c in v)
            lines.append(f"track {k} ({KIND_LABELS[track.kind]}): {text}")
        names = " + ".join(dec.COMPONENT_MODELS[settings["components"]])
        if np.isnan(condition):
            verdict = "set the angles of every track"
        elif np.isinf(condition):
            verdict = f"<b>singular</b>: these tracks cannot separate {names}"
        elif condition > CONDITION_LIMIT:
            verdict = (f"<b>{condition:.3g}</b>, above {CONDITION_LIMIT:g}: pixels would be set "
                       "to NaN; add a track with another geometry")
        else:
            verdict = f"<b>{condition:.3g}</b> (noise amplification; ≤ {CONDITION_LIMIT:g} is usable)"
        lines.append(f"Condition number for {names}: {verdict}")
        self.preview_label.setText("<br>".join(lines))

    # ---------------------------------------------------------------- run
    def run(self):
        self.algorithm = self.lookup(ALGORITHM_ID)
        if self.algorithm is None:
            self.status_label.setText(f"The algorithm {ALGORITHM_ID} is not available in this "
                                      "installation (Processing provider not loaded).")
            return None
        try:
            params = self.parameters()
        except (ValueError, RasterError) as exc:
            self.status_label.setText(f"Cannot run: {exc}")
            return None
        return self.start_run(params)
