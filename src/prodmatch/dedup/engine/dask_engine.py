"""``--engine dask``: the dedup flow's heavy steps by partitions on a Dask cluster
(:mod:`prodmatch.dedup.engine.partitioned` for the steps; :mod:`~prodmatch.dedup.engine.dask_cluster` for the
cluster), with the same pairs as the single process.

The client reads the table through dask.dataframe (:mod:`~prodmatch.dedup.engine.dask_read`), validates it and
keeps it for the outputs; the workers get its partitions and hold everything per record and per pair: rows,
index shards, candidate pairs, features one chunk at a time. A trained model is applied on the workers;
training gathers the candidates to the client (what a labelled table gives is what the single engine trains
on, so the model is the same; :data:`MAX_CLIENT_PAIRS` bounds it). Clusters come from the distributed
connected-components step (:mod:`~prodmatch.dedup.engine.components`).
"""

from __future__ import annotations

import resource
import time

import numpy as np
from distributed import wait

from prodmatch.dedup.engine.base import Engine, ScoredEdges
from prodmatch.dedup.engine.components import block_components, numbered
from prodmatch.dedup.engine.dask_cluster import Session, connect
from prodmatch.dedup.engine.dask_read import read_strings_dask
from prodmatch.dedup.engine.partition_search import candidate_search
from prodmatch.dedup.engine.partitioned import (
    candidates_partitioned,
    gather_edges,
    kept_features_partitioned,
    load_partitioned,
    predict_edges_partitioned,
    split_rows,
)
from prodmatch.dedup.reasons import top_reasons
from prodmatch.dedup.table import validate_table
from prodmatch.errors import ArgumentError

PARTITION_ROWS = 25_000  # records per partition by default: a partition's pairs and rows take ~1-2 GB at most
MAX_CLIENT_PAIRS = 30_000_000  # candidate pairs training may gather to the client (~60 float32 features each)


class DaskRunner:
    """Tasks on a Dask client; ``window``: partitions in flight at once in the all-to-all steps."""

    def __init__(self, client, window: int):
        self.client = client
        self.window = window

    def submit(self, fn, *args, **kwargs):
        return self.client.submit(fn, *args, pure=False, **kwargs)

    def gather(self, handles):
        return self.client.gather(handles)

    def scatter(self, values: list) -> list:
        return self.client.scatter(list(values), hash=False)

    def wait(self, handles) -> None:
        with self.client.as_current():
            wait(handles)


def default_partitions(n_rows: int, workers: int) -> int:
    return max(2 * workers, -(-n_rows // PARTITION_ROWS))


class DaskEngine(Engine):
    name = "dask"

    def __init__(self, scheduler: str | None = None, partitions: int | None = None, workers: int | None = None,
                 processes: bool = True):
        if partitions is not None and partitions < 1:
            raise ArgumentError(f"--partitions must be at least 1, got {partitions}")
        self.partitions = partitions
        self.session: Session = connect(scheduler, workers, processes)
        self.runner = DaskRunner(self.session.client, 2 * max(self.session.workers(), 1))
        self.loaded = None
        self.seconds: dict[str, float] = {}
        self.session.reset_peaks()

    def close(self) -> None:
        self.session.close()

    def describe(self) -> dict:
        """Workers, partitions, seconds per step, each worker's peak RSS during the run (sampled) and over its
        life (its process's max RSS), and this client's max RSS."""
        peaks = self.session.peaks()
        return {"name": self.name, "scheduler": self.session.address, "workers": len(peaks),
                "partitions": None if self.loaded is None else len(self.loaded.bounds),
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "worker_peak_rss_mb": {address: peak["peak_rss_mb"] for address, peak in peaks.items()},
                "worker_process_max_rss_mb": {address: peak["process_max_rss_mb"] for address, peak in peaks.items()},
                "client_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}

    def read_table(self, path, columns):
        started = time.perf_counter()
        table = validate_table(read_strings_dask(path, self.session.client), columns, path)
        self.seconds["read"] = time.perf_counter() - started
        return table

    def load(self, table, chosen, embeddings):
        for source in chosen.recipe.sources:
            candidate_search(source)  # names the first source no partitioned plan covers, before any work
        partitions = self.partitions or default_partitions(len(table), self.session.workers())
        self.loaded = load_partitioned(self.runner, table, chosen.recipe.sources, partitions, wait=self.runner.wait)
        self.seconds.update(self.loaded.seconds)
        return self.loaded

    def candidates(self, loaded, sources):
        if [s.name for s in sources] != loaded.names:
            raise ValueError("the table was loaded for other sources")
        started = time.perf_counter()
        pairs = sum(len(p) for p in self.runner.gather(loaded.pairs))
        if pairs > MAX_CLIENT_PAIRS:
            raise ArgumentError(f"training gathers the candidate pairs to this machine: this table has {pairs:,} "
                                f"(more than {MAX_CLIENT_PAIRS:,}); train on a labelled sample of the records, then "
                                "apply the model to the whole table with --model DIR --engine dask")
        found = candidates_partitioned(self.runner, loaded)
        self.seconds["candidates_to_client"] = time.perf_counter() - started
        return found

    def scored_edges(self, loaded, saved, sources, floor):
        if (sources is not None) != loaded.with_sources:
            raise ValueError("clean-clean edges need the records' sources loaded")
        started = time.perf_counter()
        model = self.session.client.scatter(saved.model, broadcast=True, hash=False)
        parts = self.runner.gather(predict_edges_partitioned(self.runner, loaded, model, floor))
        edges, n_edges = gather_edges(parts, loaded.n)
        self.seconds["features_and_predict"] = time.perf_counter() - started
        return ScoredEdges(edges, n_edges, model)

    def reasons(self, scored, model, kept, top):
        out = [""] * len(kept)
        if top <= 0 or len(kept) == 0:
            return out
        started = time.perf_counter()
        parts = kept_features_partitioned(self.runner, self.loaded, kept)
        texts = self.runner.gather([self.runner.submit(top_reasons, scored.handle, handle, top) for _, handle in parts])
        for (positions, _), part in zip(parts, texts):
            for position, text in zip(positions.tolist(), part):
                out[position] = text
        self.seconds["reasons"] = time.perf_counter() - started
        return out

    def components(self, n, a, b):
        started = time.perf_counter()
        bounds = self.loaded.bounds if self.loaded is not None and self.loaded.n == n else \
            split_rows(n, self.partitions or 2 * self.session.workers())
        edges = self.runner.scatter([(a[(a >= start) & (a < stop)], b[(a >= start) & (a < stop)])
                                     for start, stop in bounds])
        labels = np.concatenate(self.runner.gather(block_components(self.runner, bounds, edges)))
        self.seconds["components"] = self.seconds.get("components", 0.0) + time.perf_counter() - started
        return numbered(labels)
