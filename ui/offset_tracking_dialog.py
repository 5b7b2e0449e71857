"""Guided offset-tracking dialog: window grid preview, run-time and size estimate.

The dialog draws the matching windows (and one search area) over a decimated
view of the reference image, so the user sees how densely the image will be
sampled, and estimates the number of windows, the output size and the run time
(:func:`..core.inspection.estimate_offset_tracking`, which times the
algorithm's own fine pass, :func:`..core.offset_tracking.track_offsets`, on random
images holding a batch of windows of that size on this machine).  The grid is the algorithm's
(:func:`..core.offset_tracking.output_grid`).  "Run" opens the Processing dialog
of ``displacement:offset_tracking`` filled with :func:`offset_tracking_parameters`
(recorded in the Processing history like a toolbox run) without blocking; the status
line follows the run (:class:`.common.GuidedRunMixin`).
"""

from dataclasses import dataclass

import numpy as np
from qgis.gui import QgsMapLayerComboBox
from qgis.PyQt.QtCore import QRectF, Qt
from qgis.PyQt.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from qgis.PyQt.QtWidgets import (
    QDialog,
    QComboBox,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QSpinBox,
    QVBoxLayout,
)

from ..core.inspection import (
    estimate_offset_tracking,
    format_bytes,
    format_seconds,
    read_overview,
    seconds_per_window,
    window_grid,
)
from ..core.raster_io import RasterError, raster_info
from .common import (
    RASTER_FILTER,
    GuidedRunMixin,
    find_algorithm,
    grow_to_size_hint,
    layer_path,
    run_algorithm_dialog,
)

ALGORITHM_ID = "displacement:offset_tracking"
#: Float32 bands the algorithm writes by default per output pixel: OUTPUT_X, OUTPUT_Y,
#: OUTPUT_SNR and the two bands of OUTPUT_SIGMA.
OUTPUT_BANDS = 5
PREVIEW_SIZE = 360
#: Characters of a layer name the image pickers show.
LAYER_NAME_CHARS = 24
MAX_DRAWN_WINDOWS = 1500


@dataclass
class OffsetTrackingSettings:
    """What the dialog collects; sizes in pixels of the reference image."""

    reference: str = ""
    secondary: str = ""
    band_reference: int = 1
    band_secondary: int = 1
    window_x: int = 64   # defaults of displacement:offset_tracking (core TrackingParameters)
    window_y: int = 64
    search_x: int = 8
    search_y: int = 8
    step_x: int = 32
    step_y: int = 32
    preset: int = 0       # PRESET option: 0 accurate, 1 fast
    image_type: int = 0   # IMAGE_TYPE option: 0 auto, 1 SLC, 2 SAR amplitude, 3 optical


def offset_tracking_parameters(s: OffsetTrackingSettings, outputs=None) -> dict:
    """Processing parameters of ``displacement:offset_tracking`` (REFERENCE, SECONDARY,
    BAND_REFERENCE, BAND_SECONDARY, WINDOW_X/Y, SEARCH_X/Y, STEP_X/Y, PRESET, IMAGE_TYPE
    plus ``outputs``).
    Raises ValueError for missing images or a grid that does not fit."""
    if not s.reference or not s.secondary:
        raise ValueError("choose a reference and a secondary image")
    params = {
        "REFERENCE": s.reference, "SECONDARY": s.secondary,
        "BAND_REFERENCE": int(s.band_reference), "BAND_SECONDARY": int(s.band_secondary),
        "WINDOW_X": int(s.window_x), "WINDOW_Y": int(s.window_y),
        "SEARCH_X": int(s.search_x), "SEARCH_Y": int(s.search_y),
        "STEP_X": int(s.step_x), "STEP_Y": int(s.step_y),
        "PRESET": int(s.preset), "IMAGE_TYPE": int(s.image_type),
    }
    params.update(outputs or {})
    return params


def grey_image(array):
    """A QImage (grayscale, 2-98 % stretch) of a 2-D float array; NaN is black."""
    a = np.asarray(array, dtype=np.float64)
    finite = a[np.isfinite(a)]
    lo, hi = (np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0))
    if not hi > lo:
        hi = lo + 1.0
    g = np.clip((a - lo) / (hi - lo) * 255.0, 0, 255)
    g = np.where(np.isfinite(g), g, 0).astype(np.uint8)
    g = np.ascontiguousarray(g)
    h, w = g.shape
    image = QImage(g.data, w, h, w, QImage.Format.Format_Grayscale8)
    return image.copy()  # own the pixels (g is freed)


