"""The pair model: gradient-boosted trees (LightGBM) that turn a candidate pair's features into the
probability that both postings sell the same product -- the Shopee winners' second stage.

LightGBM is optional (``pip install prodmatch[pairs]``): without it :func:`lightgbm_available` is False and
prodmatch matches with the union of the sources, as before. A trained model is plain data (the booster as
LightGBM's model text, the feature names, the boosting rounds), so it travels inside ``thresholds.json``.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field

import numpy as np

from prodmatch.match.pair.features import PairFeatures

PAIR_COLUMN = "pair"  # the pair model's column in a candidate table
DEFAULT_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 31,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_bin": 63,
    # one thread: on a small shared machine OpenMP threads that wait for each other cost more than they give
    "num_threads": 1,
    "seed": 0,
    "deterministic": True,
    "force_col_wise": True,
    "verbose": -1,
}
MAX_ROUNDS = 1000
PREDICT_CHUNK = 1 << 18  # pairs handed to LightGBM at once, as a row-major copy of that many rows only
PREDICT_THREADS = min(2, os.cpu_count() or 1)  # prediction splits rows evenly: threads do not wait on each other
EARLY_STOPPING_ROUNDS = 20


def lightgbm_available() -> bool:
    return importlib.util.find_spec("lightgbm") is not None


def _lightgbm():
    try:
        import lightgbm
    except ImportError:
        raise ImportError("the pair model needs LightGBM: pip install 'lightgbm>=4.0' (or prodmatch[pairs]); "
                          "without it use the union (--no-pair-model)") from None
    return lightgbm


@dataclass
class PairModel:
    """A trained booster and what it reads."""

    model_text: str  # LightGBM's model format (Booster.model_to_string)
    feature_names: list[str]
    rounds: int
    params: dict = field(default_factory=dict)
    _booster: object = field(default=None, repr=False, compare=False)

    @property
    def booster(self):
        if self._booster is None:
            self._booster = _lightgbm().Booster(model_str=self.model_text)
        return self._booster

    def predict(self, features: PairFeatures, num_threads: int = PREDICT_THREADS) -> np.ndarray:
        """Probability per pair (float32); the features must be the ones the model was trained on, in order."""
        if features.names != self.feature_names:
            missing = sorted(set(self.feature_names) - set(features.names))
            extra = sorted(set(features.names) - set(self.feature_names))
            raise ValueError(f"pair features differ from the model's: missing {missing}, unexpected {extra}"
                             + ("" if missing or extra else ", order differs"))
        if len(features) == 0:
            return np.empty(0, dtype=np.float32)
        out = np.empty(len(features), dtype=np.float32)
        for start in range(0, len(features), PREDICT_CHUNK):
            rows = np.ascontiguousarray(features.values[start : start + PREDICT_CHUNK])
            out[start : start + len(rows)] = self.booster.predict(rows, num_iteration=self.rounds,
                                                                  num_threads=num_threads)
        return out

    def importances(self) -> dict[str, float]:
        """Total gain per feature, as a share of all gain (sums to 1), highest first."""
        gain = np.asarray(self.booster.feature_importance("gain", iteration=self.rounds), dtype=np.float64)
        share = gain / gain.sum() if gain.sum() > 0 else gain
        order = np.argsort(-share, kind="stable")
        return {self.feature_names[i]: float(share[i]) for i in order}

    def as_dict(self) -> dict:
        return {"format": "lightgbm", "model_text": self.model_text, "feature_names": list(self.feature_names),
                "rounds": int(self.rounds), "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: dict) -> PairModel:
        if data.get("format") != "lightgbm":
            raise ValueError(f"unknown pair model format {data.get('format')!r}")
        return cls(data["model_text"], list(data["feature_names"]), int(data["rounds"]), dict(data.get("params", {})))


def _dataset(lightgbm, features: PairFeatures, labels: np.ndarray, params: dict, reference=None):
    if labels.dtype != np.bool_:
        raise TypeError(f"pair labels must be bool (same label_group), got {labels.dtype}")
    return lightgbm.Dataset(features.values, labels.astype(np.float32), feature_name=features.names,
                            params={"max_bin": params["max_bin"]}, reference=reference, free_raw_data=True)


def fit_pair_model(train: PairFeatures, train_labels: np.ndarray, valid: PairFeatures, valid_labels: np.ndarray,
                   params: dict | None = None, max_rounds: int = MAX_ROUNDS,
                   early_stopping: int = EARLY_STOPPING_ROUNDS) -> PairModel:
    """Boost on ``train`` until the log loss on ``valid`` (other label groups) stops improving."""
    lightgbm = _lightgbm()
    params = {**DEFAULT_PARAMS, **(params or {})}
    train_set = _dataset(lightgbm, train, train_labels, params)
    valid_set = _dataset(lightgbm, valid, valid_labels, params, reference=train_set)
    booster = lightgbm.train(params, train_set, max_rounds, valid_sets=[valid_set],
                             callbacks=[lightgbm.early_stopping(early_stopping, verbose=False)])
    rounds = int(booster.best_iteration or booster.current_iteration())
    return PairModel(booster.model_to_string(num_iteration=rounds), list(train.names), rounds, params)


def fit_pair_model_rounds(train: PairFeatures, train_labels: np.ndarray, rounds: int, params: dict | None = None
                          ) -> PairModel:
    """Boost a fixed number of rounds (the final model, on every fold, with the rounds CV chose)."""
    lightgbm = _lightgbm()
    params = {**DEFAULT_PARAMS, **(params or {})}
    booster = lightgbm.train(params, _dataset(lightgbm, train, train_labels, params), max(int(rounds), 1))
    return PairModel(booster.model_to_string(), list(train.names), int(booster.current_iteration()), params)
