"""Local CV: out-of-fold candidates, every decision rule the recipe asks for tuned on them, the CV table, saved
as a CV folder.

Each fold is searched on its own, the per-fold tables are stacked, and each rule (:mod:`prodmatch.match.kinds`:
the union of the sources' thresholds; the pair model when the recipe has one and LightGBM is installed) is
tuned on all folds together by its tuner (:mod:`prodmatch.cv.tuners`). A nested estimate (tuned on the
other folds, scored on the held-out one) says how much the tuning itself flatters the score. The CV matches
with the rule that wins (:func:`prodmatch.cv.matcher_cv.choose`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.artifacts.cv_folder import Candidates, CVSummary, MatcherSummary, write_cv_folder
from prodmatch.artifacts.thresholds import Thresholds
from prodmatch.cv.format import format_table
from prodmatch.cv.matcher_cv import CVContext, MatcherCV, OOFSearch, choose, tuners_for
from prodmatch.cv.notes import small_train_notes
from prodmatch.match.evaluate import PolicyEvaluator
from prodmatch.match.policy import match_lists
from prodmatch.metrics import MatchScore, row_scores_from_counts
from prodmatch.recipes import Recipe
from prodmatch.search.features import Features

KAGGLE_TEST_SIZE = 70_000  # about the size of the competition's hidden test set


@dataclass
class CVResult:
    recipe: Recipe
    posting_ids: np.ndarray
    labels: np.ndarray
    folds: np.ndarray
    matchers: list[MatcherCV]  # every rule tuned, in the order tried (the union first)
    chosen: MatcherCV  # the one that matches
    timings: dict[str, float] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what was skipped and why; what the score cannot tell
    test_size: int | None = KAGGLE_TEST_SIZE  # the postings the choice was made for

    @property
    def score(self) -> MatchScore:
        return self.chosen.score

    @property
    def nested(self) -> MatchScore | None:
        return self.chosen.nested

    @property
    def rows(self) -> list[dict]:
        """The CV table: each rule's rows, in the order tried."""
        return [row for m in self.matchers for row in m.rows]

    @property
    def curves(self) -> dict[str, list[dict]]:
        return {source: points for m in self.matchers for source, points in m.curves.items()}

    def by_kind(self, kind: str) -> MatcherCV:
        for matcher in self.matchers:
            if matcher.kind == kind:
                return matcher
        raise KeyError(f"no {kind} rule in this CV; it tuned {[m.kind for m in self.matchers]}")

    def thresholds(self, tuned_on: dict | None = None) -> Thresholds:
        return Thresholds(self.recipe, [m.matcher for m in self.matchers], self.chosen.kind,
                          {**self.meta, **(tuned_on or {})}, {m.kind: m.figures() for m in self.matchers})

    def format_table(self, test_sizes: tuple[int, ...] | None = None) -> str:
        """The table, the nested estimates, each rule's lines (moved to ``test_sizes`` rows; default the test size
        the choice was made for), the choice, notes."""
        if test_sizes is None:
            test_sizes = (self.test_size,) if self.test_size else (KAGGLE_TEST_SIZE,)
        lines = [format_table(self.rows, self.recipe)]
        nested = [f"{m.label} F1 {m.nested.f1:.4f}" for m in self.matchers if m.nested is not None]
        if nested:
            lines.append(f"nested CV (thresholds tuned on the other folds): {', '.join(nested)}")
        for matcher in self.matchers:
            lines.extend(matcher.text(self.recipe, test_sizes))
        if len(self.matchers) > 1:
            lines.append(f"matching with: {self.chosen.label} ({_verdict(self)})")
        for n in test_sizes:
            expected = self.chosen.expected(n)
            lines.append(f"forecast for {n} test postings ({self.chosen.label}): " + (
                f"F1 {expected.value_text()}" if expected is not None else "none (pools of one size only)"))
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


def _verdict(result: CVResult) -> str:
    n = result.test_size
    if n is not None and all(m.expected(n) is not None for m in result.matchers):
        return f"the best F1 forecast for {n} test postings of " + ", ".join(m.label for m in result.matchers)
    sizes = {round(m.forecast.sizes[-1]) for m in result.matchers if m.forecast is not None}
    if len(sizes) == 1 and all(m.forecast is not None for m in result.matchers):
        basis = f"F1 on the largest pool, {sizes.pop()} rows,"
    elif all(m.nested is not None for m in result.matchers):
        basis = "nested F1"
    else:
        basis = "CV F1"
    return f"the best {basis} of " + ", ".join(m.label for m in result.matchers)


