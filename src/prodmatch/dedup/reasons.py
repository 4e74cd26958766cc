"""Why the pair model matched a pair: the features that pushed its score most, from LightGBM's per-feature
contributions (``pred_contrib``: SHAP values in log-odds; they and the bias sum to the pair's raw score).

A reason reads ``codes.title_a_in_b=1 (+2.31)``: the feature, its value for the pair, and how far it moved the
log-odds. The strongest ``top`` by absolute contribution, strongest first, joined by ``"; "``.
"""

from __future__ import annotations

import numpy as np

from prodmatch.match.pair.features import PairFeatures
from prodmatch.match.pair.model import PREDICT_CHUNK, PairModel

SEPARATOR = "; "


def contributions(model: PairModel, features: PairFeatures) -> np.ndarray:
    """(pairs, features) contributions to the log-odds, in chunks of pairs (the bias column dropped)."""
    if features.names != model.feature_names:
        raise ValueError("the pair features differ from the model's")
    out = np.empty((len(features), len(features.names)), dtype=np.float32)
    for start in range(0, len(features), PREDICT_CHUNK):
        rows = np.ascontiguousarray(features.values[start : start + PREDICT_CHUNK])
        part = model.booster.predict(rows, num_iteration=model.rounds, pred_contrib=True)
        out[start : start + len(rows)] = np.asarray(part)[:, :-1]
    return out


def format_value(value: float) -> str:
    if np.isnan(value):
        return "missing"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"


def top_reasons(model: PairModel, features: PairFeatures, top: int = 3) -> list[str]:
    """One text per pair (see the module doc)."""
    if len(features) == 0 or top <= 0:
        return [""] * len(features)
    contribution = contributions(model, features)
    strongest = np.argsort(-np.abs(contribution), axis=1, kind="stable")[:, :top]
    names = features.names
    out = []
    for row, columns in enumerate(strongest):
        out.append(SEPARATOR.join(f"{names[c]}={format_value(features.values[row, c])} ({contribution[row, c]:+.2f})"
                                  for c in columns))
    return out
