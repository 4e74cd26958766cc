"""How a task scores its held-out rows: an evaluator takes the embeddings the loop gathered (rank 0) and returns
a typed :class:`~prodmatch.train.score.Score`, and names the baselines training has to beat.

- :class:`F1Evaluator` (Shopee folds): the competition F1 of the held-out fold at the best cosine threshold
  (:func:`prodmatch.train.validate.held_out_score`); baseline without training: phash (image) / TF-IDF (text);
- :class:`MarEvaluator` (visual search): every query's exact inner-product top 10 among the whole index,
  MAR@10 and recall@1/5/10 against ground_truth.csv, and the category heads' top-down accuracy per level on the
  queries' own labels; baseline: the pretrained backbone alone (GeM features, no neck), searched the same way.

The loop embeds every row set of ``data.eval_sets`` (each rank its shard) and calls :meth:`Evaluator.score`
on rank 0; baseline encoders are embedded the same way, so no rank waits while one embeds alone.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import torch

from prodmatch.models.image import ImageEncoder
from prodmatch.train.score import Score
from prodmatch.train.validate import held_out_score, training_free_score
from prodmatch.visual.exact import exact_neighbours
from prodmatch.visual.metrics import MAR_K, retrieval_scores


class Evaluator:
    """The interface: ``score`` (rank 0), ``baseline_encoders`` and ``training_free`` (optional baselines)."""

    score_type: ClassVar[type[Score]] = Score

    def score(self, embedded: dict[str, np.ndarray], model: torch.nn.Module | None = None) -> Score:
        """The score of ``embedded`` (row set -> embeddings, L2-normalised); ``model``: the trained model when
        it is the one scored (its extra heads are scored too), None for a baseline encoder."""
        raise NotImplementedError

    def baseline_encoders(self, model: torch.nn.Module) -> dict[str, torch.nn.Module]:
        """Encoders scored like the model before training (embedded by the loop on every rank)."""
        return {}

    def training_free(self) -> dict[str, Score]:
        """Scores of matchers that need no embedding at all, on the same held-out rows (rank 0)."""
        return {}


# ------------------------------------------------------------------------------------------ Shopee folds
class F1Score(Score):
    PRIMARY = "f1"

    def describe(self) -> str:
        return f"F1 {self['f1']:.4f} @ {self['threshold']:.2f}"

    def summary(self, best: Score) -> dict[str, Any]:
        return {"cv_f1": self["f1"], "best_threshold": self["threshold"], "precision": self["precision"],
                "recall": self["recall"], "best_epoch_f1": best.value,
                "headline": f"cv_f1 {self['f1']:.4f}  threshold {self['threshold']:.2f}"}

    def model_fields(self) -> dict[str, Any]:
        return {"cv_f1": self["f1"], "threshold": self["threshold"]}


class F1Evaluator(Evaluator):
    """The competition F1 of the held-out fold's embeddings (neighbours among the fold only)."""

    score_type = F1Score

    def __init__(self, data, config):
        self.val, self.model_kind, self.k = data.val, config.model, config.neighbours_k

    def score(self, embedded: dict[str, np.ndarray], model: torch.nn.Module | None = None) -> F1Score:
        return F1Score.of(held_out_score(embedded["val"], self.val["label_group"].to_numpy(), self.model_kind,
                                         self.k))

    def training_free(self) -> dict[str, Score]:
        name, score = training_free_score(self.val, self.model_kind)
        return {name: F1Score.of(score)}


# ----------------------------------------------------------------------------------------- visual search
def level_accuracy(predicted: np.ndarray, truth: np.ndarray) -> list[float | None]:
    """Per level: the share of rows labelled there whose predicted class is right (None: no labelled row)."""
    if predicted.shape != truth.shape or predicted.dtype != np.int64 or truth.dtype != np.int64:
        raise ValueError(f"predicted and truth must be int64 of one shape, got {predicted.dtype} {predicted.shape}, "
                         f"{truth.dtype} {truth.shape}")
    labelled = truth >= 0
    return [float((predicted[labelled[:, level], level] == truth[labelled[:, level], level]).mean())
            if labelled[:, level].any() else None for level in range(truth.shape[1])]


def backbone_only(encoder: ImageEncoder) -> ImageEncoder:
    """The encoder's backbone with a fresh GeM and no neck (shares the backbone's weights): what the
    pretrained network gives before any training."""
    return ImageEncoder(encoder.backbone, replace(encoder.spec, neck="none", embedding_dim=0, dropout=0.0))


class MarScore(Score):
    PRIMARY = "mar_at_10"
    IN_HISTORY = ("mar_at_10", "recall_at_1", "recall_at_5", "recall_at_10", "level_accuracy")

    def describe(self) -> str:
        text = (f"MAR@10 {self['mar_at_10']:.4f}  recall@1/5/10 {self['recall_at_1']:.3f}/"
                f"{self['recall_at_5']:.3f}/{self['recall_at_10']:.3f}")
        if self.others.get("level_accuracy"):
            text += "  level accuracy " + "/".join("-" if a is None else f"{a:.3f}" for a in self["level_accuracy"])
        return text


class MarEvaluator(Evaluator):
    """MAR@10 of the held-out queries against the whole index (and the category heads' accuracy per level)."""

    score_type = MarScore

    def __init__(self, data, config=None):
        self.truth, self.query_levels = data.truth, data.query_levels

    def score(self, embedded: dict[str, np.ndarray], model: torch.nn.Module | None = None) -> MarScore:
        queries = embedded["val"]
        figures = retrieval_scores(exact_neighbours(queries, embedded["index"], MAR_K), self.truth).as_dict()
        figures["level_accuracy"] = None
        heads = getattr(model, "hierarchy", None)
        if heads is not None and self.query_levels is not None:
            device = next(heads.parameters()).device
            predicted = heads.predict(torch.from_numpy(queries).to(device), consistent=True).cpu().numpy()
            figures["level_accuracy"] = level_accuracy(predicted, self.query_levels)
        return MarScore.of(figures)

    def baseline_encoders(self, model: torch.nn.Module) -> dict[str, torch.nn.Module]:
        return {"backbone": backbone_only(model.encoder)}
