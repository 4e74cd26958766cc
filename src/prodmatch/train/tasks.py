"""Training tasks by name (``task:`` in a config): the registry and its factory."""

from __future__ import annotations

from prodmatch.train.fold_task import FoldTask
from prodmatch.train.task import TrainTask
from prodmatch.train.visual_task import VisualSearchTask

TASKS: dict[str, type[TrainTask]] = {FoldTask.name: FoldTask, VisualSearchTask.name: VisualSearchTask}


def create_task(config) -> TrainTask:
    """The task ``config.task`` names (``shopee``: fold training on train.csv; ``visual``: a visual-search folder)."""
    name = getattr(config, "task", FoldTask.name)
    if name not in TASKS:
        raise ValueError(f"unknown training task {name!r}; choose from {tuple(TASKS)}")
    return TASKS[name]()
