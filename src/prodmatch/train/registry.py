"""Training's vocabularies, each defined once and importable without torch: the names a config and the
train command's flags accept (argparse ``choices`` come from here; ``tests/train/test_registry.py`` checks
every choice list and each name's implementation against these tuples).

Names that belong to a lower layer are defined there and only gathered here: encoder kinds, necks and heads
(:mod:`prodmatch.models.registry`), autocast dtypes (:mod:`prodmatch.device`), the checkpoint's file name
(:mod:`prodmatch.artifacts.weights`, which owns the fold folder's layout).
"""

from __future__ import annotations

from prodmatch.artifacts.weights import CHECKPOINT_FILE
from prodmatch.device import AMP_DTYPE_NAMES
from prodmatch.models.registry import HEAD_NAMES, MODEL_KINDS, NECKS

TASK_NAMES = ("shopee", "visual")  # implementations: prodmatch.train.tasks.TASKS
OPTIMIZERS = ("adamw", "sgd")  # prodmatch.train.optim.create_optimizer
HEAD_INITS = ("random", "class_mean")
KEEP = ("last", "best")  # which epoch's model.pt / OOF a run keeps
TRAIN_PRODUCTS = ("all", "unqueried")  # visual task: which index products are trained on

__all__ = ["AMP_DTYPE_NAMES", "CHECKPOINT_FILE", "HEAD_INITS", "HEAD_NAMES", "KEEP", "MODEL_KINDS", "NECKS",
           "OPTIMIZERS", "TASK_NAMES", "TRAIN_PRODUCTS"]
