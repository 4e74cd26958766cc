"""A user's mistakes in training (config files, flags, a damaged checkpoint, a folder without what the config
asks for) exit 2 with one line ``error: <file or flag>: what is wrong, what to do`` -- never a traceback (only
with --debug) and never a run that trains something else than asked.

Table-driven: (case, what to write / which flags, expected exit code, fragments of the message). Every row
failed before: a traceback (exit 1) or a run that trained without category heads (exit 0); the run-exists
and no-full-batch rows already exited 2 and guard the refactor of the command (it no longer catches errors).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from prodmatch.cli import main
from tests.train.conftest import TINY_IMAGE, TINY_TEXT

BAD_YAML = {
    "unknown key": ("epoch: 3\n", ["unknown key 'epoch'", "did you mean 'epochs'?"]),
    "misspelt key": ("lerning_rate: 0.1\nbatch_size: 8\n", ["unknown key 'lerning_rate'"]),
    "wrong type int": ("epochs: ten\n", ["epochs must be an integer, got 'ten'"]),
    "wrong type bool": ("amp: maybe\n", ["amp must be true or false, got 'maybe'"]),
    "wrong type float": ("lr: fast\n", ["lr must be a number, got 'fast'"]),
    "wrong type list": ("mean: 0.5\n", ["mean must be a list of numbers or null, got 0.5"]),
    "name outside the vocabulary": ("neck: wide\n", ["neck must be one of ('linear_bn'"]),
    "yaml that does not parse": ("epochs: [1, 2\nlr: 0.1\n", ["not valid YAML at line", "fix the file"]),
    "not a mapping": ("- epochs\n- 3\n", ["expected a mapping of keys to values"]),
    "out-of-range number in the file": ("epochs: 0\n", ["epochs must be >= 1, got 0"]),
}

BAD_FLAGS = {
    "fold past the folds": (TINY_IMAGE, ["--n-folds", "5", "--fold", "7"], ["--fold 7: fold must be in 0..4 (n_folds 5)"]),
    "negative fold": (TINY_IMAGE, ["--fold", "-1"], ["--fold -1: fold must be in 0..2"]),
    "negative batch size (image)": (TINY_IMAGE, ["--batch-size", "-1"], ["--batch-size -1: batch_size must be >= 2"]),
    "zero batch size (text)": (TINY_TEXT, ["--batch-size", "0"], ["--batch-size 0: batch_size must be >= 2"]),
    "zero epochs": (TINY_IMAGE, ["--epochs", "0"], ["--epochs 0: epochs must be >= 1"]),
    "negative lr": (TINY_IMAGE, ["--lr", "-0.1"], ["--lr -0.1: lr must be > 0"]),
    "zero head lr": (TINY_TEXT, ["--head-lr", "0"], ["--head-lr 0.0: head_lr must be > 0"]),
    "margin past pi/2": (TINY_IMAGE, ["--margin", "2"], ["--margin 2.0: margin must be in [0, 1.5708)"]),
    "label smoothing of 1": (TINY_IMAGE, ["--label-smoothing", "1"], ["label_smoothing must be in [0, 1)"]),
    "zero eval batch": (TINY_IMAGE, ["--eval-batch-size", "0"], ["--eval-batch-size 0: eval_batch_size must be >= 1"]),
    "two bad flags in one line": (TINY_IMAGE, ["--epochs", "0", "--lr", "0"], ["--epochs 0: epochs", "; --lr 0.0: lr"]),
    # found while the model is built: the flag and the range of this backbone
    "more frozen blocks than the backbone has": (TINY_IMAGE, ["--freeze-layers", "99", "--no-baselines"],
                                                 ["--freeze-layers 99: freeze_layers must be in 1.."]),
    "a neck that keeps the width": (TINY_IMAGE, ["--neck", "none", "--no-baselines"],
                                    ["--neck none: the neck keeps the width", "set embedding_dim to"]),
    "a backbone timm does not know": (TINY_IMAGE, ["--backbone", "test_efficientnett", "--no-baselines"],
                                      ["--backbone test_efficientnett: not a timm model name", "test_efficientnet"]),
}


def _train(argv: list[str], capsys) -> tuple[int, str]:
    code = main(["train", *argv])
    err = capsys.readouterr().err.strip()
    return code, err


def _assert_one_error_line(code: int, err: str, fragments: list[str]) -> None:
    assert code == 2, err
    lines = err.splitlines()
    assert lines and lines[-1].startswith("error: ") and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[-1], (fragment, lines[-1])


@pytest.mark.parametrize("case", sorted(BAD_YAML))
def test_bad_config_file(case, tmp_path, toy_dir, capsys):
    text, fragments = BAD_YAML[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, err = _train(["--config", str(path), "--data-dir", str(toy_dir), "--out", str(tmp_path / "w")], capsys)
    _assert_one_error_line(code, err, [f"error: {path}: ", *fragments])
    assert not (tmp_path / "w").exists()  # refused before anything was written


@pytest.mark.parametrize("case", sorted(BAD_FLAGS))
def test_bad_flag(case, tmp_path, toy_dir, capsys):
    config, flags, fragments = BAD_FLAGS[case]
    code, err = _train(["--config", str(config), "--data-dir", str(toy_dir), "--out", str(tmp_path / "w"), *flags],
                       capsys)
    _assert_one_error_line(code, err, fragments)
    assert not (tmp_path / "w").exists()


def test_config_path_that_does_not_exist_or_is_a_folder(tmp_path, capsys):
    code, err = _train(["--config", str(tmp_path / "nope.yaml")], capsys)
    _assert_one_error_line(code, err, [f"{tmp_path / 'nope.yaml'}: config file not found"])
    code, err = _train(["--config", str(tmp_path)], capsys)
    _assert_one_error_line(code, err, [f"{tmp_path}: is not a file"])


def test_config_that_is_not_utf8(tmp_path, capsys):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("backbone: caf\xe9\n".encode("latin-1"))
    code, err = _train(["--config", str(path)], capsys)
    _assert_one_error_line(code, err, [f"{path}: not UTF-8 text"])


def test_debug_shows_the_traceback(tmp_path):
    from prodmatch.train.config import ConfigError

    path = tmp_path / "bad.yaml"
    path.write_text("epoch: 3\n")
    with pytest.raises(ConfigError, match="unknown key 'epoch'"):
        main(["train", "--config", str(path), "--debug"])


# ------------------------------------------------------------------------------ runs and their folders
@pytest.fixture(scope="module")
def finished_run(toy_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("finished")
    argv = ["--config", str(TINY_IMAGE), "--data-dir", str(toy_dir), "--out", str(out), "--epochs", "1",
            "--max-steps-per-epoch", "1", "--no-baselines"]
    assert main(["train", *argv]) == 0
    return out / "test-image-tiny" / "fold0", argv


@pytest.mark.parametrize("damage", ["truncated", "overwritten with text", "empty", "zeros"])
def test_corrupted_checkpoint_on_resume(damage, finished_run, tmp_path, capsys):
    fold_dir, argv = finished_run
    run = tmp_path / "copy"
    shutil.copytree(fold_dir.parent, run / "test-image-tiny")
    ckpt = run / "test-image-tiny" / "fold0" / "last.ckpt"
    data = ckpt.read_bytes()
    ckpt.write_bytes({"truncated": data[: len(data) // 2], "overwritten with text": b"epoch: 3\nnotes\n" * 20,
                      "empty": b"", "zeros": bytes(4096)}[damage])
    out_at = argv.index("--out") + 1
    code, err = _train([*argv[:out_at], str(run), *argv[out_at + 1:], "--resume"], capsys)
    _assert_one_error_line(code, err, [f"{ckpt}: not a readable training checkpoint", "--overwrite"])


def test_an_existing_run_needs_resume_or_overwrite(finished_run, capsys):
    _, argv = finished_run
    code, err = _train(argv, capsys)
    _assert_one_error_line(code, err, ["already holds", "--resume", "--overwrite"])


def test_a_batch_larger_than_the_training_rows(toy_dir, tmp_path, capsys):
    code, err = _train(["--config", str(TINY_IMAGE), "--data-dir", str(toy_dir), "--out", str(tmp_path),
                        "--batch-size", "512", "--no-baselines"], capsys)
    _assert_one_error_line(code, err, ["--batch-size 512:", "no full batch", "lower batch_size"])


def _visual_folder_without_levels(root: Path) -> Path:
    import pandas as pd

    from prodmatch.visual.demo import generate_visual_demo

    folder = generate_visual_demo(root / "demo", n_products=8, seed=0, image_size=32, query_share=0.5).out_dir
    for name in ("index.csv", "queries.csv"):
        table = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
        table.drop(columns=[c for c in table.columns if c.startswith("level")]).to_csv(folder / name, index=False)
    return folder


def test_hierarchy_without_category_columns(tmp_path, capsys):
    # it trained the product head alone, exit 0, as if the config had said hierarchy: false
    folder = _visual_folder_without_levels(tmp_path)
    argv = ["--config", str(TINY_IMAGE), "--task", "visual", "--data-dir", str(folder), "--out", str(tmp_path / "w"),
            "--epochs", "1", "--max-steps-per-epoch", "1", "--no-baselines"]
    code, err = _train(argv, capsys)
    _assert_one_error_line(code, err, [f"{folder / 'index.csv'}: hierarchy is on", "level1..levelK",
                                       "--no-hierarchy"])
    assert main(["train", *argv, "--no-hierarchy"]) == 0  # what the message says to do works


def test_hierarchy_weights_for_another_number_of_levels(tmp_path, capsys):
    from prodmatch.visual.demo import generate_visual_demo

    folder = generate_visual_demo(tmp_path / "demo", n_products=8, seed=0, image_size=32, query_share=0.5).out_dir
    code, err = _train(["--config", str(TINY_IMAGE), "--task", "visual", "--data-dir", str(folder), "--out",
                        str(tmp_path / "w"), "--hierarchy-weights", "1", "0.5"], capsys)
    _assert_one_error_line(code, err, ["--hierarchy-weights 1.0 0.5: 2 weight(s) for the 3 category levels",
                                       "one per level"])
