"""``python -m prodmatch <command>``: one module per command under prodmatch.commands.

Each command module defines ``add_arguments(parser)`` and ``run(args) -> int`` (and ``parse_args(parser,
argv)`` when it parses in two stages). Modules are imported only when their command runs, so
``prodmatch folds`` never imports torch. ``make_submission.py`` and ``train_fold.py`` call :func:`main` with
their own program name.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "demo": "Generate the synthetic demo dataset (Kaggle layout).",
    "visual_demo": "Generate the synthetic visual-search demo dataset (index/queries/ground truth).",
    "folds": "Write group-stable K-fold assignments under folds/.",
    "cv": "Out-of-fold candidates, threshold search and the CV table.",
    "submit": "Match test.csv and write a validated submission.csv (same as make_submission.py).",
    "train": "Train one fold of an image or text encoder (same as train_fold.py).",
    "report": "Render an HTML CV report with plots and error galleries.",
    "kernel": "Build and rehearse the offline Kaggle kernel.",
    "index": "Visual search: demo data, build an image index (sharded, resumable), search it, evaluate MAR@10.",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prodmatch", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="command")
    sub.required = True
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Run ``argv[0]``'s command on the rest; ``prog`` names the program in usage lines (default prodmatch <cmd>)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        build_parser().parse_args(argv)  # prints help / the unknown-command error and exits
        return 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(f"prodmatch.commands.{name}")
    parser = argparse.ArgumentParser(prog=prog or f"prodmatch {name}", description=COMMANDS[name])
    module.add_arguments(parser)
    parse = getattr(module, "parse_args", None)
    args = parse(parser, rest) if parse else parser.parse_args(rest)
    return int(module.run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
