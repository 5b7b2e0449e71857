#!/usr/bin/env python3
"""Build docs/models/earthquake_decomposition.model3 with QgsProcessingModelAlgorithm.

The model chains, as in docs/tutorial.md: offset tracking of an ascending and a descending SLC
pair (displacement:offset_tracking, complex path) -> decomposition of the four offsets (range
and azimuth, in metres) into east, north, up (displacement:decompose, weighted by the given
1-sigma of range and azimuth offsets, on a north-up grid of the given resolution and CRS).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/build_tutorial_model.py

Open the .model3 in QGIS with Processing > Graphical Modeler > Open Model (or Processing
toolbox > Models > Add Model to Toolbox).
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL_PATH = REPO / "docs" / "models" / "earthquake_decomposition.model3"
MODEL_NAME = "earthquake_decomposition"
MODEL_GROUP = "Displacement Toolkit tutorial"
RADAR_MODEL_PATH = REPO / "docs" / "models" / "earthquake_decomposition_radar.model3"
RADAR_MODEL_NAME = "earthquake_decomposition_radar"


def _new_model(name, description):
    """An empty model and its ``add_param(definition, x, y)``."""
    from qgis.core import QgsProcessingModelAlgorithm, QgsProcessingModelParameter
    from qgis.PyQt.QtCore import QPointF

    model = QgsProcessingModelAlgorithm(name, MODEL_GROUP)
    model.setHelpContent({"ALG_DESC": description})

    def add_param(definition, x, y):
        model.addModelParameter(definition, QgsProcessingModelParameter(definition.name()))
        model.parameterComponent(definition.name()).setPosition(QPointF(x, y))

    return model, add_param


def _add_track_rasters(add_param, rasters):
    """One raster parameter per track and ``(key, what)`` of ``rasters``; returns the next y."""
    from qgis.core import QgsProcessingParameterRasterLayer

    y = 60.0
    for track, label in (("asc", "Ascending"), ("desc", "Descending")):
        for key, what in rasters:
            add_param(QgsProcessingParameterRasterLayer(f"{track}_{key}", f"{label} {what}"), 120.0, y)
            y += 60.0
    return y


def _add_decomposition_settings(add_param, y):
    """The offsets' 1-sigma and the output grid (resolution, CRS) as model parameters."""
    from qgis.core import QgsProcessingParameterCrs, QgsProcessingParameterNumber

    number = QgsProcessingParameterNumber.Type.Double
    add_param(QgsProcessingParameterNumber("sigma_range", "1-sigma of range offsets (m)", number,
                                           0.014, False, 0.0), 120.0, y)
    add_param(QgsProcessingParameterNumber("sigma_azimuth", "1-sigma of azimuth offsets (m)",
                                           number, 0.084, False, 0.0), 120.0, y + 60.0)
    add_param(QgsProcessingParameterNumber("grid_resolution", "Output grid resolution (m)", number,
                                           100.0, False, 1.0), 120.0, y + 120.0)
    add_param(QgsProcessingParameterCrs("grid_crs", "Output grid CRS",
                                        "EPSG:32611"), 120.0, y + 180.0)


def _add_offset_tracking(model, track, i, spacing):
    """The offset-tracking child of one track (the tutorial's settings)."""
    from qgis.core import QgsProcessingModelChildAlgorithm
    from qgis.core import QgsProcessingModelChildParameterSource as Source
    from qgis.PyQt.QtCore import QPointF

    child = QgsProcessingModelChildAlgorithm("displacement:offset_tracking")
    child.setChildId(f"{track}_offsets")
    child.setDescription(f"Offset tracking ({'ascending' if track == 'asc' else 'descending'})")
    child.setPosition(QPointF(480.0, 150.0 + spacing * i))
    child.addParameterSources("REFERENCE", [Source.fromModelParameter(f"{track}_reference")])
    child.addParameterSources("SECONDARY", [Source.fromModelParameter(f"{track}_secondary")])
    for key, value in (("WINDOW_X", 64), ("WINDOW_Y", 64), ("SEARCH_X", 8), ("SEARCH_Y", 8),
                       ("STEP_X", 32), ("STEP_Y", 32), ("PIXEL_SIZE_X", 2.3),
                       ("PIXEL_SIZE_Y", 14.0)):
        child.addParameterSources(key, [Source.fromStaticValue(value)])
    # the offsets in metres are not model outputs: the model then writes them to temporary
    # files because the decomposition uses them (qgis_process does not apply defaults of
    # model outputs in QGIS 3.22, so final outputs would have to be given explicitly)
    model.addChildAlgorithm(child)


