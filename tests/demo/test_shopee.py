"""The synthetic demo dataset: Kaggle layout, determinism, hard negatives, real phashes, atomic writes."""

from __future__ import annotations

import re
from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from prodmatch.cli import main
from prodmatch.data import DataDir, assign_folds, clean_title, read_sample_submission
from prodmatch.data.validation import SUBMISSION_COLUMNS, TEST_COLUMNS, TRAIN_COLUMNS
from prodmatch.demo import shopee as demo_module
from prodmatch.demo.shopee import generate_demo

FIXTURE_ARGS = dict(n_products=40, seed=0, image_size=64)  # what conftest's demo_dir fixture generates


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo_summary(tmp_path_factory):
    """The fixture's products again, without images (same catalogue, labels and titles)."""
    return generate_demo(tmp_path_factory.mktemp("demo_noimg") / "d", images=False, **FIXTURE_ARGS)


def test_kaggle_layout_reads_back(demo_dir):
    data = DataDir.of(demo_dir)
    assert sorted(p.name for p in demo_dir.iterdir()) == [
        "sample_submission.csv", "test.csv", "test_images", "train.csv", "train_images"]
    train, test = data.read_train(), data.read_test()
    assert tuple(pd.read_csv(data.train_csv, nrows=0).columns) == TRAIN_COLUMNS
    assert tuple(pd.read_csv(data.test_csv, nrows=0).columns) == TEST_COLUMNS
    submission = read_sample_submission(data.sample_submission_csv)
    assert tuple(submission.columns) == SUBMISSION_COLUMNS
    assert submission["posting_id"].tolist() == test["posting_id"].tolist()
    assert (submission["matches"] == submission["posting_id"]).all()
    assert len(train) > 50 and len(test) > 5
    assert train["posting_id"].str.fullmatch(r"train_\d+").all()
    assert test["posting_id"].str.fullmatch(r"test_\d+").all()
    assert not set(train["posting_id"]) & set(test["posting_id"])
    assert train["title"].str.strip().ne("").all() and test["title"].str.strip().ne("").all()
    sizes = train.groupby("label_group").size()
    assert sizes.min() >= 2 and sizes.max() <= 12
    for split, frame in (("train", train), ("test", test)):
        folder = data.images_dir(split)
        assert set(frame["image"]) == {p.name for p in folder.iterdir()}
        assert frame["image"].str.fullmatch(r"[0-9a-f]{32}\.jpg").all()


def test_phash_is_imagehash_of_written_jpeg(demo_dir):
    data = DataDir.of(demo_dir)
    for split, frame in (("train", data.read_train()), ("test", data.read_test())):
        for name, phash in frame.drop_duplicates("image")[["image", "image_phash"]].itertuples(index=False):
            with Image.open(data.images_dir(split) / name) as img:
                assert img.format == "JPEG" and img.size == (64, 64)
                assert str(imagehash.phash(img)) == phash


def test_test_products_are_held_out(demo_dir, demo_summary):
    data = DataDir.of(demo_dir)
    train, test = data.read_train(), data.read_test()
    assert not set(train["image"]) & set(test["image"])
    assert demo_summary.n_train == len(train) and demo_summary.n_test == len(test)
    assert demo_summary.n_train_groups + demo_summary.n_test_groups == FIXTURE_ARGS["n_products"]


def test_hard_negative_siblings(demo_dir, demo_summary):
    train = DataDir.of(demo_dir).read_train()
    assert demo_summary.families, "no product families (hard negatives) generated"
    folds = assign_folds(train).set_index("posting_id")["fold"]
    fold_of_group = dict(zip(train["label_group"], folds.loc[train["posting_id"]].to_numpy()))
    tokens = train.assign(tokens=train["title"].map(lambda t: set(clean_title(t).split()))).groupby("label_group")
    overlaps = []
    for family in demo_summary.families:
        groups = [g for g in family if g in fold_of_group]
        # a family stays together in the default 5-fold split, so a held-out fold keeps its hard negatives
        assert len({fold_of_group[g] for g in groups}) <= 1
        for a, b in zip(groups, groups[1:]):
            common_a = set.intersection(*tokens.get_group(a)["tokens"])
            words_a = set.union(*tokens.get_group(a)["tokens"])
            words_b = set.union(*tokens.get_group(b)["tokens"])
            overlaps.append(len(words_a & words_b) / len(words_a | words_b))
            assert common_a or words_a & words_b
    assert max(overlaps) > 0.4  # siblings are described with mostly the same words


