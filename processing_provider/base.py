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
  post-processor when results are loaded in the desktop);
* guards the user's files before :meth:`compute` runs (docs/safety.md): every
  destination (with its ``.qml``/``.aux.xml`` companions, and the files an
  algorithm plans in an output folder, see :meth:`planned_outputs`) is refused
  when it is an input of the run or another output of the run, and output
  folders must be writable;
* names the parameter and the file when an input cannot be read (a truncated
  GeoTIFF), and fails a run whose raster output has no valid pixel, with a
  diagnosis (an input without valid values, inputs that do not overlap, a mask).

Algorithms are thin glue: parameters -> core -> outputs.  They work from
file paths with GDAL and never touch the interface (they may run off the
GUI thread).
"""

import os
import re

import numpy as np
from qgis.core import (
    QgsMapLayer,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingFeatureSourceDefinition,
    QgsProcessingOutputLayerDefinition,
    QgsProcessingParameterBand,
    QgsProcessingParameterNumber,
    QgsProcessingUtils,
    QgsProperty,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..core import validation
from ..core.grid import footprints_overlap
from ..core.products.defaults import raster_defaults
from ..core.products.resolve import is_product_source, resolve_raster, split_source
from ..core.progress import Monitor, OperationCancelled
from ..core.raster_io import (
    RasterError,
    check_raster_size,
    count_valid,
    display_band,
    has_valid_value,
    layer_title,
    raster_info,
    remove_raster,
    remove_stale_partials,
)
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


# --- the output guard: which files a run reads and writes --------------------------------
#: parameter types whose values are input layers or files
_INPUT_TYPES = ("raster", "vector", "source", "layer", "mesh", "multilayer", "file", "pointcloud")
#: shapefile side-cars written with the .shp
_SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg", ".qix")


def _real(path):
    return os.path.realpath(os.path.abspath(os.path.expanduser(str(path))))


def _source_file(source):
    """(file, layer) of a layer source or GDAL name (``HDF5:"f.h5"://v``, ``a.gpkg|layername=x``,
    ``/vsizip/a.zip/b.tif``); file ``None`` when the source is no local file (memory layer,
    database, web service)."""
    text = str(source or "").strip()
    if not text:
        return None, None
    if text.lower().startswith("ogr:"):
        text = text[4:]
    path, layer = split_source(text)
    if path.startswith("/vsi"):   # /vsizip/a.zip/b.tif -> a.zip
        path = "/" + path.split("/", 2)[2] if path.count("/") >= 2 else ""
        while path and not os.path.isfile(path) and os.path.dirname(path) != path:
            path = os.path.dirname(path)
    if not path or not os.path.exists(path):
        return None, None
    return path, layer


def _written_files(path, kind, layer=None):
    """(file, layer) pairs a destination of ``kind`` writes: the file and its companions
    (``.aux.xml`` statistics and ``.qml`` style of a raster, shapefile parts, a vector's
    ``.qml``)."""
    stem, ext = os.path.splitext(path)
    files = [(path, layer)]
    if kind == "rasterDestination":
        files += [(path + ".aux.xml", None), (stem + ".qml", None)]
    elif kind in ("sink", "vectorDestination"):
        files.append((stem + ".qml", None))
        if ext.lower() == ".shp":
            files += [(stem + part, None) for part in _SHAPEFILE_PARTS]
    return files


def _clash(a, b):
    """True when two (realpath, layer) entries are the same file (a whole file, or the
    same layer of a multi-layer file such as a GeoPackage)."""
    return a[0] == b[0] and (a[1] is None or b[1] is None or a[1] == b[1])


def _folder_problem(folder):
    """Why files cannot be written in ``folder`` (created if missing), or ``None``."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        return f"{folder!r} is a file, not a folder"
    existing = folder
    while not os.path.isdir(existing):
        if os.path.exists(existing):
            return f"{existing!r} is a file, so the folder {folder!r} cannot be created"
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    if not os.path.isdir(existing):
        return f"no part of {folder!r} exists"
    if not os.access(existing, os.W_OK | os.X_OK):
        if existing == folder:
            return f"the folder {folder!r} is not writable"
        return f"the folder {folder!r} does not exist and cannot be created in {existing!r} (not writable)"
    return None


