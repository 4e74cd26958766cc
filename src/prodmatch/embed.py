"""Embeddings from trained runs: load fold models, embed a frame, average folds, read OOF embeddings.

A run directory is ``weights/<run_name>/`` with one ``fold<k>/`` per trained fold, each holding
``model.pt`` (self-contained: no pretrained source or download is needed to rebuild it) and
``oof_embeddings.npz`` (``posting_id``, ``embeddings`` of that fold's held-out rows).

Images are read from ``images_dir / frame.image``; a missing or unreadable file is replaced by a grey
image with a :class:`prodmatch.train.data.ImageReadWarning` naming it. Text models read ``frame.title``
(cleaned with :func:`prodmatch.data.clean_title`). Every function returns float32, L2-normalised rows
in the frame's order.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from prodmatch.search.dense import l2_normalize

MODEL_FILE = "model.pt"
OOF_FILE = "oof_embeddings.npz"
_FOLD_DIR = re.compile(r"^fold(\d+)$")


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


def _default_device(device) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _autocast(device: torch.device, enabled: bool):
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()


# ----------------------------------------------------------------------------------------------- loading
def fold_dirs(run_dir: str | Path) -> list[Path]:
    """``fold<k>`` folders of a run that hold a model.pt, sorted by k (or [run_dir] if it is a fold dir)."""
    run_dir = Path(run_dir)
    if (run_dir / MODEL_FILE).is_file():
        return [run_dir]
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    found = []
    for child in run_dir.iterdir():
        match = _FOLD_DIR.match(child.name)
        if match and (child / MODEL_FILE).is_file():
            found.append((int(match.group(1)), child))
    if not found:
        raise FileNotFoundError(f"no fold<k>/{MODEL_FILE} under {run_dir}")
    return [path for _, path in sorted(found)]


@contextlib.contextmanager
def _eval_mode(encoder):
    """Eval mode for the duration, then the encoder's previous mode (training calls this mid-run)."""
    was_training = encoder.training
    encoder.eval()
    try:
        yield encoder
    finally:
        encoder.train(was_training)


def _maybe_progress(iterable, desc: str, progress: bool):
    if not progress:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, leave=False)


def load_fold_model(fold_dir: str | Path, device=None) -> FoldModel:
    from prodmatch.models.build import load_encoder

    fold_dir = Path(fold_dir)
    device = _default_device(device)
    encoder, payload = load_encoder(fold_dir / MODEL_FILE)
    meta = {k: v for k, v in payload.items() if k not in ("state_dict", "hf_files")}
    fold = payload.get("fold")
    if fold is None:
        match = _FOLD_DIR.match(fold_dir.name)
        fold = int(match.group(1)) if match else None
    return FoldModel(fold, payload["kind"], encoder.to(device).eval(), fold_dir, meta, device)


def load_run(run_dir: str | Path, device=None) -> list[FoldModel]:
    """Every fold model of a run (sorted by fold), in eval mode on ``device`` (default: CUDA if usable)."""
    return [load_fold_model(d, device) for d in fold_dirs(run_dir)]


# ------------------------------------------------------------------------------------------- embedding
@torch.inference_mode()
def encode_token_items(encoder, items: Sequence, batch_size: int = 256, device=None, amp: bool = True,
                       progress: bool = False) -> np.ndarray:
    """Embeddings of token id lists (or cached hidden-state arrays), batched by length, in input order."""
    from prodmatch.train.data import TextCollate, length_batches

    device = _default_device(device)
    collate = TextCollate(getattr(encoder.tokenizer, "pad_token_id", None) or 0)
    out = np.empty((len(items), encoder.embedding_dim), np.float32)
    batches = length_batches([len(x) for x in items], batch_size)
    with _eval_mode(encoder):
        for positions in _maybe_progress(batches, "embed text", progress):
            batch = collate([(items[i], -1, i) for i in positions])
            inputs = {k: v.to(device) for k, v in batch["inputs"].items()}
            with _autocast(device, amp):
                emb = encoder(**inputs)
            out[positions] = emb.float().cpu().numpy()
    return l2_normalize(out)


def encode_titles(encoder, titles: Sequence[str], batch_size: int = 256, device=None, amp: bool = True,
                  progress: bool = False) -> np.ndarray:
    return encode_token_items(encoder, encoder.tokenize(list(titles)), batch_size, device, amp, progress)


