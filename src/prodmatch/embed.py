"""Embeddings from trained runs: load fold models, embed a frame, average folds (inference only).

A run directory is ``weights/<run_name>/`` with one ``fold<k>/`` per trained fold (layout:
:mod:`prodmatch.artifacts.weights`); each fold's ``model.pt`` is self-contained, no pretrained source or
download is needed to rebuild it. Out-of-fold embedding files are :mod:`prodmatch.artifacts.oof`'s.

At test time (:func:`embed_runs`) every image is decoded once per batch and passed through every fold model
that shares its preprocessing, with DataLoader workers chosen from the cores
(:func:`prodmatch.device.default_num_workers`). Fold models are spread over every usable GPU (Kaggle's T4 x2
embeds half the folds on each; a decoded batch is copied to each device and the devices run concurrently). Each
run embeds the way it was validated: flip TTA when its config says ``tta: true`` (as its out-of-fold embeddings
were computed), autocast in its ``amp_dtype`` -- except bfloat16 on a GPU without it (a T4), which embeds in
float16 (:func:`prodmatch.device.inference_amp_dtype`).

Images are read from ``images_dir / frame.image``; a missing, empty, truncated or undecodable file is embedded
as a grey placeholder and its row is marked unusable (:attr:`FrameEmbeddings.image_usable`), with one
:class:`prodmatch.models.inputs.ImageReadWarning` that counts them. Text models read ``frame.title``
(cleaned with :func:`prodmatch.data.clean_title`). Every function returns float32, L2-normalised rows in the
frame's order.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from prodmatch.artifacts.weights import FoldFiles, fold_dirs
from prodmatch.data.images import image_path
from prodmatch.device import as_device, autocast, default_num_workers, inference_amp_dtype, usable_cuda_indices
from prodmatch.models.inputs import (
    ImageReadWarning,
    ImageRows,
    TextCollate,
    collate_images,
    length_batches,
    move_to,
    unreadable_summary,
)
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
    def config(self) -> dict:
        return self.meta.get("config") or {}

    @property
    def image_size(self) -> int | None:
        return self.encoder.spec.image_size if self.kind == "image" else None

    @property
    def amp_dtype(self) -> str:
        """The autocast dtype the run trained with (float16 unless its config says otherwise)."""
        return self.config.get("amp_dtype", "float16")

    @property
    def tta(self) -> bool:
        """Flip TTA, as the run's out-of-fold embeddings were computed (image runs with ``tta: true``)."""
        return self.kind == "image" and bool(self.config.get("tta", False))


@dataclass
class FrameEmbeddings:
    """Fold-averaged embeddings of a frame per run, and which rows had a usable image."""

    vectors: dict[str, np.ndarray]
    image_usable: np.ndarray  # bool per row; all True when no run reads images
    problems: dict[int, str] = field(default_factory=dict)  # row -> why its image could not be used


@contextlib.contextmanager
def eval_mode(*encoders):
    """Eval mode for the duration, then each encoder's previous mode (training calls this mid-run)."""
    was_training = [encoder.training for encoder in encoders]
    for encoder in encoders:
        encoder.eval()
    try:
        yield encoders
    finally:
        for encoder, mode in zip(encoders, was_training):
            encoder.train(mode)


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


def inference_devices(device=None) -> list[torch.device]:
    """Where fold models go: ``device`` when given, else every usable GPU (the CPU without one)."""
    if device is not None:
        return [as_device(device)]
    indices = usable_cuda_indices()
    return [torch.device("cuda", i) for i in indices] if indices else [as_device(None)]


def load_runs(runs: dict[str, str | Path], device=None) -> dict[str, list[FoldModel]]:
    """Every fold model of every run, dealt round-robin over :func:`inference_devices` so each GPU holds and
    embeds its share of the folds."""
    devices = inference_devices(device)
    models: dict[str, list[FoldModel]] = {}
    position = 0
    for name, run_dir in runs.items():
        models[name] = []
        for fold_dir in fold_dirs(run_dir):
            models[name].append(load_fold_model(fold_dir, devices[position % len(devices)]))
            position += 1
    return models


