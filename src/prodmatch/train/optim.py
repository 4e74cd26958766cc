"""Optimiser with per-part learning rates and a per-step cosine schedule with linear warm-up."""

from __future__ import annotations

import math

import torch


def create_optimizer(param_groups: list[dict], name: str = "adamw", lr: float = 1e-4) -> torch.optim.Optimizer:
    if name == "adamw":
        return torch.optim.AdamW(param_groups, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(param_groups, lr=lr, momentum=0.9, nesterov=True)
    raise ValueError(f"unknown optimizer {name!r}; choose adamw or sgd")


def warmup_cosine_factor(step: int, total_steps: int, warmup_steps: int, warmup_start: float = 0.01,
                         min_ratio: float = 0.01) -> float:
    """LR multiplier at ``step``: linear warmup_start -> 1 over warmup_steps, then cosine 1 -> min_ratio."""
    if warmup_steps > 0 and step < warmup_steps:
        return warmup_start + (1.0 - warmup_start) * step / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, max(0.0, (step - warmup_steps) / decay_steps))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def create_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int,
                     warmup_start: float = 0.01, min_ratio: float = 0.01) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR stepped once per optimiser step; every group keeps its own base LR."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine_factor(step, total_steps, warmup_steps, warmup_start, min_ratio))
