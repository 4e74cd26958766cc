"""`prodmatch kernel rehearse`: the built kernel runs offline on a fake /kaggle tree and its submission is valid."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from prodmatch.artifacts.rehearsal import read_rehearsal_report
from prodmatch.kernel.projection import format_report
from prodmatch.kernel.rehearse import RehearsalError, RehearsalOptions, rehearse
from tests.kernel.conftest import KAGGLE_USER, write_fake_run, write_pure_wheel


def _check(report, n_test: int) -> None:
    assert report.ok and report.n_test == n_test
    assert report.network_attempts == 0
    assert "/env/" in report.prodmatch_file  # imported from the wheel installed in the fresh env
    assert report.within_ram_budget and report.peak_rss_gb > 0
    assert report.projection.projected_s > 0 and report.projection.within_limit
    stages = [row.stage for row in report.stages]
    assert stages[0].startswith("install") and "write+validate" in stages
    assert "projected Kaggle run" in format_report(report)


def _stages(report) -> list[str]:
    return [row.stage for row in report.stages]


def test_rehearse_tiny_text_phash(kernel_wheel: Path, tiny_dir: Path, tmp_path: Path):
    """Also: a vendored wheel that does not fit the image's Python is a logged fallback, not a dead kernel (all
    wheels went through one pip call, which failed whole), and the wheels after it still install."""
    from prodmatch.kernel.build import BuildOptions, build_kernel

    bad = write_pure_wheel(tmp_path / "vendor", name="pmbad")
    bad = bad.rename(bad.with_name("pmbad-0.1-cp27-cp27m-win32.whl"))  # no Python here installs this
    vendored = write_pure_wheel(tmp_path / "vendor")
    build = build_kernel(BuildOptions(out=tmp_path / "build", weights=None, recipe="text-phash", wheel=kernel_wheel,
                                      vendor_wheels=[bad, vendored], kaggle_user=KAGGLE_USER))
    assert build.manifest["vendored_wheels"][1] == {"name": "pmvendored", "file": vendored.name}
    report = rehearse(RehearsalOptions(build=build.out, data_dir=tiny_dir, echo=False, report=tmp_path / "r.json",
                                       keep=True, workdir=tmp_path / "work"))
    _check(report, 9)
    assert "tune_cv" in _stages(report)  # no thresholds shipped: tuned in the kernel
    assert read_rehearsal_report(tmp_path / "r.json") == report  # one writer, one reader
    workdir = Path(report.workdir)
    log = (workdir / "kernel.log").read_text()
    assert "WARNING: vendored pmbad (pmbad-0.1-cp27-cp27m-win32.whl) did not install" in log
    assert "pmvendored" in log  # installed offline: the stack lacks it
    assert list((workdir / "env").glob("lib/python*/site-packages/pmvendored.py"))
    assert sorted(p.name for p in (workdir / "kaggle" / "working").iterdir()) == [
        "prodmatch_kernel_report.json", "prodmatch_timings.json", "submission.csv", "submission.thresholds.json"]


def test_rehearse_demo_scaled(text_build: Path, demo_dir: Path):
    report = rehearse(RehearsalOptions(build=text_build, data_dir=demo_dir, scale=600, echo=False))
    _check(report, 600)
    assert 0.0 < report.f1_vs_copied_groups <= 1.0


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
    assert "tune_cv" not in _stages(report)


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
    assert "embed" in _stages(report) and report.recipe_run == "image-phash"
    assert report.projection.embed_seconds_modelled > 0
    assert report.gpus and all(line.startswith("cuda:0") for line in report.gpus)  # check_cuda's own words


def test_stack_farm_hides_prodmatch_and_excluded_packages(tmp_path: Path):
    from prodmatch.kernel.rehearse import make_stack_farm

    make_stack_farm(tmp_path / "farm", exclude=["faiss"])
    names = {p.name.lower() for p in (tmp_path / "farm").iterdir()}
    assert "numpy" in names and "pandas" in names
    assert not any(n.startswith(("prodmatch", "__editable__", "faiss")) or n.endswith(".pth") for n in names)


IMAGE_PHASH = ("name: image-phash\nembeddings:\n  image: {model: image}\nsources:\n"
               "  - {type: embedding, name: image, embeddings: [image], k: 20, min_score: 0.0}\n"
               "  - {type: phash, name: phash, max_distance: 12}\npriority: [image, phash]\n")


@pytest.fixture(scope="module")
def gpu_fallback_build(tmp_path_factory, demo_dir: Path, kernel_wheel: Path) -> Path:
    """An image-recipe build that allows the text-phash fallback (placeholder model.pt files: the kernel must never
    load them, since this machine has no GPU)."""
    from prodmatch.data import read_train
    from prodmatch.kernel.build import BuildOptions, build_kernel

    root = tmp_path_factory.mktemp("gpu-fallback")
    write_fake_run(root / "weights", "image-rand", "image", read_train(demo_dir / "train.csv")["posting_id"])
    (root / "image-phash.yaml").write_text(IMAGE_PHASH)
    build = build_kernel(BuildOptions(out=root / "build", weights=root / "weights", recipe=str(root / "image-phash.yaml"),
                                      tune_data_dir=demo_dir, wheel=kernel_wheel, kaggle_user=KAGGLE_USER,
                                      gpu_fallback="text-phash"))
    assert build.manifest["gpu_fallback"] == "text-phash"
    return build.out


def test_no_usable_gpu_falls_back_to_text_phash_where_the_build_allows_it(gpu_fallback_build: Path, demo_dir: Path,
                                                                          tmp_path: Path):
    report = rehearse(RehearsalOptions(build=gpu_fallback_build, data_dir=demo_dir, echo=False, require_gpu=True,
                                       keep=True, workdir=tmp_path))
    _check(report, len(__import__("prodmatch.data", fromlist=["read_test"]).read_test(demo_dir / "test.csv")))
    assert report.recipe == "image-phash" and report.recipe_run == "text-phash" and report.fell_back
    assert report.timings["recipe"] == "text-phash" and "tune_cv" in _stages(report)
    assert report.projection.embed_seconds_modelled == 0  # nothing embedded on Kaggle's side either
    log = (Path(report.workdir) / "kernel.log").read_text()
    assert "running the weight-free text-phash recipe instead" in log and "GPU cuda:0" in log
    assert "(GPU fallback from image-phash)" in format_report(report)


def test_no_usable_gpu_stops_the_kernel_at_once_without_a_fallback(gpu_fallback_build: Path, demo_dir: Path,
                                                                   tmp_path: Path):
    """Before: the kernel logged the missing GPU and embedded on the CPU until Kaggle's limit killed it."""
    build = tmp_path / "no-fallback"
    shutil.copytree(gpu_fallback_build, build, symlinks=True)
    manifest_path = build / "dataset" / "prodmatch-dataset.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["gpu_fallback"] = None
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(RehearsalError, match=r"exited with code 4(.|\n)*needs a usable GPU; there is none"):
        rehearse(RehearsalOptions(build=build, data_dir=demo_dir, echo=False, require_gpu=True))


def test_rehearse_without_its_inputs_exits_2_with_one_line(text_build: Path, tmp_path: Path, capsys):
    from prodmatch.cli import main

    assert main(["kernel", "rehearse", "--build", str(tmp_path / "nothing"), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "is not a kernel build" in err and len(err.splitlines()) == 1
    assert main(["kernel", "rehearse", "--build", str(text_build), "--data-dir", str(tmp_path)]) == 2
    assert "has no test.csv" in capsys.readouterr().err
    assert main(["kernel", "rehearse", "--build", str(text_build), "--data-dir", str(tmp_path), "--scale", "9"]) == 2
    assert "has no train.csv" in capsys.readouterr().err
    (tmp_path / "test.csv").write_text("posting_id\n")
    assert main(["kernel", "rehearse", "--build", str(text_build), "--data-dir", str(tmp_path),
                 "--gpu-check", str(tmp_path / "gpu.json")]) == 2
    assert "--gpu-check" in capsys.readouterr().err
