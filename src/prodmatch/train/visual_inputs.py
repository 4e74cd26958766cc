"""The rows and encoder inputs of a visual-search training run (the visual task's counterpart of
:mod:`prodmatch.train.fold_inputs`).

Training rows are the index (catalogue) photos that carry a ``product_id``; the classes are those product
ids. Each training row's label is ``(product class, level-1 class, ..., level-K class)`` -- category classes
from the folder's :class:`prodmatch.visual.layout.CategoryTree`, -1 where a row is unlabelled. The
queries are never trained on: they are the held-out set, searched against the whole index.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from prodmatch.visual.layout import CategoryTree, VisualSearchDir
from prodmatch.data.validation import DataValidationError
from prodmatch.device import default_num_workers
from prodmatch.errors import ArgumentError
from prodmatch.models.inputs import ImageRows
from prodmatch.train.image_cache import CachedViews, cache_plain, cache_train_views, collate_features, embed_cached
from prodmatch.visual.metrics import GroundTruth

PRODUCT_COLUMN = "product_id"


@dataclass
class VisualData:
    """A visual-search folder split for training. ``classes[c]`` is the product id of class c."""

    train: pd.DataFrame  # index rows trained on (with a product id)
    val: pd.DataFrame  # the queries: held out, searched against the whole index
    index: pd.DataFrame  # every index row, in index.csv order
    train_class: np.ndarray  # int64 product class per training row
    classes: np.ndarray  # product id per class
    tree: CategoryTree | None  # None: no category levels, or hierarchy switched off
    train_levels: np.ndarray | None  # (n_train, n_levels) int64 category classes, -1 = unlabelled
    query_levels: np.ndarray | None  # (n_queries, n_levels), None when queries.csv has no levels
    truth: GroundTruth  # true index positions per query
    index_images: Path
    query_images: Path
    train_rows: np.ndarray  # int64 position in ``index`` of each training row

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def labels(self) -> np.ndarray:
        """(n_train, 1 + n_levels) int64: product class, then each level's category class."""
        columns = [self.train_class[:, None]] + ([self.train_levels] if self.train_levels is not None else [])
        return np.concatenate(columns, axis=1).astype(np.int64)


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
    truth = data.truth()
    keep = index[PRODUCT_COLUMN].str.strip().ne("").to_numpy().copy()
    if config.train_products == "unqueried":
        keep &= ~index[PRODUCT_COLUMN].isin(queried_products(index, truth)).to_numpy()
    train = index[keep].reset_index(drop=True)
    if len(train) == 0:
        raise DataValidationError(folder.index_csv, f"no row with a {PRODUCT_COLUMN} left to train on "
                                  f"(train_products: {config.train_products})", column=PRODUCT_COLUMN)
    classes, train_class = np.unique(train[PRODUCT_COLUMN].to_numpy(), return_inverse=True)
    tree = data.tree if config.hierarchy else None
    train_levels = tree.encode(train, folder.index_csv) if tree is not None else None
    query_levels = tree.encode(queries, folder.queries_csv) if tree is not None and set(tree.levels) <= set(queries.columns) else None
    return VisualData(train, queries, index, train_class.astype(np.int64), classes, tree, train_levels,
                      query_levels, truth, folder.index_images, folder.query_images,
                      train_rows=np.flatnonzero(keep).astype(np.int64))


class LabelledImageRows(ImageRows):
    """:class:`ImageRows` whose label is a row of several class ids (product, then category levels)."""

    def __init__(self, paths, label_rows: np.ndarray, transform, seed: int | None = None):
        label_rows = np.asarray(label_rows)
        if label_rows.dtype != np.int64 or label_rows.ndim != 2 or len(label_rows) != len(paths):
            raise ValueError(f"label_rows must be int64 (n_paths, n_labels), got {label_rows.dtype} {label_rows.shape}")
        super().__init__(paths, None, transform, seed)
        self.label_rows = label_rows

    def __getitem__(self, i: int):
        tensor, _, index, problem = super().__getitem__(i)
        return tensor, self.label_rows[i], index, problem


