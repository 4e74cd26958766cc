"""python -m prodmatch folds --data-dir DIR [--n-folds 5] [--out folds/folds.csv]"""

from __future__ import annotations

import argparse

from prodmatch.commands.arguments import int_at_least
from prodmatch.data.folds import DEFAULT_N_FOLDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", required=True, help="Kaggle-layout folder with train.csv")
    parser.add_argument("--n-folds", type=int_at_least(2), default=DEFAULT_N_FOLDS,
                        help=f"number of folds (default {DEFAULT_N_FOLDS})")
    parser.add_argument("--salt", default="", help="change to draw a different (still deterministic) split")
    parser.add_argument("--out", help="output CSV (default: folds/<data dir name>_<k>fold.csv)")


def run(args: argparse.Namespace) -> int:
    from prodmatch.data.folds import make_folds_file

    out, summary = make_folds_file(args.data_dir, args.n_folds, args.salt, args.out)
    print(summary.to_string(index=False))
    print(f"wrote {out}")
    return 0
