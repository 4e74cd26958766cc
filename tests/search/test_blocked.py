import numpy as np
import pandas as pd
import pytest

from prodmatch.data.titles import clean_titles
from prodmatch.search.blending import BlendConfig
from prodmatch.search.blocked import (
    BYTES_PER_CANDIDATE,
    MAX_BLOCK_ROWS,
    MIN_BLOCK_ROWS,
    block_rows_for,
    blocked_topk,
    top_k_grouped,
)
from prodmatch.search.blocking import BlockingConfig, document_frequency
from prodmatch.search.features import Features
from prodmatch.search.neighbours import Neighbours
from prodmatch.search.pair_scores import rowwise_dot
from prodmatch.search.sources import TfidfSource
from prodmatch.search.tfidf import TfidfConfig, sparse_topk, tfidf_matrix

K, MIN_SCORE = 50, 0.2  # the text-phash recipe's tfidf source


def pair_keys(nb: Neighbours) -> np.ndarray:
    return nb.rows * nb.n_index + nb.cols


def triples(nb: Neighbours) -> list[tuple[int, int, float]]:
    return list(zip(nb.rows.tolist(), nb.cols.tolist(), nb.scores.tolist()))


@pytest.fixture(scope="module")
def real_sample(shopee_dir):
    """6,000 real train rows (seeded sample): TF-IDF, labels, the exact top-k."""
    train = pd.read_csv(shopee_dir / "train.csv")
    picked = np.sort(np.random.default_rng(0).choice(len(train), 6000, replace=False))
    rows = train.iloc[picked].reset_index(drop=True)
    matrix = tfidf_matrix(clean_titles(rows["title"]), [TfidfConfig()])
    exact = sparse_topk(matrix, matrix, k=K, min_score=MIN_SCORE)
    return rows, matrix, rows["label_group"].to_numpy(), exact


def recall(exact: Neighbours, fast: Neighbours, labels: np.ndarray) -> tuple[float, float]:
    """Of the pairs exact returns (and of its same-label pairs), the share the fast search returns."""
    hit = np.isin(pair_keys(exact), pair_keys(fast))
    true = labels[exact.rows] == labels[exact.cols]
    return float(hit.mean()), float(hit[true].mean())


def test_block_rows_follow_the_memory_budget_not_the_rows():
    budget = 256 * 2**20
    assert block_rows_for(601, budget) == budget // (601 * BYTES_PER_CANDIDATE) == 3489  # by hand
    previous = MAX_BLOCK_ROWS
    for candidates in (1, 10, 201, 601, 5000, 10**6):
        rows = block_rows_for(candidates, budget)
        assert MIN_BLOCK_ROWS <= rows <= previous  # more candidates per query, fewer queries per block
        assert rows == MIN_BLOCK_ROWS or rows * candidates * BYTES_PER_CANDIDATE <= budget
        assert rows == MAX_BLOCK_ROWS or (rows + 1) * candidates * BYTES_PER_CANDIDATE > budget  # the most that fit
        previous = rows
    assert block_rows_for(601, 2 * budget) == 6978  # twice the budget, twice the rows
    with pytest.raises(ValueError):
        block_rows_for(0)


def test_top_k_grouped_breaks_ties_by_the_lower_column_like_neighbours():
    rows = np.array([0, 0, 0, 0, 1, 1, 3], dtype=np.int64)
    cols = np.array([1, 2, 5, 7, 0, 4, 3], dtype=np.int64)
    scores = np.array([0.5, 0.9, 0.5, 0.5, 0.3, 0.3, 1.0], dtype=np.float32)
    kept = top_k_grouped(rows, scores, 2)
    assert list(zip(rows[kept], cols[kept])) == [(0, 1), (0, 2), (1, 0), (1, 4), (3, 3)]
    reference = Neighbours(rows, cols, scores, 4, 8).top_k(2)
    assert list(zip(reference.rows, reference.cols)) == list(zip(rows[kept], cols[kept]))


def test_with_whole_lists_blocking_is_the_exact_top_k():
    rng = np.random.default_rng(3)
    words = ["aqua", "botol", "600ml", "sepatu", "putih", "kabel", "usb", "type", "c", "murah", "ori", "hitam"]
    titles = [" ".join(rng.choice(words, size=rng.integers(1, 6))) for _ in range(400)] + [""]
    matrix = tfidf_matrix(titles, [TfidfConfig()])
    whole = BlockingConfig(cap=len(titles), candidates=len(titles), pair_tokens=0)  # nothing cut, nothing dropped
    for k, min_score in ((5, 0.0), (K, MIN_SCORE)):
        fast = blocked_topk(matrix, k=k, min_score=min_score, config=whole)
        exact = sparse_topk(matrix, matrix, k=k, min_score=min_score, method="scipy")
        fast, exact = (nb.select(np.lexsort((nb.cols, nb.rows))) for nb in (fast, exact))
        assert [(r, c) for r, c, _ in triples(fast)] == [(r, c) for r, c, _ in triples(exact)]  # ties included
        np.testing.assert_allclose(fast.scores, exact.scores, atol=1e-6)


