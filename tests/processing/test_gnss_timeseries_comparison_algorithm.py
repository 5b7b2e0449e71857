"""displacement:gnss_timeseries_comparison through processing.run on the real Kilauea data
(single-date rasters + .tenv3 files), on a dated multi-band raster and on a MintPy
timeseries.h5; clear errors."""

import glob
import shutil
from pathlib import Path

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsVectorLayer

from displacement_toolkit.core.raster_io import raster_info, read_block, write_array

from ..conftest import run_algorithm

ALG = "displacement:gnss_timeseries_comparison"
DATA = Path(__file__).resolve().parents[1] / "data" / "geepers_hawaii"
HAWAII = RASTERS = TENV3 = LOS_ENU = None


@pytest.fixture(autouse=True, scope="module")
def kilauea_copy(tmp_path_factory):
    """Work on a copy: QGIS writes .aux.xml statistics next to rasters it loads as layers."""
    global HAWAII, RASTERS, TENV3, LOS_ENU
    HAWAII = tmp_path_factory.mktemp("kilauea") / "geepers_hawaii"
    shutil.copytree(DATA, HAWAII)
    RASTERS = sorted(glob.glob(str(HAWAII / "hawaii" / "displacement_*.tif")))
    TENV3 = sorted(glob.glob(str(HAWAII / "unr_tenv3" / "*.tenv3")))
    LOS_ENU = str(HAWAII / "hawaii" / "hawaii_los_enu.tif")
    yield


def test_kilauea_single_date_rasters_and_tenv3_files(provider, tmp_path):
    out, table, report = tmp_path / "st.gpkg", tmp_path / "table.gpkg", tmp_path / "ts.html"
    result = run_algorithm(ALG, {
        "INSAR": RASTERS, "GNSS_FILES": TENV3, "LOS_ENU": LOS_ENU, "REFERENCE": 2,
        "OUTPUT": str(out), "OUTPUT_TABLE": str(table), "OUTPUT_REPORT": str(report)})
    # measured: N = 35, bias 0, RMSE 12.17 mm, r 0.228 (see docs/gnss_comparison.md)
    assert result["N"] == 35
    assert result["RMSE"] == pytest.approx(12.17, abs=0.3)
    assert result["R"] == pytest.approx(0.228, abs=0.03)
    assert result["REFERENCE_DATE"] == "2016-07-11"
    stations = {f["station"]: f for f in QgsVectorLayer(str(out), "s", "ogr").getFeatures()}
    assert len(stations) == 10  # nothing dropped: the 3 without 2016 data are flagged
    assert {s for s, f in stations.items() if f["status"] != "ok"} == {"DVLT", "PUHI", "PUHR"}
    assert all(stations[s]["n_dates"] == 5 for s in ("AHUP", "HLNA", "OUTL"))
    rows = list(QgsVectorLayer(str(table), "t", "ogr").getFeatures())
    assert len(rows) == 10 * 6
    hlna = {r["date"]: r for r in rows if r["station"] == "HLNA"}
    assert hlna["2016-07-11"]["gnss_los"] == pytest.approx(0.0)
    assert hlna["2016-07-23"]["gnss_los"] == pytest.approx(4.11, abs=0.05)
    assert hlna["2016-07-23"]["gnss_days"] == 7
    assert hlna["2016-07-23"]["n_pixels"] > 10  # median of a disc, not one pixel
    # residual column = insar - gnss
    r = hlna["2016-08-16"]
    assert r["residual"] == pytest.approx(r["insar_los"] - r["gnss_los"], abs=1e-9)
    text = report.read_text()
    assert text.count("data:image/png;base64,") == 2 + 7
    assert (tmp_path / "st.qml").exists()


def test_multiband_dated_raster_matches_the_single_date_files(provider, tmp_path):
    stack = np.stack([read_block(p, 1) for p in RASTERS])
    info = raster_info(RASTERS[0])
    dates = ["2016-07-23T16:04:31", "2016-08-04", "2016-08-16", "2016-09-09", "2016-09-21"]
    path = write_array(str(tmp_path / "stack.tif"), stack, info.geotransform, info.crs_wkt,
                       band_metadata=[{"date": d, "units": "m"} for d in dates],
                       metadata={"reference_date": "2016-07-11"})
    result = run_algorithm(ALG, {
        "INSAR": [path], "GNSS_FOLDER": str(HAWAII / "unr_tenv3"), "LOS_ENU": LOS_ENU, "REFERENCE": 3,
        "OUTPUT": str(tmp_path / "p.gpkg")})
    assert result["N"] == 35
    assert result["RMSE"] == pytest.approx(11.13, abs=0.3)  # plane referencing


