"""python -m prodmatch train --fold k --model image|text --config configs/NAME.yaml --data-dir DIR [...]

The same as ``python train_fold.py``; ``torchrun --nproc_per_node N train_fold.py ...`` for several GPUs.
Flags override the YAML config (two-stage parse); the resolved config is saved with the weights.
"""

from __future__ import annotations

import argparse
import sys

from prodmatch.train.config import add_config_arguments, config_from_args, load_yaml

HELP = "Train one fold of an image or text encoder (same as train_fold.py)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)


def _apply_yaml_defaults(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("-c", "--config")
    known, _ = pre.parse_known_args(argv)
    if known.config:
        parser.set_defaults(**load_yaml(known.config))


def run(args: argparse.Namespace) -> int:
    from prodmatch.models.pretrained import PretrainedError
    from prodmatch.train.loop import ResumeError, train_fold

    try:
        config = config_from_args(args)
        metrics = train_fold(config, resume=args.resume, overwrite=args.overwrite)
    except (ResumeError, PretrainedError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if metrics is not None:
        print(f"cv_f1 {metrics['cv_f1']:.4f}  threshold {metrics['best_threshold']:.2f}  epochs {metrics['epochs']}  "
              f"train time {metrics['train_time_s']:.0f}s  -> {config.fold_dir()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of train_fold.py: two-stage parse (``--config`` first, YAML as defaults, then all flags)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="train_fold.py", description=HELP)
    add_arguments(parser)
    _apply_yaml_defaults(parser, argv)
    return run(parser.parse_args(argv))
