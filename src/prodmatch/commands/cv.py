"""python -m prodmatch cv --data-dir DIR --recipe text-phash [--folds FILE] [--weights weights/] [--out DIR]"""

from __future__ import annotations

import argparse

from prodmatch.commands.arguments import int_at_least
from prodmatch.commands.matcher_option import add_matcher_option
from prodmatch.data.folds import DEFAULT_N_FOLDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", required=True, help="Kaggle-layout folder with train.csv")
    parser.add_argument("--recipe", default="text-phash", help="built-in recipe name or a recipe .yaml")
    parser.add_argument("--folds", help="folds CSV (default: folds/<data>_5fold.csv if present, else hashed folds)")
    parser.add_argument("--n-folds", type=int_at_least(2), default=DEFAULT_N_FOLDS, help="number of hashed folds")
    parser.add_argument("--weights", default="weights", help="trained runs, for recipes with learned embeddings")
    parser.add_argument("--out", help="output folder (default: runs/cv/<data>-<recipe>)")
    parser.add_argument("--only-folds", type=int, nargs="+", metavar="K",
                        help="score only these folds (e.g. to compare with a recipe whose models cover fold 0)")
    parser.add_argument("--no-nested", action="store_true", help="skip the nested (held-out threshold) estimate")
    parser.add_argument("--no-size-curve", action="store_true",
                        help="skip tuning on pools of growing size (size-aware thresholds for the test set)")
    add_matcher_option(parser, "tune")
    parser.add_argument("--test-size", type=int, default=70_000,
                        help="postings of the test set the rules will match at once (default 70000, Kaggle's): the "
                             "F1 is forecast and the rule chosen there")


def run(args: argparse.Namespace) -> int:
    from prodmatch.pipeline.tune import TuneOptions, cross_validate
    from prodmatch.recipes import load_recipe

    options = TuneOptions(args.data_dir, load_recipe(args.recipe), args.weights, args.folds, args.n_folds,
                          args.only_folds, nested=not args.no_nested, size_curve=not args.no_size_curve, progress=True,
                          matcher=args.matcher, test_size=args.test_size)
    print(cross_validate(options, args.out, log=lambda line: print(line, flush=True)).summary())
    return 0
