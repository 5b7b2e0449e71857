"""Shared base class of the toolkit's Processing algorithms.

An algorithm subclasses :class:`DisplacementAlgorithm`, sets ``NAME``,
``DISPLAY_NAME``, ``GROUP``, ``GROUP_ID`` and ``HELP``, declares its
parameters in ``initAlgorithm`` and implements :meth:`compute`.  The base class

* turns core errors (``ValueError``) into ``QgsProcessingException``;
* honours cancel: core code raises ``OperationCancelled`` through the
  :class:`~displacement_toolkit.core.progress.Monitor` made by
  :meth:`monitor`, and every output registered with :meth:`track_output`
  is then deleted, as on any failure, so no half-written file remains;
* styles finished rasters (``.qml`` next to the file plus a layer
  post-processor when results are loaded in the desktop).

Algorithms are thin glue: parameters -> core -> outputs.  They work from
file paths with GDAL and never touch the interface (they may run off the
GUI thread).
"""

import os

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterBand,
    QgsProcessingParameterNumber,
    QgsProcessingUtils,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..core import validation
from ..core.products.defaults import raster_defaults
from ..core.products.resolve import is_product_source, resolve_raster
from ..core.progress import Monitor, OperationCancelled
from ..core.raster_io import RasterError, layer_title, raster_info, remove_raster
from .help import help_url, short_help
from .provider import icon_path
from .styling import RasterStylePostProcessor, style_path, write_raster_style

CONVENTIONS_NOTE = (
    "Conventions (docs/conventions.md): offsets = position in secondary minus position in "
    "reference (pixels; +x = range/columns, +y = azimuth/rows); LOS positive toward the "
    "satellite; heading clockwise from north; incidence from the vertical; NaN is nodata."
)


def _holds_product_source(value):
    """True for a processor-product path, or a list of layer values that contains one."""
    if isinstance(value, str):
        return bool(value) and is_product_source(value)
    if isinstance(value, (list, tuple)):
        return any(isinstance(v, str) and v and is_product_source(v) for v in value)
    return False


def band_parameter(name, description, parent_layer_parameter, default=1):
    """A band chooser that may be omitted (then ``default``): QGIS 3.22 rejects a missing
    non-optional band even when it has a default, which breaks ``qgis_process`` calls."""
    return QgsProcessingParameterBand(
        name, description, default, parent_layer_parameter, optional=True)


def parameter_error(name, value, problem, fix):
    """A ``QgsProcessingException`` that names the parameter, the value and the fix."""
    return QgsProcessingException(f"{name} = {value!r}: {problem}. {fix}")


