"""Angular-margin classification heads for metric learning: ArcFace and CurricularFace.

A head holds one weight vector per training class and turns embeddings into scaled logits with an
additive angular margin on the true class. It is only used for training; inference uses the embeddings.

Margin warm-up: with ``warmup_epochs > 0`` the margin ramps linearly from 0 to ``margin`` over the first
``warmup_epochs`` epochs (fractions allowed); the training loop calls :meth:`MarginHead.set_progress`
with the fractional epoch before every step. Heads are created by :func:`create_head` (name -> class in
:data:`HEADS`) or built directly and passed to :class:`prodmatch.models.MetricModel`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from prodmatch.models.registry import HEAD_NAMES


class MarginHead(nn.Module):
    """Base class: normalised class weights, cosine logits, scale, margin schedule."""

    def __init__(self, in_features: int, num_classes: int, scale: float = 30.0, margin: float = 0.5,
                 warmup_epochs: float = 0.0):
        super().__init__()
        if num_classes < 1 or in_features < 1:
            raise ValueError(f"need in_features >= 1 and num_classes >= 1, got {in_features}, {num_classes}")
        if not 0.0 <= margin < math.pi / 2:
            raise ValueError(f"margin must be in [0, pi/2), got {margin}")
        self.in_features = in_features
        self.num_classes = num_classes
        self.scale = float(scale)
        self.final_margin = float(margin)
        self.warmup_epochs = float(warmup_epochs)
        self.weight = nn.Parameter(torch.empty(num_classes, in_features))
        nn.init.xavier_uniform_(self.weight)
        self.margin = self.margin_at(0.0)

    def margin_at(self, epochs_done: float) -> float:
        """Margin after ``epochs_done`` (fractional) epochs: linear ramp 0 -> margin over warmup_epochs."""
        if self.warmup_epochs <= 0:
            return self.final_margin
        return self.final_margin * min(1.0, max(0.0, epochs_done) / self.warmup_epochs)

    def set_progress(self, epochs_done: float) -> float:
        self.margin = self.margin_at(epochs_done)
        return self.margin

    def cosine(self, embeddings: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=embeddings.device.type, enabled=False):  # margins need fp32
            cos = F.linear(F.normalize(embeddings.float(), dim=-1), F.normalize(self.weight.float(), dim=-1))
        return cos.clamp(-1.0 + 1e-7, 1.0 - 1e-7)

    @torch.no_grad()
    def init_from_centres(self, centres: torch.Tensor) -> None:
        """Set each class weight to the (normalised) mean embedding of its class."""
        if centres.shape != self.weight.shape:
            raise ValueError(f"centres shape {tuple(centres.shape)} != weight shape {tuple(self.weight.shape)}")
        norms = centres.norm(dim=1, keepdim=True)
        fresh = F.normalize(torch.randn_like(self.weight), dim=1)
        self.weight.copy_(torch.where(norms > 1e-8, centres / norms.clamp(min=1e-8), fresh).to(self.weight.dtype))

    def _target_with_margin(self, target: torch.Tensor) -> torch.Tensor:
        """cos(theta + m), with ArcFace's fallback ``cos(theta) - m sin(m)`` once theta + m passes pi."""
        m = self.margin
        sin = torch.sqrt((1.0 - target * target).clamp(min=0.0))
        phi = target * math.cos(m) - sin * math.sin(m)
        th = math.cos(math.pi - m)
        mm = math.sin(math.pi - m) * m
        return torch.where(target > th, phi, target - mm)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, num_classes={self.num_classes}, scale={self.scale}, "
                f"margin={self.final_margin}, warmup_epochs={self.warmup_epochs}")


class ArcFaceHead(MarginHead):
    """ArcFace (Deng et al. 2019): logits ``s * cos(theta_y + m)`` for the true class, ``s * cos(theta_j)`` else."""

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cos = self.cosine(embeddings)
        index = labels.view(-1, 1).long()
        target = cos.gather(1, index)
        logits = cos.scatter(1, index, self._target_with_margin(target))
        return logits * self.scale


class CurricularFaceHead(MarginHead):
    """CurricularFace (Huang et al. 2020): ArcFace margin plus hard negatives re-weighted by ``t + cos``.

    ``t`` is an exponential moving average of the mean true-class cosine (a buffer, saved with the model):
    early in training t is small and hard negatives are down-weighted; later they get more weight.
    """

    def __init__(self, in_features: int, num_classes: int, scale: float = 30.0, margin: float = 0.5,
                 warmup_epochs: float = 0.0, momentum: float = 0.01):
        super().__init__(in_features, num_classes, scale, margin, warmup_epochs)
        self.momentum = momentum
        self.register_buffer("t", torch.zeros(1))

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cos = self.cosine(embeddings)
        index = labels.view(-1, 1).long()
        target = cos.gather(1, index)
        target_m = self._target_with_margin(target)
        if self.training:
            with torch.no_grad():
                self.t.mul_(1.0 - self.momentum).add_(self.momentum * target.mean())
        t = self.t.to(cos.dtype)
        hard = cos > (target * math.cos(self.margin) - torch.sqrt((1 - target * target).clamp(min=0))
                      * math.sin(self.margin))
        cos = torch.where(hard, cos * (t + cos), cos)
        logits = cos.scatter(1, index, target_m)
        return logits * self.scale


HEADS: dict[str, type[MarginHead]] = dict(zip(HEAD_NAMES, (ArcFaceHead, CurricularFaceHead), strict=True))


def create_head(name: str, in_features: int, num_classes: int, scale: float = 30.0, margin: float = 0.5,
                warmup_epochs: float = 0.0, **kwargs) -> MarginHead:
    """A head by name (``arcface``, ``curricularface``); extra keyword arguments go to its constructor."""
    key = name.lower().replace("-", "").replace("_", "")
    if key not in HEADS:
        raise ValueError(f"unknown head {name!r}; choose from {sorted(HEADS)}")
    return HEADS[key](in_features, num_classes, scale=scale, margin=margin, warmup_epochs=warmup_epochs, **kwargs)
