import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from prodmatch.models.inputs import GREY, ImageReadWarning, ImageRows, TextCollate, length_batches, read_image
from prodmatch.models.transforms import eval_transform, train_transform


def test_missing_and_broken_images_become_grey_with_a_warning_naming_the_file(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    for path in (tmp_path / "missing.jpg", broken):
        with pytest.warns(ImageReadWarning, match=path.name):
            image = read_image(path)
        assert image.dtype == np.uint8 and image.shape[2] == 3 and (image == GREY).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_image(broken)  # warned once per file and process


def test_read_image_is_rgb(tmp_path):
    Image.new("RGB", (8, 6), (255, 0, 0)).save(tmp_path / "red.png")
    image = read_image(tmp_path / "red.png")
    assert image.shape == (6, 8, 3) and tuple(image[0, 0]) == (255, 0, 0)


def test_augmentation_is_seeded_per_sample_and_epoch(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    ds = ImageRows([tmp_path / "x.png"] * 2, np.array([0, 1]), train_transform(32, (0.5,) * 3, (0.5,) * 3), seed=1)
    a0, b0 = ds[0][0], ds[1][0]
    assert a0.shape == (3, 32, 32) and a0.dtype == torch.float32
    assert torch.equal(ds[0][0], a0)  # same sample, same epoch -> same augmentation
    assert not torch.equal(a0, b0)  # another sample -> another draw
    ds.set_epoch(1)
    assert not torch.equal(ds[0][0], a0)  # next epoch -> new draw
    plain = ImageRows([tmp_path / "x.png"], None, eval_transform(32, (0.5,) * 3, (0.5,) * 3))
    assert torch.equal(plain[0][0], plain[0][0]) and plain[0][1] == -1


def test_text_collate_pads_ids_and_hidden_states():
    batch = TextCollate(pad_id=9)([([1, 2, 3], 0, 0), ([4], 1, 1)])
    assert batch["inputs"]["input_ids"].tolist() == [[1, 2, 3], [4, 9, 9]]
    assert batch["inputs"]["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [0, 1] and batch["index"].tolist() == [0, 1]
    hidden = TextCollate()([(np.ones((2, 4), np.float16), 0, 0), (np.ones((3, 4), np.float16), 0, 1)])
    assert hidden["inputs"]["hidden_states"].shape == (2, 3, 4)
    assert hidden["inputs"]["hidden_states"][0, 2].abs().sum() == 0


def test_length_batches_cover_everything_once():
    batches = length_batches([5, 1, 3, 2, 4], 2)
    assert sorted(np.concatenate(batches).tolist()) == [0, 1, 2, 3, 4]
    assert batches[0].tolist() == [1, 3]


def test_length_grouped_batches_use_each_sampled_index_once():
    from torch.utils.data import DistributedSampler

    from prodmatch.models.inputs import LengthGroupedBatchSampler

    lengths = np.random.default_rng(0).integers(1, 40, 103)
    base = DistributedSampler(range(103), num_replicas=1, rank=0, shuffle=True, seed=3)
    sampler = LengthGroupedBatchSampler(base, lengths, batch_size=8, drop_last=True, group=4, seed=3)
    first = list(sampler)
    assert len(first) == len(sampler) == 12 and all(len(b) == 8 for b in first)
    flat = np.concatenate(first)
    assert len(set(flat.tolist())) == len(flat)  # no index twice
    spread = np.mean([np.ptp(lengths[b]) for b in first])
    assert spread < 0.5 * np.mean([np.ptp(lengths[c]) for c in np.array_split(np.arange(96), 12)])
    assert list(sampler) == first  # deterministic within an epoch
    sampler.set_epoch(1)
    assert list(sampler) != first


def test_token_dropout_hides_inner_tokens_only():
    torch.manual_seed(0)
    items = [(list(range(1, 41)), 0, 0), ([5, 6], 0, 1)]
    batch = TextCollate(pad_id=0, token_dropout=0.5)(items)
    mask = batch["inputs"]["attention_mask"]
    assert mask[0, 0] == 1 and mask[0, 39] == 1  # [CLS]-like first and [SEP]-like last token kept
    assert 5 < (mask[0, 1:39] == 0).sum() < 33  # about half of the inner tokens hidden
    assert mask[1].tolist()[:2] == [1, 1] and mask[1, 2:].sum() == 0  # padding stays padding
    assert batch["inputs"]["input_ids"][0].tolist() == list(range(1, 41))  # ids untouched


def test_decode_image_says_why_a_file_cannot_be_used(tmp_path):
    from PIL import Image

    from prodmatch.models.inputs import decode_image, unreadable_summary

    Image.new("RGB", (16, 16), (10, 200, 30)).save(tmp_path / "ok.jpg", quality=90)
    whole = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not an image")
    cases = {"ok.jpg": "", "cut.jpg": "truncated JPEG", "empty.jpg": "empty file", "text.jpg": "not a decodable image",
             "missing.jpg": "file not found", "": "not a file (empty image name?)"}
    for name, reason in cases.items():
        image, problem = decode_image(tmp_path / name)
        assert problem == reason, name
        assert (image is None) == bool(reason)
    paths = [tmp_path / n for n in cases]
    problems = {i: decode_image(p)[1] for i, p in enumerate(paths) if decode_image(p)[1]}
    assert unreadable_summary(paths, problems).startswith("5 of 6 images could not be used (truncated JPEG: cut.jpg;")


def test_an_image_over_the_pixel_limit_is_not_decoded_and_is_marked_unusable(tmp_path, monkeypatch):
    import cv2

    from prodmatch.models.inputs import decode_image
    from tests.data.test_images import png_bomb

    png_bomb(tmp_path / "big.png")
    decoded = []
    real = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda *a: decoded.append(1) or real(*a))
    image, problem = decode_image(tmp_path / "big.png")
    assert image is None and problem.startswith("12000 x 12000 pixels, over the limit") and decoded == []
    rows = ImageRows([tmp_path / "big.png"], None, eval_transform(32, (0.5,) * 3, (0.5,) * 3))
    tensor, _, _, problem = rows[0]
    assert tensor.shape == (3, 32, 32) and problem.startswith("12000 x 12000 pixels")  # a grey placeholder
