"""The CV folder ``prodmatch cv`` writes and the report reads.

    cv.json              every decision rule's CV (score, nested estimate, policy, table rows, figures), which
                         one matches, timings, notes, meta (:class:`CVSummary`)
    thresholds.json      the tuned rules with their recipe (prodmatch.artifacts.thresholds)
    curves.json          per source: F1/precision/recall against its threshold (source alone)
    candidates.npz       every out-of-fold candidate pair with each source's score, and per-row
                         posting_id, label_group, fold
    oof_predictions.csv  posting_id, fold, matches, f1, precision, recall

The folder is built in a hidden temporary folder beside the target and swapped in whole, so a failure
(a full disk, a kill) leaves the previous CV folder as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.artifacts.thresholds import Thresholds, read_thresholds, write_thresholds
from prodmatch.errors import ArgumentError, MissingInputError, OutputExistsError
from prodmatch.fileio import atomic_dir, atomic_path, check_output_dir, read_errors, write_csv, write_json
from prodmatch.match.candidates import CandidateTable
from prodmatch.match.forecast import SizeForecast
from prodmatch.match.kinds import PAIR_MODEL, UNION
from prodmatch.match.policy import MatchPolicy
from prodmatch.metrics import MatchScore
from prodmatch.recipes import Recipe

CV_FORMAT = 2
CV_FILES = ("cv.json", "thresholds.json", "curves.json", "candidates.npz", "oof_predictions.csv")
OOF_PREDICTION_COLUMNS = ["posting_id", "fold", "matches", "f1", "precision", "recall"]


@dataclass
class Candidates:
    """The out-of-fold candidate table and the rows it is over."""

    table: CandidateTable
    posting_ids: np.ndarray
    labels: np.ndarray
    folds: np.ndarray


@dataclass
class MatcherSummary:
    """One decision rule's CV, as cv.json keeps it."""

    kind: str
    label: str  # how the CV output names it
    score: MatchScore
    nested: MatchScore | None
    policy: MatchPolicy  # its decision on its out-of-fold table
    rows: list[dict]  # its lines of the CV table
    figures: dict = field(default_factory=dict)  # its own CV figures (size curve, rounds, ...)
    facts: list[tuple[str, str]] = field(default_factory=list)  # (label, text) for the report
    importances: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "label": self.label, "score": self.score.as_dict(),
                "nested": None if self.nested is None else self.nested.as_dict(), "policy": self.policy.as_dict(),
                "rows": [_jsonable_row(r) for r in self.rows], "figures": self.figures,
                "facts": [list(f) for f in self.facts], "importances": self.importances}

    @classmethod
    def from_dict(cls, data: dict) -> MatcherSummary:
        return cls(data["kind"], data["label"], _score(data["score"]), _score(data.get("nested")),
                   MatchPolicy.from_dict(data["policy"]), list(data["rows"]), dict(data.get("figures") or {}),
                   [tuple(f) for f in data.get("facts") or []], dict(data.get("importances") or {}))


