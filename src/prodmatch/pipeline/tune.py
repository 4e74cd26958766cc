"""Tuning a recipe's policy by CV on a train set -- the one flow behind ``prodmatch cv``, the tuning step of
``make_submission.py`` and ``prodmatch kernel build --tune-data-dir``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prodmatch.artifacts.cv_folder import CV_FILES, check_cv_folder_out
from prodmatch.artifacts.thresholds import Thresholds
from prodmatch.artifacts.weights import run_fingerprint
from prodmatch.cv import CVResult, run_cv, save_cv
from prodmatch.cv.run import KAGGLE_TEST_SIZE
from prodmatch.data import DataDir
from prodmatch.data.folds import DEFAULT_N_FOLDS
from prodmatch.pipeline.inputs import CVInputs, prepare_cv
from prodmatch.recipes import Recipe

Log = Callable[[str], None]


@dataclass
class TuneOptions:
    data_dir: str | Path
    recipe: Recipe
    weights: str | Path = "weights"
    folds: str | Path | None = None  # folds CSV (default: folds/<data>_<k>fold.csv if present, else hashed)
    n_folds: int = DEFAULT_N_FOLDS
    only_folds: list[int] | None = None
    nested: bool = True
    size_curve: bool = True
    progress: bool = False
    matcher: str | None = None  # tune only this decision rule (prodmatch.match.kinds); None: all the recipe's
    test_size: int | None = KAGGLE_TEST_SIZE  # the postings the rules will match at once (the choice is made there)


@dataclass
class Tuned:
    result: CVResult
    inputs: CVInputs
    seconds: float

    def thresholds(self, data_dir: str | Path) -> Thresholds:
        """The tuned rules as saved in thresholds.json, with what they were tuned on."""
        return self.result.thresholds(provenance(self.inputs, data_dir))


def provenance(inputs: CVInputs, data_dir: str | Path) -> dict:
    """What thresholds were tuned on, so that a later run can tell when it meets other data or other runs."""
    return {"folds": inputs.folds_source, "data_dir": str(Path(data_dir).resolve()),
            "data": {"train_csv": str(DataDir.of(data_dir).train_csv.resolve()), "fingerprint": inputs.train_fingerprint},
            "runs": {name: {"run": str(Path(run).resolve()), "fingerprint": run_fingerprint(run)}
                     for name, run in inputs.runs.items()}}


def tune(options: TuneOptions, log: Log = print) -> Tuned:
    """Read the train set, its folds and trained runs, then CV the recipe on it (see prodmatch.cv.run_cv)."""
    started = time.perf_counter()
    inputs = prepare_cv(options.data_dir, options.recipe, options.weights, options.folds, options.n_folds)
    if options.only_folds:
        inputs = inputs.only_folds(options.only_folds)
    for note in inputs.notes:
        log(f"note: {note}")
    log(f"CV of recipe '{inputs.recipe.name}' on {DataDir.of(options.data_dir).train_csv} ({len(inputs.train)} rows, "
        f"folds: {inputs.folds_source})")
    result = run_cv(inputs.train, inputs.folds, inputs.recipe, inputs.embeddings, nested=options.nested,
                    size_curve=options.size_curve, progress=options.progress, matcher=options.matcher,
                    test_size=options.test_size)
    return Tuned(result, inputs, time.perf_counter() - started)


def default_cv_out(data_dir: str | Path, recipe_name: str) -> Path:
    """runs/cv/<data folder name>-<recipe>."""
    return Path("runs") / "cv" / f"{Path(data_dir).resolve().name}-{recipe_name}"


@dataclass
class CVRun:
    tuned: Tuned
    out: Path
    seconds: float

    @property
    def result(self) -> CVResult:
        return self.tuned.result

    def summary(self) -> str:
        return (f"{self.result.format_table()}\nwrote {self.out}/ ({', '.join(CV_FILES)}) in {self.seconds:.1f}s")


def cross_validate(options: TuneOptions, out: str | Path | None = None, log: Log = print) -> CVRun:
    """``prodmatch cv``: tune, then write the CV folder (default runs/cv/<data>-<recipe>/)."""
    started = time.perf_counter()
    out = check_cv_folder_out(out or default_cv_out(options.data_dir, options.recipe.name),
                              [options.data_dir, options.weights, options.folds])
    tuned = tune(options, log)
    inputs = tuned.inputs
    save_cv(tuned.result, out, tuned_on=provenance(inputs, options.data_dir), extra_meta={
        "data_dir": str(Path(options.data_dir).resolve()), "folds": inputs.folds_source,
        "runs": {k: str(v) for k, v in inputs.runs.items()}, "notes": inputs.notes,
        "wall_s": round(time.perf_counter() - started, 2)})
    return CVRun(tuned, out, time.perf_counter() - started)
