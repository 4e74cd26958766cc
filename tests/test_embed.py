"""prodmatch.embed: loading runs, embedding frames (with unusable images), fold averaging, one decode for all
folds, TTA as the run was validated."""

from __future__ import annotations

import numpy as np
import pytest

from prodmatch.artifacts.weights import fold_dirs
from prodmatch.data import DataDir
from prodmatch.embed import embed_frame, embed_runs, embed_with_folds, load_run
from prodmatch.errors import InputError
from prodmatch.models.inputs import ImageReadWarning
from prodmatch.search.dense import l2_normalize
from prodmatch.train.config import load_config
from prodmatch.train.loop import train_fold
from tests.train.conftest import TINY_IMAGE
from tests.train.toydata import make_toy_dataset


@pytest.fixture(scope="module")
def two_fold_run(tmp_path_factory):
    """Folds 0 and 1 of a 3-fold tiny image run (fold 2 deliberately missing), trained with flip TTA."""
    root = tmp_path_factory.mktemp("embed")
    data = make_toy_dataset(root / "data", n_groups=12, per_group=4, size=40)
    for fold in (0, 1):
        train_fold(load_config(TINY_IMAGE, data_dir=str(data), out=str(root / "weights"), fold=fold, epochs=1,
                               run_name="tiny", tta=True))
    return root / "weights" / "tiny", data


def test_load_run_finds_every_fold(two_fold_run):
    run_dir, _ = two_fold_run
    models = load_run(run_dir, device="cpu")
    assert [m.fold for m in models] == [0, 1] and {m.kind for m in models} == {"image"}
    assert all(not m.encoder.training for m in models) and models[0].image_size == 32
    assert fold_dirs(run_dir / "fold1") == [run_dir / "fold1"]
    with pytest.raises(FileNotFoundError):
        load_run(run_dir / "nope")


def test_test_path_embeds_like_the_oof_path_tta_included(two_fold_run):
    """Thresholds are tuned on OOF embeddings: the test path must embed the same way (here: with flip TTA)."""
    run_dir, data = two_fold_run
    train = DataDir.of(data).read_train()
    model = load_run(run_dir, device="cpu")[1]
    assert model.tta
    with np.load(run_dir / "fold1" / "oof_embeddings.npz") as oof:
        frame = train.set_index("posting_id").loc[oof["posting_id"]].reset_index()
        emb = embed_frame(model, frame, data / "train_images", batch_size=5)
        np.testing.assert_allclose(emb, oof["embeddings"], atol=1e-5)
        test_path = embed_runs({"tiny": run_dir / "fold1"}, frame, data / "train_images").vectors["tiny"]
        np.testing.assert_allclose(test_path, oof["embeddings"], atol=1e-5)
    assert emb.dtype == np.float32 and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    plain = embed_frame(model, frame, data / "train_images", tta=False)
    assert np.allclose(np.linalg.norm(plain, axis=1), 1, atol=1e-5) and not np.allclose(plain, emb)
    with pytest.raises(ValueError, match="images_dir"):
        embed_frame(model, frame)


def test_unusable_images_are_counted_in_one_warning_and_marked(two_fold_run, tmp_path):
    run_dir, data = two_fold_run
    frame = DataDir.of(data).read_train().head(4).copy()
    frame.loc[1, "image"] = "does_not_exist.jpg"
    for name in frame["image"].iloc[[0, 2]]:
        (tmp_path / name).write_bytes((data / "train_images" / name).read_bytes())
    (tmp_path / "empty.jpg").write_bytes(b"")
    frame.loc[3, "image"] = "empty.jpg"
    model = load_run(run_dir, device="cpu")[0]
    with pytest.warns(ImageReadWarning, match=r"2 of 4 images could not be used \(file not found: "
                                              r"does_not_exist.jpg; empty file: empty.jpg\)"):
        emb = embed_frame(model, frame, tmp_path)
    assert emb.shape == (4, 32) and np.isfinite(emb).all()
    with pytest.warns(ImageReadWarning) as caught:
        result = embed_runs({"tiny": run_dir}, frame, tmp_path)
    assert len(caught) == 1  # one summary for both folds, not one warning per image per fold
    assert result.image_usable.tolist() == [True, False, True, False] and set(result.problems) == {1, 3}
    frame.loc[3, "image"] = str(tmp_path / "empty.jpg")  # an absolute name would read outside the folder
    with pytest.raises(InputError, match="leaves the images folder"):
        embed_frame(model, frame, tmp_path)


