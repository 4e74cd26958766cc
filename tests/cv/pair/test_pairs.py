"""The pair model in CV: same candidates as the union, every probability out of fold, the union and the pair
model side by side, and the model shipped in thresholds.json."""

import json

import numpy as np
import pytest

import prodmatch.cv.pair.candidates as pairs_module
from prodmatch.artifacts.thresholds import read_thresholds
from prodmatch.cv import run_cv, save_cv
from prodmatch.cv.oof import oof_candidates
from prodmatch.cv.pair.candidates import early_stopping_fold, oof_pair_candidates, oof_pair_model
from prodmatch.cv.pair.tuning import rows_subset
from prodmatch.data import DataDir, assign_folds
from prodmatch.match.pair.matching import proposed_pairs, select_pairs
from prodmatch.recipes import load_recipe
from prodmatch.search.features import Features

pytest.importorskip("lightgbm")


@pytest.fixture
def tiny(tiny_dir):
    train = DataDir.of(tiny_dir).read_train()
    return train, assign_folds(train, 3)["fold"].to_numpy()


def test_the_union_sees_the_same_candidates_with_or_without_pair_features(tiny):
    train, folds = tiny
    features, recipe = Features.from_frame(train), load_recipe("text-phash")
    union, _ = oof_candidates(features, folds, recipe)
    candidates = oof_pair_candidates(features, folds, recipe)
    same = select_pairs(candidates.table, proposed_pairs(candidates.table))
    np.testing.assert_array_equal(same.rows, union.rows)
    np.testing.assert_array_equal(same.cols, union.cols)
    for name in union.sources:
        np.testing.assert_array_equal(same.score(name), union.score(name))
    assert len(candidates.features) == len(candidates.table) >= len(union)
    assert (folds[candidates.table.rows] == folds[candidates.table.cols]).all()


def test_each_fold_is_predicted_by_a_model_fit_without_it(tiny, monkeypatch):
    train, folds = tiny
    candidates = oof_pair_candidates(Features.from_frame(train), folds, load_recipe("text-phash"))
    fits = []
    real_fit = pairs_module.fit_pair_model

    def recording_fit(train_features, train_labels, valid_features, valid_labels, params=None):
        fits.append((len(train_features), len(valid_features)))
        return real_fit(train_features, train_labels, valid_features, valid_labels, params)

    monkeypatch.setattr(pairs_module, "fit_pair_model", recording_fit)
    oof = oof_pair_model(candidates, train["label_group"].to_numpy(), folds)
    table = candidates.table
    pair_fold, others, once = folds[table.rows], table.rows != table.cols, table.rows < table.cols
    expected = [(int((once & (pair_fold != f) & (pair_fold != (f + 1) % 3)).sum()),
                 int((once & (pair_fold == (f + 1) % 3)).sum())) for f in range(3)]
    # fit on the third fold, early-stopped on the next, never the predicted one; each unordered pair once
    assert fits == expected
    assert oof.probability.dtype == np.float32 and (oof.probability[~others] == 1).all()
    assert len(oof.models) == 3 and all(r >= 1 for r in oof.rounds)


def test_fold_bookkeeping():
    assert [early_stopping_fold(f, np.arange(5)) for f in range(5)] == [1, 2, 3, 4, 0]


def test_cv_shows_the_union_and_the_pair_model_side_by_side(tiny, tmp_path):
    train, folds = tiny
    result = run_cv(train, folds, load_recipe("text-phash"))
    union, pair = result.matchers
    assert (union.kind, pair.kind) == ("union", "pair-model") and pair.nested is not None
    sources = [r["source"] for r in result.rows]
    assert sources[:4] == ["tfidf", "phash", "union", "union+min2"] and sources[4:6] == ["pair model", "pair model+min2"]
    text = result.format_table()
    assert "pair model" in text and "nested CV" in text and "top features" in text and "matching with:" in text
    assert (result.chosen is pair) == (pair.nested.f1 > union.nested.f1)
    assert sum(pair.importances.values()) == pytest.approx(1.0)

    out = save_cv(result, tmp_path / "cv")
    summary = json.loads((out / "cv.json").read_text())
    assert summary["format"] == 2 and summary["chosen"] == result.chosen.kind
    assert summary["score"]["f1"] == pytest.approx(result.score.f1)
    assert [m["kind"] for m in summary["matchers"]] == ["union", "pair-model"]
    assert summary["matchers"][0]["score"]["f1"] == pytest.approx(union.score.f1)
    shipped = read_thresholds(out / "thresholds.json")
    assert shipped.chosen == result.chosen.kind and shipped.kinds == ["union", "pair-model"]
    assert shipped.by_kind("union").policy == union.policy  # what matches where LightGBM is missing
    assert shipped.by_kind("pair-model").model.model_text.startswith("tree")
    assert shipped.by_kind("pair-model").matching == pair.matching


def test_no_pair_model_keeps_the_union(tiny):
    train, folds = tiny
    result = run_cv(train, folds, load_recipe("text-phash"), nested=False, matcher="union")
    assert [m.kind for m in result.matchers] == ["union"] and result.thresholds().kinds == ["union"]
    never = load_recipe("text-phash", overrides={"pair_model": {"use": "never"}})
    assert [m.kind for m in run_cv(train, folds, never, nested=False).matchers] == ["union"]


