"""``prodmatch dedup TABLE ...``: one table in, pairs, clusters, a report (and a model, when trained) out.

Three modes (:data:`~prodmatch.dedup.vocab.MODES`), by what the run is given:

- ``--labels FILE`` (trained): the pair model and its decision trained on this table out of fold
  (:mod:`prodmatch.dedup.train`); the outputs are the out-of-fold decision, so the scores in the report are
  honest, and the model is kept in ``DIR/model.json`` (an applied run keeps a copy, so that either can be
  extended with ``prodmatch dedup add``, :mod:`prodmatch.dedup.incremental`). Answers (some judged pairs) train the model on those
  pairs and keep the fixed decision :data:`ANSWERS_DECISION`.
- ``--model DIR`` (applied): a saved model and decision applied to this table (:mod:`prodmatch.dedup.apply`).
- neither (zero-label): the pretrained encoder and TF-IDF with a fixed conservative decision
  (:mod:`prodmatch.dedup.zero_label`).

Every path is checked before the work; warnings (data fallbacks, degenerate decisions) are collected into the
summary and the report as well as shown.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prodmatch.data.validation import DataWarning
from prodmatch.dedup.apply import columns_for_model, size_warning
from prodmatch.dedup.clustering import Clustered, Edges, edges_from_table, split_large, table_positions
from prodmatch.dedup.decision import Decision, DecisionWarning, TunedDecision, collapse_warning
from prodmatch.dedup.encoder import title_embeddings
from prodmatch.dedup.engine import open_engine
from prodmatch.dedup.engine.base import Engine
from prodmatch.dedup.images import table_phashes
from prodmatch.dedup.labels import Labels, read_labels
from prodmatch.dedup.metrics import DedupScore, dedup_score
from prodmatch.dedup.outputs import (
    CLUSTERS,
    PAIRS,
    REPORT_FILE,
    check_formats,
    check_out_dir,
    clusters_frame,
    pairs_frame,
    write_catalogue,
    write_summary,
    write_table,
)
from prodmatch.dedup.reasons import top_reasons
from prodmatch.dedup.saved import SavedModel, read_model, write_model
from prodmatch.dedup.sources import ENCODER_EMBEDDING, ChosenSources, choose_sources
from prodmatch.dedup.table import Columns, DedupTable
from prodmatch.dedup.train import Trained, check_trainable, fit_on_answers, restrict, train_on_candidates
from prodmatch.dedup.vocab import APPLIED, BEST_EDGE, CSV, ONE_TO_ONE, SINGLE, TRAINED, ZERO_LABEL
from prodmatch.dedup.zero_label import ZERO_LABEL_SPEC, ZeroLabelRule, zero_label_decision, zero_label_reasons, zero_label_scores
from prodmatch.errors import ArgumentError
from prodmatch.fileio import atomic_dir
from prodmatch.match.pair.matching import predict_probability

ANSWERS_DECISION = Decision(0.5, BEST_EDGE)  # judged pairs are too few and too hand-picked to tune a threshold on
SUMMARY_FORMAT = 1
OUR_WARNINGS = (DataWarning, DecisionWarning)


@dataclass
class DedupOptions:
    table: str | Path
    out: str | Path
    columns: Columns | None = None  # None: the saved model's (with --model)
    labels: str | Path | None = None
    model: str | Path | None = None
    formats: tuple[str, ...] = (CSV,)
    recipe: str | None = None
    encoder: str = "none"
    one_to_one: bool = False
    images_dir: str | Path | None = None
    overwrite: bool = False
    reasons: int = 3
    progress: bool = False
    max_cluster_size: int | None = None  # no cap unless asked (clustering.split_large)
    engine: str = SINGLE  # what runs the heavy steps (prodmatch.dedup.engine); the next two are Dask's
    scheduler: str | None = None  # a Dask scheduler's address; None: a LocalCluster sized to this machine
    partitions: int | None = None  # None: by the table's size (dask_engine.default_partitions)


@dataclass
class Matching:
    """How one table was matched, whatever the mode."""

    mode: str
    clustered: Clustered
    score_name: str  # "probability" (a pair model) or "score" (zero-label)
    reasons: list[str]
    decision: dict
    decision_text: str
    edges: Edges  # every scored candidate pair the decision could use
    tuned: TunedDecision | None = None
    saved: SavedModel | None = None
    details: dict = field(default_factory=dict)  # rounds, importances, ...
    n_candidates: int | None = None  # scored pairs, when ``edges`` holds only those the decision can keep


@dataclass
class DedupResult:
    out: Path
    mode: str
    n_rows: int
    n_pairs: int
    n_clusters: int
    decision: str
    score: DedupScore | None  # against the labels (trained: out of fold)
    nested: dict | None
    notes: list[str]
    warnings: list[str]
    seconds: float

    def summary(self) -> str:
        lines = [f"{self.mode}: {self.n_rows:,} records -> {self.n_pairs:,} matched pairs, {self.n_clusters:,} clusters "
                 f"({self.decision}) in {self.seconds:.1f}s"]
        if self.score is not None:
            lines.append(f"out of fold: {self.score.line()}")
        if self.nested is not None:
            lines.append(f"nested (decision tuned on the other folds): pairwise F1 {self.nested['f1']:.4f}")
        lines.extend(f"note: {note}" for note in self.notes)
        lines.append(f"wrote {self.out}")
        return "\n".join(lines)


def embeddings_of(table: DedupTable, chosen: ChosenSources, progress: bool) -> dict[str, np.ndarray]:
    if not chosen.needs_encoder:
        return {}
    titles = table.features().titles
    return {ENCODER_EMBEDDING: title_embeddings(titles, progress=progress)}


def model_reasons(positions_model: list, features, top: int) -> list[str]:
    out = [""] * len(features)
    for model, rows in positions_model:
        for row, text in zip(rows, top_reasons(model, features.take(rows), top)):
            out[row] = text
    return out


def kept_reasons(trained_or_model, candidates, kept: Edges, top: int) -> list[str]:
    """The reasons of each kept pair, read off its (a, b) direction by the model that predicted it."""
    if top <= 0 or len(kept) == 0:
        return [""] * len(kept)
    positions = table_positions(candidates.table, kept.a, kept.b)
    features = candidates.features.take(positions)
    if isinstance(trained_or_model, Trained):
        return model_reasons(trained_or_model.model_of_rows(kept.a), features, top)
    return top_reasons(trained_or_model, features, top)


def match_trained(table: DedupTable, loaded, chosen: ChosenSources, labels: Labels, options: DedupOptions,
                  engine: Engine) -> Matching:
    sources = table.sources
    if labels.complete:
        check_trainable(labels.clusters)  # before the search: too few labelled matches is the user's to fix
    found = engine.candidates(loaded, chosen.recipe.sources)
    if labels.complete:
        trained = train_on_candidates(found, table.ids, labels.clusters, chosen.recipe, sources, options.one_to_one,
                                      progress=options.progress)
    else:
        model = fit_on_answers(found, labels.answered)
        clustering = ONE_TO_ONE if options.one_to_one else ANSWERS_DECISION.clustering
        edges = restrict(edges_from_table(found.table, predict_probability(found.table, found.features, model)),
                         sources)
        decision = Decision(ANSWERS_DECISION.threshold, clustering)
        trained = Trained(model, TunedDecision(decision, None, None, notes=[
            f"trained on {len(labels.answered)} judged pairs: the fixed decision {decision.describe()} (judged pairs "
            "cannot tune a threshold)"]), found, edges, None, [model.rounds], model.importances())
    decision = trained.decision
    clustered = engine.cluster(trained.edges, decision.threshold, decision.clustering)
    singles = None if labels.clusters is None else float((np.bincount(labels.clusters) == 1).mean())
    saved = SavedModel(table.columns, chosen.recipe.spec, trained.model, decision, sources is not None,
                       {"table": str(table.path), "labels": str(labels.path), "label_kind": labels.kind,
                        "n_rows": len(table), "n_matching_pairs": labels.n_matching_pairs,
                        "singleton_share": singles}, trained.tuned.figures())
    return Matching(TRAINED, clustered, "probability", kept_reasons(trained, trained.candidates, clustered.kept,
                                                                    options.reasons),
                    decision.as_dict(), decision.describe(), trained.edges, trained.tuned, saved,
                    {"rounds": trained.rounds, "importances": trained.importances})


def match_applied(table: DedupTable, loaded, saved: SavedModel, options: DedupOptions, engine: Engine) -> Matching:
    """The saved decision applied; the engine returns (at least) the edges at or above its threshold: a rule
    keeps the same pairs from those as from all of them (each rule decides an edge from better edges only)."""
    scored = engine.scored_edges(loaded, saved, table.sources, saved.decision.threshold)
    clustered = engine.cluster(scored.edges, saved.decision.threshold, saved.decision.clustering)
    for message in (size_warning(saved.tuned_size, len(table)),
                    collapse_warning(clustered.clusters, saved.tuned_on.get("singleton_share"))):
        if message:
            warnings.warn(message, DecisionWarning, stacklevel=2)
    return Matching(APPLIED, clustered, "probability", engine.reasons(scored, saved.model, clustered.kept, options.reasons),
                    saved.decision.as_dict(), saved.decision.describe(), scored.edges, saved=saved,
                    details={"importances": saved.model.importances()}, n_candidates=scored.n_edges)


def match_zero_label(table: DedupTable, features, chosen: ChosenSources, options: DedupOptions) -> Matching:
    rule = ZeroLabelRule()
    scores = zero_label_scores(features, chosen.recipe.sources, rule)
    edges = scores.edges()
    if table.sources is not None:
        edges = edges.across(table.sources)
    clustered = zero_label_decision(edges, rule)
    return Matching(ZERO_LABEL, clustered, "score", zero_label_reasons(scores, clustered.kept), rule.as_dict(),
                    rule.describe(), edges)


def _check_mode(options: DedupOptions) -> None:
    if options.labels is not None and options.model is not None:
        raise ArgumentError("give --labels (train a model) or --model (apply one), not both")
    if options.model is None and options.columns is None:
        raise ArgumentError("name the table's columns: --id COL --title COL (or apply a model with --model DIR)")
    if options.max_cluster_size is not None and options.max_cluster_size < 1:
        raise ArgumentError(f"--max-cluster-size must be at least 1, got {options.max_cluster_size}")
    if options.model is not None and (options.one_to_one or options.recipe or options.encoder != "none"):
        raise ArgumentError("--one-to-one, --recipe and --encoder are fixed by the model; leave them out with --model")


def run_dedup(options: DedupOptions, log: Callable[[str], None] = lambda line: None,
              engine: Engine | None = None) -> DedupResult:
    """The whole run (see the module doc); ``log`` gets progress lines; ``engine``: one already open (else
    ``options.engine`` is opened for the run and closed after it)."""
    _check_mode(options)
    out = check_out_dir(options.out, [options.table, options.labels, options.model], options.overwrite)
    formats = check_formats(options.formats)
    if engine is not None:
        return _run(options, out, formats, engine, log)
    with open_engine(options.engine, options.scheduler, options.partitions) as opened:
        return _run(options, out, formats, opened, log)


def _run(options: DedupOptions, out: Path, formats: tuple[str, ...], engine: Engine, log: Callable[[str], None]
         ) -> DedupResult:
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saved = read_model(options.model) if options.model is not None else None
        columns = columns_for_model(saved, options.columns) if saved is not None else options.columns
        table = engine.read_table(options.table, columns)
        labels = read_labels(options.labels, table.ids) if options.labels is not None else None
        phashes = table_phashes(table, options.images_dir)
        if saved is not None:
            chosen = ChosenSources(saved.recipe, phashes)
        elif labels is None:
            chosen = choose_sources(table, options.recipe or ZERO_LABEL_SPEC, "none", phashes)
        else:
            chosen = choose_sources(table, options.recipe, options.encoder, phashes)
        log(f"{len(table):,} records from {table.path}; sources: {', '.join(chosen.recipe.source_names)}")
        loaded = engine.load(table, chosen, lambda: embeddings_of(table, chosen, options.progress))
        if labels is not None:
            matching = match_trained(table, loaded, chosen, labels, options, engine)
        elif saved is not None:
            matching = match_applied(table, loaded, saved, options, engine)
        else:
            matching = match_zero_label(table, loaded, chosen, options)
        if options.max_cluster_size is not None:
            matching.clustered, stays = split_large(matching.clustered, options.max_cluster_size)
            matching.reasons = [r for r, keep in zip(matching.reasons, stays) if keep]
            matching.details["max_cluster_size"] = {"max": options.max_cluster_size,
                                                    "pairs_dropped": int((~stays).sum())}
        score = None
        if labels is not None and labels.complete:
            score = dedup_score(matching.clustered.clusters, labels.clusters)
        matching.details["engine"] = engine.describe()
    ours = [w for w in caught if issubclass(w.category, OUR_WARNINGS)]
    for other in (w for w in caught if not issubclass(w.category, OUR_WARNINGS)):
        warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    warning_lines = list(dict.fromkeys(str(w.message) for w in ours))
    notes = [*chosen.notes, *(matching.tuned.notes if matching.tuned else [])]
    summary = build_summary(table, chosen, matching, score, notes, warning_lines, formats,
                            time.perf_counter() - started)
    write_results(out, table, labels, matching, summary, formats, options.overwrite)
    nested = matching.tuned.nested.as_dict() if matching.tuned is not None and matching.tuned.nested else None
    return DedupResult(out, matching.mode, len(table), len(matching.clustered.kept),
                       int(matching.clustered.clusters.max()) + 1, matching.decision_text, score, nested, notes,
                       warning_lines, time.perf_counter() - started)


def build_summary(table: DedupTable, chosen: ChosenSources, matching: Matching, score: DedupScore | None,
                  notes: list[str], warning_lines: list[str], formats: tuple[str, ...], seconds: float) -> dict:
    sizes = np.bincount(np.bincount(matching.clustered.clusters))
    return {
        "format": SUMMARY_FORMAT,
        "mode": matching.mode,
        "table": str(table.path),
        "n_rows": len(table),
        "columns": table.columns.as_dict(),
        "recipe": chosen.recipe.name,
        "sources": chosen.recipe.source_names,
        "decision": {"text": matching.decision_text, **matching.decision},
        "n_candidate_pairs": len(matching.edges) if matching.n_candidates is None else matching.n_candidates,
        "n_pairs": len(matching.clustered.kept),
        "n_clusters": int(matching.clustered.clusters.max()) + 1,
        "cluster_sizes": {int(size): int(count) for size, count in enumerate(sizes) if size and count},
        "score": None if score is None else score.as_dict(),
        "tuning": None if matching.tuned is None else matching.tuned.figures(),
        "details": matching.details,
        "notes": notes,
        "warnings": warning_lines,
        "formats": list(formats),
        "seconds": round(seconds, 3),
    }


def write_results(out: Path, table: DedupTable, labels: Labels | None, matching: Matching, summary: dict,
                  formats: tuple[str, ...], overwrite: bool) -> None:
    from prodmatch.dedup.report import render_report

    ids = table.ids
    pairs = pairs_frame(ids, matching.clustered.kept, matching.reasons, matching.score_name)
    clusters = clusters_frame(ids, matching.clustered.clusters)
    html = render_report(summary, table, pairs, matching.clustered, matching.edges,
                         None if labels is None else labels.clusters, matching.score_name)
    with atomic_dir(out, overwrite=True) as folder:  # check_out_dir refused a non-empty one before the work
        write_table(folder, PAIRS, pairs, formats)
        write_table(folder, CLUSTERS, clusters, formats)
        write_summary(folder, summary)
        write_catalogue(folder, table.frame)
        (folder / REPORT_FILE).write_text(html, encoding="utf-8")
        if matching.saved is not None:  # applied runs keep it too: `dedup add` extends any run with a model
            write_model(folder, matching.saved)
