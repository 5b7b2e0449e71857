"""Every algorithm x every bad-input class (issue 16, docs/safety.md).

Each run either fails with a ``QgsProcessingException`` that names a parameter of the
algorithm, or succeeds with a valid result; in both cases no input file changes (MD5
before and after), and a failed run leaves no file at all in its output folder (hidden
``.partial.tif`` files included).  The rasters are 12 x 12 pixels, so the whole matrix
costs a few seconds.  Bad physical values (incidence, heading, wavelength, window sizes)
are covered by the validators' own tests.
"""

import datetime as dt
import hashlib
import os
import re
import shutil
import stat

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsApplication, QgsProcessingException

from displacement_toolkit.core import synthetic_sar
from displacement_toolkit.core.raster_io import (
    MAX_VALUES_ENV,
    read_block,
    transform_xy,
    wgs84_wkt,
    write_array,
)
from displacement_toolkit.processing_provider import base as base_module

from ..conftest import UTM33N, recording_feedback, run_algorithm

GT = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
FAR = (GT[0] + 1.0e6,) + GT[1:]          # the same grid 1000 km further east
N = 24
DATES = [dt.date(2021, 1, 2) + dt.timedelta(days=12 * k) for k in range(4)]


def _field(offset=0.0):
    rr, cc = np.mgrid[0:N, 0:N]
    return (0.001 * cc - 0.0005 * rr + 0.004 + offset).astype(np.float32)


def _series(path, gt=GT, scale=1.0):
    cube = np.stack([_field() * k * scale for k in range(len(DATES))])
    meta = [{"date": d.isoformat(), "units": "m", "quantity": "los_displacement"} for d in DATES]
    return write_array(path, cube, gt, UTM33N, band_metadata=meta,
                       metadata={"reference_date": DATES[0].isoformat()})


def _bad_series(path, values, nodata=None):
    """A dated 4-band raster (uncompressed, so a truncation cuts image data) on the grid."""
    data_type = gdal.GDT_Int16 if values.dtype == np.int16 else gdal.GDT_Float32
    ds = gdal.GetDriverByName("GTiff").Create(path, N, N, len(DATES), data_type)
    ds.SetGeoTransform(GT)
    ds.SetProjection(UTM33N)
    ds.SetMetadata({"reference_date": DATES[0].isoformat()})
    for k, day in enumerate(DATES, start=1):
        band = ds.GetRasterBand(k)
        band.SetMetadata({"date": day.isoformat(), "units": "m"})
        if nodata is not None:
            band.SetNoDataValue(nodata)
        band.WriteArray(values)
    ds = None
    return path


def _stations():
    """Three stations at pixel centres of the 12 x 12 grid: (name, lon, lat)."""
    cols, rows = np.array([2.5, 6.5, 9.5]), np.array([3.5, 8.5, 5.5])
    lon, lat = transform_xy(GT[0] + cols * GT[1], GT[3] + rows * GT[5], UTM33N, wgs84_wkt())
    return [(f"S{i}", float(x), float(y)) for i, (x, y) in enumerate(zip(lon, lat))]


