"""Visual search flows: build an index of catalogue photos, search it with query photos, evaluate the results.

- :func:`build_index` (``prodmatch index build``): embed index.csv's images in shards -- resumable, split
  across ranks under ``torchrun`` (or any RANK / WORLD_SIZE) so several GPUs or machines each embed their
  share -- then, on rank 0, assemble them, predict each row's categories when the model has hierarchical
  heads, and build the searchable index (exact, IVF, HNSW, LSH, or ``auto`` by size);
- :func:`search_index` (``prodmatch index search``): embed queries.csv's images and write each query's top k
  (optionally filtered or re-ranked by predicted category);
- :func:`evaluate_index` (``prodmatch index eval``): MAR@10, recall@1/5/10 and query latency of the index and
  of other kinds built from the same embeddings (LSH beside exact by default), or of a results file.

Embeddings come from :mod:`prodmatch.embed` (a trained run's fold models) or, for a baseline, from a bare
pretrained backbone (:class:`EmbeddingModel`). The folder layout is :mod:`prodmatch.visual.folder`'s.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.visual.folder import (
    STATUS_COMPLETE,
    STATUS_EMBEDDING,
    IndexFolder,
    IndexFolderError,
    read_evaluation,
    read_results,
    write_evaluation,
    write_results,
)
from prodmatch.data.validation import DataValidationError
from prodmatch.visual.layout import VisualSearchDir
from prodmatch.errors import ArgumentError
from prodmatch.visual.categories import CATEGORY_MODES, search_with_categories
from prodmatch.visual.index import VectorIndex, choose_kind, create_index, load_index
from prodmatch.visual.shards import assemble_shards, embed_shards, missing_shards, rank_from_env
from prodmatch.visual.metrics import MAR_K, RetrievalScore, retrieval_scores

DEFAULT_SHARD_ROWS = 4096
INDEX_KINDS = ("auto", "exact", "ivf", "hnsw", "lsh")


# ------------------------------------------------------------------------------------------ the model


@dataclass
class EmbeddingModel:
    """What embeds photos for an index: a trained run (``run``: every fold model, averaged) or a bare
    pretrained backbone (``backbone``: GeM features, no neck -- the untrained baseline)."""

    identity: dict  # recorded in the manifest; search re-opens the same model from it
    folds: list = field(default_factory=list)  # prodmatch.embed.FoldModel of a run
    encoder: object | None = None  # a bare encoder (backbone baseline)
    predictor: object | None = None  # prodmatch.models.hierarchy.CategoryPredictor, from a run with heads
    batch_size: int = 64
    num_workers: int | None = None

    def embed(self, frame: pd.DataFrame, images_dir: Path, progress: bool = False) -> np.ndarray:
        from prodmatch.embed import embed_frame, embed_with_folds

        if self.folds:
            return embed_with_folds(None, frame, images_dir, self.batch_size, num_workers=self.num_workers,
                                    models=self.folds, progress=progress)
        return embed_frame(self.encoder, frame, images_dir, self.batch_size, num_workers=self.num_workers,
                           progress=progress)


def open_model(run: str | Path | None = None, backbone: str | None = None, pretrained: str = "auto",
               image_size: int | None = None, device: str = "auto", batch_size: int = 64,
               num_workers: int | None = None) -> EmbeddingModel:
    """The model of a trained run, or a bare pretrained backbone (exactly one of ``run`` / ``backbone``)."""
    if (run is None) == (backbone is None):
        raise ArgumentError("give exactly one of a trained run (--run) or a pretrained backbone (--backbone)")
    from prodmatch.device import resolve_device

    device_obj = resolve_device(device, int(os.environ.get("LOCAL_RANK", "0")))  # one GPU per torchrun rank
    if run is not None:
        from prodmatch.embed import load_run
        from prodmatch.models.hierarchy import CategoryPredictor

        folds = load_run(run, device_obj)
        if any(fold.kind != "image" for fold in folds):
            raise ArgumentError(f"{run} is a {folds[0].kind} run; visual search needs an image model")
        payload = folds[0].meta.get("hierarchy")
        predictor = CategoryPredictor.from_payload(payload) if payload else None
        identity = {"run": str(Path(run).resolve()), "folds": [fold.fold for fold in folds],
                    "epochs": [fold.meta.get("epoch") for fold in folds], "categories": predictor is not None}
        return EmbeddingModel(identity, folds=folds, predictor=predictor, batch_size=batch_size,
                              num_workers=num_workers)
    from prodmatch.models.image import ImageEncoder, ImageEncoderSpec, data_config

    defaults = data_config(backbone)
    size = int(image_size or defaults.get("input_size", (3, 224, 224))[-1])
    spec = ImageEncoderSpec(backbone=backbone, embedding_dim=0, neck="none", image_size=size,
                            mean=tuple(defaults["mean"]), std=tuple(defaults["std"]))
    import torch

    with torch.random.fork_rng(devices=[]):  # pretrained none: the same random weights whenever it is re-opened
        torch.manual_seed(0)
        encoder = ImageEncoder.create(spec, pretrained).to(device_obj).eval()
    identity = {"backbone": backbone, "pretrained": pretrained, "image_size": size, "categories": False}
    return EmbeddingModel(identity, encoder=encoder, batch_size=batch_size, num_workers=num_workers)


def reopen_model(identity: dict, device: str = "auto", batch_size: int = 64,
                 num_workers: int | None = None) -> EmbeddingModel:
    """The model a manifest names (the one the index was built with)."""
    if "run" in identity:
        return open_model(run=identity["run"], device=device, batch_size=batch_size, num_workers=num_workers)
    return open_model(backbone=identity["backbone"], pretrained=identity["pretrained"],
                      image_size=identity["image_size"], device=device, batch_size=batch_size,
                      num_workers=num_workers)


# ------------------------------------------------------------------------------------------ build


@dataclass
class BuildOptions:
    index_dir: Path
    data_dir: Path
    run: Path | None = None
    backbone: str | None = None
    pretrained: str = "auto"
    image_size: int | None = None
    kind: str = "auto"
    exact_backend: str = "faiss"
    shard_rows: int = DEFAULT_SHARD_ROWS
    batch_size: int = 64
    num_workers: int | None = None
    device: str = "auto"
    embed_only: bool = False
    overwrite: bool = False
    progress: bool = True


@dataclass
class BuildResult:
    index_dir: Path
    rank: int
    world_size: int
    n_rows: int
    n_shards: int
    computed: list[int]
    skipped: list[int]
    built: bool  # False: this rank only embedded its shards
    missing: int = 0  # shards not on disk yet when this rank finished (other ranks' work)
    index_name: str = ""
    seconds: dict = field(default_factory=dict)

    def describe(self) -> str:
        shards = (f"rank {self.rank}/{self.world_size}: embedded {len(self.computed)} shard(s), "
                  f"{len(self.skipped)} already on disk (of {self.n_shards})")
        if not self.built and self.rank != 0:
            return shards + f"; rank 0 builds the index once every rank's shards exist: {self.index_dir}"
        if not self.built:
            waiting = f"{self.missing} shard(s) of other ranks still missing; " if self.missing else ""
            return shards + f"; {waiting}run index build again (without RANK) to build the index: {self.index_dir}"
        timing = ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items())
        return f"{shards}; {self.index_name} index of {self.n_rows} photos in {self.index_dir} ({timing})"


def _start_manifest(folder: IndexFolder, options: BuildOptions, model: EmbeddingModel, n_rows: int,
                    rank: int) -> dict:
    """The manifest of this build; an unfinished build of the same model, data and shard size is resumed,
    anything else in the folder is refused unless ``overwrite``."""
    manifest = {"status": STATUS_EMBEDDING, "model": model.identity, "data_dir": str(Path(options.data_dir).resolve()),
                "n_rows": n_rows, "shard_rows": options.shard_rows}
    if folder.has_manifest() and not options.overwrite:
        old = folder.read_manifest()
        same = all(old.get(key) == manifest[key] for key in ("model", "data_dir", "n_rows", "shard_rows"))
        if not same:
            raise IndexFolderError(f"{folder.path} holds an index of another model, data or shard size; pass "
                                   "--overwrite to replace it, or choose another --out")
        return {**old, "status": old.get("status", STATUS_EMBEDDING)}
    if rank == 0:
        if options.overwrite and folder.path.exists():
            _clear(folder)
        folder.write_manifest(manifest)
    return manifest


def _clear(folder: IndexFolder) -> None:
    import shutil

    for path in (folder.manifest, folder.rows, folder.index):
        path.unlink(missing_ok=True)
    shutil.rmtree(folder.shards, ignore_errors=True)


@contextlib.contextmanager
def rank_barrier(world_size: int):
    """A barrier across torchrun's ranks (a gloo group: no GPU needed), or None when there is no rendezvous
    (one process, or ranks started by hand with RANK / WORLD_SIZE only: rank 0 then builds once every shard
    exists)."""
    if world_size <= 1 or "MASTER_ADDR" not in os.environ:
        yield None
        return
    import torch.distributed as dist

    created = not dist.is_initialized()
    if created:
        dist.init_process_group(backend="gloo")
    try:
        yield dist.barrier
    finally:
        if created:
            dist.destroy_process_group()


def build_index(options: BuildOptions) -> BuildResult:
    """Embed this rank's shards of index.csv, then (rank 0, every shard present) build and save the index."""
    if options.kind not in INDEX_KINDS:
        raise ArgumentError(f"unknown index kind {options.kind!r}; choose from {INDEX_KINDS}")
    rank, world_size = rank_from_env()
    folder = IndexFolder.of(options.index_dir)
    data = VisualSearchDir.of(options.data_dir)
    index_frame = data.read_index()
    model = open_model(options.run, options.backbone, options.pretrained, options.image_size, options.device,
                       options.batch_size, options.num_workers)
    with rank_barrier(world_size) as barrier:
        if barrier is not None and rank != 0:
            barrier()  # rank 0 clears an old build (--overwrite) and writes the manifest before anyone embeds
        manifest = _start_manifest(folder, options, model, len(index_frame), rank)
        if barrier is not None and rank == 0:
            barrier()
        started = time.perf_counter()
        run = embed_shards(index_frame, lambda rows: model.embed(rows, data.index_images), folder.shards,
                           options.shard_rows, rank=rank, world_size=world_size, progress=options.progress)
        seconds = {"embed": time.perf_counter() - started}
        if barrier is not None:
            barrier()  # every rank's shards are on disk
    result = BuildResult(folder.path, rank, world_size, len(index_frame), run.n_shards, run.computed, run.skipped,
                         built=False, seconds=seconds)
    result.missing = len(missing_shards(folder.shards, len(index_frame), options.shard_rows))
    if options.embed_only or rank != 0 or result.missing:
        return result
    vectors = assemble_shards(folder.shards, index_frame["id"], options.shard_rows)
    categories = model.predictor.predict(vectors) if model.predictor is not None else None
    started = time.perf_counter()
    index = make_index(options.kind, len(vectors), options.exact_backend, options.progress).build(vectors)
    index.save(folder.index)
    seconds["build"] = time.perf_counter() - started
    folder.write_rows(index_frame["id"].to_numpy(), categories)
    manifest.update(status=STATUS_COMPLETE, kind=index.kind, index=index.name, params=index.params,
                    dim=int(vectors.shape[1]), seconds={k: round(v, 2) for k, v in seconds.items()},
                    categories=None if model.predictor is None else {"levels": model.predictor.levels,
                                                                       "classes": model.predictor.classes})
    folder.write_manifest(manifest)
    result.built, result.index_name = True, index.name
    return result


