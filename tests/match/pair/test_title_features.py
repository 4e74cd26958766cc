"""Title pair features, recomputed by hand on a few titles: quantities, numbers and codes that disagree,
token overlap, rarity."""

import numpy as np
import pytest

import prodmatch.match.pair.title_features as tf
from prodmatch.data.titles import clean_titles
from prodmatch.match.pair.title_features import classify_tokens, normalised_idf, title_pair_features, token_matrix

TITLES = clean_titles([
    "Kopi Susu 100 ml",      # 0
    "kopi susu 200ml",       # 1: same words, another quantity
    "susu kopi 100ml",       # 2: same as 0, other order
    "HP Samsung A52 128GB",  # 3
    "hp samsung a72 128gb",  # 4: another model code
    "",                      # 5: empty title
])


def features_of(pairs):
    rows = np.array([a for a, _ in pairs], dtype=np.int64)
    cols = np.array([b for _, b in pairs], dtype=np.int64)
    return title_pair_features(TITLES, rows, cols)


def test_tokens_are_classified_as_quantities_numbers_and_codes():
    classes = classify_tokens(["100ml", "4.5m", "2pcs", "128", "2.5", "a52", "rx580", "kopi", "ml"])
    assert classes.quantity.tolist() == [True, True, True, False, False, False, False, False, False]
    assert classes.number.tolist() == [False, False, False, True, True, False, False, False, False]
    assert classes.code.tolist() == [False, False, False, False, False, True, True, False, False]
    assert classes.n_units == 3 and classes.unit_of[:3].tolist() == [0, 1, 2]


def test_decimals_keep_their_unit_as_one_token():
    _, vocabulary = token_matrix(["botol 1.5l", "kabel 4.5m"])
    assert {"1.5l", "4.5m"} <= set(vocabulary)


def test_a_quantity_that_disagrees_is_a_conflict_and_a_unit_mismatch():
    f = features_of([(0, 1), (0, 2)])
    assert f["quantity.conflict"].tolist() == [1.0, 0.0]
    assert f["quantity.unit_mismatch"].tolist() == [1.0, 0.0]  # both say ml, with other numbers
    assert f["quantity.shared"].tolist() == [0.0, 1.0]
    assert f["title.jaccard"].tolist() == pytest.approx([2 / 4, 1.0])  # {kopi, susu} of {kopi, susu, 100ml, 200ml}
    assert f["title.first_token_same"].tolist() == [1.0, 0.0]  # kopi/kopi, kopi/susu


def test_model_codes_that_disagree_are_a_conflict():
    f = features_of([(3, 4)])
    assert f["code.conflict"].tolist() == [1.0] and f["code.n_a"].tolist() == [1.0]
    assert f["quantity.shared"].tolist() == [1.0]  # 128gb on both sides
    assert f["quantity.conflict"].tolist() == [0.0]


def test_idf_is_normalised_by_the_number_of_titles():
    tokens, vocabulary = token_matrix(TITLES)
    idf = normalised_idf(tokens)
    n = len(TITLES)
    kopi = vocabulary.index("kopi")  # in 3 titles
    assert idf[kopi] == pytest.approx(np.log((1 + n) / (1 + 3)) / np.log(1 + n))


def test_shared_rarity_and_cosine_by_hand():
    tokens, vocabulary = token_matrix(TITLES)
    idf = dict(zip(vocabulary, normalised_idf(tokens)))
    f = features_of([(0, 1)])
    assert f["title.shared_max_idf"][0] == pytest.approx(max(idf["kopi"], idf["susu"]))
    assert f["title.only_a_max_idf"][0] == pytest.approx(idf["100ml"])
    assert f["title.only_b_max_idf"][0] == pytest.approx(idf["200ml"])
    a = np.array([idf["kopi"], idf["susu"], idf["100ml"], 0.0])
    b = np.array([idf["kopi"], idf["susu"], 0.0, idf["200ml"]])
    assert f["title.idf_cosine"][0] == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b), rel=1e-5)
    assert f["title.length_ratio"][0] == pytest.approx(len(TITLES[1]) / len(TITLES[0]))


def test_an_empty_title_shares_nothing():
    f = features_of([(5, 0), (5, 5)])
    assert f["title.jaccard"].tolist() == [0.0, 0.0] and f["title.first_token_same"].tolist() == [0.0, 0.0]
    assert f["title.n_tokens_a"].tolist() == [0.0, 0.0]


def test_features_do_not_depend_on_the_chunk_size(monkeypatch):
    pairs = [(a, b) for a in range(len(TITLES)) for b in range(len(TITLES))]
    whole = features_of(pairs)
    monkeypatch.setattr(tf, "CHUNK", 4)
    chunked = features_of(pairs)
    for name, values in whole.items():
        np.testing.assert_allclose(chunked[name], values, err_msg=name)


def test_pairs_must_be_int64():
    with pytest.raises(TypeError, match="int64"):
        title_pair_features(TITLES, np.array([0], np.int32), np.array([1], np.int32))


def test_the_reverse_pairs_give_the_second_side_without_computing_it():
    pairs = [(a, b) for a in range(len(TITLES)) for b in range(len(TITLES))]
    reverse = np.array([pairs.index((b, a)) for a, b in pairs], dtype=np.int64)
    rows = np.array([a for a, _ in pairs], dtype=np.int64)
    cols = np.array([b for _, b in pairs], dtype=np.int64)
    with_reverse = title_pair_features(TITLES, rows, cols, reverse)
    for name, values in features_of(pairs).items():
        np.testing.assert_array_equal(with_reverse[name], values, err_msg=name)
