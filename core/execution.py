"""Where block-wise work runs: local threads by default, a Dask cluster when asked.

A block-wise core function describes each block as a small picklable *task* (input paths,
a row window, parameters) and hands a module-level function and the tasks to an *engine*;
the engine returns the results in task order and the caller writes them.  So the reading,
the numerics and the compression of every block run in the engine's workers (a task packs
its results as compressed tiles, core.tiles), the caller only appends them (one writer per
output file, bounded memory: at most a few blocks in flight per worker), and the same code
runs in QGIS, a script, or on a cluster.

Engines
-------
* :class:`LocalEngine` — a thread pool on this machine (numpy, scipy and GDAL release the
  GIL in their heavy loops).  ``DISPLACEMENT_TOOLKIT_THREADS`` caps the threads (e.g. 1 for
  measurements); the default is every core.
* :class:`DaskEngine` — the tasks go to a ``dask.distributed`` scheduler
  (``DISPLACEMENT_TOOLKIT_SCHEDULER=tcp://host:port``).  Workers need only this package's
  ``core`` (``pip install`` of the repository, docs/scaling.md) and the input files at the
  same paths.  A worker that dies mid-run has its tasks recomputed by the scheduler.

:func:`engine_from_environment` picks one.  Cancel (the :class:`~.progress.Monitor`) is
checked at least every :data:`POLL_SECONDS` while waiting; pending tasks are then cancelled.
"""

from __future__ import annotations

import contextlib
import os
import threading
from abc import ABC, abstractmethod
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Optional

import numpy as np

from .progress import Monitor, ensure_monitor

SCHEDULER_ENV = "DISPLACEMENT_TOOLKIT_SCHEDULER"
THREADS_ENV = "DISPLACEMENT_TOOLKIT_THREADS"
#: How often (seconds) cancel is checked while a block is being computed.
POLL_SECONDS = 0.2
#: How long (seconds) the result of a finished cluster task may take to arrive before cancel
#: is checked again.
RESULT_SECONDS = 60.0
#: Tasks in flight per worker: enough to keep every worker busy, few enough to bound memory.
IN_FLIGHT_PER_WORKER = 2

#: Memory one task may hold (its inputs as read, its results): the memory in flight is at
#: most this times :attr:`_Engine.in_flight`.  Heavy numerics inside a task go in chunks.
TASK_BYTES = 64 * 1024 * 1024

#: How far a task may exceed its budget to hold one whole row of tiles: a task of fewer rows
#: leaves its outputs' compression to the caller (core.tiles) and shares input tiles with the
#: next task.  ``timeseries_decompose`` of the scaling benchmark (94 float32 layers of 1000
#: columns, 178 rows in the budget): 9.4-9.5 s on one thread and 6.2-6.5 s on two in tasks
#: of 178 rows, 8.4-9.1 s and 5.6-5.9 s in tasks of 256.
TILE_ROW_STRETCH = 2

_default_scheduler: Optional[str] = None


def set_default_scheduler(address: Optional[str]) -> None:
    """The scheduler used when ``DISPLACEMENT_TOOLKIT_SCHEDULER`` is not set (the QGIS
    provider passes its setting here); ``None`` or ``""`` for local threads."""
    global _default_scheduler
    _default_scheduler = (address or "").strip() or None


def local_worker_count() -> int:
    """Threads of the local engine: ``DISPLACEMENT_TOOLKIT_THREADS`` or every core."""
    cores = os.cpu_count() or 1
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return cores
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{THREADS_ENV}={value!r}: give a whole number of threads (1 or more)") \
            from None
    if count < 1:
        raise ValueError(f"{THREADS_ENV}={value!r}: give a whole number of threads (1 or more)")
    return count


