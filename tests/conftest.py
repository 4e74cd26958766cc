"""Shared fixtures. Tests run offline: no Hugging Face or albumentations network calls."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHOPEE_DIR = Path(os.environ.get("PRODMATCH_SHOPEE_DIR", REPO_ROOT.parent / "shared" / "data" / "shopee"))


@pytest.fixture(scope="session")
def shopee_dir() -> Path:
    """The real competition files in ../shared/data/shopee; tests using it skip only when it is absent."""
    if not (SHOPEE_DIR / "train.csv").is_file():
        pytest.skip(f"real Shopee data not found at {SHOPEE_DIR}")
    return SHOPEE_DIR


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """A small synthetic demo dataset with images (Kaggle layout), generated once per test session.

    ``generate_demo(out, n_products=40, seed=0, image_size=64)``: about 110 train and 20 test postings.
    """
    from prodmatch.demo.shopee import generate_demo

    out = tmp_path_factory.mktemp("demo") / "demo"
    generate_demo(out, n_products=40, seed=0, image_size=64)
    return out


def write_tiny_kaggle_dir(root: Path, n_groups: int = 40, seed: int = 0) -> Path:
    """A small text-only Kaggle-layout folder: groups of 2-4 postings with paraphrased titles and noisy
    phashes; a test.csv of 9 postings. For unit tests of the CV/submission plumbing (the demo generator
    makes the realistic dataset)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    words = ["aqua", "botol", "kabel", "usb", "sepatu", "putih", "tas", "kulit", "madu", "hutan", "kopi", "susu",
             "beras", "minyak", "sabun", "cair", "lampu", "led", "kaos", "polos", "buku", "tulis", "gelas", "kaca"]
    rows = []
    for group in range(n_groups):
        core = list(rng.choice(words, 4, replace=False)) + [f"{int(rng.integers(1, 20)) * 50}ml"]
        base_hash = int(rng.integers(0, 2**62))
        for member in range(int(rng.integers(2, 5))):
            title = list(core)
            rng.shuffle(title)
            if rng.random() < 0.5:
                title.append(str(rng.choice(["ready", "cod", "promo", "murah"])))
            value = base_hash
            for bit in rng.choice(64, int(rng.integers(0, 4)), replace=False):
                value ^= 1 << int(bit)
            rows.append({"posting_id": f"train_{group}_{member}", "image": f"img_{group}_{member}.jpg",
                         "image_phash": f"{value:016x}", "title": " ".join(title), "label_group": 1000 + group})
    train = pd.DataFrame(rows)
    test = train.sample(9, random_state=seed).drop(columns="label_group").reset_index(drop=True)
    test["posting_id"] = [f"test_{i}" for i in range(len(test))]
    root.mkdir(parents=True, exist_ok=True)
    train.to_csv(root / "train.csv", index=False)
    test.to_csv(root / "test.csv", index=False)
    pd.DataFrame({"posting_id": test["posting_id"], "matches": test["posting_id"]}).to_csv(
        root / "sample_submission.csv", index=False)
    return root


@pytest.fixture
def tiny_dir(tmp_path) -> Path:
    return write_tiny_kaggle_dir(tmp_path / "tiny")
