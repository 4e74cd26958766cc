"""Pair features of the fields beside the title: per text field, per number, and model codes across all text."""

import numpy as np
import pytest

from prodmatch.match.pair.field_features import code_tokens, field_pair_features, number_field_features
from prodmatch.search.features import PostingFields

TITLES = ["sony turntable - pslx350h", "sony ps-lx350h belt drive turntable", "bose speaker am53bk", "sony cd player"]
FIELDS = PostingFields({"description": ["belt drive, 33-1/3 rpm", "belt drive turntable", "", "5 disc changer"],
                        "brand": ["", "sony", "bose", "sony"]},
                       {"price": np.array([100.0, 110.0, np.nan, 0.0])})
ROWS = np.array([0, 0, 1, 2], np.int64)
COLS = np.array([1, 3, 3, 3], np.int64)


def test_codes_join_the_parts_of_a_hyphenated_model_number():
    assert code_tokens("sony ps-lx350h/b deck") == ["pslx350h", "pslx350hb", "lx350h"]
    assert code_tokens("33-1/3 rpm, 10/100 switch") == []  # numbers only: no code
    assert "am53bk" in code_tokens("Bose AM53BK")


def test_code_features_find_a_title_code_in_the_other_record():
    out = field_pair_features(TITLES, FIELDS, ROWS, COLS)
    assert out["codes.title_a_in_b"][0] == 1.0 and out["codes.shared"][0] >= 1  # pslx350h on both sides
    assert out["codes.title_a_in_b"][1] == 0.0  # record 0's code is nowhere in record 3
    assert np.isnan(out["codes.title_b_in_a"][2])  # record 3 (cd player) has no code to look for
    assert out["codes.title_conflict"][0] == 0.0
    assert out["codes.shared"][1] == 0.0  # 0 and 3 share no code


def test_text_fields_are_missing_where_either_side_is_empty():
    out = field_pair_features(TITLES, FIELDS, ROWS, COLS)
    assert np.isnan(out["description.jaccard"][3])  # record 2 has no description
    # records 0 and 1: {belt, drive, 33, 1, 3, rpm} vs {belt, drive, turntable}
    assert out["description.jaccard"][0] == pytest.approx(2 / 7)
    assert 0 < out["description.char_cosine"][0] < 1
    # brand "sony" of record 3 is in record 1's title; record 0 has no brand
    assert out["brand.b_in_title_a"][2] == 1.0 and np.isnan(out["brand.a_in_title_b"][0])


def test_numbers_by_hand():
    out = number_field_features("price", FIELDS.numbers["price"], ROWS, COLS)
    assert out["price.log_ratio"][0] == pytest.approx(abs(np.log(100) - np.log(110)), rel=1e-6)
    assert out["price.relative_difference"][0] == pytest.approx(10 / 110, rel=1e-6)
    assert np.isnan(out["price.log_ratio"][1])  # a price of 0 has no logarithm
    assert out["price.relative_difference"][1] == pytest.approx(1.0)
    assert np.isnan(out["price.relative_difference"][3])


def test_every_feature_is_float32_per_pair_and_named_by_its_field():
    out = field_pair_features(TITLES, FIELDS, ROWS, COLS)
    assert all(v.dtype == np.float32 and v.shape == (4,) for v in out.values())
    assert {name.split(".")[0] for name in out} == {"description", "brand", "price", "codes"}