class OffsetTrackingDialog(GuidedRunMixin, QDialog):
    """Reference/secondary images, window parameters, preview, estimate, Run."""

    ALGORITHM_ID = ALGORITHM_ID

    def __init__(self, parent=None, runner=run_algorithm_dialog, measure=seconds_per_window,
                 lookup=find_algorithm):
        super().__init__(parent)
        self.setWindowTitle("Offset tracking (guided)")
        self.runner = runner
        self.lookup = lookup
        self.measure = measure
        self._timing = {}
        self._overview = {}
        self.estimate = None
        self.grid = None
        self.preview_image = None
        layout = QHBoxLayout(self)
        # grow with the content (longer status or estimate text) instead of squeezing it
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        left = QVBoxLayout()
        form = QFormLayout()
        self.reference_combo = QgsMapLayerComboBox()
        self.secondary_combo = QgsMapLayerComboBox()
        for combo in (self.reference_combo, self.secondary_combo):
            combo.setFilters(RASTER_FILTER)
            combo.setMinimumContentsLength(LAYER_NAME_CHARS)   # the layer name, not 2 letters
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setAllowEmptyLayer(True)
            combo.setLayer(None)
            combo.layerChanged.connect(self.update_preview)
        self.band_reference = QSpinBox()
        self.band_secondary = QSpinBox()
        form.addRow("Reference image", self.reference_combo)
        form.addRow("Band", self.band_reference)
        form.addRow("Secondary image", self.secondary_combo)
        form.addRow("Band", self.band_secondary)
        self.spins = {}
        defaults = OffsetTrackingSettings()
        for name, label, low in (("window_x", "Window width (px)", 8), ("window_y", "Window height (px)", 8),
                                 ("search_x", "Search ± x (px)", 1), ("search_y", "Search ± y (px)", 1),
                                 ("step_x", "Step x (px)", 1), ("step_y", "Step y (px)", 1)):
            spin = QSpinBox()
            spin.setRange(low, 4096)
            spin.setValue(getattr(defaults, name))
            spin.valueChanged.connect(self.update_preview)
            self.spins[name] = spin
            form.addRow(label, spin)
        for spin in (self.band_reference, self.band_secondary):
            spin.setRange(1, 9999)
        # the algorithm's own option lists (PRESET, IMAGE_TYPE), in its option order
        from ..processing_provider.offset_tracking import IMAGE_TYPE_LABELS, PRESET_LABELS

        self.preset_combo, self.image_type_combo = QComboBox(), QComboBox()
        for combo, labels, label in ((self.preset_combo, PRESET_LABELS, "Speed preset"),
                                     (self.image_type_combo, IMAGE_TYPE_LABELS, "Image type")):
            combo.addItems(labels)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            form.addRow(label, combo)
        self.preset_combo.currentIndexChanged.connect(self.update_preview)   # time per window
        left.addLayout(form)
        self.estimate_label = QLabel()
        self.estimate_label.setWordWrap(True)
        left.addWidget(self.estimate_label)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setMinimumWidth(1)   # long output paths wrap, never widen the dialog
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        left.addWidget(self.status_label)
        left.addStretch(1)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.run_button = box.addButton("Run…", QDialogButtonBox.ButtonRole.AcceptRole)
        box.accepted.connect(self.run)
        box.rejected.connect(self.reject)
        left.addWidget(box)
        layout.addLayout(left)
        self.preview_label = QLabel("Choose a reference image to preview the window grid.")
        self.preview_label.setMinimumSize(PREVIEW_SIZE, PREVIEW_SIZE)
        self.preview_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.preview_label, 1)
        self.update_preview()
        self.resize(self.sizeHint())   # every control (Qt would cap a new window at 2/3 screen)

    def showEvent(self, event):  # noqa: N802 (Qt API)
        super().showEvent(event)
        grow_to_size_hint(self)

    # ---------------------------------------------------------------- state
    def settings(self) -> OffsetTrackingSettings:
        values = {name: spin.value() for name, spin in self.spins.items()}
        return OffsetTrackingSettings(
            reference=layer_path(self.reference_combo.currentLayer()) or "",
            secondary=layer_path(self.secondary_combo.currentLayer()) or "",
            band_reference=self.band_reference.value(), band_secondary=self.band_secondary.value(),
            preset=self.preset_combo.currentIndex(),
            image_type=self.image_type_combo.currentIndex(), **values)

    def set_values(self, **values):
        """Set window/search/step spin boxes by name (``window_x=32`` ...)."""
        for name, value in values.items():
            self.spins[name].setValue(int(value))
        self.update_preview()

    def parameters(self, outputs=None):
        return offset_tracking_parameters(self.settings(), outputs)

    def _seconds_each(self, s, is_complex):
        from ..core.offset_tracking import PRESETS

        key = (s.window_x, s.window_y, s.search_x, s.search_y, bool(is_complex),
               PRESETS[s.preset])
        if key not in self._timing:
            self._timing[key] = self.measure(*key)
        return self._timing[key]

    @staticmethod
    def _threads(s, width):
        """The local threads a run of these settings gets (fewer than the cores on very wide
        images: core.offset_tracking.tracking_threads)."""
        from ..core.offset_tracking import PRESETS, TrackingParameters, tracking_threads

        return tracking_threads(width, TrackingParameters(
            window_x=s.window_x, window_y=s.window_y, search_x=s.search_x,
            search_y=s.search_y, step_x=s.step_x, step_y=s.step_y, preset=PRESETS[s.preset]))

    # ---------------------------------------------------------------- preview
    def update_preview(self, *_args):
        s = self.settings()
        self.grid = None
        self.estimate = None
        if not s.reference:
            self.estimate_label.setText("Choose a reference image.")
            return
        info = None
        try:
            info = raster_info(s.reference)
            self.band_reference.setMaximum(info.band_count)
            if s.secondary:
                self.band_secondary.setMaximum(raster_info(s.secondary).band_count)
            self.grid = window_grid(info.width, info.height, s.window_x, s.window_y, s.search_x,
                                    s.search_y, s.step_x, s.step_y)
            threads = self._threads(s, info.width)
            self.estimate = estimate_offset_tracking(
                info.width, info.height, s.window_x, s.window_y, s.search_x, s.search_y,
                s.step_x, s.step_y, output_bands=OUTPUT_BANDS,
                seconds_each=self._seconds_each(s, info.is_complex(s.band_reference)),
                threads=threads)
        except (ValueError, RasterError) as exc:
            self.estimate_label.setText(f"<b>{exc}</b>")
            self._draw(s, info)
            return
        e = self.estimate
        run_time = format_seconds(e.seconds)
        run_time = run_time if run_time.startswith("<") else "≈ " + run_time
        self.estimate_label.setText(
            f"{e.windows} windows ({e.grid_shape[0]} rows × {e.grid_shape[1]} columns); output "
            f"{e.grid_shape[1]} × {e.grid_shape[0]} pixels × {OUTPUT_BANDS} bands ≈ "
            f"{format_bytes(e.output_bytes)} uncompressed; estimated run time {run_time} "
            f"on this machine ({threads} thread{'s' if threads != 1 else ''}).")
        self._draw(s, info)

    def _draw(self, s, info):
        if info is None:
            return
        key = (s.reference, s.band_reference)
        if key not in self._overview:
            self._overview[key] = read_overview(s.reference, s.band_reference, PREVIEW_SIZE)
        array, scale = self._overview[key]
        image = grey_image(array).convertToFormat(QImage.Format.Format_RGB32)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if self.grid is not None:
            window_pen = QPen(QColor(255, 210, 0))
            window_pen.setWidthF(1.0)
            painter.setPen(window_pen)
            cols, rows = self.grid.cols, self.grid.rows
            every = max(1, int(np.ceil(np.sqrt(self.grid.count / MAX_DRAWN_WINDOWS))))
            for r in rows[::every]:
                for c in cols[::every]:
                    painter.drawRect(QRectF((c - s.window_x / 2) / scale, (r - s.window_y / 2) / scale,
                                            s.window_x / scale, s.window_y / scale))
            search_pen = QPen(QColor(230, 40, 40))
            search_pen.setWidthF(1.5)
            painter.setPen(search_pen)
            c, r = cols[len(cols) // 2], rows[len(rows) // 2]
            painter.drawRect(QRectF((c - s.window_x / 2 - s.search_x) / scale,
                                    (r - s.window_y / 2 - s.search_y) / scale,
                                    (s.window_x + 2 * s.search_x) / scale,
                                    (s.window_y + 2 * s.search_y) / scale))
        painter.end()
        self.preview_image = image
        self.preview_label.setPixmap(QPixmap.fromImage(image))
        if self.isVisible():
            grow_to_size_hint(self)

    # ---------------------------------------------------------------- run
    def run(self):
        algorithm = self.lookup(ALGORITHM_ID)
        if algorithm is None:
            self.status_label.setText(f"The algorithm {ALGORITHM_ID} is not available in this "
                                      "installation (Processing provider not loaded).")
            return None
        try:
            params = self.parameters()
        except ValueError as exc:
            self.status_label.setText(f"Cannot run: {exc}")
            return None
        return self.start_run(params)
