"""`prodmatch kernel build`: the dataset + kernel trees, metadata, manifest, wheel and weights selection."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from prodmatch.errors import InputError
from prodmatch.kernel.build import MANIFEST_NAME, BuildError, BuildOptions, build_kernel
from tests.kernel.conftest import KAGGLE_USER, write_fake_run


def test_build_writes_dataset_and_kernel(text_build: Path):
    dataset, kernel = text_build / "dataset", text_build / "kernel"
    manifest = json.loads((dataset / MANIFEST_NAME).read_text())
    wheel = dataset / manifest["wheel"]
    assert sorted(p.name for p in dataset.iterdir()) == sorted(
        ["dataset-metadata.json", MANIFEST_NAME, "recipe.yaml", wheel.name])
    assert sorted(p.name for p in kernel.iterdir()) == ["kernel-metadata.json", "kernel.py"]

    meta = json.loads((kernel / "kernel-metadata.json").read_text())
    assert meta["enable_internet"] is False and meta["enable_gpu"] is True
    assert meta["machine_shape"] == "NvidiaTeslaT4"  # without it Kaggle gives a P100, which its torch cannot use
    assert meta["competition_sources"] == ["shopee-product-matching"]
    assert meta["dataset_sources"] == [f"{KAGGLE_USER}/prodmatch-shopee-offline"]
    assert meta["id"] == f"{KAGGLE_USER}/prodmatch-shopee-kernel"
    assert meta["title"].lower().replace(" ", "-") == meta["id"].split("/")[1]  # Kaggle links title and slug
    assert meta["code_file"] == "kernel.py" and meta["kernel_type"] == "script" and meta["language"] == "python"
    dmeta = json.loads((dataset / "dataset-metadata.json").read_text())
    assert dmeta["id"] == meta["dataset_sources"][0] and dmeta["licenses"]

    assert manifest["recipe"] == "text-phash" and manifest["thresholds"] is None
    assert manifest["weights_dir"] is None and manifest["runs"] == {}
    assert manifest["requires_modules"] == ["numpy", "pandas", "scipy", "sklearn", "yaml", "psutil"]
    for rel, info in manifest["files"].items():
        assert hashlib.sha256((dataset / rel).read_bytes()).hexdigest() == info["sha256"]
    script = (kernel / "kernel.py").read_text()
    compile(script, "kernel.py", "exec")
    assert f'BUILD_ID = "{manifest["build_id"]}"' in script
    assert '"--no-index", "--no-deps"' in script
    assert yaml.safe_load((dataset / "recipe.yaml").read_text())["name"] == "text-phash"


def test_wheel_has_package_data(kernel_wheel: Path):
    with zipfile.ZipFile(kernel_wheel) as handle:
        names = set(handle.namelist())
    assert {"prodmatch/recipes/text-phash.yaml", "prodmatch/recipes/full.yaml",
            "prodmatch/kernel/templates/kernel.py.tmpl", "prodmatch/commands/submit.py"} <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_wheel_installs_with_no_index(kernel_wheel: Path, tmp_path: Path):
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--no-cache-dir",
                           "--disable-pip-version-check", "--target", str(target), str(kernel_wheel)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    code = "import prodmatch, prodmatch.commands.submit; print(prodmatch.__file__)"
    probe = subprocess.run([sys.executable, "-c", code],
                           capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": ""})
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()).resolve().is_relative_to(target.resolve())


def _thresholds_for(recipe_spec: dict, path: Path) -> Path:
    from prodmatch.artifacts.thresholds import Thresholds, write_thresholds
    from prodmatch.match.policy import MatchPolicy
    from prodmatch.recipes import recipe_from_dict

    recipe = recipe_from_dict(recipe_spec)
    write_thresholds(path, Thresholds.union_only(recipe, MatchPolicy({name: 0.5 for name in recipe.source_names},
                                                                     recipe.priority)))
    return path


def test_build_ships_only_inference_weights(tmp_path: Path, kernel_wheel: Path):
    from prodmatch.recipes import load_recipe

    weights = tmp_path / "weights"
    write_fake_run(weights, "image-a", "image", n_folds=2)
    write_fake_run(weights, "text-b", "text", n_folds=3)
    thresholds = _thresholds_for(load_recipe("full").spec, tmp_path / "thresholds.json")
    result = build_kernel(BuildOptions(out=tmp_path / "build", weights=weights, thresholds=thresholds,
                                       wheel=kernel_wheel, kaggle_user=KAGGLE_USER))
    dataset = result.dataset_dir
    shipped = sorted(p.relative_to(dataset / "weights").as_posix() for p in (dataset / "weights").rglob("*")
                     if p.is_file())
    assert shipped == [f"{run}/fold{k}/{name}" for run, n in (("image-a", 2), ("text-b", 3))
                       for k in range(n) for name in ("config.yaml", "model.pt")]
    manifest = result.manifest
    assert manifest["recipe"] == "full" and manifest["thresholds"] == "thresholds.json"
    assert manifest["runs"]["image"]["run"] == "image-a"
    assert manifest["runs"]["text"]["folds"] == ["fold0", "fold1", "fold2"]
    assert {"torch", "timm", "transformers", "tokenizers", "albumentations", "cv2"} <= set(manifest["requires_modules"])
    assert manifest["needs_images"] is True


def test_build_rewrites_run_selectors(tmp_path: Path, kernel_wheel: Path):
    weights = tmp_path / "weights"
    run = write_fake_run(weights, "my-image-run", "image")
    spec = {"name": "image-only", "embeddings": {"image": {"run": str(run)}},
            "sources": [{"type": "embedding", "name": "image", "embeddings": ["image"], "k": 10}],
            "priority": ["image"]}
    thresholds = _thresholds_for(spec, tmp_path / "thresholds.json")
    result = build_kernel(BuildOptions(out=tmp_path / "build", weights=weights, thresholds=thresholds,
                                       wheel=kernel_wheel, kaggle_user=KAGGLE_USER))
    shipped = json.loads((result.dataset_dir / "thresholds.json").read_text())
    assert shipped["recipe"]["embeddings"]["image"] == {"run": "my-image-run"}
    shipped_recipe = yaml.safe_load((result.dataset_dir / "recipe.yaml").read_text())
    assert shipped_recipe["embeddings"]["image"] == {"run": "my-image-run"}


def test_auto_recipe_and_refusals(tmp_path: Path, kernel_wheel: Path, monkeypatch):
    from prodmatch.recipes import load_recipe

    weights = tmp_path / "weights"
    write_fake_run(weights, "image-a", "image")
    write_fake_run(weights, "text-b", "text")
    # auto picks full when weights has runs; full cannot be tuned in the kernel (no OOF shipped)
    with pytest.raises(BuildError, match="needs tuned thresholds"):
        build_kernel(BuildOptions(out=tmp_path / "b1", weights=weights, wheel=kernel_wheel, kaggle_user="x"))
    with pytest.raises(BuildError, match="slug"):
        build_kernel(BuildOptions(out=tmp_path / "b2", weights=weights, recipe="text-phash", wheel=kernel_wheel,
                                  dataset_slug="Bad Slug!"))
    only_text = tmp_path / "only-text"
    write_fake_run(only_text, "text-b", "text")
    thresholds = _thresholds_for(load_recipe("full").spec, tmp_path / "t.json")
    with pytest.raises(InputError, match=r"tuned with source\(s\) \['comb', 'image'\].*\['image'\]"):
        build_kernel(BuildOptions(out=tmp_path / "b3", weights=only_text, thresholds=thresholds, wheel=kernel_wheel))
    # no runs: auto falls back to text-phash; no user given: a placeholder id (and a note saying so)
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    result = build_kernel(BuildOptions(out=tmp_path / "b4", weights=tmp_path / "none", wheel=kernel_wheel))
    assert result.manifest["recipe"] == "text-phash"
    assert result.manifest["dataset_id"] == "your-kaggle-username/prodmatch-shopee-offline"
    assert any("placeholder" in note for note in result.notes)


def test_rebuild_replaces_previous_output(tmp_path: Path, kernel_wheel: Path):
    out = tmp_path / "build"
    build_kernel(BuildOptions(out=out, weights=None, recipe="text-phash", wheel=kernel_wheel, kaggle_user="a"))
    (out / "dataset" / "stale.txt").write_text("old")
    result = build_kernel(BuildOptions(out=out, weights=None, recipe="text-phash", wheel=kernel_wheel,
                                       kaggle_user="b"))
    assert not (out / "dataset" / "stale.txt").exists()
    assert result.manifest["kernel_id"] == "b/prodmatch-shopee-kernel"
    assert sorted(p.name for p in out.iterdir()) == ["dataset", "kernel"]  # no staging left behind


def test_required_modules_follow_the_shipped_model_types():
    from prodmatch.kernel.build import required_modules

    text_only = required_modules({"text": {"model": "text"}})
    assert {"torch", "transformers", "tokenizers"} <= set(text_only) and "cv2" not in text_only
    both = required_modules({"image": {"model": "image"}, "text": {"model": "text"}})
    assert {"albumentations", "cv2", "timm", "torchvision"} <= set(both) and both.count("torch") == 1
