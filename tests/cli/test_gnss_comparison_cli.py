"""gnss_timeseries_comparison through the real qgis_process (repeated INSAR values, .tenv3 folder)."""

import glob
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.cli

HAWAII = Path(__file__).resolve().parents[1] / "data" / "geepers_hawaii"


def test_qgis_process_runs_the_kilauea_comparison(qgis_process, tmp_path):
    data = tmp_path / "geepers_hawaii"  # a copy: QGIS writes .aux.xml next to loaded rasters
    shutil.copytree(HAWAII, data)
    rasters = sorted(glob.glob(str(data / "hawaii" / "displacement_*.tif")))
    report = tmp_path / "kilauea.html"
    args = [f"INSAR={p}" for p in rasters] + [
        f"GNSS_FOLDER={data / 'unr_tenv3'}", f"LOS_ENU={data / 'hawaii' / 'hawaii_los_enu.tif'}",
        "REFERENCE=2", "DAY_WINDOW=3", f"OUTPUT={tmp_path / 'stations.gpkg'}", f"OUTPUT_REPORT={report}"]
    out = qgis_process("run", "displacement:gnss_timeseries_comparison", "--", *args, json_output=True)
    results = out["results"]
    assert results["N"] == 35
    assert results["RMSE"] == pytest.approx(12.17, abs=0.3)  # mm
    assert results["REFERENCE_DATE"] == "2016-07-11"
    assert "data:image/png;base64," in report.read_text()
    assert (tmp_path / "stations.gpkg").exists()