@dataclass
class CVSummary:
    """cv.json: every rule the CV tuned, which one matches, timings, notes and what the CV ran on."""

    recipe: str
    chosen: str  # the kind of the rule that matches
    matchers: list[MatcherSummary]
    timings_s: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    test_size: int | None = None  # the test postings the rule was chosen for (and its F1 forecast at)

    def forecast(self, kind: str) -> SizeForecast | None:
        """A rule's F1 on pools of growing size (None when its CV measured none)."""
        data = next(m for m in self.matchers if m.kind == kind).figures.get("forecast")
        return None if not data else SizeForecast.from_dict(data)

    @property
    def chosen_matcher(self) -> MatcherSummary:
        return next(m for m in self.matchers if m.kind == self.chosen)

    @property
    def score(self) -> MatchScore:
        return self.chosen_matcher.score

    @property
    def nested(self) -> MatchScore | None:
        return self.chosen_matcher.nested

    @property
    def policy(self) -> MatchPolicy:
        return self.chosen_matcher.policy

    @property
    def table(self) -> list[dict]:
        return [row for m in self.matchers for row in m.rows]

    def as_dict(self) -> dict:
        """The rules in full, and at the top the chosen rule's score, nested estimate and policy and the whole
        CV table, for readers that want only those."""
        return {"format": CV_FORMAT, "recipe": self.recipe, "chosen": self.chosen,
                "score": self.score.as_dict(), "nested": None if self.nested is None else self.nested.as_dict(),
                "policy": self.policy.as_dict(), "table": [_jsonable_row(r) for r in self.table],
                "matchers": [m.as_dict() for m in self.matchers],
                "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()}, "notes": self.notes,
                "meta": self.meta, "test_size": self.test_size}

    @classmethod
    def from_dict(cls, data: dict) -> CVSummary:
        if data.get("format", 1) == 1:
            return _summary_from_format_1(data)
        matchers = [MatcherSummary.from_dict(m) for m in data["matchers"]]
        if data["chosen"] not in [m.kind for m in matchers]:
            raise ValueError(f"the chosen rule {data['chosen']!r} is not among the rules")
        return cls(data["recipe"], data["chosen"], matchers, dict(data.get("timings_s") or {}),
                   list(data.get("notes") or []), dict(data.get("meta") or {}), data.get("test_size"))


def _score(data: dict | None) -> MatchScore | None:
    return None if data is None else MatchScore(float(data["f1"]), float(data["precision"]), float(data["recall"]),
                                                int(data["n_rows"]))


def _summary_from_format_1(data: dict) -> CVSummary:
    """cv.json before format 2: the union's figures at the top (``union_*`` beside the chosen ones when a pair
    model was tuned) and the pair model's under ``pair_model``."""
    pair = data.get("pair_model") or None
    used = bool(pair and pair.get("used"))
    rows = list(data.get("table") or [])
    is_pair = [str(r["source"]).startswith("pair model") for r in rows]
    union_score = _score(data.get("union_score") or data["score"])
    union_nested = _score(data.get("union_nested") if pair else data.get("nested"))
    union_policy = MatchPolicy.from_dict(data.get("union_policy") or data["policy"])
    matchers = [MatcherSummary(UNION, "union+min2" if union_policy.min2 else "union", union_score, union_nested,
                               union_policy, [r for r, p in zip(rows, is_pair) if not p],
                               {"size_curve": data.get("size_curve")})]
    if pair:
        nan = float("nan")
        score = _score(data["score"]) if used else MatchScore(pair["pair_f1"], nan, nan, union_score.n_rows)
        nested = _score(data.get("nested")) if used else (
            None if pair.get("pair_nested_f1") is None else MatchScore(pair["pair_nested_f1"], nan, nan,
                                                                        union_score.n_rows))
        policy = MatchPolicy.from_dict(data["policy"]) if used else union_policy
        matchers.append(MatcherSummary(PAIR_MODEL, "pair model", score, nested, policy,
                                       [r for r, p in zip(rows, is_pair) if p], dict(pair),
                                       importances=dict(pair.get("importances") or {})))
    return CVSummary(data.get("recipe", "?"), PAIR_MODEL if used else UNION, matchers,
                     dict(data.get("timings_s") or {}), list(data.get("notes") or []), dict(data.get("meta") or {}))


def _jsonable_row(row: dict) -> dict:
    threshold = row["threshold"]
    if isinstance(threshold, dict):
        threshold = {k: (None if v is None or not np.isfinite(v) else v) for k, v in threshold.items()}
    elif threshold is not None and not np.isfinite(threshold):
        threshold = None
    return {**row, "threshold": threshold}


def write_cv_folder(out: str | Path, summary: CVSummary, thresholds: Thresholds, curves: dict, candidates: Candidates,
                    oof_predictions: pd.DataFrame) -> Path:
    """Write the whole folder at once (see the module doc); an existing CV folder at ``out`` is replaced."""
    out = check_cv_folder_out(out)
    if list(oof_predictions.columns) != OOF_PREDICTION_COLUMNS:
        raise ValueError(f"oof_predictions columns must be {OOF_PREDICTION_COLUMNS}")
    with atomic_dir(out, overwrite=True) as tmp:
        write_json(tmp / "cv.json", summary.as_dict())
        write_thresholds(tmp / "thresholds.json", thresholds)
        write_json(tmp / "curves.json", curves)
        write_candidates(tmp / "candidates.npz", candidates)
        write_csv(tmp / "oof_predictions.csv", oof_predictions)
    return out


