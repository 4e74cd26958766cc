#!/usr/bin/env python
"""Proxy of the hold-out check: make_submission on label groups it has never seen, union against pair model.

Splits train.csv by label group (md5(salt + label_group) % 4 == 0 is "unseen", about a quarter of the rows)
into a Kaggle-layout folder outside the repo: train.csv = the other groups, test.csv = the unseen rows
without their labels. Then runs `make_submission.py` there (tuning on the train part only), once as the recipe
says (the pair model when it wins in CV) and once with the same thresholds file and --no-pair-model (the
union), and scores both against the held-back labels. Nothing is tuned on the unseen rows.

    python bench/bench_unseen_proxy.py --data-dir ../shared/data/shopee [--recipe text-phash]
    # the full recipe needs a text model trained on the proxy's own train part, so keep the folder:
    python bench/bench_unseen_proxy.py --data-dir ../shared/data/shopee --out-dir /tmp/proxy --split-only
    python train_fold.py --fold 0 --model text --config configs/text-minilm-cpu.yaml --data-dir /tmp/proxy \\
        --out /tmp/proxy-weights
    python bench/bench_unseen_proxy.py --data-dir ../shared/data/shopee --out-dir /tmp/proxy --recipe full \\
        --weights /tmp/proxy-weights
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def split(data_dir: Path, out: Path, salt: str, parts: int) -> Path:
    """Write the proxy folder; returns the path of the held-back labels (beside the folder, not inside)."""
    import pandas as pd

    from prodmatch.data import DataDir
    from prodmatch.data.folds import fold_of_group

    raw = pd.read_csv(DataDir.of(data_dir).train_csv, dtype=str, keep_default_na=False)
    unseen = raw["label_group"].map(lambda g: fold_of_group(g, parts, salt) == 0).to_numpy()
    out.mkdir(parents=True, exist_ok=True)
    for images in ("train_images", "test_images"):
        (out / images).mkdir(exist_ok=True)
    raw[~unseen].to_csv(out / "train.csv", index=False)
    test = raw[unseen]
    test.drop(columns=["label_group"]).to_csv(out / "test.csv", index=False)
    pd.DataFrame({"posting_id": test["posting_id"], "matches": test["posting_id"]}).to_csv(
        out / "sample_submission.csv", index=False)
    labels = out.parent / f"{out.name}-unseen-labels.csv"
    test[["posting_id", "label_group"]].to_csv(labels, index=False)
    print(f"{out}: {int((~unseen).sum())} train rows, {int(unseen.sum())} unseen rows", flush=True)
    return labels


def run_submission(proxy: Path, out: Path, extra: list[str]) -> float:
    command = [sys.executable, str(REPO / "make_submission.py"), "--data-dir", str(proxy), "--out", str(out), *extra]
    print("running:", " ".join(command), flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=proxy, text=True, capture_output=True)
    print(done.stdout[-4000:], done.stderr[-2000:], sep="\n")
    if done.returncode != 0:
        raise SystemExit(f"make_submission failed with exit code {done.returncode}")
    return time.perf_counter() - started


def score(submission: Path, labels: Path) -> dict:
    import pandas as pd

    from prodmatch.metrics import score_match_lists, truth_from_labels

    sub = pd.read_csv(submission)
    truth = pd.read_csv(labels, dtype=str)
    result = score_match_lists(dict(zip(sub["posting_id"], sub["matches"])),
                               truth_from_labels(truth["posting_id"], truth["label_group"]))
    return {"f1": round(result.f1, 4), "precision": round(result.precision, 4), "recall": round(result.recall, 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "shopee"))
    parser.add_argument("--out-dir", help="keep the proxy folder here (default: a temporary folder)")
    parser.add_argument("--salt", default="proxy-unseen")
    parser.add_argument("--parts", type=int, default=4, help="one part of this many is unseen")
    parser.add_argument("--recipe", default="text-phash")
    parser.add_argument("--weights", help="trained runs (recipes with learned embeddings), trained on the proxy")
    parser.add_argument("--split-only", action="store_true", help="write the proxy folder and stop")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="prodmatch-proxy-") as tmp:
        proxy = Path(args.out_dir) if args.out_dir else Path(tmp) / "proxy"
        labels = split(Path(args.data_dir), proxy, args.salt, args.parts)
        if args.split_only:
            return 0
        weights = ["--weights", str(Path(args.weights).resolve())] if args.weights else []
        pair_out, union_out = proxy / f"{args.recipe}-pair.csv", proxy / f"{args.recipe}-union.csv"
        pair_s = run_submission(proxy, pair_out, ["--recipe", args.recipe, *weights])
        thresholds = pair_out.with_suffix(".thresholds.json")
        union_s = run_submission(proxy, union_out, ["--recipe", args.recipe, *weights, "--thresholds",
                                                    str(thresholds), "--no-pair-model"])
        figures = {"recipe": args.recipe, "salt": args.salt, "parts": args.parts,
                   "chosen_matcher": json.loads(thresholds.read_text()).get("chosen"),
                   "default": {**score(pair_out, labels), "wall_s": round(pair_s, 1)},
                   "union": {**score(union_out, labels), "wall_s": round(union_s, 1)}}
    print(json.dumps(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
