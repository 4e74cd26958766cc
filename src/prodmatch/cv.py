"""Local CV: out-of-fold candidates, threshold search, the CV table.

Each fold is searched on its own (candidates only among that fold's postings, about the size of a Kaggle
test set's share), the per-fold tables are stacked, and thresholds are tuned on all folds together. The
table reports each source alone, their union, and the union with min2. A nested estimate (thresholds
tuned on the other folds, scored on the held-out one) says how much the tuning itself flatters the score.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.fileio import atomic_path, write_json
from prodmatch.match.candidates import CandidateTable
from prodmatch.match.evaluate import PolicyEvaluator
from prodmatch.data.folds import fold_of_group
from prodmatch.match.policy import MatchPolicy
from prodmatch.match.size_aware import SizeCurve
from prodmatch.match.tuning import coarse_to_fine, default_grid, tune_source, tune_union
from prodmatch.metrics import MatchScore, row_scores_from_counts
from prodmatch.recipes import Recipe, recipe_from_dict
from prodmatch.search.features import Features
from prodmatch.search.neighbours import Neighbours
from prodmatch.search.sources import search_all
from prodmatch.search.phash import score_to_distance

CV_FILES = ("cv.json", "thresholds.json", "curves.json", "candidates.npz", "oof_predictions.csv")


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

    @property
    def score(self) -> MatchScore:
        return PolicyEvaluator(self.table, self.labels, self.policy.priority).score(self.policy)

    def format_table(self) -> str:
        frame = pd.DataFrame(self.rows)
        frame["threshold"] = [_format_threshold(t, s) for t, s in zip(frame["threshold"], frame["source"])]
        for column in ("f1", "precision", "recall"):
            frame[column] = frame[column].map(lambda v: f"{v:.4f}")
        lines = [frame.to_string(index=False)]
        if self.nested is not None:
            lines.append(f"nested CV (thresholds tuned on the other folds): F1 {self.nested.f1:.4f}")
        if self.size_curve is not None:
            lines.append(format_size_curve(self.size_curve))
        return "\n".join(lines)


def oof_candidates(features: Features, folds: np.ndarray, recipe: Recipe, progress: bool = False):
    """Search every fold on its own; returns the stacked table and seconds spent per source."""
    n = len(features)
    parts: dict[str, list[Neighbours]] = {s.name: [] for s in recipe.sources}
    timings = {s.name: 0.0 for s in recipe.sources}
    for fold in np.unique(folds):
        index = np.flatnonzero(folds == fold)
        found, seconds = search_all(recipe.sources, features.subset(index))
        for name, neighbours in found.items():
            parts[name].append(neighbours.offset(index, index, n, n))
            timings[name] += seconds[name]
        if progress:
            print(f"  fold {fold}: {len(index)} rows searched", flush=True)
    table = CandidateTable.from_sources({name: Neighbours.concat(p, n, n) for name, p in parts.items()})
    return table, timings


@dataclass
class TunedPolicy:
    policy: MatchPolicy
    rows: list[dict]  # the CV table (per-source rows only with report_sources)
    curves: dict[str, list[dict]]
    alone: dict[str, float]  # each source's best threshold on its own (min2 off)


def tune_policy(table: CandidateTable, labels: np.ndarray, recipe: Recipe, report_sources: bool = True) -> TunedPolicy:
    """Per-source sweeps, then the union without and with min2.

    With ``report_sources=False`` the per-source starting points come from a coarse-to-fine search and no
    per-source rows or curves are returned (faster; used for the size curve).
    """
    evaluator = PolicyEvaluator(table, labels, recipe.priority)
    rows, curves, best_alone = [], {}, {}
    for source in recipe.priority:
        if not report_sources:
            def alone(t, source=source):
                return evaluator.score(MatchPolicy({source: float(t)}, priority=recipe.priority, min2=False))

            best_alone[source] = coarse_to_fine(alone, default_grid(source))[0]
            continue
        best, points = tune_source(evaluator, source, min2=False)
        best_alone[source] = best.threshold
        curves[source] = [{"threshold": p.threshold, **p.score.as_dict()} for p in points]
        rows.append(_row(source, best.threshold, best.score))
    start = MatchPolicy(dict(best_alone), priority=recipe.priority, min2=False, cap=recipe.cap)
    union, union_score = tune_union(evaluator, start, tune_floor=False)
    rows.append(_row("union", union.thresholds, union_score))
    policy = union
    if recipe.min2:
        policy, min2_score = tune_union(evaluator, replace(union, min2=True), tune_floor=True)
        rows.append(_row("union+min2", policy.thresholds, min2_score))
    return TunedPolicy(policy, rows, curves, best_alone)


def nested_score(table: CandidateTable, labels: np.ndarray, folds: np.ndarray, recipe: Recipe) -> MatchScore:
    """Score each fold with thresholds tuned only on the other folds."""
    f1 = np.zeros(len(labels))
    precision = np.zeros(len(labels))
    recall = np.zeros(len(labels))
    for fold in np.unique(folds):
        held_out = folds == fold
        policy = tune_policy(table.subset(~held_out), labels[~held_out], recipe).policy
        evaluator = PolicyEvaluator(table.subset(held_out), labels[held_out], recipe.priority)
        f1[held_out], precision[held_out], recall[held_out] = evaluator.row_scores(policy)
    return MatchScore(float(f1.mean()), float(precision.mean()), float(recall.mean()), len(f1))


SIZE_LEVELS = (8, 4, 2, 1)  # the train rows split into this many pools: pool sizes n/8 .. n
MIN_POOL_SIZE = 500  # smaller pools say little about how thresholds drift


def pool_ids(labels: np.ndarray, n_pools: int, salt: str = "size") -> np.ndarray:
    """Group-wise split into ``n_pools`` pools (a whole label_group always shares a pool)."""
    if n_pools == 1:
        return np.zeros(len(labels), dtype=np.int64)
    unique, inverse = np.unique(labels, return_inverse=True)
    return np.array([fold_of_group(g, n_pools, salt) for g in unique], dtype=np.int64)[inverse]


def tune_size_curve(features: Features, labels: np.ndarray, recipe: Recipe, levels: tuple[int, ...] = SIZE_LEVELS,
                    min_pool_size: int = MIN_POOL_SIZE) -> tuple[SizeCurve | None, list[dict]]:
    """Tune the policy on pools of decreasing count (growing size); see prodmatch.match.size_aware.

    Levels whose pools would hold fewer than ``min_pool_size`` rows are skipped; with fewer than two levels
    left there is no curve (None): the data is too small to see a drift, and thresholds stay as tuned.
    """
    levels = [m for m in levels if len(labels) / m >= min_pool_size]
    if len(levels) < 2:
        return None, []
    sizes, policies, alone, rows = [], [], [], []
    for n_pools in sorted(levels, reverse=True):
        pools = pool_ids(labels, n_pools)
        table, _ = oof_candidates(features, pools, recipe)
        tuned = tune_policy(table, labels, recipe, report_sources=False)
        sizes.append(len(labels) / n_pools)
        policies.append(tuned.policy)
        alone.append(tuned.alone)
        rows.append({"pools": n_pools, "pool_size": round(len(labels) / n_pools), **tuned.rows[-1]})
    drifting = [s.name for s in recipe.sources if getattr(s, "size_drift", True)]
    return SizeCurve(sizes, policies, drifting, alone), rows


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
    features = Features.from_frame(train, embeddings)
    table, timings = oof_candidates(features, np.asarray(folds), recipe, progress=progress)
    labels = train["label_group"].to_numpy()
    tuning_started = time.perf_counter()
    tuned = tune_policy(table, labels, recipe)
    policy, rows, curves = tuned.policy, tuned.rows, tuned.curves
    timings["tuning"] = time.perf_counter() - tuning_started
    nested_result = None
    if nested and len(np.unique(folds)) > 1:
        nested_started = time.perf_counter()
        nested_result = nested_score(table, labels, np.asarray(folds), recipe)
        timings["nested"] = time.perf_counter() - nested_started
    curve = None
    if size_curve:
        curve_started = time.perf_counter()
        curve, _ = tune_size_curve(features, labels, recipe)
        timings["size_curve"] = time.perf_counter() - curve_started
    timings["total"] = time.perf_counter() - started
    fold_sizes = pd.Series(folds).value_counts().sort_index()
    meta = {
        "n_rows": len(train),
        "n_groups": int(train["label_group"].nunique()),
        "n_folds": int(len(fold_sizes)),
        "fold_sizes": {int(k): int(v) for k, v in fold_sizes.items()},
        "n_candidate_pairs": len(table),
    }
    return CVResult(recipe, policy, table, train["posting_id"].to_numpy(dtype=object), labels, np.asarray(folds),
                    rows, curves, nested_result, curve, timings, meta)


@dataclass
class CVInputs:
    """What a CV run needs, gathered from a data folder and a weights folder."""

    train: pd.DataFrame  # the train rows the CV scores (rows of untrained folds left out)
    folds: np.ndarray
    folds_source: str
    recipe: Recipe  # restricted to the embeddings trained runs provide
    runs: dict[str, Path]  # embedding name -> run dir
    embeddings: dict[str, np.ndarray] | None
    notes: list[str]

    def only_folds(self, folds: list[int]) -> "CVInputs":
        keep = np.isin(self.folds, folds)
        if not keep.any():
            raise ValueError(f"no train rows in folds {folds} (folds present: {sorted(set(self.folds.tolist()))})")
        embeddings = None if self.embeddings is None else {k: v[keep] for k, v in self.embeddings.items()}
        return replace(self, train=self.train[keep].reset_index(drop=True), folds=self.folds[keep],
                       embeddings=embeddings, notes=[*self.notes, f"CV restricted to folds {sorted(folds)}"])


def load_fold_ids(train: pd.DataFrame, data_dir: str | Path, folds_path: str | Path | None = None,
                  n_folds: int = 5) -> tuple[np.ndarray, str]:
    """Folds from a file when given (or present as folds/<data>_<k>fold.csv), else the hash assignment."""
    from prodmatch.data import assign_folds, read_folds
    from prodmatch.data.folds import default_folds_path

    path = Path(folds_path) if folds_path else default_folds_path(data_dir, n_folds)
    if folds_path or path.is_file():
        return read_folds(path, train), str(path)
    return assign_folds(train, n_folds)["fold"].to_numpy(), f"hash of label_group ({n_folds} folds)"


def prepare_cv(data_dir: str | Path, recipe: Recipe, weights_dir: str | Path | None = "weights",
               folds_path: str | Path | None = None, n_folds: int = 5) -> CVInputs:
    """Read train.csv, its folds and the out-of-fold embeddings the recipe needs.

    With learned embeddings, only the rows of folds that every needed run has trained are kept (e.g. after
    training fold 0 alone, CV scores fold 0), and optional embeddings without a run drop their sources.
    """
    from prodmatch.data import DataDir
    from prodmatch.runs import oof_embeddings_for, recipe_for_weights

    train = DataDir.of(data_dir).read_train()
    folds, folds_source = load_fold_ids(train, data_dir, folds_path, n_folds)
    recipe, runs, notes = recipe_for_weights(recipe, weights_dir or "weights")
    embeddings = None
    if runs:
        embeddings, covered = oof_embeddings_for(runs, train)
        if not covered.all():
            kept = sorted(set(folds[covered].tolist()))
            notes.append(f"CV on folds {kept} only ({int(covered.sum())} of {len(train)} rows): the other folds "
                         "have no trained model yet")
            train, folds = train[covered].reset_index(drop=True), folds[covered]
    return CVInputs(train, folds, folds_source, recipe, runs, embeddings, notes)


def save_cv(result: CVResult, out_dir: str | Path, extra_meta: dict | None = None) -> Path:
    """Write cv.json, thresholds.json, curves.json, candidates.npz, oof_predictions.csv (each atomically)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    score = result.score
    write_json(out / "cv.json", {
        "recipe": result.recipe.name,
        "score": score.as_dict(),
        "nested": None if result.nested is None else result.nested.as_dict(),
        "table": [_jsonable_row(r) for r in result.rows],
        "policy": result.policy.as_dict(),
        "size_curve": None if result.size_curve is None else result.size_curve.as_dict(),
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
        "meta": {**result.meta, **(extra_meta or {})},
    })
    write_thresholds(out / "thresholds.json", result.policy, result.recipe, result.meta, result.size_curve)
    write_json(out / "curves.json", result.curves)
    with atomic_path(out / "candidates.npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(
                handle,
                rows=result.table.rows,
                cols=result.table.cols,
                posting_id=result.posting_ids.astype(str),
                label_group=result.labels,
                fold=result.folds,
                **{f"score__{k}": v for k, v in result.table.scores.items()},
            )
    _write_oof_predictions(out / "oof_predictions.csv", result)
    return out


