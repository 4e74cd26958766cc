"""prodmatch dedup on Abt-Buy, one dirty table of 2,161 records, split by a hash of the cluster into halves.

    python bench/bench_dedup.py --data-dir ../shared/data/abtbuy [--work DIR] [--no-encoder] [--answers 10 20 40 80]

1. gt.csv's pairs (those whose ids the table holds) -> connected components = clusters; each cluster goes to the
   train or the test half by md5 of its smallest id (prodmatch.data.folds.fold_of_group, salt "abtbuy-half").
2. Variants of the columns (name; + description; + manufacturer and price; + the MiniLM encoder) are each trained
   on the train half with `prodmatch dedup --labels`: their out-of-fold and nested pairwise F1 on the train half
   are printed. The variant with the best nested F1 on the train half is the one applied to the test half
   (`--model`), once; no choice reads the test half.
3. Beside it on the test half: char TF-IDF best match and MiniLM best match (each record joined to its best
   candidate), zero-label mode, clean-clean mode (source = shop, from the id: Abt ids are below 10^6) with
   --one-to-one, incremental matching (a quarter of the test records, by md5 of the id, added with `dedup add`
   to the run over the other three quarters), and the labelling loop simulated from gt.csv (answers to the
   most uncertain pairs of the train half, the model applied to the test half).

The halves are written to --work (a temporary folder by default), never into the repository.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from prodmatch.data.folds import fold_of_group  # noqa: E402
from prodmatch.dedup.clustering import cluster, edges_from_table  # noqa: E402
from prodmatch.dedup.flow import DedupOptions, run_dedup  # noqa: E402
from prodmatch.dedup.labels import clusters_of_pairs  # noqa: E402
from prodmatch.dedup.metrics import DedupScore, dedup_score, edge_score  # noqa: E402
from prodmatch.dedup.scoring import score_result  # noqa: E402
from prodmatch.dedup.table import Columns, read_table  # noqa: E402

HALF_SALT = "abtbuy-half"
BASE = dict(id="id", title="name")
VARIANTS = {
    "name": Columns(**BASE),
    "name+description": Columns(**BASE, texts=("description",)),
    "name+description+manufacturer+price": Columns(**BASE, texts=("description",), brand="manufacturer",
                                                   numbers=("price",)),
}


def split_halves(data_dir: Path, work: Path) -> dict[str, Path]:
    table = pd.read_csv(data_dir / "abtbuy.csv", dtype=str, keep_default_na=False)
    gt = pd.read_csv(data_dir / "gt.csv", dtype=str)
    position = {pid: i for i, pid in enumerate(table["id"])}
    known = gt["idAbt"].isin(position) & gt["idBuy"].isin(position)
    print(f"gt.csv: {len(gt)} pairs, {int(known.sum())} with both ids in abtbuy.csv (the others are left out)")
    gt = gt[known]
    clusters = clusters_of_pairs(len(table), gt["idAbt"].map(position).to_numpy(), gt["idBuy"].map(position).to_numpy())
    key = table["id"].groupby(clusters).transform("min")
    half = np.array([fold_of_group(k, 2, HALF_SALT) for k in key])
    table["shop"] = np.where(table["id"].astype(np.int64) < 10**6, "abt", "buy")
    paths = {}
    for name, which in (("train", 0), ("test", 1)):
        part = table[half == which]
        paths[name] = work / f"{name}.csv"
        part.to_csv(paths[name], index=False)
        pairs = gt[gt["idAbt"].isin(set(part["id"]))].rename(columns={"idAbt": "id_a", "idBuy": "id_b"})
        paths[f"{name}_pairs"] = work / f"{name}_pairs.csv"
        pairs.to_csv(paths[f"{name}_pairs"], index=False)
        print(f"{name} half: {len(part)} records, {len(pairs)} matching pairs")
    return paths


def row(label: str, score: DedupScore, extra: str = "") -> str:
    p = score.pairwise
    return (f"| {label} | {score.row_f1:.3f} | {p.f1:.3f} | {p.precision:.3f} | {p.recall:.3f} | "
            f"{score.clusters.adjusted_rand:.3f} | {extra} |")


def best_match_baseline(paths, source: dict, embed: bool) -> tuple[DedupScore, float]:
    """Each test record joined to its best candidate of one source: the connected components of those pairs
    scored, and the pairwise F1 of the best-match pairs themselves (the issue's baseline figures)."""
    from prodmatch.dedup.labels import read_labels
    from prodmatch.match.candidates import CandidateTable
    from prodmatch.recipes import recipe_from_dict

    table = read_table(paths["test"], Columns(**BASE))
    embeddings = {}
    if embed:
        from prodmatch.dedup.encoder import title_embeddings

        embeddings["minilm"] = title_embeddings(table.features().titles)
    features = table.features(embeddings=embeddings)
    recipe = recipe_from_dict({"name": "baseline", "sources": [source],
                               "embeddings": {"minilm": {"model": "pretrained"}} if embed else {}})
    found = recipe.sources[0].search(features)
    table_pairs = CandidateTable.from_sources({"s": found})
    edges = edges_from_table(table_pairs, table_pairs.score("s"))
    clustered = cluster(edges, 0.0, "best-edge")
    truth = read_labels(paths["test_pairs"], table.ids).clusters
    return dedup_score(clustered.clusters, truth), edge_score(clustered.kept.a, clustered.kept.b, truth).f1


def incremental_check(paths, work: Path, model: Path, batch_out: Path) -> None:
    """A quarter of the test half (md5 of the id) arriving after the rest: `dedup add` against the rest's run."""
    import hashlib

    from prodmatch.dedup.incremental import AddOptions, add_records

    test = pd.read_csv(paths["test"], dtype=str, keep_default_na=False)
    late = test["id"].map(lambda i: int(hashlib.md5(i.encode()).hexdigest(), 16) % 4 == 0)
    test[~late].to_csv(work / "test-first.csv", index=False)
    test[late].to_csv(work / "test-late.csv", index=False)
    first = run_dedup(DedupOptions(work / "test-first.csv", work / "test-first", model=model, overwrite=True))
    added = add_records(AddOptions(work / "test-late.csv", first.out, work / "test-added", overwrite=True))
    print(row(f"incremental: {int(late.sum())} late records added to {int((~late).sum())}",
              score_result(added.out, paths["test_pairs"]), added.notes[0].split(": ", 1)[1]), flush=True)


def size_check(paths, work: Path, columns: Columns) -> None:
    """The decision tuned on a smaller table: a quarter and a half of the train half's clusters (md5 of the
    cluster), applied unchanged to the whole test half (about 4x and 2x the records it was tuned on)."""
    from prodmatch.dedup.labels import read_labels

    train = pd.read_csv(paths["train"], dtype=str, keep_default_na=False)
    pairs = pd.read_csv(paths["train_pairs"], dtype=str)
    clusters = read_labels(paths["train_pairs"], train["id"].to_numpy(dtype=object)).clusters
    key = train["id"].groupby(clusters).transform("min")
    part = np.array([fold_of_group(k, 4, "abtbuy-size") for k in key])
    for quarters in (1, 2):
        keep = part < quarters
        small = train[keep]
        small.to_csv(work / f"train-size{quarters}.csv", index=False)
        pairs[pairs["id_a"].isin(set(small["id"]))].to_csv(work / f"train-size{quarters}-pairs.csv", index=False)
        tuned = run_dedup(DedupOptions(work / f"train-size{quarters}.csv", work / f"size{quarters}", columns,
                                       labels=work / f"train-size{quarters}-pairs.csv", overwrite=True))
        test = run_dedup(DedupOptions(paths["test"], work / f"size{quarters}-test", model=tuned.out, overwrite=True))
        print(row(f"tuned on {int(keep.sum())} train records, applied to {test.n_rows}",
                  score_result(test.out, paths["test_pairs"]),
                  f"{tuned.decision}; nested on its own records {tuned.nested['f1']:.3f}"), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "abtbuy"))
    parser.add_argument("--work", help="folder for the halves and runs (default: a temporary folder)")
    parser.add_argument("--no-encoder", action="store_true", help="skip the variants and modes that need MiniLM")
    parser.add_argument("--answers", type=int, nargs="*", default=[10, 20, 40, 80],
                        help="labelling-loop budgets to simulate (answers)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        paths = split_halves(Path(args.data_dir), work)
        print("\n## Train half, out of fold (5 model folds by cluster hash), per variant")
        print("| variant | decision | pairwise F1 (OOF) | nested pairwise F1 | row-wise F1 (OOF) |\n|---|---|---|---|---|")
        runs = {}
        variants = dict(VARIANTS)
        if not args.no_encoder:
            variants["name+description+manufacturer+price, encoder"] = VARIANTS["name+description+manufacturer+price"]
        for name, columns in variants.items():
            out = work / f"train-{len(runs)}"
            result = run_dedup(DedupOptions(paths["train"], out, columns, labels=paths["train_pairs"], overwrite=True,
                                            encoder="minilm" if name.endswith("encoder") else "none"))
            runs[name] = (out, result)
            print(f"| {name} | {result.decision} | {result.score.pairwise.f1:.3f} | {result.nested['f1']:.3f} | "
                  f"{result.score.row_f1:.3f} |", flush=True)
        chosen = max(runs, key=lambda name: runs[name][1].nested["f1"])
        print(f"\nchosen on the train half's nested F1: {chosen}")

        print("\n## Test half (thresholds and model from the train half only)")
        print("| method | row-wise F1 | pairwise F1 | precision | recall | adjusted Rand | notes |")
        print("|---|---|---|---|---|---|---|")
        applied = run_dedup(DedupOptions(paths["test"], work / "test-applied", model=runs[chosen][0], overwrite=True))
        print(row(f"prodmatch dedup, trained ({chosen})", score_result(applied.out, paths["test_pairs"]),
                  applied.decision), flush=True)
        score, pairs_f1 = best_match_baseline(paths, {
            "type": "tfidf", "name": "char", "configs": [{"analyzer": "char_wb", "ngram_range": [3, 4]}],
            "k": 50, "min_score": 0.0}, embed=False)
        print(row("char TF-IDF best match", score, f"clusters of each record + its best candidate; the best-match "
                                                   f"pairs alone: pairwise F1 {pairs_f1:.3f}"), flush=True)
        if not args.no_encoder:
            score, pairs_f1 = best_match_baseline(paths, {
                "type": "embedding", "name": "minilm", "embeddings": ["minilm"], "k": 50, "min_score": -1.0},
                embed=True)
            print(row("MiniLM best match", score, f"likewise; the best-match pairs alone: pairwise F1 {pairs_f1:.3f}"),
                  flush=True)
            zero = run_dedup(DedupOptions(paths["test"], work / "test-zero", VARIANTS["name"], overwrite=True))
            print(row("zero-label mode (no labels)", score_result(zero.out, paths["test_pairs"]), zero.decision),
                  flush=True)
        best = VARIANTS["name+description+manufacturer+price"]
        clean = Columns(best.id, best.title, best.texts, best.brand, best.numbers, source="shop")
        clean_train = run_dedup(DedupOptions(paths["train"], work / "train-clean", clean, labels=paths["train_pairs"],
                                             one_to_one=True, overwrite=True))
        clean_test = run_dedup(DedupOptions(paths["test"], work / "test-clean", model=clean_train.out, overwrite=True))
        print(row("clean-clean (--source shop --one-to-one)", score_result(clean_test.out, paths["test_pairs"]),
                  f"train nested {clean_train.nested['f1']:.3f}"), flush=True)
        incremental_check(paths, work, runs[chosen][0], applied.out)
        size_check(paths, work, VARIANTS[chosen] if chosen in VARIANTS else best)
        if args.answers and not args.no_encoder:
            from bench_dedup_labelling import simulate_labelling

            simulate_labelling(paths, work, args.answers, best)
    print(f"\ntotal {time.perf_counter() - started:.0f}s (wall, on whatever else the machine was running)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
