"""``thresholds.json``: a tuned match policy, the recipe it belongs to, its size curve, and what it was tuned on.

Written by ``prodmatch cv`` (in the CV folder), by ``make_submission.py`` when it tunes (beside the
submission, see :func:`beside_submission`) and by ``prodmatch kernel build``; read by ``make_submission.py
--thresholds`` and the kernel.

With a pair model the file also holds, under ``pair_model``, the trained model itself (LightGBM's model
text), how its probabilities become matches, whether it won in CV (``use``) and the CV figures behind that
choice -- one file to ship. ``policy`` stays the union's: what matches where LightGBM is missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from prodmatch.errors import ArgumentError
from prodmatch.fileio import write_json
from prodmatch.match.pair.matching import PairMatching
from prodmatch.match.pair.model import PairModel
from prodmatch.match.policy import MatchPolicy
from prodmatch.match.size_aware import SizeCurve
from prodmatch.recipes import Recipe, recipe_from_dict


@dataclass
class PairThresholds:
    """The pair model as shipped: the model, its matching, and whether it beat the union in CV."""

    model: PairModel
    matching: PairMatching
    use: bool  # False: it did not win in CV; the union matches
    cv: dict = field(default_factory=dict)  # F1 of union and pair model (plain, nested), importances, size check

    def as_dict(self) -> dict:
        return {"use": self.use, "matching": self.matching.as_dict(), "cv": self.cv, "model": self.model.as_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> "PairThresholds":
        return cls(PairModel.from_dict(data["model"]), PairMatching.from_dict(data["matching"]), bool(data["use"]),
                   data.get("cv") or {})


@dataclass
class Thresholds:
    policy: MatchPolicy  # the union's, tuned at fold size
    recipe: Recipe
    size_curve: SizeCurve | None = None  # moves the policy to the test size (None: fixed thresholds)
    tuned_on: dict = field(default_factory=dict)  # rows, folds, data dir...
    pair: PairThresholds | None = None  # the pair model, when the recipe has one and LightGBM was installed


def beside_submission(submission_path: str | Path) -> Path:
    """Where ``make_submission.py`` saves the thresholds it tuned: ``submission.csv`` -> ``submission.thresholds.json``."""
    return Path(submission_path).with_suffix(".thresholds.json")


def write_thresholds(path: str | Path, thresholds: Thresholds) -> None:
    curve = thresholds.size_curve
    write_json(path, {"recipe": thresholds.recipe.spec, "policy": thresholds.policy.as_dict(),
                      "size_curve": None if curve is None else curve.as_dict(), "tuned_on": thresholds.tuned_on or {},
                      "pair_model": None if thresholds.pair is None else thresholds.pair.as_dict()})


def read_thresholds(path: str | Path) -> Thresholds:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, json.JSONDecodeError) as exc:
        raise ArgumentError(f"{path}: cannot read thresholds file ({exc})") from None
    try:
        curve = None if not data.get("size_curve") else SizeCurve.from_dict(data["size_curve"])
        pair = None if not data.get("pair_model") else PairThresholds.from_dict(data["pair_model"])
        return Thresholds(MatchPolicy.from_dict(data["policy"]), recipe_from_dict(data["recipe"]), curve,
                          data.get("tuned_on") or {}, pair)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ArgumentError(f"{path}: not a prodmatch thresholds file ({exc})") from None
