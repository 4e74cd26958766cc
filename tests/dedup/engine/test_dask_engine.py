"""``--engine dask`` on a tiny LocalCluster (two in-process workers): the same pairs, clusters and reasons as
the single process, trained and applied, clean-clean too; the table read through dask.dataframe as the single
path reads it; what it cannot run refused in one line."""

import json

import numpy as np
import pandas as pd
import pytest

from prodmatch.cli import main
from prodmatch.dedup.flow import DedupOptions, run_dedup
from prodmatch.dedup.table import Columns, read_strings
from prodmatch.errors import ArgumentError, InputError
from tests.dedup.conftest import COLUMNS

pytest.importorskip("lightgbm")
pytest.importorskip("distributed")

CATALOGUE = Columns("id", "name", ("description",), "maker", ("price",), None, None)


@pytest.fixture(scope="module")
def engine():
    from prodmatch.dedup.engine import open_engine

    with open_engine("dask", partitions=3, workers=2, processes=False) as opened:
        yield opened


def results(folder):
    return {name: pd.read_csv(folder / name, dtype=str, keep_default_na=False) for name in ("pairs.csv", "clusters.csv")}


def assert_same_results(single, dask):
    one, other = results(single), results(dask)
    for name in one:
        pd.testing.assert_frame_equal(one[name], other[name])


@pytest.fixture(scope="module")
def runs(catalogue, engine, tmp_path_factory):
    root = tmp_path_factory.mktemp("engines")
    trained = DedupOptions(catalogue["train"], root / "single", CATALOGUE, labels=catalogue["train_pairs"])
    run_dedup(trained)
    run_dedup(DedupOptions(catalogue["train"], root / "dask", CATALOGUE, labels=catalogue["train_pairs"]), engine=engine)
    for name, use in (("applied_single", None), ("applied_dask", engine)):
        run_dedup(DedupOptions(catalogue["test"], root / name, model=root / "single"), engine=use)
    return root


def test_training_on_dask_gives_the_single_engines_pairs_and_model(runs):
    assert_same_results(runs / "single", runs / "dask")
    assert (runs / "single" / "model.json").read_text() == (runs / "dask" / "model.json").read_text()
    summary = json.loads((runs / "dask" / "dedup.json").read_text())
    assert summary["details"]["engine"]["name"] == "dask" and summary["details"]["engine"]["workers"] == 2
    assert summary["n_candidate_pairs"] == json.loads((runs / "single" / "dedup.json").read_text())["n_candidate_pairs"]


def test_applying_a_model_on_dask_gives_the_same_pairs_clusters_and_reasons(runs):
    assert_same_results(runs / "applied_single", runs / "applied_dask")
    assert len(results(runs / "applied_dask")["pairs.csv"]) > 20
    single, dask = (json.loads((runs / name / "dedup.json").read_text()) for name in ("applied_single", "applied_dask"))
    assert dask["n_candidate_pairs"] == single["n_candidate_pairs"] and dask["n_pairs"] == single["n_pairs"]
    engine = dask["details"]["engine"]
    assert engine["partitions"] == 3 and all(mb > 0 for mb in engine["worker_peak_rss_mb"].values())


def test_clean_clean_one_to_one_on_dask(catalogue, engine, tmp_path):
    columns = Columns("id", "name", ("description",), "maker", ("price",), None, "shop")
    for name, use in (("single", None), ("dask", engine)):
        run_dedup(DedupOptions(catalogue["train"], tmp_path / name, columns, labels=catalogue["train_pairs"],
                               one_to_one=True), engine=use)
        run_dedup(DedupOptions(catalogue["test"], tmp_path / f"applied_{name}", model=tmp_path / name), engine=use)
    assert_same_results(tmp_path / "single", tmp_path / "dask")
    assert_same_results(tmp_path / "applied_single", tmp_path / "applied_dask")


def test_components_on_dask_are_scipys(engine):
    from prodmatch.dedup.clustering import components

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 300, 250), rng.integers(0, 300, 250)
    keep = a != b
    a, b = np.minimum(a, b)[keep].astype(np.int64), np.maximum(a, b)[keep].astype(np.int64)
    assert np.array_equal(engine.components(300, a, b), components(300, a, b))


