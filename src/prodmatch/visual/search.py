"""``prodmatch index search``: embed queries.csv's photos and write each query's top k (optionally filtered or
re-ranked by predicted category). :func:`open_index` and :func:`embed_queries` serve eval too."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.visual.categories import CategorySearch, search_vectors
from prodmatch.visual.folder import IndexFolder, IndexFolderError, IndexManifest, write_results
from prodmatch.visual.indexes import load_index
from prodmatch.visual.layout import VisualSearchDir
from prodmatch.visual.metrics import MAR_K
from prodmatch.visual.model import EmbeddingModel, Runtime, open_model
from prodmatch.visual.vector_index import VectorIndex


@dataclass(frozen=True)
class SearchSpec:
    """What ``index search`` does: every query of ``data_dir`` searched in the index of ``index_dir``."""

    index_dir: Path
    data_dir: Path
    k: int = MAR_K
    category: CategorySearch = field(default_factory=CategorySearch)  # predicted categories (a run with heads)
    runtime: Runtime = Runtime()


@dataclass
class OpenIndex:
    """A complete index folder opened for searching: manifest, vectors' index, row ids, categories, model."""

    folder: IndexFolder
    manifest: IndexManifest
    index: VectorIndex
    ids: np.ndarray
    categories: np.ndarray | None
    model: EmbeddingModel

    def search(self, queries: QueryVectors, k: int, how: CategorySearch, rows: slice = slice(None),
               index: VectorIndex | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, positions) of ``queries[rows]`` in ``index`` (default: the saved one; eval passes
        other kinds built from the same embeddings)."""
        categories = None if queries.categories is None else queries.categories[rows]
        return search_vectors(self.index if index is None else index, queries.vectors[rows], k, how, categories,
                              self.categories)


def open_index(index_dir: Path, runtime: Runtime | None = None) -> OpenIndex:
    """A complete index folder and the model it was built with, checked to be still the same model."""
    runtime = runtime or Runtime()
    folder = IndexFolder.of(index_dir)
    manifest = folder.read_complete_manifest()
    ids, categories = folder.read_rows()
    model = open_model(manifest.model.choice(), runtime)
    if model.identity != manifest.model:
        raise IndexFolderError(f"{folder.path} was built with {manifest.model.describe()}, which is now "
                               f"{model.identity.describe()}: build the index again (index build --overwrite)")
    return OpenIndex(folder, manifest, load_index(folder.index, progress=runtime.progress), ids, categories, model)


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
    categories = opened.model.predict_categories(vectors)
    return QueryVectors(queries["id"].to_numpy(), vectors, categories, time.perf_counter() - started)


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


def search_index(spec: SearchSpec, out: Path) -> SearchResult:
    """Every query's top k written to ``out`` (:func:`prodmatch.visual.folder.write_results`)."""
    opened = open_index(spec.index_dir, spec.runtime)
    folder = VisualSearchDir.of(spec.data_dir)
    queries = embed_queries(opened, folder.read_queries(), folder.query_images, spec.runtime.progress)
    started = time.perf_counter()
    scores, positions = opened.search(queries, spec.k, spec.category)
    seconds = time.perf_counter() - started
    index_ids = np.where(positions >= 0, opened.ids[np.maximum(positions, 0)], "")
    write_results(out, queries.ids, index_ids, scores)
    return SearchResult(Path(out), len(queries.ids), spec.k, queries.seconds, seconds)
