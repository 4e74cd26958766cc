#!/usr/bin/env python
"""Benchmark: each TF-IDF source of a recipe searched by blocking against its exact top-k, on the Shopee train
titles (27,060 real rows) or a synthetic catalogue built from them (--rows, prodmatch.demo.scaled).

Per source of --recipe (default dedup-large; a source without ``blocking:`` gets the defaults): recall of the
exact pairs (and of the same-label_group pairs) by the blocked search -- every row's exact top-k on the real
rows, a seeded sample of --sample-queries rows with --rows --, the list entries the blocked search reads per row
(``BlockingIndex.visits``, machine-independent), the index's bytes per row (the key lists, what the dask
engine's blocked plan holds on each searching worker, and the matrix), and the seconds of each search (on a
busy machine: provisional).

    python bench/bench_blocked_sources.py --data-dir ../shared/data/shopee [--recipe dedup-large] [--rows 100000]
        [--sample-queries 2000] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from bench_dedup_scale import recall  # noqa: E402


def measure(source, features, labels, sample: np.ndarray | None) -> dict:
    from prodmatch.search.blocked import blocked_topk
    from prodmatch.search.blocking import BlockingConfig, BlockingIndex
    from prodmatch.search.tfidf import sparse_topk, tfidf_matrix

    config = source.blocking or BlockingConfig()
    matrix = tfidf_matrix(features.titles, source.configs, source.weights)
    n = matrix.shape[0]
    started = time.perf_counter()
    index = BlockingIndex.build(matrix, config)
    index_s = time.perf_counter() - started
    started = time.perf_counter()
    found = blocked_topk(matrix, source.k, source.min_score, config, index=index)
    blocked_s = time.perf_counter() - started
    queries = np.arange(n) if sample is None else sample
    started = time.perf_counter()
    exact = sparse_topk(matrix[queries], matrix, k=source.k, min_score=source.min_score).offset(queries, 0, n, n)
    exact_s = time.perf_counter() - started
    matrix_bytes = matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes
    return {"source": source.name, "configs": [dataclasses.asdict(c) for c in source.configs],
            "blocking": dataclasses.asdict(config), "rows": n, "entries_per_row": round(matrix.nnz / n, 1),
            "recall": recall(exact, found.select(np.isin(found.rows, queries)), labels),
            "visits_per_row": round(index.visits(queries) / len(queries)),
            "index_bytes_per_row": round(index.nbytes / n), "matrix_bytes_per_row": round(matrix_bytes / n),
            "seconds": {"index": round(index_s, 1), "blocked_search_with_index": round(index_s + blocked_s, 1),
                        "exact_search": round(exact_s, 1), "exact_queries": int(len(queries))}}


def main() -> int:
    import pandas as pd

    from prodmatch.demo.scaled import scaled_postings
    from prodmatch.recipes import load_recipe
    from prodmatch.search.features import Features

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "shopee"))
    parser.add_argument("--recipe", default="dedup-large")
    parser.add_argument("--rows", type=int, default=0, help="a synthetic catalogue of this many rows (0: the real rows)")
    parser.add_argument("--sample-queries", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json")
    args = parser.parse_args()
    frame = pd.read_csv(Path(args.data_dir) / "train.csv")
    if args.rows:
        frame = scaled_postings(frame, args.rows, seed=args.seed)
    features = Features.from_frame(frame)
    labels = frame["label_group"].to_numpy()
    sample = None
    if args.rows:
        rng = np.random.default_rng(args.seed)
        sample = np.sort(rng.choice(len(frame), min(len(frame), args.sample_queries), replace=False))
    out = [measure(source, features, labels, sample) for source in load_recipe(args.recipe).sources
           if source.kind == "tfidf"]
    for line in out:
        print(json.dumps(line), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
