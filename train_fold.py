#!/usr/bin/env python
"""Train one fold: python train_fold.py --fold k --model image|text --config configs/NAME.yaml --data-dir DIR.

Thin wrapper around ``prodmatch.commands.train`` (same as ``python -m prodmatch train``); see --help.
Several GPUs: ``torchrun --nproc_per_node N train_fold.py ...``.
"""

from prodmatch.commands.train import main

if __name__ == "__main__":
    raise SystemExit(main())
