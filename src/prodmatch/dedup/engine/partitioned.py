"""The dedup work by partitions of records, as tasks handed to a :class:`Runner` -- Dask's client
(:mod:`prodmatch.dedup.engine.dask_engine`) or :class:`InProcess` (each task run at once, for tests).

Per partition P of consecutive records (``bounds``), the tasks are:

1. its records' inputs (cleaned titles, fields) and its term counts (:func:`~prodmatch.dedup.engine.rows.count_partition`);
   the counts merged in a tree, fitted once (:func:`~prodmatch.dedup.engine.rows.fit_plan`);
2. its rows (:func:`~prodmatch.dedup.engine.rows.row_block`: TF-IDF rows -- the index shard of P --, token rows);
3. per source, P's search by the source's plan (:mod:`~prodmatch.dedup.engine.partition_search`: exact,
   P's queries against every shard, merged; or by blocking, P's queries against one index of the whole
   table); P's proposals, ranks and per-record figures;
4. P's pairs: its proposals and the reverse of every other partition's proposals of P's records;
5. the rows P's pairs read, taken from each partition, then P's pair features in chunks of
   :data:`FEATURE_CHUNK` pairs, each predicted and dropped (only the probabilities stay);
6. each pair's second direction from the partition of its other record, and P's edges above a floor.

What a worker holds is its partitions' rows and pairs and one chunk's features, never the table's pairs: with
p partitions there are about p^2 small tasks per all-to-all step (searches, reversals, row takes), which suits
tens of partitions (docs/scale.md: what a hash shuffle would replace at hundreds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from prodmatch.dedup.clustering import Edges
from prodmatch.dedup.engine.pair_features import PairTable, pair_features_of
from prodmatch.dedup.engine.partition_search import (
    DirectedProbabilities,
    PartitionEdges,
    candidate_search,
    own_pairs,
    partition_edges,
    partition_pairs,
    reverse_part,
    reverse_probabilities,
    take_block,
    wanted_rows,
)
from prodmatch.dedup.engine.rows import RowBlock, TextPlan, count_partition, fit_plan, merge_counts, row_block
from prodmatch.dedup.table import DedupTable
from prodmatch.match.pair.features import PairFeatures
from prodmatch.match.pair.matching import PairCandidates
from prodmatch.match.pair.model import PairModel
from prodmatch.search.features import Features

FEATURE_CHUNK = 1 << 17  # pairs whose features exist at once in a task (~60 float32 each: ~30 MB)
BELOW_FLOOR = 12  # edges just under the floor a partition returns (the report's "just below" examples)


class InProcess:
    """Runs each task at once in this process: the partitioned path without a scheduler."""

    window = None

    def submit(self, fn: Callable, *args, **kwargs):
        return fn(*args, **kwargs)

    def gather(self, handles):
        return handles

    def scatter(self, values: list) -> list:
        return list(values)

    def wait(self, handles) -> None:
        pass


def in_window(runner, handles: list) -> None:
    """Bounded work in flight: once ``runner.window`` partitions are submitted, wait for the oldest."""
    window = getattr(runner, "window", None)
    if window and len(handles) > window:
        runner.wait(handles[-window - 1])


def split_rows(n: int, partitions: int) -> list[tuple[int, int]]:
    """``partitions`` ranges of consecutive records, as equal as can be (none empty)."""
    partitions = max(1, min(int(partitions), n))
    edges = np.linspace(0, n, partitions + 1).round().astype(np.int64)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _first(pair):
    return pair[0]


def _second(pair):
    return pair[1]


def _merge_two(left: dict, right: dict) -> dict:
    return merge_counts([left, right])


def tree_reduce(runner, fn: Callable, handles: list):
    """Pairwise reduction in order (fn must be associative)."""
    while len(handles) > 1:
        handles = [runner.submit(fn, handles[i], handles[i + 1]) if i + 1 < len(handles) else handles[i]
                   for i in range(0, len(handles), 2)]
    return handles[0]


def partition_inputs(table: DedupTable) -> Features:
    return table.features()


def _row_block(features: Features, fitted, counted, start: int, with_sources: bool, table: DedupTable) -> RowBlock:
    return row_block(features, fitted, counted[1], start, table.sources if with_sources else None)


def _own(found: dict, start: int, stop: int, sources: list):
    return own_pairs(found, start, stop, sources)


def _with_stats(block: RowBlock, own) -> RowBlock:
    return block.with_columns(own[1])


def _partition_pairs(own, reverses: list, n: int) -> PairTable:
    return partition_pairs(own[0], reverses, n)


def _reverse_part(own, start: int, stop: int) -> PairTable:
    return reverse_part(own[0], start, stop)


def _features_chunks(pairs: PairTable, takes: list[RowBlock], fitted, names: list[str]):
    block = RowBlock.concat(takes)
    for start in range(0, len(pairs), FEATURE_CHUNK):
        chunk = pairs.take(slice(start, start + FEATURE_CHUNK))
        yield chunk, pair_features_of(chunk, block, fitted, names), block


def partition_probability(pairs: PairTable, takes: list[RowBlock], fitted, names: list[str], model: PairModel,
                          with_sources: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """P's pairs predicted chunk by chunk (self pairs 1, as predict_probability); and, clean-clean, whether
    each pair is across sources."""
    probability = np.empty(len(pairs), dtype=np.float32)
    across = np.empty(len(pairs), dtype=bool) if with_sources else None
    for start, (chunk, features, block) in zip(range(0, len(pairs), FEATURE_CHUNK),
                                               _features_chunks(pairs, takes, fitted, names)):
        part = model.predict(features)
        part[chunk.rows == chunk.cols] = 1.0
        probability[start : start + len(chunk)] = part
        if with_sources:
            labels = block["source"]
            across[start : start + len(chunk)] = labels[block.local(chunk.rows)] != labels[block.local(chunk.cols)]
    return probability, across


def partition_features(pairs: PairTable, takes: list[RowBlock], fitted, names: list[str]) -> PairFeatures:
    parts = [features for _, features, _ in _features_chunks(pairs, takes, fitted, names)]
    if not parts:
        return pair_features_of(pairs, RowBlock.concat(takes), fitted, names)
    return PairFeatures.concat(parts)


def _edges(pairs: PairTable, predicted, incoming: list[DirectedProbabilities], n: int, floor: float,
           below: int) -> PartitionEdges:
    return partition_edges(pairs, predicted[0], incoming, n, floor, below, predicted[1])


def _reverse_probabilities(pairs: PairTable, predicted, start: int, stop: int) -> DirectedProbabilities:
    return reverse_probabilities(pairs, predicted[0], start, stop)


@dataclass
class PartitionedTable:
    """A table loaded by partitions: its rows (with the search's per-record figures) and pairs per partition."""

    n: int
    bounds: list[tuple[int, int]]
    sources: list  # the recipe's sources
    fitted: object  # handle of the FittedPlan
    blocks: list  # handles of RowBlocks
    pairs: list  # handles of PairTables
    with_sources: bool  # clean-clean: the records' source labels are in the rows
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sources]


