"""Where Processing runs block-wise work: DISPLACEMENT_TOOLKIT_SCHEDULER (environment) or the
provider's setting sends los_to_vertical to a real local Dask cluster; the log says where the
work ran, and the output equals the local run's."""

import numpy as np

from displacement_toolkit.core import execution
from displacement_toolkit.core.raster_io import read_block

from ..conftest import recording_feedback, run_algorithm
from ..dask_cluster import local_cluster

ALG = "displacement:los_to_vertical"


def test_scheduler_setting_and_environment_send_the_work_to_the_cluster(provider, make_raster,
                                                                         tmp_path, monkeypatch):
    from processing.core.ProcessingConfig import ProcessingConfig

    from displacement_toolkit.processing_provider.provider import SCHEDULER_SETTING

    data = np.linspace(-0.05, 0.05, 300 * 40, dtype=np.float32).reshape(300, 40)
    path = make_raster(data, "los.tif", band_metadata=[{"units": "m"}])
    monkeypatch.delenv(execution.SCHEDULER_ENV, raising=False)
    monkeypatch.setenv(execution.THREADS_ENV, "1")
    local = recording_feedback()
    expected = read_block(run_algorithm(ALG, {"INPUT": path, "INCIDENCE_ANGLE": 38.5,
                                              "OUTPUT": str(tmp_path / "local.tif")}, local)["OUTPUT"])
    assert any(line.startswith("work runs on: local, 1 thread") for line in local.lines)

    with local_cluster(workers=2) as cluster:
        monkeypatch.setenv(execution.SCHEDULER_ENV, cluster.address)
        remote = recording_feedback()
        out = run_algorithm(ALG, {"INPUT": path, "INCIDENCE_ANGLE": 38.5,
                                  "OUTPUT": str(tmp_path / "cluster.tif")}, remote)["OUTPUT"]
        np.testing.assert_array_equal(read_block(out), expected)
        assert any(f"work runs on: Dask scheduler {cluster.address}, 2 worker(s)" in line
                   for line in remote.lines)
        done = [line for line in remote.lines if line.startswith("work done:")]
        assert done and "worker(s)" in done[0]

        # the same through Processing › Options › Providers (environment unset)
        monkeypatch.delenv(execution.SCHEDULER_ENV)
        ProcessingConfig.setSettingValue(SCHEDULER_SETTING, cluster.address)
        try:
            provider.refreshAlgorithms()
            assert execution.scheduler_address() == cluster.address
            via_setting = recording_feedback()
            run_algorithm(ALG, {"INPUT": path, "INCIDENCE_ANGLE": 38.5,
                                "OUTPUT": str(tmp_path / "setting.tif")}, via_setting)
            assert any(f"Dask scheduler {cluster.address}" in line for line in via_setting.lines)
        finally:
            ProcessingConfig.setSettingValue(SCHEDULER_SETTING, "")
            provider.refreshAlgorithms()
    assert execution.scheduler_address() is None


def test_provider_unload_tolerates_a_setting_already_removed(qgis_processing):
    """QGIS may unload a provider after its setting is gone (seen at desktop exit as
    ``KeyError: 'DISPLACEMENT_TOOLKIT_SCHEDULER'`` in a Python error dialog): unload never raises."""
    from processing.core.ProcessingConfig import ProcessingConfig

    from displacement_toolkit.processing_provider.provider import SCHEDULER_SETTING, DisplacementProvider

    saved = ProcessingConfig.settings.get(SCHEDULER_SETTING)
    provider = DisplacementProvider()
    try:
        assert provider.load()
        assert SCHEDULER_SETTING in ProcessingConfig.settings
        provider.unload()
        assert SCHEDULER_SETTING not in ProcessingConfig.settings
        provider.unload()   # the setting is already gone
        assert SCHEDULER_SETTING not in ProcessingConfig.settings
    finally:
        if saved is not None:
            ProcessingConfig.addSetting(saved)
