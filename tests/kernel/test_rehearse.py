"""`prodmatch kernel rehearse`: the built kernel runs offline on a fake /kaggle tree and its submission is valid."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from prodmatch.kernel.rehearse import RehearsalError, RehearsalOptions, format_report, rehearse
from tests.kernel.conftest import KAGGLE_USER, write_fake_run, write_pure_wheel


def _check(report: dict, n_test: int) -> None:
    assert report["ok"] and report["n_test"] == n_test
    assert report["network_attempts"] == 0
    assert "/env/" in report["prodmatch_file"]  # imported from the wheel installed in the fresh env
    assert report["within_ram_budget"] and report["peak_rss_gb"] > 0
    assert report["projection"]["projected_s"] > 0 and report["projection"]["within_limit"]
    stages = [row["stage"] for row in report["stages"]]
    assert stages[0].startswith("install") and "write+validate" in stages
    assert "projected Kaggle run" in format_report(report)


def test_rehearse_tiny_text_phash(kernel_wheel: Path, tiny_dir: Path, tmp_path: Path):
    from prodmatch.kernel.build import BuildOptions, build_kernel

    vendored = write_pure_wheel(tmp_path / "vendor")
    build = build_kernel(BuildOptions(out=tmp_path / "build", weights=None, recipe="text-phash", wheel=kernel_wheel,
                                      vendor_wheels=[vendored], kaggle_user=KAGGLE_USER))
    assert build.manifest["vendored_wheels"] == [{"name": "pmvendored", "file": vendored.name}]
    report = rehearse(RehearsalOptions(build=build.out, data_dir=tiny_dir, echo=False, report=tmp_path / "r.json",
                                       keep=True, workdir=tmp_path / "work"))
    _check(report, 9)
    assert "tune_cv" in [row["stage"] for row in report["stages"]]  # no thresholds shipped: tuned in the kernel
    assert json.loads((tmp_path / "r.json").read_text())["build_id"] == report["build_id"]
    workdir = Path(report["workdir"])
    assert "pmvendored" in (workdir / "kernel.log").read_text()  # installed offline: the stack lacks it
    assert list((workdir / "env").glob("lib/python*/site-packages/pmvendored.py"))
    assert sorted(p.name for p in (workdir / "kaggle" / "working").iterdir()) == [
        "prodmatch_kernel_report.json", "prodmatch_timings.json", "submission.csv", "submission.thresholds.json"]


def test_rehearse_demo_scaled(text_build: Path, demo_dir: Path):
    report = rehearse(RehearsalOptions(build=text_build, data_dir=demo_dir, scale=600, echo=False))
    _check(report, 600)
    assert 0.0 < report["f1_vs_copied_groups"] <= 1.0


def test_rehearsal_catches_a_kernel_that_reaches_for_the_network(text_build: Path, tiny_dir: Path,
                                                                   tmp_path: Path):
    bad = tmp_path / "bad-build"
    shutil.copytree(text_build, bad, symlinks=True)
    script = bad / "kernel" / "kernel.py"
    source = script.read_text()
    sneaky = ("def main():\n    import socket\n    try:\n        socket.getaddrinfo('pypi.org', 443)\n"
              "    except OSError:\n        pass\n")
    script.write_text(source.replace("def main():\n", sneaky, 1))
    with pytest.raises(RehearsalError, match="tried to use the network"):
        rehearse(RehearsalOptions(build=bad, data_dir=tiny_dir, echo=False))


def test_rehearsal_reports_a_failing_kernel(text_build: Path, tiny_dir: Path, tmp_path: Path):
    broken = tmp_path / "broken-build"
    shutil.copytree(text_build, broken, symlinks=True)
    for wheel in (broken / "dataset").glob("prodmatch-*.whl"):
        wheel.unlink()
    with pytest.raises(RehearsalError, match=r"exited with code 3(.|\n)*wheel\(s\) missing from the dataset"):
        rehearse(RehearsalOptions(build=broken, data_dir=tiny_dir, echo=False))


@pytest.mark.realdata
@pytest.mark.slow
def test_rehearse_real_three_row_test(tuned_build: Path, shopee_dir: Path):
    """Kaggle's commit-time view: the real 3-row test.csv and train.csv (thresholds shipped with the build, so
    the test stays fast; `text_build`, which tunes on the real train inside the kernel, takes ~30-50 s here)."""
    report = rehearse(RehearsalOptions(build=tuned_build, data_dir=shopee_dir, echo=False))
    _check(report, 3)
    assert "tune_cv" not in [row["stage"] for row in report["stages"]]


@pytest.mark.slow
def test_rehearse_recipe_with_weights(demo_dir: Path, kernel_wheel: Path, tmp_path: Path):
    """A weights build (random-init tiny image model, thresholds tuned at build time from its OOF embeddings)
    runs the embedding stage in the offline kernel."""
    pytest.importorskip("torch")
    try:
        from prodmatch.compat import import_timm

        import_timm()
    except ImportError:
        pytest.skip("timm is not installed")
    from prodmatch.data import read_test, read_train
    from prodmatch.kernel.build import BuildOptions, build_kernel

    weights = tmp_path / "weights"
    write_fake_run(weights, "image-rand", "image", read_train(demo_dir / "train.csv")["posting_id"],
                   n_folds=2, real_image_model=True)
    recipe = tmp_path / "image-phash.yaml"
    recipe.write_text("name: image-phash\nembeddings:\n  image: {model: image}\nsources:\n"
                      "  - {type: embedding, name: image, embeddings: [image], k: 20, min_score: 0.0}\n"
                      "  - {type: phash, name: phash, max_distance: 12}\npriority: [image, phash]\n")
    build = build_kernel(BuildOptions(out=tmp_path / "build", weights=weights, recipe=str(recipe),
                                      tune_data_dir=demo_dir, wheel=kernel_wheel, kaggle_user=KAGGLE_USER))
    assert build.manifest["runs"]["image"]["folds"] == ["fold0", "fold1"]
    report = rehearse(RehearsalOptions(build=build.out, data_dir=demo_dir, echo=False))
    _check(report, len(read_test(demo_dir / "test.csv")))
    assert "embed" in [row["stage"] for row in report["stages"]]
    assert report["projection"]["embed_seconds_modelled"] > 0


def test_stack_farm_hides_prodmatch_and_excluded_packages(tmp_path: Path):
    from prodmatch.kernel.rehearse import make_stack_farm

    make_stack_farm(tmp_path / "farm", exclude=["faiss"])
    names = {p.name.lower() for p in (tmp_path / "farm").iterdir()}
    assert "numpy" in names and "pandas" in names
    assert not any(n.startswith(("prodmatch", "__editable__", "faiss")) or n.endswith(".pth") for n in names)
