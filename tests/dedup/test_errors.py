"""Every user mistake is one ``error:`` line and exit status 2, found before any work."""

import pandas as pd
import pytest

from prodmatch.cli import main
from tests.dedup.conftest import COLUMNS


def run(args, capsys):
    code = main(["dedup", *map(str, args)])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


@pytest.fixture
def table(tmp_path):
    frame = pd.DataFrame({"id": ["1", "2", "3"], "name": ["a b", "a c", "d"], "description": ["", "", ""],
                          "maker": ["", "", ""], "price": ["", "1", ""]})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    return path


def write(tmp_path, name, frame):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("case, needle", [
    ("missing column", "missing required column"),
    ("duplicate ids", "duplicate id"),
    ("empty table", "no data rows"),
    ("unknown label id", "which the table does not hold"),
    ("out is a file", "is a file"),
    ("out not empty", "not empty"),
    ("out holds the table", "holds an input"),
    ("no columns", "--id COL --title COL"),
    ("model folder without a model", "model.json not found"),
    ("bad format of table", "CSV or Parquet"),
])
def test_mistakes(case, needle, table, tmp_path, capsys):
    out = tmp_path / "out"
    args = [table, *COLUMNS, "--out", out]
    if case == "missing column":
        args = [table, *COLUMNS, "--text", "nope", "--out", out]
    elif case == "duplicate ids":
        args[0] = write(tmp_path, "d.csv", pd.read_csv(table, dtype=str).assign(id=["1", "1", "2"]))
    elif case == "empty table":
        args[0] = write(tmp_path, "e.csv", pd.read_csv(table, dtype=str).iloc[:0])
    elif case == "unknown label id":
        args += ["--labels", write(tmp_path, "l.csv", pd.DataFrame({"id_a": ["1"], "id_b": ["9"]}))]
    elif case == "out is a file":
        args[-1] = table
    elif case == "out not empty":
        out.mkdir()
        (out / "x").write_text("x")
    elif case == "out holds the table":
        args[-1] = tmp_path
    elif case == "no columns":
        args = [table, "--out", out]
    elif case == "model folder without a model":
        args = [table, "--model", tmp_path, "--out", out]
    elif case == "bad format of table":
        args[0] = tmp_path / "t.xlsx"
    code, err = run(args, capsys)
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err
    assert not out.exists() or case == "out not empty"


def test_score_mistakes(tmp_path, capsys):
    assert main(["score", str(tmp_path), "--labels", str(tmp_path / "none.csv")]) == 2
    assert "clusters.csv not found" in capsys.readouterr().err


def test_labels_and_model_together_are_refused_by_argparse(table, tmp_path, capsys):
    assert main(["dedup", str(table), *COLUMNS, "--labels", str(table), "--model", str(tmp_path), "--out",
                 str(tmp_path / "o")]) == 2
    assert "not allowed with argument --labels" in capsys.readouterr().err