def _files(folder):
    """Every file under ``folder`` (relative path -> MD5)."""
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, folder)] = hashlib.md5(fh.read()).hexdigest()
    return out


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The inputs, written once: good ones and one file per bad class."""
    src = tmp_path_factory.mktemp("bad_inputs") / "in"
    src.mkdir()
    return _write_inputs(src)


def _raster_scene(template, tmp_path):
    """A fresh copy of the raster inputs of ``template`` in ``in/`` and an empty ``out/``:
    paths by key (file name without extension), ``bad`` holds one file per bad class."""
    src, out = tmp_path / "in", tmp_path / "out"
    shutil.copytree(template, src)
    out.mkdir()
    s = {"in": src, "out": out}
    for name in os.listdir(src):
        s[os.path.splitext(name)[0]] = str(src / name)
    s["bad"] = {"missing": str(src / "missing.tif"), "empty": s["empty"], "non_raster": s["text"],
                "truncated": s["truncated"], "all_nan": s["all_nan"], "nodata_only": s["nodata"]}
    return s


@pytest.fixture
def scene(template, tmp_path):
    return _raster_scene(template, tmp_path)


def _write_inputs(src):
    write_array(str(src / "los.tif"), _field(), GT, UTM33N, band_metadata=[{"units": "m"}])
    write_array(str(src / "los_b.tif"), -_field(), GT, UTM33N, band_metadata=[{"units": "m"}])
    write_array(str(src / "inc.tif"), np.full((N, N), 35.0, np.float32), GT, UTM33N)
    write_array(str(src / "inc_far.tif"), np.full((N, N), 35.0, np.float32), FAR, UTM33N)
    write_array(str(src / "los_far.tif"), _field(), FAR, UTM33N)
    _series(str(src / "series.tif"))
    _series(str(src / "series_b.tif"), scale=-0.5)
    _series(str(src / "series_far.tif"), gt=FAR)
    ref, sec = synthetic_sar.speckle_pair((N, N), 0.3, -0.2, coherence=0.98, seed=4)
    write_array(str(src / "ref.tif"), ref.real.astype(np.float32), GT, UTM33N)
    write_array(str(src / "sec.tif"), sec.real.astype(np.float32), GT, UTM33N)
    stations = _stations()
    rows = ["site,lon,lat,ve,vn,vu,sig_e,sig_n,sig_u"]
    rows += [f"{n},{x:.9f},{y:.9f},1.0,2.0,-3.0,0.5,0.5,1.0" for n, x, y in stations]
    (src / "gnss.csv").write_text("\n".join(rows) + "\n")
    rows = ["station,date,lon,lat,east,north,up"]
    for n, x, y in stations:
        for k in range(40):
            day = DATES[0] + dt.timedelta(days=k)
            rows.append(f"{n},{day.isoformat()},{x:.9f},{y:.9f},{0.0001 * k},0.0,{-0.0002 * k}")
    (src / "gnss_ts.csv").write_text("\n".join(rows) + "\n")
    # the bad inputs
    (src / "empty.tif").write_bytes(b"")
    (src / "text.tif").write_text("station,lon,lat\nA,1,2\n")
    _bad_series(str(src / "all_nan.tif"), np.full((N, N), np.nan, np.float32))
    _bad_series(str(src / "nodata.tif"), np.full((N, N), -9999, np.int16), -9999)
    noise = np.random.default_rng(1).normal(size=(N, N)).astype(np.float32)
    _bad_series(str(src / "truncated.tif"), noise)
    data = (src / "truncated.tif").read_bytes()
    (src / "truncated.tif").write_bytes(data[:len(data) - 4 * N * N * len(DATES) + 100])  # header kept
    return src


def _o(s, name):
    return str(s["out"] / name)


# Each algorithm: good parameters, the primary raster input (and how to put a bad file in
# it), the file outputs, and a second raster input for the no-overlap class.
def _los_to_vertical(s):
    return {"INPUT": s["los"], "INCIDENCE": s["inc"], "OUTPUT": _o(s, "up.tif")}


def _decompose(s):
    return {"OBS_1": s["los"], "INCIDENCE_ANGLE_1": 34.0, "HEADING_ANGLE_1": -12.0,
            "OBS_2": s["los_b"], "INCIDENCE_ANGLE_2": 40.0, "HEADING_ANGLE_2": -168.0,
            "OUTPUT_EAST": _o(s, "east.tif"), "OUTPUT_UP": _o(s, "up.tif"),
            "OUTPUT_SIGMA": _o(s, "sigma.tif")}


def _common_grid(s):
    return {"LAYERS": [s["los"], s["los_b"]], "OUTPUT_FOLDER": str(s["out"])}


def _offset_tracking(s):
    return {"REFERENCE": s["ref"], "SECONDARY": s["sec"], "WINDOW_X": 8, "WINDOW_Y": 8,
            "SEARCH_X": 2, "SEARCH_Y": 2, "STEP_X": 4, "STEP_Y": 4, "COARSE_SEARCH": False,
            "SNR_THRESHOLD": 0.0, "OUTLIER_THRESHOLD": 0.0,
            "OUTPUT_X": _o(s, "dx.tif"), "OUTPUT_Y": _o(s, "dy.tif")}


def _load_product(s):
    return {"INPUT": s["los"], "OUTPUT_FOLDER": str(s["out"])}


def _gnss_los(s):
    return {"INSAR": s["los"], "INSAR_UNITS": 4, "GNSS_FILE": s["gnss"], "GNSS_FORMAT": 3,
            "GNSS_UNITS": 2, "INCIDENCE_ANGLE": 34.0, "HEADING_ANGLE": -12.0, "MIN_PIXELS": 1,
            "REFERENCE": 0, "OUTPUT": _o(s, "cmp.gpkg"), "OUTPUT_REPORT": _o(s, "cmp.html")}


def _gnss_ts(s):
    return {"INSAR": [s["series"]], "GNSS_FILES": [s["gnss_ts"]], "INCIDENCE_ANGLE": 34.0,
            "HEADING_ANGLE": -12.0, "MIN_PIXELS": 1, "REFERENCE": 0,
            "OUTPUT": _o(s, "ts.gpkg"), "OUTPUT_REPORT": _o(s, "ts.html")}


def _cumulative(s):
    return {"INPUT": [s["series"]], "START_DATE": DATES[0].isoformat(),
            "END_DATE": DATES[-1].isoformat(), "OUTPUT": _o(s, "cum.tif")}


def _velocity(s):
    return {"INPUT": [s["series"]], "START_DATE": DATES[0].isoformat(),
            "END_DATE": DATES[-1].isoformat(), "VELOCITY": _o(s, "vel.tif"),
            "VELOCITY_SIGMA": _o(s, "vel_sigma.tif")}


def _rereference(s):
    x, y = GT[0] + 5.5 * GT[1], GT[3] + 5.5 * GT[5]
    return {"INPUT": [s["series"]], "REFERENCE_POINT": f"{x},{y} [EPSG:32633]",
            "OUTPUT": _o(s, "reref.tif")}


def _ts_decompose(s):
    return {"TRACK_1": [s["series"]], "INCIDENCE_1": 34.0, "HEADING_1": -12.0,
            "TRACK_2": [s["series_b"]], "INCIDENCE_2": 40.0, "HEADING_2": -168.0,
            "EAST": _o(s, "east.tif"), "UP": _o(s, "up.tif")}


# name: (parameters, primary input, is a list, outputs, (second input, far file key))
ALGORITHMS = {
    "los_to_vertical": (_los_to_vertical, "INPUT", False, ["OUTPUT"], ("INCIDENCE", "inc_far")),
    "decompose": (_decompose, "OBS_1", False, ["OUTPUT_EAST", "OUTPUT_UP", "OUTPUT_SIGMA"],
                  ("OBS_2", "los_far")),
    "common_grid": (_common_grid, "LAYERS", True, ["OUTPUT_FOLDER"], ("LAYERS", "los_far")),
    "offset_tracking": (_offset_tracking, "REFERENCE", False, ["OUTPUT_X", "OUTPUT_Y"], None),
    "load_product": (_load_product, "INPUT", False, ["OUTPUT_FOLDER"], None),
    "gnss_los_comparison": (_gnss_los, "INSAR", False, ["OUTPUT", "OUTPUT_REPORT"],
                            ("INSAR", "los_far")),
    "gnss_timeseries_comparison": (_gnss_ts, "INSAR", True, ["OUTPUT", "OUTPUT_REPORT"],
                                   ("INSAR", "series_far")),
    "cumulative_displacement": (_cumulative, "INPUT", True, ["OUTPUT"], None),
    "timeseries_velocity": (_velocity, "INPUT", True, ["VELOCITY", "VELOCITY_SIGMA"], None),
    "rereference": (_rereference, "INPUT", True, ["OUTPUT"], None),
    "timeseries_decompose": (_ts_decompose, "TRACK_1", True, ["EAST", "UP"], ("TRACK_2", "series_far")),
}

BAD_FILES = ["missing", "empty", "non_raster", "truncated", "all_nan", "nodata_only"]
TIME_SERIES = {"gnss_timeseries_comparison", "cumulative_displacement", "timeseries_velocity",
               "rereference", "timeseries_decompose"}


def _parameter_names(algorithm):
    alg = QgsApplication.processingRegistry().algorithmById(f"displacement:{algorithm}")
    return [d.name() for d in alg.parameterDefinitions()]


def _run_checked(algorithm, params, scene, expect_error=True, match=None, feedback=None):
    """Run; check that the inputs did not change and, on failure, that nothing was written
    and the message names a parameter (and matches ``match``).  Returns (result, message)."""
    before = _files(scene["in"])
    try:
        result, message = run_algorithm(f"displacement:{algorithm}", params, feedback=feedback), None
    except QgsProcessingException as exc:
        result, message = None, str(exc)
    after = _files(scene["in"])
    changed = {k for k in before if after.get(k) != before[k]}
    assert not changed, f"{algorithm} changed its inputs {changed}"
    new = {k for k in after if k not in before and not k.endswith(".aux.xml")}
    assert not new, f"{algorithm} wrote {new} among its inputs"
    if message is None:
        assert not expect_error, f"{algorithm} accepted {params}"
        return result, None
    assert expect_error, f"{algorithm} failed on good input: {message}"
    names = "|".join(sorted(_parameter_names(algorithm), key=len, reverse=True))
    assert re.search(rf"\b({names})\b", message), f"no parameter named in: {message}"
    if match:
        assert re.search(match, message, re.S), message
    left = _files(scene["out"])
    assert not left, f"{algorithm} left {sorted(left)} after failing: {message}"
    return None, message


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_good_inputs_run_and_report_valid_pixels(provider, scene, algorithm):
    """The baseline of the matrix: the good parameters work, and raster outputs log their
    valid-pixel count."""
    make, *_ = ALGORITHMS[algorithm]
    params = make(scene)
    params.pop("OUTPUT_REPORT", None)     # slow; the report has its own tests
    feedback = recording_feedback()
    result, _ = _run_checked(algorithm, params, scene, expect_error=False, feedback=feedback)
    assert result
    written = [f for f in _files(scene["out"]) if f.endswith(".tif")]
    if written:
        assert any(re.search(r"\d+ valid pixels of \d+", line) for line in feedback.lines)


@pytest.mark.parametrize("kind", BAD_FILES)
@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_bad_primary_input(provider, scene, algorithm, kind):
    make, primary, is_list, _, _ = ALGORITHMS[algorithm]
    params = make(scene)
    bad = scene["bad"][kind]
    params[primary] = [bad] + params[primary][1:] if is_list else bad
    match = {"truncated": rf"{primary}\b.*truncated\.tif.*(damaged|IReadBlock failed)",
             "missing": primary, "empty": primary, "non_raster": primary,
             "all_nan": rf"{primary} \(\w+\.tif\): every value is nodata or NaN"}.get(kind)
    if kind == "nodata_only":
        match = rf"{primary} \(\w+\.tif\): every value is nodata or NaN"
    if algorithm == "common_grid" and kind in ("all_nan", "nodata_only"):
        # the other layer's output is valid: the run succeeds and warns about the empty one
        feedback = recording_feedback()
        assert _run_checked(algorithm, params, scene, expect_error=False, feedback=feedback)[0]
        assert any(re.search(rf"no valid pixel.*{match}", w) for w in feedback.warnings)
        return
    _run_checked(algorithm, params, scene, match=match)


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_output_equal_to_an_input_is_refused(provider, scene, algorithm):
    make, primary, is_list, outputs, _ = ALGORITHMS[algorithm]
    params = make(scene)
    target = params[primary][0] if is_list else params[primary]
    if outputs[0] == "OUTPUT_FOLDER":
        if algorithm == "common_grid":     # issue 16 item 2: LAYERS good.tif, good_grid.tif
            os.rename(scene["los_b"], str(scene["in"] / "los_grid.tif"))
            params["LAYERS"] = [scene["los"], str(scene["in"] / "los_grid.tif")]
            params["OUTPUT_FOLDER"] = str(scene["in"])
            match = r"OUTPUT_FOLDER = .*los_grid\.tif.* is LAYERS"
        else:
            params["OUTPUT_FOLDER"] = target
            match = r"OUTPUT_FOLDER = .*is a file, not a folder"
    else:
        params[outputs[0]] = target
        match = rf"{outputs[0]} = .* is {primary}, an input"
    _run_checked(algorithm, params, scene, match=match)


def test_html_report_on_the_gnss_file_is_refused(provider, scene):
    """Issue 16 item 1: OUTPUT_REPORT = the GNSS CSV replaced the CSV with HTML."""
    params = _gnss_los(scene)
    params["OUTPUT_REPORT"] = scene["gnss"]
    _run_checked("gnss_los_comparison", params, scene, match=r"OUTPUT_REPORT = .* is GNSS_FILE")


def test_output_style_on_an_input_is_refused(provider, scene):
    """A .tiff output would write its .qml over the style of the .tif input of the same name."""
    (scene["in"] / "los.qml").write_text("<qgis/>")
    params = _los_to_vertical(scene)
    params["OUTPUT"] = str(scene["in"] / "los.tiff")
    _run_checked("los_to_vertical", params, scene, match=r"OUTPUT = .*los\.qml.* is INPUT")


@pytest.mark.parametrize("algorithm", sorted(a for a, v in ALGORITHMS.items() if len(v[3]) > 1))
def test_two_outputs_on_one_path_are_refused(provider, scene, algorithm):
    make, _, _, outputs, _ = ALGORITHMS[algorithm]
    params = make(scene)
    params[outputs[1]] = params[outputs[0]]
    _run_checked(algorithm, params, scene,
                 match=rf"({outputs[0]} and {outputs[1]}|{outputs[1]} and {outputs[0]}) both write")


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_read_only_output_folder_is_refused(provider, scene, algorithm, monkeypatch):
    make, _, _, outputs, _ = ALGORITHMS[algorithm]
    message = _run_with_read_only_outputs(algorithm, make(scene), scene, outputs, monkeypatch)
    assert "partial" not in message


def _run_with_read_only_outputs(algorithm, params, scene, outputs, monkeypatch):
    """Run with every output in a read-only folder; check the refusal names them and that
    the folder stays empty; return the message."""
    locked = scene["out"] / "locked"
    locked.mkdir()
    os.chmod(locked, stat.S_IRUSR | stat.S_IXUSR)
    if os.geteuid() == 0:   # root may write anywhere: apply the permission bits as a user would meet them
        real_access = os.access
        monkeypatch.setattr(base_module.os, "access", lambda p, mode: real_access(p, mode) and not (
            mode & os.W_OK and os.path.realpath(p) == os.path.realpath(locked)))
    for name in outputs:
        if name == "OUTPUT_FOLDER":
            params[name] = str(locked / "sub")
        else:
            params[name] = str(locked / os.path.basename(params[name]))
    try:
        _, message = _run_checked(algorithm, params, scene,
                                  match=rf"({'|'.join(outputs)}) = .*not writable")
    finally:
        os.chmod(locked, stat.S_IRWXU)
    assert _files(locked) == {}
    return message


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_output_beyond_the_size_limit_is_refused(provider, scene, algorithm, monkeypatch):
    """With DISPLACEMENT_TOOLKIT_MAX_PIXELS = 3, every raster output is refused
    before it is written; the vector/HTML algorithms are unaffected."""
    monkeypatch.setenv(MAX_VALUES_ENV, "3")
    make, *_ = ALGORITHMS[algorithm]
    params = make(scene)
    params.pop("OUTPUT_REPORT", None)     # the HTML report is slow and not a raster
    writes_rasters = algorithm not in ("gnss_los_comparison", "gnss_timeseries_comparison")
    result, _ = _run_checked(algorithm, params, scene, expect_error=writes_rasters,
                             match=MAX_VALUES_ENV)
    assert writes_rasters or result


def test_common_grid_custom_resolution_beyond_the_limit_is_refused(provider, scene):
    """Issue 16 item 4: CUSTOM_RESOLUTION = 0.001 m on 720 m rasters plans 720000 x 720000."""
    params = dict(_common_grid(scene), RESOLUTION=3, CUSTOM_RESOLUTION=0.001)
    _run_checked("common_grid", params, scene,
                 match=r"CUSTOM_RESOLUTION = 0\.001.*720000 x 720000 pixels.*coarser resolution")


def test_load_product_of_a_huge_vrt_is_refused(provider, scene):
    """Issue 16 item 4: a 245-byte VRT declaring 200000 x 200000 pixels."""
    vrt = scene["in"] / "huge.vrt"
    vrt.write_text(
        '<VRTDataset rasterXSize="200000" rasterYSize="200000">\n'
        f'  <GeoTransform>{", ".join(map(str, GT))}</GeoTransform>\n'
        '  <VRTRasterBand dataType="Float32" band="1">\n'
        f'    <SimpleSource><SourceFilename relativeToVRT="0">{scene["los"]}</SourceFilename>\n'
        '      <SourceBand>1</SourceBand></SimpleSource>\n'
        '  </VRTRasterBand>\n</VRTDataset>\n')
    params = {"INPUT": str(vrt), "OUTPUT_FOLDER": str(scene["out"])}
    _run_checked("load_product", params, scene, match=r"INPUT = .*200000 x 200000 pixels.*limit")


@pytest.mark.parametrize("algorithm", sorted(a for a, v in ALGORITHMS.items() if v[4]))
def test_inputs_that_do_not_overlap(provider, scene, algorithm):
    make, _, _, _, (second, far) = ALGORITHMS[algorithm]
    params = make(scene)
    params[second] = ([params[second][0], scene[far]] if second == "LAYERS"
                      else [scene[far]] if isinstance(params[second], list) else scene[far])
    _, message = _run_checked(algorithm, params, scene)
    assert re.search(r"overlap|outside|no common", message), message


def test_no_overlap_diagnosis_names_both_rasters(provider, scene):
    """Issue 16 item 6: an INCIDENCE raster that does not overlap INPUT gave an all-NaN
    output, MASKED_PIXELS = 0 and no warning."""
    params = dict(_los_to_vertical(scene), INCIDENCE=scene["inc_far"])
    _run_checked("los_to_vertical", params, scene,
                 match=r"no valid pixel.*INPUT \(los\.tif\) and INCIDENCE \(inc_far\.tif\) do not overlap")


def test_gross_offset_outside_the_image(provider, scene):
    """Issue 16 item 6: GROSS_OFFSET far outside the image gave an all-NaN success."""
    params = dict(_offset_tracking(scene), GROSS_OFFSET_X=5000, GROSS_OFFSET_Y=5000)
    _run_checked("offset_tracking", params, scene,
                 match=r"OUTPUT_X = .*no valid pixel.*The 'nodata' mask masked all 16 windows\. It "
                       r"removes the windows that touch nodata .*search area leaves the image")


def test_a_partial_file_of_a_killed_run_is_removed_by_the_next_run(provider, scene):
    """A killed run leaves ``.<name>.<pid>.<random>.partial.tif``; the next run of the same
    output removes it (its process is gone) and keeps a live process's partial file."""
    dead_pid = 2 ** 22 + 12345          # above Linux's pid_max default: no such process
    stale = scene["out"] / f".up.tif.{dead_pid}.0123abcd.partial.tif"
    stale.write_bytes(b"\0" * 1000)
    live = scene["out"] / f".up.tif.{os.getppid()}.4567cdef.partial.tif"
    live.write_bytes(b"\0" * 10)
    feedback = recording_feedback()
    result = run_algorithm("displacement:los_to_vertical", _los_to_vertical(scene), feedback=feedback)
    assert not stale.exists() and live.exists()
    assert any("partial file left by an interrupted run" in line for line in feedback.lines)
    assert np.isfinite(read_block(result["OUTPUT"])).all()


