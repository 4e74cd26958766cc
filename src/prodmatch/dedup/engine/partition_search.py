"""Candidate search and the candidate table by partitions of records, with the same pairs and scores as the
single-process search of the whole table.

- A search plan submits a source's search tasks: :meth:`prepare` once per table (a handle every search task
  of the plan shares, or None), then :meth:`submit` once per query partition (a handle of the partition's
  :class:`~prodmatch.search.neighbours.Neighbours`, global positions). :func:`candidate_search` picks the
  plan of a recipe source:

  - :class:`ShardedExactTfidf` (no ``blocking:``): the exact sparse top-k, the partition's queries against
    every shard (each shard's products are exact and independent of the other shards), merged: top-k across
    shards, ties broken by index position as :meth:`~prodmatch.search.neighbours.Neighbours.top_k` does, so
    the merge is the whole-table top-k. Nothing shared; p^2 small tasks.
  - :class:`BlockedTfidf` (``blocking:``): :func:`~prodmatch.search.blocked.blocked_topk`. Its keys' caps
    are global (a key's list holds the ``cap`` postings of the whole table that weigh most on it), so one
    task stacks every partition's TF-IDF rows and builds the :class:`~prodmatch.search.blocking.BlockingIndex`
    once; then one task per query partition searches its rows against it. The same pairs as the single
    process, by construction -- at the price of O(table) memory on the workers that search (see the class).
- :func:`own_pairs`: a partition's proposals of every source in one table (as
  :meth:`~prodmatch.match.candidates.CandidateTable.from_sources`), each pair's rank among its record's
  candidates and each record's figures (best, k-th, density): all depend on the record's own proposals only.
- :func:`reverse_part` / :func:`partition_pairs`: the table made symmetric across partitions (as
  :func:`~prodmatch.match.pair.neighbourhood.with_reverse_pairs`): a pair (b, a) proposed in b's partition
  reaches a's, with its rank there (a pair's ``rank_ba``).
- :func:`reverse_probabilities` / :func:`partition_edges`: each unordered pair's probability, the mean of its
  two directions (as :func:`prodmatch.dedup.clustering.edges_from_table`), in the partition of its first record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from prodmatch.dedup.engine.pair_features import PairTable
from prodmatch.dedup.engine.rows import RowBlock
from prodmatch.errors import ArgumentError
from prodmatch.match.candidates import CandidateTable
from prodmatch.match.pair.features import KTH_RANK, density_levels
from prodmatch.match.pair.neighbourhood import density, ranks_within_rows, sorted_unique, value_at_rank
from prodmatch.search.blocked import blocked_topk
from prodmatch.search.blocking import BlockingIndex
from prodmatch.search.neighbours import Neighbours
from prodmatch.search.sources import TfidfSource
from prodmatch.search.tfidf import sparse_topk


@dataclass
class ShardedExactTfidf:
    """A TF-IDF source's exact top-k, each query partition against every shard of the index."""

    source: TfidfSource

    @property
    def name(self) -> str:
        return self.source.name

    def prepare(self, runner, blocks: list, n: int) -> None:
        """Nothing shared: each shard is a partition's own rows."""
        return None

    def submit(self, runner, shared, queries, bounds: tuple[int, int], blocks: list, n: int):
        """The partition's search against every shard, then the merge: a handle of its Neighbours."""
        return runner.submit(self.merge, [runner.submit(self.search, queries, shard, n) for shard in blocks], n)

    def search(self, queries: RowBlock, shard: RowBlock, n: int) -> Neighbours:
        """The partition's best ``k`` in one shard (global positions)."""
        column = f"vec:{self.name}"
        found = sparse_topk(queries[column], shard[column], k=self.source.k, min_score=self.source.min_score,
                            block_rows=self.source.block_rows)
        return found.offset(int(queries.ids[0]), int(shard.ids[0]), n, n)

    def merge(self, parts: list[Neighbours], n: int) -> Neighbours:
        """The partition's best ``k`` over every shard."""
        return Neighbours.concat(parts, n, n).top_k(self.source.k)


@dataclass
class BlockedIndex:
    """The whole table's TF-IDF rows of one source and their blocking keys (what every search task reads)."""

    index: BlockingIndex

    @property
    def matrix(self) -> sp.csr_matrix:
        """The TF-IDF rows: the token keys themselves, so the matrix is held (and sent to a worker) once."""
        return self.index.tokens.keys

    @property
    def nbytes(self) -> int:
        return self.index.nbytes