@torch.inference_mode()
def encode_token_items(encoder, items: Sequence, batch_size: int = 256, device=None, amp: bool = True,
                       progress: bool = False, amp_dtype: str = "float16") -> np.ndarray:
    """Embeddings of token id lists (or cached hidden-state arrays), batched by length, in input order."""
    device = as_device(device)
    collate = TextCollate(getattr(encoder.tokenizer, "pad_token_id", None) or 0)
    out = np.empty((len(items), encoder.embedding_dim), np.float32)
    batches = length_batches([len(x) for x in items], batch_size)
    dtype = inference_amp_dtype(device, amp_dtype) if amp else amp_dtype
    with eval_mode(encoder):
        for positions in progress_bar(batches, "embed text", enabled=progress):
            batch = collate([(items[i], -1, i) for i in positions])
            inputs = {k: v.to(device) for k, v in batch["inputs"].items()}
            with autocast(device, amp, dtype):
                emb = encoder(**inputs)
            out[positions] = emb.float().cpu().numpy()
    return l2_normalize(out)


def encode_titles(encoder, titles: Sequence[str], batch_size: int = 256, device=None, amp: bool = True,
                  progress: bool = False, amp_dtype: str = "float16") -> np.ndarray:
    return encode_token_items(encoder, encoder.tokenize(list(titles)), batch_size, device, amp, progress, amp_dtype)


@dataclass
class ImageEncoding:
    """One encoder of an image batch loop and how it runs (``device``: where it sits; None: the loop's)."""

    encoder: torch.nn.Module
    tta: bool = False
    amp: bool = True
    amp_dtype: str = "float16"
    device: torch.device | None = None


@torch.inference_mode()
def encode_image_files(encodings: list[ImageEncoding], paths: Sequence[str | Path], batch_size: int = 64,
                       device=None, num_workers: int | None = None, channels_last: bool = False,
                       progress: bool = False) -> tuple[list[np.ndarray], dict[int, str]]:
    """Each encoder's embeddings of the image files, every file decoded once (the encoders must share the
    first one's preprocessing) and copied once to each encoder's device; and, per unusable file, why. Every
    encoder's batch is launched before any result is fetched, so encoders on different GPUs run concurrently."""
    from torch.utils.data import DataLoader

    from prodmatch.models.transforms import eval_transform

    device = as_device(device)
    devices = [encoding.device or device for encoding in encodings]
    dtypes = [inference_amp_dtype(d, e.amp_dtype) if e.amp else e.amp_dtype for d, e in zip(devices, encodings)]
    spec = encodings[0].encoder.spec
    num_workers = default_num_workers(device) if num_workers is None else num_workers
    dataset = ImageRows(paths, None, eval_transform(spec.image_size, spec.mean, spec.std), seed=None)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=collate_images, pin_memory=any(d.type == "cuda" for d in devices))
    outs = [np.empty((len(dataset), e.encoder.embedding_dim), np.float32) for e in encodings]
    problems: dict[int, str] = {}
    with eval_mode(*[e.encoder for e in encodings]):
        for batch in progress_bar(loader, "embed images", enabled=progress):
            index = batch["index"].numpy()
            problems.update({int(i): p for i, p in zip(index, batch["problems"]) if p})
            on_device: dict[torch.device, torch.Tensor] = {}
            launched = []
            for encoding, target, dtype in zip(encodings, devices, dtypes):
                if target not in on_device:
                    on_device[target] = move_to(batch["inputs"], target, channels_last and target.type == "cuda")
                images = on_device[target]
                with autocast(target, encoding.amp, dtype):
                    emb = encoding.encoder(images).float()
                    if encoding.tta:
                        emb = emb + encoding.encoder(torch.flip(images, dims=[3])).float()
                launched.append(emb)
            for out, emb in zip(outs, launched):
                out[index] = emb.cpu().numpy()
    return [l2_normalize(out) for out in outs], problems


def encode_images(encoder, paths: Sequence[str | Path], batch_size: int = 64, device=None, tta: bool = False,
                  num_workers: int | None = None, amp: bool = True, channels_last: bool = False,
                  progress: bool = False, amp_dtype: str = "float16") -> np.ndarray:
    """Embeddings of image files (eval transform: resize + normalise); ``tta`` adds the horizontal flip.
    Unusable files are embedded as grey placeholders, with one warning that counts them."""
    (out,), problems = encode_image_files([ImageEncoding(encoder, tta, amp, amp_dtype)], paths, batch_size, device,
                                          num_workers, channels_last, progress)
    warn_unreadable(paths, problems)
    return out


def warn_unreadable(paths: Sequence[str | Path], problems: dict[int, str]) -> None:
    if problems:
        warnings.warn(unreadable_summary(paths, problems) + "; grey placeholders were embedded in their place",
                      ImageReadWarning, stacklevel=3)