def _add_decomposition(model, position, observation, incidence, heading):
    """The decompose child (range and azimuth offsets of both tracks, weighted by their
    1-sigma, on the model's grid) and the model outputs east, north, up, sigma; the sources
    of each track's observations and angles come from ``observation(track, what)``,
    ``incidence(track)`` and ``heading(track)``."""
    from qgis.core import QgsProcessingModelChildAlgorithm
    from qgis.core import QgsProcessingModelChildParameterSource as Source
    from qgis.PyQt.QtCore import QPointF

    dec = QgsProcessingModelChildAlgorithm("displacement:decompose")
    dec.setChildId("decompose")
    dec.setDescription("Decompose into east, north, up")
    dec.setPosition(QPointF(*position))
    slot = 1
    for track in ("asc", "desc"):
        for kind, what, sigma in ((1, "range", "sigma_range"), (2, "azimuth", "sigma_azimuth")):
            dec.addParameterSources(f"OBS_{slot}", [observation(track, what)])
            dec.addParameterSources(f"KIND_{slot}", [Source.fromStaticValue(kind)])
            dec.addParameterSources(f"INCIDENCE_{slot}", [incidence(track)])
            dec.addParameterSources(f"HEADING_{slot}", [heading(track)])
            dec.addParameterSources(f"SIGMA_VALUE_{slot}", [Source.fromModelParameter(sigma)])
            slot += 1
    for key, value in (("ANGLE_CONVENTION", 0), ("LOOK_DIRECTION", 0), ("COMPONENTS", 2), ("GRID", 2)):
        dec.addParameterSources(key, [Source.fromStaticValue(value)])
    dec.addParameterSources("GRID_RESOLUTION", [Source.fromModelParameter("grid_resolution")])
    dec.addParameterSources("GRID_CRS", [Source.fromModelParameter("grid_crs")])
    _name_outputs(dec, (("OUTPUT_EAST", "east"), ("OUTPUT_NORTH", "north"), ("OUTPUT_UP", "up"),
                        ("OUTPUT_SIGMA", "sigma")))
    model.addChildAlgorithm(dec)
    _static_defaults(model)
    model.updateDestinationParameters()
    _keep_output_names(model)
    return model


def build_model():
    """The model as a QgsProcessingModelAlgorithm (QGIS must be initialised)."""
    from qgis.core import QgsProcessingModelChildParameterSource as Source

    model, add_param = _new_model(
        MODEL_NAME, "Offset tracking of an ascending and a descending Sentinel-1 SLC pair, then "
                    "decomposition of the range and azimuth offsets (metres) into east, north and "
                    "up. See docs/tutorial.md.")
    y = _add_track_rasters(add_param, (("reference", "reference SLC"), ("secondary", "secondary SLC"),
                                       ("incidence", "incidence (degrees)"),
                                       ("heading", "heading (degrees)")))
    _add_decomposition_settings(add_param, y)
    for i, track in enumerate(("asc", "desc")):
        _add_offset_tracking(model, track, i, 300.0)
    out_names = {"range": "OUTPUT_X_METRES", "azimuth": "OUTPUT_Y_METRES"}
    return _add_decomposition(
        model, (840.0, 300.0),
        lambda track, what: Source.fromChildOutput(f"{track}_offsets", out_names[what]),
        lambda track: Source.fromModelParameter(f"{track}_incidence"),
        lambda track: Source.fromModelParameter(f"{track}_heading"))


