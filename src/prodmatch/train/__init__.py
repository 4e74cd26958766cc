"""Training: config (YAML + flags), tasks (what is trained and scored), inputs, the shared loop, checkpoints,
DDP helpers.

Entry points: :func:`prodmatch.train.loop.train_fold` (Python), ``python train_fold.py`` /
``python -m prodmatch train`` (command line). Importing this package imports nothing heavy (the names below
load on first use), so :mod:`prodmatch.train.registry` and :mod:`prodmatch.train.config` stay torch-free.
"""

from __future__ import annotations

import importlib

_EXPORTS = {"TrainConfig": "config", "load_config": "config", "parse_train_args": "config", "train_fold": "loop"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
