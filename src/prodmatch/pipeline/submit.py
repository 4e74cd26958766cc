"""``make_submission.py``: thresholds (given, or tuned by CV on train.csv), test embeddings, candidate search,
matching (the pair model's when it won in CV, else the union's), and a validated submission.csv -- each
stage timed by one :class:`StageTimings`.

Before any work, every output path is checked (:func:`check_outputs`) and the output is locked, so two runs
writing the same ``--out`` cannot leave the submission of one beside the ``<out>.thresholds.json`` of the other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from prodmatch.artifacts.submission import write_submission
from prodmatch.artifacts.thresholds import beside_submission, write_thresholds
from prodmatch.artifacts.timings import EMBED_STAGE, MATCH_STAGE, TUNE_STAGE, WRITE_STAGE, StageTimings, write_timings
from prodmatch.cv import format_policy, format_size_curve
from prodmatch.data import DataDir
from prodmatch.data.folds import DEFAULT_N_FOLDS
from prodmatch.errors import ArgumentError
from prodmatch.fileio import check_output_file, output_lock
from prodmatch.match.candidates import CandidateTable
from prodmatch.match.pair.matching import PairMatching, pair_candidates, predict_probability, probability_table
from prodmatch.match.pair.model import PairModel
from prodmatch.match.policy import MatchPolicy, PolicyApplier, match_lists
from prodmatch.pipeline.features import features_for_test
from prodmatch.pipeline.policy import RunnablePolicy, load_runnable_thresholds
from prodmatch.pipeline.tune import Log, TuneOptions, tune
from prodmatch.recipes import Recipe, load_recipe
from prodmatch.search.features import Features
from prodmatch.search.sources import search_all


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
    pair_model: bool = True  # False (--no-pair-model): match with the union even if a pair model won in CV


@dataclass
class SubmitResult:
    out: Path
    recipe: Recipe
    policy: MatchPolicy
    match_counts: list[int]
    timings: StageTimings
    thresholds_saved: Path | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        sizes = self.match_counts
        lines = [f"wrote {self.out}: {len(sizes)} postings, mean {sum(sizes) / len(sizes):.2f} matches "
                 f"(max {max(sizes)}), validated against test.csv"]
        if self.thresholds_saved:
            lines.append(f"thresholds tuned for it: {self.thresholds_saved} (reuse with --thresholds to skip tuning)")
        lines.append(f"seconds: {self.timings.summary()}")
        return "\n".join(lines)


def candidate_table(features: Features, recipe: Recipe) -> tuple[CandidateTable, dict[str, float]]:
    """Every source of the recipe run on one set of postings: the table and the seconds each source took."""
    neighbours, seconds = search_all(recipe.sources, features)
    return CandidateTable.from_sources(neighbours), seconds


def match_postings(features: Features, recipe: Recipe, policy: MatchPolicy) -> tuple[list[list[str]], dict]:
    """Match lists (each posting first, then its matches best first) and the seconds each source searched."""
    missing = set(policy.thresholds) - set(recipe.source_names)
    if missing:
        raise ArgumentError(f"thresholds for sources {sorted(missing)} that recipe '{recipe.name}' does not run")
    table, seconds = candidate_table(features, recipe)
    return _apply(table, policy, features), seconds


def _apply(table: CandidateTable, policy: MatchPolicy, features: Features) -> list[list[str]]:
    """The policy's match lists over one set of postings searched together (each posting first)."""
    applier = PolicyApplier(table, policy.priority)
    mask = applier.mask(policy)
    return match_lists(table, mask, features.posting_ids, features.posting_ids, applier.order)


def check_outputs(options: SubmitOptions, data: DataDir) -> Path:
    """Every file the run will write, checked before any work: not an input, not a folder, device or link."""
    inputs = [data.test_csv, data.train_csv, data.sample_submission_csv, options.thresholds]
    out = check_output_file(options.out, inputs)
    thresholds = None if options.thresholds else check_output_file(beside_submission(out), inputs, [out])
    if options.timings_json:
        check_output_file(options.timings_json, inputs, [out, thresholds])
    return out


