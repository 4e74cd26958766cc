"""``prodmatch dedup add NEW_TABLE --model DIR --out DIR2``: new records matched against a catalogue kept in DIR
(a run that trained or applied a model: its catalogue.parquet, pairs.csv and model.json), without recomputing
the catalogue's pairs.

1. Blocking: every text source of the model's recipe (TF-IDF, the encoder) fitted over catalogue and new records
   together, and only the new records searched against all of them (:func:`related_rows`): the old records that
   are a candidate of some new one.
2. The new records and those old ones are searched together as one table and the model predicts its pairs
   (:func:`prodmatch.dedup.apply.predict_edges`); only pairs with a new record are scored. The catalogue's
   matched pairs join the decision with their saved probabilities, never scored again: under ``one-to-one`` or
   ``best-edge`` a more probable pair with a new record may take a record from an old pair (the summary counts
   them). The clusters are the connected components of the old and the new matched pairs.

The cost grows with the new records (times the candidates per record) and the catalogue's size for the
vectors; the pair model never sees a pair of two old records again. The neighbourhood features of the pairs
decided on come from that smaller pool, not from the whole catalogue searched at once, so the result can differ
a little from matching everything again (docs/benchmarks.md measures by how much).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.data.validation import DataValidationError
from prodmatch.dedup.apply import predict_edges
from prodmatch.dedup.clustering import Clustered, Edges, components, rule_positions, split_large
from prodmatch.dedup.decision import DecisionWarning, collapse_warning
from prodmatch.dedup.encoder import title_embeddings
from prodmatch.dedup.flow import OUR_WARNINGS, DedupResult, Matching, build_summary, kept_reasons, write_results
from prodmatch.dedup.images import table_phashes
from prodmatch.dedup.outputs import PAIRS, catalogue_path, check_formats, check_out_dir
from prodmatch.dedup.saved import read_model
from prodmatch.dedup.sources import ENCODER_EMBEDDING, ChosenSources
from prodmatch.dedup.table import DedupTable, read_strings, read_table, validate_table
from prodmatch.dedup.vocab import ADDED, CSV
from prodmatch.search.dense import dense_neighbours
from prodmatch.search.features import Features
from prodmatch.search.sources import EmbeddingSource, TfidfSource
from prodmatch.search.tfidf import sparse_topk, tfidf_matrix


@dataclass
class AddOptions:
    table: str | Path
    model: str | Path  # the catalogue's run folder
    out: str | Path
    formats: tuple[str, ...] = (CSV,)
    overwrite: bool = False
    reasons: int = 3
    max_cluster_size: int | None = None


def related_rows(features: Features, sources: list, new: np.ndarray) -> np.ndarray:
    """Bool per record: the new records, and every old one a text source proposes for a new record."""
    keep = new.copy()
    queries = np.flatnonzero(new)
    for source in sources:
        if isinstance(source, TfidfSource):
            matrix = tfidf_matrix(features.titles, source.configs, source.weights)
            found = sparse_topk(matrix[queries], matrix, k=source.k, min_score=source.min_score)
        elif isinstance(source, EmbeddingSource):
            vectors = source.vectors(features)
            found = dense_neighbours(vectors[queries], vectors, k=min(source.k, len(vectors)),
                                     backend=source.backend, min_score=source.min_score)
        else:  # a phash source: its pairs come from the pool the text sources gather
            continue
        keep[found.cols] = True
    return keep


def old_pairs(folder: Path, position: dict[str, int]) -> tuple[Edges, list[str]]:
    """The catalogue's matched pairs (pairs.csv) as edges over the combined rows, with their reasons."""
    frame = read_strings(folder / f"{PAIRS}.{CSV}")
    a = frame["id_a"].map(position).to_numpy(dtype=np.int64)
    b = frame["id_b"].map(position).to_numpy(dtype=np.int64)
    low, high = np.minimum(a, b), np.maximum(a, b)
    score = pd.to_numeric(frame.iloc[:, 2]).to_numpy(dtype=np.float32)
    order = np.lexsort((high, low))
    reasons = frame["reasons"].tolist() if "reasons" in frame.columns else [""] * len(frame)
    return Edges(low[order], high[order], score[order], len(position)), [reasons[i] for i in order]


def combine(catalogue: DedupTable, new: DedupTable) -> DedupTable:
    clash = np.intersect1d(catalogue.ids.astype(str), new.ids.astype(str))
    if len(clash):
        row = int(np.flatnonzero(np.isin(new.ids.astype(str), clash))[0])
        raise DataValidationError(new.path, f"{len(clash)} id(s) are already in the catalogue (e.g. {clash[0]!r}); new "
                                            "records need new ids", row=row, column=new.columns.id)
    frame = pd.concat([catalogue.frame, new.frame], ignore_index=True)
    return validate_table(frame, catalogue.columns, new.path)


