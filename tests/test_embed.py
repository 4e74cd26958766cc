"""prodmatch.embed: loading runs, embedding frames (with missing images), fold averaging."""

from __future__ import annotations

import numpy as np
import pytest

from prodmatch.data import DataDir
from prodmatch.artifacts.weights import fold_dirs
from prodmatch.embed import embed_frame, embed_with_folds, load_run
from prodmatch.search.dense import l2_normalize
from prodmatch.train.config import load_config
from prodmatch.models.inputs import ImageReadWarning
from prodmatch.train.loop import train_fold
from tests.train.conftest import TINY_IMAGE
from tests.train.toydata import make_toy_dataset


@pytest.fixture(scope="module")
def two_fold_run(tmp_path_factory):
    """Folds 0 and 1 of a 3-fold tiny image run (fold 2 deliberately missing)."""
    root = tmp_path_factory.mktemp("embed")
    data = make_toy_dataset(root / "data", n_groups=12, per_group=4, size=40)
    for fold in (0, 1):
        train_fold(load_config(TINY_IMAGE, data_dir=str(data), out=str(root / "weights"), fold=fold, epochs=1,
                               run_name="tiny"))
    return root / "weights" / "tiny", data


def test_load_run_finds_every_fold(two_fold_run):
    run_dir, _ = two_fold_run
    models = load_run(run_dir, device="cpu")
    assert [m.fold for m in models] == [0, 1] and {m.kind for m in models} == {"image"}
    assert all(not m.encoder.training for m in models) and models[0].image_size == 32
    assert fold_dirs(run_dir / "fold1") == [run_dir / "fold1"]
    with pytest.raises(FileNotFoundError):
        load_run(run_dir / "nope")


def test_embed_frame_reproduces_oof_and_tta_differs(two_fold_run):
    run_dir, data = two_fold_run
    train = DataDir.of(data).read_train()
    model = load_run(run_dir, device="cpu")[1]
    with np.load(run_dir / "fold1" / "oof_embeddings.npz") as oof:
        frame = train.set_index("posting_id").loc[oof["posting_id"]].reset_index()
        emb = embed_frame(model, frame, data / "train_images", batch_size=5)
        np.testing.assert_allclose(emb, oof["embeddings"], atol=1e-5)
    assert emb.dtype == np.float32 and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    flipped = embed_frame(model, frame, data / "train_images", tta=True)
    assert np.allclose(np.linalg.norm(flipped, axis=1), 1, atol=1e-5) and not np.allclose(flipped, emb)
    with pytest.raises(ValueError, match="images_dir"):
        embed_frame(model, frame)


def test_missing_image_falls_back_to_grey_with_warning(two_fold_run):
    run_dir, data = two_fold_run
    frame = DataDir.of(data).read_train().head(3).copy()
    frame.loc[1, "image"] = "does_not_exist.jpg"
    model = load_run(run_dir, device="cpu")[0]
    with pytest.warns(ImageReadWarning, match="does_not_exist.jpg"):
        emb = embed_frame(model, frame, data / "train_images")
    assert emb.shape == (3, 32) and np.isfinite(emb).all()


def test_embed_with_folds_is_the_renormalised_mean(two_fold_run):
    run_dir, data = two_fold_run
    frame = DataDir.of(data).read_train().head(10)
    models = load_run(run_dir, device="cpu")
    parts = [embed_frame(m, frame, data / "train_images") for m in models]
    averaged = embed_with_folds(run_dir, frame, data / "train_images")
    np.testing.assert_allclose(averaged, l2_normalize(parts[0] + parts[1]), atol=1e-5)
    assert not np.allclose(parts[0], parts[1])
