"""``prodmatch dedup label`` and ``prodmatch dedup add`` (see :mod:`prodmatch.commands.dedup`)."""

from __future__ import annotations

import argparse

DESCRIPTIONS = {
    "label": "Show the most uncertain candidate pairs, record y/n/s(kip)/q(uit) answers to a file, retrain.",
    "add": "Match new records against a catalogue kept in a trained run's folder, without redoing its pairs.",
}


def add_arguments(action: str, parser: argparse.ArgumentParser) -> None:
    from prodmatch.commands.dedup import add_column_options, add_output_options

    if action == "label":
        parser.add_argument("table", help="the table to label (.csv or .parquet)")
        add_column_options(parser)
        parser.add_argument("--answers", required=True,
                            help="answers file (id_a,id_b,match): read if it exists, appended to as you answer")
        parser.add_argument("--batch", type=int, default=10, help="pairs shown between retrainings (default 10)")
        parser.add_argument("--max-answers", type=int, help="stop after this many answers in this session")
        return
    parser.add_argument("table", help="the new records (.csv or .parquet), with the catalogue's columns")
    parser.add_argument("--model", required=True, help="the catalogue's run folder (trained with --labels)")
    add_output_options(parser)


def run(args: argparse.Namespace) -> int:
    if args.action == "label":
        import sys

        from prodmatch.commands.dedup import columns_of
        from prodmatch.dedup.labelling import LabelOptions, label_loop

        options = LabelOptions(args.table, columns_of(args), args.answers, args.batch, args.max_answers,
                               args.images_dir)
        result = label_loop(options, sys.stdin, print)
        print(result.summary())
        return 0
    from prodmatch.dedup.incremental import AddOptions, add_records

    result = add_records(AddOptions(args.table, args.model, args.out, tuple(args.formats), args.overwrite,
                                    args.reasons, args.max_cluster_size), log=lambda line: print(line, flush=True))
    for line in result.warnings:
        print(f"warning: {line}")
    print(result.summary())
    return 0
