"""The Dask cluster a run uses: a scheduler given by address (``--scheduler``), or a LocalCluster sized to
this machine (one single-threaded worker process per core, the memory split between them), and each worker's
peak memory during the run (:class:`PeakMemory`, a worker plugin sampling the process's RSS with psutil).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import dask
import psutil
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin
from tornado.ioloop import PeriodicCallback

from prodmatch.device import available_cores
from prodmatch.errors import ArgumentError

CONNECT_TIMEOUT_S = 20
SAMPLE_MS = 20  # RSS sampling interval of the peak-memory plugin
PLUGIN_NAME = "prodmatch-peak-memory"
DASK_CONFIG = {
    "dataframe.convert-string": False,  # cells stay the str dtype pandas reads them as (the single path's)
    "distributed.scheduler.work-stealing": True,
    "distributed.admin.tick.limit": "10s",  # a busy shared machine stalls the event loop now and then
}


class PeakMemory(WorkerPlugin):
    """Samples the worker process's resident memory every :data:`SAMPLE_MS` ms; :meth:`reset` starts a new peak."""

    name = PLUGIN_NAME

    def __init__(self, interval_ms: int = SAMPLE_MS):
        self.interval_ms = interval_ms
        self.peak = 0
        self.callback = None

    def setup(self, worker):
        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self.callback = PeriodicCallback(self.sample, self.interval_ms)
        self.callback.start()

    def sample(self) -> None:
        self.peak = max(self.peak, self.process.memory_info().rss)

    def reset(self) -> None:
        self.peak = self.process.memory_info().rss

    def teardown(self, worker):
        if self.callback is not None:
            self.callback.stop()


def _peak(dask_worker) -> dict:
    import resource

    plugin = dask_worker.plugins[PLUGIN_NAME]
    plugin.sample()
    return {"peak_rss_mb": round(plugin.peak / 2**20, 1),
            "process_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _reset(dask_worker) -> None:
    dask_worker.plugins[PLUGIN_NAME].reset()


@dataclass
class Session:
    client: Client
    cluster: LocalCluster | None  # None: an existing scheduler
    address: str

    def workers(self) -> int:
        return len(self.client.nthreads())

    def reset_peaks(self) -> None:
        self.client.run(_reset)

    def peaks(self) -> dict[str, dict]:
        """Per worker: the peak RSS since the last reset (plugin) and the process's lifetime maximum RSS."""
        return self.client.run(_peak)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def local_cluster_size(cores: int | None = None) -> int:
    return max(1, cores or available_cores())


def connect(scheduler: str | None = None, workers: int | None = None, processes: bool = True,
            memory_limit: str | int = "auto", timeout: float = CONNECT_TIMEOUT_S) -> Session:
    """A client of ``scheduler``, or of a new LocalCluster (``workers`` single-threaded workers, default one per
    core); the peak-memory plugin registered on every worker."""
    dask.config.set(DASK_CONFIG)
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers or local_cluster_size(), threads_per_worker=1, processes=processes,
                               memory_limit=memory_limit, dashboard_address=None, worker_dashboard_address=None,
                               silence_logs=logging.ERROR)
        client = Client(cluster, set_as_default=False)
    else:
        try:
            client = Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ArgumentError(f"--scheduler {scheduler}: cannot connect ({exc}); start a Dask scheduler there "
                                "(`dask scheduler`, workers with prodmatch installed) or leave --scheduler out for "
                                "a local cluster") from None
    client.register_plugin(PeakMemory(), name=PLUGIN_NAME)
    return Session(client, cluster, client.scheduler.address)
