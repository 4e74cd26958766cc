"""``prodmatch dedup label``: from zero labels to a trained pair model in a few dozen answers.

The table is searched once (word and char TF-IDF and the pretrained MiniLM, with every pair's features). Until
the answers hold both matches and non-matches, each round shows pairs spread over the range of the zero-label
score (:mod:`prodmatch.dedup.zero_label`) among each record's best candidate, so that both kinds come up early;
then the ``batch`` candidate pairs a pair model fit on the answers (:func:`prodmatch.dedup.train.fit_on_answers`)
is least sure of. It reads ``y`` (match), ``n`` (different),
``s`` (skip) or ``q`` (quit) for each from the terminal (any text stream: tests feed stdin). Every answer is
appended to the answers file at once (id_a,id_b,match), so quitting or an interruption loses nothing; the
session resumes from the answers already in the file. Then `prodmatch dedup TABLE --labels ANSWERS` trains
on them.

:func:`next_pairs` and :func:`scorer` are the loop's two steps, also used by the benchmark's simulated answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from prodmatch.dedup.clustering import Edges, best_edges, edges_from_table
from prodmatch.dedup.encoder import title_embeddings
from prodmatch.dedup.images import table_phashes
from prodmatch.dedup.labels import Labels, append_answers, read_labels
from prodmatch.dedup.sources import ENCODER_EMBEDDING, choose_sources
from prodmatch.dedup.table import Columns, DedupTable, read_table
from prodmatch.dedup.train import fit_on_answers
from prodmatch.dedup.zero_label import ZERO_LABEL_SPEC, ZeroLabelRule
from prodmatch.errors import ArgumentError
from prodmatch.fileio import check_output_file
from prodmatch.match.pair.matching import PairCandidates, pair_candidates, predict_probability

MIN_EACH = 3  # answers of each kind before a pair model replaces the zero-label score
YES, NO, SKIP, QUIT = "y", "n", "s", "q"


@dataclass
class LabelOptions:
    table: str | Path
    columns: Columns
    answers: str | Path
    batch: int = 10
    max_answers: int | None = None
    images_dir: str | Path | None = None


@dataclass
class Session:
    """The searched table, ready to be scored and labelled."""

    table: DedupTable
    candidates: PairCandidates

    @classmethod
    def open(cls, table: DedupTable, images_dir=None) -> Session:
        chosen = choose_sources(table, ZERO_LABEL_SPEC, "none", table_phashes(table, images_dir))
        features = table.features(chosen.phashes, {ENCODER_EMBEDDING: title_embeddings(table.features().titles)})
        return cls(table, pair_candidates(features, chosen.recipe.sources))


def no_answers() -> pd.DataFrame:
    return pd.DataFrame({"a": np.empty(0, np.int64), "b": np.empty(0, np.int64), "match": np.empty(0, bool)})


def scorer(session: Session, answered: pd.DataFrame) -> tuple[Edges, float | None, str]:
    """(every candidate pair scored, the score where the scorer is least sure -- None before a model, when pairs
    are picked over the whole range --, what scored them)."""
    found = session.candidates
    matches = int(answered["match"].sum())
    if matches >= MIN_EACH and len(answered) - matches >= MIN_EACH:
        model = fit_on_answers(found, answered)
        probability = predict_probability(found.table, found.features, model)
        return edges_from_table(found.table, probability), 0.5, f"pair model on {len(answered)} answers"
    rule = ZeroLabelRule()
    score = np.mean([found.features.column(f"{name}.score") for name in rule.sources], axis=0).astype(np.float32)
    return edges_from_table(found.table, score), None, "zero-label score"


def spread_order(edges: Edges) -> np.ndarray:
    """Each record's best edge, visited best, worst, then by halving the ranks between (the middle, the
    quarters, ...)."""
    best = best_edges(edges)
    ranked = best[np.argsort(-edges.score[best], kind="stable")]
    if len(ranked) < 3:
        return ranked
    visit, intervals = [0, len(ranked) - 1], [(0, len(ranked) - 1)]
    while intervals:
        low, high = intervals.pop(0)
        middle = (low + high) // 2
        if low < middle < high:
            visit.append(middle)
            intervals += [(low, middle), (middle, high)]
    return ranked[np.asarray(visit, dtype=np.int64)]


def next_pairs(edges: Edges, answered: pd.DataFrame, center: float | None, count: int) -> np.ndarray:
    """Positions of the ``count`` unanswered edges scored nearest ``center`` (None: spread over the range,
    :func:`spread_order`), no record twice in one batch."""
    done = set(zip(answered["a"].tolist(), answered["b"].tolist()))
    if center is None:
        order = spread_order(edges)
    else:
        order = np.lexsort((-edges.score, np.abs(edges.score - np.float32(center))))
    chosen, seen = [], set()
    for position in order.tolist():
        a, b = int(edges.a[position]), int(edges.b[position])
        if (a, b) in done or a in seen or b in seen:
            continue
        chosen.append(position)
        seen |= {a, b}
        if len(chosen) == count:
            break
    return np.asarray(chosen, dtype=np.int64)


def describe_record(table: DedupTable, row: int) -> str:
    frame, columns = table.frame, table.columns
    lines = [f"  [{frame[columns.id].iat[row]}] {frame[columns.title].iat[row]}"]
    for column in (*columns.texts, columns.brand, *columns.numbers, columns.source):
        if column and frame[column].iat[row].strip():
            value = frame[column].iat[row].strip()
            lines.append(f"      {column}: {value if len(value) <= 160 else value[:159] + '…'}")
    return "\n".join(lines)


@dataclass
class LabelResult:
    answers: Path
    given: int  # answers given in this session
    total: int  # answers in the file now
    matches: int
    scored_by: str

    def summary(self) -> str:
        return (f"{self.given} answers this session, {self.total} in {self.answers} ({self.matches} matches); last "
                f"scored by the {self.scored_by}. Train on them: prodmatch dedup TABLE ... --labels {self.answers} "
                "--out DIR")


def read_answers(path: Path, table: DedupTable) -> pd.DataFrame:
    if not path.exists() or path.stat().st_size == 0:
        return no_answers()
    labels: Labels = read_labels(path, table.ids)
    if labels.complete:
        raise ArgumentError(f"{path} holds {labels.kind}, not answers (id_a,id_b,match); give a new answers file")
    return labels.answered


def label_loop(options: LabelOptions, stdin: TextIO, show: Callable[[str], None] = print) -> LabelResult:
    answers_path = check_output_file(options.answers, [options.table])
    if options.batch < 1:
        raise ArgumentError(f"--batch must be at least 1, got {options.batch}")
    table = read_table(options.table, options.columns)
    answered = read_answers(answers_path, table)
    session = Session.open(table, options.images_dir)
    ids, given, scored_by = table.ids, 0, ""
    while options.max_answers is None or given < options.max_answers:
        edges, center, scored_by = scorer(session, answered)
        batch = next_pairs(edges, answered, center, options.batch)
        if len(batch) == 0:
            show("no candidate pair left to judge")
            break
        show(f"-- {len(batch)} pairs the {scored_by} is least sure of ({len(answered)} answered so far)")
        quit_now = False
        for position in batch.tolist():
            a, b = int(edges.a[position]), int(edges.b[position])
            show(f"\nscore {edges.score[position]:.2f}\n{describe_record(table, a)}\n{describe_record(table, b)}")
            show("same product? [y]es / [n]o / [s]kip / [q]uit")
            line = stdin.readline()
            answer = line.strip().lower()[:1]
            if not line or answer == QUIT:
                quit_now = True
                break
            if answer not in (YES, NO):
                continue
            append_answers(answers_path, [(ids[a], ids[b], answer == YES)])
            answered = pd.concat([answered, pd.DataFrame({"a": [a], "b": [b], "match": [answer == YES]})],
                                 ignore_index=True)
            given += 1
            if options.max_answers is not None and given >= options.max_answers:
                quit_now = True
                break
        if quit_now:
            break
    return LabelResult(answers_path, given, len(answered), int(answered["match"].sum()), scored_by)
