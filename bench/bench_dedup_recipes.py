"""prodmatch dedup on Abt-Buy with one recipe against another: dedup-text (exact TF-IDF top-k) and dedup-large
(the same sources, candidates by blocking), scored as bench/bench_dedup.py scores its trained runs.

    python bench/bench_dedup_recipes.py --data-dir ../shared/data/abtbuy [--recipes dedup-text dedup-large]
        [--variants name name+description+manufacturer+price] [--work DIR]

The halves are bench_dedup.py's (2,161 records split by a hash of the cluster, written to --work, a temporary
folder by default). Per recipe (a built-in name or a .yaml) and column variant: trained on the train half with
`prodmatch dedup --labels` (its out-of-fold and nested pairwise F1 and its candidate pairs printed), then applied
once to the test half (`--model`): pairwise F1, precision, recall, row-wise F1 and adjusted Rand there. Nothing
is chosen on the test half.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench_dedup import ROOT, VARIANTS, row, split_halves

from prodmatch.dedup.flow import DedupOptions, run_dedup
from prodmatch.dedup.scoring import score_result


def candidate_pairs(folder: Path) -> int:
    return json.loads((folder / "dedup.json").read_text())["n_candidate_pairs"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "abtbuy"))
    parser.add_argument("--work", help="folder for the halves and runs (default: a temporary folder)")
    parser.add_argument("--recipes", nargs="+", default=["dedup-text", "dedup-large"])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS),
                        default=["name", "name+description+manufacturer+price"])
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        paths = split_halves(Path(args.data_dir), work)
        print("\n| recipe | variant | candidate pairs (train half) | nested pairwise F1 (train half) | test half: "
              "row-wise F1 | pairwise F1 | precision | recall | adjusted Rand | decision |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for recipe in args.recipes:
            for variant in args.variants:
                out = work / f"{Path(recipe).stem}-{variant}"
                trained = run_dedup(DedupOptions(paths["train"], out, VARIANTS[variant], labels=paths["train_pairs"],
                                                 recipe=recipe, overwrite=True))
                applied = run_dedup(DedupOptions(paths["test"], work / f"{out.name}-test", model=out, overwrite=True))
                line = row(f"{Path(recipe).stem} | {variant} | {candidate_pairs(out):,} | {trained.nested['f1']:.3f}",
                           score_result(applied.out, paths["test_pairs"]), applied.decision)
                print(line, flush=True)
    print(f"\ntotal {time.perf_counter() - started:.0f}s (wall, on whatever else the machine was running)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
