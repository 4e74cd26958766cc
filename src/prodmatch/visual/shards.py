"""Sharded, resumable embedding of a large index table, split across ranks (GPUs or machines).

The N rows of a table are cut into shards of S rows (the last one shorter). Shard ``i`` of ``n`` is one
file ``shard-0000i-of-0000n.npz`` holding the ids of its rows and their float32 L2-normalised embeddings,
written atomically, so a file on disk is always a complete shard. :func:`embed_shards` embeds the shards
of one rank (shard ``i`` goes to rank ``i % world_size``; rank and world size default to torchrun's
RANK / WORLD_SIZE) and skips shards already on disk -- a killed run resumes where it stopped, and several
ranks can share one output folder without coordination. :func:`assemble_shards` reads them all back into
one matrix in table order and names every missing shard.

The model is a parameter: ``embed_rows(frame) -> array (len(frame), dim)`` gets the shard's rows of the
table (a DataFrame slice) and returns their embeddings; they are L2-normalised here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.errors import ArgumentError, InputError, MissingInputError
from prodmatch.fileio import atomic_path
from prodmatch.progress import progress_bar
from prodmatch.search.dense import check_embeddings, l2_normalize

EmbedRows = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class ShardPlan:
    """N rows in shards of ``shard_rows``."""

    n_rows: int
    shard_rows: int

    def __post_init__(self) -> None:
        if self.n_rows < 1:
            raise ValueError(f"n_rows must be >= 1, got {self.n_rows}")
        if self.shard_rows < 1:
            raise ValueError(f"shard_rows must be >= 1, got {self.shard_rows}")

    @property
    def n_shards(self) -> int:
        return -(-self.n_rows // self.shard_rows)

    def rows(self, shard: int) -> slice:
        if not 0 <= shard < self.n_shards:
            raise IndexError(f"shard {shard} out of range for {self.n_shards} shards")
        return slice(shard * self.shard_rows, min((shard + 1) * self.shard_rows, self.n_rows))

    def file_name(self, shard: int) -> str:
        width = max(5, len(str(self.n_shards)))
        return f"shard-{shard:0{width}d}-of-{self.n_shards:0{width}d}.npz"


class ShardFileError(InputError, ValueError):
    """A shard file on disk that cannot be used (unreadable, or written for other rows)."""


def rank_from_env(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """(rank, world_size): given values, else torchrun's RANK / WORLD_SIZE, else (0, 1); checked."""
    try:
        rank = int(os.environ.get("RANK", "0")) if rank is None else int(rank)
        world_size = int(os.environ.get("WORLD_SIZE", "1")) if world_size is None else int(world_size)
    except ValueError as exc:
        raise ArgumentError(f"RANK / WORLD_SIZE must be integers: {exc}") from None
    if world_size < 1 or not 0 <= rank < world_size:
        raise ArgumentError(f"need 0 <= rank < world_size, got rank {rank}, world_size {world_size}")
    return rank, world_size


def shards_of_rank(n_shards: int, rank: int, world_size: int) -> list[int]:
    """Shards ``rank, rank + world_size, ...``: disjoint across ranks, together all shards, balanced."""
    return list(range(rank, n_shards, world_size))


def write_shard(path: str | Path, ids: np.ndarray, embeddings: np.ndarray) -> None:
    """One shard file, atomically: ``ids`` (str) and ``embeddings`` (float32, L2-normalised)."""
    embeddings = check_embeddings(embeddings, f"embeddings of {Path(path).name}")
    if len(ids) != len(embeddings):
        raise ValueError(f"{len(ids)} ids for {len(embeddings)} embeddings")
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, ids=np.asarray(ids, dtype=str), embeddings=embeddings)


