"""The inputs of an image model, for every task: the training dataset (augmented images, or cached frozen-layer
outputs), the loader, and eval-mode embedding of any row set the task's split names (train, the held-out rows,
e.g. a visual index).

With ``freeze_layers`` and ``cache_frozen`` the frozen layers run once per image version
(:mod:`prodmatch.train.image_cache`): every row of each evaluation set plain in float32 (plus mirror images with
``tta``), and ``cached_views`` versions of each training row -- the first taken from an evaluation set's cache
when the training rows are rows of it (the visual index), else computed. Training and every epoch's
validation then run the rest of the encoder on that cache.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.utils.data import DataLoader

from prodmatch.models.inputs import ImageRows, collate_images
from prodmatch.train.image_cache import CachedViews, cache_plain, cache_train_views, collate_features, embed_cached
from prodmatch.train.task import Split


class ImageInputs:
    """Training dataset, collate function and loader of a split's image rows; eval-mode embeddings of its row
    sets (flip TTA on every set but the training rows when ``tta``)."""

    def __init__(self, config, data: Split, encoder, device: torch.device, num_workers: int = 0, is_main: bool = True,
                 log=print):
        from prodmatch.models.transforms import eval_transform, train_transform

        self.config, self.device, self.num_workers = config, device, num_workers
        # channels_last: faster convolutions on CUDA and on the CPU alike (EfficientNet-Lite0 on 2 CPU cores: the
        # frozen-layer pass 18 -> 11 ms per 128 px image, training the last blocks 11 -> 6 ms)
        self.channels_last = config.channels_last
        self.paths = {which: data.image_paths(which) for which in ("train", *data.eval_sets)}
        # eval set -> (float32 plain frozen-layer outputs, their mirror images' or None); None: nothing cached
        self.cache: dict[str, tuple[torch.Tensor, torch.Tensor | None]] | None = None
        self.train_from: tuple[str, np.ndarray] | None = None  # training rows as positions of a cached eval set
        if config.freeze_layers and config.cache_frozen:
            self._cache_inputs(data, encoder, log, config.progress and is_main)
            return
        spec = encoder.spec
        transform = (train_transform(spec.image_size, spec.mean, spec.std, config.augment) if config.augment > 0
                     else eval_transform(spec.image_size, spec.mean, spec.std))
        self.train_set = ImageRows(self.paths["train"], data.train_labels(), transform, seed=config.seed)
        self.collate = collate_images

    def _cache_inputs(self, data: Split, encoder, log, progress: bool) -> None:
        cfg = self.config
        started = time.time()
        common = dict(device=self.device, num_workers=self.num_workers, channels_last=self.channels_last,
                      progress=progress)
        self.cache = {which: cache_plain(encoder, self.paths[which], cfg, desc=which, **common)
                      for which in data.eval_sets}
        self.train_from = data.train_within()
        plain = None
        if self.train_from is not None:  # no mirror needed for them: training rows get no TTA
            which, positions = self.train_from
            plain = self.cache[which][0][positions]
        self.train_views = cache_train_views(encoder, self.paths["train"], cfg, plain=plain, **common)
        sizes = ", ".join(f"{len(self.paths[which])} {which}" for which in data.eval_sets)
        log(f"frozen-layer cache of {sizes} images and {len(self.paths['train'])} x {cfg.cached_views} train "
            f"versions ready in {time.time() - started:.0f}s")
        self.train_set = CachedViews(self.train_views, data.train_labels(), seed=cfg.seed)
        self.collate = collate_features
        self.num_workers = 0  # the cache is in memory: nothing left for loader workers to do

    def loader(self, sampler, batch_size: int, pin_memory: bool) -> DataLoader:
        return DataLoader(self.train_set, batch_size=batch_size, sampler=sampler, drop_last=True,
                          num_workers=self.num_workers, collate_fn=self.collate, pin_memory=pin_memory)

    def set_epoch(self, epoch: int) -> None:
        self.train_set.set_epoch(epoch)

    def embed_rows(self, encoder, which: str, positions: np.ndarray) -> np.ndarray:
        """Eval-mode, L2-normalised embeddings of rows ``positions`` of row set ``which``."""
        from prodmatch.embed import encode_images

        cfg = self.config
        if self.cache is not None:
            if which != "train":
                plain, flipped = self.cache[which]
            elif self.train_from is not None:
                (plain, _), flipped = self.cache[self.train_from[0]], None
                positions = self.train_from[1][positions]
            else:
                plain, flipped = self.train_views[0], None
            return embed_cached(encoder, plain[positions], cfg.eval_batch_size, self.device, cfg.amp, cfg.amp_dtype,
                                None if flipped is None else flipped[positions])
        paths = self.paths[which]
        return encode_images(encoder, [paths[i] for i in positions], cfg.eval_batch_size, self.device,
                             tta=cfg.tta and which != "train", num_workers=self.num_workers, amp=cfg.amp,
                             channels_last=self.channels_last, amp_dtype=cfg.amp_dtype)
