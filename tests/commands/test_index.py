"""``prodmatch index build|search|eval|compare`` end to end on a tiny visual-search folder, through the cli;
bad input as one ``error:`` line with exit 2."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from prodmatch.cli import main
from prodmatch.commands import index as index_command
from prodmatch.visual import registry
from prodmatch.visual.folder import read_evaluation, read_results
from prodmatch.visual.layout import VisualSearchDir
from prodmatch.visual.metrics import MAR_K, retrieval_scores

TINY_MODEL = ["--backbone", "test_efficientnet", "--pretrained", "none", "--image-size", "32"]
QUIET = ["--no-progress", "--num-workers", "0"]


@pytest.fixture(scope="module")
def visual_dir(tmp_path_factory):
    from prodmatch.visual.demo import generate_visual_demo

    out = tmp_path_factory.mktemp("visual") / "demo"
    generate_visual_demo(out, n_products=12, seed=3, image_size=40, query_share=0.4)
    return out


@pytest.fixture(scope="module")
def built(visual_dir, tmp_path_factory):
    index = tmp_path_factory.mktemp("index") / "index"
    assert main(["index", "build", "--data-dir", str(visual_dir), "--out", str(index), "--shard-rows", "8",
                 *TINY_MODEL, *QUIET]) == 0
    return index


def test_search_then_eval_of_its_results_rescore_the_file_by_hand(visual_dir, built, tmp_path, capsys):
    results = tmp_path / "results.csv"
    assert main(["index", "search", "--index", str(built), "--data-dir", str(visual_dir), "--out", str(results),
                 *QUIET]) == 0
    data = VisualSearchDir.of(visual_dir).read(require_ground_truth=True)
    query_ids, positions = read_results(results, data.index["id"].to_numpy(), MAR_K)
    assert query_ids.tolist() == data.queries["id"].tolist() and (positions >= 0).all()  # 10 per query

    capsys.readouterr()
    assert main(["index", "eval", "--results", str(results), "--data-dir", str(visual_dir)]) == 0
    printed = capsys.readouterr().out
    expected = retrieval_scores(positions, data.truth())
    assert f"MAR@10 {expected.mar_at_10:.4f}" in printed and f"recall@10 {expected.recall_at_10:.3f}" in printed


def test_eval_json_and_compare_table(visual_dir, built, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["index", "eval", "--index", str(built), "--data-dir", str(visual_dir), "--latency-queries", "2",
                 "--json", str(out), *QUIET]) == 0
    report = read_evaluation(out)
    assert [row["kind"] for row in report["rows"]] == ["exact", "lsh"]
    assert report["n_queries"] == len(VisualSearchDir.of(visual_dir).read_queries())

    capsys.readouterr()
    assert main(["index", "compare", f"a={out}", f"b={out}"]) == 0
    table = capsys.readouterr().out.splitlines()
    exact, lsh = report["rows"]
    for name in ("a", "b"):
        line = next(line for line in table if line.startswith(f"{name} "))
        assert line.split() == [name, "none", f"{exact['mar_at_10']:.4f}", f"{lsh['mar_at_10']:.4f}",
                                f"{exact['recall_at_10']:.4f}", f"{lsh['recall_at_10']:.4f}"]


def test_compare_refuses_evaluations_of_other_query_sets(tmp_path, capsys):
    row = {"kind": "exact", "category": "none", "mar_at_10": 0.5, "recall_at_10": 0.5}
    for name, n in (("a", 10), ("b", 11)):
        (tmp_path / f"{name}.json").write_text(json.dumps(
            {"format": "prodmatch-visual-eval/1", "rows": [{**row, "n_queries": n}]}))
    assert main(["index", "compare", f"a={tmp_path / 'a.json'}", f"b={tmp_path / 'b.json'}"]) == 2
    assert "different query sets ([10, 11] queries)" in capsys.readouterr().err


@pytest.fixture
def bad_inputs(visual_dir, built, tmp_path):
    (tmp_path / "not-index").mkdir()
    (tmp_path / "notes.json").write_text('{"rows": []}')
    stranger = tmp_path / "stranger.csv"
    stranger.write_text("query_id,index_ids,scores\nq-unknown,,\n")
    no_truth = tmp_path / "no-truth"
    no_truth.mkdir()
    for name in ("index.csv", "queries.csv"):
        (no_truth / name).write_text((visual_dir / name).read_text())
    bad_level = tmp_path / "bad-level"
    bad_level.mkdir()
    for name in ("index.csv", "queries.csv", "ground_truth.csv"):
        (bad_level / name).write_text((visual_dir / name).read_text())
    index = pd.read_csv(bad_level / "index.csv", dtype=str, keep_default_na=False)
    labelled = int(np.flatnonzero(index["level1"].ne("").to_numpy())[0])
    index.loc[labelled, "level2"] = ""
    index.to_csv(bad_level / "index.csv", index=False)
    return {
        "not an index": (["index", "search", "--index", str(tmp_path / "not-index"), "--data-dir", str(visual_dir),
                          "--out", str(tmp_path / "r.csv"), *QUIET], "is not an index folder"),
        "unknown query": (["index", "eval", "--results", str(stranger), "--data-dir", str(visual_dir)],
                          "stranger.csv, row 0 (line 2), column 'query_id': query 'q-unknown'"),
        "no ground truth": (["index", "eval", "--results", str(stranger), "--data-dir", str(no_truth)],
                            "ground_truth.csv"),
        "partly labelled": (["index", "build", "--data-dir", str(bad_level), "--out", str(tmp_path / "i2"),
                             *TINY_MODEL, *QUIET], f"index.csv, row {labelled} (line {labelled + 2})"),
        "filter without heads": (["index", "eval", "--index", str(built), "--data-dir", str(visual_dir),
                                  "--category", "filter", "--compare", *QUIET], "hierarchical heads"),
        "not an evaluation": (["index", "compare", f"x={tmp_path / 'notes.json'}"], "not an evaluation file"),
        "bad pair": (["index", "compare", "just-a-path.json"], "expected distinct NAME=EVAL.json"),
        "demo size": (["index", "demo", "--out", str(tmp_path / "d"), "--n-products", "1"], "n_products must be >= 2"),
    }


@pytest.mark.parametrize("case", ["not an index", "unknown query", "no ground truth", "partly labelled",
                                  "filter without heads", "not an evaluation", "bad pair", "demo size"])
def test_bad_input_is_one_error_line_and_exit_2(bad_inputs, case, capsys):
    argv, message = bad_inputs[case]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def _options_with_choices(parser: argparse.ArgumentParser, path=()):
    """(action path, option, choices) of every option with choices, sub-actions included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options_with_choices(sub, (*path, name))
        elif action.choices is not None:
            yield path, action.option_strings[0], tuple(action.choices)


