"""``--matcher KIND`` (and its shorthand ``--no-pair-model``), shared by the commands that tune or match."""

from __future__ import annotations

import argparse

from prodmatch.match.kinds import MATCHER_KINDS, UNION


def add_matcher_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--matcher", choices=MATCHER_KINDS,
                        help=f"{what} with this decision rule only (default: every rule the recipe has; the one "
                             "that wins in CV matches)")
    parser.add_argument("--no-pair-model", dest="matcher", action="store_const", const=UNION,
                        help="same as --matcher union")
