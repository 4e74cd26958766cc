"""Training: config (YAML + flags), fold inputs, the shared image/text loop, checkpoints, DDP helpers.

Entry points: :func:`prodmatch.train.loop.train_fold` (Python), ``python train_fold.py`` /
``python -m prodmatch train`` (command line). torch is imported only when these are used.
"""

from prodmatch.train.config import TrainConfig, load_config, parse_train_args

__all__ = ["TrainConfig", "load_config", "parse_train_args", "train_fold"]


def __getattr__(name):
    if name == "train_fold":
        from prodmatch.train.loop import train_fold

        return train_fold
    raise AttributeError(name)