def make_index(kind: str, n_rows: int, exact_backend: str = "faiss", progress: bool = True) -> VectorIndex:
    """An unbuilt index of ``kind`` (``auto``: :func:`prodmatch.visual.index.choose_kind` by size)."""
    kind = choose_kind(n_rows) if kind == "auto" else kind
    params = {"backend": exact_backend} if kind == "exact" else {}
    return create_index(kind, progress=progress, **params)


# ------------------------------------------------------------------------------------------ search


@dataclass(frozen=True)
class CategorySearch:
    """How predicted categories take part in a search: ``none``, ``filter`` or ``bonus`` on one level."""

    mode: str = "none"
    level: int = -1  # -1: the leaf
    bonus: float = 0.05
    overfetch: int = 4

    def __post_init__(self) -> None:
        if self.mode != "none" and self.mode not in CATEGORY_MODES:
            raise ArgumentError(f"unknown category mode {self.mode!r}; choose none or one of {CATEGORY_MODES}")


@dataclass
class SearchOptions:
    index_dir: Path
    data_dir: Path
    k: int = MAR_K
    category: CategorySearch = field(default_factory=CategorySearch)  # predicted categories (a run with heads)
    batch_size: int = 64
    num_workers: int | None = None
    device: str = "auto"
    progress: bool = True


