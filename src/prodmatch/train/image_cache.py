"""Frozen-layer outputs of a fold's images, computed once, and the dataset that trains on them.

With ``freeze_layers`` and ``cache_frozen`` an image model's frozen stem and first blocks see every image
once per cached version instead of once per epoch: ``cached_views`` versions of each train image (the first
the plain eval resize, the others augmented as in training, each with its own seed) and the plain held-out
images (plus their mirror images with flip TTA). Every epoch then picks one version of each train image at
random (seeded by seed, epoch and row, so a resumed run repeats it). Train versions are kept in float16 to
halve the memory; held-out ones in float32, so the out-of-fold embeddings equal what the whole encoder gives
at test time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from prodmatch.device import autocast
from prodmatch.models.inputs import ImageRows, collate_images, move_to
from prodmatch.progress import progress_bar
from prodmatch.search.dense import l2_normalize


@dataclass
class ImageCache:
    train_views: list[torch.Tensor]  # (n_train, C, H, W) float16 per version; the first is the plain one
    val: torch.Tensor  # (n_val, C, H, W) float32
    val_flipped: torch.Tensor | None = None  # mirror images, for flip TTA


class CachedViews(Dataset):
    """Training rows as one of their cached versions, drawn per (seed, epoch, row)."""

    def __init__(self, views: Sequence[torch.Tensor], labels: np.ndarray, seed: int = 0):
        self.views = list(views)
        self.labels = np.asarray(labels, np.int64)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        version = int(np.random.default_rng([self.seed, self.epoch, i]).integers(len(self.views)))
        return self.views[version][i], int(self.labels[i]), i


def collate_features(items) -> dict:
    features, labels, index = zip(*items)
    batch = torch.stack(features)
    if batch.ndim == 4:
        batch = batch.contiguous(memory_format=torch.channels_last)  # a no-op cost next to the convolutions
    return {"inputs": {"features": batch}, "labels": torch.as_tensor(labels, dtype=torch.long),
            "index": torch.as_tensor(index, dtype=torch.long)}


@torch.inference_mode()
def prefix_outputs(encoder, rows: ImageRows, device: torch.device, batch_size: int, num_workers: int,
                   dtype: torch.dtype, desc: str, channels_last: bool = False, progress: bool = False,
                   amp: bool = True, amp_dtype: str = "float16", flip: bool = False) -> torch.Tensor:
    """The frozen part's output for every image of ``rows`` (in order), on the CPU in ``dtype``."""
    loader = DataLoader(rows, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=collate_images, pin_memory=device.type == "cuda")
    parts = []
    for batch in progress_bar(loader, desc, enabled=progress):
        images = move_to(batch["inputs"], device, channels_last)
        if flip:
            images = torch.flip(images, dims=[3])
        with autocast(device, amp, amp_dtype):
            parts.append(encoder.prefix(images).to("cpu", dtype))
    return torch.cat(parts)


def build_image_cache(encoder, train_paths: Sequence[Path], val_paths: Sequence[Path], config, device: torch.device,
                      num_workers: int, channels_last: bool = False, progress: bool = False) -> ImageCache:
    """Every cached version of the fold's images (see the module docstring)."""
    from prodmatch.models.transforms import eval_transform, train_transform

    spec = encoder.spec
    plain = eval_transform(spec.image_size, spec.mean, spec.std)
    augmented = train_transform(spec.image_size, spec.mean, spec.std, config.augment)
    common = dict(device=device, batch_size=max(config.eval_batch_size, 1), num_workers=num_workers,
                  channels_last=channels_last, progress=progress, amp=config.amp, amp_dtype=config.amp_dtype)
    views = []
    for version in range(config.cached_views):
        rows = ImageRows(train_paths, None, plain if version == 0 or config.augment <= 0 else augmented,
                         seed=None if version == 0 else config.seed)
        rows.set_epoch(version)
        views.append(prefix_outputs(encoder, rows, dtype=torch.float16,
                                    desc=f"cache frozen layers, train version {version + 1}/{config.cached_views}",
                                    **common))
    val_rows = ImageRows(val_paths, None, plain)
    val = prefix_outputs(encoder, val_rows, dtype=torch.float32, desc="cache frozen layers, held-out", **common)
    flipped = None
    if config.tta:
        flipped = prefix_outputs(encoder, val_rows, dtype=torch.float32, desc="cache frozen layers, mirrored",
                                 flip=True, **common)
    return ImageCache(views, val, flipped)


@torch.inference_mode()
def embed_cached(encoder, features: torch.Tensor, batch_size: int, device: torch.device, amp: bool = True,
                 amp_dtype: str = "float16", flipped: torch.Tensor | None = None) -> np.ndarray:
    """Eval-mode, L2-normalised embeddings of cached frozen-layer outputs (plus their mirrors' when given)."""
    was_training = encoder.training
    encoder.eval()
    out = np.empty((len(features), encoder.embedding_dim), np.float32)
    try:
        for start in range(0, len(features), max(batch_size, 1)):
            stop = start + max(batch_size, 1)
            with autocast(device, amp, amp_dtype):
                emb = encoder(features=features[start:stop].to(device)).float()
                if flipped is not None:
                    emb = emb + encoder(features=flipped[start:stop].to(device)).float()
            out[start:stop] = emb.cpu().numpy()
    finally:
        encoder.train(was_training)
    return l2_normalize(out)