class DisplacementAlgorithm(QgsProcessingAlgorithm):
    """Base class: naming, help, error handling, cancel, output cleanup and styling."""

    NAME = ""
    DISPLAY_NAME = ""
    GROUP = ""
    GROUP_ID = ""
    HELP = ""

    def __init__(self):
        super().__init__()
        self._tracked_outputs = []

    # --- identity -------------------------------------------------------
    def name(self):
        return self.NAME

    def displayName(self):  # noqa: N802
        return self.tr(self.DISPLAY_NAME)

    def group(self):
        return self.tr(self.GROUP)

    def groupId(self):  # noqa: N802
        return self.GROUP_ID

    def shortHelpString(self):  # noqa: N802
        return short_help(self, self.tr(self.HELP), CONVENTIONS_NOTE)

    def helpUrl(self):  # noqa: N802
        return help_url(self.NAME)

    def icon(self):
        return QIcon(self.svgIconPath())

    def svgIconPath(self):  # noqa: N802 (QGIS API): the algorithm's, else its family's icon
        return icon_path(self.NAME, self.GROUP_ID)

    def createInstance(self):  # noqa: N802
        return type(self)()

    def tr(self, text):
        return QCoreApplication.translate("DisplacementToolkit", text)

    # --- running --------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        self._tracked_outputs = []
        self._products = {}
        try:
            self.check_integer_parameters(parameters, context)
            return self.compute(parameters, context, feedback)
        except OperationCancelled:
            self._remove_tracked_outputs()
            raise QgsProcessingException("Cancelled by the user: no output was written.") from None
        except QgsProcessingException:
            self._remove_tracked_outputs()
            raise
        except (RasterError, ValueError) as exc:
            self._remove_tracked_outputs()
            raise QgsProcessingException(str(exc)) from exc
        except Exception:
            self._remove_tracked_outputs()
            raise

    def checkParameterValues(self, parameters, context):  # noqa: N802
        """QGIS's check, except that a processor product given as a file path (which QGIS
        may not open as a layer, e.g. a GAMMA binary) is checked when read (raster_path)."""
        ok, message = super().checkParameterValues(parameters, context)
        products = {k for k, v in parameters.items() if _holds_product_source(v)}
        if ok or not products:
            return ok, message
        for definition in self.parameterDefinitions():
            name = definition.name()
            if name not in products and not definition.checkValueIsAcceptable(parameters.get(name), context):
                return False, f"Incorrect parameter value for {name}"
        return True, ""

    def check_integer_parameters(self, parameters, context):
        """Refuse a non-integral value of an integer parameter (QGIS would round WINDOW_X=2.5
        to 3 silently): core.validation.integer, before anything is computed or written."""
        for definition in self.parameterDefinitions():
            if (isinstance(definition, QgsProcessingParameterNumber)
                    and definition.dataType() == QgsProcessingParameterNumber.Type.Integer
                    and parameters.get(definition.name()) not in (None, "")):
                name = definition.name()
                validation.integer(self.parameterAsDouble(parameters, name, context), name)

    def compute(self, parameters, context, feedback):
        """Compute and return the results dictionary (subclasses implement)."""
        raise QgsProcessingException(f"{self.NAME} does not implement compute()")

    def monitor(self, feedback):
        """A core :class:`Monitor` reporting to ``feedback`` (progress 0..100, cancel, log)."""
        return Monitor(
            progress=lambda fraction: feedback.setProgress(100.0 * fraction),
            is_cancelled=feedback.isCanceled,
            log=feedback.pushInfo,
        )

    def track_output(self, path):
        """Register an output file to delete if the run fails or is cancelled."""
        if path:
            self._tracked_outputs.append(path)
        return path

    def _remove_tracked_outputs(self):
        for path in self._tracked_outputs:
            remove_raster(path)
        self._tracked_outputs = []

    # --- parameters -----------------------------------------------------
    def raster_path(self, parameters, name, context, required=True):
        """File path of a raster parameter, readable by GDAL (or ``None`` if optional and unset).

        A processor product (MintPy HDF5, ROI_PAC/GAMMA/ISCE2/SNAP/HyP3 ...; see
        core/products/resolve.py), given as a file path or a loaded layer, is written once
        to a georeferenced GeoTIFF in the Processing temporary folder and that path is
        returned; :meth:`raster_product` then gives the product (its geometry)."""
        value = parameters.get(name)
        if isinstance(value, str) and value and is_product_source(value):
            return self._resolve_product(name, value)   # a path QGIS may not open as a layer
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None:
            if required:
                raise parameter_error(name, parameters.get(name), "no raster layer given",
                                      "Choose a raster layer or a file GDAL can open")
            return None
        if layer.providerType() != "gdal":
            raise parameter_error(
                name, layer.name(), f"the layer comes from the '{layer.providerType()}' provider",
                "Save it to a GeoTIFF first (Export > Save As)")
        return self._resolve_product(name, layer.source())

    def raster_paths(self, parameters, name, context):
        """GDAL paths of the rasters of a multiple-layer parameter, in order; processor
        products are resolved as in :meth:`raster_path`."""
        raw = parameters.get(name)
        if isinstance(raw, (list, tuple)) and _holds_product_source(raw):
            items = []  # keep the order; product paths QGIS may not open as layers stay strings
            for item in raw:
                if isinstance(item, str) and is_product_source(item):
                    items.append(item)
                else:
                    items.extend(self.parameterAsLayerList({name: [item]}, name, context) or [])
        else:
            items = self.parameterAsLayerList(parameters, name, context) or []
        paths = []
        for item in items:
            if isinstance(item, str):
                paths.append(self._resolve_product(name, item))
                continue
            if item.providerType() != "gdal":
                raise parameter_error(
                    name, item.name(), f"the layer comes from the '{item.providerType()}' provider",
                    "Save it to a GeoTIFF first (Export > Save As)")
            paths.append(self._resolve_product(name, item.source()))
        return paths

    def _resolve_product(self, name, source):
        try:
            path, product = resolve_raster(source, QgsProcessingUtils.tempFolder())
        except ValueError as exc:
            raise parameter_error(name, source, str(exc), "Check the product file and its "
                                  "companions (docs/formats.md)") from exc
        self._products = getattr(self, "_products", {})
        self._products[name] = product
        return path

    def raster_product(self, name):
        """The processor product behind raster parameter ``name`` after :meth:`raster_path`
        (``None`` for a plain raster)."""
        return getattr(self, "_products", {}).get(name)

    def raster_defaults(self, name, path, band=1, displacement=True):
        """What the product behind raster parameter ``name`` (after :meth:`raster_path`), or
        the raster's own metadata (toolkit, PyRate tags...), says about band ``band``:
        ``{key: ProductDefault(value, source)}`` (core/products/defaults.py), the defaults of
        every parameter the user leaves unset.  ``displacement``: a layer that is not a
        displacement, velocity or phase (intercept, residue, Std...) is refused."""
        product = self.raster_product(name)
        try:
            return raster_defaults(path, band, product, displacement)
        except ValueError as exc:
            raise parameter_error(name, product.path if product else path, str(exc),
                                  "Give the displacement, velocity or phase layer "
                                  "(docs/formats.md)") from exc

    def raster_band(self, parameters, name, context, info, band_parameter):
        """Validated 1-based band number of ``band_parameter`` for the raster ``info``."""
        band = self.parameterAsInt(parameters, band_parameter, context)
        if not 1 <= band <= info.band_count:
            raise parameter_error(
                band_parameter, band,
                f"{name} ({os.path.basename(info.path)}) has {info.band_count} band(s)",
                f"Choose a band from 1 to {info.band_count}")
        return band

    def raster_info(self, path, name):
        """:func:`raster_info` with errors that name the parameter."""
        try:
            return raster_info(path)
        except RasterError as exc:
            raise parameter_error(name, path, str(exc), "Check the file") from exc

    def output_raster_path(self, parameters, name, context):
        """Destination path of a raster output (GeoTIFF), registered for cleanup."""
        path = self.parameterAsOutputLayer(parameters, name, context)
        if not path:
            return None
        if not path.lower().endswith((".tif", ".tiff")):
            raise parameter_error(name, path, "outputs are written as GeoTIFF",
                                  "Give a file name ending in .tif")
        return self.track_output(path)

    # --- outputs --------------------------------------------------------
    def finish_raster(self, path, context, kind, units, stats, layer_name=None, band=1):
        """Style a finished raster: ``.qml`` next to it and a post-processor for the desktop.
        The loaded layer is named ``layer_name``, by default what the raster's metadata says
        it is (:func:`..core.raster_io.layer_title`)."""
        if not path:
            return
        layer_name = layer_name or layer_title(raster_info(path))
        write_raster_style(path, kind, units, stats, band)
        if context.willLoadLayerOnCompletion(path):
            details = context.layerToLoadOnCompletionDetails(path)
            if layer_name:
                details.name = layer_name
            details.setPostProcessor(RasterStylePostProcessor.create(style_path(path), layer_name))
