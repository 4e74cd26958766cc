"""Which trained run fills each embedding a recipe declares, and the embeddings they give.

A recipe's ``embeddings`` section maps an embedding name to a selector: ``{model: image}`` (the one run
under --weights whose model type is image) or ``{run: PATH}`` (a run folder; a bare name is looked up
under --weights). Optional embeddings without a run drop the sources that need them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.artifacts.oof import oof_posting_ids, read_oof_embeddings
from prodmatch.artifacts.weights import check_finished, find_runs, fold_folders, run_model_type
from prodmatch.errors import ArgumentError, MissingInputError
from prodmatch.recipes import Recipe


def _selected_run(name: str, selector: dict, weights_dir: Path) -> Path:
    run_dir = Path(selector["run"])
    if not run_dir.is_dir() and (weights_dir / run_dir.name).is_dir():
        run_dir = weights_dir / run_dir.name
    if not run_dir.is_dir():
        raise MissingInputError(f"recipe embedding {name!r}: run folder {selector['run']} not found "
                                f"(nor under {weights_dir})")
    return run_dir


def resolve_runs(recipe: Recipe, weights_dir: str | Path) -> dict[str, Path]:
    """embedding name -> run dir, for every embedding the recipe declares (optional ones may be absent); a run
    whose training did not finish is refused, naming its folder."""
    weights_dir = Path(weights_dir)
    runs = find_runs(weights_dir)
    resolved = {}
    for name, selector in recipe.embeddings.items():
        selector = selector or {}
        if "run" in selector:
            resolved[name] = _selected_run(name, selector, weights_dir)
            continue
        wanted = selector.get("model", name)
        matching = [d for d in runs.values() if run_model_type(d) == wanted]
        if not matching and selector.get("optional", False):
            continue
        if not matching:
            raise MissingInputError(
                f"recipe '{recipe.name}' needs a trained {wanted} model for embedding {name!r}, but {weights_dir} "
                f"has none (found runs: {sorted(runs) or 'none'}). Train one with `python train_fold.py --model "
                f"{wanted} ...` or point --weights elsewhere."
            )
        if len(matching) > 1:
            raise ArgumentError(
                f"several {wanted} runs under {weights_dir}: {[d.name for d in matching]}; name one in the recipe "
                f"(embeddings: {{{name}: {{run: PATH}}}})"
            )
        resolved[name] = matching[0]
    for run_dir in resolved.values():
        check_finished(fold_folders(run_dir))
    return resolved


def recipe_for_weights(recipe: Recipe, weights_dir: str | Path):
    """The recipe restricted to the embeddings that trained runs provide, its runs, and notes on what was dropped.

    A recipe that needs weights but finds no run for any of its embeddings is an error (a mistyped --weights
    must not quietly turn ``full`` into text-phash under the name ``full``).
    """
    if not recipe.needs_weights:
        return recipe, {}, []
    runs = resolve_runs(recipe, weights_dir)
    if not runs:
        raise MissingInputError(_no_runs_message(recipe, Path(weights_dir)))
    restricted, notes = recipe.restrict_to(runs)
    return restricted, {k: v for k, v in runs.items() if k in restricted.embeddings}, notes


def _no_runs_message(recipe: Recipe, weights_dir: Path) -> str:
    wanted = sorted(recipe.embeddings)
    if not weights_dir.is_dir():
        where = f"--weights {weights_dir}: no such folder"
    else:
        found = sorted(find_runs(weights_dir))
        where = f"{weights_dir} holds no trained run for them (runs found: {found or 'none'})"
    return (f"recipe '{recipe.name}' needs trained runs for its embeddings {wanted}, but {where}. Train one with "
            "`python train_fold.py ...`, point --weights at your runs, or use --recipe text-phash (no weights)")


def image_embeddings(runs: dict[str, Path]) -> list[str]:
    """The embeddings filled by an image model (decided by each run's model type)."""
    return [name for name, run_dir in runs.items() if run_model_type(run_dir) == "image"]


def check_policy_runs(tuned_sources: list[str], recipe: Recipe, weights_dir: str | Path,
                      thresholds_path: str | Path) -> None:
    """Every source the thresholds were tuned with must run: a missing run is an error, not a silent drop."""
    missing = sorted(set(tuned_sources) - set(recipe.source_names))
    if missing:
        dropped = (recipe.spec.get("dropped_sources") or {}).get("missing_embeddings", [])
        raise MissingInputError(
            f"{thresholds_path} was tuned with source(s) {missing}, which need trained run(s) for embedding(s) "
            f"{dropped or '?'} that {weights_dir} does not have; point --weights at the runs the thresholds "
            "were tuned with, or re-tune with `prodmatch cv` on these runs")


def oof_embeddings_for(runs: dict[str, Path], train: pd.DataFrame):
    """Out-of-fold embeddings per embedding name, and the mask of train rows that every run covers.

    Rows of folds that some run has not trained yet are outside the mask; CV scores the covered rows only.
    """
    posting_ids = train["posting_id"].to_numpy()
    covered = np.ones(len(train), dtype=bool)
    for run_dir in runs.values():
        covered &= np.isin(posting_ids, oof_posting_ids(run_dir))
    if runs and not covered.any():
        raise MissingInputError(f"the trained runs {sorted(map(str, runs.values()))} cover no common train fold")
    return {name: read_oof_embeddings(run_dir, posting_ids[covered]) for name, run_dir in runs.items()}, covered


def test_embeddings_for(runs: dict[str, Path], frame: pd.DataFrame, images_dir: Path,
                        batch_size: int | None = None, progress: bool = False):
    """Fold-averaged embeddings of ``frame`` from every fold model of each run, and which rows had a usable
    image (:class:`prodmatch.embed.FrameEmbeddings`)."""
    from prodmatch.embed import embed_runs

    kwargs = {} if batch_size is None else {"batch_size": batch_size}
    return embed_runs(runs, frame, images_dir, progress=progress, **kwargs)
