"""The inputs of a text model: token ids of the split's titles (optionally run once through the frozen text
layers and cached), length-grouped training batches, and eval-mode embedding of the train / held-out rows."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from prodmatch.device import autocast
from prodmatch.fileio import atomic_open
from prodmatch.models.inputs import LengthGroupedBatchSampler, TextCollate, TokenRows, length_batches
from prodmatch.progress import progress_bar
from prodmatch.train.task import Split


class TextInputs:
    """Titles of the split's train and held-out rows as token ids (or cached frozen-layer hidden states)."""

    channels_last = False
    num_workers = 0  # tokenised in memory: nothing for loader workers to do

    def __init__(self, config, data: Split, encoder, device: torch.device, num_workers: int = 0, is_main: bool = True,
                 log=print):
        self.config, self.device, self.is_main, self.log = config, device, is_main, log
        train_items = encoder.tokenize(data.train["title"].tolist())
        val_items = encoder.tokenize(data.val["title"].tolist())
        if config.freeze_layers and config.cache_frozen:
            started = time.time()
            cached = self.prefix_cache(encoder, train_items + val_items)
            train_items, val_items = cached[: len(train_items)], cached[len(train_items):]
            log(f"frozen-layer cache for {len(cached)} titles ready in {time.time() - started:.0f}s")
        self.items = {"train": train_items, "val": val_items}
        self.train_set = TokenRows(train_items, data.train_labels())
        self.collate = TextCollate(encoder.tokenizer.pad_token_id or 0, config.token_dropout)
        self.batch_sampler: LengthGroupedBatchSampler | None = None

    @property
    def lengths(self) -> list[int]:
        """Training item lengths, for length-grouped batches."""
        return [len(x) for x in self.items["train"]]

    def loader(self, sampler, batch_size: int, pin_memory: bool) -> DataLoader:
        """Titles of similar length batched together: much less padding, same shuffle (see the sampler's doc)."""
        self.batch_sampler = LengthGroupedBatchSampler(sampler, self.lengths, batch_size, drop_last=True,
                                                       seed=self.config.seed)
        return DataLoader(self.train_set, batch_sampler=self.batch_sampler, num_workers=0, collate_fn=self.collate,
                          pin_memory=pin_memory)

    def set_epoch(self, epoch: int) -> None:
        if self.batch_sampler is not None:
            self.batch_sampler.set_epoch(epoch)
        self.train_set.set_epoch(epoch)

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
        """Eval-mode, L2-normalised embeddings of rows ``positions`` of ``train`` or ``val``."""
        from prodmatch.embed import encode_token_items

        cfg = self.config
        items = self.items[which]
        return encode_token_items(encoder, [items[i] for i in positions], cfg.eval_batch_size, self.device,
                                  amp=cfg.amp, amp_dtype=cfg.amp_dtype)
