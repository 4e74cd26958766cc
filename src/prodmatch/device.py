"""Which torch device work runs on, and mixed precision on it: one place for training and inference."""

from __future__ import annotations

import contextlib
import os

import torch

AMP_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(preference: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto``: ``cuda:<local_rank>`` when CUDA is available, else the CPU; ``cpu``, ``cuda`` or ``cuda:N`` as asked."""
    if preference == "cpu":
        return torch.device("cpu")
    if preference.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {preference!r} asked for but CUDA is not available")
        return torch.device(preference if ":" in preference else f"cuda:{local_rank}")
    if preference != "auto":
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {preference!r}")
    return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")


def as_device(device: str | torch.device | None) -> torch.device:
    """``None`` means ``auto`` (see :func:`resolve_device`)."""
    if device is None:
        return resolve_device("auto")
    return device if isinstance(device, torch.device) else resolve_device(str(device))


def autocast(device: torch.device, enabled: bool = True, dtype: str = "float16"):
    """Mixed precision on CUDA in ``dtype`` (float16 or bfloat16); full precision elsewhere."""
    if enabled and device.type == "cuda":
        if dtype not in AMP_DTYPES:
            raise ValueError(f"amp dtype must be one of {sorted(AMP_DTYPES)}, got {dtype!r}")
        return torch.autocast(device_type="cuda", dtype=AMP_DTYPES[dtype])
    return contextlib.nullcontext()


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def default_num_workers(device: torch.device, cores: int | None = None) -> int:
    """DataLoader worker processes for image decoding on ``device``.

    On the CPU the model's own threads already use every core: extra processes only compete with them (on a
    2-core machine 2 workers made an epoch 1.5x slower), so up to 4 cores get none and bigger machines a
    quarter of their cores. On a GPU the main process mostly waits for the device, so decoding in workers
    pays: every core but one, at most 8.
    """
    cores = available_cores() if cores is None else cores
    if device.type == "cuda":
        return max(1, min(cores - 1, 8))
    return 0 if cores <= 4 else min(cores // 4, 4)
