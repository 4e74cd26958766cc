#!/usr/bin/env python
"""Benchmark: TF-IDF candidates by blocking (sub-quadratic) on synthetic catalogues of 100k, 300k and 1M rows.

Each catalogue is built from the real Shopee train titles with seeded perturbations (prodmatch.demo.scaled, as
bench/bench_submission_70k.py does), text only. Each size runs in its own child process, which reports:

- wall time of candidate generation as the text-phash recipe's tfidf source does it (TF-IDF, top-k,
  neighbourhood blending, top-k again), with blocking (search/blocked.py), and its peak RSS;
- with --pair-features-max-rows, the pair model's features of those candidates too (time, peak RSS);
- recall against the exact top-k: for a seeded sample of query rows searched exactly against the whole
  table (each stage against its own vectors), and, up to --exact-max-rows, the whole exact source
  (blending included) against the blocked one, with the exact source's time. Recall: of the pairs exact
  returns (and of its same-label_group pairs), the share the blocked search returns;
- the time the exact top-k would take, extrapolated from the sample (per query row, times the rows).

The parent prints one line per size, the growth of the time from size to size (target: at most 4x from 300k
to 1M rows, 3.3x the rows) and writes --json.

    python bench/bench_dedup_scale.py --data-dir ../shared/data/shopee [--rows 100000 300000 1000000]
        [--sample-queries 2000] [--exact-max-rows 100000] [--pair-features-max-rows 0] [--json out.json]

``--engine dask`` (issue 24 item 2: partitions on a Dask LocalCluster) is not built yet and is refused.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ENGINES = ("single", "dask")  # dask: issue 24 item 2, built on `prodmatch dedup` (issue 22)
GROWTH_TARGET = 4.0  # at most 4x the time from 300k to 1M rows


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def recall(exact, found, labels) -> dict:
    hit = np.isin(exact.rows * exact.n_index + exact.cols, found.rows * found.n_index + found.cols)
    true = labels[exact.rows] == labels[exact.cols]
    true_found = int((labels[found.rows] == labels[found.cols]).sum())
    return {"pairs": round(float(hit.mean()), 4), "same_label_pairs": round(float(hit[true].mean()), 4),
            "exact_pairs": int(len(exact)), "blocked_pairs": int(len(found)),
            "same_label_found_vs_exact": round(true_found / max(int(true.sum()), 1), 4)}


def sampled_recall(matrix, found, sample, source, labels):
    """Recall on ``sample`` query rows, searched exactly against every row of ``matrix``; and the seconds."""
    from prodmatch.search.tfidf import sparse_topk

    started = time.perf_counter()
    exact = sparse_topk(matrix[sample], matrix, k=source.k, min_score=source.min_score)
    seconds = time.perf_counter() - started
    exact = exact.offset(sample, 0, matrix.shape[0], matrix.shape[0])
    return recall(exact, found.select(np.isin(found.rows, sample)), labels), seconds


def run_single(rows: int, args) -> dict:
    """One size, in this process: the blocked tfidf source's stages timed, then the recall checks."""
    import pandas as pd

    from prodmatch.demo.scaled import scaled_postings
    from prodmatch.recipes import load_recipe
    from prodmatch.search.blending import blend_vectors
    from prodmatch.search.blocked import candidate_pairs
    from prodmatch.search.blocking import BlockingConfig, BlockingIndex
    from prodmatch.search.features import Features
    from prodmatch.search.tfidf import tfidf_matrix

    started = time.perf_counter()
    frame = scaled_postings(pd.read_csv(Path(args.data_dir) / "train.csv"), rows, seed=args.seed)
    features = Features.from_frame(frame)
    labels = frame["label_group"].to_numpy()
    del frame
    out = {"rows": rows, "data_s": round(time.perf_counter() - started, 1), "rss_after_data_gb": round(peak_rss_gb(), 2)}

    recipe_source = load_recipe(args.recipe).source("tfidf")
    exact_source = dataclasses.replace(recipe_source, blocking=None)
    # the recipe's blocking section when it has one (e.g. other caps), else the defaults
    source = dataclasses.replace(exact_source, blocking=recipe_source.blocking or BlockingConfig())
    out["blocking"] = dataclasses.asdict(source.blocking)
    seconds, peaks = {}, {}  # peaks: the process's peak RSS when each stage ended (it only grows)
    # the stages of TfidfSource.search_with_vectors, timed one by one
    started = time.perf_counter()
    matrix = tfidf_matrix(features.titles, source.configs, source.weights)
    seconds["tfidf"] = time.perf_counter() - started
    peaks["tfidf"] = round(peak_rss_gb(), 2)
    started = time.perf_counter()
    first = source.top_k(matrix)
    seconds["search"] = time.perf_counter() - started
    peaks["search"] = round(peak_rss_gb(), 2)
    sample = np.sort(np.random.default_rng(args.seed).choice(rows, min(rows, args.sample_queries), replace=False))
    first_sampled = first.select(np.isin(first.rows, sample))  # for recall; the rest is freed, as the source does
    started = time.perf_counter()
    blended = blend_vectors(matrix, first, source.blend) if source.blend else matrix
    seconds["blend"] = time.perf_counter() - started
    peaks["blend"] = round(peak_rss_gb(), 2)
    if source.blend:
        del first
    started = time.perf_counter()
    final = source.top_k(blended) if source.blend else first
    seconds["search_blended"] = time.perf_counter() - started
    peaks["search_blended"] = round(peak_rss_gb(), 2)
    out["seconds"] = {k: round(v, 1) for k, v in seconds.items()}
    out["peak_rss_gb_after"] = peaks
    out["candidates_s"] = round(sum(seconds.values()), 1)
    out["candidate_pairs"] = int(len(final))
    out["peak_rss_candidates_gb"] = round(peak_rss_gb(), 2)
    print(f"[{rows}] candidates in {out['candidates_s']} s {out['seconds']}, peak RSS {out['peak_rss_candidates_gb']} GB",
          flush=True)

    if rows <= args.pair_features_max_rows:
        from prodmatch.match.candidates import CandidateTable
        from prodmatch.match.pair.features import pair_features

        started = time.perf_counter()
        table = CandidateTable.from_sources({source.name: final})
        found = pair_features(table, features.titles, [source], {source.name: blended})
        out["pair_features_s"] = round(time.perf_counter() - started, 1)
        out["pair_features_shape"] = list(found.values.shape)
        out["peak_rss_with_pair_features_gb"] = round(peak_rss_gb(), 2)
        del table, found

    out["sample_queries"] = int(len(sample))
    out["recall_sampled"], exact_seconds = sampled_recall(matrix, first_sampled, sample, source, labels)
    out["recall_sampled_blended"], _ = sampled_recall(blended, final, sample, source, labels)
    out["exact_search_s_extrapolated"] = round(exact_seconds * rows / len(sample), 1)
    # the work per query row, machine-independent (the timings are not on a shared machine)
    index = BlockingIndex.build(matrix, source.blocking)
    out["list_entries_read_per_row"] = round(index.visits(sample) / len(sample))
    out["candidates_scored_per_row"] = round(len(candidate_pairs(index, sample)[0]) / len(sample))
    out["index_mb"] = round(index.nbytes / 2**20)
    del index
    if rows <= args.exact_max_rows:
        started = time.perf_counter()
        exact_final = exact_source.search(features)
        out["exact_source_s"] = round(time.perf_counter() - started, 1)
        out["recall_source_all_rows"] = recall(exact_final, final, labels)
    return out


