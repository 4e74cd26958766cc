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
