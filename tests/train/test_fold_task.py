"""The Shopee fold task and its image inputs: unusable train images refused or counted; frozen image layers cached."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from prodmatch.data import DataDir
from prodmatch.errors import MissingInputError
from prodmatch.models.inputs import ImageReadWarning
from prodmatch.train.config import load_config
from prodmatch.train.fold_task import split_fold
from prodmatch.train.loop import train_fold
from tests.train.conftest import TINY_IMAGE


@pytest.fixture
def toy_copy(toy_dir, tmp_path):
    copy = tmp_path / "toy"
    shutil.copytree(toy_dir, copy)
    return copy


def _config(data, out, **overrides):
    return load_config(TINY_IMAGE, data_dir=str(data), out=str(out), **overrides)


def test_no_train_images_folder_is_refused(toy_copy, tmp_path):
    # it used to train on grey placeholders, exit 0 and report cv_f1 0.05
    shutil.rmtree(toy_copy / "train_images")
    with pytest.raises(MissingInputError, match=r"train_images: no such folder"):
        train_fold(_config(toy_copy, tmp_path / "w", epochs=1))


def test_mostly_unusable_train_images_are_refused_and_a_few_are_counted(toy_copy, tmp_path):
    names = DataDir.of(toy_copy).read_train()["image"].tolist()
    for name in names[: len(names) * 2 // 3]:
        (toy_copy / "train_images" / name).write_bytes(b"")
    with pytest.raises(MissingInputError, match=rf"{len(names) * 2 // 3} of {len(names)} images could not be used "
                                                r"\(empty file"):
        train_fold(_config(toy_copy, tmp_path / "w", epochs=1))
    for name in names[2: len(names) * 2 // 3]:
        shutil.copy(toy_copy / "train_images" / names[-1], toy_copy / "train_images" / name)
    with pytest.warns(ImageReadWarning, match=rf"2 of {len(names)} images could not be used"):
        assert train_fold(_config(toy_copy, tmp_path / "w2", epochs=1))["epochs"] == 1


def test_frozen_image_layers_train_from_a_cache_and_embed_the_same_at_test_time(toy_dir, tmp_path):
    from prodmatch.embed import embed_frame, load_run
    from prodmatch.models.build import build_encoder
    from prodmatch.train.loop import seed_everything

    config = _config(toy_dir, tmp_path, epochs=2, freeze_layers=3, cached_views=3, tta=True)
    seed_everything(config.seed)  # as train_fold does before building the encoder
    start = build_encoder(config)
    metrics = train_fold(config)
    assert metrics["epochs"] == 2
    (fold_model,) = load_run(config.fold_dir().parent, device="cpu")
    trained = fold_model.encoder.backbone
    for block in (2, -1):
        before, after = start.backbone.blocks[block].state_dict(), trained.blocks[block].state_dict()
        unchanged = all(torch.equal(before[k], after[k]) for k in before)
        assert unchanged == (block == 2)  # frozen blocks (BN statistics included) as they were; the rest trained
    data = split_fold(config)
    emb = embed_frame(fold_model, data.val, toy_dir / "train_images")  # the whole encoder on the image files
    with np.load(config.fold_dir() / "oof_embeddings.npz") as oof:
        np.testing.assert_allclose(emb, oof["embeddings"], atol=1e-5)


def test_freeze_layers_needs_a_staged_backbone():
    from prodmatch.models.image import ImageEncoder, ImageEncoderSpec

    with pytest.raises(ValueError, match="freeze_layers must be in 1.."):
        ImageEncoder.create(ImageEncoderSpec(backbone="test_efficientnet", freeze_layers=99), pretrained="none")
    with pytest.raises(ValueError, match="EfficientNet/MobileNet-style"):
        ImageEncoder.create(ImageEncoderSpec(backbone="test_resnet", freeze_layers=1), pretrained="none")
