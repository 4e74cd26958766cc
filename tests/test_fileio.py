import os
from pathlib import Path

import pytest

from prodmatch.fileio import atomic_dir, atomic_open, check_output_file, write_json


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


def test_outputs_that_must_not_be_replaced_are_refused_before_any_work(tmp_path):
    from prodmatch.errors import OutputPathError
    from prodmatch.fileio import check_output_file

    test_csv = tmp_path / "test.csv"
    test_csv.write_text("posting_id\n")
    with pytest.raises(OutputPathError, match="is an input of this run"):
        check_output_file(tmp_path / "." / "test.csv", inputs=[test_csv])
    with pytest.raises(OutputPathError, match="is a folder"):
        check_output_file(tmp_path, inputs=[test_csv])
    with pytest.raises(OutputPathError, match="empty"):
        check_output_file("")
    os.symlink(test_csv, tmp_path / "link.csv")
    with pytest.raises(OutputPathError, match="symbolic link"):
        check_output_file(tmp_path / "link.csv")
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(OutputPathError, match="not a regular file"):
        check_output_file(tmp_path / "pipe.csv")
    assert check_output_file(tmp_path / "new" / "sub.csv", inputs=[test_csv]) == tmp_path / "new" / "sub.csv"


def test_atomic_writes_never_replace_a_link_or_a_device_with_a_file(tmp_path):
    from prodmatch.errors import OutputPathError

    real = tmp_path / "real.csv"
    real.write_text("keep")
    os.symlink(real, tmp_path / "link.csv")
    os.mkfifo(tmp_path / "pipe")
    for target in (tmp_path / "link.csv", tmp_path / "pipe"):
        with pytest.raises(OutputPathError):
            with atomic_open(target) as handle:
                handle.write("new")
    assert (tmp_path / "link.csv").is_symlink() and real.read_text() == "keep"
    assert not (tmp_path / "pipe").is_file()


def test_a_full_disk_names_the_file_and_leaves_nothing_behind(tmp_path):
    import errno

    from prodmatch.errors import OutputPathError

    target = tmp_path / "submission.csv"
    with pytest.raises(OutputPathError, match=r"could not write .*submission\.csv: No space left on device"):
        with atomic_open(target) as handle:
            handle.write("x")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert list(tmp_path.iterdir()) == []


