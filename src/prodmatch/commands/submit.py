"""python make_submission.py --data-dir DIR --recipe text-phash --out submission.csv [--thresholds FILE]

Without --thresholds, the thresholds are tuned by CV on DIR/train.csv first and saved beside the output
(submission.csv -> submission.thresholds.json; reuse it with --thresholds to skip tuning).
"""

from __future__ import annotations

import argparse

from prodmatch.commands.arguments import int_at_least
from prodmatch.commands.matcher_option import add_matcher_option
from prodmatch.data.folds import DEFAULT_N_FOLDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", required=True, help="Kaggle-layout folder (test.csv, and train.csv to tune)")
    parser.add_argument("--recipe", help="built-in recipe name or .yaml (default: text-phash, or the one in --thresholds)")
    parser.add_argument("--out", default="submission.csv",
                        help="submission file to write (default submission.csv); without --thresholds the tuned "
                             "thresholds go beside it (submission.thresholds.json)")
    parser.add_argument("--thresholds", help="thresholds.json from `prodmatch cv` (skips tuning)")
    parser.add_argument("--weights", default="weights", help="trained runs, for recipes with learned embeddings")
    parser.add_argument("--folds", help="folds CSV used when tuning (default: hashed folds)")
    parser.add_argument("--n-folds", type=int_at_least(2), default=DEFAULT_N_FOLDS,
                        help="number of hashed folds when tuning")
    parser.add_argument("--batch-size", type=int_at_least(1),
                        help="embedding batch size (recipes with learned embeddings)")
    parser.add_argument("--fixed-thresholds", action="store_true",
                        help="use the fold-size thresholds as they are (default: move them to the test size)")
    parser.add_argument("--timings-json", help="write per-stage seconds and peak RSS here (kernel rehearsals read it)")
    parser.add_argument("--allow-missing-images", action="store_true",
                        help="when no test image can be used (e.g. no test_images/ folder), match by title and phash "
                             "alone instead of failing (recipes with an image model)")
    add_matcher_option(parser, "tune (without --thresholds) and match")


def run(args: argparse.Namespace) -> int:
    from prodmatch.pipeline.submit import SubmitOptions, submit

    result = submit(SubmitOptions(args.data_dir, args.out, args.recipe, args.thresholds, args.weights, args.folds,
                                  args.n_folds, args.batch_size, args.fixed_thresholds, args.timings_json,
                                  args.allow_missing_images, progress=True, matcher=args.matcher),
                    log=lambda line: print(line, flush=True))
    print(result.summary())
    return 0
