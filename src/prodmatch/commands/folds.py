"""python -m prodmatch folds --data-dir DIR [--n-folds 5] [--out folds/folds.csv]"""

from __future__ import annotations

import argparse
from pathlib import Path

from prodmatch.data import DataDir, assign_folds, write_folds
from prodmatch.data.folds import DEFAULT_N_FOLDS, default_folds_path, fold_summary

HELP = "Write group-stable K-fold assignments under folds/."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", required=True, help="Kaggle-layout folder with train.csv")
    parser.add_argument("--n-folds", type=int, default=DEFAULT_N_FOLDS)
    parser.add_argument("--salt", default="", help="change to draw a different (still deterministic) split")
    parser.add_argument("--out", help="output CSV (default: folds/<data dir name>_<k>fold.csv)")


def run(args: argparse.Namespace) -> int:
    train = DataDir.of(args.data_dir).read_train()
    folds = assign_folds(train, args.n_folds, args.salt)
    out = Path(args.out) if args.out else default_folds_path(args.data_dir, args.n_folds)
    write_folds(folds, out)
    print(fold_summary(folds["fold"].to_numpy(), train["label_group"].to_numpy()).to_string(index=False))
    print(f"wrote {out}")
    return 0
