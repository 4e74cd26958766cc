"""Local CV: out-of-fold candidates, threshold search, the CV table, saved as a CV folder.

Each fold is searched on its own, the per-fold tables are stacked, and thresholds are tuned on all folds
together. The table reports each source alone, their union, and the union with min2. A nested estimate
(thresholds tuned on the other folds, scored on the held-out one) says how much the tuning itself flatters
the score.

When the recipe has a pair model and LightGBM is installed, the same search also gives every candidate
pair's features, and the pair model is trained and tuned out of fold (:mod:`prodmatch.cv.pair.run`). It
matches instead of the union when it wins: on the nested estimates when both were run, else on the CV F1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.artifacts.cv_folder import Candidates, write_cv_folder
from prodmatch.artifacts.thresholds import PairThresholds, Thresholds
from prodmatch.cv.format import format_pair_model, format_size_curve, format_table
from prodmatch.cv.notes import small_train_notes
from prodmatch.cv.oof import oof_candidates
from prodmatch.cv.pair.run import PairCV, run_pair_cv
from prodmatch.cv.pair.candidates import oof_pair_candidates
from prodmatch.cv.size_curve import size_curve_skipped, tune_size_curve
from prodmatch.cv.tune import nested_score, tune_policy
from prodmatch.match.candidates import CandidateTable
from prodmatch.match.evaluate import PolicyEvaluator
from prodmatch.match.pair.matching import proposed_pairs, select_pairs
from prodmatch.match.pair.model import lightgbm_available
from prodmatch.match.policy import MatchPolicy, match_lists
from prodmatch.match.size_aware import SizeCurve
from prodmatch.metrics import MatchScore, row_scores_from_counts
from prodmatch.recipes import Recipe
from prodmatch.search.features import Features

KAGGLE_TEST_SIZE = 70_000  # about the size of the competition's hidden test set


MIN_PAIR_MODEL_GROUPS = 20  # fewer label groups cannot fill the pair model's folds


@dataclass
class CVResult:
    recipe: Recipe
    policy: MatchPolicy  # the union's
    table: CandidateTable  # the union's out-of-fold candidates
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
    pair: PairCV | None = None
    use_pair_model: bool = False  # the pair model won in CV and matches instead of the union

    @property
    def matching_table(self) -> CandidateTable:
        """The table the chosen policy reads: the pair model's (with its column) or the union's."""
        return self.pair.table if self.use_pair_model else self.table

    @property
    def matching_policy(self) -> MatchPolicy:
        return self.pair.matching.policy if self.use_pair_model else self.policy

    @cached_property
    def union_score(self) -> MatchScore:  # read by the verdict, the summary, cv.json and thresholds.json
        return PolicyEvaluator(self.table, self.labels, self.policy.priority).score(self.policy)

    @property
    def score(self) -> MatchScore:
        """The chosen matching's CV score (the pair model's when it won, else the union's)."""
        if self.use_pair_model:
            return self.pair.score
        return self.union_score

    @property
    def chosen_nested(self) -> MatchScore | None:
        return self.pair.nested if self.use_pair_model else self.nested

    def thresholds(self, tuned_on: dict | None = None) -> Thresholds:
        pair = None
        if self.pair is not None:
            pair = PairThresholds(self.pair.model, self.pair.matching, self.use_pair_model, self.pair_summary())
        return Thresholds(self.policy, self.recipe, self.size_curve, {**self.meta, **(tuned_on or {})}, pair)

    def pair_summary(self) -> dict:
        """The pair model's CV figures beside the union's (saved in cv.json and thresholds.json)."""
        pair = self.pair
        return {
            "used": self.use_pair_model,
            "union_f1": self.union_score.f1,
            "union_nested_f1": None if self.nested is None else self.nested.f1,
            "pair_f1": pair.score.f1,
            "pair_nested_f1": None if pair.nested is None else pair.nested.f1,
            "pair_nested_f1_without_graph": None if pair.nested_without_graph is None else pair.nested_without_graph.f1,
            "graph": pair.matching.graph.describe(),
            "rounds_per_fold": pair.rounds,
            "final_rounds": pair.model.rounds,
            "size_check": None if pair.size is None else pair.size.as_dict(),
            "graph_choices_f1": {steps.describe(): c.score.f1 for steps, c in pair.choices.items()},
            "importances": pair.importances,
            "seconds": pair.seconds,
        }

    def format_table(self, test_sizes: tuple[int, ...] = (KAGGLE_TEST_SIZE,)) -> str:
        """The table (the union's rows, then the pair model's), the nested estimates, the pair model's
        summary, the size curve projected to ``test_sizes`` rows, and the notes."""
        rows = self.rows + (self.pair.rows() if self.pair is not None else [])
        lines = [format_table(rows, self.recipe)]
        if self.nested is not None:
            lines.append(f"nested CV (thresholds tuned on the other folds): union+min2 F1 {self.nested.f1:.4f}"
                         + ("" if self.pair is None or self.pair.nested is None
                            else f", pair model F1 {self.pair.nested.f1:.4f}"))
        if self.pair is not None:
            lines.append(format_pair_model(self.pair, self.use_pair_model, self.recipe, test_sizes))
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
    pair_model: bool = True,
) -> CVResult:
    """``pair_model=False`` (``--no-pair-model``) keeps to the union even when the recipe has a pair model."""
    if len(folds) != len(train):
        raise ValueError(f"{len(folds)} fold ids for {len(train)} train rows")
    started = time.perf_counter()
    folds = np.asarray(folds)
    features = Features.from_frame(train, embeddings)
    wanted = pair_model and recipe.wants_pair_model
    pair_skipped = _pair_model_skipped(train) if wanted else None
    with_pairs = wanted and pair_skipped is None
    if with_pairs:
        candidates = oof_pair_candidates(features, folds, recipe, progress=progress)
        table, timings = select_pairs(candidates.table, proposed_pairs(candidates.table)), dict(candidates.seconds)
    else:
        table, timings = oof_candidates(features, folds, recipe, progress=progress)
    labels = train["label_group"].to_numpy()
    notes = small_train_notes(labels) + ([pair_skipped] if pair_skipped else [])
    tuning_started = time.perf_counter()
    tuned = tune_policy(table, labels, recipe)
    timings["tuning"] = time.perf_counter() - tuning_started
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
    pair = None
    if with_pairs:
        pair = run_pair_cv(features, candidates, labels, folds, recipe, nested=nested,
                           params=recipe.pair_model_params, progress=progress)
        timings.update(pair.seconds)
    timings["total"] = time.perf_counter() - started
    fold_sizes = pd.Series(folds).value_counts().sort_index()
    meta = {
        "n_rows": len(train),
        "n_groups": int(train["label_group"].nunique()),
        "n_folds": int(len(fold_sizes)),
        "fold_sizes": {int(k): int(v) for k, v in fold_sizes.items()},
        "n_candidate_pairs": len(table),
    }
    result = CVResult(recipe, tuned.policy, table, train["posting_id"].to_numpy(dtype=object), labels, folds,
                      tuned.rows, tuned.curves, nested_result, curve, timings, meta, notes, pair)
    result.use_pair_model = pair is not None and pair_model_wins(result)
    return result


def _pair_model_skipped(train: pd.DataFrame) -> str | None:
    """Why a wanted pair model cannot be trained on ``train``, or None when it can."""
    if not lightgbm_available():
        return "pair model skipped: lightgbm is not installed (pip install lightgbm); matching uses the union"
    groups = train["label_group"].nunique()
    if groups < MIN_PAIR_MODEL_GROUPS:
        return (f"pair model skipped: {groups} label groups, fewer than the {MIN_PAIR_MODEL_GROUPS} its folds "
                "need; matching uses the union")
    return None


def pair_model_wins(result: CVResult) -> bool:
    """The pair model beats the union: on the nested estimates when both were run, else on the CV F1."""
    pair = result.pair
    if pair.nested is not None and result.nested is not None:
        return pair.nested.f1 > result.nested.f1
    return pair.score.f1 > result.union_score.f1


def oof_predictions(result: CVResult) -> pd.DataFrame:
    """Every train row's out-of-fold matches under the tuned policy, with its F1, precision and recall."""
    table, policy = result.matching_table, result.matching_policy
    evaluator = PolicyEvaluator(table, result.labels, policy.priority)
    mask, tp, n_pred = evaluator.counts(policy)
    matches = match_lists(table, mask, result.posting_ids, result.posting_ids, evaluator.applier.order)
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
        "nested": None if result.chosen_nested is None else result.chosen_nested.as_dict(),
        "union_score": result.union_score.as_dict(),
        "union_nested": None if result.nested is None else result.nested.as_dict(),
        "table": [_jsonable_row(r) for r in result.rows + (result.pair.rows() if result.pair else [])],
        "policy": result.matching_policy.as_dict(),
        "union_policy": result.policy.as_dict(),
        "pair_model": None if result.pair is None else result.pair_summary(),
        "size_curve": None if result.size_curve is None else result.size_curve.as_dict(),
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
        "notes": list(result.notes),
        "meta": {**result.meta, **(extra_meta or {})},
    }
    candidates = Candidates(result.matching_table, result.posting_ids, result.labels, result.folds)
    return write_cv_folder(out_dir, summary, result.thresholds(), result.curves, candidates, oof_predictions(result))


def _jsonable_row(row: dict) -> dict:
    threshold = row["threshold"]
    if isinstance(threshold, dict):
        threshold = {k: (None if not np.isfinite(v) else v) for k, v in threshold.items()}
    return {**row, "threshold": threshold}
