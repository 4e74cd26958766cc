import os

import pytest

from prodmatch.fileio import atomic_dir, atomic_open, write_json


def test_atomic_open_replaces_only_on_success_and_keeps_normal_permissions(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    write_json(target, {"a": 1})
    assert target.read_text().strip().startswith("{")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_atomic_dir_swaps_a_complete_folder(tmp_path):
    target = tmp_path / "data"
    with atomic_dir(target) as tmp:
        (tmp / "a.csv").write_text("x")
    assert (target / "a.csv").read_text() == "x"
    with pytest.raises(FileExistsError, match="not empty"):
        with atomic_dir(target):
            pass
    with pytest.raises(ValueError):
        with atomic_dir(target, overwrite=True) as tmp:
            (tmp / "b.csv").write_text("y")
            raise ValueError("generation failed")
    assert sorted(p.name for p in target.iterdir()) == ["a.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
