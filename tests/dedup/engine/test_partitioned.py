"""The partitioned path (run in process, no scheduler) gives the single path's candidates, features and edges
exactly, whatever the number of partitions; TF-IDF sources by blocking too."""

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest

from prodmatch.dedup.clustering import edges_from_table, table_positions
from prodmatch.dedup.engine.partition_search import BlockedTfidf, ShardedExactTfidf, candidate_search
from prodmatch.dedup.engine.partitioned import (
    BELOW_FLOOR,
    InProcess,
    candidates_partitioned,
    gather_edges,
    kept_features_partitioned,
    load_partitioned,
    predict_edges_partitioned,
    split_rows,
)
from prodmatch.dedup.sources import choose_sources
from prodmatch.dedup.table import Columns, validate_table
from prodmatch.errors import ArgumentError
from prodmatch.match.pair.matching import pair_candidates, predict_probability
from prodmatch.match.pair.model import fit_pair_model_rounds
from prodmatch.recipes import load_recipe
from prodmatch.search.blocking import BlockingConfig
from prodmatch.search.sources import EmbeddingSource, PhashSource, TfidfSource
from tests.dedup.conftest import make_catalogue

COLUMNS = Columns("id", "name", ("description",), "maker", ("price",), None, None)


@pytest.fixture(scope="module")
def catalogue():
    frame, _ = make_catalogue(80, seed=1)
    table = validate_table(frame, COLUMNS, "catalogue.csv")
    sources = choose_sources(table).recipe.sources
    return table, sources, pair_candidates(table.features(), sources)


def assert_same_candidates(single, found):
    assert np.array_equal(single.table.rows, found.table.rows) and np.array_equal(single.table.cols, found.table.cols)
    assert single.table.scores.keys() == found.table.scores.keys()
    for name in single.table.scores:
        assert np.array_equal(single.table.scores[name], found.table.scores[name])
    assert single.features.names == found.features.names
    differing = [name for i, name in enumerate(single.features.names)
                 if not np.array_equal(single.features.values[:, i], found.features.values[:, i], equal_nan=True)]
    assert differing == []


@pytest.mark.parametrize("partitions", [1, 3, 7])
def test_candidates_and_every_pair_feature_are_the_single_paths(catalogue, partitions):
    table, sources, single = catalogue
    found = candidates_partitioned(InProcess(), load_partitioned(InProcess(), table, sources, partitions))
    assert_same_candidates(single, found)


def test_real_titles(shopee_dir):
    frame = pd.read_csv(shopee_dir / "train.csv", dtype=str, keep_default_na=False).iloc[:3000]
    table = validate_table(frame, Columns("posting_id", "title"), shopee_dir / "train.csv")
    sources = choose_sources(table).recipe.sources
    found = candidates_partitioned(InProcess(), load_partitioned(InProcess(), table, sources, 4))
    assert_same_candidates(pair_candidates(table.features(), sources), found)


def test_edges_above_the_floor_and_reasons_features_are_the_single_paths(catalogue):
    table, sources, single = catalogue
    truth = table.ids.astype(str)
    product = np.array([i.split("x")[0] for i in truth])
    labels = product[single.table.rows] == product[single.table.cols]
    model = fit_pair_model_rounds(single.features, labels, 20, {"min_data_in_leaf": 5})
    edges = edges_from_table(single.table, predict_probability(single.table, single.features, model))
    runner = InProcess()
    loaded = load_partitioned(runner, table, sources, 4)
    floor = 0.3
    got, n_edges = gather_edges(predict_edges_partitioned(runner, loaded, model, floor), len(table))
    assert n_edges == len(edges)
    above = edges.select(edges.score >= np.float32(floor))
    in_got = got.score >= np.float32(floor)
    assert np.array_equal(got.a[in_got], above.a) and np.array_equal(got.b[in_got], above.b)
    assert np.array_equal(got.score[in_got], above.score)
    below = np.flatnonzero(edges.score < np.float32(floor))
    best_below = np.sort(below[np.lexsort((edges.b[below], edges.a[below], -edges.score[below]))][:BELOW_FLOOR])
    # each partition returns its best few below: the overall best few are among them
    assert set(zip(edges.a[best_below], edges.b[best_below])) <= set(zip(got.a[~in_got], got.b[~in_got]))
    kept = above.select(np.arange(0, len(above), 3))
    parts = kept_features_partitioned(runner, loaded, kept)
    wanted = single.features.take(table_positions(single.table, kept.a, kept.b))
    for positions, features in parts:
        assert np.array_equal(features.values, wanted.values[positions], equal_nan=True)
    assert sorted(np.concatenate([p for p, _ in parts]).tolist()) == list(range(len(kept)))


# tight caps: most keys' lists are cut, and a list cut per partition would differ from the table's
TIGHT = {"cap": 8, "candidates": 10, "pair_tokens": 4, "pair_candidates": 10}


@pytest.mark.parametrize("blocking", [{}, TIGHT], ids=["dedup-large", "tight-caps"])
def test_blocked_sources_give_the_single_paths_candidates_and_features(shopee_dir, blocking):
    frame = pd.read_csv(shopee_dir / "train.csv", dtype=str, keep_default_na=False).iloc[:2000]
    table = validate_table(frame, Columns("posting_id", "title"), shopee_dir / "train.csv")
    spec = copy.deepcopy(load_recipe("dedup-large").spec)
    for source in spec["sources"]:
        source["blocking"] = dict(blocking)
    sources = choose_sources(table, spec).recipe.sources
    assert [type(candidate_search(s)) for s in sources] == [BlockedTfidf, BlockedTfidf]
    features = table.features()
    single = pair_candidates(features, sources)
    found = candidates_partitioned(InProcess(), load_partitioned(InProcess(), table, sources, 3))
    assert_same_candidates(single, found)
    if blocking == TIGHT:  # blocking is at work: the exact top-k of the same source proposes other pairs
        blocked, exact = (s.search(features) for s in (sources[0], dataclasses.replace(sources[0], blocking=None)))
        assert set(zip(blocked.rows, blocked.cols)) != set(zip(exact.rows, exact.cols))


def test_sources_without_a_partitioned_plan_are_refused_in_one_line():
    assert isinstance(candidate_search(TfidfSource(blend=None)), ShardedExactTfidf)
    assert isinstance(candidate_search(TfidfSource(blend=None, blocking=BlockingConfig())), BlockedTfidf)
    for source, what in ((TfidfSource(), "neighbourhood-blended"),
                         (TfidfSource(blocking=BlockingConfig()), "neighbourhood-blended"),
                         (PhashSource(), "phash source"),
                         (EmbeddingSource("minilm", ["minilm"]), "embedding source")):
        with pytest.raises(ArgumentError, match=f"{what}.*--engine single"):
            candidate_search(source)


def test_rows_split_into_equal_nonempty_ranges():
    assert split_rows(10, 3) == [(0, 3), (3, 7), (7, 10)]
    assert split_rows(2, 5) == [(0, 1), (1, 2)]
    assert split_rows(5, 1) == [(0, 5)]
