import json

import numpy as np
import pytest

from prodmatch.artifacts.cv_folder import read_candidates
from prodmatch.artifacts.thresholds import read_thresholds
from prodmatch.cv import run_cv, save_cv
from prodmatch.data import DataDir, assign_folds
from prodmatch.recipes import load_recipe


def test_cv_on_tiny_data_searches_within_folds_and_saves_everything(tiny_dir, tmp_path):
    train = DataDir.of(tiny_dir).read_train()
    folds = assign_folds(train, 3)["fold"].to_numpy()
    result = run_cv(train, folds, load_recipe("text-phash"))
    table = result.by_kind("union").table
    assert (folds[table.rows] == folds[table.cols]).all()  # no pair crosses folds
    assert [r["source"] for r in result.by_kind("union").rows] == ["tfidf", "phash", "union", "union+min2"]
    union = {r["source"]: r["f1"] for r in result.rows}
    assert union["union+min2"] >= union["union"] >= max(union["tfidf"], union["phash"]) - 1e-9
    assert union["union+min2"] > 0.9  # paraphrased titles + near-identical phashes are easy
    assert [m.kind for m in result.matchers] == ["union", "pair-model"]
    assert result.by_kind("union").nested.f1 <= union["union+min2"] + 1e-9

    out = save_cv(result, tmp_path / "cv")
    summary = json.loads((out / "cv.json").read_text())
    assert summary["score"]["f1"] == pytest.approx(result.chosen.score.f1)
    assert summary["matchers"][0]["score"]["f1"] == pytest.approx(union["union+min2"])
    thresholds = read_thresholds(out / "thresholds.json")
    assert thresholds.by_kind("union").policy == result.by_kind("union").policy
    assert thresholds.recipe.name == "text-phash" and thresholds.chosen == result.chosen.kind
    candidates = read_candidates(out / "candidates.npz")  # the chosen rule's out-of-fold table
    assert len(candidates.table) == len(result.chosen.table)
    assert (candidates.posting_ids == train["posting_id"].to_numpy()).all()
    assert {"tfidf", "phash"} <= set(candidates.table.scores)
    curves = json.loads((out / "curves.json").read_text())
    assert set(curves) == {"tfidf", "phash"} and len(curves["tfidf"]) > 10
    oof = (out / "oof_predictions.csv").read_text().splitlines()
    assert oof[0] == "posting_id,fold,matches,f1,precision,recall" and len(oof) == len(train) + 1


def test_fold_count_mismatch_is_an_error(tiny_dir):
    train = DataDir.of(tiny_dir).read_train()
    with pytest.raises(ValueError, match="fold ids"):
        run_cv(train, np.zeros(3, int), load_recipe("text-phash"))


@pytest.mark.realdata
def test_real_data_union_reaches_the_target(shopee_dir, tmp_path):
    """The spine's acceptance figure: text + phash union >= 0.80 at fold size on the real titles."""
    from prodmatch.cli import main

    out = tmp_path / "cv"
    assert main(["cv", "--data-dir", str(shopee_dir), "--recipe", "text-phash", "--out", str(out), "--no-nested",
                 "--no-size-curve"]) == 0
    summary = json.loads((out / "cv.json").read_text())
    rows = {r["source"]: r for r in summary["table"]}
    assert summary["meta"]["n_rows"] == 27060 and 5000 < min(summary["meta"]["fold_sizes"].values())
    assert rows["union+min2"]["f1"] >= 0.80
    assert rows["union+min2"]["f1"] > rows["tfidf"]["f1"] > rows["phash"]["f1"]


def test_size_curve_needs_pools_of_a_useful_size(tmp_path):
    from prodmatch.cv.size_curve import tune_size_curve
    from prodmatch.search.features import Features
    from tests.conftest import write_tiny_kaggle_dir

    small = DataDir.of(write_tiny_kaggle_dir(tmp_path / "small", n_groups=40)).read_train()
    curve, rows = tune_size_curve(Features.from_frame(small), small["label_group"].to_numpy(), load_recipe("text-phash"))
    assert curve is None and rows == []  # ~120 rows: no pool of >= 500 rows to compare with

    big = DataDir.of(write_tiny_kaggle_dir(tmp_path / "big", n_groups=420, seed=3)).read_train()
    curve, rows = tune_size_curve(Features.from_frame(big), big["label_group"].to_numpy(), load_recipe("text-phash"))
    assert [r["pools"] for r in rows] == [2, 1] and curve.sizes == sorted(curve.sizes)
    assert curve.drifting == ["tfidf"] and set(curve.alone[0]) == {"tfidf", "phash"}
    policy = curve.policy_for(70_000)
    assert policy.thresholds["tfidf"] >= curve.policies[-1].thresholds["tfidf"]
    assert policy.thresholds["phash"] == curve.policies[-1].thresholds["phash"]


@pytest.mark.parametrize("name", ["text-phash", "text-phash-char"])
def test_weight_free_builtin_recipes_run(tiny_dir, name):
    train = DataDir.of(tiny_dir).read_train()
    recipe = load_recipe(name)
    assert not recipe.needs_weights and recipe.name == name
    result = run_cv(train, assign_folds(train, 3)["fold"].to_numpy(), recipe, nested=False)
    assert result.score.f1 > 0.9


def test_a_tiny_train_set_says_what_its_score_cannot_tell(tmp_path):
    # one row in one group used to report F1 1.0000 with nothing to say that it means nothing
    import pandas as pd

    train = pd.DataFrame({"posting_id": ["t1"], "image": ["a.jpg"], "image_phash": ["0123456789abcdef"],
                          "title": ["kertas kado"], "label_group": [111]})
    result = run_cv(train, np.zeros(1, int), load_recipe("text-phash"))
    text = result.format_table()
    assert "no label_group among the 1 CV rows has 2 or more postings" in text
    assert "nested estimate skipped: the CV rows are all in one fold" in text
    assert "size curve skipped: 1 rows give 0 pool size(s)" in text
    assert "pair model skipped" in text and "matching uses the union" in text
    out = save_cv(result, tmp_path / "cv")
    assert len(json.loads((out / "cv.json").read_text())["notes"]) == 4


def test_enough_matching_groups_leave_no_note(tiny_dir):
    train = DataDir.of(tiny_dir).read_train()
    result = run_cv(train, assign_folds(train)["fold"].to_numpy(), load_recipe("text-phash"), size_curve=False)
    assert not any("label_group" in note for note in result.notes)