def test_the_table_is_read_as_the_single_path_reads_it(engine, tmp_path):
    from prodmatch.dedup.engine.dask_read import read_strings_dask

    frame = pd.DataFrame({"id": ["1", "02", "3"], "name": ["a, b", "", "c \"d\""], "n": [1.5, None, 3]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    for name in ("t.csv", "t.parquet"):
        pd.testing.assert_frame_equal(read_strings_dask(tmp_path / name, engine.session.client),
                                      read_strings(tmp_path / name))
    (tmp_path / "bad.csv").write_bytes(b"id,name\n1,caf\xe9\n")
    with pytest.raises(InputError) as dask_error:
        read_strings_dask(tmp_path / "bad.csv", engine.session.client)
    with pytest.raises(InputError) as single_error:
        read_strings(tmp_path / "bad.csv")
    assert str(dask_error.value) == str(single_error.value) and "\n" not in str(dask_error.value)


def test_zero_label_and_image_sources_are_refused_before_any_work(catalogue, engine, tmp_path):
    with pytest.raises(ArgumentError, match="'minilm' is a embedding source: run it with --engine single"):
        run_dedup(DedupOptions(catalogue["train"], tmp_path / "z", CATALOGUE), engine=engine)
    assert not (tmp_path / "z").exists()


def test_the_command_runs_on_a_local_cluster(catalogue, runs, tmp_path, capsys):
    """Through argparse and a LocalCluster of worker processes (two, as this machine's cores)."""
    out = tmp_path / "cli"
    assert main(["dedup", str(catalogue["test"]), "--model", str(runs / "single"), "--out", str(out),
                 "--engine", "dask", "--partitions", "2", "--reasons", "0"]) == 0
    pairs = pd.read_csv(out / "pairs.csv", dtype=str, keep_default_na=False)
    expected = results(runs / "applied_single")["pairs.csv"]
    pd.testing.assert_frame_equal(pairs[["id_a", "id_b", "probability"]], expected[["id_a", "id_b", "probability"]])
    capsys.readouterr()
    assert main(["dedup", str(catalogue["test"]), "--model", str(runs / "single"), "--out", str(tmp_path / "x"),
                 "--partitions", "2"]) == 2
    assert capsys.readouterr().err.strip() == "error: --scheduler and --partitions are options of --engine dask"
    assert COLUMNS  # the catalogue's column options are the flow tests'


def test_the_large_table_recipe_trains_on_a_local_cluster_as_on_one_process(catalogue, tmp_path, capsys):
    """``--recipe dedup-large`` (TF-IDF by blocking: the blocked plan, its index shared by the search tasks)
    through argparse on a LocalCluster of worker processes: the single engine's pairs, clusters and model."""
    run_dedup(DedupOptions(catalogue["train"], tmp_path / "single", CATALOGUE, labels=catalogue["train_pairs"],
                           recipe="dedup-large"))
    assert main(["dedup", str(catalogue["train"]), *COLUMNS, "--labels", str(catalogue["train_pairs"]), "--recipe",
                 "dedup-large", "--out", str(tmp_path / "dask"), "--engine", "dask", "--partitions", "3",
                 "--reasons", "0"]) == 0
    capsys.readouterr()
    one, other = results(tmp_path / "single"), results(tmp_path / "dask")
    pd.testing.assert_frame_equal(one["clusters.csv"], other["clusters.csv"])
    pd.testing.assert_frame_equal(one["pairs.csv"][["id_a", "id_b", "probability"]],
                                  other["pairs.csv"][["id_a", "id_b", "probability"]])
    assert len(one["pairs.csv"]) > 20 and (tmp_path / "single" / "model.json").read_text() == \
        (tmp_path / "dask" / "model.json").read_text()
    single, dask = (json.loads((tmp_path / name / "dedup.json").read_text()) for name in ("single", "dask"))
    assert dask["details"]["engine"]["name"] == "dask" and dask["recipe"] == single["recipe"] == "dedup-large"
    assert dask["n_candidate_pairs"] == single["n_candidate_pairs"]


def test_an_unreachable_scheduler_is_one_line():
    from prodmatch.dedup.engine.dask_cluster import connect

    with pytest.raises(ArgumentError, match=r"--scheduler tcp://127.0.0.1:9: cannot connect .*leave --scheduler out"):
        connect("tcp://127.0.0.1:9", timeout=2)
