"""Fixtures for the kernel tests: one prodmatch wheel and two text-phash builds per session."""

from __future__ import annotations

from pathlib import Path

import pytest

KAGGLE_USER = "tester"


@pytest.fixture(scope="session")
def kernel_wheel(tmp_path_factory) -> Path:
    """The prodmatch wheel, built offline from this source tree (the same code path `kernel build` uses)."""
    from prodmatch.kernel.build import build_wheel, find_project_root

    root = find_project_root()
    if root is None:
        pytest.skip("prodmatch is not running from its source tree")
    return build_wheel(root, tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def text_build(tmp_path_factory, kernel_wheel) -> Path:
    """`prodmatch kernel build` (CLI) of the weight-free text-phash kernel, no thresholds shipped."""
    from prodmatch.cli import main

    out = tmp_path_factory.mktemp("kernel") / "build"
    code = main(["kernel", "build", "--out", str(out), "--weights", str(out.parent / "no-weights"),
                 "--wheel", str(kernel_wheel), "--kaggle-user", KAGGLE_USER])
    assert code == 0
    return out


@pytest.fixture(scope="session")
def tuned_build(tmp_path_factory, kernel_wheel) -> Path:
    """A text-phash build shipping thresholds (tuned at build time on a tiny synthetic train.csv)."""
    from prodmatch.cli import main
    from tests.conftest import write_tiny_kaggle_dir

    root = tmp_path_factory.mktemp("tuned")
    tiny = write_tiny_kaggle_dir(root / "tiny")
    out = root / "build"
    code = main(["kernel", "build", "--out", str(out), "--recipe", "text-phash", "--tune-data-dir", str(tiny),
                 "--wheel", str(kernel_wheel), "--kaggle-user", KAGGLE_USER])
    assert code == 0
    return out


def write_pure_wheel(folder: Path, name: str = "pmvendored", version: str = "0.1") -> Path:
    """A minimal pure-Python wheel (one module), written by hand: stands in for a vendored dependency."""
    import base64
    import hashlib
    import zipfile

    files = {f"{name}.py": "VALUE = 42\n",
             f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
                                                  "Tag: py3-none-any\n"}
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = "\n".join(record) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as handle:
        for path, text in files.items():
            handle.writestr(path, text)
    return wheel


def write_fake_run(weights: Path, name: str, model: str, posting_ids=None, n_folds: int = 2,
                   real_image_model: bool = False) -> Path:
    """weights/<name>/fold<k>/ as train_fold.py leaves it: model.pt, config.yaml, OOF embeddings, checkpoint,
    metrics. model.pt is a random-init tiny image encoder when ``real_image_model`` (needs torch + timm),
    else placeholder bytes (enough for build tests, which never load it)."""
    import numpy as np

    run = weights / name
    ids = np.asarray(posting_ids if posting_ids is not None else [f"p{i}" for i in range(10)], dtype=str)
    rng = np.random.default_rng(0)
    for fold in range(n_folds):
        fold_dir = run / f"fold{fold}"
        fold_dir.mkdir(parents=True)
        (fold_dir / "config.yaml").write_text(f"model: {model}\nrun_name: {name}\nfold: {fold}\n")
        if real_image_model:
            import torch

            from prodmatch.models.build import encoder_payload
            from prodmatch.models.image import ImageEncoder, ImageEncoderSpec

            torch.manual_seed(fold)
            spec = ImageEncoderSpec(backbone="test_efficientnet", embedding_dim=16, image_size=32)
            torch.save(encoder_payload(ImageEncoder.create(spec, pretrained="none"), fold=fold), fold_dir / "model.pt")
        else:
            (fold_dir / "model.pt").write_bytes(b"not a real model " * 10)
        held_out = ids[fold::n_folds]
        emb = rng.normal(size=(len(held_out), 16)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        np.savez(fold_dir / "oof_embeddings.npz", posting_id=held_out, embeddings=emb)
        (fold_dir / "last.ckpt").write_bytes(b"checkpoint " * 100)
        (fold_dir / "metrics.json").write_text("{}")
    return run
