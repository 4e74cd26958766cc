"""Encoder + head = the trained model; building encoders from a config; saving/loading model.pt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from prodmatch.errors import CorruptFileError, MissingInputError
from prodmatch.fileio import read_errors
from prodmatch.models.heads import MarginHead
from prodmatch.models.image import ImageEncoder, ImageEncoderSpec
from prodmatch.models.registry import MODEL_KINDS
from prodmatch.models.text import TextEncoder, TextEncoderSpec

MODEL_FORMAT = "prodmatch-encoder/1"


class MetricModel(nn.Module):
    """An encoder and a margin head. ``model(inputs, labels)`` gives head logits; ``model(inputs)`` embeddings.

    ``inputs`` is an image batch tensor or a dict of text tensors (``input_ids``/``hidden_states``,
    ``attention_mask``). Swap heads by passing another head object.
    """

    def __init__(self, encoder: nn.Module, head: MarginHead):
        super().__init__()
        if getattr(encoder, "embedding_dim", head.in_features) != head.in_features:
            raise ValueError(f"head expects {head.in_features}-d embeddings, encoder gives {encoder.embedding_dim}")
        self.encoder = encoder
        self.head = head

    def embed(self, inputs) -> torch.Tensor:
        return self.encoder(**inputs) if isinstance(inputs, dict) else self.encoder(inputs)

    def forward(self, inputs, labels: torch.Tensor | None = None) -> torch.Tensor:
        embeddings = self.embed(inputs)
        return embeddings if labels is None else self.head(embeddings, labels)

    def param_groups(self, lr: float, neck_lr: float, head_lr: float, weight_decay: float = 0.0,
                     head_weight_decay: float = 0.0) -> list[dict]:
        """Optimiser groups: backbone at ``lr``, pooling/neck at ``neck_lr``, head at ``head_lr``.

        Biases and norm weights (1-d tensors) of backbone/neck get no weight decay.
        """
        backbone, neck = self.encoder.head_parameters()
        groups = []
        for name, params, group_lr in (("backbone", backbone, lr), ("neck", neck, neck_lr)):
            params = [p for p in params if p.requires_grad]
            decay = [p for p in params if p.ndim > 1]
            no_decay = [p for p in params if p.ndim <= 1]
            if decay:
                groups.append({"name": name, "params": decay, "lr": group_lr, "weight_decay": weight_decay})
            if no_decay:
                groups.append({"name": f"{name}_no_decay", "params": no_decay, "lr": group_lr, "weight_decay": 0.0})
        head = [p for p in self.head.parameters() if p.requires_grad]
        groups.append({"name": "head", "params": head, "lr": head_lr, "weight_decay": head_weight_decay})
        return groups


def image_spec_from_config(config) -> ImageEncoderSpec:
    from prodmatch.models.image import data_config

    defaults = data_config(config.backbone)
    return ImageEncoderSpec(
        backbone=config.backbone, embedding_dim=config.embedding_dim, neck=config.neck, dropout=config.dropout,
        gem_p=config.gem_p, gem_trainable=config.gem_trainable, image_size=config.image_size,
        mean=tuple(config.mean or defaults["mean"]), std=tuple(config.std or defaults["std"]),
        freeze_layers=config.freeze_layers)


def text_spec_from_config(config) -> TextEncoderSpec:
    return TextEncoderSpec(backbone=config.backbone, embedding_dim=config.embedding_dim, neck=config.neck,
                           dropout=config.dropout, max_length=config.max_length, freeze_layers=config.freeze_layers)


def build_encoder(config) -> nn.Module:
    """The encoder a :class:`prodmatch.train.config.TrainConfig` describes, starting weights resolved."""
    if config.model == "image":
        return ImageEncoder.create(image_spec_from_config(config), config.pretrained, config.allow_download)
    if config.model == "text":
        return TextEncoder.create(text_spec_from_config(config), config.pretrained, config.allow_download)
    raise ValueError(f"model must be one of {MODEL_KINDS}, got {config.model!r}")


def encoder_payload(encoder: nn.Module, **extra: Any) -> dict:
    """What model.pt holds: format tag, kind, spec, state dict (and the HF config/tokenizer files for text)."""
    payload = {"format": MODEL_FORMAT, "kind": encoder.kind, "spec": encoder.spec.as_dict(),
               "state_dict": {k: v.detach().cpu() for k, v in encoder.state_dict().items()}}
    if isinstance(encoder, TextEncoder):
        payload["hf_files"] = encoder.hf_files()
    payload.update(extra)
    return payload


def encoder_from_payload(payload: dict) -> nn.Module:
    """Rebuild an encoder from :func:`encoder_payload` without any download or pretrained source."""
    if payload.get("format") != MODEL_FORMAT:
        raise ValueError(f"not a prodmatch encoder file (format {payload.get('format')!r}, expected {MODEL_FORMAT})")
    kind = payload["kind"]
    if kind == "image":
        spec = dict(payload["spec"])
        spec["mean"], spec["std"] = tuple(spec["mean"]), tuple(spec["std"])
        encoder = ImageEncoder.create(ImageEncoderSpec(**spec), pretrained="none")
    elif kind == "text":
        encoder = TextEncoder.from_hf_files(payload["hf_files"], TextEncoderSpec(**payload["spec"]))
    else:
        raise ValueError(f"unknown encoder kind {kind!r}")
    encoder.load_state_dict(payload["state_dict"], strict=True)
    return encoder.eval()


ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format: a zip archive


def model_remedy(path: Path) -> str:
    """What to do about a broken model file of the fold folder ``path.parent`` (``fold<k>/``)."""
    fold = path.parent.name[4:] if path.parent.name.startswith("fold") and path.parent.name[4:].isdigit() else "K"
    return f"retrain the fold (train_fold.py --fold {fold} ...) or copy the run's folder again"


def load_encoder(path: str | Path, map_location: str = "cpu") -> tuple[nn.Module, dict]:
    """(encoder in eval mode, the whole model.pt payload). A model.pt that is cut short, overwritten or of
    another format is a CorruptFileError naming it and what to do."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"model file not found: {path}")
    remedy = model_remedy(path)
    with open(path, "rb") as handle:
        head = handle.read(len(ZIP_MAGIC))
    if head != ZIP_MAGIC:
        raise CorruptFileError(f"{path} is not a model file (it does not start like a torch.save archive: "
                               f"overwritten?); {remedy}")
    with read_errors(path, remedy):
        payload = torch.load(path, map_location=map_location, weights_only=False)
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CorruptFileError(f"{path} is not a prodmatch encoder file (format {found!r}, expected {MODEL_FORMAT}); "
                               f"{remedy}")
    with read_errors(path, remedy):  # weights that do not fit the saved spec
        encoder = encoder_from_payload(payload)
    return encoder, payload
