"""Candidate sources on a handful of postings: what each proposes, and the timed loop over a recipe."""

import numpy as np
import pandas as pd

from prodmatch.search.dense import l2_normalize
from prodmatch.search.features import Features
from prodmatch.search.sources import EmbeddingSource, PhashSource, TfidfSource, search_all


def features(embeddings=None, usable=None) -> Features:
    frame = pd.DataFrame({
        "posting_id": ["a", "b", "c", "d"],
        "title": ["Kopi Susu 200ml", "kopi susu 200 ml", "Sabun cair lemon", "lampu led 10w"],
        "image_phash": ["ffffffffffffffff", "fffffffffffffff0", "0000000000000000", "00000000000000ff"],
    })
    return Features.from_frame(frame, embeddings, usable)


def pairs(neighbours) -> set[tuple[int, int]]:
    return set(zip(neighbours.rows.tolist(), neighbours.cols.tolist()))


def test_tfidf_pairs_the_same_words_after_cleaning():
    found = TfidfSource(blend=None, min_score=0.5).search(features())
    assert {(0, 1), (1, 0)} <= pairs(found) and (0, 2) not in pairs(found)
    assert np.isclose(found.scores[(found.rows == 0) & (found.cols == 1)][0], 1.0)  # "200 ml" cleans to "200ml"


def test_phash_scores_are_one_minus_distance_over_64():
    found = PhashSource(max_distance=8).search(features())
    score = dict(zip(zip(found.rows.tolist(), found.cols.tolist()), found.scores.tolist()))
    assert score[(0, 1)] == 1 - 4 / 64 and score[(2, 3)] == 1 - 8 / 64 and (0, 2) not in score
    assert PhashSource(max_distance=3).search(features()).rows.tolist() == [0, 1, 2, 3]  # only self pairs left


def test_embedding_source_concatenates_and_renormalises():
    image = l2_normalize(np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1]], np.float32))
    text = l2_normalize(np.array([[1, 0], [0, 1], [1, 0], [0, 1]], np.float32))
    source = EmbeddingSource("comb", ["image", "text"], weights=[1.0, 0.0], k=2, min_score=0.0)
    vectors = source.vectors(features({"image": image, "text": text}))
    np.testing.assert_allclose(vectors, np.c_[image, np.zeros_like(text)], atol=1e-6)  # text weighted out
    found = source.search(features({"image": image, "text": text}))
    assert {(0, 1), (1, 0), (2, 3), (3, 2)} <= pairs(found)


def test_rows_without_a_usable_image_get_no_pairs_from_sources_over_that_embedding():
    # grey placeholders of unreadable images are identical: they used to match every other placeholder
    placeholder = l2_normalize(np.ones((1, 2), np.float32))
    image = np.vstack([placeholder, placeholder, placeholder, l2_normalize(np.array([[1, -1]], np.float32))])
    text = l2_normalize(np.array([[1, 0], [1, 0.05], [0, 1], [0, 1]], np.float32))
    usable = {"image": np.array([False, False, True, True])}
    found = {name: pairs(source.search(features({"image": image, "text": text}, usable))) for name, source in
             {"image": EmbeddingSource("image", ["image"], k=4, min_score=-1.0),
              "comb": EmbeddingSource("comb", ["image", "text"], k=4, min_score=-1.0),
              "text": EmbeddingSource("text", ["text"], k=4, min_score=0.9)}.items()}
    assert found["image"] == found["comb"] == {(2, 2), (2, 3), (3, 2), (3, 3)}  # rows 0 and 1 left out
    assert (0, 1) in found["text"]  # an embedding that does not come from the images keeps every row
    unmasked = features({"image": image, "text": text})
    everything = EmbeddingSource("image", ["image"], k=4, min_score=-1.0).search(unmasked)
    assert (0, 1) in pairs(everything)  # without the mask the placeholders match


def test_usable_rows_must_belong_to_an_embedding():
    import pytest

    with pytest.raises(ValueError, match="not an embedding"):
        features({"text": np.eye(4, dtype=np.float32)}, {"image": np.ones(4, bool)})
    subset = features({"image": np.eye(4, dtype=np.float32)}, {"image": np.array([1, 0, 1, 1], bool)}).subset(
        np.array([1, 2]))
    assert subset.usable_rows(["image"]).tolist() == [False, True] and subset.usable_rows(["text"]) is None


def test_search_all_runs_every_source_and_times_it():
    found, seconds = search_all([TfidfSource(blend=None), PhashSource()], features())
    assert list(found) == ["tfidf", "phash"] and set(seconds) == {"tfidf", "phash"}
    assert all(s >= 0 for s in seconds.values())
