"""Single process or ``torchrun --nproc_per_node N`` (DistributedDataParallel) with the same code.

:func:`init_distributed` reads torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE).
Without it the context is a world of one and every collective below is a no-op. Backend: NCCL on CUDA, gloo
on CPU (the CPU path is what the tests run), with an explicit timeout (:func:`process_group_timeout`: what
one rank may work alone while the others wait, e.g. rank 0 scoring a large index).

torchrun sets ``OMP_NUM_THREADS=1`` for every rank; a step that rank 0 does alone (scoring: faiss / torch
search) gets the threads of the cores per local rank instead (:func:`main_rank_threads`), and DataLoader
workers are sized from them too (:func:`cores_per_local_rank`).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist

from prodmatch.device import available_cores, resolve_device

TIMEOUT_ENV = "PRODMATCH_DDP_TIMEOUT_MIN"
DEFAULT_TIMEOUT_MIN = 60.0  # NCCL's default is 10 minutes: too short for rank 0 scoring a large index alone


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    initialised_here: bool = False
    local_world_size: int = 1  # processes on this node (they share its cores)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def process_group_timeout() -> timedelta:
    """How long a collective waits for the slowest rank: ``$PRODMATCH_DDP_TIMEOUT_MIN`` minutes, default 60."""
    text = os.environ.get(TIMEOUT_ENV, "")
    try:
        minutes = float(text) if text else DEFAULT_TIMEOUT_MIN
    except ValueError:
        minutes = -1.0
    if not minutes > 0:
        from prodmatch.errors import ArgumentError

        raise ArgumentError(f"${TIMEOUT_ENV}={text!r}: expected a positive number of minutes")
    return timedelta(minutes=minutes)


def init_distributed(device: str = "auto") -> DistContext:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size)))
    dev = resolve_device(device, local_rank)
    if world_size <= 1:
        return DistContext(device=dev)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    here = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo", timeout=process_group_timeout())
        here = True
    return DistContext(rank, world_size, local_rank, dev, here, local_world_size)


def cores_per_local_rank(ctx: DistContext, cores: int | None = None) -> int:
    """The CPU cores of one process: this process's cores (``cores``, default all it may run on) shared by the
    node's local ranks (at least 1)."""
    cores = available_cores() if cores is None else cores
    return max(1, cores // max(1, ctx.local_world_size))


@contextlib.contextmanager
def main_rank_threads(ctx: DistContext, cores: int | None = None):
    """Under DDP: torch and faiss (OpenMP) threads = :func:`cores_per_local_rank` for the enclosed step (e.g.
    rank 0 scoring alone), then back to what they were; torchrun's ``OMP_NUM_THREADS=1`` would leave it one core.
    A single process keeps its threads."""
    if not ctx.distributed:
        yield
        return
    threads = cores_per_local_rank(ctx, cores)
    try:
        import faiss
    except ImportError:  # the torch / numpy search backends need no faiss
        faiss = None
    before = torch.get_num_threads(), faiss.omp_get_max_threads() if faiss is not None else None
    torch.set_num_threads(threads)
    if faiss is not None:
        faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        if faiss is not None:
            faiss.omp_set_num_threads(before[1])


def log_main(ctx: DistContext, message: str) -> None:
    """A log line from rank 0 only (above any progress bar)."""
    if ctx.is_main:
        from tqdm.auto import tqdm

        tqdm.write(message)


def cleanup(ctx: DistContext) -> None:
    if ctx.initialised_here and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def shard(n: int, ctx: DistContext) -> np.ndarray:
    """Positions 0..n-1 this rank handles for inference: every rank-th one, no padding, no overlap."""
    return np.arange(ctx.rank, n, ctx.world_size, dtype=np.int64)


def gather_rows(positions: np.ndarray, values: np.ndarray, n: int, ctx: DistContext) -> np.ndarray | None:
    """Assemble per-rank ``values`` (rows for ``positions``) into one (n, ...) array on rank 0 (None elsewhere).

    Raises when the ranks do not cover 0..n-1 exactly once.
    """
    parts = [(positions, values)]
    if ctx.distributed:
        gathered: list = [None] * ctx.world_size
        dist.gather_object((positions, values), gathered if ctx.is_main else None, dst=0)
        if not ctx.is_main:
            return None
        parts = gathered
    all_pos = np.concatenate([p for p, _ in parts])
    counts = np.bincount(all_pos, minlength=n)
    if len(all_pos) != n or counts.max(initial=0) != 1 or counts.min(initial=1) != 1:
        raise RuntimeError(f"gathered rows do not cover 0..{n - 1} exactly once "
                           f"({len(all_pos)} rows, {(counts == 0).sum()} missing, {(counts > 1).sum()} repeated)")
    out = np.empty((n, *values.shape[1:]), dtype=values.dtype)
    for pos, val in parts:
        out[pos] = val
    return out


def broadcast_object(obj, ctx: DistContext):
    """Rank 0's ``obj`` on every rank."""
    if not ctx.distributed:
        return obj
    box = [obj if ctx.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_reduce_sum(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    if ctx.distributed:
        work = tensor.to(ctx.device) if ctx.device.type == "cuda" else tensor
        dist.all_reduce(work, op=dist.ReduceOp.SUM)
        if work is not tensor:
            tensor.copy_(work.cpu())
    return tensor


def all_ranks_agree(flag: bool, ctx: DistContext) -> bool:
    """True on every rank when ``flag`` holds on every rank (a collective: each rank must call it at the same
    point), so ranks take a decision together instead of one raising while the others wait in an all-reduce."""
    if not ctx.distributed:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=ctx.device if ctx.device.type == "cuda" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def reduce_mean_scalar(value: float, ctx: DistContext) -> float:
    if not ctx.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=ctx.device if ctx.device.type == "cuda" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item()) / ctx.world_size


def sync_buffers(module: torch.nn.Module, ctx: DistContext) -> None:
    """Copy rank 0's buffers (BatchNorm running stats...) to every rank.

    DDP broadcasts buffers at the start of each forward, so after the last training step each rank still
    holds the statistics of its own last batch; evaluation must use one set.
    """
    if not ctx.distributed:
        return
    for buffer in module.buffers():
        dist.broadcast(buffer.data, src=0)
