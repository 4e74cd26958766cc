"""Fixtures for training tests: the toy dataset and a finished tiny image run shared by several tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.train.toydata import make_toy_dataset

REPO = Path(__file__).resolve().parents[2]
TINY_IMAGE = REPO / "configs" / "test-image-tiny.yaml"
TINY_TEXT = REPO / "configs" / "test-text-tiny.yaml"


@pytest.fixture(scope="session")
def toy_dir(tmp_path_factory) -> Path:
    return make_toy_dataset(tmp_path_factory.mktemp("toy"), n_groups=12, per_group=4, size=40)
