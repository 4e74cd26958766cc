#!/usr/bin/env python
"""Size transfer: tune on a small train, match a test about ten times a CV fold of it, on label groups never seen.

Kaggle's hidden test (~70,000 rows) is about ten times a CV fold of its train (34,250 rows, folds of ~6,850),
so every figure measured at fold size flatters. This benchmark rebuilds that ratio from the shared train.csv:
its label groups are split by a seeded hash into a small train (``--train-share``, a third by default) and a
test of the rest (with 5 folds of the train, the test is ~10x a fold). Everything is tuned on the train part
only, exactly as ``make_submission.py`` does it (CV, the rule that wins, moved to the test size); then the
test rows are matched and scored against their held-back labels:

- ``cv``: the CV F1 of each rule on the train part (fold size), and its nested estimate;
- ``unseen@fold``: the test rows split group-wise into pools of about a fold's size, each pool matched on its
  own with the rule moved to that size -- unseen groups, at fold size;
- ``unseen@test``: all test rows matched together, as Kaggle would -- unseen groups, at the test's size;
- ``forecast``: what the CV forecast for the test's size (when the CV makes one).

    python bench/bench_scale_transfer.py --data-dir ../shared/data/shopee [--recipe text-phash]
    python bench/bench_scale_transfer.py --data-dir ../shared/data/shopee --recipe full   # trains MiniLM once

The full recipe needs a text model trained on the benchmark's own train part: fold 0 of it is trained once with
configs/text-minilm-cpu.yaml and cached under ``--cache-dir`` (several minutes on 2 CPU cores), so reruns
are quick. The split is whole-group and seeded (``--seed``), and the same folder is reused.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TEXT_CONFIG = REPO / "configs" / "text-minilm-cpu.yaml"


def split(data_dir: Path, out: Path, share: float, seed: int) -> tuple[Path, Path]:
    """Write a Kaggle-layout folder with train.csv (the train groups) and test.csv (the rest, no labels); the
    test's labels go beside it. Returns (folder, labels file). Reused when it already exists."""
    import pandas as pd

    from prodmatch.data import DataDir
    from prodmatch.data.folds import fold_of_group

    labels_path = out.parent / f"{out.name}-test-labels.csv"
    if (out / "train.csv").is_file() and labels_path.is_file():
        return out, labels_path
    raw = pd.read_csv(DataDir.of(data_dir).train_csv, dtype=str, keep_default_na=False)
    in_train = raw["label_group"].map(lambda g: fold_of_group(g, 1000, f"scale-{seed}") < share * 1000).to_numpy()
    out.mkdir(parents=True, exist_ok=True)
    for images in ("train_images", "test_images"):
        (out / images).mkdir(exist_ok=True)
    raw[in_train].to_csv(out / "train.csv", index=False)
    test = raw[~in_train]
    test.drop(columns=["label_group"]).to_csv(out / "test.csv", index=False)
    pd.DataFrame({"posting_id": test["posting_id"], "matches": test["posting_id"]}).to_csv(
        out / "sample_submission.csv", index=False)
    test[["posting_id", "label_group"]].to_csv(labels_path, index=False)
    return out, labels_path


def text_weights(split_dir: Path, cache: Path) -> Path:
    """weights/ with one MiniLM fold model trained on the split's train part (trained once, then reused)."""
    weights = cache / "weights"
    if not any(weights.glob("*/fold0/model.pt")):
        command = [sys.executable, str(REPO / "train_fold.py"), "--fold", "0", "--model", "text", "--config",
                   str(TEXT_CONFIG), "--data-dir", str(split_dir), "--out", str(weights / "text-minilm")]
        print("training the text model once:", " ".join(command), flush=True)
        started = time.perf_counter()
        subprocess.run(command, check=True)
        print(f"trained in {time.perf_counter() - started:.0f}s", flush=True)
    return weights


def fold_size_pools(labels: np.ndarray, pool_size: float, seed: int) -> np.ndarray:
    """Pool id per row: whole groups, about ``pool_size`` rows per pool."""
    from prodmatch.data.folds import fold_ids_of_groups

    n_pools = max(int(round(len(labels) / pool_size)), 1)
    return fold_ids_of_groups(labels, n_pools, f"pools-{seed}")


