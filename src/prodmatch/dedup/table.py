"""A product table to deduplicate: read (CSV or Parquet), its columns mapped to roles, validated, and turned into
the per-record inputs sources and pair features read (:class:`~prodmatch.search.features.Features`).

Roles: ``id`` (unique, one word), ``title`` (the main text), any number of extra ``texts`` (a description...),
an optional ``brand`` (a short text field), ``numbers`` (a price...), an ``image`` column (16-hex phashes, or
image files whose phash is computed) and a ``source`` (which catalogue a record comes from, for clean-clean
matching). Every cell is read as a string; a mistake in the table is a
:class:`~prodmatch.data.validation.DataValidationError` naming the file, the row and the column.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.data.reading import read_csv_strings
from prodmatch.data.titles import clean_titles
from prodmatch.data.validation import (
    PHASH_RE,
    DataValidationError,
    DataWarning,
    check_unique_ids,
    fill_empty_titles,
    require_columns,
)
from prodmatch.dedup.vocab import PARQUET, TABLE_SUFFIXES
from prodmatch.errors import ArgumentError, MissingInputError
from prodmatch.search.features import Features, PostingFields

# feature-name prefixes the pair model already uses: a field may not be named like them
RESERVED_FIELD_NAMES = {"title", "quantity", "number", "code", "codes", "pair"}
_NOT_NAME = re.compile(r"[^0-9a-z]+")
_NUMBER_NOISE = re.compile(r"[\s$€£¥,]|usd|eur|gbp", flags=re.IGNORECASE)
MAX_UNPARSED_SHARE = 0.5  # a number column with more values that are not numbers than this is not one


@dataclass(frozen=True)
class Columns:
    """Which column plays which role."""

    id: str
    title: str
    texts: tuple[str, ...] = ()
    brand: str | None = None
    numbers: tuple[str, ...] = ()
    image: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        named = self.used()
        repeated = sorted({c for c in named if named.count(c) > 1})
        if repeated:
            raise ArgumentError(f"column(s) {repeated} given for more than one role; each column plays one role")

    def used(self) -> list[str]:
        """Every column the roles name, in role order."""
        return [c for c in (self.id, self.title, *self.texts, self.brand, *self.numbers, self.image, self.source)
                if c is not None]

    def field_names(self) -> dict[str, str]:
        """column -> its name in pair features (``description.jaccard``): the column lower-cased, other
        characters as ``_``; a name the pair model already uses gets a ``field_`` prefix."""
        names = {}
        for column in (*self.texts, *([self.brand] if self.brand else []), *self.numbers):
            name = _NOT_NAME.sub("_", column.lower()).strip("_") or "field"
            if name in RESERVED_FIELD_NAMES or name in names.values():
                name = f"field_{name}"
                while name in names.values():
                    name += "_"
            names[column] = name
        return names

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> Columns:
        return cls(data["id"], data["title"], tuple(data.get("texts") or ()), data.get("brand"),
                   tuple(data.get("numbers") or ()), data.get("image"), data.get("source"))


def table_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ArgumentError(f"{path}: a table must be a CSV or Parquet file ({', '.join(TABLE_SUFFIXES)}), "
                            f"got {suffix or 'no suffix'!r}")
    return TABLE_SUFFIXES[suffix]


def read_strings(path: str | Path) -> pd.DataFrame:
    """Every cell as a string ("" for missing), column names as strings, from a CSV or Parquet file."""
    path = Path(path)
    kind = table_format(path)
    if not path.is_file():
        raise MissingInputError(f"{path}: table not found")
    if kind != PARQUET:
        return read_csv_strings(path)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ArgumentError(f"{path}: reading Parquet needs pyarrow (pip install 'pyarrow>=15')") from None
    from pyarrow import ArrowException

    try:
        frame = pd.read_parquet(path, engine="pyarrow")
    except (ArrowException, OSError) as exc:
        raise DataValidationError(path, f"cannot read it as Parquet ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.apply(lambda column: column.map(cell_text)).reset_index(drop=True)


def cell_text(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an integer column with gaps is read as floats: 123.0 is the id 123
    return str(value)


def parse_numbers(values: pd.Series, file: str | Path, column: str) -> np.ndarray:
    """Numbers from text ("$1,299.00" -> 1299.0); "" is missing (NaN). Values that are not numbers are missing
    too, with a warning, unless they are most of the column (then it is no number column: an error)."""
    text = values.str.strip()
    cleaned = text.str.replace(_NUMBER_NOISE, "", regex=True)
    parsed = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    given = text.ne("").to_numpy()
    bad = np.flatnonzero(given & ~np.isfinite(parsed))
    parsed[~np.isfinite(parsed)] = np.nan
    if len(bad) and len(bad) > MAX_UNPARSED_SHARE * given.sum():
        raise DataValidationError(file, f"{len(bad)} of {int(given.sum())} values are not numbers (e.g. "
                                        f"{text.iloc[bad[0]]!r}); is this the right column?", row=int(bad[0]),
                                  column=column)
    if len(bad):
        warnings.warn(f"{file}: column '{column}': {len(bad)} value(s) that are not numbers (e.g. row {bad[0]}: "
                      f"{text.iloc[bad[0]]!r}) are treated as missing", DataWarning, stacklevel=2)
    return parsed


@dataclass
class DedupTable:
    """A validated table: the columns it was read with, its rows as strings, parsed numbers."""

    path: Path
    columns: Columns
    frame: pd.DataFrame  # the used columns, strings, in file order
    numbers: dict[str, np.ndarray] = field(default_factory=dict)  # number column -> float64 (NaN = missing)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def ids(self) -> np.ndarray:
        return self.frame[self.columns.id].to_numpy(dtype=object)

    @property
    def sources(self) -> np.ndarray | None:
        """Which catalogue each record comes from (clean-clean matching), or None."""
        return None if self.columns.source is None else self.frame[self.columns.source].to_numpy(dtype=object)

    def features(self, phashes: np.ndarray | None = None, embeddings: dict[str, np.ndarray] | None = None
                 ) -> Features:
        """What sources and pair features read: cleaned title, the other fields under their feature names,
        the phashes ("" where a record has none) and any embeddings."""
        names = self.columns.field_names()
        texts = {names[c]: clean_titles(self.frame[c]) for c in (*self.columns.texts,
                                                                  *([self.columns.brand] if self.columns.brand else []))}
        numbers = {names[c]: self.numbers[c] for c in self.columns.numbers}
        phashes = np.full(len(self), "", dtype=object) if phashes is None else np.asarray(phashes, dtype=object)
        return Features(self.ids, clean_titles(self.frame[self.columns.title]), phashes, dict(embeddings or {}),
                        fields=PostingFields(texts, numbers))

    def subset(self, index: np.ndarray) -> DedupTable:
        return DedupTable(self.path, self.columns, self.frame.iloc[index].reset_index(drop=True),
                          {k: v[index] for k, v in self.numbers.items()})


def validate_table(frame: pd.DataFrame, columns: Columns, path: str | Path) -> DedupTable:
    """The checks every table gets (see the module doc), then the used columns only."""
    path = Path(path)
    require_columns(frame, tuple(columns.used()), path)
    if len(frame) == 0:
        raise DataValidationError(path, "no data rows: there is nothing to deduplicate")
    frame = frame[columns.used()].copy()
    check_unique_ids(frame, path, column=columns.id)
    frame[columns.title] = fill_empty_titles(frame, path, column=columns.title)
    if columns.image is not None:
        check_image_column(frame, path, columns.image)
    numbers = {column: parse_numbers(frame[column], path, column) for column in columns.numbers}
    return DedupTable(path, columns, frame.reset_index(drop=True), numbers)


def check_image_column(frame: pd.DataFrame, path: Path, column: str) -> None:
    """An image column holds phashes (16 hex characters) or image file names, not a mix."""
    values = frame[column].str.strip()
    given = values.ne("")
    if not given.any():
        raise DataValidationError(path, "the image column is empty in every row; leave --image out to match by text",
                                  column=column)
    is_hash = values.str.fullmatch(PHASH_RE)
    if is_hash[given].any() and not is_hash[given].all():
        row = int(np.flatnonzero((given & ~is_hash).to_numpy())[0])
        raise DataValidationError(path, f"the image column mixes phashes (16 hex characters) and other values "
                                        f"({values.iloc[row]!r})", row=row, column=column)


def read_table(path: str | Path, columns: Columns) -> DedupTable:
    """Read and validate ``path`` with ``columns``."""
    return validate_table(read_strings(path), columns, path)