def test_pairs_that_cross_folds_are_refused(tiny):
    train, folds = tiny
    union, _ = oof_candidates(Features.from_frame(train), folds, load_recipe("text-phash"))
    keep_rows = folds == 0
    with pytest.raises(ValueError, match="cross folds"):
        rows_subset(union, np.zeros(len(union), np.float32), keep_rows, np.zeros(len(union), bool))


def test_without_lightgbm_the_cv_is_the_union(tiny, monkeypatch):
    import prodmatch.cv.pair.run as pair_run

    train, folds = tiny
    monkeypatch.setattr(pair_run, "lightgbm_available", lambda: False)
    result = run_cv(train, folds, load_recipe("text-phash"), nested=False, size_curve=False)
    assert result.thresholds().kinds == ["union"] and any("lightgbm is not installed" in n for n in result.notes)


def test_nested_scores_with_no_graph_choice_agree(tiny):
    from prodmatch.cv.pair.tuning import NO_GRAPH, nested_pair_scores

    train, folds = tiny
    labels = train["label_group"].to_numpy()
    candidates = oof_pair_candidates(Features.from_frame(train), folds, load_recipe("text-phash"))
    oof = oof_pair_model(candidates, labels, folds)
    both = nested_pair_scores(candidates.table, oof.probability, labels, folds, (NO_GRAPH,))
    assert both.plain == both.chosen and 0 < both.plain.f1 <= 1
    with pytest.raises(ValueError, match="include NO_GRAPH"):
        nested_pair_scores(candidates.table, oof.probability, labels, folds, ())


def test_the_model_learns_from_all_rows_searched_together_and_is_scored_by_pool_size(tiny):
    from prodmatch.cv.matcher_cv import CVContext, OOFSearch
    from prodmatch.cv.pair.levels import predict_out_of_fold
    from prodmatch.cv.pair.run import run_pair_cv

    train, folds = tiny
    labels, recipe = train["label_group"].to_numpy(), load_recipe("text-phash")
    context = CVContext(Features.from_frame(train), labels, folds, recipe, nested=False, size_curve=False)
    search = OOFSearch(context, with_pair_features=True)
    everything = search.pooled(1)
    assert (folds[everything.table.rows] != folds[everything.table.cols]).any()  # pairs across folds: one pool
    pair = run_pair_cv(search, context)
    assert [level.name for level in pair.levels] == ["folds", "all"]  # too few rows for two pools of >= 500
    assert pair.levels[-1].size == len(labels) and pair.matching.tuned_size == len(labels)
    assert pair.matching.size_slope == 0 and [s for s, _, _ in pair.matching.smaller] == [pair.levels[0].size]
    assert pair.forecast.sizes == [level.size for level in pair.levels]
    # the fold level is the CV's own per-fold search, predicted by each query's fold model
    np.testing.assert_array_equal(pair.levels[0].probability,
                                  predict_out_of_fold(search.pair_candidates, folds, _oof_of(pair, everything, labels, folds)))


def _oof_of(pair, everything, labels, folds):
    return oof_pair_model(everything, labels, folds)


def test_a_single_cv_fold_trains_out_of_group_wise_model_folds(tiny, monkeypatch):
    from prodmatch.cv.pair.candidates import MODEL_FOLDS, model_folds

    train, folds = tiny
    labels = train["label_group"].to_numpy()
    one = np.zeros(len(train), dtype=np.int64)  # e.g. the only fold a trained embedding model covers
    trained_out_of = model_folds(labels, one)
    assert len(np.unique(trained_out_of)) == MODEL_FOLDS
    assert all(len(np.unique(trained_out_of[labels == g])) == 1 for g in np.unique(labels))  # whole groups
    np.testing.assert_array_equal(model_folds(labels, folds), folds)  # three CV folds are used as they are

    candidates = oof_pair_candidates(Features.from_frame(train), one, load_recipe("text-phash"))
    table = candidates.table
    fit_rows = []
    real_fit = pairs_module.fit_pair_model

    def recording_fit(train_features, train_labels, valid_features, valid_labels, params=None):
        fit_rows.append(train_features.values.copy())
        return real_fit(train_features, train_labels, valid_features, valid_labels, params)

    monkeypatch.setattr(pairs_module, "fit_pair_model", recording_fit)
    oof_pair_model(candidates, labels, trained_out_of)
    fold_ids = np.unique(trained_out_of)
    for fold, fitted in zip(fold_ids, fit_rows):
        unseen = (fold, early_stopping_fold(fold, fold_ids))
        allowed = (table.rows < table.cols) & ~np.isin(trained_out_of[table.rows], unseen) \
            & ~np.isin(trained_out_of[table.cols], unseen)
        assert len(fitted) == int(allowed.sum())  # no pair touching the predicted or early-stopping fold; each once
    monkeypatch.undo()
    result = run_cv(train, one, load_recipe("text-phash"), size_curve=False)
    union, pair = result.matchers
    assert pair.nested is None and union.nested is None
    assert (result.chosen is pair) == (pair.score.f1 > union.score.f1)
