"""Frozen-layer outputs of a run's images, computed once, and the dataset that trains on them.

With ``freeze_layers`` and ``cache_frozen`` an image model's frozen stem and first blocks see every image
once per cached version instead of once per epoch: ``cached_views`` versions of each train image (the first
the plain eval resize, the others augmented as in training, each with its own seed:
:func:`cache_train_views`) and the plain version of every image the run embeds for validation (plus their
mirror images with flip TTA: :func:`cache_plain`). Every epoch then picks one version of each train image at
random (seeded by seed, epoch and row, so a resumed run repeats it). Train versions are kept in float16 to
halve the memory; the plain ones in float32, so the validation embeddings equal what the whole encoder gives
at test time.

:class:`prodmatch.train.image_inputs.ImageInputs` caches every evaluation set plain (the Shopee held-out fold;
the visual task's whole index, searched every epoch, and its queries) and the train rows' versions, whose plain
one is read from an evaluation set's cache when the train rows are rows of it (the visual index).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from prodmatch.device import autocast
from prodmatch.embed import eval_mode
from prodmatch.models.inputs import ImageRows, collate_images, move_to
from prodmatch.progress import progress_bar
from prodmatch.search.dense import l2_normalize


class CachedViews(Dataset):
    """Training rows as one of their cached versions, drawn per (seed, epoch, row). ``labels``: int64, one class
    id per row (n_rows,) or a row of class ids per row (n_rows, n_labels)."""

    def __init__(self, views: Sequence[torch.Tensor], labels: np.ndarray, seed: int = 0):
        self.views = list(views)
        self.labels = np.asarray(labels, np.int64)
        if any(len(view) != len(self.labels) for view in self.views):
            raise ValueError(f"every cached version needs one row per label ({len(self.labels)}), got "
                             f"{[len(view) for view in self.views]}")
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        version = int(np.random.default_rng([self.seed, self.epoch, i]).integers(len(self.views)))
        return self.views[version][i], self.labels[i], i


def collate_features(items) -> dict:
    features, labels, index = zip(*items)
    batch = torch.stack(features)
    if batch.ndim == 4:
        batch = batch.contiguous(memory_format=torch.channels_last)  # a no-op cost next to the convolutions
    return {"inputs": {"features": batch}, "labels": torch.from_numpy(np.stack(labels)).long(),
            "index": torch.as_tensor(index, dtype=torch.long)}


@torch.inference_mode()
def prefix_outputs(encoder, rows: ImageRows, device: torch.device, batch_size: int, num_workers: int,
                   dtype: torch.dtype, desc: str, channels_last: bool = False, progress: bool = False,
                   amp: bool = True, amp_dtype: str = "float16", mirror: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The frozen part's output for every image of ``rows`` (in order), on the CPU in ``dtype``, and with
    ``mirror`` that of each image flipped left-right from the same decoded batch (else None)."""
    loader = DataLoader(rows, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=collate_images, pin_memory=device.type == "cuda")
    parts, mirrored = [], []
    for batch in progress_bar(loader, desc, enabled=progress):
        images = move_to(batch["inputs"], device, channels_last)
        with autocast(device, amp, amp_dtype):
            parts.append(encoder.prefix(images).to("cpu", dtype))
            if mirror:
                mirrored.append(encoder.prefix(torch.flip(images, dims=[3])).to("cpu", dtype))
    return torch.cat(parts), (torch.cat(mirrored) if mirror else None)


def _prefix_settings(config, device: torch.device, num_workers: int, channels_last: bool, progress: bool) -> dict:
    return dict(device=device, batch_size=max(config.eval_batch_size, 1), num_workers=num_workers,
                channels_last=channels_last, progress=progress, amp=config.amp, amp_dtype=config.amp_dtype)


def cache_train_views(encoder, paths: Sequence[Path], config, device: torch.device, num_workers: int,
                      channels_last: bool = False, progress: bool = False,
                      plain: torch.Tensor | None = None) -> list[torch.Tensor]:
    """``config.cached_views`` float16 versions of the frozen part's output for each train image: the first the
    plain eval resize (``plain``, when the caller has it already: the same rows' plain outputs, any float dtype),
    the others augmented as in training, each with its own seed."""
    from prodmatch.models.transforms import eval_transform, train_transform

    spec = encoder.spec
    transforms = eval_transform(spec.image_size, spec.mean, spec.std), train_transform(
        spec.image_size, spec.mean, spec.std, config.augment)
    common = _prefix_settings(config, device, num_workers, channels_last, progress)
    if plain is not None and len(plain) != len(paths):
        raise ValueError(f"plain holds {len(plain)} rows for {len(paths)} train images")
    views = []
    for version in range(config.cached_views):
        if version == 0 and plain is not None:
            views.append(plain.to("cpu", torch.float16))
            continue
        rows = ImageRows(paths, None, transforms[0] if version == 0 or config.augment <= 0 else transforms[1],
                         seed=None if version == 0 else config.seed)
        rows.set_epoch(version)
        views.append(prefix_outputs(encoder, rows, dtype=torch.float16,
                                    desc=f"cache frozen layers, train version {version + 1}/{config.cached_views}",
                                    **common)[0])
    return views


def cache_plain(encoder, paths: Sequence[Path], config, device: torch.device, num_workers: int,
                channels_last: bool = False, progress: bool = False,
                desc: str = "held-out") -> tuple[torch.Tensor, torch.Tensor | None]:
    """The frozen part's float32 output for the plain (eval) version of each image, and for its mirror image
    when ``config.tta`` (else None): what the whole encoder computes on these images at test time."""
    from prodmatch.models.transforms import eval_transform

    spec = encoder.spec
    rows = ImageRows(paths, None, eval_transform(spec.image_size, spec.mean, spec.std))
    common = _prefix_settings(config, device, num_workers, channels_last, progress)
    return prefix_outputs(encoder, rows, dtype=torch.float32, desc=f"cache frozen layers, {desc}",
                          mirror=config.tta, **common)


@torch.inference_mode()
def embed_cached(encoder, features: torch.Tensor, batch_size: int, device: torch.device, amp: bool = True,
                 amp_dtype: str = "float16", flipped: torch.Tensor | None = None) -> np.ndarray:
    """Eval-mode, L2-normalised embeddings of cached frozen-layer outputs (plus their mirrors' when given)."""
    out = np.empty((len(features), encoder.embedding_dim), np.float32)
    with eval_mode(encoder):
        for start in range(0, len(features), max(batch_size, 1)):
            stop = start + max(batch_size, 1)
            with autocast(device, amp, amp_dtype):
                emb = encoder(features=features[start:stop].to(device)).float()
                if flipped is not None:
                    emb = emb + encoder(features=flipped[start:stop].to(device)).float()
            out[start:stop] = emb.cpu().numpy()
    return l2_normalize(out)