def run_cv(
    train: pd.DataFrame,
    folds: np.ndarray,
    recipe: Recipe,
    embeddings: dict[str, np.ndarray] | None = None,
    nested: bool = True,
    size_curve: bool = True,
    progress: bool = False,
    matcher: str | None = None,
    usable: dict[str, np.ndarray] | None = None,
    test_size: int | None = KAGGLE_TEST_SIZE,
) -> CVResult:
    """Tune every rule the recipe asks for (``matcher``: only that one) and choose between them for ``test_size``
    postings (None: unknown). ``usable``: per embedding, the rows whose vector may be searched (the others are left
    out of its sources)."""
    if len(folds) != len(train):
        raise ValueError(f"{len(folds)} fold ids for {len(train)} train rows")
    started = time.perf_counter()
    labels = train["label_group"].to_numpy()
    context = CVContext(Features.from_frame(train, embeddings, usable), labels, np.asarray(folds), recipe, nested,
                        size_curve, progress, test_size)
    notes = small_train_notes(labels)
    tuners = []
    for tuner in tuners_for(recipe, matcher):
        skipped = tuner.skipped(context)
        if skipped:
            notes.append(skipped)
        else:
            tuners.append(tuner)
    if not tuners:
        raise ValueError(f"no decision rule can be tuned here: {'; '.join(notes)}")
    search = OOFSearch(context, with_pair_features=any(t.needs_pair_features for t in tuners))
    table = search.table  # searched first, so the per-source seconds lead the timings
    for n_pools in sorted({m for tuner in tuners for m in tuner.pool_counts(context)}, reverse=True):
        search.pooled(n_pools)  # before any rule is tuned, so that every rule can reuse them
    timings = dict(search.seconds)
    results = []
    for tuner in tuners:
        result = tuner.tune(search, context)
        timings.update(result.seconds)
        notes.extend(result.notes)
        results.append(result)
    timings["total"] = time.perf_counter() - started
    fold_sizes = pd.Series(context.folds).value_counts().sort_index()
    meta = {
        "n_rows": len(train),
        "n_groups": int(train["label_group"].nunique()),
        "n_folds": int(len(fold_sizes)),
        "fold_sizes": {int(k): int(v) for k, v in fold_sizes.items()},
        "n_candidate_pairs": len(table),
    }
    chosen = choose(results, test_size)
    notes.extend(_far_from_the_test(chosen, test_size))
    return CVResult(recipe, train["posting_id"].to_numpy(dtype=object), labels, context.folds, results, chosen,
                    timings, meta, notes, test_size)


FAR_DOUBLINGS = 2.0  # a forecast carried further than this past the largest pool is a guess, and says so


def _far_from_the_test(chosen: MatcherCV, test_size: int | None) -> list[str]:
    if test_size is None or chosen.forecast is None:
        return []
    largest = chosen.forecast.sizes[-1]
    doublings = float(np.log2(test_size / largest)) if test_size > largest else 0.0
    if doublings <= FAR_DOUBLINGS:
        return []
    return [f"the largest pool the CV could score is {largest:.0f} rows, {doublings:.1f} doublings below the "
            f"{test_size} test postings: the F1 there is extrapolated far (see its range) and the rules learnt "
            "from small pools. Train more folds (only the rows every trained run covers are CV'd), or use a "
            "recipe whose sources need no trained model (text-phash: it learns from the whole train)"]


def oof_predictions(result: CVResult) -> pd.DataFrame:
    """Every train row's out-of-fold matches under the chosen rule, with its F1, precision and recall."""
    chosen = result.chosen
    evaluator = PolicyEvaluator(chosen.table, result.labels, chosen.policy.priority)
    mask, tp, n_pred = evaluator.counts(chosen.policy)
    matches = match_lists(chosen.table, mask, result.posting_ids, result.posting_ids, evaluator.applier.order)
    f1, precision, recall = row_scores_from_counts(tp, n_pred, evaluator.n_true)
    return pd.DataFrame({
        "posting_id": result.posting_ids,
        "fold": result.folds,
        "matches": [" ".join(m) for m in matches],
        "f1": np.round(f1, 6),
        "precision": np.round(precision, 6),
        "recall": np.round(recall, 6),
    })


def cv_summary(result: CVResult, extra_meta: dict | None = None) -> CVSummary:
    """What cv.json holds (:class:`prodmatch.artifacts.cv_folder.CVSummary`)."""
    matchers = [MatcherSummary(m.kind, m.label, m.score, m.nested, m.policy, m.rows, m.figures(),
                               m.facts(result.recipe), m.importances) for m in result.matchers]
    return CVSummary(result.recipe.name, result.chosen.kind, matchers, dict(result.timings), list(result.notes),
                     {**result.meta, **(extra_meta or {})}, result.test_size)


def save_cv(result: CVResult, out_dir: str | Path, extra_meta: dict | None = None, tuned_on: dict | None = None
            ) -> Path:
    """Write the CV folder (prodmatch.artifacts.cv_folder), replacing an older one at ``out_dir`` whole;
    ``tuned_on``: what the thresholds file records it was tuned on (data, runs; beside the CV's meta)."""
    chosen = result.chosen
    candidates = Candidates(chosen.table, result.posting_ids, result.labels, result.folds)
    return write_cv_folder(out_dir, cv_summary(result, extra_meta), result.thresholds(tuned_on), result.curves, candidates,
                           oof_predictions(result))
