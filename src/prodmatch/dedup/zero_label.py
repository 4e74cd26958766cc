"""Zero-label mode: no labels and no model -- the pretrained MiniLM title encoder and character TF-IDF, with a
conservative fixed decision.

A pair's zero-label score is the mean of its character TF-IDF cosine and its MiniLM cosine (each computed for
every candidate, whichever source proposed it). Two records match when each is the other's best-scored candidate
(mutual best) and the score is at least :data:`ZERO_LABEL_THRESHOLD`. Mutual best keeps at most one match per
record, so clusters are pairs: it favours precision and leaves larger duplicate groups partly unmatched. The
rule and its threshold were chosen on the Abt-Buy train half (docs/benchmarks.md); `prodmatch dedup label`
turns a few dozen answers into a trained pair model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prodmatch.dedup.clustering import Clustered, Edges, components, edges_from_table, mutual_best
from prodmatch.dedup.sources import ENCODER_EMBEDDING, ENCODER_SOURCE
from prodmatch.match.candidates import CandidateTable
from prodmatch.match.pair.neighbourhood import with_reverse_pairs
from prodmatch.search.features import Features
from prodmatch.search.sources import search_all_with_vectors

ZERO_LABEL_THRESHOLD = 0.5
CHAR_SOURCE = "char"  # the built-in recipe's character TF-IDF source
ZERO_LABEL_SPEC = {  # the built-in recipe's TF-IDF sources with the encoder beside them
    "name": "dedup-zero-label",
    "embeddings": {ENCODER_EMBEDDING: {"model": "pretrained"}},
    "sources": [
        {"type": "tfidf", "name": "tfidf", "configs": [{"analyzer": "word", "ngram_range": [1, 1], "sublinear_tf": True}],
         "k": 50, "min_score": 0.1},
        {"type": "tfidf", "name": CHAR_SOURCE,
         "configs": [{"analyzer": "char_wb", "ngram_range": [3, 4], "sublinear_tf": True}], "k": 50, "min_score": 0.1},
        dict(ENCODER_SOURCE),
    ],
    "min2": False,
}


@dataclass(frozen=True)
class ZeroLabelRule:
    threshold: float = ZERO_LABEL_THRESHOLD
    sources: tuple[str, ...] = (CHAR_SOURCE, ENCODER_SOURCE["name"])  # whose cosines are averaged

    def describe(self) -> str:
        return f"mutual best by mean({', '.join(self.sources)}) cosine >= {self.threshold:.2f}"

    def as_dict(self) -> dict:
        return {"threshold": self.threshold, "sources": list(self.sources), "rule": "mutual-best"}


@dataclass
class ZeroLabelScores:
    table: CandidateTable  # symmetric candidates
    score: np.ndarray  # zero-label score per pair of ``table``
    columns: dict[str, np.ndarray]  # every source's cosine per pair

    def edges(self) -> Edges:
        return edges_from_table(self.table, self.score)


def zero_label_scores(features: Features, sources: list, rule: ZeroLabelRule = ZeroLabelRule()) -> ZeroLabelScores:
    """Every source's score for every candidate pair, and their mean over ``rule.sources``."""
    neighbours, vectors, _ = search_all_with_vectors(sources, features)
    table = with_reverse_pairs(CandidateTable.from_sources(neighbours))
    by_name = {s.name: s for s in sources}
    columns = {name: by_name[name].score_pairs(vectors[name], table.rows, table.cols).astype(np.float32)
               for name in by_name}
    score = np.mean([columns[name] for name in rule.sources], axis=0).astype(np.float32)
    return ZeroLabelScores(table, score, columns)


def zero_label_decision(edges: Edges, rule: ZeroLabelRule = ZeroLabelRule()) -> Clustered:
    kept = mutual_best(edges)
    kept = kept.select(kept.score >= np.float32(rule.threshold))
    return Clustered(components(edges.n, kept.a, kept.b), kept)


def zero_label_reasons(scores: ZeroLabelScores, kept: Edges) -> list[str]:
    """Per kept pair: each source's cosine (``char=0.81; minilm=0.77; tfidf=0.52``)."""
    from prodmatch.dedup.clustering import table_positions

    at = table_positions(scores.table, kept.a, kept.b)
    return ["; ".join(f"{name}={scores.columns[name][p]:.2f}" for name in scores.columns) for p in at]