@dataclass
class OpenIndex:
    """A complete index folder opened for searching: manifest, vectors' index, row ids, categories, model."""

    folder: IndexFolder
    manifest: dict
    index: VectorIndex
    ids: np.ndarray
    categories: np.ndarray | None
    model: EmbeddingModel


def open_index(index_dir: Path, device: str = "auto", batch_size: int = 64, num_workers: int | None = None,
               progress: bool = True) -> OpenIndex:
    folder = IndexFolder.of(index_dir)
    manifest = folder.read_complete_manifest()
    ids, categories = folder.read_rows()
    model = reopen_model(manifest["model"], device, batch_size, num_workers)
    return OpenIndex(folder, manifest, load_index(folder.index, progress=progress), ids, categories, model)


@dataclass
class QueryVectors:
    ids: np.ndarray
    vectors: np.ndarray
    categories: np.ndarray | None  # predicted, (n, n_levels)
    seconds: float  # embedding (and category prediction) time


def embed_queries(opened: OpenIndex, queries: pd.DataFrame, images_dir: Path, progress: bool = True) -> QueryVectors:
    """The queries' embeddings (and predicted categories when the model has hierarchical heads), timed."""
    started = time.perf_counter()
    vectors = opened.model.embed(queries, images_dir, progress=progress)
    predictor = opened.model.predictor
    categories = predictor.predict(vectors) if predictor is not None else None
    return QueryVectors(queries["id"].to_numpy(), vectors, categories, time.perf_counter() - started)


