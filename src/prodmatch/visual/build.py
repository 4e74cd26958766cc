"""``prodmatch index build``: embed index.csv's photos in shards, then build the searchable index.

Shards (:mod:`prodmatch.visual.shards`) make the embedding resumable -- a killed build starts again from the
shards on disk -- and split it across ranks under ``torchrun`` (or any RANK / WORLD_SIZE), so several GPUs
or machines each embed their share. Rank 0 then assembles them, predicts each row's categories when the
model has hierarchical heads, and builds the index (exact, IVF, HNSW, LSH, or ``auto`` by size). The folder
and its manifest are :mod:`prodmatch.visual.folder`'s.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from prodmatch.errors import ArgumentError
from prodmatch.visual.folder import BuiltIndex, IndexFolder, IndexFolderError, IndexManifest
from prodmatch.visual.identity import ModelChoice
from prodmatch.visual.indexes import make_index
from prodmatch.visual.layout import VisualSearchDir
from prodmatch.visual.model import EmbeddingModel, Runtime, open_model
from prodmatch.visual.registry import AUTO_KIND, BUILD_KINDS, DEFAULT_EXACT_BACKEND, DEFAULT_SHARD_ROWS
from prodmatch.visual.shards import assemble_shards, embed_shards, missing_shards, rank_from_env


@dataclass(frozen=True)
class BuildSpec:
    """What ``index build`` makes: an index of ``data_dir``'s index.csv in ``index_dir``, embedded by ``model``."""

    index_dir: Path
    data_dir: Path
    model: ModelChoice
    kind: str = AUTO_KIND
    exact_backend: str = DEFAULT_EXACT_BACKEND
    shard_rows: int = DEFAULT_SHARD_ROWS
    embed_only: bool = False  # only this rank's shards (ranks started by hand); build later
    overwrite: bool = False  # replace an index of another model, data or shard size
    runtime: Runtime = Runtime()

    def __post_init__(self) -> None:
        if self.kind not in BUILD_KINDS:
            raise ArgumentError(f"unknown index kind {self.kind!r}; choose from {BUILD_KINDS}")


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


def _start_manifest(folder: IndexFolder, spec: BuildSpec, model: EmbeddingModel, n_rows: int,
                    rank: int) -> IndexManifest:
    """The manifest of this build; an unfinished build of the same model, data and shard size is resumed,
    anything else in the folder is refused unless ``overwrite``."""
    manifest = IndexManifest(model.identity, str(Path(spec.data_dir).resolve()), n_rows, spec.shard_rows)
    if folder.has_manifest() and not spec.overwrite:
        old = folder.read_manifest()
        if not old.same_embeddings(manifest):
            raise IndexFolderError(f"{folder.path} holds an index of another model, data or shard size; pass "
                                   "--overwrite to replace it, or choose another --out")
        return old
    if rank == 0:
        if spec.overwrite and folder.path.exists():
            _clear(folder)
        folder.write_manifest(manifest)
    return manifest


def _clear(folder: IndexFolder) -> None:
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


def build_index(spec: BuildSpec) -> BuildResult:
    """Embed this rank's shards of index.csv, then (rank 0, every shard present) build and save the index."""
    rank, world_size = rank_from_env()
    folder = IndexFolder.of(spec.index_dir)
    data = VisualSearchDir.of(spec.data_dir)
    index_frame = data.read_index()
    model = open_model(spec.model, spec.runtime)
    progress = spec.runtime.progress
    with rank_barrier(world_size) as barrier:
        if barrier is not None and rank != 0:
            barrier()  # rank 0 clears an old build (--overwrite) and writes the manifest before anyone embeds
        manifest = _start_manifest(folder, spec, model, len(index_frame), rank)
        if barrier is not None and rank == 0:
            barrier()
        started = time.perf_counter()
        run = embed_shards(index_frame, lambda rows: model.embed(rows, data.index_images), folder.shards,
                           spec.shard_rows, rank=rank, world_size=world_size, progress=progress)
        seconds = {"embed": time.perf_counter() - started}
        if barrier is not None:
            barrier()  # every rank's shards are on disk
    result = BuildResult(folder.path, rank, world_size, len(index_frame), run.n_shards, run.computed, run.skipped,
                         built=False, seconds=seconds)
    result.missing = len(missing_shards(folder.shards, len(index_frame), spec.shard_rows))
    if spec.embed_only or rank != 0 or result.missing:
        return result
    vectors = assemble_shards(folder.shards, index_frame["id"], spec.shard_rows)
    categories = model.predict_categories(vectors)
    started = time.perf_counter()
    index = make_index(spec.kind, len(vectors), spec.exact_backend, progress).build(vectors)
    index.save(folder.index)
    seconds["build"] = time.perf_counter() - started
    folder.write_rows(index_frame["id"].to_numpy(), categories)
    built = BuiltIndex(index.kind, index.name, index.params, int(vectors.shape[1]),
                       {k: round(v, 2) for k, v in seconds.items()}, model.category_tree())
    folder.write_manifest(replace(manifest, built=built))
    result.built, result.index_name = True, index.name
    return result