def test_a_loaded_layer_is_an_input_too(provider, scene):
    """An input given as a project layer (its id, as models and the dialog may pass it) is
    resolved to its file."""
    from qgis.core import QgsProject, QgsRasterLayer

    layer = QgsProject.instance().addMapLayer(QgsRasterLayer(scene["los"], "los"))
    layer_id = layer.id()
    try:
        params = dict(_los_to_vertical(scene), INPUT=layer_id, OUTPUT=scene["los"])
        _run_checked("los_to_vertical", params, scene, match=r"OUTPUT = .* is INPUT, an input")
    finally:
        QgsProject.instance().removeMapLayer(layer_id)   # the project deletes it


@pytest.mark.parametrize("source, expected", [
    ('HDF5:"{d}/velocity.h5"://velocity', ("velocity.h5", "velocity")),
    ("{d}/stations.gpkg|layername=gnss", ("stations.gpkg", "gnss")),
    ("ogr:{d}/stations.gpkg|layername=gnss", ("stations.gpkg", "gnss")),
    ("/vsizip/{d}/product.zip/inner/unw.tif", ("product.zip", None)),
    ("{d}/velocity.h5", ("velocity.h5", None)),
    ("{d}/absent.tif", (None, None)),
    ("memory:?geometry=Point", (None, None)),
])
def test_layer_sources_are_traced_to_their_files(tmp_path, source, expected):
    for name in ("velocity.h5", "stations.gpkg", "product.zip"):
        (tmp_path / name).write_bytes(b"x")
    path, layer = base_module._source_file(source.format(d=tmp_path))
    assert (path and os.path.basename(path), layer) == expected


