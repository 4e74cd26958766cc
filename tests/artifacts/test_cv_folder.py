"""The CV folder: written whole (a failure leaves the old one), read back; non-CV folders are not replaced."""

from unittest import mock

import pytest

from prodmatch.artifacts.cv_folder import CV_FILES, read_cv_folder
from prodmatch.cv import run_cv, save_cv
from prodmatch.data import DataDir, assign_folds
from prodmatch.recipes import load_recipe


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    from tests.conftest import write_tiny_kaggle_dir

    train = DataDir.of(write_tiny_kaggle_dir(tmp_path_factory.mktemp("tiny") / "d")).read_train()
    return run_cv(train, assign_folds(train, 3)["fold"].to_numpy(), load_recipe("text-phash"), nested=False)


def test_written_whole_and_read_back(result, tmp_path):
    out = save_cv(result, tmp_path / "cv")
    assert sorted(p.name for p in out.iterdir()) == sorted(CV_FILES)
    folder = read_cv_folder(out)
    assert folder.recipe.name == "text-phash" and folder.policy == result.chosen.policy
    assert folder.summary.chosen == result.chosen.kind and folder.summary.score == result.score
    assert [m.kind for m in folder.summary.matchers] == [m.kind for m in result.matchers]
    assert folder.n_rows == len(result.labels) and len(folder.table) == len(result.chosen.table)
    assert folder.recipe.scale_of("phash").is_distance


def test_a_failed_write_leaves_the_previous_folder(result, tmp_path):
    out = save_cv(result, tmp_path / "cv")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with mock.patch("prodmatch.artifacts.cv_folder.write_csv", side_effect=OSError(28, "No space left on device")):
        with pytest.raises(OSError, match="No space"):
            save_cv(result, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["cv"]  # no temporary folder left behind


def test_a_folder_that_is_not_a_cv_folder_is_not_replaced(result, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a CV folder"):
        save_cv(result, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    with pytest.raises(FileNotFoundError, match="not a CV folder"):
        read_cv_folder(tmp_path / "mine")


@pytest.mark.parametrize("name, keep, message", [
    ("cv.json", 10, r"cv\.json: not a prodmatch CV summary \(.*\); re-run `prodmatch cv`"),
    ("candidates.npz", 200, r"candidates\.npz is truncated or corrupted \(.*\); run `prodmatch cv` again"),
    ("curves.json", 3, r"curves\.json is truncated or corrupted \(.*\); run `prodmatch cv` again"),
])
def test_a_cut_off_file_of_the_folder_is_named_with_what_to_do(result, tmp_path, name, keep, message):
    from prodmatch.errors import InputError

    out = save_cv(result, tmp_path / "cv")
    (out / name).write_bytes((out / name).read_bytes()[:keep])
    with pytest.raises(InputError, match=message):
        read_cv_folder(out)