def embed_frame(model: FoldModel | torch.nn.Module, frame: pd.DataFrame, images_dir: str | Path | None = None,
                batch_size: int = 64, tta: bool | None = None, device=None, num_workers: int | None = None,
                progress: bool = False) -> np.ndarray:
    """(len(frame), dim) float32 L2-normalised embeddings of a frame's rows with one model.

    ``model``: a :class:`FoldModel` (from :func:`load_run`) or a bare encoder. Image models read
    ``images_dir / frame.image`` (``images_dir`` required); text models read ``frame.title``. ``tta``
    (horizontal flip, image models only) defaults to the run's own setting.
    """
    encoder = model.encoder if isinstance(model, FoldModel) else model
    amp_dtype = model.amp_dtype if isinstance(model, FoldModel) else "float16"
    if tta is None:
        tta = model.tta if isinstance(model, FoldModel) else False
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
    return encode_images(encoder, image_paths(frame, images_dir), batch_size, device, tta=tta,
                         num_workers=num_workers, channels_last=device.type == "cuda", progress=progress,
                         amp_dtype=amp_dtype)


def image_paths(frame: pd.DataFrame, images_dir: str | Path) -> list[Path]:
    """The image file of each row; a name that leaves ``images_dir`` is an error (prodmatch.data.images)."""
    return [image_path(images_dir, name) for name in frame["image"].astype(str)]


def _preprocessing(model: FoldModel) -> tuple:
    spec = model.encoder.spec
    return spec.image_size, tuple(spec.mean), tuple(spec.std)


def _embed_image_runs(models: dict[str, list[FoldModel]], frame: pd.DataFrame, images_dir: str | Path,
                      batch_size: int, num_workers: int | None, progress: bool):
    """Sum of fold embeddings per image run, and unusable rows: one decode per preprocessing for all folds."""
    by_preprocessing: dict[tuple, list[tuple[str, FoldModel]]] = {}
    for name, folds in models.items():
        for fold_model in folds:
            by_preprocessing.setdefault(_preprocessing(fold_model), []).append((name, fold_model))
    sums: dict[str, np.ndarray] = {}
    problems: dict[int, str] = {}
    paths = image_paths(frame, images_dir)
    for members in by_preprocessing.values():
        device = members[0][1].device
        encodings = [ImageEncoding(m.encoder, m.tta, True, m.amp_dtype, m.device) for _, m in members]
        outs, found = encode_image_files(encodings, paths, batch_size, device, num_workers,
                                         channels_last=device.type == "cuda", progress=progress)
        problems.update(found)
        for (name, _), out in zip(members, outs):
            sums[name] = out if name not in sums else sums[name] + out
    return sums, problems


def embed_runs(runs: dict[str, str | Path], frame: pd.DataFrame, images_dir: str | Path | None = None,
               batch_size: int = 64, device=None, num_workers: int | None = None,
               models: dict[str, list[FoldModel]] | None = None, progress: bool = False) -> FrameEmbeddings:
    """The test-time ensemble: per run, the re-normalised mean of every fold model's embeddings of ``frame``
    (fold models loaded by :func:`load_runs`: spread over every usable GPU unless ``device`` is given)."""
    models = load_runs(runs, device) if models is None else models
    image_models = {name: folds for name, folds in models.items() if folds[0].kind == "image"}
    vectors: dict[str, np.ndarray] = {}
    problems: dict[int, str] = {}
    if image_models and len(frame):
        if images_dir is None:
            raise ValueError("images_dir is required to embed a frame with an image model")
        sums, problems = _embed_image_runs(image_models, frame, images_dir, batch_size, num_workers, progress)
        vectors.update({name: l2_normalize(total) for name, total in sums.items()})
        warn_unreadable(image_paths(frame, images_dir), problems)
    for name, folds in models.items():
        if name in vectors:
            continue
        total = None
        for fold_model in folds:
            emb = embed_frame(fold_model, frame, images_dir, batch_size, progress=progress)
            total = emb if total is None else total + emb
        vectors[name] = l2_normalize(total)
    usable = np.ones(len(frame), dtype=bool)
    usable[list(problems)] = False
    return FrameEmbeddings(vectors, usable, problems)


def embed_with_folds(run_dir: str | Path, frame: pd.DataFrame, images_dir: str | Path | None = None,
                     batch_size: int = 64, device=None, num_workers: int | None = None,
                     models: list[FoldModel] | None = None, progress: bool = False) -> np.ndarray:
    """Mean of every fold model's embeddings of ``frame`` (re-normalised): one run's test-time ensemble."""
    folds = {"run": models} if models is not None else None
    return embed_runs({"run": run_dir}, frame, images_dir, batch_size, device, num_workers, folds,
                      progress).vectors["run"]
