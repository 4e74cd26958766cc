"""Reading a Kaggle-layout folder: train.csv, test.csv, sample_submission.csv, train_images/, test_images/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from prodmatch.data.validation import (
    SUBMISSION_COLUMNS,
    TEST_COLUMNS,
    TRAIN_COLUMNS,
    DataValidationError,
    check_phash,
    check_unique_ids,
    fill_empty_titles,
    parse_label_group,
    require_columns,
)


def read_csv_strings(path: str | Path) -> pd.DataFrame:
    """Read a CSV keeping every cell a string ("" for empty), wrapping parser errors with the file name."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(path, "file not found")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataValidationError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except pd.errors.EmptyDataError:
        raise DataValidationError(path, "file is empty (no header)") from None
    except pd.errors.ParserError as exc:
        raise DataValidationError(path, f"malformed CSV: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def read_postings(path: str | Path, labelled: bool) -> pd.DataFrame:
    """Read and validate train.csv (``labelled=True``) or test.csv.

    Returns posting_id, image, image_phash, title (str) and, for train, label_group (int64), in file order.
    """
    frame = read_csv_strings(path)
    columns = TRAIN_COLUMNS if labelled else TEST_COLUMNS
    require_columns(frame, columns, path)
    if len(frame) == 0:
        raise DataValidationError(path, "no data rows")
    frame = frame[list(columns)].copy()
    check_unique_ids(frame, path)
    check_phash(frame, path)
    frame["image_phash"] = frame["image_phash"].str.lower()
    frame["title"] = fill_empty_titles(frame, path)
    if labelled:
        frame["label_group"] = parse_label_group(frame, path)
    return frame.reset_index(drop=True)


def read_train(path: str | Path) -> pd.DataFrame:
    return read_postings(path, labelled=True)


def read_test(path: str | Path) -> pd.DataFrame:
    return read_postings(path, labelled=False)


def read_sample_submission(path: str | Path) -> pd.DataFrame:
    frame = read_csv_strings(path)
    require_columns(frame, SUBMISSION_COLUMNS, path)
    check_unique_ids(frame, path)
    return frame


@dataclass(frozen=True)
class DataDir:
    """Paths of a Kaggle-layout competition folder."""

    root: Path

    @classmethod
    def of(cls, root: str | Path) -> "DataDir":
        root = Path(root)
        if not root.is_dir():
            raise DataValidationError(root, "data directory not found")
        return cls(root)

    @property
    def train_csv(self) -> Path:
        return self.root / "train.csv"

    @property
    def test_csv(self) -> Path:
        return self.root / "test.csv"

    @property
    def sample_submission_csv(self) -> Path:
        return self.root / "sample_submission.csv"

    @property
    def train_images(self) -> Path:
        return self.root / "train_images"

    @property
    def test_images(self) -> Path:
        return self.root / "test_images"

    def images_dir(self, split: str) -> Path:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return self.root / f"{split}_images"

    def read_train(self) -> pd.DataFrame:
        return read_train(self.train_csv)

    def read_test(self) -> pd.DataFrame:
        return read_test(self.test_csv)
