"""Bad input on the command line: ``error: <message>`` and exit 2, never a bare traceback; --debug shows it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from prodmatch.cli import main
from tests.conftest import REPO_ROOT


@pytest.fixture
def cases(tiny_dir, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("x")
    return {
        "cv": (["cv", "--data-dir", str(tmp_path / "nope")], "data directory not found"),
        "cv-recipe": (["cv", "--data-dir", str(tiny_dir), "--recipe", "ful"], "unknown recipe 'ful'"),
        "cv-weights": (["cv", "--data-dir", str(tiny_dir), "--recipe", "full", "--weights", str(tmp_path / "wieghts")],
                       "no such folder"),
        "submit": (["submit", "--data-dir", str(tiny_dir), "--thresholds", str(tmp_path / "none.json"),
                    "--out", str(tmp_path / "s.csv")], "cannot read thresholds file"),
        "folds": (["folds", "--data-dir", str(tiny_dir), "--n-folds", "1", "--out", str(tmp_path / "f.csv")],
                  "argument --n-folds: must be >= 2"),
        "demo": (["demo", "--out", str(tmp_path / "taken"), "--no-images"], "exists and is not empty"),
        "report": (["report", "--cv-dir", str(tmp_path / "no-cv")], "CV folder not found"),
        "train": (["train", "--model", "image", "--config", str(REPO_ROOT / "configs" / "test-image-tiny.yaml"),
                   "--data-dir", str(tmp_path / "nope"), "--out", str(tmp_path / "w")], "data directory not found"),
    }


@pytest.mark.parametrize("case", ["cv", "cv-recipe", "cv-weights", "submit", "folds", "demo", "report", "train"])
def test_bad_input_prints_one_error_line_and_exits_2(cases, case, capsys):
    argv, message = cases[case]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_debug_shows_the_traceback(cases):
    from prodmatch.errors import InputError

    argv, _ = cases["cv"]
    with pytest.raises(InputError):
        main([*argv, "--debug"])


def test_a_bug_is_not_dressed_up_as_bad_input(tiny_dir, monkeypatch):
    import prodmatch.pipeline.tune as tune_module

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(tune_module, "run_cv", broken)
    with pytest.raises(KeyError):
        main(["cv", "--data-dir", str(tiny_dir), "--out", str(tiny_dir.parent / "cv")])


def test_make_submission_script_exits_2_with_the_message(tmp_path):
    done = subprocess.run([sys.executable, str(REPO_ROOT / "make_submission.py"), "--data-dir", str(tmp_path / "x")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr
