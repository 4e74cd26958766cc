"""python -m prodmatch score RESULT --labels FILE [--json OUT]

RESULT is a ``prodmatch dedup`` --out folder (its clusters.csv) or a clusters file (id,cluster_id); FILE holds
the true matching pairs (id_a,id_b) or clusters (id,cluster_id)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("result", help="a `prodmatch dedup` --out folder, or a clusters file (id,cluster_id)")
    parser.add_argument("--labels", required=True, help="true matches: pairs (id_a,id_b) or clusters (id,cluster_id)")
    parser.add_argument("--json", help="also write the scores to this JSON file")


def run(args: argparse.Namespace) -> int:
    from prodmatch.dedup.scoring import score_result
    from prodmatch.fileio import check_output_file, write_json

    if args.json:
        check_output_file(args.json, [args.labels])
    score = score_result(args.result, args.labels)
    print(score.line())
    if args.json:
        write_json(args.json, score.as_dict())
        print(f"wrote {args.json}")
    return 0
