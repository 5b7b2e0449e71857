"""displacement:timeseries_velocity through processing.run: a synthetic series with known
velocity, seasonal terms and a step; the Kilauea series; styling; bad input."""

import datetime as dt
import glob
import re

import numpy as np
import pytest
from qgis.core import QgsProcessingException

from displacement_toolkit.core.raster_io import raster_info, read_block
from displacement_toolkit.processing_provider.timeseries_velocity import TimeseriesVelocity

from ..conftest import TEST_DATA, run_algorithm

KILAUEA = sorted(glob.glob(str(TEST_DATA / "geepers_hawaii" / "hawaii" / "displacement_*.tif")))


def _series(make_raster, n=50, step_index=None, seasonal=0.0, name="series.tif"):
    d0 = dt.date(2019, 3, 2)
    dates = [d0 + dt.timedelta(days=12 * k) for k in range(n)]
    t = np.array([(d - d0).days / 365.25 for d in dates])
    v = np.linspace(-0.02, 0.03, 8 * 6).reshape(8, 6)
    cube = np.stack([v * tk + seasonal * np.cos(2 * np.pi * tk) for tk in t])
    if step_index is not None:
        cube[step_index:] += 0.015
    meta = [{"date": d.isoformat(), "units": "m", "quantity": "los_displacement"} for d in dates]
    return make_raster(cube.astype(np.float32), name, band_metadata=meta,
                       metadata={"reference_date": d0.isoformat()}), dates, v


