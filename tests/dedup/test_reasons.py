"""The reasons behind a pair's probability: LightGBM's contributions, which sum with the bias to the raw score."""

import numpy as np
import pytest

from prodmatch.dedup.reasons import contributions, format_value, top_reasons
from prodmatch.match.pair.features import PairFeatures
from prodmatch.match.pair.model import fit_pair_model_rounds

lightgbm = pytest.importorskip("lightgbm")


def test_contributions_explain_the_raw_score_and_the_top_one_comes_first():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3)).astype(np.float32)
    y = x[:, 1] > 0.2  # only the second feature matters
    features = PairFeatures(["noise", "signal", "other"], x)
    model = fit_pair_model_rounds(features, y, 30, {"min_data_in_leaf": 5})
    contribution = contributions(model, features.take(np.arange(5)))
    full = model.booster.predict(x[:5], num_iteration=model.rounds, pred_contrib=True)
    raw = model.booster.predict(x[:5], num_iteration=model.rounds, raw_score=True)
    assert np.allclose(full.sum(axis=1), raw, atol=1e-5)
    assert np.allclose(contribution, full[:, :-1], atol=1e-6)
    reasons = top_reasons(model, features.take(np.arange(5)), top=2)
    assert all(r.startswith("signal=") for r in reasons)
    assert reasons[0].count("; ") == 1


def test_values_print_short():
    assert format_value(np.float32(1.0)) == "1" and format_value(0.83412) == "0.834"
    assert format_value(np.nan) == "missing"
