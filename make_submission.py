#!/usr/bin/env python
"""Offline inference kernel: test.csv -> candidates -> thresholds -> validated submission.csv.

    python make_submission.py --data-dir DIR --recipe text-phash --out submission.csv
    python make_submission.py --data-dir DIR --recipe full --weights weights/ --out submission.csv

See `python make_submission.py --help`; the work is done by prodmatch.commands.submit.
"""

import sys

from prodmatch.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["submit", *sys.argv[1:]]))