def test_known_velocity_with_seasonal_terms_and_a_step(provider, make_raster, tmp_path):
    src, dates, v = _series(make_raster, step_index=27, seasonal=0.006)
    outs = {k: str(tmp_path / f"{k}.tif") for k in ("VELOCITY", "VELOCITY_SIGMA", "RMS_RESIDUAL",
                                                     "STEPS", "ANNUAL_AMPLITUDE")}
    res = run_algorithm(TimeseriesVelocity().create(), {
        "INPUT": [src], "START_DATE": dates[0].isoformat(), "END_DATE": dates[-1].isoformat(),
        "SEASONAL": True, "STEP_DATES": dates[27].strftime("%Y%m%d"), **outs})
    assert read_block(outs["STEPS"]) == pytest.approx(np.full((8, 6), 0.015), abs=3e-6)
    assert read_block(outs["ANNUAL_AMPLITUDE"]) == pytest.approx(np.full((8, 6), 0.006), abs=3e-6)
    assert raster_info(outs["STEPS"]).band_metadata[0]["date"] == dates[27].isoformat()
    assert raster_info(outs["ANNUAL_AMPLITUDE"]).band_metadata[0]["units"] == "m"
    assert res["ACQUISITIONS"] == 50 and res["VALID_PIXELS"] == 48
    assert read_block(outs["VELOCITY"]) == pytest.approx(v, abs=3e-6)
    assert np.max(read_block(outs["RMS_RESIDUAL"])) < 3e-6
    assert raster_info(outs["VELOCITY"]).band_metadata[0]["units"] == "m/yr"
    assert raster_info(outs["VELOCITY_SIGMA"]).band_metadata[0]["units"] == "m/yr"
    assert raster_info(outs["RMS_RESIDUAL"]).band_metadata[0]["units"] == "m"
    assert "step_" + dates[27].isoformat() in raster_info(outs["VELOCITY"]).metadata["model"]
    # styles: diverging for the velocity, sequential (not symmetric) for sigma and RMS
    vel_labels = re.findall(r'label="([^"]*)"', (tmp_path / "VELOCITY.qml").read_text())
    assert all(label.endswith(" m/yr") for label in vel_labels)
    assert vel_labels[len(vel_labels) // 2] == "0 m/yr"
    rms_text = (tmp_path / "RMS_RESIDUAL.qml").read_text()
    assert "#440154" in rms_text and "#2166ac" not in rms_text


def test_without_the_step_the_rms_residual_shows_the_misfit(provider, make_raster, tmp_path):
    src, dates, v = _series(make_raster, step_index=27)
    outs = {k: str(tmp_path / f"{k}.tif") for k in ("VELOCITY", "VELOCITY_SIGMA", "RMS_RESIDUAL")}
    run_algorithm(TimeseriesVelocity().create(), {
        "INPUT": [src], "START_DATE": dates[0].isoformat(), "END_DATE": dates[-1].isoformat(),
        **outs})
    # a 15 mm step fitted by a line leaves the residual of that step alone (the linear part
    # is fitted exactly): its RMS, from the step function itself, at every pixel
    t = np.array([(d - dates[0]).days / 365.25 for d in dates])
    step = 0.015 * (np.arange(50) >= 27)
    A = np.column_stack([np.ones(50), t])
    r = step - A @ np.linalg.lstsq(A, step, rcond=None)[0]
    rms = read_block(outs["RMS_RESIDUAL"])
    assert rms == pytest.approx(np.full(rms.shape, np.sqrt(np.mean(r * r))), rel=1e-3)
    assert np.sqrt(np.mean(r * r)) == pytest.approx(0.015 / 4, rel=0.05)  # h/4 for a mid-series step
    assert np.median(read_block(outs["VELOCITY_SIGMA"])) > 1e-3


def test_kilauea_velocity_over_a_sub_period(provider, tmp_path):
    outs = {k: str(tmp_path / f"{k}.tif") for k in ("VELOCITY", "VELOCITY_SIGMA", "RMS_RESIDUAL")}
    res = run_algorithm(TimeseriesVelocity().create(), {
        "INPUT": KILAUEA, "START_DATE": "2016-07-23", "END_DATE": "2016-09-09", **outs})
    assert res["ACQUISITIONS"] == 4
    t = np.array([0, 12, 24, 48]) / 365.25
    cube = np.stack([read_block(p) for p in KILAUEA[:4]]).reshape(4, -1).astype(np.float64)
    ok = np.isfinite(cube).all(axis=0)
    A = np.column_stack([np.ones(4), t])
    x, *_ = np.linalg.lstsq(A, cube[:, ok], rcond=None)
    vel = read_block(outs["VELOCITY"]).reshape(-1)
    assert np.array_equal(np.isfinite(vel), ok)
    assert vel[ok] == pytest.approx(x[1], rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("params,message", [
    ({"SEASONAL": True}, r"too few for the model .*annual.* at least 7"),
    ({"STEP_DATES": "2016-10-01"}, "STEP_DATES 2016-10-01: the step needs acquisitions both"),
    ({"STEP_DATES": "soon"}, "STEP_DATES = 'soon'"),
    ({"START_DATE": "2016-09-21", "END_DATE": "2016-07-11"}, "is not before END_DATE"),
    ({"START_DATE": "2015-01-01"}, "START_DATE 2015-01-01 is outside the time series"),
    ({"STEPS": "STEPS_PATH"}, "STEPS = .*without STEP_DATES"),
    ({"ANNUAL_AMPLITUDE": "AMP_PATH"}, "ANNUAL_AMPLITUDE = .*needs the seasonal terms"),
])
def test_bad_input_is_a_clear_error_and_nothing_is_written(provider, tmp_path, params, message):
    outs = {k: str(tmp_path / f"{k}.tif") for k in ("VELOCITY", "VELOCITY_SIGMA", "RMS_RESIDUAL")}
    base = {"INPUT": KILAUEA, "START_DATE": "2016-07-11", "END_DATE": "2016-09-21", **outs}
    params = {k: (str(tmp_path / f"{k}.tif") if str(v).endswith("_PATH") else v)
              for k, v in params.items()}
    with pytest.raises(QgsProcessingException, match=message):
        run_algorithm(TimeseriesVelocity().create(), {**base, **params})
    assert not list(tmp_path.iterdir())


def test_cancel_leaves_none_of_the_three_outputs(provider, tmp_path):
    from qgis.core import QgsProcessingFeedback

    outs = {k: str(tmp_path / f"{k}.tif") for k in ("VELOCITY", "VELOCITY_SIGMA", "RMS_RESIDUAL")}
    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda p: feedback.cancel() if p > 0 else None)
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run_algorithm(TimeseriesVelocity().create(), {
            "INPUT": KILAUEA, "START_DATE": "2016-07-11", "END_DATE": "2016-09-21", **outs},
            feedback=feedback)
    assert not list(tmp_path.iterdir())
