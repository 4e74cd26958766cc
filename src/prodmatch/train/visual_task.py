"""The visual-search task (eBay eProduct style): an image encoder trained on the product ids of a catalogue
index, optionally with DHC hierarchical category heads, validated by searching held-out query photos.

- classes: the ``product_id`` of index.csv's rows (:mod:`prodmatch.train.visual_inputs`); the margin head
  (ArcFace / CurricularFace) trains on them;
- ``hierarchy: true`` and category levels in the folder: :class:`prodmatch.models.hierarchy.HierarchicalHeads`
  on the same embedding, loss = product cross-entropy + sum_l w_l CE_l + dependence_weight * Dloss
  (``hierarchy_weights``, ``dependence_weight``);
- validation after every epoch: every index row and every query embedded, exact inner-product top 10 of each
  query, MAR@10 and recall@1/5/10 against ground_truth.csv (:mod:`prodmatch.visual.metrics`), and the
  heads' top-down accuracy per level on the queries' own category labels;
- baselines before training: the encoder as initialised (pretrained backbone, fresh neck) and the
  pretrained backbone alone (GeM features, no neck), searched the same way.

model.pt is the encoder (as for Shopee runs) plus, with heads, ``hierarchy``
(:func:`prodmatch.models.hierarchy.hierarchy_payload`) so index building can predict categories;
oof_embeddings.npz holds the queries' embeddings.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from prodmatch.artifacts.oof import write_oof_embeddings
from prodmatch.fileio import atomic_path
from prodmatch.models.build import MetricModel, encoder_payload
from prodmatch.models.heads import create_head
from prodmatch.models.hierarchy import HierarchicalHeads, HierarchicalMetricModel, hierarchy_payload
from prodmatch.models.image import ImageEncoder
from prodmatch.visual.exact import exact_neighbours
from prodmatch.train import distributed as dist_utils
from prodmatch.train.task import TrainTask
from prodmatch.train.visual_inputs import VisualData, VisualInputs, split_visual
from prodmatch.visual.metrics import MAR_K, retrieval_scores


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


class VisualSearchTask(TrainTask):
    """Product ids of the index as classes; MAR@10 of the held-out queries against the whole index."""

    name = "visual"
    metric = "val_mar_at_10"

    def __init__(self):
        self.model: HierarchicalMetricModel | None = None  # set by build_model; its loss is the task's

    def split(self, config) -> VisualData:
        return split_visual(config)

    def build_model(self, config, encoder, data: VisualData) -> HierarchicalMetricModel:
        head = create_head(config.head, encoder.embedding_dim, data.n_classes, scale=config.scale,
                           margin=config.margin, warmup_epochs=config.margin_warmup_epochs)
        heads = None
        if data.tree is not None:
            heads = HierarchicalHeads(encoder.embedding_dim, data.tree.sizes, data.tree.parents,
                                      hidden=config.hierarchy_hidden, level_weights=config.hierarchy_weights,
                                      dependence_weight=config.dependence_weight)
        self.model = HierarchicalMetricModel(MetricModel(encoder, head), heads)
        return self.model

    def inputs(self, config, data: VisualData, encoder, device, is_main: bool, log) -> VisualInputs:
        return VisualInputs(config, data, encoder, device, log=log if is_main else lambda message: None,
                            progress=config.progress and is_main)

    def loss(self, outputs, labels: torch.Tensor, config) -> torch.Tensor:
        return self.model.loss(outputs, labels, config.label_smoothing)

    def _embed_all(self, setup, encoder, which: str, n: int) -> np.ndarray | None:
        positions = dist_utils.shard(n, setup.ctx)
        local = setup.inputs.embed_rows(encoder, which, positions)
        return dist_utils.gather_rows(positions, local, n, setup.ctx)

    def _score(self, data: VisualData, index_vectors: np.ndarray, query_vectors: np.ndarray,
               heads: HierarchicalHeads | None) -> dict:
        retrieved = exact_neighbours(query_vectors, index_vectors, MAR_K)
        score = retrieval_scores(retrieved, data.truth).as_dict()
        score["level_accuracy"] = None
        if heads is not None and data.query_levels is not None:
            device = next(heads.parameters()).device
            predicted = heads.predict(torch.from_numpy(query_vectors).to(device), consistent=True).cpu().numpy()
            score["level_accuracy"] = level_accuracy(predicted, data.query_levels)
        return score

    def validate(self, setup, encoder) -> tuple[dict, np.ndarray | None]:
        data, ctx = setup.data, setup.ctx
        index_vectors = self._embed_all(setup, encoder, "index", len(data.index))
        query_vectors = self._embed_all(setup, encoder, "val", len(data.val))
        score = None
        if ctx.is_main:
            heads = setup.model.hierarchy if encoder is setup.model.encoder else None
            score = self._score(data, index_vectors, query_vectors, heads)
        return dist_utils.broadcast_object(score, ctx), query_vectors

    def training_free(self, setup) -> dict[str, dict]:
        backbone = backbone_only(setup.model.encoder)
        data, inputs = setup.data, setup.inputs
        index_vectors = inputs.embed_rows(backbone, "index", np.arange(len(data.index)))
        query_vectors = inputs.embed_rows(backbone, "val", np.arange(len(data.val)))
        return {"backbone": self._score(data, index_vectors, query_vectors, None)}

    def primary(self, score: dict) -> float:
        return score["mar_at_10"]

    def history_entry(self, score: dict) -> dict:
        return {"val_mar_at_10": score["mar_at_10"], "val_recall_at_1": score["recall_at_1"],
                "val_recall_at_5": score["recall_at_5"], "val_recall_at_10": score["recall_at_10"],
                "val_level_accuracy": score["level_accuracy"]}

    def describe(self, score: dict) -> str:
        text = (f"MAR@10 {score['mar_at_10']:.4f}  recall@1/5/10 {score['recall_at_1']:.3f}/"
                f"{score['recall_at_5']:.3f}/{score['recall_at_10']:.3f}")
        if score.get("level_accuracy"):
            text += "  level accuracy " + "/".join("-" if a is None else f"{a:.3f}" for a in score["level_accuracy"])
        return text

    def summary(self, kept: dict, best: dict) -> dict:
        score = {"mar_at_10": kept["val_mar_at_10"], "recall_at_1": kept["val_recall_at_1"],
                 "recall_at_5": kept["val_recall_at_5"], "recall_at_10": kept["val_recall_at_10"],
                 "level_accuracy": kept["val_level_accuracy"]}
        return {**score, "best_epoch_mar_at_10": best["val_mar_at_10"], "headline": self.describe(score)}

    def save_outputs(self, setup, epoch: int, score: dict, held_out: np.ndarray | None) -> None:
        config, files, data, model = setup.config, setup.files, setup.data, setup.model
        extra = {}
        if model.hierarchy is not None:
            extra["hierarchy"] = hierarchy_payload(model.hierarchy, data.tree.levels, data.tree.classes)
        payload = encoder_payload(model.encoder, fold=config.fold, epoch=epoch, config=config.as_dict(),
                                  task=self.name, mar_at_10=score["mar_at_10"], n_classes=data.n_classes, **extra)
        with atomic_path(files.model) as tmp:
            torch.save(payload, tmp)
        write_oof_embeddings(files.oof, data.val["id"].to_numpy(), held_out)