def test_every_choice_comes_from_the_registry():
    parser = argparse.ArgumentParser()
    index_command.add_arguments(parser)
    expected = {"--kind": registry.BUILD_KINDS, "--exact-backend": registry.EXACT_BACKENDS,
                "--category": registry.SEARCH_CATEGORY_MODES, "--compare": registry.INDEX_KINDS}
    found = list(_options_with_choices(parser))
    assert {option for _, option, _ in found} == set(expected)  # a new option with choices: add its registry here
    for path, option, choices in found:
        assert choices == expected[option], (path, option)
    defaults = {action.dest: action.default for _, sub in _subparsers(parser) for action in sub._actions}
    assert defaults["shard_rows"] == registry.DEFAULT_SHARD_ROWS and defaults["k"] == MAR_K
    assert tuple(defaults["compare"]) == registry.DEFAULT_COMPARE
    assert defaults["n_products"] == registry.DEMO_N_PRODUCTS


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def test_index_help_loads_neither_torch_nor_sklearn():
    """The parser reads the registry only: no torch, scikit-learn or faiss behind ``index --help``."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    for argv in (["index", "--help"], ["index", "build", "--help"], ["index", "eval", "--help"]):
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "prodmatch", *argv], cwd=REPO_ROOT,
                              env=env, capture_output=True, text=True, timeout=120, check=True)
        loaded = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines()
                  if line.startswith("import time:")}
        assert "usage: prodmatch index" in done.stdout
        assert "prodmatch" in loaded and not loaded & {"torch", "sklearn", "faiss", "timm"}, argv
