"""Applying a saved model (``--model DIR``) to a table without labels: the table searched whole with the model's
sources, every candidate pair predicted, the saved decision applied.

The decision was tuned on a table searched at once at its own size (``tuned_on.n_rows``); it is applied
unchanged, with no move for the size (the probabilities of a much larger table may need a higher threshold):
a table over :data:`SIZE_WARNING_RATIO` times larger, or smaller, is warned about, and so is an output that
collapsed to singletons (:func:`prodmatch.dedup.decision.collapse_warning`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prodmatch.dedup.clustering import Clustered, Edges, cluster, edges_from_table
from prodmatch.dedup.saved import SavedModel
from prodmatch.dedup.table import Columns
from prodmatch.errors import ArgumentError
from prodmatch.match.pair.matching import PairCandidates, pair_candidates, predict_probability
from prodmatch.search.features import Features

SIZE_WARNING_RATIO = 2.0  # a doubling: on Abt-Buy, tuned at 268 records and applied to 1,044 lost 0.09 pairwise F1


@dataclass
class Predicted:
    candidates: PairCandidates
    probability: np.ndarray  # per pair of candidates.table
    edges: Edges


def predict_edges(features: Features, saved: SavedModel, sources: np.ndarray | None = None) -> Predicted:
    found = pair_candidates(features, saved.recipe.sources)
    probability = predict_probability(found.table, found.features, saved.model)
    edges = edges_from_table(found.table, probability)
    if sources is not None:
        edges = edges.across(sources)
    return Predicted(found, probability, edges)


def apply_decision(predicted: Predicted, saved: SavedModel) -> Clustered:
    return cluster(predicted.edges, saved.decision.threshold, saved.decision.clustering)


def columns_for_model(saved: SavedModel, given: Columns | None) -> Columns:
    """The columns to read a new table with: the model's, or ``given`` when their fields match the model's
    (the same feature names, so the model reads the same features)."""
    if given is None:
        return saved.columns
    want, got = saved.columns, given
    same_shape = (len(got.texts) == len(want.texts) and len(got.numbers) == len(want.numbers)
                  and (got.brand is None) == (want.brand is None) and (got.image is None) == (want.image is None)
                  and (got.source is None) == (want.source is None))
    if not same_shape or list(got.field_names().values()) != list(want.field_names().values()):
        raise ArgumentError(f"the model was trained with columns {want.as_dict()}; these columns {got.as_dict()} do "
                            "not give it the same fields (name the new table's columns like the old, or leave the "
                            "column options out to use the model's)")
    return given


def size_warning(tuned_size: int, n_rows: int) -> str | None:
    if tuned_size <= 0 or n_rows <= 0:
        return None
    ratio = n_rows / tuned_size
    if 1 / SIZE_WARNING_RATIO <= ratio <= SIZE_WARNING_RATIO:
        return None
    return (f"the model's decision was tuned on a table of {tuned_size:,} records searched at once; this one has "
            f"{n_rows:,} ({ratio:.1f}x): the decision is applied unchanged and its measured F1 holds at the tuned size "
            "only (more records bring more look-alikes per record)")
