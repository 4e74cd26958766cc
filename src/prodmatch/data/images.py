"""Which image files can be used, told without decoding them: the file exists, is not empty, starts like an
image format and, for a JPEG, ends with the end-of-image marker (OpenCV decodes a cut-off JPEG without an
error, with a grey lower part). Reads 16 bytes at the start and 4 KB at the end of each file, so a whole
train_images/ folder is checked in seconds; a file that passes can still fail to decode later (the embedding
step then uses a grey placeholder and says so).

Two rules keep reads safe:

- An image name is a path *inside* its images folder (:func:`image_path`): an absolute path or a ``..`` step
  that would read a file outside it is an error (the CSV readers refuse it with its row). Symbolic links placed
  in the folder are followed: whoever filled the folder put them there.
- An image whose header says it has more than :data:`MAX_IMAGE_PIXELS` pixels is not decoded
  (:func:`pixel_limit_problem`): it is unusable, like a missing file, with the same warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from prodmatch.errors import InputError

# Pillow's default decompression-bomb limit (about 9,459 x 9,459): far above product photos (a 48-megapixel
# phone photo passes), far below what one decode may allocate (12,000 x 12,000 RGB is 432 MB)
MAX_IMAGE_PIXELS = 89_478_485

JPEG_START = b"\xff\xd8"
JPEG_END = b"\xff\xd9"
TAIL_BYTES = 4096
# leading bytes of the formats OpenCV decodes that product photos come in
SIGNATURES = (JPEG_START, b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")


def cut_off_problem(head: bytes, tail: bytes) -> str:
    """"empty file" or "truncated JPEG" for a file with these first and last bytes, else ""."""
    if not head:
        return "empty file"
    if head.startswith(JPEG_START) and JPEG_END not in tail:
        return "truncated JPEG"
    return ""


def image_bytes_problem(head: bytes, tail: bytes) -> str:
    """Why a file with these first and last bytes is not a usable image ("" when it may be one)."""
    problem = cut_off_problem(head, tail)
    if problem:
        return problem
    if head.startswith(SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return ""
    return "not an image file"


class ImagePathError(InputError, ValueError):
    """An image name that would read a file outside its images folder."""


def image_name_problem(name: str) -> str:
    """Why ``name`` cannot name a file inside an images folder ("" when it can)."""
    if "\0" in name:
        return "contains a NUL byte"
    path = PurePosixPath(name)
    if path.is_absolute():
        return "is an absolute path"
    if ".." in path.parts:
        return "has a '..' step"
    return ""


def image_path(images_dir: str | Path, name) -> Path:
    """``images_dir / name``, refusing a name that leaves the folder (an ImagePathError naming it)."""
    problem = image_name_problem(str(name))
    if problem:
        raise ImagePathError(f"image name {str(name)!r} {problem}: it leaves the images folder {images_dir}; image "
                             "names are file names inside it (link or copy the files there)")
    return Path(images_dir) / str(name)


def pixel_limit_problem(source: str | Path | BinaryIO, limit: int = MAX_IMAGE_PIXELS) -> str:
    """"W x H pixels, over the limit ..." when the image header of ``source`` (a path or a binary file) says
    it is larger than ``limit`` pixels, else "" (also when the header cannot be read: the decoder decides)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source) as image:  # reads the header only
                width, height = image.size
    except Image.DecompressionBombError:
        return f"over twice Pillow's limit of {Image.MAX_IMAGE_PIXELS:,} pixels (a decompression bomb?)"
    except (OSError, ValueError, SyntaxError):  # not a format Pillow knows, or a broken header
        return ""
    if width * height > limit:
        return f"{width} x {height} pixels, over the limit of {limit:,} (a decompression bomb?)"
    return ""


def image_file_problem(path: str | Path) -> str:
    """Why the image file at ``path`` cannot be used ("" when it looks usable)."""
    path = Path(path)
    if path.is_dir():
        return "not a file (empty image name?)"
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
            size = handle.seek(0, 2)
            handle.seek(max(size - TAIL_BYTES, 0))
            tail = handle.read()
    except FileNotFoundError:
        return "file not found"
    except OSError as exc:
        return f"unreadable ({exc.strerror or type(exc).__name__})"
    return image_bytes_problem(head, tail)


def unusable_images(images_dir: str | Path, names: Sequence[str]) -> dict[int, str]:
    """Row position -> why its image cannot be used, for the image file names of a frame's rows."""
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        return {i: f"no {images_dir.name}/ folder" for i in range(len(names))}
    problems = {}
    for position, name in enumerate(names):
        problem = _named_image_problem(images_dir, name)
        if problem:
            problems[position] = problem
    return problems


def any_usable_image(images_dir: str | Path, names: Sequence[str]) -> bool:
    """Whether at least one of the named images can be used (stops at the first that can)."""
    images_dir = Path(images_dir)
    return images_dir.is_dir() and any(not _named_image_problem(images_dir, name) for name in names)


def _named_image_problem(images_dir: Path, name) -> str:
    return "empty image name" if not str(name).strip() else image_file_problem(image_path(images_dir, name))
