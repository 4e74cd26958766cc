"""What encoders read: datasets and batching, shared by training and inference.

Every batch is a dict: ``inputs`` (image tensor, or a dict of text tensors), ``labels`` (class ids, -1 when
unlabelled) and ``index`` (row positions in the frame the dataset was built from); image batches also carry
``problems``: per row, why its image could not be used ("" when it could).

Images: ``images_dir / frame.image``. A missing, empty, truncated or undecodable file, or one over the pixel
limit (:data:`prodmatch.data.images.MAX_IMAGE_PIXELS`, told from its header before decoding), does not crash a
run: :class:`ImageRows` puts a mid-grey placeholder in its place and says why, so callers can leave the row out
of image-based matching and warn once with :func:`unreadable_summary`.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from prodmatch.data.images import TAIL_BYTES, cut_off_problem, pixel_limit_problem
from prodmatch.models.transforms import seeded_call

GREY = 128
_WARNED: set[str] = set()


class ImageReadWarning(UserWarning):
    """An image file was missing or unreadable and a grey placeholder was used."""


def decode_image(path: str | Path) -> tuple[np.ndarray | None, str]:
    """(RGB uint8 (H, W, 3) array, "") or (None, why the file cannot be used)."""
    import cv2

    path = Path(path)
    if not path.is_file():
        return None, "not a file (empty image name?)" if path.is_dir() else "file not found"
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:  # pragma: no cover - depends on the file system
        return None, f"{type(exc).__name__}: {exc}"
    problem = cut_off_problem(data[:16].tobytes(), data[-TAIL_BYTES:].tobytes())
    problem = problem or pixel_limit_problem(io.BytesIO(data))  # before decoding: a header can claim 100k x 100k
    if problem:
        return None, problem
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        return None, "not a decodable image"
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), ""


def placeholder_image(size: int = 64) -> np.ndarray:
    return np.full((size, size, 3), GREY, dtype=np.uint8)


def read_image(path: str | Path, fallback_size: int = 64) -> np.ndarray:
    """RGB uint8 (H, W, 3) array; a grey ``fallback_size`` square (and a warning) if the file cannot be read."""
    image, reason = decode_image(path)
    if image is None:
        key = str(path)
        if key not in _WARNED:
            _WARNED.add(key)
            warnings.warn(f"could not read image {path} ({reason}); using a grey placeholder", ImageReadWarning,
                          stacklevel=2)
        return placeholder_image(fallback_size)
    return image


def unreadable_summary(paths: Sequence[str | Path], problems: dict[int, str], shown: int = 3) -> str:
    """``3 of 120 images could not be used (file not found: a.jpg, b.jpg; empty file: c.jpg)``."""
    by_reason: dict[str, list[str]] = {}
    for position, reason in sorted(problems.items()):
        by_reason.setdefault(reason, []).append(Path(paths[position]).name or str(paths[position]))
    parts = [f"{reason}: {', '.join(names[:shown])}{' ...' if len(names) > shown else ''}"
             for reason, names in by_reason.items()]
    return f"{len(problems)} of {len(paths)} images could not be used ({'; '.join(parts)})"


class ImageRows(Dataset):
    """Images of a frame's rows; ``seed`` set -> per-sample augmentation seeds (see :meth:`set_epoch`).

    ``labels``: int64, one class id per row (n_rows,), or a row of class ids per row (n_rows, n_labels) such as
    a product and its category levels; None: unlabelled (-1)."""

    def __init__(self, paths: Sequence[str | Path], labels: np.ndarray | None, transform, seed: int | None = None):
        self.paths = [Path(p) for p in paths]
        self.labels = np.full(len(self.paths), -1, np.int64) if labels is None else np.asarray(labels, np.int64)
        if self.labels.ndim not in (1, 2) or len(self.labels) != len(self.paths):
            raise ValueError(f"labels must be (n_paths,) or (n_paths, n_labels) for {len(self.paths)} paths, got "
                             f"shape {self.labels.shape}")
        self.transform = transform
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.paths)

    def sample_seed(self, i: int) -> int | None:
        if self.seed is None:
            return None
        return (self.seed * 1_000_003 + self.epoch * 10_000_019 + i * 7_919) % (2**32)

    def __getitem__(self, i: int):
        image, problem = decode_image(self.paths[i])
        if image is None:
            image = placeholder_image()
        tensor = seeded_call(self.transform, image, self.sample_seed(i))
        label = self.labels[i]
        return tensor, int(label) if label.ndim == 0 else label, i, problem


def collate_images(items) -> dict:
    images, labels, index, problems = zip(*items)
    return {"inputs": torch.stack(images), "labels": torch.as_tensor(np.asarray(labels), dtype=torch.long),
            "index": torch.as_tensor(index, dtype=torch.long), "problems": list(problems)}


class TokenRows(Dataset):
    """Pre-tokenised titles (lists of ids) or cached frozen-layer hidden states (float16 arrays)."""

    def __init__(self, items: Sequence, labels: np.ndarray | None):
        self.items = items
        self.labels = np.full(len(items), -1, np.int64) if labels is None else np.asarray(labels, np.int64)

    def set_epoch(self, epoch: int) -> None:  # nothing random per sample
        pass

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i], int(self.labels[i]), i


class TextCollate:
    """Pads a batch of token id lists (``input_ids``) or hidden-state arrays (``hidden_states``)."""

    def __init__(self, pad_id: int = 0, token_dropout: float = 0.0):
        self.pad_id = pad_id
        self.token_dropout = float(token_dropout)

    def __call__(self, items) -> dict:
        seqs, labels, index = zip(*items)
        lengths = [len(s) for s in seqs]
        width = max(1, max(lengths))
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, n in enumerate(lengths):
            mask[row, :n] = 1
        if self.token_dropout > 0:  # hide random inner tokens (never the first/last: [CLS]/[SEP])
            drop = torch.rand(mask.shape) < self.token_dropout
            drop[:, 0] = False
            for row, n in enumerate(lengths):
                drop[row, max(n - 1, 0):] = False
            mask[drop] = 0
        if isinstance(seqs[0], np.ndarray) and seqs[0].ndim == 2:
            hidden = torch.zeros((len(seqs), width, seqs[0].shape[1]), dtype=torch.float32)
            for row, s in enumerate(seqs):
                hidden[row, : len(s)] = torch.from_numpy(s.astype(np.float32))
            inputs = {"hidden_states": hidden, "attention_mask": mask}
        else:
            ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
            for row, s in enumerate(seqs):
                ids[row, : len(s)] = torch.as_tensor(s, dtype=torch.long)
            inputs = {"input_ids": ids, "attention_mask": mask}
        return {"inputs": inputs, "labels": torch.as_tensor(labels, dtype=torch.long),
                "index": torch.as_tensor(index, dtype=torch.long)}


class LengthGroupedBatchSampler:
    """Training batches of similar lengths drawn from a (shuffling) sampler: less padding, same randomness.

    The sampler's order is cut into chunks of ``batch_size * group`` indices; each chunk is sorted by
    length and split into batches; the batches are then shuffled with ``seed + epoch``. Every index the
    sampler yields is used once per epoch (the last incomplete batch is dropped when ``drop_last``).
    """

    def __init__(self, sampler, lengths: Sequence[int], batch_size: int, drop_last: bool = True, group: int = 32,
                 seed: int = 0):
        self.sampler = sampler
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.group = group
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        order = np.fromiter(iter(self.sampler), dtype=np.int64)
        chunk = self.batch_size * self.group
        batches = []
        for start in range(0, len(order), chunk):
            part = order[start : start + chunk]
            part = part[np.argsort(self.lengths[part], kind="stable")]
            batches.extend(part[i : i + self.batch_size] for i in range(0, len(part), self.batch_size))
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch])
        for i in rng.permutation(len(batches))[: len(self)]:
            yield batches[i].tolist()


def length_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Inference batches of similar lengths (less padding); positions into ``lengths``."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def move_to(batch_inputs, device: torch.device, channels_last: bool = False):
    if isinstance(batch_inputs, dict):
        return {k: v.to(device, non_blocking=True) for k, v in batch_inputs.items()}
    out = batch_inputs.to(device, non_blocking=True)
    if channels_last:
        out = out.contiguous(memory_format=torch.channels_last)
    return out