@dataclass
class BlockedTfidf:
    """A TF-IDF source's top-k by blocking: one index of the whole table, one search task per query partition.

    Memory, honestly: the index task holds every row's TF-IDF row and the keys built from it (the token lists
    are the matrix itself, capped and transposed, and up to ``pair_tokens * (pair_tokens - 1) / 2`` pair keys
    per row, likewise) -- O(table) key lists, never pairs (:attr:`BlockedIndex.nbytes`). Dask copies that
    handle once to each worker that runs a search task, so every such worker holds it beside its partitions:
    measured on Shopee titles, ~460 bytes per row for a word source and ~2,800 for a char_wb 3-4 source
    (docs/scale.md), i.e. ~3.3 GB per searching worker at 1M rows for dedup-large -- not for a 100M-row cluster.
    There the keys would be shuffled instead: each row's (key, weight) entries by a hash of the key, each key's capped
    list built on the shard that owns the key, the candidate pairs each list gives sent back to the query's partition by a
    second shuffle, and scored there against the candidates' rows fetched by a third (docs/scale.md). The
    caps stay global, so the pairs would stay the single process's.
    """

    source: TfidfSource

    @property
    def name(self) -> str:
        return self.source.name

    def prepare(self, runner, blocks: list, n: int):
        """A handle of the :class:`BlockedIndex`: each partition's TF-IDF rows taken where they are, stacked
        and indexed in one task."""
        column = f"vec:{self.name}"
        rows = [runner.submit(block_column, block, column) for block in blocks]
        return runner.submit(blocked_index, rows, self.source)

    def submit(self, runner, shared, queries, bounds: tuple[int, int], blocks: list, n: int):
        """One task: the partition's records (global positions ``bounds``) searched against the whole table."""
        return runner.submit(self.search, shared, *bounds)

    def search(self, shared: BlockedIndex, start: int, stop: int) -> Neighbours:
        """:func:`~prodmatch.search.blocked.blocked_topk` of the records ``start..stop`` (global positions)."""
        source = self.source
        return blocked_topk(shared.matrix, k=source.k, min_score=source.min_score, config=source.blocking,
                            rows=np.arange(start, stop, dtype=np.int64), index=shared.index)


def block_column(block: RowBlock, column: str):
    return block[column]


def blocked_index(rows: list[sp.csr_matrix], source: TfidfSource) -> BlockedIndex:
    """Partitions' TF-IDF rows stacked in partition order (the single process's matrix) and their keys."""
    return BlockedIndex(BlockingIndex.build(sp.vstack(rows, format="csr", dtype=np.float32), source.blocking))


def candidate_search(source) -> ShardedExactTfidf | BlockedTfidf:
    """The partitioned search plan of a recipe source; a source no plan covers is refused (one line)."""
    if isinstance(source, TfidfSource) and source.blend is None:
        return ShardedExactTfidf(source) if source.blocking is None else BlockedTfidf(source)
    what = ("a neighbourhood-blended TF-IDF source" if isinstance(source, TfidfSource) and source.blend is not None
            else f"a {source.kind} source")
    raise ArgumentError(f"--engine dask searches TF-IDF sources without blending; source {source.name!r} is {what}: "
                        "run it with --engine single (the default)")


def own_pairs(found: dict[str, Neighbours], start: int, stop: int, sources: list) -> tuple[PairTable, dict]:
    """The partition's proposals (records ``start..stop``) as a pair table, and each record's figures per source
    (``stat:<source>.best`` ...)."""
    table = CandidateTable.from_sources(found)
    # both ends shifted: rows index the partition's figures, and a self pair stays one (rows == cols)
    local = CandidateTable(table.rows - start, table.cols - start, table.scores, stop - start, table.n_index)
    ranks, stats = {}, {}
    for source in sources:
        score = local.score(source.name)
        ranks[source.name] = ranks_within_rows(local, score)
        stats[f"stat:{source.name}.best"] = value_at_rank(local, score, ranks[source.name], 1)
        stats[f"stat:{source.name}.kth"] = value_at_rank(local, score, ranks[source.name], KTH_RANK)
        for i, level in enumerate(density_levels(source.scale)):
            stats[f"stat:{source.name}.density{i}"] = density(local, score, level)
    missing = {name: np.full(len(table), np.nan, np.float32) for name in table.scores}
    return PairTable(table.rows, table.cols, dict(table.scores), ranks, missing), stats


def reverse_part(own: PairTable, start: int, stop: int) -> PairTable:
    """The partition's proposals whose candidate is a record ``start..stop``, turned round: (candidate,
    proposer), the proposer's rank as the pair's ``rank_ba``."""
    keep = (own.cols >= start) & (own.cols < stop)
    order = np.lexsort((own.rows[keep], own.cols[keep]))
    nan = {name: np.full(int(keep.sum()), np.nan, np.float32) for name in own.scores}
    return PairTable(own.cols[keep][order], own.rows[keep][order], {k: np.full(len(order), -np.inf, np.float32)
                                                                   for k in own.scores},
                     nan, {k: v[keep][order] for k, v in own.rank_ab.items()})