def run_search(index: VectorIndex, vectors: np.ndarray, query_categories: np.ndarray | None, k: int,
               how: CategorySearch, index_categories: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, positions) of the query vectors, plain or by predicted category."""
    if how.mode == "none":
        return index.search(vectors, k)
    if index_categories is None or query_categories is None:
        raise ArgumentError("category filtering needs predicted categories: build the index with a run trained with "
                         "hierarchical heads (hierarchy: true)")
    return search_with_categories(index, vectors, k, index_categories[:, how.level], query_categories[:, how.level],
                                  mode=how.mode, overfetch=how.overfetch, bonus=how.bonus)


@dataclass
class SearchResult:
    out: Path
    n_queries: int
    k: int
    embed_seconds: float
    search_seconds: float

    def describe(self) -> str:
        per_query = 1000 * (self.embed_seconds + self.search_seconds) / max(self.n_queries, 1)
        return (f"top {self.k} of {self.n_queries} queries -> {self.out} (embedding {self.embed_seconds:.1f}s, "
                f"search {self.search_seconds:.2f}s; {per_query:.1f} ms per query)")


def search_index(options: SearchOptions, out: Path) -> SearchResult:
    """Every query's top k written to ``out`` (:func:`prodmatch.visual.folder.write_results`)."""
    opened = open_index(options.index_dir, options.device, options.batch_size, options.num_workers, options.progress)
    folder = VisualSearchDir.of(options.data_dir)
    queries = embed_queries(opened, folder.read_queries(), folder.query_images, options.progress)
    started = time.perf_counter()
    scores, positions = run_search(opened.index, queries.vectors, queries.categories, options.k, options.category,
                                   opened.categories)
    seconds = time.perf_counter() - started
    index_ids = np.where(positions >= 0, opened.ids[np.maximum(positions, 0)], "")
    write_results(out, queries.ids, index_ids, scores)
    return SearchResult(Path(out), len(queries.ids), options.k, queries.seconds, seconds)