def test_every_image_is_decoded_once_for_all_fold_models(two_fold_run, monkeypatch):
    import prodmatch.models.inputs as inputs

    run_dir, data = two_fold_run
    frame = DataDir.of(data).read_train().head(7)
    decoded = []
    real = inputs.decode_image
    monkeypatch.setattr(inputs, "decode_image", lambda path: decoded.append(path) or real(path))
    result = embed_runs({"tiny": run_dir}, frame, data / "train_images", num_workers=0)
    assert len(decoded) == 7 and len(load_run(run_dir)) == 2  # 2 fold models, each image decoded once
    assert result.vectors["tiny"].shape == (7, 32) and result.image_usable.all()


def test_embed_with_folds_is_the_renormalised_mean(two_fold_run):
    run_dir, data = two_fold_run
    frame = DataDir.of(data).read_train().head(10)
    models = load_run(run_dir, device="cpu")
    parts = [embed_frame(m, frame, data / "train_images") for m in models]
    averaged = embed_with_folds(run_dir, frame, data / "train_images")
    np.testing.assert_allclose(averaged, l2_normalize(parts[0] + parts[1]), atol=1e-5)
    assert not np.allclose(parts[0], parts[1])


class _PretendGpu:
    """Encoders stay on the CPU, but prodmatch.embed believes they sit on CUDA devices of ``capability``:
    records where batches were copied and which dtype each autocast got."""

    def __init__(self, monkeypatch, capability=(7, 5), count=2):
        import torch

        import prodmatch.embed as embed
        from prodmatch import device as device_module
        from prodmatch.device import CudaCheck

        self.copies, self.autocasts, self.loaded = [], [], []
        checks = {i: CudaCheck(i, True, "ok", True, "Tesla T4", capability, ("sm_75",)) for i in range(count)}
        monkeypatch.setattr(device_module, "check_cuda", lambda index=0: checks[index])
        monkeypatch.setattr(device_module, "_warned", set())
        monkeypatch.setattr(embed, "usable_cuda_indices", lambda: list(range(count)))
        monkeypatch.setattr(embed, "move_to", lambda inputs, device, channels_last=False:
                            self.copies.append(str(device)) or inputs)
        real_autocast = embed.autocast
        monkeypatch.setattr(embed, "autocast", lambda device, enabled=True, dtype="float16":
                            self.autocasts.append((str(device), dtype)) or real_autocast(torch.device("cpu")))
        real_load = embed.load_fold_model

        def load_on_cpu(fold_dir, device=None):
            self.loaded.append(str(device))
            model = real_load(fold_dir, "cpu")
            model.device = torch.device(device)
            return model

        monkeypatch.setattr(embed, "load_fold_model", load_on_cpu)


@pytest.mark.filterwarnings("ignore:'pin_memory' argument:UserWarning")
def test_fold_models_are_spread_over_both_t4s_and_each_batch_copied_once_per_device(two_fold_run, monkeypatch):
    """Kaggle's NvidiaTeslaT4 machine has two T4s: half the folds on each (all of them went to cuda:0)."""
    run_dir, data = two_fold_run
    gpus = _PretendGpu(monkeypatch)
    frame = DataDir.of(data).read_train().head(6)
    result = embed_runs({"tiny": run_dir}, frame, data / "train_images", batch_size=3, num_workers=0)
    assert gpus.loaded == ["cuda:0", "cuda:1"]
    assert gpus.copies == ["cuda:0", "cuda:1"] * 2  # 2 batches, one copy per device each
    assert sorted({device for device, _ in gpus.autocasts}) == ["cuda:0", "cuda:1"]
    reference = embed_runs({"tiny": run_dir}, frame, data / "train_images", device="cpu", num_workers=0)
    np.testing.assert_allclose(result.vectors["tiny"], reference.vectors["tiny"], atol=1e-5)


@pytest.mark.filterwarnings("ignore:'pin_memory' argument:UserWarning")
def test_a_bfloat16_run_is_embedded_in_float16_on_a_t4(two_fold_run, monkeypatch):
    run_dir, data = two_fold_run
    gpus = _PretendGpu(monkeypatch, capability=(7, 5))
    models = {"tiny": [load_run(run_dir, device="cpu")[0]]}
    models["tiny"][0].meta["config"]["amp_dtype"] = "bfloat16"
    models["tiny"][0].device = __import__("torch").device("cuda", 0)
    frame = DataDir.of(data).read_train().head(4)
    with pytest.warns(RuntimeWarning, match="no native bfloat16"):
        embed_runs({"tiny": run_dir}, frame, data / "train_images", models=models, num_workers=0)
    assert gpus.autocasts and {dtype for _, dtype in gpus.autocasts} == {"float16"}
    l4 = _PretendGpu(monkeypatch, capability=(8, 9))  # an L4 keeps the run's bfloat16
    embed_runs({"tiny": run_dir}, frame, data / "train_images", models=models, num_workers=0)
    assert l4.autocasts and {dtype for _, dtype in l4.autocasts} == {"bfloat16"}