def read_shard(path: str | Path, expected_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(ids, embeddings) of a shard file; with ``expected_ids``, a file for other rows is an error."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            ids, embeddings = data["ids"], data["embeddings"]
    except (OSError, ValueError, KeyError) as exc:
        raise ShardFileError(f"{path}: not a readable shard file ({exc}); delete it to recompute the shard") from None
    if expected_ids is not None and (len(ids) != len(expected_ids) or (ids != expected_ids).any()):
        raise ShardFileError(f"{path} holds other rows than this table's shard (different table or shard size?); "
                         "use another output folder or delete the old shards")
    return ids, check_embeddings(embeddings, f"embeddings in {path}")


def _embed_one(frame: pd.DataFrame, embed_rows: EmbedRows, shard: int) -> np.ndarray:
    raw = embed_rows(frame)
    if not isinstance(raw, np.ndarray):
        raise TypeError(f"embed_rows must return a numpy array, got {type(raw).__name__} (shard {shard})")
    if raw.ndim != 2 or len(raw) != len(frame):
        raise ValueError(f"embed_rows returned shape {raw.shape} for {len(frame)} rows (shard {shard})")
    if not np.issubdtype(raw.dtype, np.floating):
        raise TypeError(f"embed_rows must return floats, got {raw.dtype} (shard {shard})")
    return l2_normalize(raw)


@dataclass
class ShardRun:
    """What one :func:`embed_shards` call did."""

    rank: int
    world_size: int
    n_shards: int
    computed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # already on disk


def embed_shards(frame: pd.DataFrame, embed_rows: EmbedRows, out_dir: str | Path, shard_rows: int,
                 id_column: str = "id", rank: int | None = None, world_size: int | None = None,
                 progress: bool = True) -> ShardRun:
    """Embed this rank's shards of ``frame`` into ``out_dir``, skipping shards already written."""
    rank, world_size = rank_from_env(rank, world_size)
    plan = ShardPlan(len(frame), shard_rows)
    out_dir = Path(out_dir)
    ids = frame[id_column].astype(str).to_numpy()
    run = ShardRun(rank, world_size, plan.n_shards)
    mine = shards_of_rank(plan.n_shards, rank, world_size)
    for shard in progress_bar(mine, f"embed shards (rank {rank}/{world_size})", enabled=progress and len(mine) > 1):
        rows = plan.rows(shard)
        path = out_dir / plan.file_name(shard)
        if path.exists():
            read_shard(path, ids[rows])  # a complete shard of these rows, or a loud error
            run.skipped.append(shard)
            continue
        write_shard(path, ids[rows], _embed_one(frame.iloc[rows], embed_rows, shard))
        run.computed.append(shard)
    return run


def missing_shards(out_dir: str | Path, n_rows: int, shard_rows: int) -> list[int]:
    plan = ShardPlan(n_rows, shard_rows)
    return [s for s in range(plan.n_shards) if not (Path(out_dir) / plan.file_name(s)).exists()]


def assemble_shards(out_dir: str | Path, ids: np.ndarray | pd.Series, shard_rows: int) -> np.ndarray:
    """All shards as one (len(ids), dim) float32 matrix in table order; each shard's ids are checked."""
    ids = np.asarray(ids, dtype=str)
    out_dir = Path(out_dir)
    plan = ShardPlan(len(ids), shard_rows)
    missing = missing_shards(out_dir, len(ids), shard_rows)
    if missing:
        shown = ", ".join(str(s) for s in missing[:20]) + (" ..." if len(missing) > 20 else "")
        raise MissingInputError(f"{out_dir}: {len(missing)} of {plan.n_shards} shards missing (shard {shown}); "
                                "run the embedding again (every rank) to complete them")
    matrix = None
    for shard in range(plan.n_shards):
        rows = plan.rows(shard)
        _, embeddings = read_shard(out_dir / plan.file_name(shard), ids[rows])
        if matrix is None:
            matrix = np.empty((len(ids), embeddings.shape[1]), np.float32)
        elif embeddings.shape[1] != matrix.shape[1]:
            raise ValueError(f"shard {shard} has dimension {embeddings.shape[1]}, shard 0 has {matrix.shape[1]}")
        matrix[rows] = embeddings
    return matrix
