"""Pair features of a few postings: every source's exact score for every pair, ranks both ways, title
features alongside."""

import numpy as np
import pandas as pd
import pytest

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.pair.features import PairFeatures, density_levels, pair_features
from prodmatch.match.pair.neighbourhood import with_reverse_pairs
from prodmatch.search.features import Features
from prodmatch.search.scales import COSINE, HAMMING
from prodmatch.search.sources import PhashSource, TfidfSource, search_all_with_vectors

FRAME = pd.DataFrame({
    "posting_id": list("abcde"),
    "title": ["kopi susu 200ml", "kopi susu 200 ml", "sabun cair lemon", "lampu led 10w", "kabel usb hitam"],
    "image_phash": ["ffffffffffffffff", "fffffffffffffff0", "0000000000000000", "00000000000000ff",
                    "0000000000000001"],
})


def computed():
    features = Features.from_frame(FRAME)
    sources = [TfidfSource(blend=None, min_score=0.5), PhashSource(max_distance=8)]
    neighbours, vectors, _ = search_all_with_vectors(sources, features)
    table = with_reverse_pairs(CandidateTable.from_sources(neighbours))
    return table, pair_features(table, features.titles, sources, vectors), vectors


def position(table, a, b):
    return int(np.flatnonzero((table.rows == a) & (table.cols == b))[0])


def test_every_source_scores_every_pair_even_those_it_did_not_propose():
    table, found, vectors = computed()
    # 2 and 3/4 are phash neighbours (d = 8 and 1) but share no word: TF-IDF did not propose them
    at = position(table, 2, 4)
    assert found.column("tfidf.proposed")[at] == 0.0 and found.column("phash.proposed")[at] == 1.0
    assert found.column("tfidf.score")[at] == pytest.approx(0.0)
    assert found.column("phash.score")[at] == pytest.approx(1 - 1 / 64)
    dense = vectors["tfidf"].toarray()
    at = position(table, 0, 1)
    assert found.column("tfidf.score")[at] == pytest.approx(float(dense[0] @ dense[1]), rel=1e-6)
    assert found.column("phash.score")[at] == pytest.approx(1 - bin(0xF).count("1") / 64)


def test_ranks_both_ways_and_gaps_to_the_best():
    table, found, _ = computed()
    at = position(table, 3, 4)
    assert found.column("phash.rank_ab")[at] == 1.0  # for 3: 4 (d=7) before 2 (d=8)
    assert found.column("phash.rank_ba")[at] == 2.0  # for 4: 2 (d=1) before 3 (d=7)
    assert found.column("phash.gap_best_a")[at] == pytest.approx(0.0)
    assert found.column("phash.gap_best_b")[at] == pytest.approx((1 - 1 / 64) - (1 - 7 / 64))
    assert found.column("phash.density0_b")[at] == 1.0  # d <= 6: only 2 for 4
    assert np.isnan(found.column("tfidf.rank_ab")[at])  # not proposed


def test_names_follow_the_sources_then_the_titles():
    _, found, _ = computed()
    assert found.names[0] == "tfidf.score" and found.names.index("phash.score") < found.names.index("title.jaccard")
    assert found.values.dtype == np.float32 and found.values.shape == (len(found), len(found.names))


def test_density_levels_sit_along_the_scale_grid():
    assert density_levels(COSINE) == pytest.approx([0.46, 0.72])  # grid 0.10..0.99: positions 36 and 62 of 89
    assert [HAMMING.distance(level) for level in density_levels(HAMMING)] == pytest.approx([6.0, 11.0])


def test_pair_features_fail_loudly_on_bad_input():
    with pytest.raises(TypeError, match="float32"):
        PairFeatures(["x"], np.zeros((2, 1), np.float64))
    with pytest.raises(ValueError, match="unique"):
        PairFeatures(["x", "x"], np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="same columns"):
        PairFeatures.concat([PairFeatures(["x"], np.zeros((1, 1), np.float32)),
                             PairFeatures(["y"], np.zeros((1, 1), np.float32))])


def test_embedding_sources_give_their_cosine_for_every_pair():
    from prodmatch.search.dense import l2_normalize
    from prodmatch.search.sources import EmbeddingSource

    rng = np.random.default_rng(0)
    text = l2_normalize(rng.standard_normal((5, 8)).astype(np.float32))
    features = Features.from_frame(FRAME, {"text": text})
    sources = [EmbeddingSource("text", ["text"], k=2, min_score=-1.0, backend="numpy"), PhashSource(max_distance=8)]
    neighbours, vectors, _ = search_all_with_vectors(sources, features)
    table = with_reverse_pairs(CandidateTable.from_sources(neighbours))
    found = pair_features(table, features.titles, sources, vectors)
    np.testing.assert_allclose(found.column("text.score"), np.einsum("ij,ij->i", text[table.rows], text[table.cols]),
                               rtol=1e-5, atol=1e-6)
    unproposed = found.column("text.proposed") == 0
    assert unproposed.any() and np.isnan(found.column("text.rank_ab")[unproposed]).all()


def test_fields_beside_the_title_come_last_and_the_title_alone_is_unchanged():
    from prodmatch.search.features import PostingFields

    table, plain, vectors = computed()
    features = Features.from_frame(FRAME)
    assert features.fields is None
    sources = [TfidfSource(blend=None, min_score=0.5), PhashSource(max_distance=8)]
    fields = PostingFields({"description": ["a", "b", "", "c", "d"]}, {"price": np.arange(5, dtype=np.float64)})
    extended = pair_features(table, features.titles, sources, vectors, fields)
    assert extended.names[: len(plain.names)] == plain.names
    assert np.array_equal(extended.values[:, : len(plain.names)], plain.values, equal_nan=True)
    assert extended.names[len(plain.names)].startswith("description.")
