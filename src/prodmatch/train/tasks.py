"""Training tasks by name (``task:`` in a config; the names: :data:`prodmatch.train.registry.TASK_NAMES`)."""

from __future__ import annotations

from prodmatch.errors import ArgumentError
from prodmatch.train.fold_task import FoldTask
from prodmatch.train.task import TrainTask
from prodmatch.train.visual_task import VisualSearchTask

TASKS: dict[str, type[TrainTask]] = {FoldTask.name: FoldTask, VisualSearchTask.name: VisualSearchTask}


def create_task(config) -> TrainTask:
    """The task ``config.task`` names (``shopee``: fold training on train.csv; ``visual``: a visual-search folder)."""
    name = getattr(config, "task", FoldTask.name)
    if name not in TASKS:
        raise ArgumentError(f"--task {name}: unknown training task; choose from {tuple(TASKS)}")
    return TASKS[name]()
