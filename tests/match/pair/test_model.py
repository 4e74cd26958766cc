"""The LightGBM pair model: fits, predicts, ships as plain data, refuses features it was not trained on."""

import numpy as np
import pytest

from prodmatch.match.pair.features import PairFeatures
from prodmatch.match.pair.model import PairModel, fit_pair_model, fit_pair_model_rounds, lightgbm_available

pytest.importorskip("lightgbm")


def separable(n: int, seed: int):
    rng = np.random.default_rng(seed)
    score = rng.random(n).astype(np.float32)
    noise = rng.random(n).astype(np.float32)
    labels = score + 0.1 * rng.standard_normal(n) > 0.5
    return PairFeatures(["score", "noise"], np.c_[score, noise].astype(np.float32)), labels


def test_the_model_learns_the_informative_feature():
    train, train_labels = separable(3000, 0)
    valid, valid_labels = separable(1000, 1)
    model = fit_pair_model(train, train_labels, valid, valid_labels, max_rounds=200)
    test = PairFeatures(["score", "noise"], np.float32([[0.05, 0.5], [0.95, 0.5]]))
    low, high = model.predict(test)
    assert low < 0.2 < 0.8 < high
    shares = model.importances()
    assert list(shares) == ["score", "noise"] and sum(shares.values()) == pytest.approx(1.0)
    assert 1 <= model.rounds <= 200


def test_a_saved_model_predicts_the_same():
    train, labels = separable(2000, 2)
    model = fit_pair_model_rounds(train, labels, rounds=15)
    again = PairModel.from_dict(model.as_dict())
    assert again.rounds == model.rounds == 15
    np.testing.assert_array_equal(again.predict(train), model.predict(train))


def test_features_must_match_the_model():
    train, labels = separable(500, 3)
    model = fit_pair_model_rounds(train, labels, rounds=3)
    with pytest.raises(ValueError, match="order differs"):
        model.predict(PairFeatures(["noise", "score"], train.values[:, ::-1].copy()))
    with pytest.raises(ValueError, match="missing"):
        model.predict(PairFeatures(["score"], train.values[:, :1].copy()))


def test_labels_must_be_bool():
    train, labels = separable(100, 4)
    with pytest.raises(TypeError, match="bool"):
        fit_pair_model_rounds(train, labels.astype(np.float32), rounds=2)


def test_lightgbm_is_detected():
    assert lightgbm_available()
