#!/usr/bin/env python
"""Benchmark: the built Kaggle kernel on a 70,000-posting test set, offline (build + scale rehearsal).

Builds the kernel (text-phash unless --weights has runs; see `prodmatch kernel build`) into a temporary
folder, then runs `prodmatch kernel rehearse --scale ROWS` on it: a test.csv of perturbed copies of the real
train rows (outside the repo), the kernel in a fresh environment with no network, the submission validated.
Reports per-stage seconds and peak RSS (make_submission's --timings-json), the projected Kaggle run time and
whether the run stayed within the memory budget.

    python bench/bench_kernel_scale.py --data-dir ../shared/data/shopee [--rows 70000] [--json out.json]
        [--thresholds runs/cv/.../thresholds.json] [--weights weights/] [--ram-budget-gb 12]

Without --thresholds the kernel tunes thresholds by CV on train.csv first (the tune_cv stage), as the
default text-phash build does on Kaggle.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "shopee"))
    parser.add_argument("--rows", type=int, default=70_000)
    parser.add_argument("--recipe", default="auto")
    parser.add_argument("--weights", default=str(REPO / "weights"))
    parser.add_argument("--thresholds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ram-budget-gb", type=float, default=12.0)
    parser.add_argument("--gpu-budget-gb", type=float, default=14.0)
    parser.add_argument("--cpu-factor", type=float)
    parser.add_argument("--exclude-package", action="append", default=[],
                        help="hide a preinstalled package from the kernel (e.g. faiss)")
    parser.add_argument("--json", help="also write the rehearsal report here")
    parser.add_argument("--echo", action="store_true", help="stream the kernel's output")
    args = parser.parse_args()

    from prodmatch.kernel.build import BuildOptions, build_kernel
    from prodmatch.kernel.projection import format_report
    from prodmatch.kernel.rehearse import RehearsalOptions, rehearse

    with tempfile.TemporaryDirectory(prefix="prodmatch-bench-kernel-") as tmp:
        build = build_kernel(BuildOptions(out=Path(tmp) / "build", weights=Path(args.weights), recipe=args.recipe,
                                          thresholds=Path(args.thresholds) if args.thresholds else None,
                                          kaggle_user="bench"))
        print(build.summary(), flush=True)
        report = rehearse(RehearsalOptions(build=build.out, data_dir=Path(args.data_dir), scale=args.rows,
                                           seed=args.seed, ram_budget_gb=args.ram_budget_gb,
                                           gpu_budget_gb=args.gpu_budget_gb, cpu_factor=args.cpu_factor,
                                           echo=args.echo, exclude_packages=args.exclude_package,
                                           report=Path(args.json) if args.json else None))
    print(format_report(report))
    print(json.dumps({"rows": args.rows, "recipe": report.recipe, "wall_s": report.wall_s,
                      "kernel_seconds": report.kernel_seconds, "peak_rss_gb": report.peak_rss_gb,
                      "projected_kaggle_s": report.projection.projected_s,
                      "f1_vs_copied_groups": report.f1_vs_copied_groups, "isolation": report.isolation}))
    ok = report.within_ram_budget and report.projection.within_limit
    print(f"{'PASS' if ok else 'FAIL'}: peak RSS {report.peak_rss_gb:.2f} GB (budget {args.ram_budget_gb} GB), "
          f"projected Kaggle {report.projection.projected_s:.0f}s (limit {report.projection.limit_s}s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
