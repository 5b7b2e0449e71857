"""Displacement-against-date plot (matplotlib embedded in Qt), one unit per axis.

Any :class:`~..core.inspection.Series` can be plotted (:meth:`TimeSeriesPlot.add_series`:
raster pixels, GNSS stations, points of a point dataset).  Every series is drawn in ONE
display unit, the user's choice in the unit box (by default the unit of the first series,
:func:`..core.inspection.series_for_axis`); a series whose unit cannot be converted is
not drawn and the plot says so.  The legend is a wrapped list under the plot (never over
the curves), and an empty plot shows what to click instead of an empty date axis.

matplotlib ships with QGIS on every platform; when it is missing the widget shows a
message instead of the plot and keeps the series (values, CSV export and velocity fits
still work).
"""

import html

from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.inspection import display_units, series_for_axis, velocity_unit

#: matplotlib's default colour cycle, so map markers and the legend match the curves.
SERIES_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                  "#7f7f7f", "#bcbd22", "#17becf")


def series_colour(index):
    return SERIES_COLOURS[index % len(SERIES_COLOURS)]


def _legend_entry(text):
    """``text`` as HTML whose first word stays next to the colour swatch before it."""
    first, _, rest = html.escape(str(text), quote=False).partition(" ")
    return first + (" " + rest if rest else "")


