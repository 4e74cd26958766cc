"""Training vocabularies are defined once (prodmatch.train.registry): every argparse choice list of the train
command is its registry tuple, every name has its implementation, and the registry imports no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from prodmatch.train import registry
from prodmatch.train.config import TrainConfig, build_train_parser, load_config, value_problems
from tests.train.conftest import REPO, TINY_IMAGE

CHOICES = {"task": registry.TASK_NAMES, "model": registry.MODEL_KINDS, "neck": registry.NECKS,
           "head": registry.HEAD_NAMES, "head_init": registry.HEAD_INITS, "optimizer": registry.OPTIMIZERS,
           "amp_dtype": registry.AMP_DTYPE_NAMES, "keep": registry.KEEP, "train_products": registry.TRAIN_PRODUCTS}


def test_every_choice_list_of_the_train_command_is_its_registry_tuple():
    parsed = {action.dest: tuple(action.choices) for action in build_train_parser()._actions if action.choices}
    assert parsed == CHOICES


@pytest.mark.parametrize("key", sorted(CHOICES))
def test_a_yaml_value_outside_the_vocabulary_is_refused(key, tmp_path):
    # argparse checks only flags against choices, never the YAML's values (they become defaults)
    path = tmp_path / "c.yaml"
    path.write_text(f"{key}: not-a-name\n")
    with pytest.raises(ValueError, match=rf"{path}: {key} must be one of"):
        load_config(path)
    for name in CHOICES[key]:  # and every name of it is accepted
        assert key not in {k for k, _ in value_problems({**TrainConfig().as_dict(), key: name})}


def test_every_name_has_its_implementation():
    import torch

    from prodmatch.models.heads import HEADS
    from prodmatch.train.inputs import INPUTS
    from prodmatch.train.optim import create_optimizer
    from prodmatch.train.tasks import TASKS, create_task

    assert tuple(TASKS) == registry.TASK_NAMES
    assert all(create_task(load_config(TINY_IMAGE, task=name)).name == name for name in registry.TASK_NAMES)
    assert tuple(HEADS) == registry.HEAD_NAMES
    assert tuple(INPUTS) == registry.MODEL_KINDS
    params = [{"params": [torch.nn.Parameter(torch.ones(1))]}]
    assert all(create_optimizer(params, name) is not None for name in registry.OPTIMIZERS)
    assert registry.CHECKPOINT_FILE == TrainConfig().fold_files().checkpoint.name == "last.ckpt"


def test_the_registries_config_and_train_command_import_no_torch():
    code = ("import sys\n"
            "import prodmatch.train.registry, prodmatch.models.registry, prodmatch.train.config\n"
            "import prodmatch.train, prodmatch.models, prodmatch.commands.train\n"
            "heavy = sorted(m for m in ('torch', 'timm', 'transformers', 'sklearn') if m in sys.modules)\n"
            "assert not heavy, heavy\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_lazy_package_names_still_resolve():
    import prodmatch.models as models
    import prodmatch.train as train

    assert models.ArcFaceHead.__name__ == "ArcFaceHead" and train.train_fold.__name__ == "train_fold"
    with pytest.raises(AttributeError):
        models.NoSuchThing  # noqa: B018
