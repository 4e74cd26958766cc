"""Albumentations pipelines: random augmentation for training, a plain resize for evaluation.

Both take an RGB uint8 ``(H, W, 3)`` array and give a normalised float ``(3, size, size)`` tensor.
Training randomness comes from a per-sample seed set by the dataset (:func:`seeded_call`), so an epoch's
augmentations are the same whatever the number of DataLoader workers and after a resume.
"""

from __future__ import annotations

import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import numpy as np


def _albumentations():
    import albumentations as A
    from albumentations.pytorch import ToTensorV2

    return A, ToTensorV2


def train_transform(size: int, mean, std, strength: float = 1.0):
    """Random resized crop, horizontal flip, small affine, colour jitter, blur; then normalise."""
    A, ToTensorV2 = _albumentations()
    s = float(strength)
    steps = [
        A.RandomResizedCrop(size=(size, size), scale=(max(0.05, 1.0 - 0.5 * s), 1.0), ratio=(0.75, 1.333)),
        A.HorizontalFlip(p=0.5),
        A.Affine(rotate=(-10 * s, 10 * s), scale=(1.0 - 0.1 * s, 1.0 + 0.1 * s), p=0.5 * min(1.0, s)),
        A.ColorJitter(brightness=0.2 * s, contrast=0.2 * s, saturation=0.2 * s, hue=0.05 * s, p=0.5 * min(1.0, s)),
        A.GaussianBlur(blur_limit=(3, 5), p=0.1 * min(1.0, s)),
        A.Normalize(mean=tuple(mean), std=tuple(std), max_pixel_value=255.0),
        ToTensorV2(),
    ]
    return A.Compose(steps, seed=0)


def eval_transform(size: int, mean, std):
    A, ToTensorV2 = _albumentations()
    return A.Compose([A.Resize(size, size), A.Normalize(mean=tuple(mean), std=tuple(std), max_pixel_value=255.0),
                      ToTensorV2()], seed=0)


def seeded_call(transform, image: np.ndarray, seed: int | None):
    """Apply an albumentations Compose with its random state set from ``seed`` (None: leave it)."""
    if seed is not None:
        transform.set_random_seed(int(seed) % (2**32))
    return transform(image=image)["image"]
