"""``prodmatch dedup`` end to end on a small synthetic catalogue: train with labels, apply the model to other
products, score; outputs as documented."""

import json

import pandas as pd
import pytest

from prodmatch.cli import main
from tests.dedup.conftest import COLUMNS

pytest.importorskip("lightgbm")


@pytest.fixture(scope="module")
def trained(catalogue, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "train"
    code = main(["dedup", str(catalogue["train"]), *COLUMNS, "--labels", str(catalogue["train_pairs"]),
                 "--out", str(out), "--format", "parquet"])
    assert code == 0
    return out


def test_training_writes_pairs_clusters_report_and_model(trained, catalogue):
    assert {p.name for p in trained.iterdir()} == {"pairs.csv", "pairs.parquet", "clusters.csv", "clusters.parquet",
                                                   "dedup.json", "report.html", "model.json", "catalogue.parquet"}
    table = pd.read_csv(catalogue["train"], dtype=str)
    clusters = pd.read_csv(trained / "clusters.csv", dtype=str)
    assert clusters["id"].tolist() == table["id"].tolist()
    pairs = pd.read_csv(trained / "pairs.csv", dtype={"id_a": str, "id_b": str})
    assert list(pairs.columns) == ["id_a", "id_b", "probability", "reasons"]
    assert pairs["probability"].is_monotonic_decreasing and pairs["reasons"].str.contains(r"\(\+").all()
    assert pd.read_parquet(trained / "pairs.parquet").equals(pd.read_csv(trained / "pairs.csv", dtype=pairs.dtypes.to_dict()))
    # every kept pair sits in one cluster
    cluster_of = dict(zip(clusters["id"], clusters["cluster_id"]))
    assert all(cluster_of[a] == cluster_of[b] for a, b in zip(pairs["id_a"], pairs["id_b"]))
    summary = json.loads((trained / "dedup.json").read_text())
    assert summary["mode"] == "trained" and summary["score"]["pairwise"]["f1"] > 0.8
    assert summary["tuning"]["nested"]["f1"] > 0.7
    html = (trained / "report.html").read_text()
    assert "Pairwise F1 (out of fold)" in html and "Row-wise F1" in html and "http" not in html.split("<body>")[1]


def test_the_model_applies_to_other_products_and_scores(trained, catalogue, tmp_path, capsys):
    out = tmp_path / "applied"
    assert main(["dedup", str(catalogue["test"]), "--model", str(trained), "--out", str(out)]) == 0
    assert (out / "model.json").read_text() == (trained / "model.json").read_text()
    capsys.readouterr()
    assert main(["score", str(out), "--labels", str(catalogue["test_pairs"]), "--json", str(tmp_path / "s.json")]) == 0
    printed = capsys.readouterr().out
    assert "pairwise F1" in printed
    score = json.loads((tmp_path / "s.json").read_text())
    assert score["pairwise"]["f1"] > 0.8 and score["row_f1"] > 0.8


def test_clean_clean_matches_only_across_shops(catalogue, tmp_path):
    out = tmp_path / "clean"
    assert main(["dedup", str(catalogue["train"]), *COLUMNS, "--source", "shop", "--one-to-one", "--labels",
                 str(catalogue["train_pairs"]), "--out", str(out)]) == 0
    table = pd.read_csv(catalogue["train"], dtype=str).set_index("id")
    pairs = pd.read_csv(out / "pairs.csv", dtype=str)
    assert len(pairs) and (table.loc[pairs["id_a"], "shop"].to_numpy() != table.loc[pairs["id_b"], "shop"].to_numpy()).all()
    assert not pd.concat([pairs["id_a"], pairs["id_b"]]).duplicated().any()  # one-to-one
    assert json.loads((out / "model.json").read_text())["clean_clean"] is True


def test_add_matches_new_records_against_the_kept_catalogue(trained, catalogue, tmp_path, capsys):
    test = pd.read_csv(catalogue["test"], dtype=str, keep_default_na=False)
    new_rows = test["id"].str.endswith("x1")  # the second listing of each product arrives later
    test[~new_rows].to_csv(tmp_path / "old.csv", index=False)
    test[new_rows].to_csv(tmp_path / "new.csv", index=False)
    assert main(["dedup", str(tmp_path / "old.csv"), "--model", str(trained), "--out", str(tmp_path / "cat")]) == 0
    assert main(["dedup", "add", str(tmp_path / "new.csv"), "--model", str(tmp_path / "cat"), "--out",
                 str(tmp_path / "cat2")]) == 0
    clusters = pd.read_csv(tmp_path / "cat2" / "clusters.csv", dtype=str)
    assert sorted(clusters["id"]) == sorted(test["id"])
    summary = json.loads((tmp_path / "cat2" / "dedup.json").read_text())
    assert summary["mode"] == "added" and summary["details"]["new_pairs"] > 0
    old_pairs = pd.read_csv(tmp_path / "cat" / "pairs.csv", dtype=str)
    new_pairs = pd.read_csv(tmp_path / "cat2" / "pairs.csv", dtype=str)
    kept = set(zip(old_pairs["id_a"], old_pairs["id_b"])) & set(zip(new_pairs["id_a"], new_pairs["id_b"]))
    assert len(kept) == summary["details"]["kept_pairs"] >= len(old_pairs) // 2
    capsys.readouterr()
    assert main(["score", str(tmp_path / "cat2"), "--labels", str(catalogue["test_pairs"])]) == 0
    assert float(capsys.readouterr().out.split("pairwise F1 ")[1].split()[0]) > 0.8
    # the same records again: their ids are in the catalogue now
    assert main(["dedup", "add", str(tmp_path / "new.csv"), "--model", str(tmp_path / "cat2"), "--out",
                 str(tmp_path / "cat3")]) == 2
    assert "already in the catalogue" in capsys.readouterr().err


def test_an_output_that_collapsed_is_a_warning_not_silence(trained, tmp_path, capsys):
    words = ["".join(chr(97 + (i * 7 + j * 3) % 26) for j in range(6)) for i in range(40)]
    pd.DataFrame({"id": [f"z{i}" for i in range(40)], "name": words, "description": "", "maker": "",
                  "price": ""}).to_csv(tmp_path / "other.csv", index=False)
    assert main(["dedup", str(tmp_path / "other.csv"), "--model", str(trained), "--out", str(tmp_path / "o")]) == 0
    printed = capsys.readouterr().out
    assert "warning: the output collapsed" in printed
    assert any("collapsed" in w for w in json.loads((tmp_path / "o" / "dedup.json").read_text())["warnings"])


def test_a_much_larger_table_is_warned_about():
    from prodmatch.dedup.apply import size_warning

    assert size_warning(1000, 1900) is None and size_warning(1000, 600) is None
    assert "tuned on a table of 1,000" in size_warning(1000, 2500)
    assert size_warning(0, 5000) is None


def test_the_reports_are_self_contained_with_the_sections_of_their_mode(trained, catalogue, tmp_path):
    from tests.report.htmlcheck import parse

    page = parse((trained / "report.html").read_text())
    assert {"summary", "scores", "tuning", "sizes", "features", "examples"} <= set(page.ids)
    assert all(link.startswith("#") for link in page.links) and not page.images
    text = " ".join(page.text)
    assert "Wrong matches" in text and "Missed pairs" in text and "one-to-one" in text
    out = tmp_path / "applied"
    assert main(["dedup", str(catalogue["test"]), "--model", str(trained), "--out", str(out)]) == 0
    text = " ".join(parse((out / "report.html").read_text()).text)
    assert "Least sure matches" in text and "prodmatch score" in text


def test_max_cluster_size_splits_clusters_only_when_asked(trained, catalogue, tmp_path):
    out = tmp_path / "capped"
    assert main(["dedup", str(catalogue["test"]), "--model", str(trained), "--out", str(out), "--max-cluster-size",
                 "2"]) == 0
    clusters = pd.read_csv(out / "clusters.csv", dtype=str)
    assert clusters["cluster_id"].value_counts().max() <= 2
    pairs = pd.read_csv(out / "pairs.csv", dtype=str)
    assert not pd.concat([pairs["id_a"], pairs["id_b"]]).duplicated().any()
    assert json.loads((out / "dedup.json").read_text())["details"]["max_cluster_size"]["max"] == 2