def decide_new(edges: Edges, old: Edges, is_new: np.ndarray, decision) -> tuple[Edges, np.ndarray]:
    """The decision over the pairs with a new record and the catalogue's matched pairs (with their saved
    probabilities: a clustering rule may let a better new pair take a record from an old one). Returns the new
    pairs kept and, per old pair, whether it stays."""
    touching = edges.select(is_new[edges.a] | is_new[edges.b])
    both = Edges(np.concatenate([old.a, touching.a]), np.concatenate([old.b, touching.b]),
                 np.concatenate([old.score, touching.score]), edges.n)
    is_old = np.r_[np.ones(len(old), bool), np.zeros(len(touching), bool)]
    positions = rule_positions(both, decision.clustering)
    kept = np.zeros(len(both), dtype=bool)
    kept[positions] = True
    kept &= (both.score >= np.float32(decision.threshold)) | is_old  # old pairs passed the threshold already
    new_kept = both.select(kept & ~is_old)
    order = np.lexsort((new_kept.b, new_kept.a))
    return new_kept.select(order), kept[: len(old)]


def add_records(options: AddOptions, log: Callable[[str], None] = lambda line: None) -> DedupResult:
    started = time.perf_counter()
    folder = Path(options.model)
    saved = read_model(folder)
    out = check_out_dir(options.out, [options.table, folder], options.overwrite)
    formats = check_formats(options.formats)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        catalogue = read_table(catalogue_path(folder), saved.columns)
        new = read_table(options.table, saved.columns)
        table = combine(catalogue, new)
        is_new = np.arange(len(table)) >= len(catalogue)
        position = {str(pid): i for i, pid in enumerate(table.ids)}
        old, old_reasons = old_pairs(folder, position)
        recipe = saved.recipe
        embeddings = {}
        if ENCODER_EMBEDDING in recipe.embeddings:
            embeddings[ENCODER_EMBEDDING] = title_embeddings(table.features().titles)
        features = table.features(table_phashes(table), embeddings)
        pool = np.flatnonzero(related_rows(features, recipe.sources, is_new))
        log(f"{int(is_new.sum()):,} new records against {len(catalogue):,} in the catalogue: {len(pool):,} searched "
            "together")
        sub_sources = None if table.sources is None else table.sources[pool]
        predicted = predict_edges(features.subset(pool), saved, sub_sources)
        sub = predicted.edges
        edges = Edges(pool[sub.a], pool[sub.b], sub.score, len(table))
        kept_new, stays = decide_new(edges, old, is_new, saved.decision)
        replaced = int((~stays).sum())
        old, old_reasons = old.select(stays), [r for r, keep in zip(old_reasons, stays) if keep]
        local = {int(row): i for i, row in enumerate(pool)}
        local_kept = Edges(np.array([local[int(x)] for x in kept_new.a], np.int64),
                           np.array([local[int(x)] for x in kept_new.b], np.int64), kept_new.score, len(pool))
        new_reasons = kept_reasons(saved.model, predicted.candidates, local_kept, options.reasons)
        kept = Edges(np.concatenate([old.a, kept_new.a]), np.concatenate([old.b, kept_new.b]),
                     np.concatenate([old.score, kept_new.score]), len(table))
        clustered = Clustered(components(len(table), kept.a, kept.b), kept)
        reasons = [*old_reasons, *new_reasons]
        if options.max_cluster_size is not None:
            clustered, stays = split_large(clustered, options.max_cluster_size)
            reasons = [r for r, keep in zip(reasons, stays) if keep]
        message = collapse_warning(clustered.clusters[is_new], saved.tuned_on.get("singleton_share"))
        if message:
            warnings.warn(message.replace("the records", "the new records"), DecisionWarning, stacklevel=2)
    warning_lines = list(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, OUR_WARNINGS)))
    matching = Matching(ADDED, clustered, "probability", reasons, saved.decision.as_dict(),
                        saved.decision.describe(), edges, saved=saved,
                        details={"new_records": int(is_new.sum()), "searched_together": int(len(pool)),
                                 "new_pairs": len(kept_new), "kept_pairs": len(old)})
    notes = [f"{int(is_new.sum()):,} new records matched against the catalogue of {folder}: {len(kept_new):,} new "
             f"pairs; {len(old):,} of its pairs kept, {replaced:,} given up for a more probable pair with a new record "
             f"({saved.decision.clustering})"]
    chosen = ChosenSources(recipe, None)
    summary = build_summary(table, chosen, matching, None, notes, warning_lines, formats, time.perf_counter() - started)
    write_results(out, table, None, matching, summary, formats, options.overwrite)
    return DedupResult(out, ADDED, len(table), len(kept), int(clustered.clusters.max()) + 1,
                       saved.decision.describe(), None, None, notes, warning_lines, time.perf_counter() - started)

