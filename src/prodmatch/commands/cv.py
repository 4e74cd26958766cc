"""python -m prodmatch cv --data-dir DIR --recipe text-phash [--folds FILE] [--weights weights/] [--out DIR]"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from prodmatch.commands.folds import default_folds_path
from prodmatch.data import DataDir, assign_folds, read_folds
from prodmatch.data.folds import DEFAULT_N_FOLDS

HELP = "Out-of-fold candidates, threshold search and the CV table."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", required=True, help="Kaggle-layout folder with train.csv")
    parser.add_argument("--recipe", default="text-phash", help="built-in recipe name or a recipe .yaml")
    parser.add_argument("--folds", help="folds CSV (default: folds/<data>_5fold.csv if present, else hashed folds)")
    parser.add_argument("--n-folds", type=int, default=DEFAULT_N_FOLDS)
    parser.add_argument("--weights", default="weights", help="trained runs, for recipes with learned embeddings")
    parser.add_argument("--out", help="output folder (default: runs/cv/<data>-<recipe>)")
    parser.add_argument("--no-nested", action="store_true", help="skip the nested (held-out threshold) estimate")
    parser.add_argument("--no-size-curve", action="store_true",
                        help="skip tuning on pools of growing size (size-aware thresholds for the test set)")


def load_fold_ids(train, data_dir: str, folds_path: str | None, n_folds: int):
    """Folds from a file when given (or present under folds/), else the deterministic hash assignment."""
    path = Path(folds_path) if folds_path else default_folds_path(data_dir, n_folds)
    if folds_path or path.is_file():
        return read_folds(path, train), str(path)
    return assign_folds(train, n_folds)["fold"].to_numpy(), f"hash of label_group ({n_folds} folds)"


def run(args: argparse.Namespace) -> int:
    from prodmatch.cv import run_cv, save_cv
    from prodmatch.recipes import load_recipe
    from prodmatch.runs import oof_embeddings_for

    started = time.perf_counter()
    data = DataDir.of(args.data_dir)
    train = data.read_train()
    recipe = load_recipe(args.recipe)
    folds, folds_source = load_fold_ids(train, args.data_dir, args.folds, args.n_folds)
    embeddings = oof_embeddings_for(recipe, args.weights, train) if recipe.needs_weights else None
    print(f"CV of recipe '{recipe.name}' on {data.train_csv} ({len(train)} rows, folds: {folds_source})", flush=True)
    result = run_cv(train, folds, recipe, embeddings, nested=not args.no_nested, size_curve=not args.no_size_curve,
                    progress=True)
    out = Path(args.out) if args.out else Path("runs") / "cv" / f"{Path(args.data_dir).resolve().name}-{recipe.name}"
    save_cv(result, out, extra_meta={"data_dir": str(Path(args.data_dir).resolve()), "folds": folds_source,
                                     "wall_s": round(time.perf_counter() - started, 2)})
    print(result.format_table())
    print(f"wrote {out}/ (cv.json, thresholds.json, curves.json, candidates.npz, oof_predictions.csv) "
          f"in {time.perf_counter() - started:.1f}s")
    return 0
