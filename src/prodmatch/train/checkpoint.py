"""Resumable training state, written atomically at the end of every epoch (``last.ckpt``, the name
:mod:`prodmatch.artifacts.weights` gives it).

A checkpoint holds the model (encoder + head), optimizer, LR scheduler, AMP scaler, the number of
finished epochs, RNG states (python, numpy, torch, CUDA), the best metric so far, the per-epoch history
and the label encoding. Because it is renamed into place only once fully written, a kill at any moment
leaves either the previous epoch's checkpoint or the new one, never a torn file; a file damaged anyway
(truncated by a full disk, overwritten by hand) is a :class:`CheckpointError` naming it and what to do.
"""

from __future__ import annotations

import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prodmatch.errors import InputError
from prodmatch.fileio import atomic_path

CHECKPOINT_FORMAT = "prodmatch-train-state/1"
# what torch.load raises on a file that is not a whole torch checkpoint (truncated zip, text, another pickle)
_UNREADABLE = (RuntimeError, EOFError, UnicodeDecodeError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError,
               KeyError, AttributeError, ImportError)


class CheckpointError(InputError, RuntimeError):
    """A last.ckpt that cannot be resumed from (damaged, or not a prodmatch training checkpoint)."""


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, *, model, optimizer, scheduler, scaler, epoch: int, best_metric: float | None,
                    history: list[dict], config: dict, extra: dict | None = None) -> Path:
    """Write the training state after ``epoch`` finished epochs (atomic)."""
    state = {
        "format": CHECKPOINT_FORMAT,
        "epoch": int(epoch),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": rng_state(),
        "best_metric": best_metric,
        "history": list(history),
        "config": dict(config),
        "extra": dict(extra or {}),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


_WHAT_TO_DO = "run again with --overwrite to train this fold from scratch (its outputs are discarded)"


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        from prodmatch.errors import MissingInputError

        raise MissingInputError(f"no checkpoint to resume from: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except _UNREADABLE as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable training checkpoint (truncated or overwritten? "
                              f"{type(exc).__name__}: {reason}); {_WHAT_TO_DO}") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a prodmatch training checkpoint (format "
                              f"{state.get('format') if isinstance(state, dict) else type(state).__name__!r}); "
                              f"{_WHAT_TO_DO}")
    return state


def restore(state: dict, *, model, optimizer, scheduler, scaler, restore_rng: bool = True) -> None:
    model.load_state_dict(state["model"], strict=True)
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    if restore_rng:
        set_rng_state(state["rng"])
