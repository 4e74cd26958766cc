"""python -m prodmatch dedup TABLE --id COL --title COL [--text COL ...] [--brand COL] [--price COL] [--image COL]
                            [--source COL [--one-to-one]] [--labels FILE | --model DIR] --out DIR

    prodmatch dedup TABLE ... --labels FILE --out DIR     train the pair model and its decision on TABLE (kept in DIR)
    prodmatch dedup TABLE --model DIR --out DIR2          apply a trained model to another table
    prodmatch dedup TABLE --model DIR --out DIR2 --engine dask [--scheduler ADDRESS] [--partitions N]
                                                          the same on a Dask cluster, by partitions
    prodmatch dedup TABLE --id COL --title COL --out DIR  no labels: zero-label mode (pretrained encoder + TF-IDF)
    prodmatch dedup label TABLE ... --answers FILE        label pairs in the terminal, retraining as you go
    prodmatch dedup add NEW_TABLE --model DIR --out DIR2  match new records against a catalogue kept in DIR

TABLE is a CSV or Parquet file. DIR gets pairs.csv, clusters.csv, report.html, dedup.json (and model.json when
trained).
"""

from __future__ import annotations

import argparse

ACTIONS = ("label", "add")


def add_column_options(parser: argparse.ArgumentParser, required: bool = True) -> None:
    columns = parser.add_argument_group("columns")
    columns.add_argument("--id", required=required, help="the column of unique record ids")
    columns.add_argument("--title", required=required, help="the column of titles (the main text)")
    columns.add_argument("--text", action="append", default=[], metavar="COL",
                         help="another text column (a description...), its own pair features; repeat for more")
    columns.add_argument("--brand", metavar="COL", help="a brand or manufacturer column")
    columns.add_argument("--price", action="append", default=[], metavar="COL",
                         help="a numeric column (a price...); repeat for more")
    columns.add_argument("--image", metavar="COL",
                         help="a column of image phashes (16 hex) or image files (phash computed); adds a phash source")
    columns.add_argument("--images-dir", help="folder the --image files are relative to (default: the table's)")
    columns.add_argument("--source", metavar="COL",
                         help="which catalogue each record comes from: match only across sources (clean-clean)")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    from prodmatch.dedup.vocab import OUTPUT_FORMATS

    parser.add_argument("--out", required=True, help="result folder (pairs.csv, clusters.csv, report.html, ...)")
    parser.add_argument("--format", dest="formats", action="append", choices=OUTPUT_FORMATS, default=[],
                        help="also write the pairs and clusters in this format (csv always)")
    parser.add_argument("--reasons", type=int, default=3, help="top reasons per matched pair (default 3; 0: none)")
    parser.add_argument("--max-cluster-size", type=int, metavar="N",
                        help="split clusters larger than N records at their weakest pairs (default: no cap)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    from prodmatch.dedup.vocab import ENGINES, SINGLE

    engine = parser.add_argument_group("engine")
    engine.add_argument("--engine", choices=ENGINES, default=SINGLE,
                        help="what runs the search, pair features and model: this process (default) or a Dask "
                             "cluster by partitions (the same pairs)")
    engine.add_argument("--scheduler", metavar="ADDRESS",
                        help="--engine dask: a running Dask scheduler (tcp://host:8786); default a local cluster, "
                             "one worker per core")
    engine.add_argument("--partitions", type=int, metavar="N",
                        help="--engine dask: partitions of the table (default: one per 25,000 records, at least "
                             "two per worker)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from prodmatch.dedup.vocab import ENCODERS

    parser.add_argument("table", help="the table to deduplicate (.csv or .parquet)")
    add_column_options(parser, required=False)
    given = parser.add_mutually_exclusive_group()
    given.add_argument("--labels", help="labels: matching pairs (id_a,id_b), clusters (id,cluster_id) or answers "
                                        "(id_a,id_b,match): train on this table")
    given.add_argument("--model", help="a trained run's folder (its model.json): apply it to this table")
    parser.add_argument("--recipe", help="recipe name or .yaml (default: the built-in dedup-text)")
    parser.add_argument("--encoder", choices=ENCODERS, default="none",
                        help="add the pretrained MiniLM title embedding as a source (training)")
    parser.add_argument("--one-to-one", action="store_true",
                        help="each record matches at most one other (two duplicate-free catalogues, --source)")
    add_output_options(parser)
    add_engine_options(parser)


def parse_args(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    if argv and argv[0] in ACTIONS:
        from prodmatch.commands import dedup_actions

        sub = argparse.ArgumentParser(prog=f"{parser.prog} {argv[0]}", description=dedup_actions.DESCRIPTIONS[argv[0]])
        dedup_actions.add_arguments(argv[0], sub)
        args = sub.parse_args(argv[1:])
        args.action = argv[0]
        return args
    args = parser.parse_args(argv)
    args.action = None
    return args


def columns_of(args: argparse.Namespace):
    """The column roles the options name, or None when none is named (a --model run uses the model's)."""
    from prodmatch.dedup.table import Columns
    from prodmatch.errors import ArgumentError

    named = [args.id, args.title, *args.text, args.brand, *args.price, args.image, args.source]
    if all(not value for value in named):
        return None
    if not args.id or not args.title:
        raise ArgumentError("--id and --title are both needed to name the table's columns")
    return Columns(args.id, args.title, tuple(args.text), args.brand, tuple(args.price), args.image, args.source)


def run(args: argparse.Namespace) -> int:
    if args.action is not None:
        from prodmatch.commands import dedup_actions

        return dedup_actions.run(args)
    from prodmatch.dedup.flow import DedupOptions, run_dedup

    options = DedupOptions(args.table, args.out, columns_of(args), args.labels, args.model, tuple(args.formats),
                           args.recipe, args.encoder, args.one_to_one, args.images_dir, args.overwrite, args.reasons,
                           progress=True, max_cluster_size=args.max_cluster_size, engine=args.engine,
                           scheduler=args.scheduler, partitions=args.partitions)
    result = run_dedup(options, log=lambda line: print(line, flush=True))
    for line in result.warnings:
        print(f"warning: {line}")
    print(result.summary())
    return 0