def load_partitioned(runner, table: DedupTable, sources: list, partitions: int, wait: Callable = lambda h: h
                     ) -> PartitionedTable:
    """Steps 1-4 of the module doc; ``wait`` blocks until handles are computed (for the step timings)."""
    import time

    plans = [candidate_search(source) for source in sources]  # refuses what no plan covers, before any work
    n = len(table)
    bounds = split_rows(n, partitions)
    with_sources = table.sources is not None
    seconds = {}
    started = time.perf_counter()
    tables = runner.scatter([table.subset(np.arange(a, b)) for a, b in bounds])
    features = [runner.submit(partition_inputs, t) for t in tables]
    plan = TextPlan.of(sources, table.columns)
    counted = [runner.submit(count_partition, f, plan) for f in features]
    counts = [runner.submit(_first, c) for c in counted]
    fitted = runner.submit(fit_plan, plan, tree_reduce(runner, _merge_two, counts))
    blocks = [runner.submit(_row_block, f, fitted, c, a, with_sources, t)
              for f, c, (a, _), t in zip(features, counted, bounds, tables)]
    wait(blocks)
    seconds["fit_and_rows"] = time.perf_counter() - started
    del features, counted, counts, tables
    started = time.perf_counter()
    shared = {plan_.name: plan_.prepare(runner, blocks, n) for plan_ in plans}
    own = []
    for queries, (a, b) in zip(blocks, bounds):
        found = {plan_.name: plan_.submit(runner, shared[plan_.name], queries, (a, b), blocks, n)
                 for plan_ in plans}
        own.append(runner.submit(_own, found, a, b, sources))
        in_window(runner, own)
    del shared  # a blocked plan's index is freed once its searches are done
    blocks = [runner.submit(_with_stats, block, o) for block, o in zip(blocks, own)]
    pairs = [runner.submit(_partition_pairs, own[p], [runner.submit(_reverse_part, o, a, b) for o in own], n)
             for p, (a, b) in enumerate(bounds)]
    wait(pairs)
    seconds["search_and_pairs"] = time.perf_counter() - started
    return PartitionedTable(n, bounds, list(sources), fitted, blocks, pairs, with_sources, seconds)


