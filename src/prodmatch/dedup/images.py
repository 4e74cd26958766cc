"""The image column's phashes: the column itself when it holds 16-hex phashes, else the ``imagehash.phash`` of
each image file it names (relative to ``images_dir``, by default the table's folder), as the Shopee data's
publisher computed theirs. Every record needs one: an empty cell or an unreadable file is an error naming the
row (leave ``--image`` out to match by text alone)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prodmatch.data.validation import PHASH_RE, DataValidationError
from prodmatch.dedup.table import DedupTable


def phash_of_file(path: Path) -> str:
    import imagehash
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return str(imagehash.phash(image.convert("RGB")))
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from None


def table_phashes(table: DedupTable, images_dir: str | Path | None = None) -> np.ndarray | None:
    """One 16-hex phash per record (lower case), or None when the table has no image column."""
    column = table.columns.image
    if column is None:
        return None
    values = table.frame[column].str.strip()
    empty = np.flatnonzero(values.eq("").to_numpy())
    if len(empty):
        raise DataValidationError(table.path, f"{len(empty)} record(s) have no image; every record needs one, or leave "
                                              "--image out to match by text alone", row=int(empty[0]), column=column)
    if values.str.fullmatch(PHASH_RE).all():
        return values.str.lower().to_numpy(dtype=object)
    folder = Path(images_dir) if images_dir is not None else table.path.parent
    out = np.empty(len(values), dtype=object)
    for row, name in enumerate(values):
        try:
            out[row] = phash_of_file(folder / name)
        except ValueError as exc:
            raise DataValidationError(table.path, f"{exc}; fix the file or leave --image out", row=row,
                                      column=column) from None
    return out
