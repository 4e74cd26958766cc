"""Hierarchical category heads on top of an encoder's embedding: Deep Hierarchical Classification (DHC).

Gao et al., "Deep Hierarchical Classification for Category Prediction in E-commerce System", ECNLP 2020,
arXiv 2005.06692. For levels ``0..L-1`` (top of the tree first):

- one representation per level: ``r_l = ReLU(BN(Linear(embedding)))``;
- level ``l > 0`` classifies ``concat(r_l, r_{l-1})`` -- its own representation and its parent level's;
  level 0 classifies ``r_0``;
- loss = ``sum_l w_l * CE(logits_l, y_l)`` (the layer loss) ``+ beta * sum_{l>0} mean_batch(Dloss_l)``.

The dependence loss. DHC's is ``Dloss_l = p^(D_l * wrong_{l-1}) * p^(D_l * wrong_l) - 1``, where ``D_l`` is
1 when the predicted class at level l is not a child of the predicted class at level l-1, ``wrong_l`` is 1
when the level-l prediction is wrong, and ``p > 1`` a penalty base. With argmax predictions it is a step
function with no gradient, so we use its expectation-style relaxation under the heads' softmax
distributions ``P_l``:

- ``D_l = 1 - sum_c P_l(c) * P_{l-1}(parent(c))``: the probability that a child class and a parent class
  drawn from the two heads are inconsistent (the child head's mass on children of other parents, weighed
  by the parent head);
- ``wrong_l = 1 - P_l(y_l)``;
- ``Dloss_l = exp(log(p) * D_l * (wrong_{l-1} + wrong_l)) - 1``.

It equals DHC's formula when the distributions are one-hot, is 0 for a consistent and correct pair, and
grows with inconsistency. Defaults ``level_weights = 1``, ``dependence_weight = 0.8`` and
``penalty_base = 3`` follow public DHC implementations; the paper leaves them to tuning -- tune them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class HierarchyLoss:
    total: torch.Tensor
    level_losses: list[torch.Tensor]  # cross-entropy per level (unweighted)
    dependence: torch.Tensor  # sum over levels > 0 of the batch-mean Dloss_l (unweighted)


def _check_tree(level_sizes: Sequence[int], parents: Sequence[Sequence[int]]) -> list[torch.Tensor]:
    if len(level_sizes) < 1 or any(int(n) < 1 for n in level_sizes):
        raise ValueError(f"level_sizes must be one or more positive class counts, got {list(level_sizes)}")
    if len(parents) != len(level_sizes) - 1:
        raise ValueError(f"need one parent array per level below the top: {len(level_sizes) - 1}, got {len(parents)}")
    checked = []
    for level, parent in enumerate(parents, start=1):
        parent = torch.as_tensor(parent, dtype=torch.long).reshape(-1)
        if len(parent) != level_sizes[level]:
            raise ValueError(f"parents[{level - 1}] has {len(parent)} entries for {level_sizes[level]} level-{level} classes")
        if len(parent) and (parent.min() < 0 or parent.max() >= level_sizes[level - 1]):
            raise ValueError(f"parents[{level - 1}] must be class ids of level {level - 1} (0..{level_sizes[level - 1] - 1})")
        checked.append(parent)
    return checked


def dependence_loss(parent_probs: torch.Tensor, child_probs: torch.Tensor, parent_of_child: torch.Tensor,
                    parent_targets: torch.Tensor, child_targets: torch.Tensor, penalty_base: float) -> torch.Tensor:
    """Per-sample relaxed DHC dependence loss between one level and its parent level (see module doc)."""
    # child head's mass gathered onto parents, then weighed by the parent head
    child_mass_per_parent = torch.zeros_like(parent_probs).index_add_(1, parent_of_child, child_probs)
    inconsistency = 1.0 - (child_mass_per_parent * parent_probs).sum(dim=1)
    wrong_parent = 1.0 - parent_probs.gather(1, parent_targets[:, None]).squeeze(1)
    wrong_child = 1.0 - child_probs.gather(1, child_targets[:, None]).squeeze(1)
    return torch.exp(math.log(penalty_base) * inconsistency * (wrong_parent + wrong_child)) - 1.0


class HierarchicalHeads(nn.Module):
    """Per-level representations and classifiers (DHC) for a category tree.

    ``level_sizes[l]`` is the number of classes at level l (top first); ``parents[l - 1][c]`` the level-(l-1)
    class of level-l class c, as :class:`prodmatch.visual.layout.CategoryTree` gives them.
    """

    def __init__(self, in_features: int, level_sizes: Sequence[int], parents: Sequence[Sequence[int]],
                 hidden: int = 256, dropout: float = 0.0, level_weights: Sequence[float] | None = None,
                 dependence_weight: float = 0.8, penalty_base: float = 3.0):
        super().__init__()
        if in_features < 1 or hidden < 1:
            raise ValueError(f"in_features and hidden must be >= 1, got {in_features}, {hidden}")
        parents = _check_tree(level_sizes, parents)
        self.level_sizes = [int(n) for n in level_sizes]
        weights = [1.0] * len(self.level_sizes) if level_weights is None else [float(w) for w in level_weights]
        if len(weights) != len(self.level_sizes) or any(w < 0 for w in weights):
            raise ValueError(f"level_weights must be {len(self.level_sizes)} non-negative numbers, got {weights}")
        if dependence_weight < 0 or penalty_base <= 1.0:
            raise ValueError(f"need dependence_weight >= 0 and penalty_base > 1, got {dependence_weight}, {penalty_base}")
        self.level_weights = weights
        self.dependence_weight = float(dependence_weight)
        self.penalty_base = float(penalty_base)
        for level, parent in enumerate(parents, start=1):
            self.register_buffer(f"parent_of_level{level}", parent, persistent=True)
        self.representations = nn.ModuleList(
            nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
            for _ in self.level_sizes)
        self.classifiers = nn.ModuleList(
            nn.Linear(hidden if level == 0 else 2 * hidden, n) for level, n in enumerate(self.level_sizes))

    @property
    def n_levels(self) -> int:
        return len(self.level_sizes)

    def parent_of(self, level: int) -> torch.Tensor:
        """Level-(level-1) class of every level-``level`` class (level >= 1)."""
        return getattr(self, f"parent_of_level{level}")

    def forward(self, embeddings: torch.Tensor) -> list[torch.Tensor]:
        """Logits per level, each (batch, level_sizes[l])."""
        if embeddings.ndim != 2:
            raise ValueError(f"embeddings must be (batch, features), got shape {tuple(embeddings.shape)}")
        representations = [rep(embeddings) for rep in self.representations]
        logits = [self.classifiers[0](representations[0])]
        for level in range(1, self.n_levels):
            joined = torch.cat([representations[level], representations[level - 1]], dim=1)
            logits.append(self.classifiers[level](joined))
        return logits

    def _check_targets(self, targets: torch.Tensor, batch: int) -> None:
        if targets.dtype != torch.long or targets.shape != (batch, self.n_levels):
            raise ValueError(f"targets must be int64 of shape ({batch}, {self.n_levels}), got {targets.dtype} "
                             f"{tuple(targets.shape)}")
        for level, n in enumerate(self.level_sizes):
            column = targets[:, level]
            if len(column) and (column.min() < 0 or column.max() >= n):
                raise ValueError(f"level-{level} targets must be in 0..{n - 1}")

    def loss(self, logits: list[torch.Tensor], targets: torch.Tensor) -> HierarchyLoss:
        """Weighted per-level cross-entropy plus ``dependence_weight`` x the dependence loss."""
        if len(logits) != self.n_levels:
            raise ValueError(f"expected {self.n_levels} logit tensors, got {len(logits)}")
        self._check_targets(targets, len(logits[0]))
        level_losses = [F.cross_entropy(logits[level].float(), targets[:, level]) for level in range(self.n_levels)]
        probs = [torch.softmax(x.float(), dim=1) for x in logits]
        dependence = logits[0].new_zeros((), dtype=torch.float32)
        for level in range(1, self.n_levels):
            dependence = dependence + dependence_loss(
                probs[level - 1], probs[level], self.parent_of(level), targets[:, level - 1], targets[:, level],
                self.penalty_base).mean()
        total = sum(w * x for w, x in zip(self.level_weights, level_losses)) + self.dependence_weight * dependence
        return HierarchyLoss(total, level_losses, dependence)

    @torch.no_grad()
    def predict(self, embeddings: torch.Tensor, consistent: bool = False) -> torch.Tensor:
        """(batch, n_levels) int64 class ids: argmax per level; with ``consistent``, top-down -- each level's
        argmax among the children of the class predicted above. Runs in eval mode (BatchNorm running
        statistics), then restores the previous mode."""
        was_training = self.training
        self.eval()
        try:
            logits = self.forward(embeddings)
        finally:
            self.train(was_training)
        predicted = [logits[0].argmax(dim=1)]
        for level in range(1, self.n_levels):
            scores = logits[level]
            if consistent:
                allowed = self.parent_of(level)[None, :] == predicted[-1][:, None]
                scores = scores.masked_fill(~allowed, float("-inf"))
            predicted.append(scores.argmax(dim=1))
        return torch.stack(predicted, dim=1)

    def spec(self) -> dict:
        """What rebuilds these heads (with :meth:`from_spec`), weights aside."""
        return {"in_features": self.representations[0][1].in_features, "level_sizes": list(self.level_sizes),
                "parents": [self.parent_of(level).tolist() for level in range(1, self.n_levels)],
                "hidden": self.representations[0][1].out_features, "dropout": self.representations[0][0].p,
                "level_weights": list(self.level_weights), "dependence_weight": self.dependence_weight,
                "penalty_base": self.penalty_base}

    @classmethod
    def from_spec(cls, spec: dict) -> HierarchicalHeads:
        return cls(**spec)


def hierarchy_payload(heads: HierarchicalHeads, level_names: Sequence[str], classes: Sequence[Sequence[str]]) -> dict:
    """What model.pt keeps of the heads: spec, weights, the level column names and each level's class names
    (class id c of level l is ``classes[l][c]``), so inference predicts categories by name."""
    if len(level_names) != heads.n_levels or [len(c) for c in classes] != heads.level_sizes:
        raise ValueError(f"level names/classes do not fit heads of sizes {heads.level_sizes}")
    return {"spec": heads.spec(), "levels": [str(n) for n in level_names],
            "classes": [[str(c) for c in names] for names in classes],
            "state_dict": {k: v.detach().cpu() for k, v in heads.state_dict().items()}}


@dataclass
class CategoryPredictor:
    """Hierarchical heads rebuilt from :func:`hierarchy_payload`, in eval mode: embeddings -> category ids."""

    heads: HierarchicalHeads
    levels: list[str]
    classes: list[list[str]]

    @classmethod
    def from_payload(cls, payload: dict) -> CategoryPredictor:
        heads = HierarchicalHeads.from_spec(payload["spec"])
        heads.load_state_dict(payload["state_dict"], strict=True)
        return cls(heads.eval(), list(payload["levels"]), [list(c) for c in payload["classes"]])

    @torch.no_grad()
    def predict(self, embeddings, consistent: bool = True, batch_rows: int = 65536):
        """(n, n_levels) int64 numpy class ids of float32 embedding rows (top-down consistent by default)."""
        embeddings = np.asarray(embeddings)
        if embeddings.dtype != np.float32 or embeddings.ndim != 2:
            raise TypeError(f"embeddings must be a float32 (n, dim) array, got {embeddings.dtype} {embeddings.shape}")
        out = np.empty((len(embeddings), self.heads.n_levels), np.int64)
        for start in range(0, len(embeddings), batch_rows):
            chunk = torch.from_numpy(embeddings[start:start + batch_rows])
            out[start:start + len(chunk)] = self.heads.predict(chunk, consistent=consistent).numpy()
        return out


class HierarchicalMetricModel(nn.Module):
    """A :class:`prodmatch.models.build.MetricModel` (encoder + margin head on product ids) with optional DHC
    heads on the same embedding (``hierarchy=None``: the product loss alone).

    ``model(inputs)`` gives embeddings; ``model(inputs, labels)`` with ``labels`` (batch, 1 + n_levels) int64 --
    product class, then the category class per level (-1 where unlabelled) -- gives ``(product logits, level
    logits or None)``. The heads read the L2-normalised embedding, as inference has it.
    """

    def __init__(self, metric_model: nn.Module, hierarchy: HierarchicalHeads | None = None):
        super().__init__()
        self.metric_model = metric_model
        self.hierarchy = hierarchy

    @property
    def encoder(self) -> nn.Module:
        return self.metric_model.encoder

    @property
    def head(self) -> nn.Module:
        return self.metric_model.head

    def forward(self, inputs, labels: torch.Tensor | None = None):
        embeddings = self.metric_model.embed(inputs)
        if labels is None:
            return embeddings
        if labels.ndim != 2 or labels.dtype != torch.long:
            raise ValueError(f"labels must be int64 (batch, 1 + n_levels), got {labels.dtype} {tuple(labels.shape)}")
        product_logits = self.metric_model.head(embeddings, labels[:, 0])
        level_logits = None if self.hierarchy is None else self.hierarchy(F.normalize(embeddings.float(), dim=1))
        return product_logits, level_logits

    def loss(self, outputs, labels: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
        """Product cross-entropy plus the DHC loss of the rows labelled on every level."""
        product_logits, level_logits = outputs
        loss = F.cross_entropy(product_logits.float(), labels[:, 0], label_smoothing=label_smoothing)
        if level_logits is None:
            return loss
        labelled = (labels[:, 1:] >= 0).all(dim=1)
        if not bool(labelled.any()):  # keep the heads in the graph (DDP expects every parameter's gradient)
            return loss + 0.0 * sum(x.sum() for x in level_logits)
        targets = labels[labelled][:, 1:]
        return loss + self.hierarchy.loss([x[labelled] for x in level_logits], targets).total

    def param_groups(self, lr: float, neck_lr: float, head_lr: float, weight_decay: float = 0.0,
                     head_weight_decay: float = 0.0) -> list[dict]:
        """The metric model's groups; the DHC heads (small MLPs, like the neck) train at ``neck_lr``."""
        groups = self.metric_model.param_groups(lr, neck_lr, head_lr, weight_decay, head_weight_decay)
        if self.hierarchy is not None:
            params = [p for p in self.hierarchy.parameters() if p.requires_grad]
            groups.insert(len(groups) - 1, {"name": "hierarchy", "params": params, "lr": neck_lr,
                                            "weight_decay": weight_decay})
        return groups
