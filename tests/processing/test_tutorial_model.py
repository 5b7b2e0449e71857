"""docs/models/earthquake_decomposition.model3 (the tutorial's model) loads and runs through
processing.run on the synthetic earthquake sample, and returns east/north/up close to the
Okada truth."""

import importlib.util
import math
import shlex

import numpy as np
import pytest

from ..conftest import REPO, run_algorithm

MODEL = REPO / "docs" / "models" / "earthquake_decomposition.model3"


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scene(earthquake_scene):
    return earthquake_scene[:2]


def _model(provider):
    from qgis.core import QgsProcessingModelAlgorithm

    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(MODEL))
    return model


def test_model_file_loads_and_matches_the_builder(provider):
    model = _model(provider)
    children = {cid: child.algorithmId() for cid, child in model.childAlgorithms().items()}
    assert children == {"asc_offsets": "displacement:offset_tracking",
                        "desc_offsets": "displacement:offset_tracking",
                        "decompose": "displacement:decompose"}
    for child in model.childAlgorithms().values():
        assert child.algorithm() is not None, child.algorithmId()
    valid, issues = model.validate()
    assert valid, issues
    outputs = sorted(o.name() for o in model.outputDefinitions())
    assert "decompose:east" in outputs and "decompose:up" in outputs and "decompose:north" in outputs
    # the committed file is what scripts/build_tutorial_model.py builds
    builder = _load(REPO / "scripts" / "build_tutorial_model.py", "build_tutorial_model")
    built = builder.build_model()
    assert sorted(p.name() for p in built.parameterDefinitions()) == \
        sorted(p.name() for p in model.parameterDefinitions())
    for cid, child in built.childAlgorithms().items():
        loaded = model.childAlgorithm(cid)
        assert sorted(child.parameterSources()) == sorted(loaded.parameterSources())


def _inputs(data):
    params = {"grid_crs": "EPSG:32611", "grid_resolution": 100.0,
              "sigma_range": 0.014, "sigma_azimuth": 0.084}
    for track in ("asc", "desc"):
        for key, name in (("reference", "reference_slc"), ("secondary", "secondary_slc"),
                          ("incidence", "incidence"), ("heading", "heading")):
            params[f"{track}_{key}"] = str(data / f"{track}_{name}.tif")
    return params


def test_model_runs_on_the_sample_and_recovers_the_truth(provider, scene, tmp_path):
    module, data = scene
    model = _model(provider)
    params = _inputs(data)
    for p in model.parameterDefinitions():
        if p.isDestination():
            safe = "".join(ch if ch.isalnum() else "_" for ch in p.name())
            params[p.name()] = str(tmp_path / f"{safe}.tif")
    results = run_algorithm(model, params)
    _check_against_truth(module, results)
    assert results["CHILD_RESULTS"]["asc_offsets"]["VALID_WINDOWS"] == 14 * 30


def _tutorial_command_line():
    """The ``qgis_process run`` command of docs/tutorial.md, as its words."""
    text = (REPO / "docs" / "tutorial.md").read_text(encoding="utf-8")
    blocks = [b.split("```")[0] for b in text.split("```bash")[1:]]
    commands = [b for b in blocks if "qgis_process run docs/models/earthquake_decomposition.model3" in b]
    assert len(commands) == 1, "docs/tutorial.md should show the model's command line once"
    return shlex.split(commands[0].replace("\\\n", " "))


def test_model_runs_through_qgis_process(scene, qgis_process, tmp_path):
    """The tutorial's command line, word for word (the sample folder for $D, outputs in a
    temporary folder): outputs decompose:east/north/up (offsets go to temporary files)."""
    module, data = scene
    words = _tutorial_command_line()
    assert words[:3] == ["qgis_process", "run", "docs/models/earthquake_decomposition.model3"]
    args = ["run", str(REPO / words[2])]
    for word in words[3:]:
        if "=" in word:
            key, value = word.split("=", 1)
            value = value.replace("$D", str(data))
            if key.startswith("decompose:"):
                value = str(tmp_path / value)
            word = f"{key}={value}"
        args.append(word)
    assert sorted(a.split("=")[0] for a in args if a.startswith("decompose:")) == \
        ["decompose:east", "decompose:north", "decompose:up"]
    out = qgis_process(*args, json_output=True)
    _check_against_truth(module, out["results"])


def _check_against_truth(module, results):
    from osgeo import gdal

    s, c = math.sin(math.radians(30.0)), math.cos(math.radians(30.0))
    fe, fn = module.fault_centre()
    limits = {"east": 0.03, "north": 0.10, "up": 0.03}
    for comp, limit in limits.items():
        ds = gdal.Open(results[f"decompose:{comp}"])
        arr = ds.GetRasterBand(1).ReadAsArray().astype(float)
        gt = ds.GetGeoTransform()
        rows, cols = np.mgrid[0:arr.shape[0], 0:arr.shape[1]] + 0.5
        x, y = gt[0] + cols * gt[1], gt[3] + rows * gt[5]
        truth = module.ground_displacement(x, y)[("east", "north", "up").index(comp)]
        far = np.abs(-(x - fe) * c + (y - fn) * s) > 800.0
        ok = far & np.isfinite(arr)
        assert ok.sum() > 500
        err = float(np.sqrt(np.mean((arr[ok] - truth[ok]) ** 2)))
        assert err < limit, (comp, err)
        assert abs(gt[1] - 100.0) < 1e-9
