"""The Shopee fold task: train.csv split by fold, ArcFace/CurricularFace on label groups, the held-out fold
scored with the competition F1 at the best cosine threshold (:class:`prodmatch.train.evaluators.F1Evaluator`,
against phash / TF-IDF as baselines).

An image model refuses a train set whose images are missing or unusable for more than half of the rows
(no train_images/ folder, say): it would learn from grey placeholders and still report a score. Fewer
unusable images train as grey placeholders, with one warning that counts them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from prodmatch.data import DataDir, assign_folds, read_folds
from prodmatch.data.images import unusable_images
from prodmatch.errors import ArgumentError, MissingInputError
from prodmatch.models.inputs import ImageReadWarning, unreadable_summary
from prodmatch.train.evaluators import F1Evaluator
from prodmatch.train.task import Split, TrainTask

MAX_UNUSABLE_SHARE = 0.5  # of a train set's images, above which an image model refuses to train


@dataclass(kw_only=True)
class FoldData(Split):
    """Rows of one fold split. ``classes[c]`` is the label_group of training class id c."""

    images_dir: Path

    def image_paths(self, which: str) -> list[Path]:
        return [self.images_dir / name for name in self.rows(which)["image"]]


def split_fold(config) -> FoldData:
    if not config.data_dir:
        raise ArgumentError("data_dir is required (--data-dir DIR with train.csv)")
    data_dir = DataDir.of(config.data_dir)
    train = data_dir.read_train()
    if config.folds_file:
        folds = read_folds(config.folds_file, train)
    else:
        folds = assign_folds(train, config.n_folds, config.fold_salt)["fold"].to_numpy()
    held_out = folds == config.fold
    if not held_out.any():
        raise ArgumentError(f"fold {config.fold} has no rows (folds present: {sorted(set(folds.tolist()))})")
    if held_out.all():
        raise ArgumentError(f"fold {config.fold} holds every row; nothing left to train on")
    fit = train[~held_out].reset_index(drop=True)
    val = train[held_out].reset_index(drop=True)
    classes, class_ids = np.unique(fit["label_group"].to_numpy(), return_inverse=True)
    return FoldData(train=fit, val=val, train_class=class_ids.astype(np.int64), classes=classes,
                    images_dir=data_dir.train_images)


def check_train_images(data: FoldData, max_unusable_share: float = MAX_UNUSABLE_SHARE) -> None:
    """Refuse (or warn about) the fold's unusable images, told without decoding them (prodmatch.data.images)."""
    names = pd.concat([data.train["image"], data.val["image"]]).astype(str).tolist()
    problems = unusable_images(data.images_dir, names)
    if not problems:
        return
    if not data.images_dir.is_dir():
        raise MissingInputError(f"{data.images_dir}: no such folder; an image model trains on the images that "
                                "train.csv names (file names in its 'image' column)")
    summary = unreadable_summary([data.images_dir / name for name in names], problems)
    if len(problems) > max_unusable_share * len(names):
        raise MissingInputError(f"{data.images_dir}: {summary}; an image model cannot learn from grey placeholders, "
                                "so it does not train on this data")
    warnings.warn(f"{data.images_dir}: {summary}; they train and validate as grey placeholders", ImageReadWarning,
                  stacklevel=3)


class FoldTask(TrainTask):
    """Train on every fold but ``config.fold``; score the held-out fold with the competition F1."""

    name = "shopee"

    def split(self, config) -> FoldData:
        data = split_fold(config)
        if config.model == "image":  # a text model reads no image
            check_train_images(data)
        return data

    def loss(self, outputs: torch.Tensor, labels: torch.Tensor, config) -> torch.Tensor:
        return F.cross_entropy(outputs.float(), labels, label_smoothing=config.label_smoothing)

    def evaluator(self, config, data: FoldData) -> F1Evaluator:
        return F1Evaluator(data, config)
