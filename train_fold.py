#!/usr/bin/env python
"""Train one fold: python train_fold.py --fold k --model image|text --config configs/NAME.yaml --data-dir DIR.

The same command as ``python -m prodmatch train`` (same flags, same --help); several GPUs:
``torchrun --nproc_per_node N train_fold.py ...``.
"""

import sys

from prodmatch.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["train", *sys.argv[1:]], prog="train_fold.py"))
