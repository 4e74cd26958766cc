"""The model that embeds photos for an index: a trained run's fold models (:mod:`prodmatch.embed`) or a bare
pretrained backbone, opened from a :class:`~prodmatch.visual.identity.ModelChoice`, with its identity."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.errors import ArgumentError
from prodmatch.visual.identity import BackboneIdentity, ModelChoice, ModelIdentity, RunIdentity


@dataclass(frozen=True)
class Runtime:
    """How embedding runs, the same for build, search and eval."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N; under torchrun each rank takes its LOCAL_RANK's GPU
    batch_size: int = 64
    num_workers: int | None = None  # DataLoader workers; None: from the cores and the device
    progress: bool = True


@dataclass
class EmbeddingModel:
    """A run's fold models (``folds``: every one, averaged) or a bare encoder (the backbone baseline)."""

    identity: ModelIdentity  # recorded in the manifest; search re-opens the same model from it
    runtime: Runtime
    folds: list = field(default_factory=list)  # prodmatch.embed.FoldModel of a run
    encoder: object | None = None  # a bare encoder (backbone baseline)
    predictor: object | None = None  # prodmatch.models.hierarchy.CategoryPredictor, from a run with heads

    def embed(self, frame: pd.DataFrame, images_dir: Path, progress: bool = False) -> np.ndarray:
        from prodmatch.embed import embed_frame, embed_with_folds

        batch_size, num_workers = self.runtime.batch_size, self.runtime.num_workers
        if self.folds:
            return embed_with_folds(None, frame, images_dir, batch_size, num_workers=num_workers, models=self.folds,
                                    progress=progress)
        return embed_frame(self.encoder, frame, images_dir, batch_size, num_workers=num_workers, progress=progress)

    def predict_categories(self, vectors: np.ndarray) -> np.ndarray | None:
        """(n, n_levels) predicted class ids of embeddings, or None without hierarchical heads."""
        return self.predictor.predict(vectors) if self.predictor is not None else None

    def category_tree(self) -> dict | None:
        """The predicted categories' levels and classes, as the manifest records them."""
        if self.predictor is None:
            return None
        return {"levels": self.predictor.levels, "classes": self.predictor.classes}


def open_model(choice: ModelChoice, runtime: Runtime = Runtime()) -> EmbeddingModel:
    """The model of a trained run, or a bare pretrained backbone."""
    from prodmatch.device import resolve_device

    device = resolve_device(runtime.device, int(os.environ.get("LOCAL_RANK", "0")))  # one GPU per torchrun rank
    if choice.run is not None:
        return _open_run(choice.run, device, runtime)
    return _open_backbone(choice, device, runtime)


def _open_run(run: Path, device, runtime: Runtime) -> EmbeddingModel:
    from prodmatch.embed import load_run
    from prodmatch.models.hierarchy import CategoryPredictor

    folds = load_run(run, device)
    if any(fold.kind != "image" for fold in folds):
        raise ArgumentError(f"{run} is a {folds[0].kind} run; visual search needs an image model")
    payload = folds[0].meta.get("hierarchy")
    predictor = CategoryPredictor.from_payload(payload) if payload else None
    identity = RunIdentity(str(Path(run).resolve()), tuple(fold.fold for fold in folds),
                           tuple(fold.meta.get("epoch") for fold in folds), predictor is not None)
    return EmbeddingModel(identity, runtime, folds=folds, predictor=predictor)


def _open_backbone(choice: ModelChoice, device, runtime: Runtime) -> EmbeddingModel:
    import torch

    from prodmatch.models.image import ImageEncoder, ImageEncoderSpec, data_config

    defaults = data_config(choice.backbone)
    size = int(choice.image_size or defaults.get("input_size", (3, 224, 224))[-1])
    spec = ImageEncoderSpec(backbone=choice.backbone, embedding_dim=0, neck="none", image_size=size,
                            mean=tuple(defaults["mean"]), std=tuple(defaults["std"]))
    with torch.random.fork_rng(devices=[]):  # pretrained none: the same random weights whenever it is re-opened
        torch.manual_seed(0)
        encoder = ImageEncoder.create(spec, choice.pretrained).to(device).eval()
    return EmbeddingModel(BackboneIdentity(choice.backbone, choice.pretrained, size), runtime, encoder=encoder)