# ------------------------------------------------------------------------------------------ evaluate


@dataclass
class EvalOptions:
    index_dir: Path
    data_dir: Path
    compare: tuple[str, ...] = ("exact", "lsh")  # other kinds built from the same embeddings, side by side
    category: CategorySearch = field(default_factory=CategorySearch)  # also scored with this, unless mode none
    latency_queries: int = 100  # queries searched one at a time for the latency figure
    batch_size: int = 64
    num_workers: int | None = None
    device: str = "auto"
    progress: bool = True
    json_out: Path | None = None


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
    model: dict

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


def _score_row(index: VectorIndex, queries: QueryVectors, truth, how: CategorySearch, opened: OpenIndex,
               latency_queries: int, build_seconds: float | None) -> EvalRow:
    def search(rows: slice):
        categories = None if queries.categories is None else queries.categories[rows]
        return run_search(index, queries.vectors[rows], categories, MAR_K, how, opened.categories)[1]

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
    vectors = assemble_shards(opened.folder.shards, opened.ids, opened.manifest["shard_rows"])
    for kind in others:
        started = time.perf_counter()
        index = make_index(kind, len(vectors), progress=progress).build(vectors)
        yield index, time.perf_counter() - started


def evaluate_index(options: EvalOptions) -> EvalReport:
    """Search every query of ``data_dir`` with the index (and the ``compare`` kinds), scored against
    ground_truth.csv: MAR@10, recall@1/5/10, search time per query; optionally with predicted categories."""
    opened = open_index(options.index_dir, options.device, options.batch_size, options.num_workers, options.progress)
    folder = VisualSearchDir.of(options.data_dir)
    data = folder.read(require_ground_truth=True)
    if len(data.index) != len(opened.ids) or (data.index["id"].to_numpy() != opened.ids).any():
        raise IndexFolderError(f"{opened.folder.path} was built from another index.csv than {options.data_dir}'s")
    truth = data.truth()
    queries = embed_queries(opened, data.queries, folder.query_images, options.progress)
    modes = [CategorySearch()] + ([options.category] if options.category.mode != "none" else [])
    rows = [_score_row(index, queries, truth, how, opened, options.latency_queries, build_seconds)
            for index, build_seconds in _indexes_to_compare(opened, options.compare, options.progress)
            for how in modes]
    report = EvalReport(rows, len(opened.ids), len(queries.ids), 1000 * queries.seconds / max(len(queries.ids), 1),
                        opened.manifest["model"])
    if options.json_out is not None:
        write_evaluation(options.json_out, report.as_dict())
    return report


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
            kind = row["kind"] if row["kind"] in ("exact", "lsh") else None
            if kind is None:
                continue
            entry = by_category.setdefault(row["category"], {"model": model, "category": row["category"]})
            entry[f"{kind}_mar_at_10"] = row["mar_at_10"]
            entry[f"{kind}_recall_at_10"] = row["recall_at_10"]
            n_queries.add(row["n_queries"])
        for entry in by_category.values():
            rows.append({key: entry.get(key) for key in ("model", "category", "exact_mar_at_10", "lsh_mar_at_10",
                                                         "exact_recall_at_10", "lsh_recall_at_10")})
    if len(n_queries) > 1:
        raise ArgumentError(f"the evaluations scored different query sets ({sorted(n_queries)} queries): "
                            "compare evaluations of one folder")
    return Comparison(rows, n_queries.pop() if n_queries else None)


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