def partition_pairs(own: PairTable, reverses: list[PairTable], n: int) -> PairTable:
    """The symmetric table's pairs of the partition's records: its proposals and those others made of them."""
    reverse = PairTable.concat([own.take(np.zeros(0, np.int64)), *reverses])
    own_keys = own.rows * n + own.cols
    reverse_keys = reverse.rows * n + reverse.cols
    keys = sorted_unique(np.concatenate([own_keys, reverse_keys]))
    at_own, at_reverse = np.searchsorted(keys, own_keys), np.searchsorted(keys, reverse_keys)
    scores, rank_ab, rank_ba = {}, {}, {}
    for name in own.scores:
        scores[name] = np.full(len(keys), -np.inf, np.float32)
        scores[name][at_own] = own.scores[name]
        rank_ab[name] = np.full(len(keys), np.nan, np.float32)
        rank_ab[name][at_own] = own.rank_ab[name]
        rank_ba[name] = np.full(len(keys), np.nan, np.float32)
        rank_ba[name][at_reverse] = reverse.rank_ba[name]
    return PairTable(keys // n, keys % n, scores, rank_ab, rank_ba)


def wanted_rows(pairs: PairTable) -> np.ndarray:
    """Every record a partition's pair features read: its records and their candidates."""
    return sorted_unique(np.concatenate([pairs.rows, pairs.cols]))


def take_block(block: RowBlock, wanted: np.ndarray) -> RowBlock:
    """The rows of ``block`` among the records ``wanted`` (ascending global positions)."""
    inside = wanted[(wanted >= block.ids[0]) & (wanted <= block.ids[-1])] if len(block) else wanted[:0]
    return block.take(inside - block.ids[0])


@dataclass
class DirectedProbabilities:
    """Probabilities of pairs (a, b), each for the partition holding record a."""

    a: np.ndarray
    b: np.ndarray
    probability: np.ndarray


def reverse_probabilities(pairs: PairTable, probability: np.ndarray, start: int, stop: int) -> DirectedProbabilities:
    """The partition's (b, a) probabilities with b > a and a a record ``start..stop``: the second direction of
    pairs whose first record is there."""
    keep = (pairs.rows > pairs.cols) & (pairs.cols >= start) & (pairs.cols < stop)
    order = np.lexsort((pairs.rows[keep], pairs.cols[keep]))
    return DirectedProbabilities(pairs.cols[keep][order], pairs.rows[keep][order], probability[keep][order])


@dataclass
class PartitionEdges:
    """A partition's unordered pairs (a < b, a in the partition) at or above a floor, the best few below it, and
    how many it scored in all."""

    a: np.ndarray
    b: np.ndarray
    score: np.ndarray
    below_a: np.ndarray
    below_b: np.ndarray
    below_score: np.ndarray
    n_edges: int


def partition_edges(pairs: PairTable, probability: np.ndarray, incoming: list[DirectedProbabilities], n: int,
                    floor: float, below: int, across: np.ndarray | None = None) -> PartitionEdges:
    """Each pair's mean probability (float64 sum of both directions, halved, as float32); ``across``: bool per
    pair of ``pairs``, whether its records come from different sources (clean-clean), or None."""
    forward = pairs.rows < pairs.cols
    if across is not None:
        forward &= across
    a, b, p_ab = pairs.rows[forward], pairs.cols[forward], probability[forward]
    back = DirectedProbabilities(*(np.concatenate([getattr(x, f) for x in incoming]) if incoming else
                                   np.zeros(0, dtype) for f, dtype in (("a", np.int64), ("b", np.int64),
                                                                       ("probability", np.float32))))
    back_keys = back.a * n + back.b
    order = np.argsort(back_keys, kind="stable")
    keys = a * n + b
    where = order[np.minimum(np.searchsorted(back_keys[order], keys), max(len(order) - 1, 0))] if len(order) else \
        np.zeros(len(keys), np.int64)
    if len(keys) and not np.array_equal(back_keys[where], keys):
        raise ValueError("a pair's second direction is missing: the candidate table is not symmetric")
    p_ba = back.probability[where] if len(keys) else np.zeros(0, np.float32)
    score = ((p_ab.astype(np.float64) + p_ba.astype(np.float64)) / 2).astype(np.float32)
    above = score >= np.float32(floor)
    rest = np.flatnonzero(~above)
    best = rest[np.lexsort((b[rest], a[rest], -score[rest]))][:below]
    best.sort()
    return PartitionEdges(a[above], b[above], score[above], a[best], b[best], score[best], int(len(a)))
