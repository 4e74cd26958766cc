"""The CV folder ``prodmatch cv`` writes and the report reads.

    cv.json              the CV table, score, nested estimate, policy, size curve, timings, meta
    thresholds.json      the tuned policy with its recipe and size curve (prodmatch.artifacts.thresholds)
    curves.json          per source: F1/precision/recall against its threshold (source alone)
    candidates.npz       every out-of-fold candidate pair with each source's score, and per-row
                         posting_id, label_group, fold
    oof_predictions.csv  posting_id, fold, matches, f1, precision, recall

The folder is built in a hidden temporary folder beside the target and swapped in whole, so a failure
(a full disk, a kill) leaves the previous CV folder as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.artifacts.thresholds import Thresholds, read_thresholds, write_thresholds
from prodmatch.errors import ArgumentError, MissingInputError, OutputExistsError
from prodmatch.fileio import atomic_dir, atomic_path, check_output_dir, read_errors, write_csv, write_json
from prodmatch.match.candidates import CandidateTable
from prodmatch.match.policy import MatchPolicy
from prodmatch.recipes import Recipe

CV_FILES = ("cv.json", "thresholds.json", "curves.json", "candidates.npz", "oof_predictions.csv")
OOF_PREDICTION_COLUMNS = ["posting_id", "fold", "matches", "f1", "precision", "recall"]


@dataclass
class Candidates:
    """The out-of-fold candidate table and the rows it is over."""

    table: CandidateTable
    posting_ids: np.ndarray
    labels: np.ndarray
    folds: np.ndarray


def write_cv_folder(out: str | Path, summary: dict, thresholds: Thresholds, curves: dict, candidates: Candidates,
                    oof_predictions: pd.DataFrame) -> Path:
    """Write the whole folder at once (see the module doc); an existing CV folder at ``out`` is replaced."""
    out = check_cv_folder_out(out)
    if list(oof_predictions.columns) != OOF_PREDICTION_COLUMNS:
        raise ValueError(f"oof_predictions columns must be {OOF_PREDICTION_COLUMNS}")
    with atomic_dir(out, overwrite=True) as tmp:
        write_json(tmp / "cv.json", summary)
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
    info: dict  # cv.json
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
        return self.info.get("meta", {})

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
    info = _read_json(path / "cv.json")
    curves_path = path / "curves.json"
    curves = _read_json(curves_path) if curves_path.is_file() else {}
    candidates = read_candidates(path / "candidates.npz")
    with read_errors(path / "cv.json", CV_REMEDY):
        policy = MatchPolicy.from_dict(info["policy"])
    recipe = read_thresholds(path / "thresholds.json").recipe
    unknown = [s for s in policy.priority if s not in candidates.table.scores]
    if unknown:
        raise ArgumentError(f"{path}: policy sources {unknown} are not in candidates.npz ({candidates.table.sources})")
    written = datetime.fromtimestamp((path / "cv.json").stat().st_mtime)
    return CVFolder(path, info, curves, candidates, policy, recipe, written)
