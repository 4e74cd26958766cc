"""When a fold folder is finished (prodmatch.artifacts.weights): metrics.json, which training writes last, and
for folders written before that was a rule, its epochs against config.yaml's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prodmatch.artifacts.weights import FoldFiles, UnfinishedRunError, fold_dirs


def _fold(root: Path, files: dict[str, str]) -> FoldFiles:
    folder = root / "run" / "fold0"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return FoldFiles(folder)


FINISHED_BEFORE_THE_RULE = {"model.pt": "m", "config.yaml": "model: image\nepochs: 2\n", "last.ckpt": "c",
                            "oof_embeddings.npz": "o", "metrics.json": json.dumps({"epochs": 2, "cv_f1": 0.5})}


def test_a_finished_run_written_before_the_rule_loads(tmp_path):
    files = _fold(tmp_path, FINISHED_BEFORE_THE_RULE)
    assert files.unfinished() is None and fold_dirs(tmp_path / "run") == [files.path]


def test_a_finished_run_without_its_checkpoint_loads(tmp_path):
    files = _fold(tmp_path, {k: v for k, v in FINISHED_BEFORE_THE_RULE.items() if k != "last.ckpt"})
    assert files.unfinished() is None


def test_an_inference_copy_loads(tmp_path):
    # what the kernel build ships of a finished run: model.pt + config.yaml only
    files = _fold(tmp_path, {"model.pt": "m", "config.yaml": "model: image\nepochs: 2\n"})
    assert files.unfinished() is None


@pytest.mark.parametrize("case, drop, change, reason", [
    ("killed", "metrics.json", {}, "no metrics.json, which training writes last"),
    ("killed before its first checkpoint", "last.ckpt", {"metrics.json": None}, "no metrics.json"),
    ("resumed with more epochs, then killed (before the rule)", None, {"config.yaml": "model: image\nepochs: 5\n"},
     "metrics.json records 2 of the 5 epochs in config.yaml"),
    ("unreadable metrics", None, {"metrics.json": "{not json"}, "metrics.json or config.yaml is not readable"),
])
def test_unfinished_folds_are_refused_naming_the_folder(case, drop, change, reason, tmp_path):
    files = {k: v for k, v in FINISHED_BEFORE_THE_RULE.items() if k != drop}
    files.update(change)
    files = {k: v for k, v in files.items() if v is not None}
    fold = _fold(tmp_path, files)
    assert reason in fold.unfinished()
    with pytest.raises(UnfinishedRunError, match=rf"unfinished training run: {fold.path} \("):
        fold_dirs(tmp_path / "run")
    with pytest.raises(FileNotFoundError):  # an input error (exit 2), like any missing input
        fold_dirs(tmp_path / "run")
