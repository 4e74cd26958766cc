"""python -m prodmatch train --fold k --model image|text --config configs/NAME.yaml --data-dir DIR [...]

The same as ``python train_fold.py``; ``torchrun --nproc_per_node N train_fold.py ...`` for several GPUs.
Flags override the YAML config (two-stage parse); the resolved config is saved with the weights.
"""

from __future__ import annotations

import argparse

from prodmatch.train.config import add_config_arguments, parse_train_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)


def parse_args(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    args, config = parse_train_args(argv, parser)
    args.train_config = config
    return args


def run(args: argparse.Namespace) -> int:
    from prodmatch.train.loop import train_fold

    config = args.train_config
    metrics = train_fold(config, resume=args.resume, overwrite=args.overwrite)
    if metrics is not None:
        print(f"{metrics['headline']}  epochs {metrics['epochs']}  "
              f"train time {metrics['train_time_s']:.0f}s  -> {config.fold_dir()}")
    return 0
