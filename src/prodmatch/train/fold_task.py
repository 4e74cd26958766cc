"""The Shopee fold task: rows split by fold, ArcFace/CurricularFace on label groups, validation = the
competition F1 of the held-out fold at the best cosine threshold (against phash / TF-IDF as baselines)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from prodmatch.artifacts.oof import write_oof_embeddings
from prodmatch.fileio import atomic_path
from prodmatch.models.build import MetricModel, encoder_payload
from prodmatch.models.heads import create_head
from prodmatch.train import distributed as dist_utils
from prodmatch.train.fold_inputs import FoldData, FoldInputs, split_fold
from prodmatch.train.task import TrainTask
from prodmatch.train.validate import held_out_score, training_free_score


class FoldTask(TrainTask):
    """Train on every fold but ``config.fold``; score the held-out fold with the competition F1."""

    name = "shopee"
    metric = "val_f1"

    def split(self, config) -> FoldData:
        return split_fold(config)

    def build_model(self, config, encoder, data: FoldData) -> MetricModel:
        head = create_head(config.head, encoder.embedding_dim, data.n_classes, scale=config.scale,
                           margin=config.margin, warmup_epochs=config.margin_warmup_epochs)
        return MetricModel(encoder, head)

    def inputs(self, config, data: FoldData, encoder, device, is_main: bool, log) -> FoldInputs:
        return FoldInputs(config, data, encoder, device, is_main, log=log)

    def loss(self, outputs: torch.Tensor, labels: torch.Tensor, config) -> torch.Tensor:
        return F.cross_entropy(outputs.float(), labels, label_smoothing=config.label_smoothing)

    def validate(self, setup, encoder) -> tuple[dict, np.ndarray | None]:
        data, ctx = setup.data, setup.ctx
        positions = dist_utils.shard(len(data.val), ctx)
        local = setup.inputs.embed_rows(encoder, "val", positions)
        embeddings = dist_utils.gather_rows(positions, local, len(data.val), ctx)
        score = None
        if ctx.is_main:
            score = held_out_score(embeddings, data.val["label_group"].to_numpy(), setup.config.model,
                                   setup.config.neighbours_k)
        return dist_utils.broadcast_object(score, ctx), embeddings

    def training_free(self, setup) -> dict[str, dict]:
        name, score = training_free_score(setup.data.val, setup.config.model)
        return {name: score}

    def primary(self, score: dict) -> float:
        return score["f1"]

    def history_entry(self, score: dict) -> dict:
        return {"val_f1": score["f1"], "val_threshold": score["threshold"], "val_precision": score["precision"],
                "val_recall": score["recall"]}

    def describe(self, score: dict) -> str:
        return f"F1 {score['f1']:.4f} @ {score['threshold']:.2f}"

    def summary(self, kept: dict, best: dict) -> dict:
        return {"cv_f1": kept["val_f1"], "best_threshold": kept["val_threshold"], "precision": kept["val_precision"],
                "recall": kept["val_recall"], "best_epoch_f1": best["val_f1"],
                "headline": f"cv_f1 {kept['val_f1']:.4f}  threshold {kept['val_threshold']:.2f}"}

    def save_outputs(self, setup, epoch: int, score: dict, held_out: np.ndarray | None) -> None:
        config, files = setup.config, setup.files
        payload = encoder_payload(setup.model.encoder, fold=config.fold, epoch=epoch, config=config.as_dict(),
                                  cv_f1=score["f1"], threshold=score["threshold"], n_classes=setup.data.n_classes)
        with atomic_path(files.model) as tmp:
            torch.save(payload, tmp)
        write_oof_embeddings(files.oof, setup.data.val["posting_id"].to_numpy(), held_out)
