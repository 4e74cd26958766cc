"""Images for the report as data URIs: downscaled JPEG thumbnails, and phash grids when there is no image."""

from __future__ import annotations

import base64
import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from prodmatch.data.images import image_path, pixel_limit_problem
from prodmatch.data.validation import DataWarning

DEFAULT_THUMB_SIZE = 112
JPEG_QUALITY = 72
PHASH_CELL = 6  # pixels per phash bit in the grid rendering (8 x 8 bits -> 48 x 48 px)
_ON = (38, 50, 72)
_OFF = (226, 232, 240)


def data_uri(payload: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def thumbnail_uri(path: str | Path, size: int = DEFAULT_THUMB_SIZE, quality: int = JPEG_QUALITY) -> str | None:
    """The image at ``path`` fitted into ``size`` x ``size`` as a JPEG data URI; None if missing/unreadable or
    over the pixel limit (with a warning: it is not decoded)."""
    too_large = pixel_limit_problem(path)
    if too_large:
        warnings.warn(f"{path}: {too_large}; no thumbnail in the report", DataWarning, stacklevel=2)
        return None
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size * 2, size * 2))  # JPEG: decode at a reduced scale, much faster
            image = image.convert("RGB")
            image.thumbnail((size, size), Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=quality, optimize=True)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return data_uri(buffer.getvalue(), "image/jpeg")


def phash_bits(phash: str) -> np.ndarray | None:
    """The 64 bits of a 16-hex-character phash as an 8 x 8 bool grid (row-major, as imagehash writes it)."""
    if not isinstance(phash, str) or len(phash) != 16:
        return None
    try:
        value = int(phash, 16)
    except ValueError:
        return None
    bits = [(value >> (63 - i)) & 1 for i in range(64)]
    return np.array(bits, dtype=bool).reshape(8, 8)


def phash_grid_uri(phash: str, cell: int = PHASH_CELL) -> str | None:
    """A small PNG of the phash's 8 x 8 bits (dark = 1), or None when ``phash`` is not 16 hex characters."""
    bits = phash_bits(phash)
    if bits is None:
        return None
    pixels = np.where(bits[..., None], np.array(_ON, np.uint8), np.array(_OFF, np.uint8)).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB").resize((8 * cell, 8 * cell), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.convert("P", palette=Image.Palette.ADAPTIVE, colors=2).save(buffer, format="PNG", optimize=True)
    return data_uri(buffer.getvalue(), "image/png")


class ImageCache:
    """Thumbnails per file name (rows often share an image), phash grids per hash."""

    def __init__(self, images_dir: str | Path | None, size: int = DEFAULT_THUMB_SIZE):
        self.images_dir = Path(images_dir) if images_dir else None
        self.size = size
        self._thumbs: dict[str, str | None] = {}
        self._grids: dict[str, str | None] = {}
        self.n_thumbnails = 0
        self.n_grids = 0

    def thumbnail(self, image_name: str) -> str | None:
        if self.images_dir is None or not image_name:
            return None
        if image_name not in self._thumbs:
            path = image_path(self.images_dir, image_name)
            self._thumbs[image_name] = thumbnail_uri(path, self.size) if path.is_file() else None
        uri = self._thumbs[image_name]
        self.n_thumbnails += uri is not None
        return uri

    def phash_grid(self, phash: str) -> str | None:
        if phash not in self._grids:
            self._grids[phash] = phash_grid_uri(phash)
        uri = self._grids[phash]
        self.n_grids += uri is not None
        return uri
