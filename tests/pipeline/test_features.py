"""Test-time features: a posting without a usable image gets no image-based matches; no test image at all is an
error unless asked to fall back."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest

from prodmatch.artifacts.thresholds import Thresholds, write_thresholds
from prodmatch.cli import main
from prodmatch.data import DataDir
from prodmatch.match.policy import MatchPolicy
from prodmatch.models.inputs import ImageReadWarning
from prodmatch.pipeline.features import features_for_test
from prodmatch.recipes import recipe_from_dict
from tests.kernel.conftest import write_fake_run

IMAGE_RECIPE = {"name": "image-tfidf", "embeddings": {"image": {"model": "image"}},
                "sources": [{"type": "embedding", "name": "image", "embeddings": ["image"], "k": 50, "min_score": 0.2},
                            {"type": "tfidf", "name": "tfidf", "blend": None}],
                "priority": ["image", "tfidf"], "min2": False}


@pytest.fixture
def image_setup(demo_dir, tmp_path):
    """A copy of the demo data, a (random-init) image run, and thresholds where only the image source matches:
    identical pictures (cosine 1) match, and grey placeholders are identical pictures."""
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    weights = tmp_path / "weights"
    write_fake_run(weights, "img", "image", n_folds=1, real_image_model=True)
    recipe = recipe_from_dict(IMAGE_RECIPE)
    thresholds = tmp_path / "thresholds.json"
    write_thresholds(thresholds, Thresholds.union_only(recipe, MatchPolicy({"image": 0.999, "tfidf": np.inf},
                                                                           priority=recipe.priority, min2=False)))
    return data, weights, thresholds


def break_images(data, rows):
    """Missing file, truncated JPEG, 0-byte file, text named .jpg, empty image name -- one per row."""
    test = DataDir.of(data).read_test()
    images = data / "test_images"
    names = test["image"].tolist()
    (images / names[rows[0]]).unlink()
    cut = (images / names[rows[1]]).read_bytes()
    (images / names[rows[1]]).write_bytes(cut[: len(cut) // 2])
    (images / names[rows[2]]).write_bytes(b"")
    (images / names[rows[3]]).write_text("<html>not found</html>")
    text = (data / "test.csv").read_text().replace(f",{names[rows[4]]},", ",,", 1)
    (data / "test.csv").write_text(text)
    gone = {names[r] for r in rows[:4]}  # another posting may reuse one of these files (a seller's copy)
    return [pid for pid, name in zip(test["posting_id"], names) if name in gone] + [test["posting_id"][rows[4]]]


def submission(path):
    import pandas as pd

    frame = pd.read_csv(path)
    return dict(zip(frame["posting_id"], frame["matches"].str.split()))


def test_postings_without_a_usable_image_get_no_image_matches(image_setup, tmp_path, capsys):
    # 9 broken test images used to give each of those postings 8 false matches (their placeholders all alike)
    data, weights, thresholds = image_setup
    broken = break_images(data, [0, 3, 5, 8, 11])
    out = tmp_path / "submission.csv"
    with pytest.warns(ImageReadWarning, match=f"{len(broken)} of .* images could not be used"):
        code = main(["submit", "--data-dir", str(data), "--weights", str(weights), "--thresholds", str(thresholds),
                     "--out", str(out)])
    assert code == 0
    matches = submission(out)
    assert all(matches[pid] == [pid] for pid in broken)
    assert len(broken) >= 5 and f"note: {len(broken)} of {len(matches)} test postings have no usable image" in \
        capsys.readouterr().out


def test_no_test_images_at_all_is_an_error_unless_asked_to_fall_back(image_setup, tmp_path, capsys):
    # with no test_images/ folder every posting used to get 50 matches, "validated", exit 0
    data, weights, thresholds = image_setup
    shutil.rmtree(data / "test_images")
    args = ["submit", "--data-dir", str(data), "--weights", str(weights), "--thresholds", str(thresholds),
            "--out", str(tmp_path / "s.csv")]
    assert main(args) == 2
    message = capsys.readouterr().err
    assert "test_images: none of the" in message and "--allow-missing-images" in message
    assert not (tmp_path / "s.csv").exists()
    with pytest.warns(ImageReadWarning, match="--allow-missing-images: every posting is left out of the image-based"):
        assert main([*args, "--allow-missing-images"]) == 0
    assert all(m == [pid] for pid, m in submission(tmp_path / "s.csv").items())


def test_a_text_run_keeps_every_row(image_setup):
    data, weights, _ = image_setup
    write_fake_run(weights, "txt", "text", n_folds=1)
    test = DataDir.of(data).read_test()
    recipe = recipe_from_dict({**IMAGE_RECIPE, "embeddings": {"image": {"model": "image"}, "text": {"model": "text"}}})
    runs = {"image": weights / "img"}
    shutil.rmtree(data / "test_images")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImageReadWarning)
        features = features_for_test(runs, recipe, test, data / "test_images", allow_missing_images=True)
    assert features.usable_rows(["image"]).sum() == 0 and features.usable_rows(["tfidf"]) is None
