"""What a training run learns: the object the loop (:mod:`prodmatch.train.loop`) is handed, pytorch-metric-learning
style. The loop owns the epochs, the inputs (by model kind), AMP, DDP, embedding the evaluation rows (each rank
its shard, gathered on rank 0), checkpoints, resume and every output file; a task owns only what depends on its
data:

- :meth:`TrainTask.split` -- a :class:`Split`: the training rows and their classes, the held-out rows, the row
  sets every evaluation embeds;
- :meth:`TrainTask.build_model` -- encoder + margin head (default: :class:`prodmatch.models.build.MetricModel`),
  or more (the visual task adds category heads);
- :meth:`TrainTask.loss` -- the loss of one batch from the model's outputs (the loop keeps the step itself:
  autocast, scaler, clipping, schedule);
- :meth:`TrainTask.evaluator` -- how the held-out rows are scored (:mod:`prodmatch.train.evaluators`), with a
  typed :class:`~prodmatch.train.score.Score`.

Tasks are made by name from :data:`prodmatch.train.tasks.TASKS` (``task:`` in a config) or passed to
:func:`prodmatch.train.loop.train_fold` directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from prodmatch.models.build import MetricModel
from prodmatch.models.heads import create_head


@dataclass(kw_only=True)
class Split:
    """A run's rows as the loop and the inputs see them; each task's split extends it."""

    id_column: ClassVar[str] = "posting_id"  # the held-out rows' id, saved with their embeddings (OOF file)
    eval_sets: ClassVar[tuple[str, ...]] = ("val",)  # row sets each evaluation embeds, in order ("val" among them)

    train: pd.DataFrame  # rows trained on
    val: pd.DataFrame  # held-out rows: scored every epoch, their embeddings saved
    train_class: np.ndarray  # int64 class id (the margin head's) per training row
    classes: np.ndarray  # what each class id stands for (label group, product id); a resume must match it

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def rows(self, which: str) -> pd.DataFrame:
        """The frame of row set ``which`` ("train", "val", or one of ``eval_sets``)."""
        return {"train": self.train, "val": self.val}[which]

    def image_paths(self, which: str) -> list[Path]:
        """The image file of every row of ``which`` (image models)."""
        raise NotImplementedError

    def train_labels(self) -> np.ndarray:
        """Each training row's label: its class id, or a row of class ids (class, then e.g. category levels)."""
        return self.train_class

    def train_within(self) -> tuple[str, np.ndarray] | None:
        """(eval set, positions) when the training rows are rows of an evaluation set (their cached frozen-layer
        outputs are then read from that set's), else None."""
        return None


class TrainTask:
    """The interface; see the module docstring. Subclasses set :attr:`name` (a :data:`TASK_NAMES` entry of
    :mod:`prodmatch.train.registry`)."""

    name: ClassVar[str] = ""

    def split(self, config) -> Split:
        raise NotImplementedError

    def build_model(self, config, encoder: torch.nn.Module, data: Split) -> torch.nn.Module:
        """The encoder with a margin head on the training classes (``model(inputs, labels)`` gives its logits)."""
        head = create_head(config.head, encoder.embedding_dim, data.n_classes, scale=config.scale,
                           margin=config.margin, warmup_epochs=config.margin_warmup_epochs)
        return MetricModel(encoder, head)

    def loss(self, outputs, labels: torch.Tensor, config) -> torch.Tensor:
        raise NotImplementedError

    def evaluator(self, config, data: Split):
        raise NotImplementedError

    def model_extras(self, model: torch.nn.Module, data: Split) -> dict[str, Any]:
        """Fields model.pt holds beside the encoder for this task (e.g. the category heads)."""
        return {}