def test_mintpy_timeseries_h5_is_taken_directly(provider, tmp_path):
    # the same Kilauea maps as a MintPy timeseries.h5 (UTM: EPSG attribute; first slice = the
    # reference date, zeros), given straight to INSAR: the product is read on input
    import h5py

    stack = np.stack([np.zeros_like(read_block(RASTERS[0], 1))] + [read_block(p, 1) for p in RASTERS])
    gt = raster_info(RASTERS[0]).geotransform
    dates = [b"20160711", b"20160723", b"20160804", b"20160816", b"20160909", b"20160921"]
    h5 = tmp_path / "timeseries.h5"
    with h5py.File(h5, "w") as f:
        for k, v in {"FILE_TYPE": "timeseries", "UNIT": "m", "REF_DATE": "20160711",
                     "LENGTH": str(stack.shape[1]), "WIDTH": str(stack.shape[2]),
                     "X_FIRST": repr(gt[0]), "Y_FIRST": repr(gt[3]), "X_STEP": repr(gt[1]),
                     "Y_STEP": repr(gt[5]), "X_UNIT": "meters", "Y_UNIT": "meters",
                     "EPSG": "32605"}.items():
            f.attrs[k] = v
        f.create_dataset("timeseries", data=stack.astype(np.float32))
        f.create_dataset("date", data=np.array(dates))
        f.create_dataset("bperp", data=np.zeros(len(dates), np.float32))
    result = run_algorithm(ALG, {
        "INSAR": [str(h5)], "GNSS_FOLDER": str(HAWAII / "unr_tenv3"), "LOS_ENU": LOS_ENU,
        "REFERENCE": 3, "OUTPUT": str(tmp_path / "h5.gpkg")})
    assert result["REFERENCE_DATE"] == "2016-07-11"
    # the geometry the file records (CENTER_INCIDENCE_ANGLE, HEADING) is the default: the same
    # as giving those angles
    with h5py.File(h5, "a") as f:
        f.attrs.update({"CENTER_INCIDENCE_ANGLE": "36.5", "HEADING": "-168.0", "ANTENNA_SIDE": "-1"})
    common = {"GNSS_FOLDER": str(HAWAII / "unr_tenv3"), "REFERENCE": 3}
    recorded = run_algorithm(ALG, {**common, "INSAR": [str(h5)], "OUTPUT": str(tmp_path / "rec.gpkg")})
    given = run_algorithm(ALG, {**common, "INSAR": [str(h5)], "INCIDENCE_ANGLE": 36.5,
                                "HEADING_ANGLE": -168.0, "OUTPUT": str(tmp_path / "given.gpkg")})
    assert recorded["N"] == given["N"] > 0
    for key in ("RMSE", "BIAS", "R"):
        assert recorded[key] == pytest.approx(given[key], abs=1e-9), key
    # exactly what the five single-date rasters give with the same settings
    files = run_algorithm(ALG, {
        "INSAR": RASTERS, "GNSS_FOLDER": str(HAWAII / "unr_tenv3"), "LOS_ENU": LOS_ENU,
        "REFERENCE": 3, "OUTPUT": str(tmp_path / "files.gpkg")})
    assert result["N"] == files["N"] == 35
    for key in ("RMSE", "BIAS", "R"):
        assert result[key] == pytest.approx(files[key], abs=1e-6), key


def test_errors_are_clear(provider, tmp_path):
    base = {"INSAR": RASTERS, "GNSS_FILES": TENV3, "LOS_ENU": LOS_ENU, "OUTPUT": str(tmp_path / "e.gpkg")}
    with pytest.raises(QgsProcessingException, match="REFERENCE_DATE 2016-07-12 is not an InSAR date"):
        run_algorithm(ALG, {**base, "REFERENCE_DATE": "2016-07-12"})
    with pytest.raises(QgsProcessingException, match="units mismatch"):
        run_algorithm(ALG, {**base, "INSAR_UNITS": 4})
    only_late = [p for p in TENV3 if Path(p).stem in ("DVLT", "PUHI", "PUHR")]
    with pytest.raises(QgsProcessingException, match="no GNSS dates overlapping the InSAR dates: 3"):
        run_algorithm(ALG, {**base, "GNSS_FILES": only_late})
    with pytest.raises(QgsProcessingException, match="reference station HLNAX|'HLNAX' is not among"):
        run_algorithm(ALG, {**base, "REFERENCE": 1, "REFERENCE_STATION": "HLNAX"})
    assert not (tmp_path / "e.gpkg").exists()


def test_cancel_leaves_nothing(provider, tmp_path):
    from qgis.core import QgsProcessingFeedback
    feedback = QgsProcessingFeedback()
    feedback.cancel()
    out, report = tmp_path / "c.gpkg", tmp_path / "c.html"
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run_algorithm(ALG, {"INSAR": RASTERS, "GNSS_FILES": TENV3, "LOS_ENU": LOS_ENU,
                            "OUTPUT": str(out), "OUTPUT_REPORT": str(report)}, feedback=feedback)
    assert not out.exists() and not report.exists()
