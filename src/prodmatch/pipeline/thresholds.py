"""Thresholds a test set can be matched with: a thresholds file checked against the recipe and the trained runs
at hand, and the rule to match with (the one that won in CV, or the one asked for; the first that can run here
when it cannot)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prodmatch.artifacts.thresholds import Thresholds, read_thresholds
from prodmatch.artifacts.weights import run_fingerprint
from prodmatch.data.fingerprint import frame_fingerprint
from prodmatch.data.reading import read_train
from prodmatch.errors import ArgumentError
from prodmatch.match.matcher import Matcher
from prodmatch.pipeline.runs import check_policy_runs, recipe_for_weights
from prodmatch.recipes import Recipe, load_recipe


@dataclass
class RunnableThresholds:
    """Tuned rules, the recipe restricted to the runs found, and those runs."""

    thresholds: Thresholds
    recipe: Recipe
    runs: dict[str, Path]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. tuned on other runs than the ones at hand

    def matcher_for(self, n_rows: int, kind: str | None = None, fixed: bool = False) -> tuple[Matcher, list[str]]:
        """The rule for ``n_rows`` test postings (``kind``: that one instead of the CV's choice; ``fixed``: as
        tuned at fold size) and notes on the choice."""
        matcher, notes = self.thresholds.matcher(kind)
        return (matcher if fixed else matcher.for_test_size(n_rows)), notes


def load_runnable_thresholds(path: str | Path, weights: str | Path | None, recipe_arg: str | None = None
                             ) -> RunnableThresholds:
    """Read ``path`` and check it can run here: ``recipe_arg`` (a name or .yaml, None/"auto" = the file's)
    must be the recipe it was tuned with, and every source it tuned needs its trained runs under ``weights``."""
    thresholds = read_thresholds(path)
    if recipe_arg not in (None, "auto") and load_recipe(recipe_arg).name != thresholds.recipe.name:
        raise ArgumentError(f"--recipe {recipe_arg} differs from the recipe '{thresholds.recipe.name}' in {path}")
    recipe, runs, notes = recipe_for_weights(thresholds.recipe, weights or "weights")
    check_policy_runs(thresholds.recipe.source_names, recipe, weights, path)
    return RunnableThresholds(thresholds, recipe, runs, notes, other_runs(thresholds.tuned_on, runs, path))


def other_runs(tuned_on: dict, runs: dict[str, Path], path: str | Path) -> list[str]:
    """A warning per embedding whose run at hand is not the one the thresholds were tuned with (its model files
    differ): its scores mean something else, so the thresholds may be far off."""
    out = []
    for name, tuned in (tuned_on.get("runs") or {}).items():
        if name in runs and tuned.get("fingerprint") and run_fingerprint(runs[name]) != tuned["fingerprint"]:
            out.append(f"{path} was tuned with another {name} run ({tuned.get('run')}) than {runs[name]}: its model "
                       "files differ, so the thresholds may not fit; re-tune on this run (`prodmatch cv`) or point "
                       "--weights at the run they were tuned with")
    return out


def other_data(tuned_on: dict, train_csv: Path, path: str | Path) -> list[str]:
    """A warning when ``train_csv`` exists and is not the train set the thresholds were tuned on."""
    tuned = tuned_on.get("data") or {}
    if not tuned.get("fingerprint") or not train_csv.is_file():
        return []
    if frame_fingerprint(read_train(train_csv)) == tuned["fingerprint"]:
        return []
    return [f"{path} was tuned on another train set ({tuned.get('train_csv')}) than {train_csv}: re-tune on this "
            "one, or mind that the thresholds come from other data"]
