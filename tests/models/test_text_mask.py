"""The text encoder's layer mask works with transformers 5.0's masking API (Kaggle's image) and later ones."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

pytest.importorskip("transformers.masking_utils")


@pytest.mark.parametrize("embeds_name", ["input_embeds", "inputs_embeds"])  # 5.0 | from huggingface/transformers#43916
def test_layer_mask_passes_the_embeddings_whatever_transformers_calls_them(monkeypatch, embeds_name):
    import transformers.masking_utils as masking_utils

    from prodmatch.models.text import TextEncoder

    seen: dict = {}
    namespace = {"seen": seen}  # a stand-in with the argument named as that transformers version names it
    exec(f"def fake(config, {embeds_name}, attention_mask, **kwargs):\n"
         f"    seen.update(config=config, embeds={embeds_name}, mask=attention_mask, extra=kwargs)\n"
         "    return 'mask'\n", namespace)
    monkeypatch.setattr(masking_utils, "create_bidirectional_mask", namespace["fake"])
    encoder = SimpleNamespace(transformer=SimpleNamespace(config="cfg"))
    hidden, mask = torch.zeros(2, 3, 4), torch.ones(2, 3, dtype=torch.long)
    assert TextEncoder._layer_mask(encoder, hidden, mask) == "mask"
    assert seen["config"] == "cfg" and seen["embeds"] is hidden and seen["mask"] is mask and not seen["extra"]
