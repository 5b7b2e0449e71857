"""core/execution.py: local and Dask engines, and a block-wise algorithm on a real local
Dask cluster (scheduler + 2 worker processes), including a worker killed mid-run."""

import datetime as dt
import os
import threading
import time

import numpy as np
import pytest

from displacement_toolkit.core import decomposition as D
from displacement_toolkit.core import execution as X
from displacement_toolkit.core import los as L
from displacement_toolkit.core import timeseries as TS
from displacement_toolkit.core.progress import Monitor, OperationCancelled
from displacement_toolkit.core.raster_io import crs_from_epsg, read_block, write_array

from ..dask_cluster import local_cluster

GT = (500000.0, 30.0, 0.0, 2100000.0, 0.0, -30.0)


def _square(x):
    return x * x


def _slow_identity(x):
    time.sleep(0.05)
    return x


def _fails_on_three(x):
    if x == 3:
        raise ValueError("task 3 failed")
    return x


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_local_engine_returns_results_in_task_order(threads):
    engine = X.LocalEngine(threads)
    assert list(engine.map(_square, range(25))) == [i * i for i in range(25)]
    assert sum(engine.tasks_by_worker.values()) == 25


def _thread_name(x):
    time.sleep(0.01)
    return x, threading.current_thread().name


def test_neighbouring_tasks_run_in_runs_on_one_thread():
    """Tasks that share input tiles with the next: runs of IN_FLIGHT_PER_WORKER consecutive
    tasks on one thread, the runs taking turns over the threads, results in task order."""
    engine = X.LocalEngine(2)
    results = list(engine.map(_thread_name, range(12), neighbours=True))
    assert [x for x, _ in results] == list(range(12))
    runs = [{name for _, name in results[k:k + X.IN_FLIGHT_PER_WORKER]}
            for k in range(0, 12, X.IN_FLIGHT_PER_WORKER)]
    assert all(len(names) == 1 for names in runs)
    assert [names.pop() for names in runs] == [results[0][1], results[X.IN_FLIGHT_PER_WORKER][1]] * 3
    assert results[0][1] != results[X.IN_FLIGHT_PER_WORKER][1]
    assert sum(engine.tasks_by_worker.values()) == 12
    with pytest.raises(ValueError, match="task 3 failed"):
        list(engine.map(_fails_on_three, range(10), neighbours=True))
    # the next map without neighbours takes one shared queue again
    assert list(engine.map(_square, range(5))) == [0, 1, 4, 9, 16]


def test_local_engine_keeps_at_most_two_tasks_per_thread_in_flight():
    pulled = []

    def tasks():
        for i in range(40):
            pulled.append(i)
            yield i

    engine = X.LocalEngine(2)
    seen = 0
    for result in engine.map(_slow_identity, tasks()):
        # when result k is handed over, at most 2 x 2 tasks beyond it have been taken
        assert len(pulled) <= result + 1 + X.IN_FLIGHT_PER_WORKER * 2
        seen += 1
    assert seen == 40


def test_local_engine_cancel_stops_within_a_second():
    cancel_at = []

    def is_cancelled():
        return bool(cancel_at) and time.monotonic() >= cancel_at[0]

    def slow(x):
        time.sleep(0.3)
        return x

    engine = X.LocalEngine(2)
    start = time.monotonic()
    cancel_at.append(start + 0.5)
    with pytest.raises(OperationCancelled):
        for _ in engine.map(slow, range(1000), Monitor(is_cancelled=is_cancelled)):
            pass
    assert time.monotonic() - cancel_at[0] < 1.0


@pytest.mark.parametrize("threads", [1, 2])
def test_running_tasks_stop_at_their_next_cancel_point(threads):
    steps = []
    cancel = threading.Event()

    def long_task(x):
        for _ in range(200):               # 2 s of work in units of 10 ms
            X.cancel_point()
            steps.append(x)
            time.sleep(0.01)
            if len(steps) == 20:
                cancel.set()
        return x

    with pytest.raises(OperationCancelled):
        list(X.LocalEngine(threads).map(long_task, range(4), Monitor(is_cancelled=cancel.is_set)))
    done = len(steps)
    time.sleep(0.1)
    assert 20 <= done <= 20 + 2 * threads and len(steps) == done   # nothing runs on
    X.cancel_point()                       # outside a task: no monitor, nothing raised


def test_task_error_is_raised_to_the_caller():
    with pytest.raises(ValueError, match="task 3 failed"):
        list(X.LocalEngine(2).map(_fails_on_three, range(10)))