def load_candidates(path: str | Path) -> tuple[CandidateTable, dict]:
    """The OOF table saved by :func:`save_cv`, and its per-row arrays (posting_id, label_group, fold)."""
    with np.load(path, allow_pickle=False) as data:
        scores = {k[len("score__"):]: data[k] for k in data.files if k.startswith("score__")}
        n = len(data["posting_id"])
        table = CandidateTable(data["rows"], data["cols"], scores, n, n)
        arrays = {k: data[k] for k in ("posting_id", "label_group", "fold")}
    return table, arrays


def write_thresholds(path: str | Path, policy: MatchPolicy, recipe: Recipe, meta: dict | None = None,
                     size_curve: SizeCurve | None = None) -> None:
    write_json(path, {"recipe": recipe.spec, "policy": policy.as_dict(),
                      "size_curve": None if size_curve is None else size_curve.as_dict(), "tuned_on": meta or {}})


def read_thresholds(path: str | Path) -> tuple[MatchPolicy, Recipe]:
    """The fold-size policy and the recipe it belongs to."""
    data = _read_thresholds_json(path)
    try:
        return MatchPolicy.from_dict(data["policy"]), recipe_from_dict(data["recipe"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a prodmatch thresholds file ({exc})") from None


def read_size_curve(path: str | Path) -> SizeCurve | None:
    """The size curve saved with the thresholds, or None when the file has none."""
    data = _read_thresholds_json(path)
    return None if not data.get("size_curve") else SizeCurve.from_dict(data["size_curve"])


def _read_thresholds_json(path: str | Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read thresholds file ({exc})") from None


def _write_oof_predictions(path: Path, result: CVResult) -> None:
    from prodmatch.match.policy import match_lists

    evaluator = PolicyEvaluator(result.table, result.labels, result.policy.priority)
    mask, tp, n_pred = evaluator.counts(result.policy)
    matches = match_lists(result.table, mask, result.posting_ids, result.posting_ids, evaluator.applier.order)
    f1, precision, recall = row_scores_from_counts(tp, n_pred, evaluator.n_true)
    frame = pd.DataFrame({
        "posting_id": result.posting_ids,
        "fold": result.folds,
        "matches": [" ".join(m) for m in matches],
        "f1": np.round(f1, 6),
        "precision": np.round(precision, 6),
        "recall": np.round(recall, 6),
    })
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def _row(source: str, threshold, score: MatchScore) -> dict:
    return {"source": source, "threshold": threshold, "f1": score.f1, "precision": score.precision, "recall": score.recall}


def _jsonable_row(row: dict) -> dict:
    threshold = row["threshold"]
    if isinstance(threshold, dict):
        threshold = {k: (None if not np.isfinite(v) else v) for k, v in threshold.items()}
    return {**row, "threshold": threshold}


def format_size_curve(curve: SizeCurve, test_sizes: tuple[int, ...] = (70_000,)) -> str:
    lines = ["size-aware thresholds (tuned on pools of growing size; slope per doubling "
             + ", ".join(f"{k} +{v:.3f}" for k, v in curve.slopes().items()) + "):"]
    for size, policy in zip(curve.sizes, curve.policies):
        lines.append(f"  pool {size:>8.0f}: {_format_threshold(policy.thresholds)}  min2 floor {policy.min2_floor:.3f}")
    for n in test_sizes:
        policy = curve.policy_for(n)
        lines.append(f"  test {n:>8d}: {_format_threshold(policy.thresholds)}  min2 floor {policy.min2_floor:.3f}")
    return "\n".join(lines)


def _format_threshold(threshold, source: str = "") -> str:
    if isinstance(threshold, dict):
        return " ".join(f"{k}={_format_threshold(v, k)}" for k, v in threshold.items())
    if not np.isfinite(threshold):
        return "off"
    if source.startswith("phash"):
        return f"d<={score_to_distance(threshold):.0f}"
    return f"{threshold:.3f}"
