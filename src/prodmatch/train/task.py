"""What a training run learns and how it is validated: the object the loop (:mod:`prodmatch.train.loop`) is
handed, pytorch-metric-learning style -- the loop owns the epochs, AMP, DDP, checkpoints and resume; the task
owns everything that depends on the data.

A task provides, in the order the loop uses them:

- :meth:`TrainTask.split` -- the training rows, their class ids (``train_class``, ``classes``) and the
  held-out rows (``val``);
- :meth:`TrainTask.build_model` -- encoder + heads (an ``encoder`` and a margin ``head`` attribute, and
  ``param_groups``);
- :meth:`TrainTask.inputs` -- the training dataset, collate function and ``embed_rows`` of training rows;
- :meth:`TrainTask.loss` -- the loss of one batch from the model's outputs (the loop keeps the step itself:
  autocast, scaler, clipping, schedule);
- :meth:`TrainTask.validate` -- a collective under DDP: the held-out score dict and held-out embeddings;
- :meth:`TrainTask.training_free` -- baselines that need no training, scored like the model (rank 0);
- :meth:`TrainTask.history_entry`, :meth:`TrainTask.describe`, :meth:`TrainTask.summary`,
  :attr:`TrainTask.metric` -- how a score enters the per-epoch history, the log and metrics.json;
- :meth:`TrainTask.save_outputs` -- model.pt and the held-out embeddings of the kept epoch (rank 0).

Tasks are made by name from :data:`prodmatch.train.tasks.TASKS` (``task:`` in a config) or passed to
:func:`prodmatch.train.loop.train_fold` directly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch


class TrainTask:
    """The interface; see the module docstring. Subclasses set :attr:`name` and :attr:`metric`."""

    name: ClassVar[str] = ""
    metric: ClassVar[str] = ""  # history key the kept/best epoch is chosen by (higher is better)

    def split(self, config) -> Any:
        raise NotImplementedError

    def build_model(self, config, encoder: torch.nn.Module, data) -> torch.nn.Module:
        raise NotImplementedError

    def inputs(self, config, data, encoder, device: torch.device, is_main: bool, log) -> Any:
        raise NotImplementedError

    def loss(self, outputs, labels: torch.Tensor, config) -> torch.Tensor:
        raise NotImplementedError

    def validate(self, setup, encoder: torch.nn.Module) -> tuple[dict, np.ndarray | None]:
        raise NotImplementedError

    def training_free(self, setup) -> dict[str, dict]:
        """Scores of matchers that need no training, on the same held-out rows (rank 0 only)."""
        return {}

    def primary(self, score: dict) -> float:
        """The one number of a score that decides ``keep: best`` and the comparisons in the log."""
        raise NotImplementedError

    def history_entry(self, score: dict) -> dict:
        raise NotImplementedError

    def describe(self, score: dict) -> str:
        raise NotImplementedError

    def summary(self, kept: dict, best: dict) -> dict:
        """metrics.json's task figures from the kept and the best epoch's history entries (``headline`` included:
        the one-line result the train command prints)."""
        raise NotImplementedError

    def save_outputs(self, setup, epoch: int, score: dict, held_out: np.ndarray | None) -> None:
        raise NotImplementedError
