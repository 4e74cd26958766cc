"""The submission flow: thresholds tuned or given, matching, a validated file, per-stage timings."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from prodmatch.artifacts.timings import read_timings
from prodmatch.cli import main
from prodmatch.data import DataDir
from prodmatch.pipeline.submit import SubmitOptions, submit
from prodmatch.recipes import load_recipe
from prodmatch.search.features import Features
from tests.conftest import REPO_ROOT


def test_make_submission_tunes_then_matches(tiny_dir, tmp_path):
    out = tmp_path / "submission.csv"
    assert main(["submit", "--data-dir", str(tiny_dir), "--out", str(out)]) == 0
    sub = pd.read_csv(out)
    test = DataDir.of(tiny_dir).read_test()
    assert sub["posting_id"].tolist() == test["posting_id"].tolist()
    assert (tmp_path / "submission.thresholds.json").is_file()
    # reusing the saved thresholds gives the same file without tuning
    again = tmp_path / "again.csv"
    assert main(["submit", "--data-dir", str(tiny_dir), "--out", str(again),
                 "--thresholds", str(tmp_path / "submission.thresholds.json")]) == 0
    assert again.read_text() == out.read_text()


def test_make_submission_script_on_the_real_three_row_test(shopee_dir, tmp_path):
    out = tmp_path / "submission.csv"
    done = subprocess.run([sys.executable, str(REPO_ROOT / "make_submission.py"), "--data-dir", str(shopee_dir),
                           "--recipe", "text-phash", "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    sub = pd.read_csv(out)
    real_test = DataDir.of(shopee_dir).read_test()
    assert sub["posting_id"].tolist() == real_test["posting_id"].tolist()
    assert all(pid in m.split() for pid, m in zip(sub["posting_id"], sub["matches"]))
    assert "size-aware thresholds" in done.stdout and "validated" in done.stdout


def test_submit_returns_its_stages_and_writes_the_timings_schema(tiny_dir, tmp_path):
    logged = []
    result = submit(SubmitOptions(tiny_dir, tmp_path / "s.csv", timings_json=tmp_path / "t.json", matcher="union"),
                    log=logged.append)
    assert list(result.timings.seconds) == ["tune_cv", "embed", "match", "write+validate"]
    assert set(result.timings.search_seconds) == {"tfidf", "phash"} and result.thresholds_saved.is_file()
    saved = read_timings(tmp_path / "t.json")
    assert saved.n_test == 9 and saved.recipe == "text-phash" and list(saved.seconds) == list(result.timings.seconds)
    assert json.loads((tmp_path / "t.json").read_text())["seconds"].keys() == result.timings.seconds.keys()
    assert any(line.startswith("for 9 test postings: union tfidf=") for line in logged)
    assert "validated" in result.summary() and len(result.match_counts) == 9


def test_the_union_refuses_thresholds_for_sources_that_are_not_searched(tiny_dir):
    from prodmatch.match.policy import MatchPolicy
    from prodmatch.match.union import UnionMatcher

    test = DataDir.of(tiny_dir).read_test()
    matcher = UnionMatcher(MatchPolicy({"tfidf": 0.5, "image": 0.5}))
    with pytest.raises(ValueError, match=r"thresholds for source\(s\) \['image'\]"):
        matcher.match(Features.from_frame(test), load_recipe("text-phash").sources)


def _no_tuning(monkeypatch):
    """Make tuning fail loudly: a check that runs "before the work" must not get that far."""
    import prodmatch.pipeline.submit as submit_module

    def refuse(*args, **kwargs):
        raise AssertionError("tuning started before the output path was checked")

    monkeypatch.setattr(submit_module, "tune", refuse)


@pytest.mark.parametrize("out", ["test.csv", "", "a_folder", "link.csv", "fifo.csv"])
def test_a_bad_out_fails_before_the_work_and_replaces_nothing(tiny_dir, tmp_path, monkeypatch, capsys, out):
    import os

    _no_tuning(monkeypatch)
    (tmp_path / "a_folder").mkdir()
    os.symlink(tiny_dir / "sample_submission.csv", tmp_path / "link.csv")
    os.mkfifo(tmp_path / "fifo.csv")
    before = (tiny_dir / "test.csv").read_bytes()
    target = "" if out == "" else str(tiny_dir / out if out == "test.csv" else tmp_path / out)
    assert main(["submit", "--data-dir", str(tiny_dir), "--out", target]) == 2
    message = capsys.readouterr().err
    assert message.startswith("error: ") and "Traceback" not in message
    assert (tiny_dir / "test.csv").read_bytes() == before
    assert (tmp_path / "link.csv").is_symlink() and (tmp_path / "a_folder").is_dir()
    assert not (tmp_path / "fifo.csv").is_file()


def test_a_full_disk_is_an_error_naming_the_submission(tiny_dir, tmp_path, monkeypatch, capsys):
    import errno

    def full(self, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    folder = tmp_path / "out"
    assert main(["submit", "--data-dir", str(tiny_dir), "--out", str(folder / "first.csv")]) == 0
    thresholds = (folder / "first.thresholds.json").rename(folder / "t.json")
    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    assert main(["submit", "--data-dir", str(tiny_dir), "--out", str(folder / "sub.csv"),
                 "--thresholds", str(thresholds)]) == 2
    assert f"could not write {folder / 'sub.csv'}: No space left on device" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["first.csv", "t.json"]


def test_two_runs_on_one_out_cannot_interleave(tiny_dir, tmp_path, monkeypatch):
    from prodmatch.errors import OutputPathError
    from prodmatch.fileio import output_lock

    _no_tuning(monkeypatch)
    out = tmp_path / "submission.csv"
    with output_lock(out):  # as a first run does for its whole length
        with pytest.raises(OutputPathError, match="being written by another run"):
            submit(SubmitOptions(tiny_dir, out))


def test_the_submission_follows_the_rows_actually_in_test_csv(tiny_dir, tmp_path, capsys):
    lines = (tiny_dir / "test.csv").read_text().splitlines()
    head, rest = lines[1].rsplit(",", 1)
    lines[1] = f'{head},"{rest}'  # an opening quote never closed
    lines[5] = lines[5].rsplit(",", 1)[0] + ',"say ""hi"""'  # a later quote would close it, swallowing rows 1-4
    (tiny_dir / "test.csv").write_text("\n".join(lines) + "\n")
    assert main(["submit", "--data-dir", str(tiny_dir), "--out", str(tmp_path / "s.csv")]) == 2
    assert "test.csv, row 0 (line 2), column 'title'" in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()


