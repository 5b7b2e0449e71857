"""Small helpers shared by the guided dialogs (Qt/QGIS glue only)."""

from qgis.core import Qgis, QgsApplication, QgsMapLayerProxyModel, QgsRasterLayer

#: Raster-layer filter of QgsMapLayerComboBox (QGIS 3.22 ... 4).
RASTER_FILTER = getattr(getattr(Qgis, "LayerFilter", None), "RasterLayer", None)
if RASTER_FILTER is None:
    RASTER_FILTER = QgsMapLayerProxyModel.Filter.RasterLayer


def layer_path(layer):
    """GDAL path of a raster layer of the gdal provider, else None."""
    if not isinstance(layer, QgsRasterLayer) or layer.providerType() != "gdal":
        return None
    return layer.source().split("|")[0]


def find_algorithm(algorithm_id):
    """The registered Processing algorithm ``algorithm_id`` or None (not landed / not loaded)."""
    return QgsApplication.processingRegistry().algorithmById(algorithm_id)


def unknown_parameters(algorithm, parameters):
    """Names in ``parameters`` that ``algorithm`` does not define (empty if no algorithm)."""
    if algorithm is None:
        return []
    names = {d.name() for d in algorithm.parameterDefinitions()}
    names |= {d.name() for d in algorithm.destinationParameterDefinitions()}
    return sorted(k for k in parameters if k not in names)


class AlgorithmDialogRun:
    """The Processing dialog of one algorithm, shown without blocking (never ``exec``).

    ``processing.execAlgorithmDialog`` runs a modal loop and then reads the results from
    a dialog QGIS may already have deleted ("wrapped C/C++ object ... has been deleted").
    Here the dialog is shown non-modally and its own signals report back through
    ``on_finished(state, results)``: ``("done", results)`` after each successful run (Processing
    has loaded the outputs into the project by then), ``("failed", {})`` after a failed one,
    and ``("closed", None)`` when the dialog closes without any run.
    """

    def __init__(self, algorithm_id, parameters, on_finished):
        from processing import createAlgorithmDialog

        self.on_finished = on_finished
        self.results = None
        self.dialog = createAlgorithmDialog(algorithm_id, parameters)
        if self.dialog is None:
            raise ValueError(f"the algorithm {algorithm_id} is not registered")
        self.dialog.algorithmFinished.connect(self._algorithm_finished)
        # ``finished`` is a method of the Processing dialog, not QDialog's signal: its
        # close (Close button, Esc, window button) ends in reject(), which also deletes it
        self.dialog.rejected.connect(self._closed)
        self.dialog.accepted.connect(self._closed)
        self.dialog.show()

    def alive(self):
        """True while the Processing dialog is open (QGIS deletes it on close)."""
        from qgis.PyQt import sip

        return self.dialog is not None and not sip.isdeleted(self.dialog) and self.dialog.isVisible()

    def _algorithm_finished(self, ok, results):
        self.results = dict(results) if ok else {}
        self.on_finished("done" if ok else "failed", self.results)

    def _closed(self, *_args):
        if self.results is None:
            self.on_finished("closed", None)
        self.dialog = None


def run_algorithm_dialog(algorithm_id, parameters, on_finished):
    """Open the Processing dialog of ``algorithm_id`` filled with ``parameters`` (a toolbox
    run: same results, recorded in the Processing history) and return at once with its
    :class:`AlgorithmDialogRun`."""
    return AlgorithmDialogRun(algorithm_id, parameters, on_finished)


def describe_results(algorithm, results):
    """``"Eastward displacement: /tmp/east.tif"`` lines of the file outputs in ``results``."""
    lines = []
    for output in algorithm.outputDefinitions() if algorithm is not None else []:
        value = results.get(output.name())
        if isinstance(value, str) and value:
            lines.append(f"{output.description()}: {value}")
    return lines


class GuidedRunMixin:
    """Run state of a guided dialog (needs ``runner``, ``lookup``, ``status_label`` and
    ``run_button``): the Processing dialog opens non-modally and its end updates the status."""

    ALGORITHM_ID = ""

    def start_run(self, params):
        """Open the Processing dialog with ``params``; returns its :class:`AlgorithmDialogRun`."""
        algorithm = self.lookup(self.ALGORITHM_ID)
        for name in unknown_parameters(algorithm, params):
            params.pop(name)
        self.last_state, self.last_results = "running", None
        self.run_button.setEnabled(False)
        self.status_label.setText("Processing dialog open: check the outputs and click Run "
                                  "there (the run is recorded in the Processing history).")
        try:
            self.current_run = self.runner(self.ALGORITHM_ID, params, self.run_finished)
        except Exception:
            self.run_button.setEnabled(True)
            raise
        return self.current_run

    def run_finished(self, state, results):
        """Slot of the Processing dialog: ``state`` is done, failed or closed."""
        from qgis.PyQt import sip

        if sip.isdeleted(self):
            return
        self.last_state, self.last_results = state, results
        self.run_button.setEnabled(True)
        if state == "done":
            lines = describe_results(self.lookup(self.ALGORITHM_ID), results or {})
            self.status_label.setText("Finished; outputs added to the project:<br>"
                                      + "<br>".join(lines or ["(no file outputs)"]))
        elif state == "failed":
            self.status_label.setText("The run failed: the Log tab of the Processing dialog "
                                      "says why.")
        else:
            self.status_label.setText("The Processing dialog was closed without running.")


def grow_to_size_hint(widget):
    """Enlarge a top-level ``widget`` to its size hint (never shrink it): every control at
    its preferred size.  Qt caps a new window at 2/3 of the screen and layouts squeeze
    controls below their hint rather than grow the window when the content grows."""
    hint = widget.sizeHint()
    widget.resize(max(widget.width(), hint.width()), max(widget.height(), hint.height()))