def _why_refused(parameters, message):
    """QGIS's "Incorrect parameter value for NAME" with the reason when NAME is a file path
    that does not exist, is empty or cannot be opened as a layer of the parameter's type."""
    found = re.search(r"Incorrect parameter value for (\w+)", message or "")
    value = parameters.get(found.group(1)) if found else None
    if not isinstance(value, str) or not value.strip():
        return message
    path = split_source(value[4:] if value.lower().startswith("ogr:") else value)[0]
    if os.sep not in path and not os.path.splitext(path)[1]:
        return message          # a layer id or name, not a file
    if not os.path.exists(path):
        problem, fix = "the file does not exist", "Check the path"
    elif os.path.isfile(path) and os.path.getsize(path) == 0:
        problem, fix = "the file is empty (0 bytes)", "Choose a complete file"
    else:
        problem, fix = ("QGIS cannot open it as this kind of layer (another format, or a damaged "
                        "or truncated file)", "Choose a file of the expected type")
    return f"{parameter_error(found.group(1), value, problem, fix)}"


def python_numbers(parameters):
    """``parameters`` with numpy numbers (``np.float64(34)``, 0-d arrays: what numpy code
    in the Python console passes to ``processing.run``) as Python floats and ints.  QGIS
    reads such a value as 0.0 in an optional number parameter without default
    (``parameterAsDouble``), which would turn an incidence of 34 into "0.0"."""
    out = dict(parameters)
    for key, value in parameters.items():
        if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
            out[key] = value.item()
    return out


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
        self._resolved = {}
        self._inputs = {}          # real path -> input parameter name
        self._outputs = []         # (parameter name, path, kind)
        self._masks = []           # (mask, lost, total, what, fix) reported by report_mask
        self._raster_inputs = {}   # input parameter name -> GDAL paths read
        self._finished = []        # (parameter, path, has a valid pixel, pixels) of rasters
        self._feedback = feedback
        self.run_cache = {}
        try:
            parameters = python_numbers(parameters)
            self.check_integer_parameters(parameters, context)
            parameters = self.guard_outputs(parameters, context, feedback)
            results = self.compute(parameters, context, feedback)
            self._fail_if_empty()
            return results
        except OperationCancelled:
            self._remove_tracked_outputs()
            raise QgsProcessingException("Cancelled by the user: no output was written.") from None
        except QgsProcessingException:
            self._remove_tracked_outputs()
            raise
        except (RasterError, ValueError, RuntimeError) as exc:
            self._remove_tracked_outputs()
            named = self._named_error(exc)
            if named is None and not isinstance(exc, ValueError):
                raise
            message = str(named or exc)
            if not any(d.name() in message for d in self.parameterDefinitions()):
                diagnosis = self.input_diagnosis()   # e.g. "no pixel could be solved"
                message += f". {diagnosis}" if diagnosis else ""
            raise QgsProcessingException(message) from exc
        except Exception:
            self._remove_tracked_outputs()
            raise

    def _named_error(self, exc):
        """``exc`` (a read or write failure) as a ``QgsProcessingException`` naming the
        parameter of the file concerned, or ``None`` when no file of the run is named."""
        message = str(exc).strip()
        path = getattr(exc, "path", None)
        candidates = [path] if path else []
        candidates += [p for p in list(self._inputs) + [o[1] for o in self._outputs]
                       if p and (p in message or _real(p) in message)]
        for candidate in candidates:
            real = _real(candidate)
            if real in self._inputs:
                return QgsProcessingException(
                    f"{self._inputs[real]} = {candidate!r}: {message}. Check the file (e.g. with "
                    "gdalinfo -checksum) or choose another one")
            name = self._output_parameter(candidate)
            if name:
                return QgsProcessingException(f"{name} = {candidate!r}: {message}")
        files = {}   # a core message that names input files by their base names
        for real, name in self._inputs.items():
            base = os.path.basename(real)
            if re.search(rf"(?<![\w.-]){re.escape(base)}(?![\w.-])", message):
                files.setdefault(name, []).append(base)
        if files:
            named = ", ".join(f"{name} ({', '.join(bases)})" for name, bases in files.items())
            return QgsProcessingException(f"{named}: {message}")
        return None

    def checkParameterValues(self, parameters, context):  # noqa: N802
        """QGIS's check, except that a processor product given as a file path (which QGIS
        may not open as a layer, e.g. a GAMMA binary) is checked when read (raster_path)."""
        ok, message = super().checkParameterValues(parameters, context)
        products = {k for k, v in parameters.items() if _holds_product_source(v)}
        if ok or not products:
            return ok, message if ok else _why_refused(parameters, message)
        for definition in self.parameterDefinitions():
            name = definition.name()
            if name not in products and not definition.checkValueIsAcceptable(parameters.get(name), context):
                return False, _why_refused(parameters, f"Incorrect parameter value for {name}")
        return True, ""

    # --- the output guard ---------------------------------------------------
    def planned_outputs(self, parameters, context):
        """Rasters the run will write inside an output folder, as ``[(folder parameter,
        path)]``, checked (with their ``.qml``/``.aux.xml`` companions) by
        :meth:`guard_outputs` before :meth:`compute`.  Algorithms that name their files
        themselves (one file per input or per layer) override it; :attr:`run_cache` (emptied
        at the start of every run) keeps what they open for :meth:`compute`."""
        return []

    def guard_outputs(self, parameters, context, feedback):
        """Refuse, before anything is computed, a destination that is an input of the run or
        another output of the run (with the companions each writes), and an output folder
        that cannot be written.  Returns ``parameters`` with every file destination resolved
        to its path (a temporary output gets its one path here), so :meth:`compute` writes
        exactly the files that were checked."""
        resolved = dict(parameters)
        for definition in self.parameterDefinitions():
            name, value = definition.name(), parameters.get(definition.name())
            if value is None or value == "":
                continue
            if definition.type() in _INPUT_TYPES:
                for source in self._input_sources(definition, value, context):
                    path, layer = _source_file(source)
                    if path is None:
                        continue
                    if definition.type() == "file" and os.path.isfile(path):
                        self._raster_inputs.setdefault(name, []).append(path)  # for diagnoses
                    for item in ([os.path.join(path, f) for f in sorted(os.listdir(path))]
                                 if os.path.isdir(path) else [path]):
                        if os.path.isfile(item):
                            self._inputs.setdefault(_real(item), name)
                            style = os.path.splitext(item)[0] + ".qml"   # the input's own style
                            if os.path.isfile(style):
                                self._inputs.setdefault(_real(style), name)
            elif definition.isDestination():
                path = self._destination_path(definition, value, parameters, context)
                if path:
                    if definition.type() != "sink":
                        resolved[name] = path
                    self._outputs.append((name, path, definition.type()))
        written = []   # ((real path, layer), parameter, path as given)
        for name, path, kind in self._outputs:
            if kind == "folderDestination":
                problem = _folder_problem(os.path.abspath(path))
                if problem:
                    raise parameter_error(name, path, problem, "Choose a folder you can write to")
                continue
            problem = _folder_problem(os.path.dirname(os.path.abspath(path)))
            if problem:
                raise parameter_error(name, path, problem, "Choose a folder you can write to")
            if os.path.isdir(path):
                raise parameter_error(name, path, "this is a folder", "Give a file name")
            target, layer = split_source(path)
            written += [((_real(f), lyr), name, f) for f, lyr in _written_files(target, kind, layer)]
        for name, path in self.planned_outputs(resolved, context):
            written += [((_real(f), None), name, f) for f, _ in _written_files(path, "rasterDestination")]
        for i, (key, name, path) in enumerate(written):
            if key[0] in self._inputs:
                raise self._overwrite_error(name, path, self._inputs[key[0]])
            for other_key, other_name, other_path in written[:i]:
                if _clash(key, other_key) and (other_name != name or other_path != path):
                    raise QgsProcessingException(
                        f"{name} and {other_name} both write {path!r}: one result would be lost. "
                        "Give each output its own file name")
        for _, _, path in written:
            for stale in remove_stale_partials(path) if path.lower().endswith((".tif", ".tiff")) else []:
                feedback.pushInfo(f"Removed {stale!r}, a partial file left by an interrupted run")
        return resolved

    @staticmethod
    def _overwrite_error(output, path, input_name):
        return QgsProcessingException(
            f"{output} = {path!r} is {input_name}, an input of this run: writing it would destroy "
            f"the input. Choose another file name for {output}")

    def _input_sources(self, definition, value, context):
        """Layer sources or file paths of an input parameter value (a list for several)."""
        values = value if isinstance(value, (list, tuple)) else [value]
        sources = []
        for item in values:
            if isinstance(item, QgsProcessingFeatureSourceDefinition):
                item = item.source.staticValue() if isinstance(item.source, QgsProperty) else item.source
            if isinstance(item, QgsMapLayer):
                sources.append(item.source())
                continue
            text = str(item or "")
            if not text:
                continue
            if _source_file(text)[0] is not None:
                sources.append(text)
                continue
            layer = QgsProcessingUtils.mapLayerFromString(text, context)
            if layer is not None:
                sources.append(layer.source())
        return sources

    def _destination_path(self, definition, value, parameters, context):
        """The file a destination parameter writes (``None``: not written, or not a file)."""
        kind = definition.type()
        if kind in ("rasterDestination", "vectorDestination"):
            return self.parameterAsOutputLayer(parameters, definition.name(), context) or None
        if kind in ("fileDestination", "folderDestination"):
            return self.parameterAsFileOutput(parameters, definition.name(), context) or None
        if kind == "sink":   # created by parameterAsSink later: only read the file name here
            sink = value.sink if isinstance(value, QgsProcessingOutputLayerDefinition) else value
            if isinstance(sink, QgsProperty):
                sink = sink.staticValue()
            text = str(sink or "")
            if not text or text == "TEMPORARY_OUTPUT" or text.startswith("memory:") or \
                    ("://" in text and not text.startswith("file://")):
                return None
            return text[4:] if text.lower().startswith("ogr:") else text
        return None

    def _output_parameter(self, path):
        """The output parameter that writes ``path`` (a destination or a file in an output
        folder), or ``None``."""
        real = _real(path)
        for name, out, kind in self._outputs:
            if _real(split_source(out)[0]) == real or (kind == "folderDestination"
                                       and os.path.dirname(real) == _real(out)):
                return name
        return None

    def check_planned_raster(self, name, value, path, width, height, bands=1, fix=""):
        """Refuse a raster of ``width`` x ``height`` x ``bands`` that would exceed the size
        limit or the free disk space (core :func:`check_raster_size`), naming the
        parameter that set its size (``name`` = ``value``) and ``fix``."""
        try:
            check_raster_size(path, width, height, bands)
        except RasterError as exc:
            raise parameter_error(name, value, str(exc), fix or f"Change {name}") from exc

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
        """Register an output file to delete if the run fails or is cancelled; refuse one
        that is an input of the run (the last line of the output guard)."""
        if path:
            real = _real(str(path).split("|")[0])
            if real in getattr(self, "_inputs", {}):
                raise self._overwrite_error(self._output_parameter(path) or "The output", path,
                                            self._inputs[real])
            self._tracked_outputs.append(path)
        return path

    def report_mask(self, mask, lost, total, what="pixels", fix=None, warn=True):
        """Record that ``mask`` (e.g. "MAX_AMPLIFICATION") set ``lost`` of ``total`` ``what``
        to NaN; warn when that is more than half (unless ``warn`` is False: the algorithm
        logs it itself).  An empty output is then diagnosed with it, and ``fix`` (default
        "Relax <mask>")."""
        lost, total = int(lost), int(total)
        self._masks = getattr(self, "_masks", [])
        self._masks.append((mask, lost, total, what, fix or f"Relax {mask}"))
        feedback = getattr(self, "_feedback", None)
        if warn and feedback is not None and total and 2 * lost > total:
            feedback.pushWarning(f"{mask} masked {lost} of {total} {what} "
                                 f"({100.0 * lost / total:.1f} %)")

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
        cache = getattr(self, "_resolved", None)
        if cache is None:
            cache = self._resolved = {}
        if source not in cache:
            try:
                cache[source] = resolve_raster(source, QgsProcessingUtils.tempFolder())
            except ValueError as exc:
                raise parameter_error(name, source, str(exc), "Check the product file and its "
                                      "companions (docs/formats.md)") from exc
        path, product = cache[source]
        self._products = getattr(self, "_products", {})
        self._products[name] = product
        self._inputs = getattr(self, "_inputs", {})
        self._inputs.setdefault(_real(path), name)
        self._raster_inputs = getattr(self, "_raster_inputs", {})
        self._raster_inputs.setdefault(name, [])
        if path not in self._raster_inputs[name]:
            self._raster_inputs[name].append(path)
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
    def finish_raster(self, path, context, kind, units, stats, layer_name=None, band=None):
        """Check and style a finished raster: log its valid-pixel count (``stats["valid"]``)
        and record an empty one (see :meth:`_fail_if_empty`), write the ``.qml`` next to it
        and a post-processor for the desktop.  The loaded layer is named ``layer_name``, by
        default what the raster's metadata says it is (:func:`..core.raster_io.layer_title`).
        ``band``: the band shown, by default :func:`..core.raster_io.display_band` (the last
        date of a time series); ``stats`` are that band's."""
        if not path:
            return
        info = raster_info(path)
        band = band or display_band(info)
        self._check_not_empty(path, stats, band)
        layer_name = layer_name or layer_title(info)
        write_raster_style(path, kind, units, stats, band)
        if context.willLoadLayerOnCompletion(path):
            details = context.layerToLoadOnCompletionDetails(path)
            if layer_name:
                details.name = layer_name
            details.setPostProcessor(RasterStylePostProcessor.create(style_path(path), layer_name))

    def _check_not_empty(self, path, stats, band=1):
        """Log the valid-pixel count of a finished raster; record an empty one (all NaN) for
        :meth:`_fail_if_empty` and warn with the diagnosis."""
        valid = (stats or {}).get("valid")
        if valid is None:
            return
        info = raster_info(path)
        total = info.width * info.height
        name = self._output_parameter(path) or "The output"
        feedback = getattr(self, "_feedback", None)
        exact = stats.get("valid_exact", True)
        if valid == 0 and (not exact or info.band_count > 1) and has_valid_value(path):
            # a decimated estimate, or one band of several: never fail on a wrong zero
            if feedback is not None:
                feedback.pushInfo(f"{name}: the statistics of band {band} found no valid pixel, "
                                  f"but {os.path.basename(path)} has some (other bands, or "
                                  "pixels between the samples)")
            self._finished.append((name, path, True, total))
            return
        if valid > 0:
            if feedback is not None:
                about = "" if exact else "about "
                feedback.pushInfo(f"{name}: {about}{valid} valid pixels of {total} "
                                  f"({100.0 * valid / total:.1f} %) in {os.path.basename(path)}")
            self._finished.append((name, path, True, total))
            return
        problem = f"{name} = {path!r}: the result has no valid pixel (all {total} are NaN)"
        self._finished.append((name, path, False, total))
        if feedback is not None:
            feedback.pushWarning(f"{problem}. {self.diagnose_empty()}")

    def _fail_if_empty(self):
        """Fail the run when it wrote rasters and none has a valid pixel (an empty result is
        not a success); a run with some valid output keeps its empty ones (e.g. the
        amplitude layer of a product that has none), each with a warning."""
        finished = getattr(self, "_finished", [])
        if finished and not any(ok for _, _, ok, _ in finished):
            name, path, _, total = finished[0]
            raise QgsProcessingException(
                f"{name} = {path!r}: the result has no valid pixel (all {total} are NaN), so "
                f"nothing was kept. {self.diagnose_empty()}")

    def diagnose_empty(self):
        """Why an output has no valid pixel: an input raster without a valid value, raster
        inputs that do not overlap, or the masks reported with :meth:`report_mask`."""
        diagnosis = self.input_diagnosis()
        if diagnosis:
            return diagnosis
        for mask, lost, total, what, fix in getattr(self, "_masks", []):
            if total and lost >= total:
                return f"{mask} masked all {total} {what}. {fix}"
        masks = "; ".join(f"{mask}: {lost} of {total} {what}"
                          for mask, lost, total, what, _ in getattr(self, "_masks", []))
        names = " and ".join(getattr(self, "_raster_inputs", {})) or "the inputs"
        return (f"Check that {names} overlap and hold valid values"
                + (f" (masked: {masks})" if masks else ""))

    def input_diagnosis(self):
        """An input raster of the run without any valid value, or two that do not overlap
        (``None`` when neither)."""
        inputs = [(name, path) for name, paths in getattr(self, "_raster_inputs", {}).items()
                  for path in paths]
        for name, path in inputs:
            try:
                valid, _, exact = count_valid(path)
            except RasterError:
                continue
            if valid == 0:
                scope = "every value" if exact else "every value of a decimated sample"
                return (f"{name} ({os.path.basename(path)}): {scope} is nodata or NaN. Choose a "
                        "raster with valid values (check its nodata value)")
        for i, (name_a, path_a) in enumerate(inputs):
            for name_b, path_b in inputs[i + 1:]:
                if name_a == name_b:
                    continue
                try:
                    overlap = footprints_overlap(raster_info(path_a), raster_info(path_b))
                except (RasterError, ValueError):
                    continue
                if not overlap:
                    return (f"{name_a} ({os.path.basename(path_a)}) and {name_b} "
                            f"({os.path.basename(path_b)}) do not overlap. Give rasters that "
                            "cover the same area")
        return None