def test_the_tuning_table_projects_to_the_test_size_not_70000(tmp_path):
    # a 9-row test set used to get a "test 70000" line (the CV table's default) before its own projection
    from tests.conftest import write_tiny_kaggle_dir

    data = write_tiny_kaggle_dir(tmp_path / "data", n_groups=400)  # > 1,000 rows: a size curve is fitted
    logged = []
    submit(SubmitOptions(data, tmp_path / "s.csv"), log=logged.append)
    projections = [line.split()[:2] for line in "\n".join(logged).splitlines() if line.strip().startswith("test ")]
    assert projections and all(projection == ["test", "9:"] for projection in projections)  # size curve, pair model


def _thresholds_with_pair_model(tiny_dir, tmp_path, won: bool):
    """Tune on the tiny train set, then mark the pair model as the CV winner (or not) in the saved file."""
    from prodmatch.artifacts.thresholds import read_thresholds, write_thresholds

    submit(SubmitOptions(tiny_dir, tmp_path / "tuned.csv"), log=lambda line: None)
    thresholds = read_thresholds(tmp_path / "tuned.thresholds.json")
    assert thresholds.kinds == ["union", "pair-model"] and thresholds.by_kind("pair-model").model.model_text
    thresholds.chosen = "pair-model" if won else "union"
    write_thresholds(tmp_path / "pair.json", thresholds)
    return tmp_path / "pair.json"


def test_submit_matches_with_the_pair_model_when_it_won_in_cv(tiny_dir, tmp_path):
    pytest.importorskip("lightgbm")
    path = _thresholds_with_pair_model(tiny_dir, tmp_path, won=True)
    logged = []
    result = submit(SubmitOptions(tiny_dir, tmp_path / "p.csv", thresholds=path), log=logged.append)
    assert set(result.timings.search_seconds) == {"tfidf", "phash", "pair_features", "pair_model"}
    assert result.matcher.kind == "pair-model"
    assert any(line.startswith("for 9 test postings: pair model pair=p>=") for line in logged)
    sub = pd.read_csv(tmp_path / "p.csv")
    assert all(pid in m.split() for pid, m in zip(sub["posting_id"], sub["matches"]))

    logged.clear()
    union = submit(SubmitOptions(tiny_dir, tmp_path / "u.csv", thresholds=path, matcher="union"), log=logged.append)
    assert set(union.timings.search_seconds) == {"tfidf", "phash"} and union.matcher.kind == "union"
    assert any("the union rule as asked; the pair-model rule won in CV" in line for line in logged)


