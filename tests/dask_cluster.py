"""A real local Dask cluster for tests: one ``dask scheduler`` and N ``dask worker``
processes on 127.0.0.1 (free ports, no dashboard), started with this interpreter so that
the workers import ``displacement_toolkit.core`` from the same checkout, and stopped at the
end.  Nothing is downloaded; only loopback addresses are used."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

PLUGINS_DIR = Path(__file__).resolve().parents[1] / ".build" / "plugins"


def _environment():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PLUGINS_DIR), env.get("PYTHONPATH", "")) if p)
    env.pop("DISPLACEMENT_TOOLKIT_SCHEDULER", None)
    return env


def _wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"the local Dask cluster did not come up: {what}")


class LocalCluster:
    """Handles of the running processes: ``address``, ``workers`` (Popen list)."""

    def __init__(self, address, scheduler, workers):
        self.address = address
        self.scheduler = scheduler
        self.workers = workers

    def kill_worker(self, index=0):
        """SIGKILL one worker (as a crash would), without telling the scheduler."""
        self.workers[index].send_signal(signal.SIGKILL)


@contextmanager
def local_cluster(workers=2, threads_per_worker=1):
    """Start a scheduler and ``workers`` worker processes; yield a :class:`LocalCluster`."""
    folder = tempfile.mkdtemp(prefix="dt_dask_")
    scheduler_file = os.path.join(folder, "scheduler.json")
    env = _environment()
    log = open(os.path.join(folder, "cluster.log"), "w")
    procs = []
    try:
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", "0", "--no-dashboard", "--scheduler-file", scheduler_file],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
        procs.append(scheduler)
        _wait_for(lambda: os.path.exists(scheduler_file) and os.path.getsize(scheduler_file) > 0,
                  60, "no scheduler file")
        time.sleep(0.2)
        with open(scheduler_file) as f:
            address = json.load(f)["address"]
        handles = []
        for i in range(workers):
            worker = subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--no-nanny",
                 "--nthreads", str(threads_per_worker), "--no-dashboard", "--host", "127.0.0.1",
                 "--name", f"worker-{i}", "--local-directory", folder],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
            procs.append(worker)
            handles.append(worker)
        from distributed import Client

        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=60)
        yield LocalCluster(address, scheduler, handles)
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