def test_threads_from_the_environment(monkeypatch):
    monkeypatch.setenv(X.THREADS_ENV, "1")
    monkeypatch.delenv(X.SCHEDULER_ENV, raising=False)
    engine = X.engine_from_environment()
    assert isinstance(engine, X.LocalEngine) and engine.workers == 1
    monkeypatch.setenv(X.THREADS_ENV, "two")
    with pytest.raises(ValueError, match="DISPLACEMENT_TOOLKIT_THREADS='two'"):
        X.engine_from_environment()


def test_unreachable_scheduler_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(X.SCHEDULER_ENV, "tcp://127.0.0.1:9")   # discard port: nothing listens
    engine = X.engine_from_environment()
    assert isinstance(engine, X.DaskEngine)
    engine.connect_timeout = 1.0
    with pytest.raises(ValueError, match="cannot reach the Dask scheduler 'tcp://127.0.0.1:9'"):
        list(engine.map(_square, range(3)))


@pytest.mark.parametrize("height,row_bytes,workers,expected", [
    (6000, 6000 * 24, 2, 256),        # 466 rows fit: cut down to one row of tiles
    (1500, 240_000, 2, 256),          # 279 rows fit
    (1500, 4000, 2, 768),             # everything fits: an even share per worker, on tiles
    (1500, 4000, 1, 1500),
    (100, 4000, 2, 100),              # smaller than a tile: one task
    (1000, 376_000, 2, 256),          # 178 rows fit: one row of tiles within two budgets
    (10_000, 1_000_000, 2, 67),       # less than half a tile fits: the budget wins
])
def test_task_rows_are_cut_on_tiles_within_the_budget(height, row_bytes, workers, expected):
    rows = X.task_rows(height, row_bytes, workers)
    assert rows == expected
    assert rows * row_bytes <= X.TASK_BYTES or rows == 1 or \
        (rows == 256 and rows * row_bytes <= X.TILE_ROW_STRETCH * X.TASK_BYTES)


def test_outputs_are_compressed_on_the_engine_threads(monkeypatch):
    from displacement_toolkit.core.raster_io import compression_threads_option

    monkeypatch.setenv(X.THREADS_ENV, "1")
    assert compression_threads_option() == []
    monkeypatch.setenv(X.THREADS_ENV, "3")
    assert compression_threads_option() == ["NUM_THREADS=3"]
    assert compression_threads_option(2) == ["NUM_THREADS=2"]


def _blas_threads(_task):
    from threadpoolctl import threadpool_info

    return max(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")


@pytest.mark.parametrize("threads", [1, 2])
def test_local_tasks_run_with_one_blas_thread(threads):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=2, user_api="blas"):
        assert _blas_threads(None) == 2
        seen = list(X.LocalEngine(threads).map(_blas_threads, range(4)))
        assert seen == [1, 1, 1, 1]        # the engine's threads do not each start BLAS threads
        assert _blas_threads(None) == 2    # and the limit ends with the run


def test_sources_carry_absolute_paths_for_workers_in_other_folders(tmp_path, monkeypatch):
    write_array(str(tmp_path / "rel.tif"), np.ones((4, 4), np.float32), GT, crs_from_epsg(32605))
    monkeypatch.chdir(tmp_path)
    assert X.BandSource("rel.tif").path == str(tmp_path / "rel.tif")
    assert X.BandSource("/vsimem/x.tif").path == "/vsimem/x.tif"


def test_the_bands_of_one_file_share_one_open_dataset(tmp_path):
    """A 40-date series in one file: every band is read through one dataset per thread (the
    cache once held a reader per band and was emptied beyond 32, reopening the file for every
    block: 7x slower velocity fits)."""
    path = str(tmp_path / "series.tif")
    write_array(path, np.arange(40 * 16, dtype=np.float32).reshape(40, 4, 4), GT,
                crs_from_epsg(32605))
    X.release_readers()
    readers = [X._reader(X.BandSource(path, b)) for b in range(1, 41)]
    assert len({id(r.dataset) for r in readers}) == 1
    assert [float(X.BandSource(path, b).read(0, 4)[0, 0]) for b in (1, 40)] == [0.0, 624.0]
    X.release_readers()


def test_cached_reader_sees_a_file_rewritten_at_the_same_path(tmp_path):
    path = str(tmp_path / "a.tif")
    write_array(path, np.ones((8, 8), np.float32), GT, crs_from_epsg(32605))
    source = X.BandSource(path)
    assert float(source.read(0, 8).sum()) == 64.0
    time.sleep(0.01)
    write_array(path, np.full((8, 8), 2.0, np.float32), GT, crs_from_epsg(32605))
    assert float(source.read(0, 8).sum()) == 128.0
    X.release_readers()


