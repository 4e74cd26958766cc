"""python -m prodmatch report --cv-dir DIR [--data-dir DIR] [--out report.html] [--screenshot PNG]"""

from __future__ import annotations

import argparse
from pathlib import Path

from prodmatch.commands.arguments import int_at_least, width_x_height


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from prodmatch.report.build import DEFAULT_EXAMPLES, DEFAULT_MAX_OTHERS
    from prodmatch.report.images import DEFAULT_THUMB_SIZE

    parser.add_argument("--cv-dir", required=True, help="CV folder written by 'prodmatch cv' (cv.json, candidates.npz)")
    parser.add_argument("--data-dir", help="Kaggle-layout folder the CV ran on (default: the one in cv.json)")
    parser.add_argument("--out", help="HTML file to write (default: <cv-dir>/report.html)")
    parser.add_argument("--examples", type=int_at_least(0), default=DEFAULT_EXAMPLES,
                        help=f"examples per error gallery (default {DEFAULT_EXAMPLES})")
    parser.add_argument("--max-others", type=int_at_least(0), default=DEFAULT_MAX_OTHERS,
                        help=f"wrong matches / misses shown per example (default {DEFAULT_MAX_OTHERS})")
    parser.add_argument("--thumb-size", type=int_at_least(16), default=DEFAULT_THUMB_SIZE,
                        help=f"thumbnail size in pixels (default {DEFAULT_THUMB_SIZE})")
    parser.add_argument("--check", action="store_true",
                        help="open the report in headless Chromium: fail on console errors or broken images")
    parser.add_argument("--screenshot", help="also save a PNG screenshot of the top of the page (implies --check)")
    parser.add_argument("--screenshot-size", type=width_x_height, default="1280x1500",
                        help="WIDTHxHEIGHT of the screenshot")


def run(args: argparse.Namespace) -> int:
    from prodmatch.report.build import build_report

    out = Path(args.out) if args.out else Path(args.cv_dir) / "report.html"
    result = build_report(args.cv_dir, out, args.data_dir, args.examples, args.max_others, args.thumb_size)
    print(f"wrote {result.path} ({result.n_bytes / 1e6:.2f} MB, {result.n_thumbnails} thumbnails, "
          f"{result.n_phash_grids} phash grids) in {result.seconds:.1f}s; F1 {result.f1:.4f}")
    if not (args.check or args.screenshot):
        return 0
    from prodmatch.report.browser import BrowserError, check_page

    width, height = args.screenshot_size
    try:
        page = check_page(result.path, screenshot=args.screenshot, width=width, height=height)
    except BrowserError as exc:
        print(f"browser check failed: {exc}")
        return 1
    print(page.describe())
    if page.screenshot:
        print(f"wrote {page.screenshot}")
    return 0 if page.ok else 1