def test_cross_product_duplicate_images(demo_dir):
    train = DataDir.of(demo_dir).read_train()
    per_image = train.groupby("image")["label_group"].nunique()
    shared = per_image[per_image > 1].index
    assert len(shared) >= 1, "no stock photo shared across label groups"
    for name in shared:
        assert train.loc[train["image"] == name, "image_phash"].nunique() == 1
    # and sellers re-using a photo of their own product
    same_group = train.groupby(["label_group", "image"]).size()
    assert (same_group > 1).any()


def test_titles_carry_real_world_noise(tmp_path):
    summary = generate_demo(tmp_path / "d", n_products=300, seed=1, images=False)
    titles = DataDir.of(summary.out_dir).read_train()["title"]
    assert titles.str.contains(r"\\x[0-9a-f]{2}", regex=True).any()
    assert titles.str.contains("&amp;", regex=False).any()
    assert titles.map(lambda t: any(ord(c) > 127 for c in t)).any()
    assert titles.str.contains(r"\d \s?ml\b|\d ml\b", case=False, regex=True).any()
    assert titles.str.contains(r"\dml\b", case=False, regex=True).any()
    assert titles.str.contains(r"\b(?:READY|COD|PROMO|ORI|murah|grosir)\b", case=False, regex=True).any()
    cleaned = titles.map(clean_title)
    assert not cleaned.str.contains(r"\\x[0-9a-f]{2}|&amp;", regex=True).any()


def test_deterministic_for_a_seed(tmp_path):
    args = dict(n_products=10, seed=3, image_size=48)
    generate_demo(tmp_path / "a", **args)
    generate_demo(tmp_path / "b", **args)
    files_a, files_b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert files_a == files_b and len(files_a) > 3
    generate_demo(tmp_path / "c", **{**args, "seed": 4})
    assert _files(tmp_path / "c")["train.csv"] != files_a["train.csv"]


def test_no_images_mode_matches_image_mode(demo_dir, demo_summary):
    with_images = DataDir.of(demo_dir).read_train()
    without = DataDir.of(demo_summary.out_dir).read_train()
    assert not any((demo_summary.out_dir / "train_images").iterdir())
    assert not any((demo_summary.out_dir / "test_images").iterdir())
    same = ["posting_id", "title", "label_group"]
    pd.testing.assert_frame_equal(with_images[same], without[same])
    assert without["image_phash"].str.fullmatch(r"[0-9a-f]{16}").all()
    # simulated photos behave like drawn ones: copies share hash and file, other photos are far apart
    assert (without.groupby("image")["image_phash"].nunique() == 1).all()
    assert (without.groupby("image")["label_group"].nunique() > 1).any()


def test_write_is_atomic_when_generation_fails(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(demo_module, "_frames", boom)  # fails after images are written
    with pytest.raises(RuntimeError, match="disk on fire"):
        generate_demo(tmp_path / "out", n_products=6, image_size=32)
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_previous_dataset(tmp_path, monkeypatch):
    out = tmp_path / "out"
    generate_demo(out, n_products=6, images=False)
    before = _files(out)
    with pytest.raises(FileExistsError):
        generate_demo(out, n_products=6, images=False, seed=1)
    monkeypatch.setattr(demo_module, "_frames", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("midway")))
    with pytest.raises(RuntimeError):
        generate_demo(out, n_products=6, images=False, seed=1, overwrite=True)
    assert _files(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    monkeypatch.undo()
    generate_demo(out, n_products=6, images=False, seed=1, overwrite=True)
    assert _files(out) != before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate_demo(tmp_path / "x", n_products=1)
    with pytest.raises(ValueError):
        generate_demo(tmp_path / "x", n_products=10, test_fraction=1.0)
    with pytest.raises(ValueError):
        generate_demo(tmp_path / "x", n_products=10, image_size=8)
    with pytest.raises(ValueError):
        generate_demo(tmp_path / "x", n_products=10, seed=-1)
    assert not (tmp_path / "x").exists()


def test_command_line(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["demo", "--out", str(out), "--n-products", "8", "--seed", "2", "--no-images"]) == 0
    assert re.search(r"\d+ train postings", capsys.readouterr().out)
    train = DataDir.of(out).read_train()
    assert train["label_group"].nunique() >= 1
    assert np.issubdtype(train["label_group"].dtype, np.integer)