def build_radar_model():
    """The model for SLCs in radar geometry (no CRS): offset tracking of each pair ->
    displacement:geocode of the range and azimuth offsets (metres) and of the incidence and
    heading rasters with the track's latitude/longitude rasters, onto the output grid (CRS and
    resolution) -> decomposition (docs/geocode.md)."""
    from qgis.core import QgsProcessingModelChildAlgorithm
    from qgis.core import QgsProcessingModelChildParameterSource as Source
    from qgis.PyQt.QtCore import QPointF

    model, add_param = _new_model(
        RADAR_MODEL_NAME,
        "Offset tracking of an ascending and a descending SLC pair in radar geometry, "
        "geocoding of the offsets (metres), incidence and heading with each track's "
        "latitude/longitude rasters, then decomposition into east, north and up. "
        "See docs/geocode.md.")
    y = _add_track_rasters(add_param, (("reference", "reference SLC"), ("secondary", "secondary SLC"),
                                       ("incidence", "incidence (degrees, radar geometry)"),
                                       ("heading", "heading (degrees, radar geometry)"),
                                       ("latitude", "latitude of the SLC pixels"),
                                       ("longitude", "longitude of the SLC pixels")))
    _add_decomposition_settings(add_param, y)
    for i, track in enumerate(("asc", "desc")):
        _add_offset_tracking(model, track, i, 500.0)
        for j, (what, source) in enumerate((
                ("range", Source.fromChildOutput(f"{track}_offsets", "OUTPUT_X_METRES")),
                ("azimuth", Source.fromChildOutput(f"{track}_offsets", "OUTPUT_Y_METRES")),
                ("incidence", Source.fromModelParameter(f"{track}_incidence")),
                ("heading", Source.fromModelParameter(f"{track}_heading")))):
            geo = QgsProcessingModelChildAlgorithm("displacement:geocode")
            geo.setChildId(f"{track}_geocode_{what}")
            geo.setDescription(f"Geocode {what} ({track})")
            geo.setPosition(QPointF(840.0, 60.0 + 500.0 * i + 100.0 * j))
            geo.addParameterSources("INPUT", [source])
            for key in ("latitude", "longitude"):
                geo.addParameterSources(key.upper(), [Source.fromModelParameter(f"{track}_{key}")])
            geo.addParameterSources("TARGET_CRS", [Source.fromModelParameter("grid_crs")])
            geo.addParameterSources("RESOLUTION", [Source.fromModelParameter("grid_resolution")])
            geo.addParameterSources("RESAMPLING", [Source.fromStaticValue(1)])
            model.addChildAlgorithm(geo)

    def geocoded(name):
        return lambda track: Source.fromChildOutput(f"{track}_geocode_{name}", "OUTPUT")

    return _add_decomposition(
        model, (1200.0, 400.0),
        lambda track, what: Source.fromChildOutput(f"{track}_geocode_{what}", "OUTPUT"),
        geocoded("incidence"), geocoded("heading"))


def _name_outputs(child, pairs):
    """Make the ``(child output, model output name)`` pairs of ``child`` model outputs."""
    from qgis.core import QgsProcessingModelOutput

    outputs = {}
    for out_name, name in pairs:
        output = QgsProcessingModelOutput(name, name)
        output.setChildId(child.childId())
        output.setChildOutputName(out_name)
        outputs[name] = output
    child.setModelOutputs(outputs)


def _keep_output_names(model):
    """Name the model's outputs ``decompose:east`` etc. on every QGIS version.

    QGIS 3.22 names a model output ``<child id>:<output name>``; newer QGIS gives a model made
    in memory the "Version2" internal format, which names outputs after their description
    (``east``), while model files that do not say otherwise (like those 3.22 writes) load in
    the "Version1" format. The command line of docs/tutorial.md uses ``decompose:east=...``:
    the model is put in the Version1 format (a key 3.22 ignores) so that rebuilding it on any
    version keeps those names.
    """
    state = model.toVariant()
    state["internal_version"] = "Version1"
    if not model.loadVariant(state):
        raise RuntimeError("cannot reload the model in the Version1 format")


def _static_defaults(model):
    """Give every mandatory child parameter left unset its default as a static value, so that
    the model validates (the modeler shows invalid children in red otherwise)."""
    from qgis.core import QgsApplication, QgsProcessingParameterDefinition
    from qgis.core import QgsProcessingModelChildParameterSource as Source

    registry = QgsApplication.processingRegistry()
    for child in model.childAlgorithms().values():
        alg = registry.algorithmById(child.algorithmId())
        if alg is None:
            raise RuntimeError(f"{child.algorithmId()} is not registered: load the provider first")
        sources = child.parameterSources()
        for p in alg.parameterDefinitions():
            optional = p.flags() & QgsProcessingParameterDefinition.Flag.FlagOptional
            if p.isDestination() or optional or p.name() in sources:
                continue
            child.addParameterSources(p.name(), [Source.fromStaticValue(p.defaultValue())])
        model.setChildAlgorithm(child)


def write_model(build, path, *more):
    """Start QGIS, register the provider (the child algorithms must be known for the model
    to get its output parameters), build the model with ``build()`` and write it to ``path``
    (and likewise for each further ``(build, path)`` pair in ``more``)."""
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    sys.path.insert(0, str(REPO / ".build" / "plugins"))
    from displacement_toolkit.processing_provider.provider import DisplacementProvider

    provider = DisplacementProvider()   # keep a reference: the registry does not own it
    QgsApplication.processingRegistry().addProvider(provider)
    for build_one, path_one in ((build, path),) + tuple(more):
        model = build_one()
        path_one.parent.mkdir(parents=True, exist_ok=True)
        if not model.toFile(str(path_one)):
            raise SystemExit(f"cannot write {path_one}")
        print(f"wrote {path_one}")
    app.exitQgis()


def main():
    write_model(build_model, MODEL_PATH, (build_radar_model, RADAR_MODEL_PATH))


if __name__ == "__main__":
    main()
