"""One fold's rows and the encoder inputs built from them: image paths (or the frozen image layers' outputs,
cached: :mod:`prodmatch.train.image_cache`), or token ids (optionally run once through the frozen text layers
and cached).

An image model refuses a train set whose images are missing or unusable for more than half of the rows
(no train_images/ folder, say): it would learn from grey placeholders and still report a score. Fewer
unusable images train as grey placeholders, with one warning that counts them.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from prodmatch.data import DataDir, assign_folds, read_folds
from prodmatch.data.images import unusable_images
from prodmatch.device import autocast, default_num_workers
from prodmatch.errors import ArgumentError, MissingInputError
from prodmatch.fileio import atomic_open
from prodmatch.models.inputs import (
    ImageReadWarning,
    ImageRows,
    TextCollate,
    TokenRows,
    collate_images,
    length_batches,
    unreadable_summary,
)
from prodmatch.progress import progress_bar
from prodmatch.train.config import TrainConfig
from prodmatch.train.image_cache import CachedViews, ImageCache, build_image_cache, collate_features, embed_cached


MAX_UNUSABLE_SHARE = 0.5  # of a train set's images, above which an image model refuses to train


@dataclass
class FoldData:
    """Rows of one fold split. ``classes[c]`` is the label_group of training class id c."""

    train: pd.DataFrame
    val: pd.DataFrame
    train_class: np.ndarray  # int64 class id per training row
    classes: np.ndarray  # label_group per class id
    images_dir: Path

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def split_fold(config: TrainConfig) -> FoldData:
    if not config.data_dir:
        raise ArgumentError("data_dir is required (--data-dir DIR with train.csv)")
    data_dir = DataDir.of(config.data_dir)
    train = data_dir.read_train()
    if config.folds_file:
        folds = read_folds(config.folds_file, train)
    else:
        folds = assign_folds(train, config.n_folds, config.fold_salt)["fold"].to_numpy()
    held_out = folds == config.fold
    if not held_out.any():
        raise ArgumentError(f"fold {config.fold} has no rows (folds present: {sorted(set(folds.tolist()))})")
    if held_out.all():
        raise ArgumentError(f"fold {config.fold} holds every row; nothing left to train on")
    fit = train[~held_out].reset_index(drop=True)
    val = train[held_out].reset_index(drop=True)
    classes, class_ids = np.unique(fit["label_group"].to_numpy(), return_inverse=True)
    return FoldData(fit, val, class_ids.astype(np.int64), classes, data_dir.train_images)


def check_train_images(data: FoldData, max_unusable_share: float = MAX_UNUSABLE_SHARE) -> None:
    """Refuse (or warn about) the fold's unusable images, told without decoding them (prodmatch.data.images)."""
    names = pd.concat([data.train["image"], data.val["image"]]).astype(str).tolist()
    problems = unusable_images(data.images_dir, names)
    if not problems:
        return
    if not data.images_dir.is_dir():
        raise MissingInputError(f"{data.images_dir}: no such folder; an image model trains on the images that "
                                "train.csv names (file names in its 'image' column)")
    summary = unreadable_summary([data.images_dir / name for name in names], problems)
    if len(problems) > max_unusable_share * len(names):
        raise MissingInputError(f"{data.images_dir}: {summary}; an image model cannot learn from grey placeholders, "
                                "so it does not train on this data")
    warnings.warn(f"{data.images_dir}: {summary}; they train and validate as grey placeholders", ImageReadWarning,
                  stacklevel=3)


