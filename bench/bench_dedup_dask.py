#!/usr/bin/env python
"""Benchmark: `prodmatch dedup --model DIR` on a synthetic catalogue, single process vs ``--engine dask`` (a
LocalCluster of one worker per core: 2 here), text only.

The catalogue is built from the real Shopee train titles with seeded perturbations (prodmatch.demo.scaled, as
bench/bench_submission_70k.py does), in a temporary folder outside the repo: --train-rows of them (seed 1,
their label groups as clusters) train the model once with the single engine; --rows (seed 0) are matched by
each engine in its own child process. Printed and written to --json:

- per engine: wall time, the child's peak RSS (for Dask: the largest of client and workers), and for Dask each
  worker's peak RSS during the run, the client's, the seconds per step and the partitions;
- whether pairs.csv and clusters.csv are identical between the engines (the issue's target on 100k);
- pairwise F1 of each against the copied label groups (not a held-out score: the copies share groups with
  the training rows);
- --profile-rows: the partitioned path run in process on that many rows in --profile-partitions partitions,
  each task timed: the per-partition costs docs/scale.md extrapolates from (seconds per search of a
  partition against a shard, per pair featurised and predicted, bytes per record of rows, pairs per record);
- --vocabulary-samples: what fitting TF-IDF on a sample instead of the whole table (the streaming vocabulary)
  would change: of the exact top-k pairs of 2,000 seeded query rows, the share the sample-fitted search finds.

    python bench/bench_dedup_dask.py --data-dir ../shared/data/shopee [--rows 100000] [--train-rows 10000]
        [--partitions N] [--profile-rows 50000] [--vocabulary-samples 0.1 0.01] [--recipe dedup-large]
        [--json out.json]

--recipe trains the model with that recipe (default dedup-text, exact TF-IDF top-k). With dedup-large (TF-IDF
by blocking) the profile's ``search`` is one call per partition (its records against the whole table) and
``blocked_index`` the one task per source that stacks the rows and builds the keys.

Timings on a shared machine are provisional.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ["--id", "posting_id", "--title", "title"]


def run_measured(command: list[str], cwd: Path) -> dict:
    """``command`` in a child of a child, so that RUSAGE_CHILDREN is this command's alone."""
    wrapper = ("import json, resource, subprocess, sys, time; started = time.perf_counter(); "
               "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "print(json.dumps({'rc': done.returncode, 'wall_s': time.perf_counter() - started, "
               "'peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "
               "'out': done.stdout[-4000:], 'err': done.stderr[-4000:]}))")
    completed = subprocess.run([sys.executable, "-c", wrapper, *command], cwd=cwd, capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        print(result["out"], result["err"], sep="\n")
        raise SystemExit(f"failed: {' '.join(command)}")
    return result


def write_tables(shopee: Path, root: Path, rows: int, train_rows: int) -> None:
    import pandas as pd

    from prodmatch.demo.scaled import scaled_postings

    train = pd.read_csv(shopee / "train.csv", dtype=str, keep_default_na=False)
    for name, n, seed in (("train", train_rows, 1), ("test", rows, 0)):
        table = scaled_postings(train, n, seed=seed)
        table["posting_id"] = [f"{name}_{i}" for i in range(len(table))]
        table[["posting_id", "title"]].to_csv(root / f"{name}.csv", index=False)
        table[["posting_id", "label_group"]].rename(columns={"posting_id": "id", "label_group": "cluster_id"}).to_csv(
            root / f"{name}_clusters.csv", index=False)


def pairwise_f1(folder: Path, labels: Path) -> float:
    from prodmatch.dedup.scoring import score_result

    return round(score_result(folder, labels).pairwise.f1, 4)


def same_results(one: Path, other: Path) -> dict:
    out = {}
    for name in ("pairs.csv", "clusters.csv"):
        out[name] = (one / name).read_bytes() == (other / name).read_bytes()
    return out


class TimingRunner:
    """The in-process runner, each task's seconds summed by function name."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def submit(self, fn, *args, **kwargs):
        started = time.perf_counter()
        out = fn(*args, **kwargs)
        name = getattr(fn, "__name__", type(fn).__name__)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
        self.calls[name] = self.calls.get(name, 0) + 1
        return out

    def gather(self, handles):
        return handles

    def scatter(self, values):
        return list(values)

    def wait(self, handles):
        pass


def nbytes(value) -> int:
    import scipy.sparse as sp

    if sp.issparse(value):
        return int(value.data.nbytes + value.indices.nbytes + value.indptr.nbytes)
    if isinstance(value, np.ndarray):
        return int(value.nbytes if value.dtype != object else 8 * len(value))
    return 0


def profile(root: Path, model_dir: Path, rows: int, partitions: int) -> dict:
    """The partitioned path in process on the first ``rows`` test records, per task (see the module doc)."""
    from prodmatch.dedup.engine.partitioned import gather_edges, load_partitioned, predict_edges_partitioned
    from prodmatch.dedup.saved import read_model
    from prodmatch.dedup.table import read_table

    saved = read_model(model_dir)
    table = read_table(root / "test.csv", saved.columns)
    table = table.subset(np.arange(min(rows, len(table))))
    runner = TimingRunner()
    loaded = load_partitioned(runner, table, saved.recipe.sources, partitions)
    edges = predict_edges_partitioned(runner, loaded, saved.model, saved.decision.threshold)
    _, n_edges = gather_edges(edges, loaded.n)
    n_pairs = sum(len(p) for p in loaded.pairs)
    row_bytes = sum(nbytes(v) for block in loaded.blocks for v in block.columns.values())
    return {"rows": len(table), "partitions": partitions, "partition_rows": len(table) // partitions,
            "directed_pairs": n_pairs, "pairs_per_record": round(n_pairs / len(table), 1), "edges": n_edges,
            "row_bytes_per_record": round(row_bytes / len(table)),
            "task_seconds": {k: round(v, 2) for k, v in sorted(runner.seconds.items(), key=lambda kv: -kv[1])},
            "task_calls": runner.calls,
            "search_seconds_per_shard_pair": {k: round(runner.seconds[k] / runner.calls[k], 3) for k in runner.seconds
                                              if k == "search"},
            "feature_and_predict_us_per_pair": round(1e6 * runner.seconds["partition_probability"] / n_pairs, 2)}


def vocabulary_sample_effect(root: Path, model_dir: Path, fractions: list[float], queries: int = 2000) -> dict:
    """Recall of the exact top-k (vocabulary fitted on every row) by searches whose vectorizer was fitted on a
    sample of the rows, per source, for ``queries`` seeded query rows."""
    import pandas as pd
    import scipy.sparse as sp
    from sklearn.preprocessing import normalize

    from prodmatch.data.titles import clean_titles
    from prodmatch.dedup.saved import read_model
    from prodmatch.search.tfidf import sparse_topk, tfidf_matrix

    titles = clean_titles(pd.read_csv(root / "test.csv", dtype=str, keep_default_na=False)["title"])
    rng = np.random.default_rng(0)
    sample_queries = np.sort(rng.choice(len(titles), min(queries, len(titles)), replace=False))
    out = {}
    for source in read_model(model_dir).recipe.sources:
        whole = tfidf_matrix(titles, source.configs, source.weights)
        exact = sparse_topk(whole[sample_queries], whole, k=source.k, min_score=source.min_score)
        exact_keys = set(zip(exact.rows.tolist(), exact.cols.tolist()))
        for fraction in fractions:
            fit_rows = np.sort(rng.choice(len(titles), max(1, int(fraction * len(titles))), replace=False))
            blocks = []
            for config in source.configs:
                vectorizer = config.vectorizer().fit([titles[i] for i in fit_rows])
                blocks.append(vectorizer.transform(titles))
            sampled = normalize(sp.hstack(blocks, format="csr"), norm="l2").astype(np.float32)
            found = sparse_topk(sampled[sample_queries], sampled, k=source.k, min_score=source.min_score)
            found_keys = set(zip(found.rows.tolist(), found.cols.tolist()))
            out[f"{source.name}@{fraction:g}"] = {
                "recall_of_exact_pairs": round(len(exact_keys & found_keys) / max(len(exact_keys), 1), 4),
                "vocabulary_share": round(sampled.shape[1] / whole.shape[1], 4)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "shopee"))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--train-rows", type=int, default=10_000)
    parser.add_argument("--partitions", type=int)
    parser.add_argument("--skip-single", action="store_true")
    parser.add_argument("--profile-rows", type=int, default=0)
    parser.add_argument("--profile-partitions", type=int, default=2)
    parser.add_argument("--vocabulary-samples", type=float, nargs="*", default=[])
    parser.add_argument("--recipe", help="the recipe the model is trained with (default: dedup-text)")
    parser.add_argument("--json")
    args = parser.parse_args()
    figures: dict = {"rows": args.rows, "train_rows": args.train_rows, "recipe": args.recipe or "dedup-text",
                     "cpu_count": os.cpu_count(),
                     "note": "measured on a shared, busy 2-core machine: timings provisional"}
    with tempfile.TemporaryDirectory(prefix="prodmatch-bench-dask-") as tmp:
        root = Path(tmp)
        write_tables(Path(args.data_dir), root, args.rows, args.train_rows)
        prodmatch = [sys.executable, "-m", "prodmatch", "dedup"]
        recipe = ["--recipe", args.recipe] if args.recipe else []
        trained = run_measured([*prodmatch, "train.csv", *COLUMNS, "--labels", "train_clusters.csv", "--out", "model",
                                *recipe], root)
        figures["train_single"] = {"wall_s": round(trained["wall_s"], 1), "peak_rss_mb": round(trained["peak_rss_mb"])}
        print("trained:", figures["train_single"], flush=True)
        runs = {}
        engines = [] if args.skip_single else ["single"]
        for engine in [*engines, "dask"]:
            extra = [] if engine == "single" else ["--engine", "dask"]
            if engine == "dask" and args.partitions:
                extra += ["--partitions", str(args.partitions)]
            result = run_measured([*prodmatch, "test.csv", "--model", "model", "--out", engine, *extra], root)
            summary = json.loads((root / engine / "dedup.json").read_text())
            runs[engine] = {"wall_s": round(result["wall_s"], 1), "peak_rss_mb": round(result["peak_rss_mb"]),
                            "n_candidate_pairs": summary["n_candidate_pairs"], "n_pairs": summary["n_pairs"],
                            "pairwise_f1_vs_copied_groups": pairwise_f1(root / engine, root / "test_clusters.csv"),
                            "engine": summary["details"]["engine"]}
            print(engine, json.dumps(runs[engine]), flush=True)
        figures["runs"] = runs
        if "single" in runs:
            figures["identical"] = same_results(root / "single", root / "dask")
            print("identical single vs dask:", figures["identical"], flush=True)
        if args.profile_rows:
            figures["profile"] = profile(root, root / "model", args.profile_rows, args.profile_partitions)
            print("profile:", json.dumps(figures["profile"]), flush=True)
        if args.vocabulary_samples:
            figures["vocabulary_samples"] = vocabulary_sample_effect(root, root / "model", args.vocabulary_samples)
            print("vocabulary samples:", json.dumps(figures["vocabulary_samples"]), flush=True)
    print(json.dumps(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
