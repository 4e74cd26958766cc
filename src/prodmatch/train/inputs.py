"""A model kind's training inputs, made by name (``model:`` in a config): what the loop reads batches from.

Every inputs class (:class:`prodmatch.train.image_inputs.ImageInputs`,
:class:`prodmatch.train.text_inputs.TextInputs`) serves every task's split and has:

- ``train_set`` and ``collate``; ``loader(sampler, batch_size, pin_memory)``, the training batches over the
  loop's distributed sampler; ``set_epoch(epoch)``, the per-epoch reseeding of augmentations / batch order;
- ``channels_last`` (image batches in that memory format) and ``num_workers``;
- ``embed_rows(encoder, which, positions)``: eval-mode, L2-normalised embeddings of rows of a row set.
"""

from __future__ import annotations

from prodmatch.device import default_num_workers
from prodmatch.train import distributed as dist_utils
from prodmatch.train.image_inputs import ImageInputs
from prodmatch.train.task import Split
from prodmatch.train.text_inputs import TextInputs

INPUTS = {"image": ImageInputs, "text": TextInputs}  # keys: prodmatch.models.registry.MODEL_KINDS


def loader_workers(config, ctx: dist_utils.DistContext) -> int:
    """DataLoader workers of one process: ``num_workers``, else from the device and the cores this process
    has to itself -- under torchrun the node's cores are shared by its local ranks."""
    if config.num_workers is not None:
        return config.num_workers
    return default_num_workers(ctx.device, cores=dist_utils.cores_per_local_rank(ctx))


def create_inputs(config, data: Split, encoder, ctx: dist_utils.DistContext, log=print):
    return INPUTS[config.model](config, data, encoder, ctx.device, num_workers=loader_workers(config, ctx),
                                is_main=ctx.is_main, log=log if ctx.is_main else lambda message: None)