def _los_scene(tmp_path, size=160):
    rng = np.random.default_rng(1)
    los = rng.normal(0.0, 0.02, (size, size)).astype(np.float32)
    los[5:9, 10:30] = np.nan
    inc = np.linspace(30.0, 45.0, size, dtype=np.float32)[None, :].repeat(size, 0)
    crs = crs_from_epsg(32605)
    write_array(str(tmp_path / "los.tif"), los, GT, crs)
    # the incidence on a coarser grid: resampled in the workers
    coarse = inc[::4, ::4]
    write_array(str(tmp_path / "inc.tif"), coarse, (GT[0], 120.0, 0.0, GT[3], 0.0, -120.0), crs)
    return str(tmp_path / "los.tif"), str(tmp_path / "inc.tif")


def _decompose(tmp_path, engine, tag):
    crs = crs_from_epsg(32605)
    rng = np.random.default_rng(2)
    asc, desc = (rng.normal(0, 0.01, (96, 120)).astype(np.float32) for _ in range(2))
    write_array(str(tmp_path / "asc.tif"), asc, GT, crs)
    # the descending track on a shifted, coarser grid: resampled in the workers
    write_array(str(tmp_path / "desc.tif"), desc[::2, ::2],
                (GT[0] + 15.0, 60.0, 0.0, GT[3] - 15.0, 0.0, -60.0), crs)
    obs = [D.Observation(str(tmp_path / "asc.tif"), incidence=34.0, heading=-12.0, name="A"),
           D.Observation(str(tmp_path / "desc.tif"), incidence=39.0, heading=-168.0, name="D")]
    outputs = {"east": str(tmp_path / f"east_{tag}.tif"), "up": str(tmp_path / f"up_{tag}.tif"),
               "sigma": str(tmp_path / f"sigma_{tag}.tif")}
    D.decompose(obs, outputs, block_pixels=120 * 8, engine=engine)
    return [read_block(outputs[k], b) for k, b in (("east", 1), ("up", 1), ("sigma", 2))]


def _velocity(tmp_path, engine, tag):
    crs = crs_from_epsg(32605)
    rng = np.random.default_rng(3)
    days = [dt.date(2020, 1, 1) + dt.timedelta(days=12 * k) for k in range(15)]
    paths = []
    for k, day in enumerate(days):
        path = tmp_path / f"d_{day:%Y%m%d}.tif"
        if not path.exists():
            write_array(str(path), (0.01 * k + rng.normal(0, 0.002, (64, 50))).astype(np.float32),
                        GT, crs, band_metadata=[{"units": "m", "date": day.isoformat()}])
        paths.append(str(path))
    stack = TS.open_stack(paths)
    out = str(tmp_path / f"velocity_{tag}.tif")
    sigma = str(tmp_path / f"vsigma_{tag}.tif")
    TS.timeseries_velocity(stack, days[0], days[-1], out, sigma, seasonal=True, engine=engine)
    stack.close()
    return [read_block(out), read_block(sigma)]


def _series_decompose(tmp_path, engine, tag):
    crs = crs_from_epsg(32605)
    rng = np.random.default_rng(4)
    tracks = []
    for name, first, step, heading, gt in (
            ("asc", dt.date(2021, 1, 1), 12, -12.0, GT),
            ("dsc", dt.date(2021, 1, 4), 12, -168.0, (GT[0] + 45.0, 60.0, 0, GT[3] - 45.0, 0, -60.0))):
        path = tmp_path / f"{name}_series.tif"
        if not path.exists():
            days = [first + dt.timedelta(days=step * k) for k in range(8)]
            shape = (40, 60) if name == "asc" else (20, 30)
            cube = np.stack([0.004 * k + rng.normal(0, 0.001, shape) for k in range(8)])
            write_array(str(path), cube.astype(np.float32), gt, crs,
                        band_metadata=[{"units": "m", "date": d.isoformat()} for d in days])
        tracks.append(TS.Track([str(path)], incidence=36.0 if name == "asc" else 41.0,
                               heading=heading, sigma=0.002))
    east, up = str(tmp_path / f"ts_east_{tag}.tif"), str(tmp_path / f"ts_up_{tag}.tif")
    sigma_up = str(tmp_path / f"ts_sigma_up_{tag}.tif")
    TS.timeseries_decompose(tracks, east, up, sigma_up_path=sigma_up, engine=engine)
    return [read_block(east, 5), read_block(up, 5), read_block(sigma_up, 5)]


