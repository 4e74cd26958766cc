"""The vector index kinds of visual search, and how one is made, chosen and read back from its file.

One interface (:class:`prodmatch.visual.vector_index.VectorIndex`), four kinds (names:
:data:`prodmatch.visual.registry.INDEX_KINDS`), made by :func:`create_index`:

- ``exact``  brute force, the reference every other kind is measured against: faiss IndexFlatIP, or a dense
  backend kept on its device (:mod:`prodmatch.visual.exact`);
- ``ivf``    faiss IndexIVFFlat, nprobe tuned to a target recall (:mod:`prodmatch.visual.approximate`);
- ``hnsw``   faiss IndexHNSWFlat, ef_search tuned the same way (:mod:`prodmatch.visual.approximate`);
- ``lsh``    faiss IndexLSH, 2 x dim sign bits: the eProduct paper's baseline (:mod:`prodmatch.visual.lsh`).

Which kind by size (:func:`choose_kind`, ``kind: auto``): exact up to
:data:`~prodmatch.visual.registry.EXACT_MAX_ROWS` rows -- at that size a CPU brute-force scan still answers a
few hundred queries a second and is never wrong -- and IVF above (46x exact's speed at 1.1M rows for 0.95
neighbour recall@10, docs/benchmarks.md). HNSW answers single queries faster than IVF at equal recall on some
data but builds slower and uses more memory: ask for it by name.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from prodmatch.errors import InputError, MissingInputError
from prodmatch.visual.approximate import HNSWIndex, IVFIndex
from prodmatch.visual.exact import ExactIndex
from prodmatch.visual.lsh import LSHIndex
from prodmatch.visual.registry import AUTO_KIND, DEFAULT_EXACT_BACKEND, EXACT_MAX_ROWS, INDEX_KINDS
from prodmatch.visual.vector_index import VectorIndex, import_faiss

INDEX_CLASSES: dict[str, type[VectorIndex]] = {cls.kind: cls for cls in (ExactIndex, IVFIndex, HNSWIndex, LSHIndex)}


def choose_kind(n_rows: int) -> str:
    """The kind ``auto`` builds for ``n_rows`` vectors: exact up to :data:`EXACT_MAX_ROWS`, IVF above."""
    if n_rows < 1:
        raise ValueError(f"n_rows must be >= 1, got {n_rows}")
    return ExactIndex.kind if n_rows <= EXACT_MAX_ROWS else IVFIndex.kind


def create_index(kind: str, **params) -> VectorIndex:
    """Factory: an unbuilt index of ``kind`` (one of :data:`~prodmatch.visual.registry.INDEX_KINDS`) with its
    parameters."""
    if kind not in INDEX_KINDS:
        raise ValueError(f"unknown index kind {kind!r}; choose from {INDEX_KINDS}")
    return INDEX_CLASSES[kind](**params)


def make_index(kind: str, n_rows: int, exact_backend: str = DEFAULT_EXACT_BACKEND,
               progress: bool = True) -> VectorIndex:
    """An unbuilt index of ``kind`` for ``n_rows`` vectors (``auto``: :func:`choose_kind`); ``exact_backend``
    scans an exact one."""
    kind = choose_kind(n_rows) if kind == AUTO_KIND else kind
    params = {"backend": exact_backend} if kind == ExactIndex.kind else {}
    return create_index(kind, progress=progress, **params)


class IndexFileError(InputError, ValueError):
    """A file given as a saved index that is not one."""


def load_index(path: str | Path, progress: bool = True) -> VectorIndex:
    """An index written by :meth:`VectorIndex.save`, ready to search."""
    faiss = import_faiss()
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"index file not found: {path}")
    with np.load(path, allow_pickle=False) as data:
        if "meta" not in data or "faiss_index" not in data:
            raise IndexFileError(f"{path} is not a prodmatch index file (no meta/faiss_index arrays)")
        meta = json.loads(str(data["meta"]))
        blob = data["faiss_index"]
    params = {k: v for k, v in meta["params"].items() if not k.startswith("_")}
    index = create_index(meta["kind"], block_rows=meta["block_rows"], progress=progress, **params)
    index.params.update(meta["params"])
    index._restore(faiss.deserialize_index(blob))
    return index