def run_child(rows: int, args) -> dict:
    """One size in a child process, so that its peak RSS is its own."""
    with tempfile.TemporaryDirectory(prefix="prodmatch-bench-") as tmp:
        result = Path(tmp) / "result.json"
        command = [sys.executable, __file__, "--child", str(rows), "--child-json", str(result),
                   "--data-dir", args.data_dir, "--recipe", args.recipe, "--seed", str(args.seed),
                   "--sample-queries", str(args.sample_queries), "--exact-max-rows", str(args.exact_max_rows),
                   "--pair-features-max-rows", str(args.pair_features_max_rows)]
        started = time.perf_counter()
        completed = subprocess.run(command, text=True)
        if completed.returncode != 0:
            raise SystemExit(f"the {rows}-row run failed with exit code {completed.returncode}")
        out = json.loads(result.read_text())
        out["child_wall_s"] = round(time.perf_counter() - started, 1)
        return out


def growth(results: list[dict]) -> list[dict]:
    steps = []
    for small, large in zip(results, results[1:]):
        steps.append({"rows": f"{small['rows']}->{large['rows']}", "rows_x": round(large["rows"] / small["rows"], 2),
                      "candidates_x": round(large["candidates_s"] / max(small["candidates_s"], 1e-9), 2),
                      "search_x": round((large["seconds"]["search"] + large["seconds"]["search_blended"])
                                        / max(small["seconds"]["search"] + small["seconds"]["search_blended"], 1e-9), 2),
                      "work_per_row_x": round(large["list_entries_read_per_row"] / small["list_entries_read_per_row"], 2)})
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "shopee"))
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--engine", choices=ENGINES, default="single")
    parser.add_argument("--recipe", default="text-phash",
                        help="whose tfidf source is searched (with its blocking: section, else the default one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-queries", type=int, default=2000, help="query rows searched exactly for recall")
    parser.add_argument("--exact-max-rows", type=int, default=100_000,
                        help="up to this size, also the whole exact source (blending included) for recall")
    parser.add_argument("--pair-features-max-rows", type=int, default=0,
                        help="up to this size, also the pair model's features of the candidates")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-json", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine == "dask":
        parser.error("--engine dask is issue 24 item 2 (Dask partitions), not built yet; use --engine single")
    if args.child:
        Path(args.child_json).write_text(json.dumps(run_single(args.child, args)))
        return 0

    results = []
    for rows in args.rows:
        result = run_child(rows, args)
        results.append(result)
        print(json.dumps(result), flush=True)
    steps = growth(sorted(results, key=lambda r: r["rows"]))
    figures = {"engine": args.engine, "cpu_count": os.cpu_count(), "sizes": results, "growth": steps,
               "note": "timings on a shared, busy machine: provisional; ratios and recall are the figures"}
    print("\nrows | candidates s | exact search s (extrapolated, one pass) | peak RSS GB | list entries read / "
          "candidates scored per row | recall pairs / same-label")
    for r in results:
        rec = r["recall_sampled"]
        print(f"{r['rows']} | {r['candidates_s']} | {r['exact_search_s_extrapolated']} | {r['peak_rss_candidates_gb']} | "
              f"{r['list_entries_read_per_row']} / {r['candidates_scored_per_row']} | "
              f"{rec['pairs']} / {rec['same_label_pairs']} (blended stage {r['recall_sampled_blended']['pairs']} / "
              f"{r['recall_sampled_blended']['same_label_pairs']})")
    for step in steps:
        print(f"growth {step['rows']}: {step['rows_x']}x rows -> {step['candidates_x']}x candidate time "
              f"({step['search_x']}x search; list entries read per row {step['work_per_row_x']}x)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    target = [s for s in steps if s["rows"] == "300000->1000000"]
    if target:
        ok = target[0]["candidates_x"] <= GROWTH_TARGET
        print(f"{'PASS' if ok else 'FAIL'}: 300k -> 1M candidate time grew {target[0]['candidates_x']}x "
              f"(target <= {GROWTH_TARGET}x)")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
