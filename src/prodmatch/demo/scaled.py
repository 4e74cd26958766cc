"""Test sets of any size built from labelled rows: perturbed copies, for speed/memory/threshold rehearsals.

Copy c of row i keeps i's label_group (so the result can be scored), gets a new posting_id, a title with
words dropped/swapped/duplicated and promo noise, and a phash with a few flipped bits. Images, when a
folder is given, are re-encoded copies with a random crop/brightness change, written under new names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PROMO_WORDS = ("ready", "cod", "promo", "murah", "ori", "original", "best seller", "grosir", "termurah", "new")


def perturb_title(title: str, rng: np.random.Generator) -> str:
    words = title.split()
    if len(words) > 2:
        keep = rng.random(len(words)) > 0.12
        if keep.any():
            words = [w for w, k in zip(words, keep) if k]
    if len(words) > 1 and rng.random() < 0.4:
        i, j = rng.choice(len(words), 2, replace=False)
        words[i], words[j] = words[j], words[i]
    if rng.random() < 0.35:
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(PROMO_WORDS)).upper())
    if rng.random() < 0.2:
        words = [w.upper() for w in words]
    return " ".join(words)


def perturb_phash(phash: str, rng: np.random.Generator, max_flips: int = 3) -> str:
    value = int(phash, 16)
    for bit in rng.choice(64, int(rng.integers(0, max_flips + 1)), replace=False):
        value ^= 1 << int(bit)
    return f"{value:016x}"


def scaled_postings(train: pd.DataFrame, n_rows: int, seed: int = 0) -> pd.DataFrame:
    """``n_rows`` postings: the first len(train) are the originals, the rest perturbed copies.

    Copies are drawn group by group, so every group of the result has at least its original members and
    groups grow roughly in proportion. label_group is kept (drop it to write a test.csv).
    """
    if n_rows < 1:
        raise ValueError(f"n_rows must be >= 1, got {n_rows}")
    rng = np.random.default_rng(seed)
    base = train.reset_index(drop=True)
    if n_rows <= len(base):
        picked = np.sort(rng.choice(len(base), n_rows, replace=False))
        out = base.iloc[picked].copy()
        out["source_row"] = picked
        return out.reset_index(drop=True)
    extra = n_rows - len(base)
    source = rng.integers(0, len(base), extra)
    copies = base.iloc[source].copy()
    copies["title"] = [perturb_title(t, rng) for t in copies["title"]]
    copies["image_phash"] = [perturb_phash(h, rng) for h in copies["image_phash"]]
    copies["posting_id"] = [f"scaled_{seed}_{i}" for i in range(extra)]
    copies["image"] = [f"scaled_{seed}_{i}__{name}" for i, name in enumerate(copies["image"])]
    out = pd.concat([base, copies], ignore_index=True)
    out["source_row"] = np.r_[np.arange(len(base)), source]
    return out


def write_scaled_images(postings: pd.DataFrame, source_dir: Path, out_dir: Path, seed: int = 0) -> int:
    """Write an image for every posting whose source image exists; copies get a crop and brightness change."""
    from PIL import Image, ImageEnhance

    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for name in postings["image"]:
        original = name.split("__", 1)[-1]
        source = source_dir / original
        if not source.is_file():
            continue
        target = out_dir / name
        if name == original:
            target.write_bytes(source.read_bytes())
        else:
            with Image.open(source) as image:
                image = image.convert("RGB")
                w, h = image.size
                dx, dy = (rng.uniform(0, 0.08, 2) * (w, h)).astype(int)
                image = image.crop((dx, dy, w - dx // 2, h - dy // 2))
                image = ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.85, 1.15)))
                image.save(target, quality=int(rng.integers(70, 95)))
        written += 1
    return written
