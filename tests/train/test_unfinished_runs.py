"""A training run killed before its end is refused wherever a run is used (load_run, a recipe's runs), naming
its folder; it serves once resumed to the end. Folders written before the completion rule (no other marker
than metrics.json) still load when finished: tests/artifacts/test_run_completion.py."""

from __future__ import annotations

import pytest

from prodmatch.artifacts.weights import UnfinishedRunError
from prodmatch.embed import load_run
from prodmatch.pipeline.runs import resolve_runs
from prodmatch.recipes import recipe_from_dict
from prodmatch.train.config import load_config
from prodmatch.train.loop import train_fold
from tests.train.conftest import TINY_IMAGE

IMAGE_RECIPE = {"name": "r", "embeddings": {"img": {"model": "image"}},
                "sources": [{"type": "embedding", "name": "e", "embeddings": ["img"]}]}


def _config(toy_dir, out, **overrides):
    settings = dict(data_dir=str(toy_dir), out=str(out), baselines=False, max_steps_per_epoch=1)
    return load_config(TINY_IMAGE, **{**settings, **overrides})


def _kill_in_epoch(index: int):
    def hook(epoch, step):
        if epoch == index:
            raise KeyboardInterrupt("simulated kill")
    return hook


def test_a_killed_run_is_refused_until_resumed_to_the_end(toy_dir, tmp_path):
    config = _config(toy_dir, tmp_path, epochs=3)
    with pytest.raises(KeyboardInterrupt):
        train_fold(config, step_hook=_kill_in_epoch(1))
    fold_dir = config.fold_dir()
    assert (fold_dir / "model.pt").is_file()  # epoch 1's model: what cv used to take for the run
    with pytest.raises(UnfinishedRunError, match=rf"unfinished training run: {fold_dir} \(no metrics.json.*--resume"):
        load_run(fold_dir.parent, device="cpu")
    with pytest.raises(UnfinishedRunError, match=str(fold_dir)):
        resolve_runs(recipe_from_dict(IMAGE_RECIPE), tmp_path)
    train_fold(config, resume=True)
    assert resolve_runs(recipe_from_dict(IMAGE_RECIPE), tmp_path) == {"img": fold_dir.parent}
    assert len(load_run(fold_dir.parent, device="cpu")) == 1


def test_a_resume_with_more_epochs_is_unfinished_until_it_ends(toy_dir, tmp_path):
    # the finished run's metrics.json stayed beside the newer epochs' model.pt, so a kill here looked finished
    train_fold(_config(toy_dir, tmp_path, epochs=1))
    longer = _config(toy_dir, tmp_path, epochs=3)
    with pytest.raises(KeyboardInterrupt):
        train_fold(longer, resume=True, step_hook=_kill_in_epoch(2))  # epoch 2's model.pt is written
    assert not (longer.fold_dir() / "metrics.json").exists()
    with pytest.raises(UnfinishedRunError, match=str(longer.fold_dir())):
        load_run(longer.fold_dir().parent, device="cpu")
    assert train_fold(longer, resume=True)["epochs"] == 3
    assert len(load_run(longer.fold_dir().parent, device="cpu")) == 1
