#!/usr/bin/env python
"""Offline inference kernel: test.csv -> candidates -> thresholds -> validated submission.csv.

    python make_submission.py --data-dir DIR --recipe text-phash --out submission.csv
    python make_submission.py --data-dir DIR --recipe full --weights weights/ --out submission.csv

The same command as ``python -m prodmatch submit``; see ``python make_submission.py --help``.
"""

import sys

from prodmatch.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["submit", *sys.argv[1:]], prog="make_submission.py"))