def test_every_returned_pair_is_a_valid_exactly_scored_pair(real_sample):
    rows, matrix, labels, exact = real_sample
    fast = blocked_topk(matrix, k=K, min_score=MIN_SCORE)
    np.testing.assert_array_equal(fast.scores, rowwise_dot(matrix, fast.rows, fast.cols))  # the source's score_pairs
    assert (fast.scores >= np.float32(MIN_SCORE)).all() and fast.scores.dtype == np.float32
    assert (np.diff(fast.rows) >= 0).all() and np.bincount(fast.rows).max() <= K
    assert len(np.unique(pair_keys(fast))) == len(fast)
    has_terms = np.diff(matrix.indptr) > 0
    assert set(fast.rows[fast.rows == fast.cols].tolist()) == set(np.flatnonzero(has_terms).tolist())
    exact_score = dict(zip(pair_keys(exact).tolist(), exact.scores.tolist()))
    shared = [(s, exact_score[key]) for key, s in zip(pair_keys(fast).tolist(), fast.scores.tolist()) if key in exact_score]
    assert len(shared) > 0.99 * len(fast)
    np.testing.assert_allclose(*np.array(shared).T, atol=1e-6)


def test_recall_against_the_exact_top_k_on_real_titles(real_sample):
    rows, matrix, labels, exact = real_sample
    config = BlockingConfig()
    assert (document_frequency(matrix) > config.cap).sum() > 10  # the caps do cut lists in this sample
    all_pairs, true_pairs = recall(exact, blocked_topk(matrix, k=K, min_score=MIN_SCORE, config=config), labels)
    assert all_pairs >= 0.999 and true_pairs >= 0.999  # measured 1.0000 and 1.0000


def test_pair_keys_find_the_pairs_that_short_token_lists_miss(real_sample):
    rows, matrix, labels, exact = real_sample
    with_pairs = recall(exact, blocked_topk(matrix, k=K, min_score=MIN_SCORE, config=BlockingConfig(cap=10)), labels)
    tokens_only = recall(exact, blocked_topk(matrix, k=K, min_score=MIN_SCORE,
                                             config=BlockingConfig(cap=10, pair_tokens=0)), labels)
    assert with_pairs[0] >= 0.98 and with_pairs[1] >= 0.998  # measured 0.9865 and 0.9991
    assert with_pairs[0] >= tokens_only[0] + 0.03  # measured 0.9424 without pair keys


def test_results_do_not_depend_on_blocks_query_order_or_the_run(real_sample):
    rows, matrix, labels, exact = real_sample
    config = BlockingConfig(cap=20)
    whole = blocked_topk(matrix, k=K, min_score=MIN_SCORE, config=config)
    assert triples(blocked_topk(matrix, k=K, min_score=MIN_SCORE, config=config)) == triples(whole)  # deterministic
    small_blocks = blocked_topk(matrix, k=K, min_score=MIN_SCORE, config=BlockingConfig(cap=20, block_rows=97))
    assert triples(small_blocks) == triples(whole)
    some = np.random.default_rng(1).choice(matrix.shape[0], 300, replace=False)  # unsorted query rows
    part = blocked_topk(matrix, k=K, min_score=MIN_SCORE, config=config, rows=some)
    assert (np.diff(part.rows) >= 0).all()
    assert triples(part) == triples(whole.select(np.isin(whole.rows, some)))


def test_empty_titles_get_no_pairs():
    matrix = tfidf_matrix(["", "aqua botol", "", "aqua botol 600ml"], [TfidfConfig()])
    found = blocked_topk(matrix, k=5, min_score=0.0)
    assert set(found.rows.tolist()) == {1, 3} and set(found.cols.tolist()) == {1, 3}
    none = blocked_topk(tfidf_matrix(["", " "], [TfidfConfig()]), k=5)
    assert len(none) == 0 and none.n_query == 2


def test_tfidf_source_with_blocking_blends_and_scores_like_the_exact_one(real_sample):
    rows, matrix, labels, exact = real_sample
    features = Features.from_frame(rows)
    exact_source = TfidfSource(k=K, min_score=MIN_SCORE, blend=BlendConfig(top_m=2, min_score=0.5))
    blocked_source = TfidfSource(k=K, min_score=MIN_SCORE, blend=BlendConfig(top_m=2, min_score=0.5),
                                 blocking=BlockingConfig())
    exact_found, _ = exact_source.search_with_vectors(features)
    found, vectors = blocked_source.search_with_vectors(features)
    np.testing.assert_array_equal(found.scores, blocked_source.score_pairs(vectors, found.rows, found.cols))
    all_pairs, true_pairs = recall(exact_found, found, labels)
    assert all_pairs >= 0.998 and true_pairs >= 0.999  # blending included; measured 1.0000 and 1.0000
