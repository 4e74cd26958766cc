"""Reading a Kaggle-layout folder: train.csv, test.csv, sample_submission.csv, train_images/, test_images/."""

from __future__ import annotations

import csv
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from prodmatch.data.validation import (
    SUBMISSION_COLUMNS,
    TEST_COLUMNS,
    TRAIN_COLUMNS,
    DataValidationError,
    check_image_names,
    check_phash,
    check_unique_ids,
    fill_empty_titles,
    parse_label_group,
    require_columns,
)


@contextmanager
def csv_read_errors(path: Path):
    """A CSV parser's failures (pandas or dask.dataframe) as one-line errors naming ``path``."""
    try:
        yield
    except PermissionError as exc:
        raise DataValidationError(path, f"cannot read the file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise not_utf8_error(path) from None
    except pd.errors.EmptyDataError:
        raise DataValidationError(path, "file is empty (no header)") from None
    except pd.errors.ParserError as exc:
        raise multi_line_error(path, "the rows after it are lost") or \
            DataValidationError(path, f"malformed CSV: {exc}") from None


def read_csv_strings(path: str | Path) -> pd.DataFrame:
    """Read a CSV keeping every cell a string ("" for empty), wrapping parser errors with the file name.

    One record per line: a cell with a line break in it is refused (in the competition files it only comes
    from an opening quote that is never closed, which would silently swallow the rows after it), and so is
    any other disagreement between the rows parsed and the file's non-blank lines.
    """
    path = Path(path)
    if path.is_dir():
        raise DataValidationError(path, "is a folder, not a CSV file")
    if not path.is_file():
        raise DataValidationError(path, "file not found")
    with csv_read_errors(path):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8")
    frame.columns = [str(c).strip() for c in frame.columns]
    check_one_record_per_line(frame, path)
    return frame


def not_utf8_error(path: Path) -> DataValidationError:
    """Where the first byte that is not UTF-8 is: its offset in the file, its row, line and column."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw.count(b"\n", 0, exc.start) + 1
        header = raw[: raw.find(b"\n")].decode("utf-8", errors="replace")
        before = raw[line_start:exc.start].decode("utf-8", errors="replace")
        column = _column_at(header, before) if line > 1 else None
        byte = raw[exc.start:exc.start + 1].hex()
        return DataValidationError(path, f"not UTF-8 text: byte 0x{byte} at offset {exc.start} ({exc.reason}); "
                                         "save the file as UTF-8", row=line - 2 if line > 1 else None, column=column)
    return DataValidationError(path, "not UTF-8 text")  # pragma: no cover - pandas and bytes.decode agree


def _column_at(header: str, line_prefix: str) -> str | None:
    """The header name of the cell that ``line_prefix`` (the start of a data line) ends in."""
    names = next(csv.reader([header]), [])
    cells = next(csv.reader([line_prefix]), [""])
    position = len(cells) - 1
    return names[position].strip() if 0 <= position < len(names) else None


def check_one_record_per_line(frame: pd.DataFrame, path: Path) -> None:
    """The rows parsed must be the file's non-blank lines after the header (see :func:`read_csv_strings`)."""
    with open(path, encoding="utf-8", newline="") as handle:
        data_lines = sum(1 for line in handle if line.strip()) - 1
    if data_lines == len(frame):
        return
    raise multi_line_error(path, f"the file's {data_lines} data lines read as {len(frame)} rows") or \
        DataValidationError(path, f"{data_lines} non-blank data lines but {len(frame)} rows parsed; is the file a "
                                  "well-formed CSV with one posting per line?")


def multi_line_error(path: Path, consequence: str) -> DataValidationError | None:
    """The first cell that runs over several lines (an opening quote never closed), as an error; None if none."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        records = (cells for cells in reader if any(cell.strip() for cell in cells))  # blank lines are no rows
        for row, cells in enumerate(records):
            for position, cell in enumerate(cells):
                if "\n" in cell or "\r" in cell:
                    column = header[position].strip() if position < len(header) else None
                    return DataValidationError(
                        path, f"this cell runs over several lines, so {consequence}: an opening quote that is never "
                        "closed? (a cell must not contain a line break)", row=row, column=column)
    return None


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
    check_image_names(frame, path)
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
    def of(cls, root: str | Path) -> DataDir:
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
