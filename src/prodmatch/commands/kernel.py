"""python -m prodmatch kernel build|rehearse ...

    prodmatch kernel build --weights weights/ --out kernels/build [--recipe auto|text-phash|full]
                           [--thresholds FILE | --tune-data-dir DIR] [--kaggle-user NAME]
    prodmatch kernel rehearse --build kernels/build --data-dir DIR [--scale 70000]

See kernels/README.md for uploading the result with the kaggle CLI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from prodmatch.kernel.build import COMPETITION, DEFAULT_DATASET_SLUG, DEFAULT_KERNEL_SLUG, GPU_FALLBACKS
    from prodmatch.kernel.netguard import ISOLATION_METHODS
    from prodmatch.kernel.projection import (
        DEFAULT_CPU_FACTOR,
        DEFAULT_GPU_IMAGES_PER_S,
        DEFAULT_GPU_TITLES_PER_S,
        DEFAULT_OVERHEAD_S,
    )

    sub = parser.add_subparsers(dest="action", metavar="action")
    sub.required = True

    build = sub.add_parser("build", help="write the Kaggle dataset and kernel folders")
    build.add_argument("--out", default="kernels/build", help="output folder (dataset/ and kernel/ are replaced)")
    build.add_argument("--weights", default="weights", help="trained runs (only what the recipe needs is shipped)")
    build.add_argument("--recipe", default="auto",
                       help="auto (the thresholds' recipe, else full when --weights has runs, else text-phash), "
                            "a built-in name or a .yaml")
    group = build.add_mutually_exclusive_group()
    group.add_argument("--thresholds", help="thresholds.json from `prodmatch cv` to ship")
    group.add_argument("--tune-data-dir", help="tune thresholds by CV on DIR/train.csv now and ship them")
    build.add_argument("--kaggle-user", help="Kaggle username for the ids (default: $KAGGLE_USERNAME)")
    build.add_argument("--dataset-slug", default=DEFAULT_DATASET_SLUG,
                       help=f"Kaggle dataset slug (default {DEFAULT_DATASET_SLUG})")
    build.add_argument("--kernel-slug", default=DEFAULT_KERNEL_SLUG,
                       help=f"Kaggle kernel slug (default {DEFAULT_KERNEL_SLUG})")
    build.add_argument("--competition", default=COMPETITION, help=f"competition slug (default {COMPETITION})")
    build.add_argument("--wheel", help="use this prodmatch wheel instead of building one from the source tree")
    build.add_argument("--vendor-wheel", action="append", default=[], metavar="FILE",
                       help="extra (pure-Python) wheel to ship; the kernel installs it only if the image lacks it")
    build.add_argument("--submit-arg", action="append", default=[], metavar="ARG",
                       help="extra argument for `prodmatch submit` in the kernel (repeat; e.g. "
                            "--submit-arg=--batch-size --submit-arg=128)")
    build.add_argument("--gpu-fallback", choices=GPU_FALLBACKS, default="none",
                       help="what the kernel runs when its recipe needs a GPU and none is usable: none (stop at "
                            "once with the reason) or text-phash (the weight-free recipe, tuned on train.csv)")
    build.add_argument("--license", default="other", help="Kaggle dataset license name")
    build.add_argument("--public", action="store_true", help="make the kernel public (default private)")

    rehearse = sub.add_parser("rehearse", help="run a built kernel offline on a fake /kaggle tree and check it")
    rehearse.add_argument("--build", default="kernels/build", help="the folder `kernel build` wrote")
    rehearse.add_argument("--data-dir", required=True, help="Kaggle-layout folder used as the competition input")
    rehearse.add_argument("--scale", type=int, help="test.csv of this many perturbed copies of the train rows")
    rehearse.add_argument("--seed", type=int, default=0, help="seed of the --scale test set")
    rehearse.add_argument("--isolation", choices=ISOLATION_METHODS, default="auto",
                          help="auto: network namespace with read-only inputs if possible, else netns, else the "
                               "Python guard alone")
    rehearse.add_argument("--ram-budget-gb", type=float, default=12.0,
                          help="fail when the kernel's peak RSS exceeds this (Kaggle: 13 GB RAM)")
    rehearse.add_argument("--gpu-budget-gb", type=float, default=14.0,
                          help="fail when the GPU peak exceeds this (Kaggle T4: 15 GB)")
    rehearse.add_argument("--cpu-factor", type=float,
                          help=f"Kaggle CPU seconds per rehearsal CPU second (default {DEFAULT_CPU_FACTOR}, "
                               "or measured from --kaggle-report)")
    rehearse.add_argument("--kaggle-report", help="prodmatch_kernel_report.json of a real Kaggle run (calibration)")
    rehearse.add_argument("--gpu-images-per-s", type=float, default=DEFAULT_GPU_IMAGES_PER_S,
                          help="assumed Kaggle GPU image embedding rate per fold model, for the projection")
    rehearse.add_argument("--gpu-titles-per-s", type=float, default=DEFAULT_GPU_TITLES_PER_S,
                          help="assumed Kaggle GPU title embedding rate per fold model, for the projection")
    rehearse.add_argument("--gpu-check", metavar="JSON",
                          help="bench/gpu_check.py --json output from a Kaggle-like GPU: its measured image rate "
                               "replaces --gpu-images-per-s")
    rehearse.add_argument("--gpus", type=int, default=1,
                          help="GPUs the projection spreads fold models over (Kaggle's T4 x2: 2; default 1, as "
                               "both share the same 2 vCPUs decoding JPEGs)")
    rehearse.add_argument("--require-gpu", action="store_true",
                          help="apply the kernel's GPU rule as on Kaggle: without a usable GPU a recipe with models "
                               "stops (or falls back to text-phash); by default the rehearsal embeds on the CPU")
    rehearse.add_argument("--overhead-s", type=float, default=DEFAULT_OVERHEAD_S,
                          help="Kaggle-side seconds a rehearsal cannot see (start, mounts, saving)")
    rehearse.add_argument("--submit-arg", action="append", default=[], metavar="ARG",
                          help="extra argument for `prodmatch submit` in the kernel (repeat)")
    rehearse.add_argument("--exclude-package", action="append", default=[], metavar="NAME",
                          help="hide a preinstalled package from the kernel (e.g. faiss: Kaggle images may lack it)")
    rehearse.add_argument("--timeout", type=float, help="kill the kernel after this many seconds")
    rehearse.add_argument("--workdir", help="make the temporary tree here (default: the system temp folder)")
    rehearse.add_argument("--keep", action="store_true", help="keep the temporary tree (path in the report)")
    rehearse.add_argument("--report", help="write the rehearsal figures (JSON) here")
    rehearse.add_argument("--quiet", action="store_true", help="do not echo the kernel's output")


def run(args: argparse.Namespace) -> int:
    if args.action == "build":
        return run_build(args)
    return run_rehearse(args)


def run_build(args: argparse.Namespace) -> int:
    from prodmatch.kernel.build import BuildOptions, build_kernel

    options = BuildOptions(
        out=Path(args.out), weights=Path(args.weights) if args.weights else None, recipe=args.recipe,
        thresholds=Path(args.thresholds) if args.thresholds else None,
        tune_data_dir=Path(args.tune_data_dir) if args.tune_data_dir else None, kaggle_user=args.kaggle_user,
        dataset_slug=args.dataset_slug, kernel_slug=args.kernel_slug, competition=args.competition,
        wheel=Path(args.wheel) if args.wheel else None, vendor_wheels=[Path(w) for w in args.vendor_wheel],
        submit_args=list(args.submit_arg), license=args.license, private=not args.public,
        gpu_fallback=args.gpu_fallback)
    print(build_kernel(options).summary())
    return 0


def run_rehearse(args: argparse.Namespace) -> int:
    from prodmatch.kernel.projection import format_report
    from prodmatch.kernel.rehearse import RehearsalError, RehearsalOptions, rehearse

    options = RehearsalOptions(
        build=Path(args.build), data_dir=Path(args.data_dir), scale=args.scale, seed=args.seed,
        isolation=args.isolation, workdir=Path(args.workdir) if args.workdir else None, keep=args.keep,
        timeout_s=args.timeout, submit_args=list(args.submit_arg), exclude_packages=list(args.exclude_package),
        ram_budget_gb=args.ram_budget_gb,
        gpu_budget_gb=args.gpu_budget_gb, cpu_factor=args.cpu_factor,
        kaggle_report=Path(args.kaggle_report) if args.kaggle_report else None,
        gpu_images_per_s=args.gpu_images_per_s, gpu_titles_per_s=args.gpu_titles_per_s, overhead_s=args.overhead_s,
        gpu_check=Path(args.gpu_check) if args.gpu_check else None, gpus=args.gpus, require_gpu=args.require_gpu,
        report=Path(args.report) if args.report else None, echo=not args.quiet)
    try:
        report = rehearse(options)
    except RehearsalError as exc:  # the kernel failed or its output did not pass: a result, not bad input
        print(f"rehearsal FAILED: {exc}", file=sys.stderr)
        return 1
    print(format_report(report))
    if not report.within_budgets:
        print("rehearsal FAILED: over the memory budget", file=sys.stderr)
    return 0 if report.within_budgets else 1
