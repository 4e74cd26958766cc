"""``make_submission.py``: thresholds (given, or tuned by CV on train.csv), the rule to match with moved to the
test size, test embeddings, the rule's matches, and a validated submission.csv -- each stage timed by one
:class:`StageTimings`.

Before any work, every output path is checked (:func:`check_outputs`) and the output is locked, so two runs
writing the same ``--out`` cannot leave the submission of one beside the ``<out>.thresholds.json`` of the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prodmatch.artifacts.submission import write_submission
from prodmatch.artifacts.thresholds import beside_submission, write_thresholds
from prodmatch.artifacts.timings import EMBED_STAGE, MATCH_STAGE, TUNE_STAGE, WRITE_STAGE, StageTimings, write_timings
from prodmatch.data import DataDir
from prodmatch.data.folds import DEFAULT_N_FOLDS
from prodmatch.fileio import check_output_file, output_lock
from prodmatch.match.forecast import ExpectedF1
from prodmatch.match.matcher import Matched, Matcher
from prodmatch.pipeline.features import features_for_test
from prodmatch.pipeline.thresholds import RunnableThresholds, load_runnable_thresholds, other_data
from prodmatch.pipeline.tune import Log, TuneOptions, tune
from prodmatch.recipes import Recipe, load_recipe


@dataclass
class SubmitOptions:
    data_dir: str | Path
    out: str | Path = "submission.csv"
    recipe: str | None = None  # name or .yaml; default text-phash, or the one in thresholds
    thresholds: str | Path | None = None  # thresholds.json; None: tune by CV on train.csv first
    weights: str | Path = "weights"
    folds: str | Path | None = None
    n_folds: int = DEFAULT_N_FOLDS
    batch_size: int | None = None
    fixed_thresholds: bool = False
    timings_json: str | Path | None = None
    allow_missing_images: bool = False  # no usable test image: match by title and phash instead of failing
    progress: bool = False  # progress bars for tuning and embedding
    matcher: str | None = None  # match with this rule (prodmatch.match.kinds) instead of the one that won in CV


@dataclass
class SubmitResult:
    out: Path
    recipe: Recipe
    matcher: Matcher  # the rule that matched, moved to the test size
    match_counts: list[int]
    timings: StageTimings
    thresholds_saved: Path | None = None
    notes: list[str] = field(default_factory=list)
    expected: ExpectedF1 | None = None  # the CV's forecast for this many test postings

    def summary(self) -> str:
        sizes = self.match_counts
        lines = [f"wrote {self.out}: {len(sizes)} postings, mean {sum(sizes) / len(sizes):.2f} matches "
                 f"(max {max(sizes)}), validated against test.csv"]
        if self.thresholds_saved:
            lines.append(f"thresholds tuned for it: {self.thresholds_saved} (reuse with --thresholds to skip tuning)")
        lines.append(f"seconds: {self.timings.summary()}")
        return "\n".join(lines)


def check_outputs(options: SubmitOptions, data: DataDir) -> Path:
    """Every file the run will write, checked before any work: not an input, not a folder, device or link."""
    inputs = [data.test_csv, data.train_csv, data.sample_submission_csv, options.thresholds]
    out = check_output_file(options.out, inputs)
    thresholds = None if options.thresholds else check_output_file(beside_submission(out), inputs, [out])
    if options.timings_json:
        check_output_file(options.timings_json, inputs, [out, thresholds])
    return out


def _tuned(options: SubmitOptions, n_test: int, log: Log) -> tuple[RunnableThresholds, Path]:
    """Tune on train.csv (size curve unless fixed thresholds) and save the thresholds beside the output."""
    recipe = load_recipe(options.recipe or "text-phash")
    tuned = tune(TuneOptions(options.data_dir, recipe, options.weights, options.folds, options.n_folds, nested=False,
                             size_curve=not options.fixed_thresholds, progress=options.progress,
                             matcher=options.matcher, test_size=n_test), log)
    log(tuned.result.format_table(test_sizes=(n_test,)))
    thresholds = tuned.thresholds(options.data_dir)
    saved = beside_submission(options.out)
    write_thresholds(saved, thresholds)
    log(f"tuned on {len(tuned.inputs.train)} train rows ({tuned.inputs.folds_source}); thresholds saved to {saved}")
    return RunnableThresholds(thresholds, tuned.inputs.recipe, tuned.inputs.runs, tuned.inputs.notes), saved


def _safe_result(runnable: RunnableThresholds, matcher: Matcher, matched: Matched, features, options: SubmitOptions,
                 log: Log) -> tuple[Matcher, Matched]:
    """A result that collapsed (almost every posting alone, or most at the cap) is warned about; when the rule was
    moved to the test size, the rule as tuned is tried instead and kept if it does not collapse."""
    cap = runnable.recipe.cap
    why = matched.degenerate(cap)
    if why is None:
        return matcher, matched
    log(f"warning: {why}: the result looks degenerate")
    if options.fixed_thresholds:
        return matcher, matched
    tuned, _ = runnable.matcher_for(len(features), options.matcher, fixed=True)
    again = tuned.match(features, runnable.recipe.sources)
    if again.degenerate(cap) is None:
        log(f"warning: matching with the rule as tuned instead (not moved to the test size): "
            f"{tuned.describe(runnable.recipe.scale_of)}")
        return tuned, again
    log("warning: the rule as tuned collapses too; the result is written as it is -- check the thresholds file")
    return matcher, matched


def submit(options: SubmitOptions, log: Log = print) -> SubmitResult:
    """test.csv -> a validated submission at ``options.out`` (one run at a time per output path)."""
    data = DataDir.of(options.data_dir)
    out = check_outputs(options, data)
    with output_lock(out):
        return _submit(options, data, log)


def _submit(options: SubmitOptions, data: DataDir, log: Log) -> SubmitResult:
    timings = StageTimings()
    test = data.read_test()
    saved = None
    if options.thresholds:
        runnable = load_runnable_thresholds(options.thresholds, options.weights, options.recipe)
        runnable.warnings += other_data(runnable.thresholds.tuned_on, data.train_csv, options.thresholds)
        log(f"thresholds from {options.thresholds}")
    else:
        with timings.stage(TUNE_STAGE):
            runnable, saved = _tuned(options, len(test), log)
    recipe = runnable.recipe
    matcher, notes = runnable.matcher_for(len(test), options.matcher, options.fixed_thresholds)
    notes = runnable.notes + notes
    for note in notes:
        log(f"note: {note}")
    for warning in runnable.warnings:
        log(f"warning: {warning}")
    log(f"for {len(test)} test postings: {matcher.describe(recipe.scale_of)}")
    forecast = runnable.thresholds.forecast(matcher.kind)
    expected = None if forecast is None else forecast.at(len(test))
    log(expected.text() if expected is not None else
        f"expected F1 at {len(test)} postings: unknown (the CV measured pools of one size only)")
    with timings.stage(EMBED_STAGE):
        features = features_for_test(runnable.runs, recipe, test, data.test_images, options.batch_size,
                                     options.allow_missing_images, options.progress, log)
    with timings.stage(MATCH_STAGE):
        matched = matcher.match(features, recipe.sources)
        matcher, matched = _safe_result(runnable, matcher, matched, features, options, log)
        matches = matched.match_lists(features.posting_ids)
        timings.search_seconds = matched.seconds
    with timings.stage(WRITE_STAGE):
        write_submission(options.out, features.posting_ids, matches, test)
    timings.n_test, timings.recipe = len(test), recipe.name
    timings.finish()
    if options.timings_json:
        write_timings(options.timings_json, timings)
    return SubmitResult(Path(options.out), recipe, matcher, [len(m) for m in matches], timings, saved, notes, expected)
