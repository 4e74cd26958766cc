"""The policy a test set is matched with: from a thresholds file (checked against the recipe and the trained
runs at hand), moved to the test size by its size curve; the pair model's matching when the file has one
that won in CV and LightGBM is installed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prodmatch.artifacts.thresholds import PairThresholds, Thresholds, read_thresholds
from prodmatch.errors import ArgumentError
from prodmatch.match.pair.matching import PairMatching
from prodmatch.match.pair.model import lightgbm_available
from prodmatch.match.policy import MatchPolicy
from prodmatch.pipeline.runs import check_policy_runs, recipe_for_weights
from prodmatch.recipes import Recipe, load_recipe


@dataclass
class RunnablePolicy:
    """Tuned thresholds, the recipe restricted to the runs found, and those runs."""

    thresholds: Thresholds
    recipe: Recipe
    runs: dict[str, Path]
    notes: list[str] = field(default_factory=list)

    def for_test_size(self, n_rows: int, fixed: bool = False) -> MatchPolicy:
        """The policy for ``n_rows`` test postings (the fold-size one when ``fixed`` or without a size curve)."""
        curve = self.thresholds.size_curve
        if curve is None or fixed:
            return self.thresholds.policy
        return curve.policy_for(n_rows)

    def pair_model(self, enabled: bool = True) -> tuple[PairThresholds | None, str | None]:
        """The pair model to match with, or None and (when there was one) why the union matches instead."""
        pair = self.thresholds.pair
        if pair is None:
            return None, None
        if not enabled:
            return None, "pair model switched off (--no-pair-model): matching with the union"
        if not pair.use:
            return None, "the pair model did not beat the union in CV: matching with the union"
        if not lightgbm_available():
            return None, "LightGBM is not installed (pip install 'lightgbm>=4.0'): matching with the union"
        return pair, None

    @staticmethod
    def pair_for_test_size(pair: PairThresholds, n_rows: int, fixed: bool = False) -> PairMatching:
        """The pair model's matching for ``n_rows`` test postings (the fold-size one when ``fixed``)."""
        return pair.matching if fixed else pair.matching.for_test_size(n_rows)


def load_runnable_thresholds(path: str | Path, weights: str | Path | None, recipe_arg: str | None = None
                             ) -> RunnablePolicy:
    """Read ``path`` and check it can run here: ``recipe_arg`` (a name or .yaml, None/"auto" = the file's)
    must be the recipe it was tuned with, and every source it tuned needs its trained runs under ``weights``."""
    thresholds = read_thresholds(path)
    if recipe_arg not in (None, "auto") and load_recipe(recipe_arg).name != thresholds.recipe.name:
        raise ArgumentError(f"--recipe {recipe_arg} differs from the recipe '{thresholds.recipe.name}' in {path}")
    recipe, runs, notes = recipe_for_weights(thresholds.recipe, weights or "weights")
    check_policy_runs(thresholds.policy, recipe, weights, path)
    return RunnablePolicy(thresholds, recipe, runs, notes)
