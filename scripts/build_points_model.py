#!/usr/bin/env python3
"""Build docs/models/points_decomposition.model3 with QgsProcessingModelAlgorithm.

The model chains ascending and descending persistent-scatterer point layers (from
displacement:load_points, e.g. EGMS L2b) -> displacement:points_to_grid (median velocity and
mean LOS unit vector per cell; the descending grid on the ascending grid) ->
displacement:decompose (LOS unit-vector convention) -> east and up velocity (mm/yr).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/build_points_model.py

Open the .model3 in QGIS with Processing > Graphical Modeler > Open Model.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL_PATH = REPO / "docs" / "models" / "points_decomposition.model3"
MODEL_NAME = "points_decomposition"
MODEL_GROUP = "Displacement Toolkit tutorial"


def build_model():
    """The model as a QgsProcessingModelAlgorithm (QGIS and the provider must be loaded)."""
    from qgis.core import (
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource as Source,
        QgsProcessingModelParameter,
        QgsProcessingParameterNumber,
        QgsProcessingParameterVectorLayer,
    )
    from qgis.PyQt.QtCore import QPointF

    sys.path.insert(0, str(REPO / ".build" / "plugins"))
    from displacement_toolkit.processing_provider.points_common import point_source_type

    model = QgsProcessingModelAlgorithm(MODEL_NAME, MODEL_GROUP)
    model.setHelpContent({
        "ALG_DESC": "Ascending and descending point layers (displacement:load_points) -> median "
                    "velocity and mean LOS unit vector per cell (the descending grid on the "
                    "ascending grid) -> east and up velocity (mm/yr). See docs/points.md.",
    })

    def add_param(definition, x, y):
        model.addModelParameter(definition, QgsProcessingModelParameter(definition.name()))
        model.parameterComponent(definition.name()).setPosition(QPointF(x, y))

    add_param(QgsProcessingParameterVectorLayer("asc_points", "Ascending points",
                                                [point_source_type()]), 120.0, 60.0)
    add_param(QgsProcessingParameterVectorLayer("desc_points", "Descending points",
                                                [point_source_type()]), 120.0, 180.0)
    add_param(QgsProcessingParameterNumber("cell_size", "Cell size (m)",
                                           QgsProcessingParameterNumber.Type.Double, 100.0,
                                           False, 1.0), 120.0, 300.0)
    add_param(QgsProcessingParameterNumber("min_points", "Minimum points per cell",
                                           QgsProcessingParameterNumber.Type.Integer, 1,
                                           False, 1), 120.0, 360.0)
    for i, track in enumerate(("asc", "desc")):
        child = QgsProcessingModelChildAlgorithm("displacement:points_to_grid")
        child.setChildId(f"{track}_grid")
        child.setDescription(f"Points to grid ({'ascending' if track == 'asc' else 'descending'})")
        child.setPosition(QPointF(480.0, 100.0 + 200.0 * i))
        child.addParameterSources("INPUT", [Source.fromModelParameter(f"{track}_points")])
        child.addParameterSources("FIELD", [Source.fromStaticValue("velocity")])
        child.addParameterSources("MIN_POINTS", [Source.fromModelParameter("min_points")])
        if track == "asc":
            child.addParameterSources("CELL_SIZE", [Source.fromModelParameter("cell_size")])
        else:   # the same cells as the ascending grid
            child.addParameterSources("REFERENCE_LAYER", [Source.fromChildOutput("asc_grid",
                                                                                 "OUTPUT")])
        model.addChildAlgorithm(child)
    dec = QgsProcessingModelChildAlgorithm("displacement:decompose")
    dec.setChildId("decompose")
    dec.setDescription("Decompose into east and up")
    dec.setPosition(QPointF(840.0, 200.0))
    for slot, track in ((1, "asc"), (2, "desc")):
        dec.addParameterSources(f"OBS_{slot}", [Source.fromChildOutput(f"{track}_grid", "OUTPUT")])
        dec.addParameterSources(f"INCIDENCE_{slot}", [Source.fromChildOutput(f"{track}_grid", "LOS")])
        dec.addParameterSources(f"HEADING_{slot}", [Source.fromChildOutput(f"{track}_grid", "LOS")])
        dec.addParameterSources(f"HEADING_BAND_{slot}", [Source.fromStaticValue(2)])
    for key, value in (("ANGLE_CONVENTION", 3), ("COMPONENTS", 0)):
        dec.addParameterSources(key, [Source.fromStaticValue(value)])
    from build_tutorial_model import _name_outputs, _static_defaults

    _name_outputs(dec, (("OUTPUT_EAST", "east"), ("OUTPUT_UP", "up")))
    model.addChildAlgorithm(dec)
    _static_defaults(model)
    model.updateDestinationParameters()
    return model


def main():
    sys.path.insert(0, str(REPO / "scripts"))
    from build_tutorial_model import write_model

    write_model(build_model, MODEL_PATH)


if __name__ == "__main__":
    main()
