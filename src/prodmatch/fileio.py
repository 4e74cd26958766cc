"""Writing outputs safely: readers never see a half-written file, and a bad output path fails before the work.

- :func:`atomic_path` / :func:`atomic_open` / :func:`atomic_dir`: write to a hidden temporary beside the
  target, then rename it into place. On an error, or SIGTERM (turned into ``SystemExit`` while the temporary
  exists), the temporary is removed and the old target is left as it was.
- :func:`check_output_file` / :func:`check_output_dir`: refuse, up front, an output that is an input of the
  same run, a folder where a file goes (or a file where a folder goes), a device node or a symbolic link (a
  rename would replace the link itself), or whose folder cannot be written.
- A full disk or a read-only folder while writing is an :class:`OutputPathError` that names the file.
- :func:`output_lock`: one run at a time per output (two runs writing the same ``--out`` could otherwise
  leave the submission of one beside the thresholds file of the other).
- :func:`read_errors`: reading back a file prodmatch wrote (a model, an embedding file, a CV folder's JSON)
  that was cut short or overwritten is a :class:`CorruptFileError` naming it and how to make it again.
- A run killed with SIGKILL (or a power cut) cleans nothing up. Each temporary is held under an ``flock``
  while it is written, so the next write of the same output tells a dead writer's leftover from a live
  one's: leftovers are removed and a lock whose holder is gone is taken over, each with a
  :class:`StaleFileWarning`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pickle
import shutil
import signal
import stat
import tempfile
import threading
import time
import uuid
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from prodmatch.errors import CorruptFileError, MissingInputError, OutputExistsError, OutputPathError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux/macOS: no locks, no stale-file detection
    fcntl = None

# errors that mean "this output cannot be written here", as opposed to bugs
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.EIO}
# a temporary younger than this may be a live writer's, created but not locked yet
STALE_AFTER_S = 1.0


class StaleFileWarning(UserWarning):
    """A temporary or lock file left behind by a killed run was removed or taken over."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def terminate_cleanly() -> Iterator[None]:
    """Inside the block, SIGTERM raises ``SystemExit(143)`` so that ``finally`` clauses (temporary files) run.

    Only in the main thread and only when SIGTERM has its default action (an application's own handler wins).
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def exit_now(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, exit_now)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def named_write_errors(target: Path) -> Iterator[None]:
    """A full disk, a read-only folder... while writing ``target`` becomes an OutputPathError naming it."""
    try:
        yield
    except OutputPathError:
        raise
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise
        raise OutputPathError(f"could not write {target}: {exc.strerror or exc}") from exc


# what numpy, json, yaml, pickle and torch raise on a file that is cut short, overwritten or of another format
UNREADABLE = (OSError, EOFError, ValueError, KeyError, RuntimeError, zipfile.BadZipFile, pickle.UnpicklingError,
              yaml.YAMLError)


@contextlib.contextmanager
def read_errors(path: str | os.PathLike, remedy: str) -> Iterator[None]:
    """Inside the block, failing to read back ``path`` -- a file prodmatch wrote -- is a CorruptFileError:
    ``<path> is truncated or corrupted (<why>); <remedy>``. Keep the block to the reading itself, so that a
    bug in other code is not dressed up as a bad file."""
    try:
        yield
    except (CorruptFileError, MissingInputError):
        raise
    except FileNotFoundError as exc:
        raise MissingInputError(f"{path} not found; {remedy}") from exc
    except UNREADABLE as exc:
        if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS - {errno.EIO}:  # permissions, not the content
            raise CorruptFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
        raise CorruptFileError(f"{path} is truncated or corrupted ({short_reason(exc)}); {remedy}") from exc


def short_reason(exc: BaseException, limit: int = 120) -> str:
    """The first line of an exception's message, cut to ``limit`` characters, for a one-line error."""
    mark = getattr(exc, "problem_mark", None)  # YAML: what and where
    if mark is not None and getattr(exc, "problem", None):
        return f"{exc.problem} at line {mark.line + 1}, column {mark.column + 1}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def refuse_special_target(target: Path) -> None:
    """An existing output must be a regular file (a rename would replace a link, a device or a folder)."""
    if target.is_symlink():
        raise OutputPathError(f"{target} is a symbolic link; writing would replace the link with a file, so give the "
                              f"path it points to ({os.path.realpath(target)}) or another path")
    if not target.exists():
        return
    mode = target.stat().st_mode
    if stat.S_ISDIR(mode):
        raise OutputPathError(f"{target} is a folder; the output must be a file path (e.g. {target / 'out.csv'})")
    if not stat.S_ISREG(mode):
        raise OutputPathError(f"{target} is not a regular file (a device or a pipe?); choose a file path")


