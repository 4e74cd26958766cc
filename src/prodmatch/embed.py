"""Embeddings from trained runs: load fold models, embed a frame, average folds (inference only).

A run directory is ``weights/<run_name>/`` with one ``fold<k>/`` per trained fold (layout:
:mod:`prodmatch.artifacts.weights`); each fold's ``model.pt`` is self-contained, no pretrained source or
download is needed to rebuild it. Out-of-fold embedding files are :mod:`prodmatch.artifacts.oof`'s.

Images are read from ``images_dir / frame.image``; a missing or unreadable file is replaced by a grey
image with a :class:`prodmatch.models.inputs.ImageReadWarning` naming it. Text models read ``frame.title``
(cleaned with :func:`prodmatch.data.clean_title`). Every function returns float32, L2-normalised rows
in the frame's order. Mixed precision on CUDA follows the run's ``amp_dtype``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from prodmatch.artifacts.weights import FoldFiles, fold_dirs
from prodmatch.device import as_device, autocast
from prodmatch.models.inputs import ImageRows, TextCollate, collate_images, length_batches, move_to
from prodmatch.progress import progress_bar
from prodmatch.search.dense import l2_normalize


@dataclass
class FoldModel:
    """One trained fold: its encoder (eval mode, on ``device``) and what model.pt says about it."""

    fold: int | None
    kind: str  # "image" | "text"
    encoder: torch.nn.Module
    path: Path
    meta: dict = field(default_factory=dict)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def image_size(self) -> int | None:
        return self.encoder.spec.image_size if self.kind == "image" else None

    @property
    def amp_dtype(self) -> str:
        """The autocast dtype the run trained with (float16 unless its config says otherwise)."""
        return (self.meta.get("config") or {}).get("amp_dtype", "float16")


@contextlib.contextmanager
def _eval_mode(encoder):
    """Eval mode for the duration, then the encoder's previous mode (training calls this mid-run)."""
    was_training = encoder.training
    encoder.eval()
    try:
        yield encoder
    finally:
        encoder.train(was_training)


def load_fold_model(fold_dir: str | Path, device=None) -> FoldModel:
    from prodmatch.models.build import load_encoder

    files = FoldFiles(Path(fold_dir))
    device = as_device(device)
    encoder, payload = load_encoder(files.model)
    meta = {k: v for k, v in payload.items() if k not in ("state_dict", "hf_files")}
    fold = payload.get("fold", files.fold)
    return FoldModel(fold, payload["kind"], encoder.to(device).eval(), files.path, meta, device)


def load_run(run_dir: str | Path, device=None) -> list[FoldModel]:
    """Every fold model of a run (sorted by fold), in eval mode on ``device`` (default: CUDA if usable)."""
    return [load_fold_model(d, device) for d in fold_dirs(run_dir)]


@torch.inference_mode()
def encode_token_items(encoder, items: Sequence, batch_size: int = 256, device=None, amp: bool = True,
                       progress: bool = False, amp_dtype: str = "float16") -> np.ndarray:
    """Embeddings of token id lists (or cached hidden-state arrays), batched by length, in input order."""
    device = as_device(device)
    collate = TextCollate(getattr(encoder.tokenizer, "pad_token_id", None) or 0)
    out = np.empty((len(items), encoder.embedding_dim), np.float32)
    batches = length_batches([len(x) for x in items], batch_size)
    with _eval_mode(encoder):
        for positions in progress_bar(batches, "embed text", enabled=progress):
            batch = collate([(items[i], -1, i) for i in positions])
            inputs = {k: v.to(device) for k, v in batch["inputs"].items()}
            with autocast(device, amp, amp_dtype):
                emb = encoder(**inputs)
            out[positions] = emb.float().cpu().numpy()
    return l2_normalize(out)


def encode_titles(encoder, titles: Sequence[str], batch_size: int = 256, device=None, amp: bool = True,
                  progress: bool = False, amp_dtype: str = "float16") -> np.ndarray:
    return encode_token_items(encoder, encoder.tokenize(list(titles)), batch_size, device, amp, progress, amp_dtype)


@torch.inference_mode()
def encode_images(encoder, paths: Sequence[str | Path], batch_size: int = 64, device=None, tta: bool = False,
                  num_workers: int = 0, amp: bool = True, channels_last: bool = False,
                  progress: bool = False, amp_dtype: str = "float16") -> np.ndarray:
    """Embeddings of image files (eval transform: resize + normalise); ``tta`` adds the horizontal flip."""
    from torch.utils.data import DataLoader

    from prodmatch.models.transforms import eval_transform

    device = as_device(device)
    spec = encoder.spec
    dataset = ImageRows(paths, None, eval_transform(spec.image_size, spec.mean, spec.std), seed=None)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=collate_images, pin_memory=device.type == "cuda")
    out = np.empty((len(dataset), encoder.embedding_dim), np.float32)
    with _eval_mode(encoder):
        for batch in progress_bar(loader, "embed images", enabled=progress):
            images = move_to(batch["inputs"], device, channels_last and device.type == "cuda")
            with autocast(device, amp, amp_dtype):
                emb = encoder(images).float()
                if tta:
                    emb = emb + encoder(torch.flip(images, dims=[3])).float()
            out[batch["index"].numpy()] = emb.cpu().numpy()
    return l2_normalize(out)


def embed_frame(model: FoldModel | torch.nn.Module, frame: pd.DataFrame, images_dir: str | Path | None = None,
                batch_size: int = 64, tta: bool = False, device=None, num_workers: int = 0,
                progress: bool = False) -> np.ndarray:
    """(len(frame), dim) float32 L2-normalised embeddings of a frame's rows with one model.

    ``model``: a :class:`FoldModel` (from :func:`load_run`) or a bare encoder. Image models read
    ``images_dir / frame.image`` (``images_dir`` required); text models read ``frame.title``; ``tta``
    (horizontal flip) applies to image models only.
    """
    encoder = model.encoder if isinstance(model, FoldModel) else model
    amp_dtype = model.amp_dtype if isinstance(model, FoldModel) else "float16"
    if device is None:
        device = model.device if isinstance(model, FoldModel) else next(encoder.parameters()).device
    device = torch.device(device)
    encoder.to(device)
    if len(frame) == 0:
        return np.zeros((0, encoder.embedding_dim), np.float32)
    if encoder.kind == "text":
        return encode_titles(encoder, frame["title"].tolist(), max(batch_size, 1), device, progress=progress,
                             amp_dtype=amp_dtype)
    if images_dir is None:
        raise ValueError("images_dir is required to embed a frame with an image model")
    paths = [Path(images_dir) / name for name in frame["image"].astype(str)]
    return encode_images(encoder, paths, batch_size, device, tta=tta, num_workers=num_workers,
                         channels_last=device.type == "cuda", progress=progress, amp_dtype=amp_dtype)


def embed_with_folds(run_dir: str | Path, frame: pd.DataFrame, images_dir: str | Path | None = None,
                     batch_size: int = 64, tta: bool = False, device=None, num_workers: int = 0,
                     models: list[FoldModel] | None = None, progress: bool = False) -> np.ndarray:
    """Mean of every fold model's embeddings of ``frame`` (re-normalised): the test-time ensemble."""
    models = load_run(run_dir, device) if models is None else models
    total = None
    for fold_model in models:
        emb = embed_frame(fold_model, frame, images_dir, batch_size, tta, device, num_workers, progress)
        total = emb if total is None else total + emb
    return l2_normalize(total)
