"""Validation of Kaggle-layout tables. Every error names the file, the row and the column.

Rows are reported as 0-based data rows together with the 1-based line of the CSV file (line 1 is the
header), so ``row 3 (line 5)`` can be found with ``sed -n 5p file``.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.data.images import image_name_problem
from prodmatch.errors import InputError

PHASH_RE = re.compile(r"^[0-9a-fA-F]{16}$")

TRAIN_COLUMNS = ("posting_id", "image", "image_phash", "title", "label_group")
TEST_COLUMNS = ("posting_id", "image", "image_phash", "title")
SUBMISSION_COLUMNS = ("posting_id", "matches")


class DataValidationError(InputError, ValueError):
    """A data file that prodmatch refuses to use, with where the problem is."""

    def __init__(self, file: str | Path, message: str, row: int | None = None, column: str | None = None):
        self.file = str(file)
        self.row = row
        self.column = column
        where = [self.file]
        if row is not None:
            where.append(f"row {row} (line {row + 2})")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {message}")


class DataWarning(UserWarning):
    """A documented fallback was applied to input data."""


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...], file: str | Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        separator = next((s for s in (";", "\t", "|") if len(frame.columns) == 1 and s in str(frame.columns[0])), None)
        hint = f" (the file is separated by {separator!r}: save it with commas)" if separator else ""
        raise DataValidationError(
            file, f"missing required column(s) {missing}; found {list(frame.columns)}{hint}", column=missing[0]
        )


def check_non_empty(frame: pd.DataFrame, file: str | Path, column: str) -> None:
    empty = np.flatnonzero(frame[column].str.strip().eq("").to_numpy())
    if len(empty):
        raise DataValidationError(file, f"empty {column}", row=int(empty[0]), column=column)


def check_unique_ids(frame: pd.DataFrame, file: str | Path, column: str = "posting_id") -> None:
    """Every id non-empty, without whitespace (submissions and result files separate ids with spaces), and
    unique."""
    check_non_empty(frame, file, column)
    ids = frame[column]
    spaced = np.flatnonzero(ids.str.contains(r"\s", regex=True).to_numpy())
    if len(spaced):
        row = int(spaced[0])
        raise DataValidationError(
            file, f"{column} {ids.iloc[row]!r} contains whitespace; ids are separated by spaces in a submission, "
            "so an id must be one word" + (f" ({len(spaced)} such rows)" if len(spaced) > 1 else ""),
            row=row, column=column)
    duplicated = np.flatnonzero(ids.duplicated(keep="first").to_numpy())
    if len(duplicated):
        row = int(duplicated[0])
        first = int(np.flatnonzero((ids == ids.iloc[row]).to_numpy())[0])
        raise DataValidationError(
            file, f"duplicate {column} {ids.iloc[row]!r} (first seen at row {first})", row=row, column=column
        )


def check_image_names(frame: pd.DataFrame, file: str | Path, column: str = "image") -> None:
    """Every image name a path inside the images folder: an absolute path or a ``..`` step is refused (it
    would read a file outside the folder). Empty names are a documented fallback (a grey placeholder)."""
    names = frame[column]
    maybe = names.str.startswith("/") | names.str.contains(r"(?:^|/)\.\.(?:/|$)|\x00", regex=True)  # fast pre-filter
    bad = [int(row) for row in np.flatnonzero(maybe.to_numpy()) if image_name_problem(names.iloc[row])]
    if bad:
        row = bad[0]
        raise DataValidationError(
            file, f"image name {names.iloc[row]!r} {image_name_problem(names.iloc[row])}: it leaves the images folder; "
            "image names are file names inside it (link or copy the files there)"
            + (f" ({len(bad)} such rows)" if len(bad) > 1 else ""), row=row, column=column)


def check_phash(frame: pd.DataFrame, file: str | Path, column: str = "image_phash") -> None:
    bad = np.flatnonzero(~frame[column].str.fullmatch(PHASH_RE).fillna(False).to_numpy())
    if len(bad):
        row = int(bad[0])
        raise DataValidationError(
            file,
            f"image_phash must be 16 hex characters, got {frame[column].iloc[row]!r}"
            + (f" ({len(bad)} bad rows)" if len(bad) > 1 else ""),
            row=row,
            column=column,
        )


INTEGER_RE = r"[+-]?\d+(?:\.0*)?"  # "123", "-5", "123.0" (as pandas writes an integer column that had a NaN)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def parse_label_group(frame: pd.DataFrame, file: str | Path, column: str = "label_group") -> pd.Series:
    """label_group as exact int64: parsed from the digits, never through a float (ids above 2**53 would collide)
    and never wrapped (a label beyond int64 is refused, not merged with others)."""
    raw = frame[column].str.strip()
    missing = np.flatnonzero(raw.eq("").to_numpy())
    if len(missing):
        raise DataValidationError(file, "label_group is missing", row=int(missing[0]), column=column)
    bad = np.flatnonzero(~raw.str.fullmatch(INTEGER_RE).to_numpy())
    if len(bad):
        row = int(bad[0])
        raise DataValidationError(
            file, f"label_group must be an integer, got {raw.iloc[row]!r}", row=row, column=column
        )
    values = [int(text.split(".")[0]) for text in raw]
    for row, value in enumerate(values):
        if not INT64_MIN <= value <= INT64_MAX:
            raise DataValidationError(
                file, f"label_group {raw.iloc[row]} does not fit in a 64-bit integer; labels are compared exactly, "
                "so it is refused rather than rounded into another group", row=row, column=column)
    return pd.Series(np.array(values, dtype=np.int64), index=frame.index, name=column)


def fill_empty_titles(frame: pd.DataFrame, file: str | Path, column: str = "title") -> pd.Series:
    """Documented fallback: a NaN/empty title becomes "" with a warning; other sources still match it."""
    titles = frame[column]
    empty = np.flatnonzero(titles.str.strip().eq("").to_numpy())
    if len(empty):
        shown = ", ".join(str(r) for r in empty[:5]) + (" ..." if len(empty) > 5 else "")
        warnings.warn(
            f"{file}: column '{column}': {len(empty)} empty or missing title(s) at row(s) {shown}; "
            "they are kept as empty strings and match only through image/phash sources",
            DataWarning,
            stacklevel=3,
        )
    return titles.fillna("")
