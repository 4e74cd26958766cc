"""python -m prodmatch demo --out DIR [--n-products N] [--seed S] [--image-size PX] [--no-images]"""

from __future__ import annotations

import argparse

from prodmatch.demo.shopee import DEFAULT_IMAGE_SIZE, DEFAULT_N_PRODUCTS, DEFAULT_TEST_FRACTION, generate_demo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="folder to create (train.csv, test.csv, ..., *_images/)")
    parser.add_argument("--n-products", type=int, default=DEFAULT_N_PRODUCTS,
                        help=f"products (label groups) in train + test (default {DEFAULT_N_PRODUCTS})")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same files (default 0)")
    parser.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE,
                        help=f"side of the square JPEGs in pixels (default {DEFAULT_IMAGE_SIZE})")
    parser.add_argument("--test-fraction", type=float, default=DEFAULT_TEST_FRACTION,
                        help=f"share of products held out in test.csv (default {DEFAULT_TEST_FRACTION})")
    parser.add_argument("--no-images", action="store_true",
                        help="draw no images: simulated phashes, empty image folders (fast, text-only use)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists and is not empty")


def run(args: argparse.Namespace) -> int:
    summary = generate_demo(
        args.out,
        n_products=args.n_products,
        seed=args.seed,
        image_size=args.image_size,
        images=not args.no_images,
        test_fraction=args.test_fraction,
        overwrite=args.overwrite,
        progress=True,
    )
    print(summary.describe())
    return 0