def check_output_file(path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = (),
                      outputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """``path`` as an output file of a run that reads ``inputs`` and also writes ``outputs``: checked before the
    run does any work."""
    if not str(path).strip():
        raise OutputPathError("the output path is empty; give a file name")
    target = Path(path)
    refuse_special_target(target)
    for source in inputs:
        if source is not None and _same_file(target, Path(source)):
            raise OutputPathError(f"{target} is an input of this run ({source}); writing it would overwrite the input, "
                                  "so choose another output path")
    for other in outputs:
        if other is not None and _same_file(target, Path(other)):
            raise OutputPathError(f"{target} is also another output of this run ({other}); one would overwrite the "
                                  "other, so choose another path")
    _check_creatable(target)
    remove_stale_temporaries(target)
    return target


def check_output_dir(path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = (),
                     overwrite: bool = True) -> Path:
    """``path`` as an output folder (written whole, as :func:`atomic_dir` does) of a run that reads ``inputs``:
    checked before the run does any work. ``overwrite=False`` refuses an existing folder that is not empty."""
    if not str(path).strip():
        raise OutputPathError("the output folder path is empty; give a folder name")
    target = Path(path)
    if target.is_symlink():
        raise OutputPathError(f"{target} is a symbolic link; writing would replace the link with a folder, so give "
                              f"the path it points to ({os.path.realpath(target)}) or another path")
    if target.exists() and not target.is_dir():
        raise OutputPathError(f"{target} is a file; the output is a folder, so choose a folder path")
    for source in inputs:
        if source is not None and _inside(Path(source), target):
            raise OutputPathError(f"{target} holds an input of this run ({source}); replacing the folder would delete "
                                  "it, so choose another output folder")
    if not overwrite and target.is_dir() and any(target.iterdir()):
        raise OutputExistsError(f"{target} exists and is not empty (pass overwrite=True / --overwrite to replace it)")
    _check_creatable(target)
    remove_stale_temporaries(target)
    return target


def _check_creatable(target: Path) -> None:
    """The nearest existing folder above ``target`` is a folder this process may write."""
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputPathError(f"cannot create {target}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot create {target}: folder {folder} is not writable")


def _inside(path: Path, folder: Path) -> bool:
    path, folder = Path(os.path.abspath(path)), Path(os.path.abspath(folder))
    return path == folder or folder in path.parents


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return os.path.abspath(a) == os.path.abspath(b)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``, on error removed."""
    target = Path(path)
    refuse_special_target(target)
    with terminate_cleanly(), named_write_errors(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target)
        tmp_path, fd = None, None
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            tmp_path = Path(tmp)
            _hold(fd)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs get the usual permissions
            yield tmp_path
            os.replace(tmp_path, target)
        finally:
            if tmp_path is not None and tmp_path.exists():
                tmp_path.unlink()
            if fd is not None:
                os.close(fd)


def _hold(fd: int) -> None:
    """Lock a temporary for as long as it is being written: the mark of a live writer."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)


def remove_stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Remove the hidden temporaries of ``target`` (``.<name>.*.tmp`` files and folders, ``.<name>.*.old``
    folders) that no live writer holds, each with a :class:`StaleFileWarning`; returns them."""
    target = Path(target)
    if fcntl is None or not target.parent.is_dir():
        return []
    prefix = f".{target.name}."
    try:
        with os.scandir(target.parent) as entries:
            candidates = [Path(e.path) for e in entries
                          if e.name.startswith(prefix) and e.name.endswith((".tmp", ".old"))]
    except OSError:
        return []
    removed = []
    for path in candidates:
        if _left_by_a_dead_writer(path):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
            warnings.warn(f"removed {path}, a temporary left behind by a run writing {target} that was killed before "
                          "it finished", StaleFileWarning, stacklevel=3)
    return removed


def _left_by_a_dead_writer(path: Path) -> bool:
    try:
        if time.time() - path.lstat().st_mtime < STALE_AFTER_S:
            return False
        if path.name.endswith(".old"):  # the previous version, swapped out; its remover died before the end
            return True
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # held: a live writer
    finally:
        os.close(fd)
    return True


@contextlib.contextmanager
def output_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on the output ``path`` (a hidden ``.<name>.lock`` beside it, removed after).

    A second run that asks for the same output while the first holds it gets an OutputPathError at once. A
    lock file left by a killed run (nobody holds its lock) is taken over with a :class:`StaleFileWarning`.
    """
    if fcntl is None:  # pragma: no cover - not on Linux/macOS: no locking
        yield
        return
    target = Path(path)
    lock_path = target.parent / f".{target.name}.lock"
    with terminate_cleanly(), named_write_errors(lock_path):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = _lock(lock_path, target)
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock_path)
            os.close(fd)


def _lock(lock_path: Path, target: Path) -> int:
    """An open, flock-ed descriptor of ``lock_path`` that is still the file at that path, holding our pid."""
    while True:
        try:
            fd, existed = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), False
        except FileExistsError:
            try:
                fd, existed = os.open(lock_path, os.O_RDWR), True
            except FileNotFoundError:
                continue  # its holder removed it meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputPathError(f"{target} is being written by another run (it holds {lock_path}); wait for it to "
                                  "finish or choose another output path") from None
        try:
            same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)  # the previous holder removed the file between our open and lock: try again
            continue
        if existed:  # a holder removes its lock file before letting go, so this one's holder died
            pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            warnings.warn(f"{lock_path} was left by a run that was killed{f' (pid {pid})' if pid else ''}; nothing "
                          f"holds it any more, so this run takes it over", StaleFileWarning, stacklevel=4)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        return fd


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``target``; on success it replaces ``target``, on error it goes.

    An existing non-empty ``target`` is refused unless ``overwrite``; it is then swapped out only after
    the new folder is complete.
    """
    target = check_output_dir(target, overwrite=overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    with terminate_cleanly(), named_write_errors(target):
        yield from _swap_in_dir(target)


def _swap_in_dir(target: Path) -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    fd = os.open(tmp, os.O_RDONLY)
    try:
        _hold(fd)
        os.chmod(tmp, 0o755)
        yield tmp
        if target.exists():
            old = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.old"
            os.rename(target, old)
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any):
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as handle:
            yield handle


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_open(path, "w", encoding="utf-8") as handle:
        json.dump(obj, handle, indent=2, sort_keys=False, default=_json_default)
        handle.write("\n")


def write_csv(path: str | os.PathLike, frame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def _json_default(obj: Any):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
