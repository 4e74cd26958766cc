"""python -m prodmatch cv --data-dir DIR --recipe text-phash [--folds FILE] [--weights weights/] [--out DIR]"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from prodmatch.data import DataDir
from prodmatch.data.folds import DEFAULT_N_FOLDS

HELP = "Out-of-fold candidates, threshold search and the CV table."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", required=True, help="Kaggle-layout folder with train.csv")
    parser.add_argument("--recipe", default="text-phash", help="built-in recipe name or a recipe .yaml")
    parser.add_argument("--folds", help="folds CSV (default: folds/<data>_5fold.csv if present, else hashed folds)")
    parser.add_argument("--n-folds", type=int, default=DEFAULT_N_FOLDS)
    parser.add_argument("--weights", default="weights", help="trained runs, for recipes with learned embeddings")
    parser.add_argument("--out", help="output folder (default: runs/cv/<data>-<recipe>)")
    parser.add_argument("--only-folds", type=int, nargs="+", metavar="K",
                        help="score only these folds (e.g. to compare with a recipe whose models cover fold 0)")
    parser.add_argument("--no-nested", action="store_true", help="skip the nested (held-out threshold) estimate")
    parser.add_argument("--no-size-curve", action="store_true",
                        help="skip tuning on pools of growing size (size-aware thresholds for the test set)")


def run(args: argparse.Namespace) -> int:
    from prodmatch.cv import prepare_cv, run_cv, save_cv
    from prodmatch.recipes import load_recipe

    started = time.perf_counter()
    recipe = load_recipe(args.recipe)
    inputs = prepare_cv(args.data_dir, recipe, args.weights, args.folds, args.n_folds)
    if args.only_folds:
        inputs = inputs.only_folds(args.only_folds)
    for note in inputs.notes:
        print(f"note: {note}")
    print(f"CV of recipe '{inputs.recipe.name}' on {DataDir.of(args.data_dir).train_csv} ({len(inputs.train)} rows, "
          f"folds: {inputs.folds_source})", flush=True)
    result = run_cv(inputs.train, inputs.folds, inputs.recipe, inputs.embeddings, nested=not args.no_nested,
                    size_curve=not args.no_size_curve, progress=True)
    out = Path(args.out) if args.out else Path("runs") / "cv" / f"{Path(args.data_dir).resolve().name}-{recipe.name}"
    save_cv(result, out, extra_meta={"data_dir": str(Path(args.data_dir).resolve()), "folds": inputs.folds_source,
                                     "runs": {k: str(v) for k, v in inputs.runs.items()}, "notes": inputs.notes,
                                     "wall_s": round(time.perf_counter() - started, 2)})
    print(result.format_table())
    print(f"wrote {out}/ (cv.json, thresholds.json, curves.json, candidates.npz, oof_predictions.csv) "
          f"in {time.perf_counter() - started:.1f}s")
    return 0