def collate_labelled_images(items) -> dict:
    images, labels, index, problems = zip(*items)
    return {"inputs": torch.stack(images), "labels": torch.from_numpy(np.stack(labels)),
            "index": torch.as_tensor(index, dtype=torch.long), "problems": list(problems)}


class VisualInputs:
    """Training dataset and collate function of the index rows; eval-mode embedding of train/index/query rows.

    With ``freeze_layers`` and ``cache_frozen`` the frozen layers run once per image version
    (:mod:`prodmatch.train.image_cache`): every index photo and query (plain, float32, plus mirror images with
    ``tta``) and ``cached_views`` versions of each training row (the first taken from the index's); training
    and every epoch's validation run the rest of the encoder on that cache.
    """

    def __init__(self, config, data: VisualData, encoder, device: torch.device, log=print, progress: bool = False):
        from prodmatch.models.transforms import eval_transform, train_transform

        self.config, self.device = config, device
        # channels_last on the CPU too, as for Shopee image runs (prodmatch.train.fold_inputs: faster convolutions)
        self.channels_last = config.channels_last
        self.num_workers = default_num_workers(device) if config.num_workers is None else config.num_workers
        self.paths = {"train": [data.index_images / p for p in data.train["image"]],
                      "index": [data.index_images / p for p in data.index["image"]],
                      "val": [data.query_images / p for p in data.val["image"]]}
        # "index"/"val" -> (float32 plain frozen-layer outputs, their mirror images' or None); None: not cached
        self.cache: dict[str, tuple[torch.Tensor, torch.Tensor | None]] | None = None
        if config.freeze_layers and config.cache_frozen:
            self._cache_inputs(data, encoder, log, progress)
            return
        spec = encoder.spec
        transform = (train_transform(spec.image_size, spec.mean, spec.std, config.augment) if config.augment > 0
                     else eval_transform(spec.image_size, spec.mean, spec.std))
        self.train_set = LabelledImageRows(self.paths["train"], data.labels(), transform, seed=config.seed)
        self.collate = collate_labelled_images

    def _cache_inputs(self, data: VisualData, encoder, log, progress: bool) -> None:
        cfg = self.config
        started = time.time()
        common = dict(device=self.device, num_workers=self.num_workers, channels_last=self.channels_last,
                      progress=progress)
        index = cache_plain(encoder, self.paths["index"], cfg, desc="index", **common)
        queries = cache_plain(encoder, self.paths["val"], cfg, desc="queries", **common)
        rows = data.train_rows
        views = cache_train_views(encoder, self.paths["train"], cfg, plain=index[0][rows], **common)
        # training rows are index photos: their plain outputs are read from the index's (no mirror: no TTA)
        self.cache = {"index": index, "val": queries}
        self.train_rows = rows
        log(f"frozen-layer cache of {len(self.paths['index'])} index photos, {len(self.paths['val'])} queries and "
            f"{len(rows)} x {cfg.cached_views} train versions ready in {time.time() - started:.0f}s")
        self.train_set = CachedViews(views, data.labels(), seed=cfg.seed)
        self.collate = collate_features
        self.num_workers = 0  # the cache is in memory: nothing left for loader workers to do

    def embed_rows(self, encoder, which: str, positions: np.ndarray) -> np.ndarray:
        """Eval-mode embeddings of ``train``/``index``/``val`` (query) rows ``positions`` (flip TTA on
        index and queries if configured)."""
        from prodmatch.embed import encode_images

        cfg = self.config
        if self.cache is not None:
            if which == "train":
                plain, flipped, positions = self.cache["index"][0], None, self.train_rows[positions]
            else:
                plain, flipped = self.cache[which]
            return embed_cached(encoder, plain[positions], cfg.eval_batch_size, self.device, cfg.amp, cfg.amp_dtype,
                                None if flipped is None else flipped[positions])
        paths = self.paths[which]
        return encode_images(encoder, [paths[i] for i in positions], cfg.eval_batch_size, self.device,
                             tta=cfg.tta and which != "train", num_workers=self.num_workers, amp=cfg.amp,
                             channels_last=self.channels_last, amp_dtype=cfg.amp_dtype)