def _load_matplotlib():
    """(FigureCanvas, Figure) or None when matplotlib or its Qt backend is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    for name in ("matplotlib.backends.backend_qtagg", "matplotlib.backends.backend_qt5agg"):
        try:
            module = __import__(name, fromlist=["FigureCanvasQTAgg"])
            return module.FigureCanvasQTAgg, Figure
        except ImportError:
            continue
    return None


MATPLOTLIB_MISSING = (
    "matplotlib is not available in this QGIS Python, so no plot is drawn; "
    "values, velocities and CSV export still work.")
EMPTY_TEXT = (
    "No time series yet.\n\nTurn on “Pick on map” and click a pixel of a time-series layer "
    "(a raster with dated bands) or a GNSS station of a comparison layer: its displacement "
    "history is plotted here.")


class TimeSeriesPlot(QWidget):
    """Plot of one or several :class:`~..core.inspection.Series`, with an optional fit line."""

    #: the display unit the user chose
    unitChanged = pyqtSignal(str)  # noqa: N815 (Qt naming)

    def __init__(self, parent=None, use_matplotlib=True):
        super().__init__(parent)
        self.series = []          # as added (each in its own unit)
        self.fit = None
        self.fit_series = None
        self.unit = None          # the user's display unit; None = the first series' unit
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.unit_bar = QWidget()    # hidden while nothing is plotted
        unit_row = QHBoxLayout(self.unit_bar)
        unit_row.setContentsMargins(0, 0, 0, 0)
        unit_row.addWidget(QLabel("Plot unit"))
        self.unit_combo = QComboBox()
        self.unit_combo.setToolTip("Every curve is converted to this unit (default: the unit "
                                   "of the first plotted layer)")
        self.unit_combo.activated.connect(self._unit_chosen)
        unit_row.addWidget(self.unit_combo)
        unit_row.addStretch(1)
        layout.addWidget(self.unit_bar)
        loaded = _load_matplotlib() if use_matplotlib else None
        self.available = loaded is not None
        self.canvas = None
        self.figure = None
        self.axes = None
        self.stack = QStackedWidget()
        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setMargin(12)
        self.empty_label.setStyleSheet("color: palette(mid);")
        self.stack.addWidget(self.empty_label)
        self.message = None
        if self.available:
            canvas_cls, figure_cls = loaded
            self.figure = figure_cls(figsize=(3.6, 2.4), dpi=90)
            if hasattr(self.figure, "set_layout_engine"):  # matplotlib >= 3.6
                self.figure.set_layout_engine("constrained")
            else:
                self.figure.set_constrained_layout(True)
            self.canvas = canvas_cls(self.figure)
            self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            self.canvas.setMinimumHeight(190)
            self.axes = self.figure.add_subplot(111)
            self.stack.addWidget(self.canvas)
        else:
            self.message = QLabel(MATPLOTLIB_MISSING)
            self.message.setWordWrap(True)
            self.stack.addWidget(self.message)
        layout.addWidget(self.stack, 1)
        self.legend_label = QLabel()
        self.legend_label.setWordWrap(True)
        self.legend_label.setTextFormat(Qt.TextFormat.RichText)
        self.legend_label.setMinimumWidth(1)   # a long layer name never widens the dock
        layout.addWidget(self.legend_label)
        self.redraw()

    # --- data -------------------------------------------------------------
    def add_series(self, series):
        """Plot one more :class:`~..core.inspection.Series` (any source).  The user's unit
        stays for later series; a first series that cannot be shown in it resets it."""
        if not self.series and self.unit is not None and self.unit not in display_units(series.units):
            self.unit = None
        self.series.append(series)
        self.redraw()

    def clear(self):
        self.series = []
        self.fit = None
        self.fit_series = None
        self.redraw()

    def set_fit(self, fit, series):
        """Draw the velocity ``fit`` (core VelocityFit of ``series``, in its own unit)."""
        self.fit = fit
        self.fit_series = series
        self.redraw()

    def set_unit(self, unit):
        """Display every series in ``unit`` (None: the unit of the first series)."""
        self.unit = unit
        self.redraw()

    def axis(self):
        """``(axis_unit, drawn series converted to it, series left out)``."""
        return series_for_axis(self.series, self.unit)

    def axis_unit(self):
        return self.axis()[0]

    def plotted_points(self):
        """[(label, dates, values in the axis unit)] of the drawn series (tests, export)."""
        return [(s.label, list(s.dates), list(s.values)) for s in self.axis()[1]]

    def legend_text(self):
        """The legend under the plot as plain text (tests, copy)."""
        from qgis.PyQt.QtGui import QTextDocument

        document = QTextDocument()
        document.setHtml(self.legend_label.text())
        return document.toPlainText().replace("\xa0", " ")

    def _unit_chosen(self, index):
        self.set_unit(self.unit_combo.itemText(index))
        self.unitChanged.emit(self.unit)

    def _update_unit_combo(self, axis_unit):
        self.unit_combo.blockSignals(True)
        self.unit_combo.clear()
        for unit in display_units(axis_unit):
            self.unit_combo.addItem(unit)
        self.unit_combo.setCurrentIndex(max(0, self.unit_combo.findText(axis_unit)))
        self.unit_combo.setEnabled(self.unit_combo.count() > 1)
        self.unit_combo.blockSignals(False)

    # --- drawing ----------------------------------------------------------
    def redraw(self):
        axis_unit, drawn, left_out = self.axis()
        self._update_unit_combo(axis_unit)
        left = {id(s) for s in left_out}
        entries = []
        for k, s in enumerate(self.series):
            if id(s) in left:
                continue
            entries.append(f'<span style="color:{series_colour(k)}">■</span>&nbsp;'
                           f'{_legend_entry(s.label)}')
        if self.fit is not None and self.fit_series is not None:
            entries.append(f"<b>– –</b>&nbsp;{_legend_entry('fit ' + self._fit_text(axis_unit))}")
        notes = [f"not drawn: {s.label} ({s.units or 'no unit'}, axis in {axis_unit or 'no unit'})"
                 for s in left_out]
        # entries flow and wrap at the dock's width, under the plot (never over the curves)
        self.legend_label.setText("&nbsp;&nbsp; ".join(entries)
                                  + "".join(f"<br><i>{n}</i>" for n in notes))
        self.legend_label.setVisible(bool(entries or notes))
        self.unit_bar.setVisible(bool(self.series))
        if not self.available:
            self.stack.setCurrentWidget(self.message)
            return
        if not self.series:
            self.stack.setCurrentWidget(self.empty_label)
            return
        self.stack.setCurrentWidget(self.canvas)
        self._draw(axis_unit, drawn, left_out)

    def _fit_text(self, axis_unit):
        from ..core.units import unit_factor

        velocity = self.fit.velocity
        unit = velocity_unit(self.fit_series.units)
        if axis_unit and self.fit_series.units and axis_unit != self.fit_series.units:
            try:
                velocity *= unit_factor(self.fit_series.units, axis_unit)
                unit = velocity_unit(axis_unit)
            except ValueError:
                pass
        return f"{velocity:.3g} {unit}"

    def _draw(self, axis_unit, drawn, left_out):
        import matplotlib.dates as mdates

        ax = self.axes
        ax.clear()
        left = {id(s) for s in left_out}
        k = 0
        for index, s in enumerate(self.series):
            if id(s) in left:
                continue
            d = drawn[k]
            k += 1
            ax.plot(d.dates, d.values, marker="o", markersize=3, linewidth=1,
                    color=series_colour(index), label=s.label)
        if self.fit is not None and self.fit_series is not None and id(self.fit_series) not in left:
            from ..core.inspection import series_in_unit

            ends = [self.fit.start, self.fit.end]
            line = series_in_unit(
                type(self.fit_series)(ends, self.fit.line(ends), self.fit_series.units), axis_unit)
            ax.plot(ends, line.values, linestyle="--", color="black", linewidth=1.2)
        ax.axhline(0.0, color="#999999", linewidth=0.6)
        ax.set_ylabel(f"displacement ({axis_unit})" if axis_unit else "displacement")
        ax.grid(True, linewidth=0.3)
        ax.tick_params(labelsize="small")
        locator = mdates.AutoDateLocator(minticks=2, maxticks=5)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        self.canvas.draw_idle()
