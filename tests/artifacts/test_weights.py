"""The weights layout: fold folders, run discovery and model types, from hand-built folders."""

from pathlib import Path

import pytest

from prodmatch.artifacts.weights import (
    FoldFiles,
    expected_folds,
    find_runs,
    fold_dirs,
    fold_folders,
    run_model_type,
    run_name_of,
)


def make_fold(root: Path, run: str, fold: int, model: str = "image", n_folds: int = 3, with_model: bool = True) -> Path:
    folder = root / run / f"fold{fold}"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(f"model: {model}\nn_folds: {n_folds}\nfolds_file: null\n")
    if with_model:
        (folder / "model.pt").write_bytes(b"x")
    return folder


def test_fold_files_name_every_output(tmp_path):
    files = FoldFiles.of(tmp_path, "run", 2)
    assert files.path == tmp_path / "run" / "fold2" and files.fold == 2 and files.name == "fold2"
    assert [p.name for p in (files.model, files.config, files.metrics, files.oof, files.checkpoint)] == [
        "model.pt", "config.yaml", "metrics.json", "oof_embeddings.npz", "last.ckpt"]
    assert FoldFiles(tmp_path / "best").fold is None and FoldFiles(tmp_path / "best").name == "fold0"


def test_runs_folds_and_model_types(tmp_path):
    make_fold(tmp_path, "img", 1)
    make_fold(tmp_path, "img", 0)
    make_fold(tmp_path, "txt", 0, model="text")
    make_fold(tmp_path, "untrained", 0, with_model=False)
    (tmp_path / "notes").mkdir()
    assert find_runs(tmp_path) == {"img": tmp_path / "img", "txt": tmp_path / "txt"}
    assert fold_dirs(tmp_path / "img") == [tmp_path / "img" / "fold0", tmp_path / "img" / "fold1"]
    assert fold_dirs(tmp_path / "img" / "fold1") == [tmp_path / "img" / "fold1"]  # a fold folder is its own run
    assert [f.fold for f in fold_folders(tmp_path / "untrained", needs="config.yaml")] == [0]
    assert run_model_type(tmp_path / "img") == "image" and run_model_type(tmp_path / "txt" / "fold0") == "text"
    assert run_model_type(tmp_path / "notes") is None
    assert run_name_of(tmp_path / "img" / "fold1") == "img" and run_name_of(tmp_path / "img") == "img"
    assert expected_folds(tmp_path / "img") == [0, 1, 2]
    assert find_runs(tmp_path / "missing") == {}
    with pytest.raises(FileNotFoundError, match="no fold<k>/model.pt"):
        fold_dirs(tmp_path / "untrained")
    with pytest.raises(FileNotFoundError, match="not found"):
        fold_dirs(tmp_path / "nope")


@pytest.mark.parametrize("text, message", [("model: [image\n", "is truncated or corrupted"),
                                           ("- image\n", "is not a training config")])
def test_a_broken_fold_config_is_named_with_what_to_do(tmp_path, text, message):
    from prodmatch.errors import CorruptFileError

    folder = make_fold(tmp_path, "run", 0)
    (folder / "config.yaml").write_text(text)
    with pytest.raises(CorruptFileError, match=rf"fold0/config\.yaml {message}.*retrain fold0"):
        run_model_type(tmp_path / "run")
