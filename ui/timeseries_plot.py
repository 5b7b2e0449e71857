"""Displacement-against-date plot (matplotlib embedded in Qt).

matplotlib ships with QGIS on every platform; when it is missing the widget
shows a message instead of the plot and keeps the series (values, CSV export
and velocity fits still work).
"""

from qgis.PyQt.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..core.inspection import velocity_unit


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


class TimeSeriesPlot(QWidget):
    """Plot of one or several :class:`~..core.inspection.Series`, with an optional fit line."""

    def __init__(self, parent=None, use_matplotlib=True):
        super().__init__(parent)
        self.series = []
        self.fit = None
        self.fit_series = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        loaded = _load_matplotlib() if use_matplotlib else None
        self.available = loaded is not None
        self.canvas = None
        self.figure = None
        self.axes = None
        if self.available:
            canvas_cls, figure_cls = loaded
            self.figure = figure_cls(figsize=(4.0, 2.6), dpi=90)
            if hasattr(self.figure, "set_layout_engine"):  # matplotlib >= 3.6
                self.figure.set_layout_engine("constrained")
            else:
                self.figure.set_tight_layout(True)
            self.canvas = canvas_cls(self.figure)
            self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            self.canvas.setMinimumHeight(180)
            self.axes = self.figure.add_subplot(111)
            layout.addWidget(self.canvas)
            self.message = None
        else:
            self.message = QLabel(MATPLOTLIB_MISSING)
            self.message.setWordWrap(True)
            layout.addWidget(self.message)
        self.redraw()

    # --- data -------------------------------------------------------------
    def add_series(self, series):
        self.series.append(series)
        self.redraw()

    def clear(self):
        self.series = []
        self.fit = None
        self.fit_series = None
        self.redraw()

    def set_fit(self, fit, series):
        """Draw the velocity ``fit`` (core VelocityFit) of ``series`` (None removes it)."""
        self.fit = fit
        self.fit_series = series
        self.redraw()

    def plotted_points(self):
        """[(label, dates, values)] of the series as plotted (tests, export)."""
        return [(s.label, list(s.dates), list(s.values)) for s in self.series]

    # --- drawing ----------------------------------------------------------
    def redraw(self):
        if not self.available:
            return
        ax = self.axes
        ax.clear()
        import matplotlib.dates as mdates

        units = ""
        for s in self.series:
            ax.plot(s.dates, s.values, marker="o", markersize=3, linewidth=1, label=s.label)
            units = units or s.units
        if self.fit is not None and self.fit_series is not None:
            ends = [self.fit.start, self.fit.end]
            ax.plot(ends, self.fit.line(ends), linestyle="--",
                    color="black", linewidth=1.2,
                    label=f"fit {self.fit.velocity:.3g} {velocity_unit(self.fit_series.units)}")
        ax.axhline(0.0, color="#999999", linewidth=0.6)
        ax.set_ylabel(f"displacement ({units})" if units else "displacement")
        ax.grid(True, linewidth=0.3)
        if self.series:
            ax.legend(fontsize="x-small", loc="best", framealpha=0.7)
        locator = mdates.AutoDateLocator(maxticks=6)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        self.canvas.draw_idle()
