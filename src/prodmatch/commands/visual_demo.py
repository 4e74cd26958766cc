"""python -m prodmatch visual_demo --out DIR [--n-products N] [--seed S] [--image-size PX] [--query-share F]

The same as ``python -m prodmatch index demo``.
"""

from __future__ import annotations

import argparse

from prodmatch.visual.demo import DEFAULT_IMAGE_SIZE, DEFAULT_N_PRODUCTS, DEFAULT_QUERY_SHARE, generate_visual_demo

HELP = "Generate the synthetic visual-search demo dataset (index/queries/ground truth)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="folder to create (index.csv, queries.csv, ground_truth.csv, "
                                                     "index_images/, query_images/)")
    parser.add_argument("--n-products", type=int, default=DEFAULT_N_PRODUCTS,
                        help=f"products in the index, distractors included (default {DEFAULT_N_PRODUCTS})")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same files (default 0)")
    parser.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE,
                        help=f"side of the square JPEGs in pixels (default {DEFAULT_IMAGE_SIZE})")
    parser.add_argument("--query-share", type=float, default=DEFAULT_QUERY_SHARE,
                        help=f"share of products photographed as queries; the rest are distractors "
                             f"(default {DEFAULT_QUERY_SHARE})")
    parser.add_argument("--no-category-look", dest="category_look", action="store_false",
                        help="draw every leaf category of one shape alike (phase 1's demo: categories then tell a "
                             "model nothing product ids do not)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists and is not empty")


def run(args: argparse.Namespace) -> int:
    summary = generate_visual_demo(
        args.out,
        n_products=args.n_products,
        seed=args.seed,
        image_size=args.image_size,
        query_share=args.query_share,
        overwrite=args.overwrite,
        progress=True,
        category_look=args.category_look,
    )
    print(summary.describe())
    return 0
