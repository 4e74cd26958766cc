"""``prodmatch index eval`` and ``index compare``: MAR@10, recall@1/5/10 and query latency against
ground_truth.csv.

- :func:`evaluate_index`: every query searched (timed, batched and one at a time) in the saved index and in
  the ``compare`` kinds built from the same stored embeddings (LSH beside exact by default), plain and
  optionally by predicted category;
- :func:`evaluate_results`: a results file of ``index search``, scored as it is;
- :func:`compare_evaluations`: several models' ``--json`` files side by side, exact beside LSH.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.data.validation import DataValidationError
from prodmatch.errors import ArgumentError
from prodmatch.visual.categories import CategorySearch
from prodmatch.visual.exact import ExactIndex
from prodmatch.visual.folder import IndexFolderError, read_evaluation, read_results, write_evaluation
from prodmatch.visual.indexes import make_index
from prodmatch.visual.layout import VisualSearchDir
from prodmatch.visual.lsh import LSHIndex
from prodmatch.visual.metrics import MAR_K, GroundTruth, RetrievalScore, retrieval_scores
from prodmatch.visual.model import Runtime
from prodmatch.visual.registry import DEFAULT_COMPARE, NO_CATEGORY
from prodmatch.visual.search import OpenIndex, QueryVectors, embed_queries, open_index
from prodmatch.visual.shards import assemble_shards
from prodmatch.visual.vector_index import VectorIndex


@dataclass(frozen=True)
class EvalSpec:
    """What ``index eval --index`` scores: the index of ``index_dir`` on the queries of ``data_dir``."""

    index_dir: Path
    data_dir: Path
    compare: tuple[str, ...] = DEFAULT_COMPARE  # other kinds built from the same embeddings, side by side
    category: CategorySearch = field(default_factory=CategorySearch)  # also scored with this, unless mode none
    latency_queries: int = 100  # queries searched one at a time for the latency figure
    json_out: Path | None = None
    runtime: Runtime = Runtime()


@dataclass
class EvalRow:
    kind: str
    index: str  # name with parameters, e.g. lsh(nbits=512)
    category: str
    score: RetrievalScore
    batch_ms_per_query: float  # all queries searched at once
    latency_ms_p50: float  # one query at a time
    build_seconds: float | None  # None: the saved index


@dataclass
class EvalReport:
    rows: list[EvalRow]
    n_index: int
    n_queries: int
    embed_ms_per_query: float
    model: dict  # the manifest's model record

    def as_dict(self) -> dict:
        rows = [{**{k: v for k, v in row.__dict__.items() if k != "score"}, **row.score.as_dict()} for row in self.rows]
        return {"rows": rows, "n_index": self.n_index, "n_queries": self.n_queries,
                "embed_ms_per_query": self.embed_ms_per_query, "model": self.model}

    def table(self) -> str:
        lines = [f"{'index':<38} {'category':<8} {'MAR@10':>7} {'R@1':>6} {'R@5':>6} {'R@10':>6} "
                 f"{'ms/query':>9} {'p50 ms':>7}"]
        for row in self.rows:
            s = row.score
            lines.append(f"{row.index:<38} {row.category:<8} {s.mar_at_10:>7.4f} {s.recall_at_1:>6.3f} "
                         f"{s.recall_at_5:>6.3f} {s.recall_at_10:>6.3f} {row.batch_ms_per_query:>9.3f} "
                         f"{row.latency_ms_p50:>7.3f}")
        scored = self.rows[0].score if self.rows else None
        lines.append(f"{self.n_queries} queries ({scored.n_queries if scored else 0} with ground truth) against "
                     f"{self.n_index} index photos; query embedding {self.embed_ms_per_query:.1f} ms per query "
                     "(batched); ms/query: whole query set at once, p50: one query at a time")
        return "\n".join(lines)


def _score_row(opened: OpenIndex, index: VectorIndex, queries: QueryVectors, truth: GroundTruth,
               how: CategorySearch, latency_queries: int, build_seconds: float | None) -> EvalRow:
    def search(rows: slice) -> np.ndarray:
        return opened.search(queries, MAR_K, how, rows, index)[1]

    search(slice(0, 1))  # warm-up: first-call allocations are not search time
    started = time.perf_counter()
    positions = search(slice(None))
    batch_ms = 1000 * (time.perf_counter() - started) / max(len(queries.ids), 1)
    if positions.shape[1] < MAR_K:  # an index smaller than 10 rows
        positions = np.pad(positions, ((0, 0), (0, MAR_K - positions.shape[1])), constant_values=-1)
    times = []
    for row in range(min(latency_queries, len(queries.ids))):  # one query at a time, as a live service sees them
        started = time.perf_counter()
        search(slice(row, row + 1))
        times.append(time.perf_counter() - started)
    latency = 1000 * float(np.median(times)) if times else float("nan")
    return EvalRow(index.kind, index.name, how.mode, retrieval_scores(positions, truth), batch_ms, latency,
                   build_seconds)


def _indexes_to_compare(opened: OpenIndex, compare: tuple[str, ...], progress: bool):
    """The saved index, then each other kind of ``compare`` built from the stored embeddings (with build time)."""
    yield opened.index, None
    others = [kind for kind in dict.fromkeys(compare) if kind != opened.index.kind]
    if not others:
        return
    vectors = assemble_shards(opened.folder.shards, opened.ids, opened.manifest.shard_rows)
    for kind in others:
        started = time.perf_counter()
        index = make_index(kind, len(vectors), progress=progress).build(vectors)
        yield index, time.perf_counter() - started


def evaluate_index(spec: EvalSpec) -> EvalReport:
    """Search every query of ``data_dir`` with the index (and the ``compare`` kinds), scored against
    ground_truth.csv: MAR@10, recall@1/5/10, search time per query; optionally with predicted categories."""
    opened = open_index(spec.index_dir, spec.runtime)
    folder = VisualSearchDir.of(spec.data_dir)
    data = folder.read(require_ground_truth=True)
    if len(data.index) != len(opened.ids) or (data.index["id"].to_numpy() != opened.ids).any():
        raise IndexFolderError(f"{opened.folder.path} was built from another index.csv than {spec.data_dir}'s")
    truth = data.truth()
    queries = embed_queries(opened, data.queries, folder.query_images, spec.runtime.progress)
    modes = [CategorySearch()] + ([spec.category] if spec.category.mode != NO_CATEGORY else [])
    rows = [_score_row(opened, index, queries, truth, how, spec.latency_queries, build_seconds)
            for index, build_seconds in _indexes_to_compare(opened, spec.compare, spec.runtime.progress)
            for how in modes]
    report = EvalReport(rows, len(opened.ids), len(queries.ids), 1000 * queries.seconds / max(len(queries.ids), 1),
                        opened.manifest.model.record())
    if spec.json_out is not None:
        write_evaluation(spec.json_out, report.as_dict())
    return report


def evaluate_results(results: Path, data_dir: Path) -> RetrievalScore:
    """MAR@10 and recall@1/5/10 of a results file (``index search``) against ground_truth.csv; a query the
    file does not list counts as finding nothing."""
    data = VisualSearchDir.of(data_dir).read(require_ground_truth=True)
    query_ids, positions = read_results(results, data.index["id"].to_numpy(), MAR_K)
    row_of_query = pd.Index(data.queries["id"]).get_indexer(query_ids)
    if (row_of_query < 0).any():
        row = int(np.flatnonzero(row_of_query < 0)[0])
        raise DataValidationError(results, f"query {query_ids[row]!r} is not in {data_dir}'s queries.csv", row=row,
                                  column="query_id")
    retrieved = np.full((len(data.queries), MAR_K), -1, dtype=np.int64)
    retrieved[row_of_query] = positions
    return retrieval_scores(retrieved, data.truth())


COMPARED_KINDS = (ExactIndex.kind, LSHIndex.kind)  # the comparison table's columns


@dataclass
class Comparison:
    """Several models' evaluations side by side: per model and category mode, exact search beside LSH."""

    rows: list[dict]  # model, category, then mar/recall@10 of exact and lsh (None where not evaluated)
    n_queries: int | None

    def table(self) -> str:
        def cell(value):
            return f"{value:>8.4f}" if value is not None else f"{'-':>8}"

        lines = [f"{'model':<12} {'category':<8} {'MAR@10':>8} {'LSH':>8} {'R@10':>8} {'LSH R@10':>8}"]
        for row in self.rows:
            lines.append(f"{row['model']:<12} {row['category']:<8} {cell(row['exact_mar_at_10'])} "
                         f"{cell(row['lsh_mar_at_10'])} {cell(row['exact_recall_at_10'])} "
                         f"{cell(row['lsh_recall_at_10'])}")
        lines.append(f"MAR@10 / R@10: exact search; LSH: the same embeddings in faiss IndexLSH "
                     f"({self.n_queries} queries with ground truth)")
        return "\n".join(lines)


def compare_evaluations(named: dict[str, Path]) -> Comparison:
    """The ``index eval --json`` files of several models (name -> file) as one comparison table."""
    rows, n_queries = [], set()
    for model, path in named.items():
        report = read_evaluation(path)
        by_category: dict[str, dict] = {}
        for row in report["rows"]:
            if row["kind"] not in COMPARED_KINDS:
                continue
            entry = by_category.setdefault(row["category"], {"model": model, "category": row["category"]})
            entry[f"{row['kind']}_mar_at_10"] = row["mar_at_10"]
            entry[f"{row['kind']}_recall_at_10"] = row["recall_at_10"]
            n_queries.add(row["n_queries"])
        for entry in by_category.values():
            rows.append({key: entry.get(key) for key in ("model", "category", "exact_mar_at_10", "lsh_mar_at_10",
                                                         "exact_recall_at_10", "lsh_recall_at_10")})
    if len(n_queries) > 1:
        raise ArgumentError(f"the evaluations scored different query sets ({sorted(n_queries)} queries): "
                            "compare evaluations of one folder")
    return Comparison(rows, n_queries.pop() if n_queries else None)