def score_pools(matcher, features, recipe, labels, pools: np.ndarray) -> float:
    """Row-wise F1 over all rows, each pool matched on its own with the rule moved to the pool's size."""
    f1 = np.zeros(len(labels))
    for pool in np.unique(pools):
        index = np.flatnonzero(pools == pool)
        matched = matcher.for_test_size(len(index)).match(features.subset(index), recipe.sources)
        f1[index] = _row_f1(matched, labels[index])
    return float(f1.mean())


def _row_f1(matched, labels: np.ndarray) -> np.ndarray:
    from prodmatch.metrics import group_sizes

    rows, cols = matched.table.rows[matched.mask], matched.table.cols[matched.mask]
    n = len(labels)
    tp = np.bincount(rows[labels[rows] == labels[cols]], minlength=n) + 1
    return 2.0 * tp / (matched.match_counts() + group_sizes(labels))


def run(args) -> dict:
    import pandas as pd

    from prodmatch.data import DataDir
    from prodmatch.pipeline.features import features_for_test
    from prodmatch.pipeline.tune import TuneOptions, tune
    from prodmatch.recipes import load_recipe

    cache = Path(args.cache_dir).expanduser() / f"share{args.train_share:g}-seed{args.seed}"
    split_dir, labels_path = split(Path(args.data_dir), cache / "data", args.train_share, args.seed)
    weights = text_weights(split_dir, cache) if load_recipe(args.recipe).needs_weights else cache / "no-weights"
    data = DataDir.of(split_dir)
    test = data.read_test()
    truth = pd.read_csv(labels_path, dtype=str).set_index("posting_id")["label_group"]
    labels = truth.loc[test["posting_id"]].to_numpy()

    started = time.perf_counter()
    tuned = tune(TuneOptions(split_dir, load_recipe(args.recipe), weights, n_folds=args.n_folds,
                             nested=not args.no_nested, progress=False), log=lambda line: None)
    tune_s = time.perf_counter() - started
    result, inputs = tuned.result, tuned.inputs
    thresholds = tuned.thresholds(split_dir)
    fold_size = len(inputs.train) / 5  # a test ~10x a fold of a 5-fold CV
    n_train_rows = len(data.read_train())
    print(f"train part: {n_train_rows} rows ({len(inputs.train)} in the CV, folds of ~{fold_size:.0f}); "
          f"test part: {len(test)} rows = {len(test) / fold_size:.1f}x a fold; tuned in {tune_s:.0f}s", flush=True)

    features = features_for_test(inputs.runs, inputs.recipe, test, data.test_images, log=lambda line: None)
    pools = fold_size_pools(labels, fold_size, args.seed)
    rows = []
    for cv in result.matchers:
        matcher = thresholds.by_kind(cv.kind)
        started = time.perf_counter()
        at_test = matcher.for_test_size(len(test)).match(features, inputs.recipe.sources)
        row = {"rule": cv.kind, "chosen": cv.kind == result.chosen.kind, "cv": round(cv.score.f1, 4),
               "nested": None if cv.nested is None else round(cv.nested.f1, 4),
               "unseen_at_fold": round(score_pools(matcher, features, inputs.recipe, labels, pools), 4),
               "unseen_at_test": round(at_test.score(labels).f1, 4),
               "mean_matches_at_test": round(float(at_test.match_counts().mean()), 2),
               "forecast": _forecast(cv, len(test)), "match_s": round(time.perf_counter() - started, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return {"recipe": args.recipe, "train_share": args.train_share, "seed": args.seed, "train_rows": n_train_rows,
            "cv_rows": len(inputs.train), "fold_size": round(fold_size), "test_rows": len(test),
            "test_over_fold": round(len(test) / fold_size, 1), "tune_s": round(tune_s, 1), "rules": rows,
            "notes": result.notes}


def _forecast(cv, n_rows: int):
    forecast = getattr(cv, "forecast", None)
    if forecast is None:
        return None
    return round(float(forecast.at(n_rows)), 4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "shopee"))
    parser.add_argument("--recipe", default="text-phash")
    parser.add_argument("--train-share", type=float, default=1 / 3, help="share of the label groups in the train part")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default="~/.cache/prodmatch-bench/scale-transfer",
                        help="the split folders and the trained text model, reused across runs")
    parser.add_argument("--no-nested", action="store_true")
    parser.add_argument("--n-folds", type=int, default=5, help="CV folds of the train part")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    figures = run(args)
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
