#!/usr/bin/env python
"""Benchmark: make_submission (text-phash, thresholds tuned by CV included) on a 70,000-posting test.csv.

Builds DIR/test.csv from the real train titles/phashes (perturbed copies, see prodmatch.demo.scaled) in
a temporary folder outside the repo (competition data never enters the project), links train.csv, runs
`python make_submission.py` in a child process and reports wall time and the child's peak RSS.
Targets on the 2-core dev machine (issue 19's budgets): <= 130 s wall with tuning, <= 45 s with --thresholds,
<= 6 GB peak RSS.

    python bench/bench_submission_70k.py --data-dir ../shared/data/shopee [--rows 70000] [--recipe text-phash]
        [--thresholds runs/cv/shopee-text-phash/thresholds.json] [--no-pair-model]

With --thresholds the tuning step is skipped, so the wall time is inference alone (search, pair features and
model, matching, writing); --no-pair-model matches with the union as before the pair model.

It also scores the submission against the perturbed copies' label groups (the test is built from train
groups, so it is a check that matching still works at that size, not a held-out score).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "shopee"))
    parser.add_argument("--rows", type=int, default=70_000)
    parser.add_argument("--recipe", default="text-phash")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-wall-s", type=float, default=None,
                        help="wall-time target (default: 45 s with --thresholds, 130 s with tuning)")
    parser.add_argument("--max-rss-gb", type=float, default=6.0)
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--thresholds", help="thresholds.json to match with (skips tuning)")
    parser.add_argument("--no-pair-model", action="store_true", help="match with the union only")
    args = parser.parse_args()
    if args.max_wall_s is None:
        args.max_wall_s = 45.0 if args.thresholds else 130.0

    from prodmatch.data import DataDir
    from prodmatch.demo.scaled import scaled_postings
    from prodmatch.metrics import score_match_lists, truth_from_labels

    data = DataDir.of(args.data_dir)
    train = data.read_train()
    with tempfile.TemporaryDirectory(prefix="prodmatch-bench-") as tmp:
        bench_dir = Path(tmp)
        postings = scaled_postings(train, args.rows, seed=args.seed)
        postings["posting_id"] = [f"bench_{i}" for i in range(len(postings))]
        postings.drop(columns=["label_group", "source_row"]).to_csv(bench_dir / "test.csv", index=False)
        os.symlink(data.train_csv.resolve(), bench_dir / "train.csv")
        out = bench_dir / "submission.csv"
        command = [sys.executable, str(REPO / "make_submission.py"), "--data-dir", str(bench_dir),
                   "--recipe", args.recipe, "--out", str(out), "--timings-json", str(bench_dir / "timings.json")]
        if args.thresholds:
            command += ["--thresholds", str(Path(args.thresholds).resolve())]
        if args.no_pair_model:
            command.append("--no-pair-model")
        print("running:", " ".join(command), flush=True)
        started = time.perf_counter()
        completed = subprocess.run(command, cwd=bench_dir, text=True, capture_output=True)
        wall = time.perf_counter() - started
        print(completed.stdout[-3000:], completed.stderr[-3000:], sep="\n")
        if completed.returncode != 0:
            print(f"make_submission failed with exit code {completed.returncode}")
            return 1
        peak_rss_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
        import pandas as pd

        stages = json.loads((bench_dir / "timings.json").read_text())
        submission = pd.read_csv(out)
        predictions = dict(zip(submission["posting_id"], submission["matches"]))
        score = score_match_lists(predictions, truth_from_labels(postings["posting_id"], postings["label_group"]))
    figures = {"rows": args.rows, "recipe": args.recipe, "wall_s": round(wall, 1), "peak_rss_gb": round(peak_rss_gb, 2),
               "f1_vs_copied_groups": round(score.f1, 4), "cpu_count": os.cpu_count(),
               "stage_seconds": {k: round(v, 1) for k, v in stages["seconds"].items()},
               "search_seconds": {k: round(v, 1) for k, v in stages["search_seconds"].items()},
               "thresholds": args.thresholds, "pair_model": not args.no_pair_model}
    print(json.dumps(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    ok = wall <= args.max_wall_s and peak_rss_gb <= args.max_rss_gb
    print(f"{'PASS' if ok else 'FAIL'}: wall {wall:.1f}s (target <= {args.max_wall_s}), "
          f"peak RSS {peak_rss_gb:.2f} GB (target <= {args.max_rss_gb})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
