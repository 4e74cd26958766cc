"""The visual-search task (eBay eProduct style): an image encoder trained on the product ids of a catalogue
index, optionally with DHC hierarchical category heads, validated by searching held-out query photos
(:class:`prodmatch.train.evaluators.MarEvaluator`).

- training rows: the index (catalogue) photos that carry a ``product_id``; the classes are those product ids
  (the margin head trains on them). Each training row's label is ``(product class, level-1 class, ...,
  level-K class)`` -- category classes from the folder's :class:`prodmatch.visual.layout.CategoryTree`,
  -1 where a row is unlabelled;
- the queries are never trained on: they are the held-out set, searched against the whole index;
- ``hierarchy: true`` (the default) needs category levels in index.csv:
  :class:`prodmatch.models.hierarchy.HierarchicalHeads` on the same embedding, loss = product cross-entropy +
  sum_l w_l CE_l + dependence_weight * Dloss (``hierarchy_weights``, ``dependence_weight``). A folder without
  level columns is refused rather than silently trained without heads (``hierarchy: false`` for that).

model.pt is the encoder (as for Shopee runs) plus, with heads, ``hierarchy``
(:func:`prodmatch.models.hierarchy.hierarchy_payload`) so index building can predict categories;
oof_embeddings.npz holds the queries' embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from prodmatch.data.validation import DataValidationError
from prodmatch.errors import ArgumentError
from prodmatch.models.hierarchy import HierarchicalHeads, HierarchicalMetricModel, hierarchy_payload
from prodmatch.train.evaluators import MarEvaluator
from prodmatch.train.task import Split, TrainTask
from prodmatch.visual.layout import CategoryTree, VisualSearchDir
from prodmatch.visual.metrics import GroundTruth

PRODUCT_COLUMN = "product_id"


@dataclass(kw_only=True)
class VisualData(Split):
    """A visual-search folder split for training. ``classes[c]`` is the product id of class c; ``val`` are
    the queries."""

    id_column = "id"
    eval_sets = ("index", "val")

    index: pd.DataFrame  # every index row, in index.csv order
    tree: CategoryTree | None  # None: hierarchy switched off
    train_levels: np.ndarray | None  # (n_train, n_levels) int64 category classes, -1 = unlabelled
    query_levels: np.ndarray | None  # (n_queries, n_levels), None when queries.csv has no levels
    truth: GroundTruth  # true index positions per query
    index_images: Path
    query_images: Path
    train_rows: np.ndarray  # int64 position in ``index`` of each training row

    def rows(self, which: str) -> pd.DataFrame:
        return self.index if which == "index" else super().rows(which)

    def image_paths(self, which: str) -> list[Path]:
        folder = self.query_images if which == "val" else self.index_images
        return [folder / name for name in self.rows(which)["image"]]

    def train_labels(self) -> np.ndarray:
        """(n_train, 1 + n_levels) int64: product class, then each level's category class."""
        columns = [self.train_class[:, None]] + ([self.train_levels] if self.train_levels is not None else [])
        return np.concatenate(columns, axis=1).astype(np.int64)

    def train_within(self) -> tuple[str, np.ndarray]:
        return "index", self.train_rows


def queried_products(index: pd.DataFrame, truth: GroundTruth) -> set[str]:
    """Product ids of the index rows some query truly matches."""
    return set(index[PRODUCT_COLUMN].iloc[np.unique(truth.positions)].tolist())


def split_visual(config) -> VisualData:
    """Read ``config.data_dir`` (a visual-search folder with ground truth) and pick the training rows."""
    if not config.data_dir:
        raise ArgumentError("data_dir is required (--data-dir DIR with index.csv, queries.csv, ground_truth.csv)")
    folder = VisualSearchDir.of(config.data_dir)
    data = folder.read(require_ground_truth=True)
    index, queries = data.index, data.queries
    if PRODUCT_COLUMN not in index.columns:
        raise DataValidationError(folder.index_csv, f"no {PRODUCT_COLUMN} column: the visual task trains on product ids "
                                  "(python -m prodmatch index demo writes them)")
    tree = data.tree if config.hierarchy else None
    if config.hierarchy and (tree is None or not set(tree.levels) <= set(index.columns)):
        raise DataValidationError(folder.index_csv, "hierarchy is on (the default) but the file has no category "
                                  "columns level1..levelK, so no category head would train; add them, or pass "
                                  "--no-hierarchy (hierarchy: false) to train on product ids alone")
    weights = config.hierarchy_weights
    if tree is not None and weights is not None and len(weights) != len(tree.levels):
        raise ArgumentError(f"--hierarchy-weights {' '.join(map(str, weights))}: {len(weights)} weight(s) for the "
                            f"{len(tree.levels)} category levels of {folder.index_csv} ({', '.join(tree.levels)}); "
                            "give one per level, top level first")
    truth = data.truth()
    keep = index[PRODUCT_COLUMN].str.strip().ne("").to_numpy().copy()
    if config.train_products == "unqueried":
        keep &= ~index[PRODUCT_COLUMN].isin(queried_products(index, truth)).to_numpy()
    train = index[keep].reset_index(drop=True)
    if len(train) == 0:
        raise DataValidationError(folder.index_csv, f"no row with a {PRODUCT_COLUMN} left to train on "
                                  f"(train_products: {config.train_products})", column=PRODUCT_COLUMN)
    classes, train_class = np.unique(train[PRODUCT_COLUMN].to_numpy(), return_inverse=True)
    train_levels = tree.encode(train, folder.index_csv) if tree is not None else None
    query_levels = (tree.encode(queries, folder.queries_csv)
                    if tree is not None and set(tree.levels) <= set(queries.columns) else None)
    return VisualData(train=train, val=queries, index=index, train_class=train_class.astype(np.int64),
                      classes=classes, tree=tree, train_levels=train_levels, query_levels=query_levels, truth=truth,
                      index_images=folder.index_images, query_images=folder.query_images,
                      train_rows=np.flatnonzero(keep).astype(np.int64))


class VisualSearchTask(TrainTask):
    """Product ids of the index as classes (+ category heads); MAR@10 of the held-out queries."""

    name = "visual"

    def __init__(self):
        self.model: HierarchicalMetricModel | None = None  # set by build_model; its loss is the task's

    def split(self, config) -> VisualData:
        return split_visual(config)

    def build_model(self, config, encoder, data: VisualData) -> HierarchicalMetricModel:
        products = super().build_model(config, encoder, data)  # first: the same initial weights for a seed
        heads = None
        if data.tree is not None:
            heads = HierarchicalHeads(encoder.embedding_dim, data.tree.sizes, data.tree.parents,
                                      hidden=config.hierarchy_hidden, level_weights=config.hierarchy_weights,
                                      dependence_weight=config.dependence_weight)
        self.model = HierarchicalMetricModel(products, heads)
        return self.model

    def loss(self, outputs, labels: torch.Tensor, config) -> torch.Tensor:
        return self.model.loss(outputs, labels, config.label_smoothing)

    def evaluator(self, config, data: VisualData) -> MarEvaluator:
        return MarEvaluator(data, config)

    def model_extras(self, model: HierarchicalMetricModel, data: VisualData) -> dict:
        extras = {"task": self.name}
        if model.hierarchy is not None:
            extras["hierarchy"] = hierarchy_payload(model.hierarchy, data.tree.levels, data.tree.classes)
        return extras
