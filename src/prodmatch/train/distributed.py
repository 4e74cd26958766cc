"""Single process or ``torchrun --nproc_per_node N`` (DistributedDataParallel) with the same code.

:func:`init_distributed` reads torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK). Without it the
context is a world of one and every collective below is a no-op. Backend: NCCL on CUDA, gloo on CPU
(the CPU path is what the tests run).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist

from prodmatch.device import resolve_device


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    initialised_here: bool = False

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str = "auto") -> DistContext:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world_size <= 1:
        return DistContext(device=dev)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    here = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
        here = True
    return DistContext(rank, world_size, local_rank, dev, here)


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