def _offsets(tmp_path, engine, tag):
    from displacement_toolkit.core import offset_tracking as OT
    from displacement_toolkit.core import synthetic_sar as S

    ref, sec = tmp_path / "slc_ref.tif", tmp_path / "slc_sec.tif"
    if not ref.exists():
        dx, dy = S.uniform_field((260, 300), 0.31, -0.27)
        a, b = S.speckle_pair((260, 300), dx, dy, coherence=0.9, seed=5)
        write_array(str(ref), a, (0, 1, 0, 0, 0, -1), "")
        write_array(str(sec), b, (0, 1, 0, 0, 0, -1), "")
    res = OT.track_offsets(str(ref), str(sec), OT.TrackingParameters(
        window_x=32, window_y=32, step_x=16, step_y=16, snr_threshold=5.0), engine=engine)
    assert np.nanmedian(res.dx) == pytest.approx(0.31, abs=0.02)
    return [res.dx, res.dy, res.snr, res.sigma_x]


def _los(tmp_path, engine, tag, monitor=None):
    los, inc = _los_scene(tmp_path)
    out = str(tmp_path / f"vertical_{tag}.tif")
    L.los_to_direction(los, out, incidence=inc, rows_per_block=8, engine=engine, monitor=monitor)
    return [read_block(out)]


def _same(a, b):
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert any(np.isfinite(x).sum() > 0.5 * x.size for x in a)


ALGORITHMS = (("los", _los), ("decompose", _decompose), ("velocity", _velocity),
              ("series_decompose", _series_decompose), ("offset_tracking", _offsets))


def test_block_algorithms_on_a_dask_cluster_equal_the_local_run(tmp_path):
    """los_to_vertical, decompose, timeseries_velocity, timeseries_decompose and offset
    tracking through a scheduler and two worker processes: identical outputs, every block (or
    tile of windows) computed on the workers."""
    expected = {name: run(tmp_path, X.LocalEngine(1), "local")
                for name, run in ALGORITHMS}
    here = f":{os.getpid()}"
    with local_cluster(workers=2) as cluster:
        for name, run in ALGORITHMS:
            engine = X.DaskEngine(cluster.address)
            assert "2 worker(s)" in engine.describe()
            _same(run(tmp_path, engine, "cluster"), expected[name])
            assert engine.tasks_by_worker and not any(w.endswith(here)
                                                      for w in engine.tasks_by_worker), name


def test_a_worker_killed_mid_run_has_its_tasks_recomputed(tmp_path):
    expected = _los(tmp_path, X.LocalEngine(1), "local")
    with local_cluster(workers=2) as cluster:
        killed = []

        def progress(fraction):
            if not killed and fraction > 0:
                cluster.kill_worker(0)
                killed.append(fraction)

        engine = X.DaskEngine(cluster.address)
        result = _los(tmp_path, engine, "after_kill", Monitor(progress=progress))
        assert killed and killed[0] < 0.5
        assert cluster.workers[0].wait(timeout=10) is not None   # it is dead
        _same(result, expected)
        assert sum(engine.tasks_by_worker.values()) == 20

        # cancel from the caller: the cluster's pending tasks are cancelled, no output is left
        out = tmp_path / "cancelled.tif"
        started = []

        def cancelled():
            started.append(time.monotonic())
            return len(started) > 3
        with pytest.raises(OperationCancelled):
            L.los_to_direction(str(tmp_path / "los.tif"), str(out), incidence=str(tmp_path / "inc.tif"),
                               rows_per_block=1, engine=X.DaskEngine(cluster.address),
                               monitor=Monitor(is_cancelled=cancelled))
        assert time.monotonic() - started[3] < 1.0
        assert not out.exists() and not list(tmp_path.glob(".cancelled.tif*"))


def test_task_windows_cut_tiles_of_columns_only_when_a_row_of_tiles_is_too_wide():
    # a 6000-column grid at 56 bytes per pixel: full-width rows of tiles (as task_rows)
    assert X.task_windows(1000, 6000, 56, 2) == [(0, 256, 0, 6000), (256, 256, 0, 6000),
                                                 (512, 256, 0, 6000), (768, 232, 0, 6000)]
    # a continental 40 000-column grid: one row of tiles is 573 MB, over two 64 MiB budgets;
    # tasks of one row of tiles by 4 608 columns (66 MB at most), the last one narrower
    windows = X.task_windows(600, 40_000, 56, 2)
    assert windows[:2] == [(0, 256, 0, 4608), (0, 256, 4608, 4608)]
    assert windows[-1] == (512, 88, 36_864, 3136)
    covered = np.zeros((600, 40_000), bool)
    for row, rows, col, cols in windows:
        assert row % 256 == 0 and col % 256 == 0 and rows * cols * 56 <= X.TASK_BYTES
        assert not covered[row:row + rows, col:col + cols].any()
        covered[row:row + rows, col:col + cols] = True
    assert covered.all()