@torch.inference_mode()
def encode_images(encoder, paths: Sequence[str | Path], batch_size: int = 64, device=None, tta: bool = False,
                  num_workers: int = 0, amp: bool = True, channels_last: bool = False,
                  progress: bool = False) -> np.ndarray:
    """Embeddings of image files (eval transform: resize + normalise); ``tta`` adds the horizontal flip."""
    from torch.utils.data import DataLoader

    from prodmatch.models.transforms import eval_transform
    from prodmatch.train.data import ImageRows, collate_images, move_to

    device = _default_device(device)
    spec = encoder.spec
    dataset = ImageRows(paths, None, eval_transform(spec.image_size, spec.mean, spec.std), seed=None)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=collate_images, pin_memory=device.type == "cuda")
    out = np.empty((len(dataset), encoder.embedding_dim), np.float32)
    with _eval_mode(encoder):
        for batch in _maybe_progress(loader, "embed images", progress):
            images = move_to(batch["inputs"], device, channels_last and device.type == "cuda")
            with _autocast(device, amp):
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
    if device is None:
        device = model.device if isinstance(model, FoldModel) else next(encoder.parameters()).device
    device = torch.device(device)
    encoder.to(device)
    if len(frame) == 0:
        return np.zeros((0, encoder.embedding_dim), np.float32)
    if encoder.kind == "text":
        return encode_titles(encoder, frame["title"].tolist(), max(batch_size, 1), device, progress=progress)
    if images_dir is None:
        raise ValueError("images_dir is required to embed a frame with an image model")
    paths = [Path(images_dir) / name for name in frame["image"].astype(str)]
    return encode_images(encoder, paths, batch_size, device, tta=tta, num_workers=num_workers,
                         channels_last=device.type == "cuda", progress=progress)


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


# --------------------------------------------------------------------------------------------------- OOF
def oof_files(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(fold, path) of every ``fold<k>/oof_embeddings.npz`` under ``run_dir`` (or the run dir's own file)."""
    run_dir = Path(run_dir)
    files = []
    if run_dir.is_dir():
        for child in sorted(run_dir.iterdir()):
            match = _FOLD_DIR.match(child.name)
            if match and (child / OOF_FILE).is_file():
                files.append((int(match.group(1)), child / OOF_FILE))
    if not files and (run_dir / OOF_FILE).is_file():
        files = [(-1, run_dir / OOF_FILE)]
    return sorted(files)


def oof_posting_ids(run_dir: str | Path) -> np.ndarray:
    """Every posting_id that has an out-of-fold embedding in ``run_dir`` (empty when no fold is trained)."""
    ids = []
    for _, path in oof_files(run_dir):
        with np.load(path, allow_pickle=False) as data:
            ids.append(data["posting_id"].astype(str))
    return np.concatenate(ids) if ids else np.empty(0, dtype=str)


def read_oof_embeddings(run_dir: str | Path, posting_ids: Sequence[str]) -> np.ndarray:
    """Out-of-fold embeddings of ``posting_ids`` (in that order), from every ``fold<k>/oof_embeddings.npz``.

    Raises with the folds found and the postings that no fold covers (e.g. folds not trained yet), or when
    a posting appears in two folds.
    """
    run_dir = Path(run_dir)
    files = oof_files(run_dir)
    if not files:
        raise FileNotFoundError(f"no fold<k>/{OOF_FILE} under {run_dir}; train the folds first "
                                "(python train_fold.py --fold k ...)")
    ids, embs, owner = [], [], []
    for fold, path in files:
        with np.load(path, allow_pickle=False) as data:
            fold_ids = data["posting_id"].astype(str)
            ids.append(fold_ids)
            embs.append(data["embeddings"].astype(np.float32))
            owner.append(np.full(len(fold_ids), fold))
    all_ids = np.concatenate(ids)
    all_emb = np.concatenate(embs)
    all_owner = np.concatenate(owner)
    index = pd.Index(all_ids)
    if not index.is_unique:
        dup = index[index.duplicated()][0]
        folds = sorted(set(all_owner[all_ids == dup].tolist()))
        raise ValueError(f"posting {dup!r} has OOF embeddings in several folds {folds} of {run_dir}")
    wanted = np.asarray(posting_ids, dtype=str)
    pos = index.get_indexer(wanted)
    missing = np.flatnonzero(pos < 0)
    if len(missing):
        found_folds = sorted(f for f, _ in files)
        absent = _missing_folds(run_dir, found_folds)
        hint = f"missing folds {absent}" if absent else "the postings are not in any trained fold"
        raise KeyError(f"{len(missing)} of {len(wanted)} postings have no OOF embedding in {run_dir} (folds found: "
                       f"{found_folds}; {hint}), e.g. {wanted[missing[:3]].tolist()}")
    return l2_normalize(all_emb[pos])


def _missing_folds(run_dir: Path, found: list[int]) -> list[int]:
    """Folds 0..n_folds-1 (n_folds from a trained fold's config.yaml) without OOF embeddings."""
    import yaml

    for fold in found:
        path = run_dir / f"fold{fold}" / "config.yaml"
        if path.is_file():
            config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if config.get("folds_file") is None and isinstance(config.get("n_folds"), int):
                return sorted(set(range(config["n_folds"])) - set(found))
    return []