SIGTERM_WRITER = """
import sys, time
from prodmatch.fileio import {what}
with {what}(sys.argv[1]) as tmp:
    print(tmp, flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("what", ["atomic_path", "atomic_dir", "output_lock"])
def test_sigterm_in_the_write_window_leaves_no_hidden_file(tmp_path, what):
    import signal
    import subprocess
    import sys

    target = tmp_path / "out.csv"
    target.write_text("old") if what != "atomic_dir" else None
    child = subprocess.Popen([sys.executable, "-c", SIGTERM_WRITER.format(what=what), str(target)],
                             stdout=subprocess.PIPE, text=True)
    child.stdout.readline()  # inside the window
    assert any(p.name.startswith(".out.csv.") for p in tmp_path.iterdir())
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 128 + signal.SIGTERM
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    if what != "atomic_dir":
        assert target.read_text() == "old"


def test_a_second_run_on_the_same_output_is_refused_while_the_first_holds_it(tmp_path):
    import subprocess
    import sys

    from prodmatch.errors import OutputPathError
    from prodmatch.fileio import output_lock

    target = tmp_path / "submission.csv"
    child = subprocess.Popen([sys.executable, "-c", SIGTERM_WRITER.format(what="output_lock"), str(target)],
                             stdout=subprocess.PIPE, text=True)
    try:
        child.stdout.readline()
        with pytest.raises(OutputPathError, match="being written by another run"):
            with output_lock(target):
                pass
    finally:
        child.terminate()
        child.wait(timeout=30)
    with output_lock(target):  # free again once the first run is gone
        pass
    assert list(tmp_path.iterdir()) == []


def _kill_inside(what: str, target) -> None:
    """Start a writer that enters ``what`` on ``target``, then SIGKILL it inside the window (no cleanup runs)."""
    import signal
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", SIGTERM_WRITER.format(what=what), str(target)],
                             stdout=subprocess.PIPE, text=True)
    child.stdout.readline()
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL


def _age(path, seconds: float = 60.0) -> None:
    """As if the killed run were some time ago (a file younger than STALE_AFTER_S may be a writer's brand-new one)."""
    import time

    os.utime(path, (time.time() - seconds, time.time() - seconds))


@pytest.mark.parametrize("what", ["atomic_path", "atomic_dir"])
def test_a_temporary_left_by_a_killed_run_is_removed_by_the_next_write_and_said(tmp_path, what):
    from prodmatch.fileio import StaleFileWarning

    target = tmp_path / "out.csv"
    _kill_inside(what, target)
    (left,) = [p for p in tmp_path.iterdir() if p.name.startswith(".out.csv.")]
    assert left.name.endswith(".tmp")
    _age(left)
    with pytest.warns(StaleFileWarning, match=r"removed .*\.out\.csv\..*\.tmp.*killed"):
        if what == "atomic_path":
            with atomic_open(target) as handle:
                handle.write("new")
        else:
            with atomic_dir(target) as tmp:
                (tmp / "a.csv").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_a_live_writers_temporary_is_left_alone(tmp_path):
    import subprocess
    import sys
    import warnings

    target = tmp_path / "out.csv"
    child = subprocess.Popen([sys.executable, "-c", SIGTERM_WRITER.format(what="atomic_path"), str(target)],
                             stdout=subprocess.PIPE, text=True)
    try:
        live = Path(child.stdout.readline().strip())
        _age(live)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            write_json(target, {"a": 1})
        assert live.exists()
    finally:
        child.terminate()
        child.wait(timeout=30)


def test_a_lock_left_by_a_killed_run_is_taken_over_with_a_message(tmp_path):
    from prodmatch.fileio import StaleFileWarning, output_lock

    target = tmp_path / "submission.csv"
    _kill_inside("output_lock", target)
    assert [p.name for p in tmp_path.iterdir()] == [".submission.csv.lock"]
    with pytest.warns(StaleFileWarning, match=r"\.submission\.csv\.lock was left by a run that was killed \(pid \d+\)"):
        with output_lock(target):
            pass
    assert list(tmp_path.iterdir()) == []


def test_output_folders_are_checked_before_any_work(tmp_path):
    from prodmatch.errors import OutputPathError
    from prodmatch.fileio import check_output_dir

    (tmp_path / "file").write_text("x")
    (tmp_path / "data").mkdir()
    with pytest.raises(OutputPathError, match="is a file"):
        check_output_dir(tmp_path / "file")
    with pytest.raises(OutputPathError, match="not a folder"):
        check_output_dir(tmp_path / "file" / "out")
    with pytest.raises(OutputPathError, match="empty"):
        check_output_dir(" ")
    with pytest.raises(OutputPathError, match="holds an input of this run"):
        check_output_dir(tmp_path, inputs=[tmp_path / "data"])
    os.symlink(tmp_path / "data", tmp_path / "link")
    with pytest.raises(OutputPathError, match="symbolic link"):
        check_output_dir(tmp_path / "link")
    assert check_output_dir(tmp_path / "new" / "out", inputs=[tmp_path / "data"]) == tmp_path / "new" / "out"


def test_a_read_only_folder_is_refused_up_front(tmp_path, monkeypatch):
    """As root (the test machine), chmod does not stop writes; a real read-only mount answers access() like this."""
    from prodmatch.errors import OutputPathError
    from prodmatch.fileio import check_output_dir

    real_access = os.access
    monkeypatch.setattr(os, "access",
                        lambda path, mode: False if str(path) == str(tmp_path) else real_access(path, mode))
    with pytest.raises(OutputPathError, match="is not writable"):
        check_output_file(tmp_path / "out.csv")
    with pytest.raises(OutputPathError, match="is not writable"):
        check_output_dir(tmp_path / "cv")
    with pytest.raises(OutputPathError, match="is not writable"):
        with atomic_dir(tmp_path / "cv"):
            raise AssertionError("the work started")
