"""Category-aware search: filter or re-rank by predicted category, checked by hand and against brute force."""

import numpy as np
import pytest

from prodmatch.errors import ArgumentError
from prodmatch.search.dense import NumpyBackend
from prodmatch.visual.categories import (
    CategorySearch,
    filter_by_category,
    rerank_by_category,
    search_vectors,
    search_with_categories,
)
from prodmatch.visual.indexes import create_index


def test_category_filter_and_bonus_by_hand():
    scores = np.array([[0.9, 0.8, 0.7, 0.6], [0.9, 0.5, 0.4, -np.inf]], np.float32)
    positions = np.array([[0, 1, 2, 3], [3, 2, 1, -1]])
    index_categories = np.array([5, 6, 5, -1])
    query_categories = np.array([5, -1])
    f_scores, f_positions = filter_by_category(scores, positions, index_categories, query_categories, k=3)
    assert f_positions.tolist() == [[0, 2, -1], [3, 2, 1]]  # query 1 has no category: unchanged
    assert f_scores[0].tolist()[:2] == pytest.approx([0.9, 0.7]) and np.isneginf(f_scores[0, 2])
    b_scores, b_positions = rerank_by_category(scores, positions, index_categories, np.array([6, 5]), k=3, bonus=0.15)
    # query 0: 0.9, 0.8 + 0.15 = 0.95 (category 6), 0.7, 0.6 -> 1, 0, 2; query 1: pos 2 (cat 5) 0.5 + 0.15 = 0.65
    assert b_positions.tolist() == [[1, 0, 2], [3, 2, 1]]
    assert b_scores.tolist() == [pytest.approx([0.95, 0.9, 0.7]), pytest.approx([0.9, 0.65, 0.4])]


def test_search_with_categories_keeps_only_the_query_category(data):
    index = create_index("exact", progress=False).build(data["vectors"])
    _, positions = search_with_categories(index, data["queries"], 10, data["categories"], data["query_categories"])
    _, top40 = NumpyBackend().search(data["queries"], data["vectors"], 40)  # overfetch 4 x k, by brute force
    for query in range(len(top40)):
        in_category = [p for p in top40[query] if data["categories"][p] == data["query_categories"][query]][:10]
        assert positions[query].tolist() == in_category + [-1] * (10 - len(in_category))
    assert (positions >= 0).mean() > 0.5
    with pytest.raises(ValueError, match="unknown category mode"):
        search_with_categories(index, data["queries"], 10, data["categories"], data["query_categories"], mode="x")


def test_category_search_modes_and_what_they_need(data):
    index = create_index("exact", progress=False).build(data["vectors"])
    plain = search_vectors(index, data["queries"], 10)
    assert np.array_equal(plain[1], index.search(data["queries"], 10)[1])
    how = CategorySearch("filter", level=0)
    as_levels = data["categories"][:, None], data["query_categories"][:, None]
    filtered = search_vectors(index, data["queries"], 10, how, as_levels[1], as_levels[0])
    expected = search_with_categories(index, data["queries"], 10, data["categories"], data["query_categories"])
    assert np.array_equal(filtered[1], expected[1])
    with pytest.raises(ArgumentError, match="hierarchical heads"):
        search_vectors(index, data["queries"], 10, how)
    with pytest.raises(ArgumentError, match="unknown category mode 'leaf'"):
        CategorySearch("leaf")
