"""``thresholds.json``: a tuned match policy, the recipe it belongs to, its size curve, and what it was tuned on.

Written by ``prodmatch cv`` (in the CV folder), by ``make_submission.py`` when it tunes (beside the
submission, see :func:`beside_submission`) and by ``prodmatch kernel build``; read by ``make_submission.py
--thresholds`` and the kernel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from prodmatch.errors import ArgumentError
from prodmatch.fileio import write_json
from prodmatch.match.policy import MatchPolicy
from prodmatch.match.size_aware import SizeCurve
from prodmatch.recipes import Recipe, recipe_from_dict


@dataclass
class Thresholds:
    policy: MatchPolicy  # tuned at fold size
    recipe: Recipe
    size_curve: SizeCurve | None = None  # moves the policy to the test size (None: fixed thresholds)
    tuned_on: dict = field(default_factory=dict)  # rows, folds, data dir...


def beside_submission(submission_path: str | Path) -> Path:
    """Where ``make_submission.py`` saves the thresholds it tuned: ``submission.csv`` -> ``submission.thresholds.json``."""
    return Path(submission_path).with_suffix(".thresholds.json")


def write_thresholds(path: str | Path, thresholds: Thresholds) -> None:
    curve = thresholds.size_curve
    write_json(path, {"recipe": thresholds.recipe.spec, "policy": thresholds.policy.as_dict(),
                      "size_curve": None if curve is None else curve.as_dict(), "tuned_on": thresholds.tuned_on or {}})


def read_thresholds(path: str | Path) -> Thresholds:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, json.JSONDecodeError) as exc:
        raise ArgumentError(f"{path}: cannot read thresholds file ({exc})") from None
    try:
        curve = None if not data.get("size_curve") else SizeCurve.from_dict(data["size_curve"])
        return Thresholds(MatchPolicy.from_dict(data["policy"]), recipe_from_dict(data["recipe"]), curve,
                          data.get("tuned_on") or {})
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ArgumentError(f"{path}: not a prodmatch thresholds file ({exc})") from None
