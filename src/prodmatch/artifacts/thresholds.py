"""``thresholds.json``: every decision rule tuned in CV, which one won, the recipe they belong to, and what
they were tuned on.

Written by ``prodmatch cv`` (in the CV folder), by ``make_submission.py`` when it tunes (beside the
submission, see :func:`beside_submission`) and by ``prodmatch kernel build``; read by ``make_submission.py
--thresholds`` and the kernel. One file to ship: a pair model travels inside it (LightGBM's model text).

Format 2 (this version)::

    {"format": 2, "recipe": {...}, "chosen": "pair-model",
     "matchers": [{"kind": "union", ...}, {"kind": "pair-model", ...}],
     "cv": {"union": {...}, "pair-model": {...}},      # the CV figures behind the choice
     "tuned_on": {...}}                                 # rows, folds, data dir, runs

Files without ``format`` (written before format 2: the union's ``policy`` and ``size_curve`` at the top, the
pair model under ``pair_model``) still load. Values are checked on load: a threshold outside its scale's
range, a NaN, or a chosen rule the file does not hold is refused with the file's name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from prodmatch.errors import ArgumentError
from prodmatch.fileio import write_json
from prodmatch.match.forecast import SizeForecast
from prodmatch.match.kinds import PAIR_MODEL, UNION
from prodmatch.match.matcher import Matcher, matcher_from_dict
from prodmatch.recipes import Recipe, recipe_from_dict

THRESHOLDS_FORMAT = 2


@dataclass
class Thresholds:
    recipe: Recipe
    matchers: list[Matcher]  # every rule tuned, in the order CV tried them
    chosen: str  # the kind that won in CV
    tuned_on: dict = field(default_factory=dict)  # rows, folds, data dir, runs...
    cv: dict[str, dict] = field(default_factory=dict)  # per kind: the CV figures behind the choice

    def __post_init__(self) -> None:
        kinds = [m.kind for m in self.matchers]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"one matcher per kind, got {kinds}")
        if self.chosen not in kinds:
            raise ValueError(f"the chosen matcher {self.chosen!r} is not among {kinds}")

    @classmethod
    def union_only(cls, recipe: Recipe, policy, size_curve=None, tuned_on: dict | None = None) -> Thresholds:
        """Thresholds of the union rule alone (e.g. written by hand, or by a CV without other rules)."""
        from prodmatch.match.union import UnionMatcher

        return cls(recipe, [UnionMatcher(policy, size_curve)], UNION, tuned_on or {})

    @property
    def kinds(self) -> list[str]:
        return [m.kind for m in self.matchers]

    def by_kind(self, kind: str) -> Matcher:
        for matcher in self.matchers:
            if matcher.kind == kind:
                return matcher
        raise KeyError(kind)

    def forecast(self, kind: str) -> SizeForecast | None:
        """A rule's F1 on pools of growing size, as its CV measured it (None when it made none)."""
        data = (self.cv.get(kind) or {}).get("forecast")
        return None if not data else SizeForecast.from_dict(data)

    def matcher(self, kind: str | None = None) -> tuple[Matcher, list[str]]:
        """The rule to match with -- ``kind``, or the one that won in CV -- and notes. When it cannot run here
        (e.g. LightGBM missing), the first rule of the file that can, with a note saying why."""
        wanted = self.chosen if kind is None else kind
        if wanted not in self.kinds:
            raise ArgumentError(f"--matcher {wanted}: these thresholds hold {', '.join(self.kinds)}; tune it with "
                                f"`prodmatch cv --matcher {wanted}`")
        notes = [] if kind is None or kind == self.chosen else [
            f"matching with the {kind} rule as asked; the {self.chosen} rule won in CV"]
        matcher = self.by_kind(wanted)
        why = matcher.unavailable()
        if why is None:
            return matcher, notes
        for fallback in self.matchers:
            if fallback.unavailable() is None:
                return fallback, notes + [f"{why}: matching with the {fallback.kind} rule instead of {wanted}"]
        raise ArgumentError(f"no rule of these thresholds can run here: {why}")


def beside_submission(submission_path: str | Path) -> Path:
    """Where ``make_submission.py`` saves the thresholds it tuned: ``submission.csv`` -> ``submission.thresholds.json``."""
    return Path(submission_path).with_suffix(".thresholds.json")


def write_thresholds(path: str | Path, thresholds: Thresholds) -> None:
    write_json(path, {"format": THRESHOLDS_FORMAT, "recipe": thresholds.recipe.spec, "chosen": thresholds.chosen,
                      "matchers": [m.as_dict() for m in thresholds.matchers], "cv": thresholds.cv,
                      "tuned_on": thresholds.tuned_on or {}})


def read_thresholds(path: str | Path) -> Thresholds:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArgumentError(f"{path}: cannot read thresholds file ({exc})") from None
    if not isinstance(data, dict):
        raise ArgumentError(f"{path}: not a prodmatch thresholds file (a JSON object is expected)")
    version = data.get("format", 1)
    if version not in (1, THRESHOLDS_FORMAT):
        raise ArgumentError(f"{path}: thresholds format {version!r} is not one this prodmatch reads (1, "
                            f"{THRESHOLDS_FORMAT}); re-tune with `prodmatch cv` or update prodmatch")
    try:
        thresholds = _from_format_2(data) if version == THRESHOLDS_FORMAT else _from_format_1(data)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ArgumentError(f"{path}: not a prodmatch thresholds file ({exc})") from None
    problems = [p for m in thresholds.matchers for p in m.check(thresholds.recipe.scale_of)]
    if problems:
        raise ArgumentError(f"{path}: {problems[0]}; re-tune with `prodmatch cv` (the file may have been edited)")
    return thresholds


def _from_format_2(data: dict) -> Thresholds:
    return Thresholds(recipe_from_dict(data["recipe"]), [matcher_from_dict(m) for m in data["matchers"]],
                      data["chosen"], data.get("tuned_on") or {}, data.get("cv") or {})


def _from_format_1(data: dict) -> Thresholds:
    """Before format 2: the union's policy and size curve at the top; the pair model (if any) under
    ``pair_model`` with ``use``: whether it won in CV."""
    matchers = [matcher_from_dict({"kind": UNION, "policy": data["policy"], "size_curve": data.get("size_curve")})]
    chosen, cv = UNION, {}
    pair = data.get("pair_model")
    if pair:
        matchers.append(matcher_from_dict({"kind": PAIR_MODEL, "matching": pair["matching"], "model": pair["model"]}))
        chosen = PAIR_MODEL if pair["use"] else UNION
        cv = {PAIR_MODEL: pair.get("cv") or {}}
    return Thresholds(recipe_from_dict(data["recipe"]), matchers, chosen, data.get("tuned_on") or {}, cv)
