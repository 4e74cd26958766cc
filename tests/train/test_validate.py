"""Held-out scoring in training: the best cosine threshold of embeddings, and the training-free baselines."""

import numpy as np
import pandas as pd
import pytest

from prodmatch.search.dense import l2_normalize
from prodmatch.train.validate import held_out_score, training_free_score


def test_separable_embeddings_score_one_at_a_threshold_between_the_groups():
    rng = np.random.default_rng(0)
    centres = l2_normalize(np.eye(4, 16, dtype=np.float32))
    labels = np.repeat(np.arange(4), 3)
    embeddings = l2_normalize(centres[labels] + 0.05 * rng.normal(size=(12, 16)).astype(np.float32))
    score = held_out_score(embeddings, labels, with_curve=True)
    assert score["f1"] == pytest.approx(1.0) and 0.1 <= score["threshold"] <= 0.99
    assert len(score["curve"]) == 90  # the cosine grid
    shuffled = held_out_score(embeddings, rng.permutation(labels))
    assert shuffled["f1"] < 0.8
    with pytest.raises(ValueError, match="12 embeddings for 11 labels"):
        held_out_score(embeddings, labels[:-1])


def test_training_free_baselines_use_each_modality_and_its_scale():
    val = pd.DataFrame({"posting_id": list("abcd"), "label_group": [1, 1, 2, 2],
                        "title": ["kopi susu", "kopi susu 1l", "sabun cair", "sabun cair lemon"],
                        "image_phash": ["ffffffffffffffff", "fffffffffffffff0", "0000000000000000", "8000000000000000"]})
    name, score = training_free_score(val, "image")
    assert name == "phash" and score["f1"] == pytest.approx(1.0)
    distance = 64 * (1 - score["threshold"])
    assert abs(distance - round(distance)) < 1e-4 and 0 <= round(distance) <= 16  # whole Hamming distances
    name, score = training_free_score(val, "text")
    assert name == "tfidf" and score["f1"] == pytest.approx(1.0)