def _takes(runner, loaded: PartitionedTable, pairs) -> list:
    wanted = runner.submit(wanted_rows, pairs)
    return [runner.submit(take_block, block, wanted) for block in loaded.blocks]


def predict_edges_partitioned(runner, loaded: PartitionedTable, model: PairModel, floor: float) -> list:
    """Steps 5-6: handles of each partition's :class:`PartitionEdges`."""
    predicted = []
    for pairs in loaded.pairs:
        predicted.append(runner.submit(partition_probability, pairs, _takes(runner, loaded, pairs), loaded.fitted,
                                       loaded.names, model, loaded.with_sources))
        in_window(runner, predicted)
    return [runner.submit(_edges, loaded.pairs[p], predicted[p],
                          [runner.submit(_reverse_probabilities, pairs, pr, a, b)
                           for pairs, pr in zip(loaded.pairs, predicted)], loaded.n, floor, BELOW_FLOOR)
            for p, (a, b) in enumerate(loaded.bounds)]


def gather_edges(parts: list[PartitionEdges], n: int) -> tuple[Edges, int]:
    """The edges at or above the floor with the best few below it, in (a, b) order, and how many were scored."""
    below = [(p.below_a, p.below_b, p.below_score) for p in parts]
    a = np.concatenate([p.a for p in parts] + [x[0] for x in below])
    b = np.concatenate([p.b for p in parts] + [x[1] for x in below])
    score = np.concatenate([p.score for p in parts] + [x[2] for x in below])
    order = np.lexsort((b, a))
    return Edges(a[order].astype(np.int64), b[order].astype(np.int64), score[order].astype(np.float32), n), \
        sum(p.n_edges for p in parts)


def candidates_partitioned(runner, loaded: PartitionedTable) -> PairCandidates:
    """Every pair with its features, gathered (what training on the client reads)."""
    features = []
    for pairs in loaded.pairs:
        features.append(runner.submit(partition_features, pairs, _takes(runner, loaded, pairs), loaded.fitted,
                                      loaded.names))
        in_window(runner, features)
    tables = runner.gather(loaded.pairs)
    table = PairTable.concat(tables).candidate_table(loaded.n)
    return PairCandidates(table, PairFeatures.concat(runner.gather(features)), dict(loaded.seconds))


def _kept_features(pairs: PairTable, a: np.ndarray, b: np.ndarray, n: int, takes: list[RowBlock], fitted,
                   names: list[str]) -> PairFeatures:
    where = np.searchsorted(pairs.rows * n + pairs.cols, a * n + b)  # every kept pair is a candidate
    return pair_features_of(pairs.take(where), RowBlock.concat(takes), fitted, names)


def kept_features_partitioned(runner, loaded: PartitionedTable, kept: Edges) -> list:
    """Handles of the features of the kept pairs, in the (a, b) direction, by the partition of a, in kept order
    within each partition; and the positions in ``kept`` each partition covers."""
    out = []
    for pairs, (start, stop) in zip(loaded.pairs, loaded.bounds):
        inside = np.flatnonzero((kept.a >= start) & (kept.a < stop))
        if len(inside) == 0:
            continue
        wanted = np.unique(np.concatenate([kept.a[inside], kept.b[inside]]))
        takes = [runner.submit(take_block, block, wanted) for block in loaded.blocks]
        out.append((inside, runner.submit(_kept_features, pairs, kept.a[inside], kept.b[inside], loaded.n, takes,
                                          loaded.fitted, loaded.names)))
    return out
