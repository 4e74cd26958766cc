"""python make_submission.py --data-dir DIR --recipe text-phash --out submission.csv [--thresholds FILE]

Without --thresholds, the thresholds are tuned by CV on DIR/train.csv first (and saved beside the output).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from prodmatch.data import DataDir
from prodmatch.data.folds import DEFAULT_N_FOLDS

HELP = "Match test.csv and write a validated submission.csv."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", required=True, help="Kaggle-layout folder (test.csv, and train.csv to tune)")
    parser.add_argument("--recipe", help="built-in recipe name or .yaml (default: text-phash, or the one in --thresholds)")
    parser.add_argument("--out", default="submission.csv")
    parser.add_argument("--thresholds", help="thresholds.json from `prodmatch cv` (skips tuning)")
    parser.add_argument("--weights", default="weights", help="trained runs, for recipes with learned embeddings")
    parser.add_argument("--folds", help="folds CSV used when tuning (default: hashed folds)")
    parser.add_argument("--n-folds", type=int, default=DEFAULT_N_FOLDS)
    parser.add_argument("--batch-size", type=int, help="embedding batch size (full recipe)")
    parser.add_argument("--fixed-thresholds", action="store_true",
                        help="use the fold-size thresholds as they are (default: move them to the test size)")
    parser.add_argument("--timings-json", help="write per-stage seconds and peak RSS here (kernel rehearsals read it)")


def run(args: argparse.Namespace) -> int:
    from prodmatch.cv import format_size_curve, prepare_cv, read_size_curve, read_thresholds, run_cv, write_thresholds
    from prodmatch.recipes import load_recipe
    from prodmatch.runs import check_policy_runs, recipe_for_weights, test_embeddings_for
    from prodmatch.search.features import Features
    from prodmatch.submission import predict_matches, write_submission

    started = time.perf_counter()
    data = DataDir.of(args.data_dir)
    test = data.read_test()
    timings: dict[str, float] = {}
    peak_rss_gb: dict[str, float] = {}
    peak_gpu_gb: dict[str, float] = {}
    if args.thresholds:
        policy, recipe = read_thresholds(args.thresholds)
        curve = read_size_curve(args.thresholds)
        if args.recipe and load_recipe(args.recipe).name != recipe.name:
            raise SystemExit(f"--recipe {args.recipe} differs from the recipe '{recipe.name}' in {args.thresholds}")
        recipe, runs, notes = recipe_for_weights(recipe, args.weights)
        check_policy_runs(policy, recipe, args.weights, args.thresholds)
        print(f"thresholds from {args.thresholds}")
    else:
        tune_started = time.perf_counter()
        inputs = prepare_cv(args.data_dir, load_recipe(args.recipe or "text-phash"), args.weights, args.folds,
                            args.n_folds)
        recipe, runs, notes = inputs.recipe, inputs.runs, inputs.notes
        # size-aware by default: also tune on pools of growing size, to move the thresholds to len(test)
        result = run_cv(inputs.train, inputs.folds, recipe, inputs.embeddings, nested=False,
                        size_curve=not args.fixed_thresholds)
        timings["tune_cv"] = time.perf_counter() - tune_started
        peak_rss_gb["tune_cv"] = peak_rss_so_far_gb()
        record_gpu_peak(peak_gpu_gb, "tune_cv")
        print(result.format_table())
        policy, curve = result.policy, result.size_curve
        saved = Path(args.out).with_suffix(".thresholds.json")
        write_thresholds(saved, policy, recipe, {**result.meta, "folds": inputs.folds_source}, curve)
        print(f"tuned on {len(inputs.train)} train rows ({inputs.folds_source}); thresholds saved to {saved}")
    for note in notes:
        print(f"note: {note}")
    if curve is not None and not args.fixed_thresholds:
        print(format_size_curve(curve, (len(test),)))
        policy = curve.policy_for(len(test))
    print(f"policy for {len(test)} test postings: " + ", ".join(
        f"{k} {v:.3f}" for k, v in policy.thresholds.items()) + f", min2 floor {policy.min2_floor:.3f}")
    embed_started = time.perf_counter()
    embeddings = test_embeddings_for(runs, test, data.test_images, args.batch_size) if runs else None
    timings["embed"] = time.perf_counter() - embed_started
    peak_rss_gb["embed"] = peak_rss_so_far_gb()
    record_gpu_peak(peak_gpu_gb, "embed")
    features = Features.from_frame(test, embeddings)
    match_started = time.perf_counter()
    matches, source_timings = predict_matches(features, recipe, policy)
    timings["match"] = time.perf_counter() - match_started
    peak_rss_gb["match"] = peak_rss_so_far_gb()
    record_gpu_peak(peak_gpu_gb, "match")
    write_started = time.perf_counter()
    write_submission(args.out, features.posting_ids, matches, test)
    timings["write+validate"] = time.perf_counter() - write_started
    peak_rss_gb["write+validate"] = peak_rss_so_far_gb()
    record_gpu_peak(peak_gpu_gb, "write+validate")
    sizes = [len(m) for m in matches]
    print(f"wrote {args.out}: {len(test)} postings, mean {sum(sizes) / len(sizes):.2f} matches "
          f"(max {max(sizes)}), validated")
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in {**timings, **source_timings}.items())
          + f", total {time.perf_counter() - started:.1f}")
    if args.timings_json:
        from prodmatch.fileio import write_json

        write_json(args.timings_json, {
            "n_test": len(test), "recipe": recipe.name, "seconds": {k: round(v, 3) for k, v in timings.items()},
            "search_seconds": {k: round(v, 3) for k, v in source_timings.items()},
            "peak_rss_gb_after_stage": peak_rss_gb, "peak_gpu_gb_after_stage": peak_gpu_gb,
            "total_seconds": round(time.perf_counter() - started, 3),
        })
    return 0


def record_gpu_peak(peaks: dict[str, float], stage: str) -> None:
    """Peak GPU memory torch has reserved so far, when torch already runs on a GPU (cuML/CuPy not counted)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return
    peaks[stage] = round(max(torch.cuda.max_memory_reserved(d) for d in range(torch.cuda.device_count())) / 1024**3, 3)


def peak_rss_so_far_gb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 3)
