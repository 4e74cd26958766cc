"""Pooling and neck layers shared by the image and text encoders."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from prodmatch.errors import ArgumentError
from prodmatch.models.registry import NECKS


class GeM(nn.Module):
    """Generalised-mean pooling over the spatial dims: ``mean(x^p)^(1/p)``; p is learnable by default.

    p=1 is average pooling, p -> inf tends to max pooling. Inputs are clamped at ``eps`` first (the
    feature maps of a timm backbone can be negative after its last activation-free layer).
    """

    def __init__(self, p: float = 3.0, eps: float = 1e-6, trainable: bool = True):
        super().__init__()
        self.p = nn.Parameter(torch.tensor(float(p)), requires_grad=trainable)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"GeM expects a (batch, channels, height, width) map, got shape {tuple(x.shape)}")
        p = self.p.float()
        pooled = x.float().clamp(min=self.eps).pow(p).mean(dim=(2, 3))
        return pooled.pow(1.0 / p).to(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p.item():.3f}, trainable={self.p.requires_grad}"


def masked_mean(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token vectors where ``attention_mask`` is 1 (padding does not count)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-6)


class Neck(nn.Module):
    """Pooled features -> embedding: ``linear_bn`` (dropout, linear, BatchNorm1d), ``linear``, ``bn`` or ``none``.

    ``bn`` and ``none`` keep the input width (``out_features`` must then equal ``in_features`` or be None).
    """

    def __init__(self, in_features: int, out_features: int | None, kind: str = "linear_bn", dropout: float = 0.0):
        super().__init__()
        if kind not in NECKS:
            raise ValueError(f"unknown neck {kind!r}; choose from {NECKS}")
        out_features = out_features or in_features
        if kind in ("bn", "none") and out_features != in_features:
            raise ArgumentError(f"--neck {kind}: the neck keeps the width {in_features}; set embedding_dim to "
                                f"{in_features} or use neck linear_bn")
        self.kind = kind
        self.in_features = in_features
        self.out_features = out_features
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.linear = nn.Linear(in_features, out_features, bias=False) if kind.startswith("linear") else None
        self.bn = nn.BatchNorm1d(out_features) if kind.endswith("bn") else None
        if self.linear is not None:
            nn.init.xavier_normal_(self.linear.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dropout(x)
        if self.linear is not None:
            x = self.linear(x)
        if self.bn is not None:
            x = self.bn(x.float())
        return x


def l2n(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x.float(), dim=-1)