class FoldInputs:
    """The training dataset and collate function of a fold, and eval-mode embedding of its rows."""

    def __init__(self, config: TrainConfig, data: FoldData, encoder, device: torch.device, is_main: bool = True,
                 log=print):
        self.config, self.device, self.is_main, self.log = config, device, is_main, log
        # channels_last: faster convolutions on CUDA and on the CPU alike (EfficientNet-Lite0 on 2 CPU cores: the
        # frozen-layer pass 18 -> 11 ms per 128 px image, training the last blocks 11 -> 6 ms)
        self.channels_last = config.channels_last and config.model == "image"
        self.num_workers = default_num_workers(device) if config.num_workers is None else config.num_workers
        self.cache: ImageCache | None = None  # frozen image layers' outputs (freeze_layers + cache_frozen)
        if config.model == "image":
            self._image_inputs(data, encoder)
        else:
            self._text_inputs(data, encoder)

    def _image_inputs(self, data: FoldData, encoder) -> None:
        from prodmatch.models.transforms import eval_transform, train_transform

        check_train_images(data)
        cfg, spec = self.config, encoder.spec
        self.train_paths = [data.images_dir / p for p in data.train["image"]]
        self.val_paths = [data.images_dir / p for p in data.val["image"]]
        if cfg.freeze_layers and cfg.cache_frozen:
            started = time.time()
            self.cache = build_image_cache(encoder, self.train_paths, self.val_paths, cfg, self.device,
                                           self.num_workers, self.channels_last, cfg.progress and self.is_main)
            self.log(f"frozen-layer cache of {len(self.train_paths)} x {cfg.cached_views} train and "
                     f"{len(self.val_paths)} held-out images ready in {time.time() - started:.0f}s")
            self.train_set = CachedViews(self.cache.train_views, data.train_class, seed=cfg.seed)
            self.collate = collate_features
            self.num_workers = 0  # the cache is in memory: nothing left for loader workers to do
            return
        transform = (train_transform(spec.image_size, spec.mean, spec.std, cfg.augment) if cfg.augment > 0
                     else eval_transform(spec.image_size, spec.mean, spec.std))
        self.train_set = ImageRows(self.train_paths, data.train_class, transform, seed=cfg.seed)
        self.collate = collate_images

    def _text_inputs(self, data: FoldData, encoder) -> None:
        cfg = self.config
        train_items = encoder.tokenize(data.train["title"].tolist())
        val_items = encoder.tokenize(data.val["title"].tolist())
        if cfg.freeze_layers and cfg.cache_frozen:
            started = time.time()
            cached = self.prefix_cache(encoder, train_items + val_items)
            train_items, val_items = cached[: len(train_items)], cached[len(train_items):]
            self.log(f"frozen-layer cache for {len(cached)} titles ready in {time.time() - started:.0f}s")
        self.train_items, self.val_items = train_items, val_items
        self.train_set = TokenRows(train_items, data.train_class)
        self.collate = TextCollate(encoder.tokenizer.pad_token_id or 0, cfg.token_dropout)

    @property
    def lengths(self) -> list[int]:
        """Training item lengths (text), for length-grouped batches."""
        return [len(x) for x in self.train_items]

    def prefix_cache(self, encoder, ids: list[list[int]]) -> list[np.ndarray]:
        """Frozen-layer outputs per title: from ``cache_dir`` when an identical cache exists there, else computed
        (and stored there by rank 0 when ``cache_dir`` is set)."""
        cfg = self.config
        path = None
        if cfg.cache_dir:
            digest = hashlib.sha1(json.dumps([cfg.backbone, cfg.pretrained, cfg.freeze_layers, cfg.max_length],
                                             sort_keys=True).encode())
            for seq in ids:
                digest.update(np.asarray(seq, dtype=np.int64).tobytes() + b"|")
            path = Path(cfg.cache_dir) / f"frozen-{digest.hexdigest()[:20]}.npz"
            if path.is_file():
                with np.load(path) as stored:
                    flat, offsets = stored["hidden"], stored["offsets"]
                self.log(f"frozen-layer cache read from {path}")
                return [flat[offsets[i]:offsets[i + 1]] for i in range(len(ids))]
        out = self.compute_prefix(encoder, ids)
        if path is not None and self.is_main:
            offsets = np.r_[0, np.cumsum([len(x) for x in out])].astype(np.int64)
            with atomic_open(path, "wb") as handle:
                np.savez(handle, hidden=np.concatenate(out), offsets=offsets)
        return out

    @torch.inference_mode()
    def compute_prefix(self, encoder, ids: list[list[int]]) -> list[np.ndarray]:
        out: list[np.ndarray | None] = [None] * len(ids)
        collate = TextCollate(encoder.tokenizer.pad_token_id or 0)
        batches = length_batches([len(x) for x in ids], max(self.config.eval_batch_size, 1))
        for positions in progress_bar(batches, "cache frozen layers", enabled=self.config.progress and self.is_main):
            batch = collate([(ids[i], -1, i) for i in positions])
            inputs = {k: v.to(self.device) for k, v in batch["inputs"].items()}
            with autocast(self.device, self.config.amp, self.config.amp_dtype):
                hidden = encoder.prefix(inputs["input_ids"], inputs["attention_mask"]).cpu().numpy()  # float16
            for row, i in enumerate(positions):
                out[i] = hidden[row, : len(ids[i])].astype(np.float16)
        return out  # type: ignore[return-value]

    def embed_rows(self, encoder, which: str, positions: np.ndarray) -> np.ndarray:
        """Eval-mode embeddings of train/val rows ``positions`` (no augmentation; flip TTA on val if configured)."""
        from prodmatch.embed import encode_images, encode_token_items

        cfg = self.config
        if self.cache is not None:
            cached = self.cache.train_views[0] if which == "train" else self.cache.val
            flipped = self.cache.val_flipped if which == "val" else None
            return embed_cached(encoder, cached[positions], cfg.eval_batch_size, self.device, cfg.amp, cfg.amp_dtype,
                                None if flipped is None else flipped[positions])
        if cfg.model == "image":
            paths = self.train_paths if which == "train" else self.val_paths
            return encode_images(encoder, [paths[i] for i in positions], cfg.eval_batch_size, self.device,
                                 tta=cfg.tta and which == "val", num_workers=self.num_workers, amp=cfg.amp,
                                 channels_last=self.channels_last, amp_dtype=cfg.amp_dtype)
        items = self.train_items if which == "train" else self.val_items
        return encode_token_items(encoder, [items[i] for i in positions], cfg.eval_batch_size, self.device,
                                  amp=cfg.amp, amp_dtype=cfg.amp_dtype)