def check_cv_folder_out(out: str | Path, inputs=()) -> Path:
    """``out`` as the CV folder to write, checked before the CV runs: new, empty, or a CV folder (replaced)."""
    out = check_output_dir(out, inputs)
    if out.is_dir() and any(out.iterdir()) and not (out / "cv.json").is_file():
        raise OutputExistsError(f"{out} exists, is not empty and is not a CV folder; choose another --out")
    return out


def write_candidates(path: str | Path, candidates: Candidates) -> None:
    table = candidates.table
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, rows=table.rows, cols=table.cols,
                                posting_id=np.asarray(candidates.posting_ids).astype(str),
                                label_group=candidates.labels, fold=candidates.folds,
                                **{f"score__{k}": v for k, v in table.scores.items()})


CV_REMEDY = "run `prodmatch cv` again to rewrite the CV folder"


def read_candidates(path: str | Path) -> Candidates:
    with read_errors(path, CV_REMEDY):
        with np.load(path, allow_pickle=False) as data:
            scores = {k[len("score__"):]: data[k] for k in data.files if k.startswith("score__")}
            n = len(data["posting_id"])
            table = CandidateTable(data["rows"], data["cols"], scores, n, n)
            return Candidates(table, data["posting_id"].astype(object), data["label_group"], data["fold"])


def _read_json(path: Path):
    with read_errors(path, CV_REMEDY):
        return json.loads(path.read_text(encoding="utf-8"))


@dataclass
class CVFolder:
    """A CV folder, loaded."""

    path: Path
    summary: CVSummary  # cv.json
    curves: dict[str, list[dict]]  # curves.json
    candidates: Candidates
    policy: MatchPolicy
    recipe: Recipe  # from thresholds.json: what each source is (its scale), the priority
    written: datetime  # cv.json's modification time

    @property
    def table(self) -> CandidateTable:
        return self.candidates.table

    @property
    def posting_ids(self) -> np.ndarray:
        return self.candidates.posting_ids

    @property
    def labels(self) -> np.ndarray:
        return self.candidates.labels

    @property
    def folds(self) -> np.ndarray:
        return self.candidates.folds

    @property
    def meta(self) -> dict:
        return self.summary.meta

    @property
    def n_rows(self) -> int:
        return len(self.posting_ids)


def read_cv_folder(path: str | Path) -> CVFolder:
    path = Path(path)
    if not path.is_dir():
        raise MissingInputError(f"CV folder not found: {path}")
    missing = [name for name in ("cv.json", "thresholds.json", "candidates.npz") if not (path / name).is_file()]
    if missing:
        raise MissingInputError(f"{path} is not a CV folder (missing {', '.join(missing)}); "
                                f"make one with: python -m prodmatch cv --data-dir DIR --out {path}")
    try:
        summary = CVSummary.from_dict(json.loads((path / "cv.json").read_text(encoding="utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ArgumentError(f"{path / 'cv.json'}: not a prodmatch CV summary ({exc}); re-run `prodmatch cv`") from None
    curves_path = path / "curves.json"
    curves = _read_json(curves_path) if curves_path.is_file() else {}
    candidates = read_candidates(path / "candidates.npz")
    policy = summary.policy
    recipe = read_thresholds(path / "thresholds.json").recipe
    unknown = [s for s in policy.priority if s not in candidates.table.scores]
    if unknown:
        raise ArgumentError(f"{path}: policy sources {unknown} are not in candidates.npz ({candidates.table.sources})")
    written = datetime.fromtimestamp((path / "cv.json").stat().st_mtime)
    return CVFolder(path, summary, curves, candidates, policy, recipe, written)