def task_rows(height: int, row_bytes: int, workers: int = 1, budget: int = TASK_BYTES) -> int:
    """Rows of one row-block task: as many as ``budget`` bytes hold at ``row_bytes`` per row,
    cut on the tiles this toolkit writes (raster_io.TILE_SIZE rows) when at least one row of
    tiles fits in :data:`TILE_ROW_STRETCH` budgets, and no more than an even share of
    ``height`` among ``workers`` (rounded up to tiles).

    Cut on the tiles, every tile of a tiled input and of the outputs belongs to one task: a
    tile shared by two tasks on two threads is decompressed by each (each thread has its
    own datasets), and the task can compress its outputs' tiles itself (core.tiles)."""
    from .raster_io import TILE_SIZE

    rows = max(1, int(budget // max(1, int(row_bytes))))
    if rows < TILE_SIZE <= rows * TILE_ROW_STRETCH:
        rows = TILE_SIZE
    if rows >= TILE_SIZE:
        rows -= rows % TILE_SIZE
        share = -(-int(height) // max(1, int(workers)))
        rows = min(rows, -(-share // TILE_SIZE) * TILE_SIZE)
    return max(1, min(rows, int(height)))


def task_windows(height: int, width: int, pixel_bytes: int, workers: int = 1,
                 budget: int = TASK_BYTES):
    """``(row, rows, col, cols)`` of the tasks over a ``width`` x ``height`` grid at
    ``pixel_bytes`` per pixel: full-width blocks of :func:`task_rows` when they cover whole
    rows of tiles; when even one row of tiles exceeds :data:`TILE_ROW_STRETCH` budgets (a
    continental grid), one row of tiles by as many whole tile columns as the budget holds.
    Every window starts on a tile and ends on one or at the grid's edge, so that its task
    compresses its outputs' tiles (core.tiles.TileLayout with its default step)."""
    from .raster_io import TILE_SIZE, iter_blocks

    rows = task_rows(height, int(pixel_bytes) * int(width), workers, budget)
    if rows % TILE_SIZE == 0 or rows >= height:
        return [(r0, n, 0, int(width)) for r0, n in iter_blocks(height, rows)]
    cols = max(TILE_SIZE, int(budget) // (int(pixel_bytes) * TILE_SIZE) // TILE_SIZE * TILE_SIZE)
    return [(r0, n, c0, min(cols, int(width) - c0)) for r0, n in iter_blocks(height, TILE_SIZE)
            for c0 in range(0, int(width), cols)]


def scheduler_address() -> Optional[str]:
    """The Dask scheduler to use: ``DISPLACEMENT_TOOLKIT_SCHEDULER``, else the default set
    by :func:`set_default_scheduler`, else ``None`` (local threads)."""
    return os.environ.get(SCHEDULER_ENV, "").strip() or _default_scheduler


def engine_from_environment(scheduler: Optional[str] = None, threads: Optional[int] = None):
    """A :class:`DaskEngine` when a scheduler is given or configured, else a
    :class:`LocalEngine` with ``threads`` (default :func:`local_worker_count`)."""
    address = scheduler or scheduler_address()
    if address:
        return DaskEngine(address)
    return LocalEngine(threads or local_worker_count())


class _Engine(ABC):
    """Common part: ordered results with a bounded number of tasks in flight; the engines
    implement :meth:`describe`, ``_submit``, ``_wait`` and ``_cancel``."""

    workers = 1

    def __init__(self):
        self.tasks_by_worker: Counter = Counter()
        self._monitor: Optional[Monitor] = None   # of the current map, for cancel_point
        self._neighbours = False                  # of the current map

    @abstractmethod
    def describe(self) -> str:
        """Where the tasks run, for the log."""

    @property
    def in_flight(self) -> int:
        """How many tasks (blocks) may be in flight at once: size blocks by budget / this."""
        return max(1, IN_FLIGHT_PER_WORKER * self.workers)

    def summary(self) -> str:
        """Where the last run's tasks ran (worker: task count)."""
        if not self.tasks_by_worker:
            return "no task ran"
        parts = ", ".join(f"{w}: {n}" for w, n in sorted(self.tasks_by_worker.items()))
        return f"{sum(self.tasks_by_worker.values())} tasks on {len(self.tasks_by_worker)} " \
               f"worker(s) ({parts})"

    def map(self, function: Callable, tasks: Iterable, monitor: Optional[Monitor] = None,
            neighbours: bool = False) -> Iterator:
        """Yield ``function(task)`` for every task, in task order.  Stops with
        :class:`~.progress.OperationCancelled` (pending tasks cancelled) when the monitor
        says so, and re-raises the first task error.  ``neighbours``: each task reads input
        tiles the next one reads too (a resampled finer grid); the local engine then runs
        consecutive tasks on one thread, whose cached tiles serve both."""
        mon = ensure_monitor(monitor)
        self._monitor = mon
        self._neighbours = neighbours
        self.tasks_by_worker = Counter()
        pending = deque()
        self._open()
        limit = self.in_flight
        source = iter(tasks)
        finished = False
        try:
            exhausted = False
            while True:
                while not exhausted and len(pending) < limit:
                    try:
                        task = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    pending.append(self._submit(function, task))
                if not pending:
                    finished = True
                    return
                head = pending.popleft()
                worker, result = self._wait(head, mon)
                self.tasks_by_worker[worker] += 1
                yield result
        finally:
            self._cancel(pending)
            # on cancel or error, do not wait for the tasks already running (cancel within
            # a second); their results are dropped
            self._close(abandon=not finished)

    # engine-specific parts
    @abstractmethod
    def _open(self):
        """Get ready to take tasks (a thread pool, a client connection)."""

    @abstractmethod
    def _close(self, abandon=False):
        """Release what :meth:`_open` took; ``abandon``: do not wait for running tasks."""

    @abstractmethod
    def _submit(self, function, task):
        """Start ``function(task)``; return a handle for :meth:`_wait`."""

    @abstractmethod
    def _wait(self, handle, monitor):
        """``(worker name, result)`` of a handle, checking ``monitor`` for cancel meanwhile."""

    @abstractmethod
    def _cancel(self, handles):
        """Cancel the tasks of ``handles`` not yet collected."""


def zip_tasks(engine, function: Callable, tasks: Iterable, monitor: Optional[Monitor] = None,
              neighbours: bool = False):
    """``engine.map`` yielding ``(task, result)`` pairs in task order (the caller writes each
    result where its task says); ``neighbours`` as in :meth:`_Engine.map`."""
    taken = deque()

    def recorded():
        for task in tasks:
            taken.append(task)
            yield task

    for result in engine.map(function, recorded(), monitor, neighbours):
        yield taken.popleft(), result


_worker_ready = False


def _prepare_worker() -> None:
    """In a Dask worker process, once: one BLAS thread per task thread (the worker runs
    its threads' tasks in parallel already; the local engine does the same around its runs),
    so that matrix products round as in a local run."""
    global _worker_ready
    if _worker_ready:
        return
    _worker_ready = True
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return   # not in a Dask worker
    single_threaded_blas().__enter__()   # for the life of the worker process


_blas_controller = None


def single_threaded_blas():
    """Context limiting BLAS to one thread (threadpoolctl, optional: without it, a no-op).

    The engine's threads (and a Dask worker's) already run tasks in parallel: BLAS threads on
    top of them only compete for the same cores (two local threads of the velocity fit with
    two BLAS threads each took 12.3 s instead of 2.3 s), and one thread per task makes matrix
    products round alike on every engine.  The threadpoolctl controller, which inspects every
    loaded library (about 4 ms), is made once per process; when BLAS runs one thread already
    (OPENBLAS_NUM_THREADS=1, or inside an outer limit) the context does nothing."""
    global _blas_controller
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        try:
            from threadpoolctl import threadpool_limits   # threadpoolctl 2
        except ImportError:
            return contextlib.nullcontext()
        return threadpool_limits(limits=1, user_api="blas")
    if _blas_controller is None:
        _blas_controller = ThreadpoolController().select(user_api="blas")
    if all(lib.num_threads == 1 for lib in _blas_controller.lib_controllers):
        return contextlib.nullcontext()
    return _blas_controller.limit(limits=1)


def _traced(function: Callable, task):
    """Run one task and say where it ran (host:pid), so the log can report the workers."""
    import socket

    _prepare_worker()
    return f"{socket.gethostname()}:{os.getpid()}", function(task)


_running = threading.local()


def cancel_point() -> None:
    """Call between the units of work of a long task (e.g. every batch): on the local engine
    it raises :class:`~.progress.OperationCancelled` when the caller's monitor says cancel,
    so a cancelled run stops computing within a unit instead of finishing its running tasks;
    elsewhere (a Dask worker, whose cancelled tasks' results are dropped) it does nothing."""
    monitor = getattr(_running, "monitor", None)
    if monitor is not None:
        monitor.check()


def _traced_thread(function: Callable, task, monitor: Optional[Monitor] = None):
    """Run one task on a local thread (``monitor`` for :func:`cancel_point`) and name the
    thread."""
    _running.monitor = monitor
    try:
        return threading.current_thread().name, function(task)
    finally:
        _running.monitor = None


class LocalEngine(_Engine):
    """Tasks on a pool of ``workers`` threads in this process (inline for one worker).

    For tasks that are ``neighbours`` (see :meth:`_Engine.map`) every thread has its own
    queue and takes runs of :data:`IN_FLIGHT_PER_WORKER` consecutive tasks, so that the tiles
    two tasks share are decompressed once, by the thread that runs both.  The queues are
    static: meant for tasks of alike cost.  ``timeseries_decompose`` of the scaling
    benchmark (its 2000^2 track resampled to 1000^2, four tasks of 256 rows) took
    4.58-4.92 s on two threads this way and 4.79-5.41 s from one shared queue (seven runs
    of each, in turn)."""

    def __init__(self, workers: int = 1):
        super().__init__()
        self.workers = max(1, int(workers))
        self._pools = []
        self._submitted = 0

    def describe(self) -> str:
        return f"local, {self.workers} thread{'s' if self.workers != 1 else ''} " \
               f"(cap with {THREADS_ENV}; a cluster with {SCHEDULER_ENV}=tcp://host:port)"

    def _open(self):
        self._blas = single_threaded_blas()    # one BLAS thread per task, as on the workers
        self._blas.__enter__()
        self._submitted = 0
        if self.workers == 1:
            self._pools = []
        elif self._neighbours:
            self._pools = [ThreadPoolExecutor(1, thread_name_prefix=f"displacement-{k}")
                           for k in range(self.workers)]
        else:
            self._pools = [ThreadPoolExecutor(self.workers, thread_name_prefix="displacement")]

    def _close(self, abandon=False):
        if self._pools:
            for pool in self._pools:
                pool.shutdown(wait=not abandon, cancel_futures=True)   # readers go too
            self._pools = []
        else:
            release_readers()   # inline: do not keep the inputs open in the caller's thread
        self._blas.__exit__(None, None, None)

    def _submit(self, function, task):
        if not self._pools:
            return (function, task)   # one worker: run when waited for, in this thread
        pool = self._pools[(self._submitted // IN_FLIGHT_PER_WORKER) % len(self._pools)]
        self._submitted += 1
        return pool.submit(_traced_thread, function, task, self._monitor)

    def _wait(self, handle, monitor):
        if isinstance(handle, tuple):
            monitor.check()
            return _traced_thread(*handle, monitor)
        while True:
            monitor.check()
            try:
                return handle.result(timeout=POLL_SECONDS)
            except FutureTimeout:
                continue

    def _cancel(self, handles):
        for handle in handles:
            if not isinstance(handle, tuple):
                handle.cancel()


class DaskEngine(_Engine):
    """Tasks on a ``dask.distributed`` scheduler at ``address`` (tcp://host:port)."""

    def __init__(self, address: str, connect_timeout: float = 10.0):
        super().__init__()
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ValueError(
                f"{SCHEDULER_ENV}={address!r} asks for a Dask cluster, but dask.distributed is "
                "not installed in this Python (Debian: apt install python3-distributed; "
                "pip: pip install distributed); unset it to run on local threads") from None
        self.address = address
        self.connect_timeout = connect_timeout
        self._client = None
        self.workers = 1
        self.worker_addresses = []
        self._threads = 0

    def describe(self) -> str:
        self.connect()
        return f"Dask scheduler {self.address}, {len(self.worker_addresses)} worker(s) with " \
               f"{self._threads} thread(s) in all"

    def connect(self):
        """Connect (once) and learn the workers; errors name the address and the fix."""
        if self._client is not None:
            return self._client
        from distributed import Client

        try:
            client = Client(self.address, timeout=self.connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"cannot reach the Dask scheduler {self.address!r} ({exc}): start it "
                             f"(dask scheduler) and its workers, or unset {SCHEDULER_ENV} to run "
                             "on local threads") from exc
        info = client.scheduler_info()
        workers = info.get("workers", {})
        if not workers:
            client.close()
            raise ValueError(f"the Dask scheduler {self.address!r} has no worker: start one "
                             f"(dask worker {self.address})")
        self._client = client
        self.worker_addresses = sorted(workers)
        self.workers = len(workers)
        self._threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
        return client

    def _open(self):
        self.connect()
        self.workers = max(1, self._threads)   # in flight: per worker thread

    def _close(self, abandon=False):
        if self._client is not None:
            self._client.close()
            self._client = None

    def _submit(self, function, task):
        return self._client.submit(_traced, function, task, pure=False)

    def _wait(self, handle, monitor):
        from distributed import TimeoutError as DaskTimeout

        # wait for the task to finish, then fetch its result in one go: a result() that times
        # out drops the transfer and the next one starts it again (a 63 MB result was then
        # serialised by its worker over and over)
        finished = threading.Event()
        handle.add_done_callback(lambda _: finished.set())
        while True:
            monitor.check()
            if not finished.wait(POLL_SECONDS):
                continue
            try:
                return handle.result(timeout=RESULT_SECONDS)
            except (DaskTimeout, FutureTimeout, TimeoutError):
                continue

    def _cancel(self, handles):
        handles = list(handles)
        if handles and self._client is not None:
            self._client.cancel(handles)


# ------------------------------------------------------------------ reading in workers
def portable_path(path: str) -> str:
    """``path`` made absolute when it names an existing file, so that a worker with another
    working directory (a Dask worker) opens the same file; GDAL's special paths (/vsi...,
    HDF5:"...", URLs) are kept as they are."""
    path = str(path)
    return os.path.abspath(path) if os.path.exists(path) else path


@dataclass(frozen=True)
class BandSource:
    """One band to read in a task: on its own pixels (``grid=None``) or resampled onto a
    :class:`~.grid.GridSpec` (``resampling``), then multiplied by ``scale``."""

    path: str
    band: int = 1
    grid: Optional[object] = None
    resampling: str = "bilinear"
    scale: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "path", portable_path(self.path))

    def read(self, row: int, rows: int, col: int = 0, cols: Optional[int] = None) -> np.ndarray:
        """Rows ``row .. row+rows-1`` (columns ``col`` .. ``col+cols-1``, default to the last)
        as float32 with NaN nodata (resampled when gridded)."""
        block = _reader(self).read(row, rows, col, cols)
        if self.scale != 1.0:
            block = block * np.float32(self.scale)
        return block


_readers = threading.local()


class _OwnPixels:
    """Any band of one open dataset, on its own pixels."""

    def __init__(self, path):
        from .raster_io import open_raster

        self._ds = open_raster(path)

    def read(self, band, row, rows, col=0, cols=None):
        from .raster_io import read_block

        # tasks are cut on the tiles, so no other task reads these tiles again
        return read_block(self._ds, band, row, col, rows, cols, read_once=True)


class _Band:
    def __init__(self, dataset: _OwnPixels, band: int):
        self.dataset, self.band = dataset, band

    def read(self, row, rows, col=0, cols=None):
        return self.dataset.read(self.band, row, rows, col, cols)


#: Readers kept per thread (a time series of many dates on many grids); beyond, the cache
#: starts again.
MAX_CACHED_READERS = 512


def _reader(source: BandSource):
    """A reader for ``source`` kept per thread: one open dataset per file (all its bands
    share GDAL's block cache), one warped reader per (file, band, grid, resampling).  Keyed
    also by the file's size and mtime, so that a file rewritten at the same path between
    runs is never read from a stale cache."""
    try:
        stat = os.stat(source.path)
        stamp = (stat.st_size, stat.st_mtime_ns)
    except OSError:
        stamp = None   # /vsi paths, URLs: no cache stamp
    cache = getattr(_readers, "cache", None)
    if cache is None or len(cache) > MAX_CACHED_READERS:
        cache = _readers.cache = {}
    if source.grid is None:
        key = (source.path, stamp)
        dataset = cache.get(key)
        if dataset is None:
            dataset = cache[key] = _OwnPixels(source.path)
        return _Band(dataset, source.band)
    key = (source.path, source.band, source.grid, source.resampling, stamp)
    reader = cache.get(key)
    if reader is None:
        from .grid import GridReader

        reader = cache[key] = GridReader(source.path, source.grid, band=source.band,
                                         resampling=source.resampling)
    return reader


def release_readers() -> None:
    """Close this thread's cached readers (so that input files are not held open)."""
    cache = getattr(_readers, "cache", None)
    if cache:
        cache.clear()