def test_without_lightgbm_or_a_cv_win_the_union_matches(tiny_dir, tmp_path, monkeypatch):
    pytest.importorskip("lightgbm")
    import prodmatch.match.pair.matcher as matcher_module

    won = _thresholds_with_pair_model(tiny_dir, tmp_path, won=True)
    monkeypatch.setattr(matcher_module, "lightgbm_available", lambda: False)
    logged = []
    result = submit(SubmitOptions(tiny_dir, tmp_path / "a.csv", thresholds=won), log=logged.append)
    assert result.matcher.kind == "union"
    assert any("LightGBM is not installed" in line and "matching with the union rule instead of pair-model" in line
               for line in logged)
    monkeypatch.undo()
    lost = _thresholds_with_pair_model(tiny_dir, tmp_path, won=False)
    logged.clear()
    result = submit(SubmitOptions(tiny_dir, tmp_path / "b.csv", thresholds=lost), log=logged.append)
    assert result.matcher.kind == "union" and not any("pair" in line for line in logged if line.startswith("note"))


def test_thresholds_record_what_they_were_tuned_on_and_warn_on_other_data(tiny_dir, tmp_path):
    from tests.conftest import write_tiny_kaggle_dir

    submit(SubmitOptions(tiny_dir, tmp_path / "s.csv", matcher="union"), log=lambda line: None)
    saved = json.loads((tmp_path / "s.thresholds.json").read_text())
    assert len(saved["tuned_on"]["data"]["fingerprint"]) == 16 and saved["tuned_on"]["runs"] == {}
    logged = []
    submit(SubmitOptions(tiny_dir, tmp_path / "same.csv", thresholds=tmp_path / "s.thresholds.json"),
           log=logged.append)
    assert not any(line.startswith("warning:") for line in logged)
    other = write_tiny_kaggle_dir(tmp_path / "other", n_groups=30, seed=5)
    logged.clear()
    submit(SubmitOptions(other, tmp_path / "other.csv", thresholds=tmp_path / "s.thresholds.json"),
           log=logged.append)
    assert any(line.startswith("warning:") and "tuned on another train set" in line for line in logged)


def test_make_submission_prints_one_expected_f1_line(tiny_dir, tmp_path):
    logged = []
    result = submit(SubmitOptions(tiny_dir, tmp_path / "s.csv"), log=logged.append)
    lines = [line for line in "\n".join(logged).splitlines() if line.startswith("expected F1 at ")]
    assert len(lines) == 1 and lines[0].startswith("expected F1 at 9 postings: ")
    assert result.expected is None or lines[0] == result.expected.text()


def test_a_collapsed_result_is_warned_about_and_the_rule_as_tuned_is_tried(tmp_path):
    """A threshold moved so far that every posting is left alone: a warning, then the unmoved rule."""
    import numpy as np

    from prodmatch.artifacts.thresholds import Thresholds, write_thresholds
    from prodmatch.match.policy import MatchPolicy
    from prodmatch.match.size_aware import SizeCurve
    from tests.conftest import write_tiny_kaggle_dir

    data = write_tiny_kaggle_dir(tmp_path / "data", n_groups=60)
    train = DataDir.of(data).read_train()
    train.drop(columns="label_group").to_csv(data / "test.csv", index=False)  # a test of ~180 rows with groups
    recipe = load_recipe("text-phash")
    tuned = MatchPolicy({"tfidf": 0.5, "phash": 1 - 6 / 64}, priority=recipe.priority, min2=False)
    steep = SizeCurve([10.0, 20.0], [tuned, MatchPolicy({"tfidf": np.inf, "phash": np.inf}, priority=recipe.priority,
                                                        min2=False)], ["tfidf", "phash"])
    write_thresholds(tmp_path / "t.json", Thresholds.union_only(recipe, tuned, steep))
    logged = []
    result = submit(SubmitOptions(data, tmp_path / "s.csv", thresholds=tmp_path / "t.json"), log=logged.append)
    assert any("of the" in line and "matched nothing but themselves" in line for line in logged)
    assert any("matching with the rule as tuned instead" in line for line in logged)
    assert sum(1 for n in result.match_counts if n > 1) > 0.5 * len(result.match_counts)
