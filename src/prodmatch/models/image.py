"""Image encoder: timm backbone (no classifier, no pooling) -> GeM -> neck -> L2-normalised embedding.

``freeze_layers = N > 0`` freezes the stem and the first N blocks (stages) of an EfficientNet/MobileNet-style
timm backbone (``conv_stem``, ``bn1``, ``blocks``, ``conv_head``, ``bn2``), kept in eval mode so they are
deterministic. Their output for an image never changes, so training can compute it once per image version
(:meth:`ImageEncoder.prefix`) and train the rest on that cache (``forward(features=...)``): on a CPU the
early, high-resolution layers are most of the cost. At test time the whole encoder runs on images as usual.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from prodmatch.errors import ArgumentError
from prodmatch.models.layers import GeM, Neck, l2n
from prodmatch.models.pretrained import create_image_backbone

STAGED_PARTS = ("conv_stem", "bn1", "blocks", "conv_head", "bn2")  # what freeze_layers splits


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
    freeze_layers: int = 0

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
        self.freeze_layers = int(spec.freeze_layers)
        if self.freeze_layers:
            blocks = self.blocks()
            if not 0 < self.freeze_layers <= len(blocks):
                raise ArgumentError(f"--freeze-layers {self.freeze_layers}: freeze_layers must be in 1..{len(blocks)} "
                                    f"for {spec.backbone} (its blocks)")
            for module in self.frozen_modules():
                module.requires_grad_(False)
                module.eval()

    @classmethod
    def create(cls, spec: ImageEncoderSpec, pretrained: str = "auto", allow_download: bool = False) -> ImageEncoder:
        return cls(create_image_backbone(spec.backbone, pretrained, allow_download), spec)

    def blocks(self) -> nn.Sequential:
        missing = [name for name in STAGED_PARTS if not hasattr(self.backbone, name)]
        if missing:
            raise ArgumentError(f"--freeze-layers: freeze_layers needs an EfficientNet/MobileNet-style timm backbone "
                                f"({', '.join(STAGED_PARTS)}); {self.spec.backbone} has no {', '.join(missing)}")
        return self.backbone.blocks

    def frozen_modules(self) -> list[nn.Module]:
        if not self.freeze_layers:
            return []
        return [self.backbone.conv_stem, self.backbone.bn1, *list(self.blocks())[: self.freeze_layers]]

    def train(self, mode: bool = True) -> ImageEncoder:
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()
        return self

    @torch.no_grad()
    def prefix(self, images: torch.Tensor) -> torch.Tensor:
        """Feature maps after the frozen part (stem + first freeze_layers blocks)."""
        if not self.freeze_layers:
            raise ValueError("prefix() needs freeze_layers > 0")
        x = self.backbone.bn1(self.backbone.conv_stem(images))
        for block in list(self.blocks())[: self.freeze_layers]:
            x = block(x)
        return x

    def _after_prefix(self, x: torch.Tensor) -> torch.Tensor:
        for block in list(self.blocks())[self.freeze_layers:]:
            x = block(x)
        return self.pool(self.backbone.bn2(self.backbone.conv_head(x)))

    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        if self.freeze_layers:
            return self._after_prefix(self.prefix(images))
        features = self.backbone.forward_features(images)
        if features.ndim == 4:
            return self.pool(features)
        if features.ndim == 3:  # token sequence (ViT-style backbones): mean over tokens
            return features.mean(dim=1)
        raise ValueError(f"backbone {self.spec.backbone} returned features of shape {tuple(features.shape)}")

    def forward(self, images: torch.Tensor | None = None, features: torch.Tensor | None = None) -> torch.Tensor:
        """Embeddings of an image batch, or of :meth:`prefix` outputs (``features``, with freeze_layers)."""
        if features is not None:
            if not self.freeze_layers:
                raise ValueError("features input needs freeze_layers > 0")
            return l2n(self.neck(self._after_prefix(features.to(self.backbone.conv_head.weight.dtype))))
        return l2n(self.neck(self.pooled(images)))

    def head_parameters(self):
        """(backbone parameters that train, neck + pooling parameters) for optimiser groups."""
        return ([p for p in self.backbone.parameters() if p.requires_grad],
                list(self.pool.parameters()) + list(self.neck.parameters()))


def data_config(backbone: str) -> dict:
    """timm's mean/std/input size for a backbone name (no weights are loaded)."""
    from prodmatch.compat import import_timm

    import_timm()
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(backbone)
    if cfg is None:
        return {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
    return {"mean": tuple(cfg.mean), "std": tuple(cfg.std), "input_size": tuple(cfg.input_size)}
