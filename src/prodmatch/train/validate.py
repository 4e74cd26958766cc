"""Held-out score of embeddings: the competition F1 at the best cosine threshold.

Neighbours come from :func:`prodmatch.search.dense.dense_neighbours` among the held-out rows only; the
threshold is searched with :func:`prodmatch.match.tuning.tune_source` over the source's grid (cosine
0.10..0.99; phash whole Hamming distances), min2 on, exactly as CV tunes a single source.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.evaluate import PolicyEvaluator
from prodmatch.match.tuning import tune_source
from prodmatch.search.dense import dense_neighbours
from prodmatch.search.features import Features
from prodmatch.search.neighbours import Neighbours
from prodmatch.search.scales import COSINE
from prodmatch.search.sources import PhashSource, TfidfSource


def held_out_score(embeddings: np.ndarray, labels: np.ndarray, source: str = "image", k: int = 50,
                   with_curve: bool = False) -> dict:
    """{"f1", "threshold", "precision", "recall"} (and the sweep "curve") of L2-normalised ``embeddings``."""
    labels = np.asarray(labels)
    if len(embeddings) != len(labels):
        raise ValueError(f"{len(embeddings)} embeddings for {len(labels)} labels")
    neighbours = dense_neighbours(embeddings, k=min(k, len(embeddings)))
    return _best_threshold_score(neighbours, labels, source, COSINE, with_curve)


def training_free_score(val: pd.DataFrame, model_kind: str) -> tuple[str, dict]:
    """The matcher that needs no training for this modality, scored like the model: ("phash" | "tfidf", score).

    Image models are compared with phash (the competition's image hash), text models with TF-IDF over
    cleaned titles; both on the held-out rows only.
    """
    source = PhashSource() if model_kind == "image" else TfidfSource()
    neighbours = source.search(Features.from_frame(val))
    return source.name, _best_threshold_score(neighbours, val["label_group"].to_numpy(), source.name, source.scale)


def _best_threshold_score(neighbours: Neighbours, labels: np.ndarray, source: str, scale,
                          with_curve: bool = False) -> dict:
    table = CandidateTable.from_sources({source: neighbours})
    evaluator = PolicyEvaluator(table, labels, priority=[source])
    best, curve = tune_source(evaluator, source, scale.grid())
    out = {"f1": float(best.score.f1), "threshold": float(best.threshold), "precision": float(best.score.precision),
           "recall": float(best.score.recall)}
    if with_curve:
        out["curve"] = [(p.threshold, p.score.f1) for p in curve]
    return out