def match_postings_with_pair_model(features: Features, recipe: Recipe, model: PairModel, matching: PairMatching
                                   ) -> tuple[list[list[str]], dict]:
    """Match lists from the pair model's probabilities, and the seconds of each source's search, of the pair
    features and of the model's predictions."""
    found = pair_candidates(features, recipe.sources)
    started = time.perf_counter()
    probability = predict_probability(found.table, found.features, model)
    seconds = {**found.seconds, "pair_model": time.perf_counter() - started}
    return _apply(probability_table(found.table, probability, matching.graph), matching.policy, features), seconds


def _pair_matching(chosen: RunnablePolicy, options: SubmitOptions, n_test: int, recipe: Recipe, log: Log):
    """The pair model and its matching for ``n_test`` postings, or (None, None) when the union matches."""
    pair, note = chosen.pair_model(options.pair_model)
    if note:
        log(f"note: {note}")
    if pair is None:
        return None, None
    matching = chosen.pair_for_test_size(pair, n_test, options.fixed_thresholds)
    log(f"pair model for {n_test} test postings: {format_policy(matching.policy, recipe)}, graph steps: "
        f"{matching.graph.describe()}")
    return pair, matching


def _tuned_policy(options: SubmitOptions, n_test: int, log: Log) -> tuple[RunnablePolicy, Path]:
    """Tune on train.csv (size curve unless fixed thresholds) and save the thresholds beside the output."""
    recipe = load_recipe(options.recipe or "text-phash")
    tuned = tune(TuneOptions(options.data_dir, recipe, options.weights, options.folds, options.n_folds, nested=False,
                             size_curve=not options.fixed_thresholds, progress=options.progress,
                             pair_model=options.pair_model), log)
    log(tuned.result.format_table(test_sizes=(n_test,)))
    thresholds = tuned.thresholds(options.data_dir)
    saved = beside_submission(options.out)
    write_thresholds(saved, thresholds)
    log(f"tuned on {len(tuned.inputs.train)} train rows ({tuned.inputs.folds_source}); thresholds saved to {saved}")
    return RunnablePolicy(thresholds, tuned.inputs.recipe, tuned.inputs.runs, tuned.inputs.notes), saved


def _given_policy(options: SubmitOptions, n_test: int, log: Log) -> RunnablePolicy:
    chosen = load_runnable_thresholds(options.thresholds, options.weights, options.recipe)
    log(f"thresholds from {options.thresholds}")
    curve = chosen.thresholds.size_curve
    if curve is not None and not options.fixed_thresholds:
        log(format_size_curve(curve, chosen.recipe, (n_test,)))
    return chosen


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
        chosen = _given_policy(options, len(test), log)
    else:
        with timings.stage(TUNE_STAGE):
            chosen, saved = _tuned_policy(options, len(test), log)
    recipe = chosen.recipe
    for note in chosen.notes:
        log(f"note: {note}")
    policy = chosen.for_test_size(len(test), options.fixed_thresholds)
    pair, matching = _pair_matching(chosen, options, len(test), recipe, log)
    if matching is None:
        log(f"policy for {len(test)} test postings: {format_policy(policy, recipe)}")
    else:
        policy = matching.policy
    with timings.stage(EMBED_STAGE):
        features = features_for_test(chosen.runs, recipe, test, data.test_images, options.batch_size,
                                     options.allow_missing_images, options.progress, log)
    with timings.stage(MATCH_STAGE):
        if matching is not None:
            matches, timings.search_seconds = match_postings_with_pair_model(features, recipe, pair.model, matching)
        else:
            matches, timings.search_seconds = match_postings(features, recipe, policy)
    with timings.stage(WRITE_STAGE):
        write_submission(options.out, features.posting_ids, matches, test)
    timings.n_test, timings.recipe = len(test), recipe.name
    timings.finish()
    if options.timings_json:
        write_timings(options.timings_json, timings)
    return SubmitResult(Path(options.out), recipe, policy, [len(m) for m in matches], timings, saved, chosen.notes)
