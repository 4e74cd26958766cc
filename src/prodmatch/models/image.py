"""Image encoder: timm backbone (no classifier, no pooling) -> GeM -> neck -> L2-normalised embedding."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from prodmatch.models.layers import GeM, Neck, l2n
from prodmatch.models.pretrained import create_image_backbone


@dataclass
class ImageEncoderSpec:
    """Everything needed to rebuild an :class:`ImageEncoder` (saved in model.pt)."""

    backbone: str = "tf_efficientnet_b3"
    embedding_dim: int = 512
    neck: str = "linear_bn"
    dropout: float = 0.0
    gem_p: float = 3.0
    gem_trainable: bool = True
    image_size: int = 512
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["mean"], out["std"] = list(self.mean), list(self.std)
        return out


class ImageEncoder(nn.Module):
    kind = "image"

    def __init__(self, backbone: nn.Module, spec: ImageEncoderSpec):
        super().__init__()
        self.spec = spec
        self.backbone = backbone
        self.pool = GeM(spec.gem_p, trainable=spec.gem_trainable)
        features = int(backbone.num_features)
        self.neck = Neck(features, spec.embedding_dim, spec.neck, spec.dropout)
        self.embedding_dim = self.neck.out_features

    @classmethod
    def create(cls, spec: ImageEncoderSpec, pretrained: str = "auto", allow_download: bool = False) -> ImageEncoder:
        return cls(create_image_backbone(spec.backbone, pretrained, allow_download), spec)

    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        features = self.backbone.forward_features(images)
        if features.ndim == 4:
            return self.pool(features)
        if features.ndim == 3:  # token sequence (ViT-style backbones): mean over tokens
            return features.mean(dim=1)
        raise ValueError(f"backbone {self.spec.backbone} returned features of shape {tuple(features.shape)}")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return l2n(self.neck(self.pooled(images)))

    def head_parameters(self):
        """(backbone parameters, neck + pooling parameters) for optimiser groups."""
        return list(self.backbone.parameters()), list(self.pool.parameters()) + list(self.neck.parameters())


def data_config(backbone: str) -> dict:
    """timm's mean/std/input size for a backbone name (no weights are loaded)."""
    from prodmatch.compat import import_timm

    import_timm()
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(backbone)
    if cfg is None:
        return {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
    return {"mean": tuple(cfg.mean), "std": tuple(cfg.std), "input_size": tuple(cfg.input_size)}
