"""Fixtures for the report tests: CV folders of the tiny text-only data and of the demo data (with images)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodmatch.cv import run_cv, save_cv
from prodmatch.data import DataDir, assign_folds
from prodmatch.recipes import load_recipe


def make_cv_folder(data_dir: Path, out: Path, n_folds: int = 3, pair_model: bool = False) -> Path:
    """What ``prodmatch cv --data-dir data_dir --out out`` writes, with hashed folds (``--no-pair-model``
    unless ``pair_model``: most report tests are about the union's report)."""
    train = DataDir.of(data_dir).read_train()
    folds = assign_folds(train, n_folds)["fold"].to_numpy()
    result = run_cv(train, folds, load_recipe("text-phash"), matcher=None if pair_model else "union")
    return save_cv(result, out, extra_meta={"data_dir": str(Path(data_dir).resolve()), "folds": "hashed",
                                            "wall_s": 1.0})


@pytest.fixture
def tiny_cv(tiny_dir, tmp_path) -> Path:
    return make_cv_folder(tiny_dir, tmp_path / "tiny-cv")


@pytest.fixture(scope="session")
def demo_cv(demo_dir, tmp_path_factory) -> Path:
    return make_cv_folder(demo_dir, tmp_path_factory.mktemp("demo-cv") / "cv", n_folds=5)


@pytest.fixture(scope="session")
def demo_pair_cv(demo_dir, tmp_path_factory) -> Path:
    pytest.importorskip("lightgbm")
    return make_cv_folder(demo_dir, tmp_path_factory.mktemp("demo-pair-cv") / "cv", n_folds=5, pair_model=True)


@pytest.fixture(scope="session")
def demo_text_dir(tmp_path_factory) -> Path:
    """The demo dataset without images (simulated phashes, empty image folders): text-only data with errors."""
    from prodmatch.demo.shopee import generate_demo

    out = tmp_path_factory.mktemp("demo-text") / "demo"
    generate_demo(out, n_products=40, seed=0, images=False)
    return out


@pytest.fixture(scope="session")
def demo_text_cv(demo_text_dir, tmp_path_factory) -> Path:
    return make_cv_folder(demo_text_dir, tmp_path_factory.mktemp("demo-text-cv") / "cv", n_folds=5)


@pytest.fixture(scope="session")
def demo_report(demo_cv, demo_dir, tmp_path_factory) -> Path:
    from prodmatch.report import build_report

    out = tmp_path_factory.mktemp("demo-report") / "report.html"
    build_report(demo_cv, out, demo_dir)
    return out
