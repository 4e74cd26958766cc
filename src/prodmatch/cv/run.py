"""Local CV: out-of-fold candidates, threshold search, the CV table, saved as a CV folder.

Each fold is searched on its own, the per-fold tables are stacked, and thresholds are tuned on all folds
together. The table reports each source alone, their union, and the union with min2. A nested estimate
(thresholds tuned on the other folds, scored on the held-out one) says how much the tuning itself flatters
the score.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.artifacts.cv_folder import Candidates, write_cv_folder
from prodmatch.artifacts.thresholds import Thresholds
from prodmatch.cv.format import format_size_curve, format_table
from prodmatch.cv.notes import small_train_notes
from prodmatch.cv.oof import oof_candidates
from prodmatch.cv.size_curve import size_curve_skipped, tune_size_curve
from prodmatch.cv.tune import nested_score, tune_policy
from prodmatch.match.candidates import CandidateTable
from prodmatch.match.evaluate import PolicyEvaluator
from prodmatch.match.policy import MatchPolicy, match_lists
from prodmatch.match.size_aware import SizeCurve
from prodmatch.metrics import MatchScore, row_scores_from_counts
from prodmatch.recipes import Recipe
from prodmatch.search.features import Features

KAGGLE_TEST_SIZE = 70_000  # about the size of the competition's hidden test set


@dataclass
class CVResult:
    recipe: Recipe
    policy: MatchPolicy
    table: CandidateTable
    posting_ids: np.ndarray
    labels: np.ndarray
    folds: np.ndarray
    rows: list[dict]  # the CV table: source, threshold(s), f1, precision, recall
    curves: dict[str, list[dict]]  # per source: threshold sweep (source alone, min2 off)
    nested: MatchScore | None = None
    size_curve: SizeCurve | None = None
    timings: dict[str, float] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what was skipped and why; what the score cannot tell

    @property
    def score(self) -> MatchScore:
        return PolicyEvaluator(self.table, self.labels, self.policy.priority).score(self.policy)

    def thresholds(self, tuned_on: dict | None = None) -> Thresholds:
        return Thresholds(self.policy, self.recipe, self.size_curve, {**self.meta, **(tuned_on or {})})

    def format_table(self, test_sizes: tuple[int, ...] = (KAGGLE_TEST_SIZE,)) -> str:
        """The table, the nested estimate, the size curve projected to ``test_sizes`` rows, and the notes."""
        lines = [format_table(self.rows, self.recipe)]
        if self.nested is not None:
            lines.append(f"nested CV (thresholds tuned on the other folds): F1 {self.nested.f1:.4f}")
        if self.size_curve is not None:
            lines.append(format_size_curve(self.size_curve, self.recipe, test_sizes))
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


def run_cv(
    train: pd.DataFrame,
    folds: np.ndarray,
    recipe: Recipe,
    embeddings: dict[str, np.ndarray] | None = None,
    nested: bool = True,
    size_curve: bool = True,
    progress: bool = False,
) -> CVResult:
    if len(folds) != len(train):
        raise ValueError(f"{len(folds)} fold ids for {len(train)} train rows")
    started = time.perf_counter()
    folds = np.asarray(folds)
    features = Features.from_frame(train, embeddings)
    table, timings = oof_candidates(features, folds, recipe, progress=progress)
    labels = train["label_group"].to_numpy()
    tuning_started = time.perf_counter()
    tuned = tune_policy(table, labels, recipe)
    timings["tuning"] = time.perf_counter() - tuning_started
    notes = small_train_notes(labels)
    nested_result = None
    if nested and len(np.unique(folds)) > 1:
        nested_started = time.perf_counter()
        nested_result = nested_score(table, labels, folds, recipe)
        timings["nested"] = time.perf_counter() - nested_started
    elif nested:
        notes.append("nested estimate skipped: the CV rows are all in one fold, so there are no other folds to "
                     "tune on")
    curve = None
    if size_curve:
        curve_started = time.perf_counter()
        curve, _ = tune_size_curve(features, labels, recipe, progress=progress)
        timings["size_curve"] = time.perf_counter() - curve_started
        if curve is None:
            notes.append(size_curve_skipped(len(labels)))
    timings["total"] = time.perf_counter() - started
    fold_sizes = pd.Series(folds).value_counts().sort_index()
    meta = {
        "n_rows": len(train),
        "n_groups": int(train["label_group"].nunique()),
        "n_folds": int(len(fold_sizes)),
        "fold_sizes": {int(k): int(v) for k, v in fold_sizes.items()},
        "n_candidate_pairs": len(table),
    }
    return CVResult(recipe, tuned.policy, table, train["posting_id"].to_numpy(dtype=object), labels, folds,
                    tuned.rows, tuned.curves, nested_result, curve, timings, meta, notes)


def oof_predictions(result: CVResult) -> pd.DataFrame:
    """Every train row's out-of-fold matches under the tuned policy, with its F1, precision and recall."""
    evaluator = PolicyEvaluator(result.table, result.labels, result.policy.priority)
    mask, tp, n_pred = evaluator.counts(result.policy)
    matches = match_lists(result.table, mask, result.posting_ids, result.posting_ids, evaluator.applier.order)
    f1, precision, recall = row_scores_from_counts(tp, n_pred, evaluator.n_true)
    return pd.DataFrame({
        "posting_id": result.posting_ids,
        "fold": result.folds,
        "matches": [" ".join(m) for m in matches],
        "f1": np.round(f1, 6),
        "precision": np.round(precision, 6),
        "recall": np.round(recall, 6),
    })


def save_cv(result: CVResult, out_dir: str | Path, extra_meta: dict | None = None) -> Path:
    """Write the CV folder (prodmatch.artifacts.cv_folder), replacing an older one at ``out_dir`` whole."""
    summary = {
        "recipe": result.recipe.name,
        "score": result.score.as_dict(),
        "nested": None if result.nested is None else result.nested.as_dict(),
        "table": [_jsonable_row(r) for r in result.rows],
        "policy": result.policy.as_dict(),
        "size_curve": None if result.size_curve is None else result.size_curve.as_dict(),
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
        "notes": list(result.notes),
        "meta": {**result.meta, **(extra_meta or {})},
    }
    candidates = Candidates(result.table, result.posting_ids, result.labels, result.folds)
    return write_cv_folder(out_dir, summary, result.thresholds(), result.curves, candidates, oof_predictions(result))


def _jsonable_row(row: dict) -> dict:
    threshold = row["threshold"]
    if isinstance(threshold, dict):
        threshold = {k: (None if not np.isfinite(v) else v) for k, v in threshold.items()}
    return {**row, "threshold": threshold}
