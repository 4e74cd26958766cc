"""``python -m prodmatch <command>``: one module per command under prodmatch.commands.

Each command module defines ``add_arguments(parser)`` and ``run(args) -> int`` (and ``parse_args(parser,
argv)`` when it parses in two stages). Modules are imported only when their command runs, so
``prodmatch folds`` never imports torch. ``make_submission.py`` and ``train_fold.py`` call :func:`main` with
their own program name.

Bad input (:class:`prodmatch.errors.InputError`: a data file, an argument, an output path) prints
``error: <message>`` and exits with status 2; ``--debug`` (any command) shows its traceback instead. Any
other exception is a bug and keeps its traceback. An option argparse refuses is bad input too (``error:``,
status 2). Warnings (a documented fallback was applied) print as ``warning: <message>``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import warnings

from prodmatch.errors import ArgumentError, InputError

COMMANDS = {
    "demo": "Generate the synthetic demo dataset (Kaggle layout).",
    "folds": "Write group-stable K-fold assignments under folds/.",
    "cv": "Out-of-fold candidates, threshold search and the CV table.",
    "submit": "Match test.csv and write a validated submission.csv (same as make_submission.py).",
    "train": "Train one fold of an image or text encoder (same as train_fold.py).",
    "report": "Render an HTML CV report with plots and error galleries.",
    "kernel": "Build and rehearse the offline Kaggle kernel.",
    "index": "Visual search: demo data, build an image index (sharded, resumable), search it, evaluate MAR@10.",
    "dedup": "Deduplicate any product table (CSV/Parquet): pairs, clusters, a report; train, apply, label, add.",
    "score": "Score a dedup result against labels: pairwise and cluster metrics beside the per-record F1.",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prodmatch", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="command")
    sub.required = True
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


DEBUG_FLAG = "--debug"
EXIT_BAD_INPUT = 2


class CommandParser(argparse.ArgumentParser):
    """argparse's refusals (a missing option, ``--n-folds x``) raised as ArgumentError: one ``error:`` line like
    any bad input, pointing at ``--help`` instead of printing the usage block."""

    def error(self, message: str):
        raise ArgumentError(f"{message} (see {self.prog} --help)")


@contextlib.contextmanager
def one_line_warnings():
    """``warning: <message>`` on stderr instead of Python's ``file:line: Category: message`` and source line."""
    previous = warnings.formatwarning
    warnings.formatwarning = lambda message, category, filename, lineno, line=None: f"warning: {message}\n"
    try:
        yield
    finally:
        warnings.formatwarning = previous


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Run ``argv[0]``'s command on the rest; ``prog`` names the program in usage lines (default prodmatch <cmd>)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        build_parser().parse_args(argv)  # prints help / the unknown-command error and exits
        return 2
    name, rest = argv[0], argv[1:]
    debug = DEBUG_FLAG in rest
    rest = [arg for arg in rest if arg != DEBUG_FLAG]  # accepted anywhere, also after a sub-action
    module = importlib.import_module(f"prodmatch.commands.{name}")
    parser = CommandParser(prog=prog or f"prodmatch {name}", description=COMMANDS[name])
    parser.add_argument(DEBUG_FLAG, action="store_true", help="on bad input, show the full traceback")
    module.add_arguments(parser)
    parse = getattr(module, "parse_args", None)
    try:
        with one_line_warnings():
            args = parse(parser, rest) if parse else parser.parse_args(rest)
            return int(module.run(args) or 0)
    except InputError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    raise SystemExit(main())