# --- the point-dataset algorithms (load_points, points_velocity, points_rereference,
# points_to_grid): a 9-point EGMS CSV and its GeoPackage, and one file per bad class ---------
PT_DATES = [dt.date(2020, 1, 3) + dt.timedelta(days=12 * k) for k in range(6)]


def _write_point_inputs(src):
    """``pts.csv`` (EGMS), ``pts.gpkg`` (the same points loaded), ``pts_nocrs.gpkg`` and
    the bad point files, in ``src``."""
    from displacement_toolkit.core import points as P
    from displacement_toolkit.core import synthetic_points as S

    pts = S.synthetic_points(9, PT_DATES, (4.0e6, 2.8e6, 4.0003e6, 2.8003e6), S.laea_europe(),
                             35.0, -12.0, lambda x, y: 2.0 + 0 * x, lambda x, y: -5.0 + 0 * y, 0.0,
                             seed=2)
    S.write_egms_csv(str(src / "pts.csv"), pts)
    fields = [("pid", "text"), ("velocity", "real")] + [(P.date_field(d), "real") for d in PT_DATES]
    meta = {"units": "mm", "reference_date": PT_DATES[0].isoformat()}
    for name, crs, scale in (("pts", S.laea_europe(), 1.0), ("pts_nocrs", "", 1.0),
                             ("pts_nan", S.laea_europe(), np.nan)):
        with P.PointWriter(str(src / f"{name}.gpkg"), crs, fields, "points", meta) as w:
            w.write(pts.x, pts.y, {"pid": list(pts.pid), "velocity": pts.velocity * scale,
                                   **{P.date_field(d): pts.series[:, k] * scale
                                      for k, d in enumerate(PT_DATES)}})
            w.commit()
    with P.PointWriter(str(src / "pts_nofields.gpkg"), S.laea_europe(), [("pid", "text")],
                       "points", meta) as w:
        w.write(pts.x, pts.y, {"pid": list(pts.pid)})
        w.commit()
    text = (src / "pts.csv").read_text()
    header, first = text.splitlines()[:2]
    (src / "pts_empty.csv").write_bytes(b"")
    (src / "pts_empty.gpkg").write_bytes(b"")
    (src / "pts_garbled.csv").write_bytes(bytes(range(256)) * 4)
    (src / "pts_truncated.csv").write_text(header + "\n" + first[:len(first) // 2])
    (src / "pts_nocols.csv").write_text("name,value\nA,1\nB,2\n")
    (src / "pts_allempty.csv").write_text(
        "\n".join([header] + [re.sub(r"[^,]+", "", first)] * 3) + "\n")
    data = (src / "pts.gpkg").read_bytes()
    (src / "pts_truncated.gpkg").write_bytes(data[:len(data) // 3])


@pytest.fixture(scope="module")
def point_template(tmp_path_factory):
    src = tmp_path_factory.mktemp("bad_points") / "in"
    src.mkdir()
    _write_point_inputs(src)
    write_array(str(src / "los.tif"), _field(), GT, UTM33N, band_metadata=[{"units": "m"}])
    return src


@pytest.fixture
def pscene(point_template, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    shutil.copytree(point_template, src)
    out.mkdir()
    s = {"in": src, "out": out}
    for name in os.listdir(src):
        s[name] = str(src / name)
    return s


def _load_points(s):
    return {"INPUT": s["pts.csv"], "OUTPUT": _o(s, "pts.gpkg")}


def _points_velocity(s):
    return {"INPUT": s["pts.gpkg"], "START_DATE": PT_DATES[0].isoformat(),
            "END_DATE": PT_DATES[-1].isoformat(), "OUTPUT": _o(s, "vel.gpkg")}


def _points_rereference(s):
    return {"INPUT": s["pts.gpkg"], "REFERENCE_POINT": "4000150,2800150 [EPSG:3035]",
            "REFERENCE_RADIUS": 1000.0, "OUTPUT": _o(s, "reref.gpkg")}


def _points_to_grid(s):
    return {"INPUT": s["pts.gpkg"], "CELL_SIZE": 100.0, "OUTPUT": _o(s, "grid.tif"),
            "COUNT": _o(s, "count.tif")}


# name: (parameters, outputs)
POINT_ALGORITHMS = {
    "load_points": (_load_points, ["OUTPUT"]),
    "points_velocity": (_points_velocity, ["OUTPUT"]),
    "points_rereference": (_points_rereference, ["OUTPUT"]),
    "points_to_grid": (_points_to_grid, ["OUTPUT", "COUNT"]),
}
#: the bad files given as INPUT: load_points reads CSVs, the others point layers
POINT_BAD = {
    "load_points": {"missing": "absent.csv", "empty": "pts_empty.csv", "non_csv": "los.tif",
                    "garbled": "pts_garbled.csv", "truncated": "pts_truncated.csv",
                    "no_columns": "pts_nocols.csv", "all_empty": "pts_allempty.csv"},
    "layer": {"missing": "absent.gpkg", "empty": "pts_empty.gpkg", "non_vector": "los.tif",
              "garbled": "pts_garbled.csv", "truncated": "pts_truncated.gpkg",
              "no_columns": "pts_nofields.gpkg", "all_empty": "pts_nan.gpkg"},
}
POINT_CASES = [(a, k) for a in sorted(POINT_ALGORITHMS)
               for k in POINT_BAD["load_points" if a == "load_points" else "layer"]]


@pytest.mark.parametrize("algorithm", sorted(POINT_ALGORITHMS))
def test_points_good_inputs_run(provider, pscene, algorithm):
    make, outputs = POINT_ALGORITHMS[algorithm]
    result, _ = _run_checked(algorithm, make(pscene), pscene, expect_error=False)
    for name in outputs:
        assert os.path.getsize(result[name]) > 0


@pytest.mark.parametrize("algorithm, kind", POINT_CASES)
def test_points_bad_input(provider, pscene, algorithm, kind):
    make, _ = POINT_ALGORITHMS[algorithm]
    params = make(pscene)
    name = POINT_BAD["load_points" if algorithm == "load_points" else "layer"][kind]
    params["INPUT"] = str(pscene["in"] / name)
    match = {("points_to_grid", "no_columns"): r"FIELD = 'velocity': the point layer has no such",
             ("points_rereference", "all_empty"): r"REFERENCE_POINT = .*have no value",
             ("load_points", "all_empty"): r"INPUT \(pts_allempty\.csv\).*empty coordinates",
             }.get((algorithm, kind), {
                 "missing": r"INPUT = .*does not exist", "empty": r"INPUT = .*empty",
                 "no_columns": r"INPUT = .*(X_FIELD column|no date fields|neither a velocity)",
                 "all_empty": r"INPUT = .*(is empty \(NaN\)|values empty)",
                 "garbled": r"INPUT\b.*(not a text \(UTF-8\) CSV|cannot open it)",
             }.get(kind, r"INPUT\b.*(cannot|not a|damaged|truncated)"))
    _run_checked(algorithm, params, pscene, match=match)


@pytest.mark.parametrize("algorithm, target", [("load_points", "pts.csv")] + [
    (a, "pts.gpkg") for a in sorted(POINT_ALGORITHMS)])
def test_points_output_equal_to_an_input_is_refused(provider, pscene, algorithm, target):
    """A GeoPackage (or the grid) written over the input CSV or GeoPackage (issue 16 item 1)."""
    make, outputs = POINT_ALGORITHMS[algorithm]
    params = dict(make(pscene), INPUT=pscene[target])
    params[outputs[0]] = pscene[target]
    _run_checked(algorithm, params, pscene, match=rf"{outputs[0]} = .* is INPUT, an input")


def test_points_two_outputs_on_one_path_are_refused(provider, pscene):
    params = _points_to_grid(pscene)
    params["COUNT"] = params["OUTPUT"]
    _run_checked("points_to_grid", params, pscene, match=r"(OUTPUT and COUNT|COUNT and OUTPUT) both write")


@pytest.mark.parametrize("algorithm", sorted(POINT_ALGORITHMS))
def test_points_read_only_output_folder_is_refused(provider, pscene, algorithm, monkeypatch):
    make, outputs = POINT_ALGORITHMS[algorithm]
    _run_with_read_only_outputs(algorithm, make(pscene), pscene, outputs, monkeypatch)


@pytest.mark.parametrize("algorithm", ["points_rereference", "points_to_grid", "points_velocity"])
def test_point_layer_without_crs(provider, pscene, algorithm):
    """A layer without CRS: the metre-based algorithms refuse it naming INPUT and the CRS;
    the velocity (no geometry involved) is computed."""
    make, _ = POINT_ALGORITHMS[algorithm]
    params = dict(make(pscene), INPUT=pscene["pts_nocrs.gpkg"])
    if algorithm == "points_velocity":
        _run_checked(algorithm, params, pscene, expect_error=False)
    else:
        _run_checked(algorithm, params, pscene, match=r"INPUT = .*the point layer has no CRS")


# --- displacement:geocode: a 24 x 24 raster in radar geometry (no CRS) placed by LATITUDE
# and LONGITUDE rasters, and one file per bad class (radar geometry too, so that the bad
# class, not the CRS, is what the run meets) ------------------------------------------------
LON0, LAT0, STEP = -155.30, 19.40, 0.0003      # degrees; 0.0003 deg ~ 31 m north, 33 m east
RADAR = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def _radar_lonlat(n=N):
    rr, cc = np.mgrid[0:n, 0:n] + 0.5
    return LON0 + STEP * (cc + 0.1 * rr), LAT0 - STEP * (rr - 0.05 * cc)


def _radar_value(lon, lat):
    """Linear in lon/lat: bilinear geocoding reproduces it inside the footprint."""
    return 1000.0 * (lon - LON0) - 400.0 * (lat - LAT0)


def _radar_raster(path, values, data_type=gdal.GDT_Float32, nodata=None, compress=True):
    options = ["COMPRESS=DEFLATE"] if compress else []
    ds = gdal.GetDriverByName("GTiff").Create(str(path), values.shape[1], values.shape[0], 1,
                                              data_type, options)
    band = ds.GetRasterBand(1)
    if nodata is not None:
        band.SetNoDataValue(nodata)
    band.WriteArray(values)
    ds = None
    return str(path)


@pytest.fixture(scope="module")
def geocode_template(tmp_path_factory):
    src = tmp_path_factory.mktemp("bad_geocode") / "in"
    src.mkdir()
    lon, lat = _radar_lonlat()
    _radar_raster(src / "radar.tif", _radar_value(lon, lat).astype(np.float32))
    _radar_raster(src / "lat.tif", lat, gdal.GDT_Float64)
    _radar_raster(src / "lon.tif", lon, gdal.GDT_Float64)
    _radar_raster(src / "lat_nan.tif", np.full((N, N), np.nan))
    _radar_raster(src / "lat_small.tif", _radar_lonlat(N - 4)[1], gdal.GDT_Float64)
    _radar_raster(src / "lon_small.tif", _radar_lonlat(N - 4)[0], gdal.GDT_Float64)
    (src / "empty.tif").write_bytes(b"")
    (src / "text.tif").write_text("station,lon,lat\nA,1,2\n")
    (src / "annotation.xml").write_text("<product><adsHeader/></product>\n")
    _radar_raster(src / "all_nan.tif", np.full((N, N), np.nan, np.float32))
    _radar_raster(src / "nodata.tif", np.full((N, N), -9999, np.int16), gdal.GDT_Int16, -9999)
    noise = np.random.default_rng(1).normal(size=(N, N)).astype(np.float32)
    _radar_raster(src / "truncated.tif", noise, compress=False)
    data = (src / "truncated.tif").read_bytes()
    (src / "truncated.tif").write_bytes(data[:len(data) - 4 * N * N + 100])   # header kept
    return src


@pytest.fixture
def gscene(geocode_template, tmp_path):
    return _raster_scene(geocode_template, tmp_path)


def _geocode(s):
    return {"INPUT": s["radar"], "LATITUDE": s["lat"], "LONGITUDE": s["lon"],
            "OUTPUT": _o(s, "geo.tif")}


def test_geocode_good_inputs_run(provider, gscene):
    """The baseline: the linear field comes back at the output pixel centres (WGS 84)."""
    feedback = recording_feedback()
    result, _ = _run_checked("geocode", _geocode(gscene), gscene, expect_error=False,
                             feedback=feedback)
    got = read_block(result["OUTPUT"]).astype(np.float64)
    ds = gdal.Open(result["OUTPUT"])
    gt = ds.GetGeoTransform()
    ds = None
    lon, lat = np.meshgrid(gt[0] + (np.arange(got.shape[1]) + 0.5) * gt[1],
                           gt[3] + (np.arange(got.shape[0]) + 0.5) * gt[5])
    valid = np.isfinite(got)
    assert 0.5 < valid.mean() < 1.0
    # inside the hull of the geolocated pixel centres (radar positions 0.5 .. N - 0.5; the
    # outer half pixel repeats the edge value), the linear field is reproduced
    a, b = (lon - LON0) / STEP, (LAT0 - lat) / STEP       # a = c + 0.1 r, b = r - 0.05 c
    col = (a - 0.1 * b) / 1.005
    row = b + 0.05 * col
    inside = (col > 0.5) & (col < N - 0.5) & (row > 0.5) & (row < N - 0.5)
    assert inside.sum() > 400 and valid[inside].all()
    assert np.abs(got - _radar_value(lon, lat))[inside].max() < 1e-3
    assert any(re.search(r"\d+ valid pixels of \d+", line) for line in feedback.lines)


@pytest.mark.parametrize("kind", BAD_FILES)
def test_geocode_bad_input(provider, gscene, kind):
    params = dict(_geocode(gscene), INPUT=gscene["bad"][kind])
    match = {"truncated": r"INPUT\b.*truncated\.tif.*(damaged|IReadBlock failed)",
             "all_nan": r"INPUT \(all_nan\.tif\): every value is nodata or NaN",
             "nodata_only": r"INPUT \(nodata\.tif\): every value is nodata or NaN"}.get(kind, "INPUT")
    _run_checked("geocode", params, gscene, match=match)


@pytest.mark.parametrize("parameter, kind, match", [
    ("LATITUDE", "missing", r"LATITUDE\b"),
    ("LONGITUDE", "missing", r"LONGITUDE\b"),
    ("LATITUDE", "lat_nan", r"LATITUDE\b.*(NaN|nodata|no valid)"),
    ("LATITUDE", "lat_small", r"LATITUDE is 20 x 20 pixels but LONGITUDE is 24 x 24"),
    ("LONGITUDE", "lat_small", r"LATITUDE is 24 x 24 pixels but LONGITUDE is 20 x 20"),
    ("LATITUDE", "truncated", r"LATITUDE\b.*truncated\.tif"),
])
def test_geocode_bad_geolocation(provider, gscene, parameter, kind, match):
    bad = str(gscene["in"] / "missing.tif") if kind == "missing" else gscene[kind]
    params = dict(_geocode(gscene), **{parameter: bad})
    _run_checked("geocode", params, gscene, match=match)


def test_geocode_geolocation_of_another_size_than_input_is_refused(provider, gscene):
    """A 20 x 20 LATITUDE/LONGITUDE pair for a 24 x 24 INPUT without radar_pixel_geotransform
    (e.g. the geometry of a multilooked grid): where INPUT's pixels are is unknown."""
    params = dict(_geocode(gscene), LATITUDE=gscene["lat_small"], LONGITUDE=gscene["lon_small"])
    _run_checked("geocode", params, gscene,
                 match=r"LATITUDE/LONGITUDE are 20 x 20 pixels but INPUT is 24 x 24.*"
                       r"radar_pixel_geotransform")


@pytest.mark.parametrize("change, match", [
    ({"LONGITUDE": None}, r"Geolocation given: LATITUDE\. latitude and longitude rasters go "
                          r"together: give both"),
    ({"LATITUDE": None}, r"Geolocation given: LONGITUDE\. latitude and longitude rasters go"),
    ({"ANNOTATION": "annotation"}, r"Geolocation given: LATITUDE, LONGITUDE, ANNOTATION\. give "
                                   r"exactly one geolocation"),
    ({"LATITUDE": None, "LONGITUDE": None, "DEM_PAR": "text"},
     r"Geolocation given: DEM_PAR\. a GAMMA lookup table needs its DEM parameter file"),
    ({"LATITUDE": None, "LONGITUDE": None, "ANNOTATION": "missing"}, r"ANNOTATION = .*does not exist"),
    ({"LATITUDE": None, "LONGITUDE": None, "ANNOTATION": "text"}, r"ANNOTATION = .*cannot open it"),
    ({"LATITUDE": None, "LONGITUDE": None, "ANNOTATION": "empty"}, r"ANNOTATION = .*empty"),
    ({"LATITUDE": None, "LONGITUDE": None, "LOOKUP_TABLE": "text"},
     r"Geolocation given: LOOKUP_TABLE\. a GAMMA lookup table needs its DEM parameter file"),
    ({"LATITUDE": None, "LONGITUDE": None, "ANNOTATION": "annotation"},
     r"ANNOTATION = .*geolocationGrid has 0 points"),
    ({"LATITUDE": None, "LONGITUDE": None, "LOOKUP_TABLE": "empty", "DEM_PAR": "text"},
     r"DEM_PAR = .*GAMMA DEM parameter 'width' is missing"),
])
def test_geocode_bad_geolocation_files(provider, gscene, change, match):
    """A half pair, two geolocations, and the other geolocation files missing or not what
    they claim to be (a text file as annotation, DEM .par or lookup table)."""
    params = _geocode(gscene)
    for name, key in change.items():
        if key is None:
            params.pop(name)
        else:
            params[name] = gscene["bad"]["missing"] if key == "missing" else gscene[key]
    _run_checked("geocode", params, gscene, match=match)


@pytest.mark.parametrize("target", ["INPUT", "LATITUDE", "LONGITUDE"])
def test_geocode_output_equal_to_an_input_is_refused(provider, gscene, target):
    params = _geocode(gscene)
    params["OUTPUT"] = params[target]
    _run_checked("geocode", params, gscene, match=rf"OUTPUT = .* is {target}, an input")


def test_geocode_read_only_output_folder_is_refused(provider, gscene, monkeypatch):
    locked = gscene["out"] / "locked"
    locked.mkdir()
    os.chmod(locked, stat.S_IRUSR | stat.S_IXUSR)
    if os.geteuid() == 0:
        real_access = os.access
        monkeypatch.setattr(base_module.os, "access", lambda p, mode: real_access(p, mode) and not (
            mode & os.W_OK and os.path.realpath(p) == os.path.realpath(locked)))
    params = dict(_geocode(gscene), OUTPUT=str(locked / "geo.tif"))
    try:
        _, message = _run_checked("geocode", params, gscene, match=r"OUTPUT = .*not writable")
    finally:
        os.chmod(locked, stat.S_IRWXU)
    assert _files(locked) == {}
    assert "partial" not in message


def test_geocode_beyond_the_size_limit_is_refused(provider, gscene, monkeypatch):
    monkeypatch.setenv(MAX_VALUES_ENV, "3")
    _run_checked("geocode", _geocode(gscene), gscene, match=MAX_VALUES_ENV)


def test_geocode_tiny_resolution_is_refused(provider, gscene):
    """RESOLUTION = 0.001 m on a ~750 m footprint plans ~10^12 pixels: refused up front."""
    params = dict(_geocode(gscene), RESOLUTION=0.001)
    _run_checked("geocode", params, gscene,
                 match=r"RESOLUTION = 0\.001 m: the target grid would have \d{6} x \d{6} pixels")
