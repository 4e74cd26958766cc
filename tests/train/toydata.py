"""A tiny Kaggle-layout dataset drawn with PIL: label groups are (colour, shape) pairs.

Each group's postings share colour and shape (with jittered size/position/background) and a title made
of group words plus noise, so both an image and a text encoder can learn the groups.
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw

COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220), "yellow": (230, 210, 40),
           "purple": (150, 50, 180), "cyan": (40, 200, 210)}
SHAPES = ("circle", "square", "triangle")
NOISE = ["murah", "original", "promo", "ready", "stok", "baru", "grosir", "termurah", "cod", "import"]
BRANDS = ["acme", "zeta", "nova", "orion", "lumo", "kiro", "vexa", "pola", "rumi", "tora", "sena", "wira",
          "dana", "fira", "gala", "hana", "ivo", "juna"]


def draw(colour: str, shape: str, size: int, rng: random.Random) -> Image.Image:
    bg = tuple(rng.randint(200, 255) for _ in range(3))
    image = Image.new("RGB", (size, size), bg)
    pen = ImageDraw.Draw(image)
    r = rng.uniform(0.25, 0.4) * size
    cx, cy = (rng.uniform(0.4, 0.6) * size for _ in range(2))
    fill = tuple(min(255, max(0, c + rng.randint(-20, 20))) for c in COLOURS[colour])
    if shape == "circle":
        pen.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        pen.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        pen.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    return image


def make_toy_dataset(root: str | Path, n_groups: int = 12, per_group: int = 4, size: int = 48,
                     seed: int = 0) -> Path:
    """Write root/train.csv and root/train_images/*.jpg; returns root."""
    rng = random.Random(seed)
    root = Path(root)
    (root / "train_images").mkdir(parents=True, exist_ok=True)
    combos = [(c, s) for s in SHAPES for c in COLOURS][:n_groups]
    if len(combos) < n_groups:
        raise ValueError(f"at most {len(COLOURS) * len(SHAPES)} groups")
    rows = []
    for g, (colour, shape) in enumerate(combos):
        brand = BRANDS[g % len(BRANDS)]
        for j in range(per_group):
            name = f"g{g:02d}_{j}.jpg"
            draw(colour, shape, size, rng).save(root / "train_images" / name, quality=95)
            words = [brand, colour, shape] + rng.sample(NOISE, 2)
            rng.shuffle(words)
            rows.append({"posting_id": f"train_{g:02d}{j:02d}", "image": name,
                         "image_phash": f"{rng.getrandbits(64):016x}", "title": " ".join(words).title(),
                         "label_group": 1000 + g})
    pd.DataFrame(rows).to_csv(root / "train.csv", index=False)
    return root
