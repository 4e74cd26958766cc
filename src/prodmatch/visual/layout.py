"""Reading a visual-search folder (eBay eProduct style): index.csv, queries.csv, ground_truth.csv, images.

Layout::

    index.csv         id, image [, title] [, product_id] [, level1, level2, ...]   the catalogue searched in
    queries.csv       id, image [, level1, level2, ...]             the photos searched with
    ground_truth.csv  query_id, index_id                            one row per true (query, index) match
    index_images/     the files named in index.csv's image column
    query_images/     the files named in queries.csv's image column

``product_id`` (optional) names the product a catalogue photo shows: the classes metric-learning training
uses (:mod:`prodmatch.train.visual_task`); an empty cell means unknown. Category levels are optional columns
``level1`` (the top of the tree) to ``levelK`` (the leaf), numbered from 1 without gaps. A row is either
labelled on every level or on none (all cells empty: unlabelled, e.g. a distractor of unknown category). The
levels must form a tree: a value names one node, so the same level-2 value
under two different level-1 values is an error (use full paths or ids when names repeat).
Other columns are dropped.

Checked, with the file, the 0-based data row, its 1-based CSV line and the column in every error:
required columns, empty, duplicated or whitespace-containing ids (ids are written space-separated in
result lists), empty image names, partly labelled rows, the category tree, ground-truth rows naming an
unknown query or index id, and duplicated ground-truth pairs.

Decision on queries without ground truth: a :class:`~prodmatch.data.validation.DataWarning`, not an
error. Distractors live in the index (index rows no query matches are normal and not reported); a query
with no true match cannot be scored (MAR@10 divides by ``min(10, 0)``), but it is a legitimate search --
e.g. a product the catalogue does not carry -- so it is kept, searched, and left out of the metric means
(:mod:`prodmatch.visual.metrics` counts it in ``n_without_truth``).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.data.reading import read_csv_strings
from prodmatch.data.validation import (
    DataValidationError,
    DataWarning,
    check_image_names,
    check_non_empty,
    check_unique_ids,
    require_columns,
)
from prodmatch.errors import MissingInputError
from prodmatch.visual.metrics import GroundTruth

INDEX_FILE = "index.csv"
QUERIES_FILE = "queries.csv"
GROUND_TRUTH_FILE = "ground_truth.csv"
INDEX_IMAGES = "index_images"
QUERY_IMAGES = "query_images"
INDEX_COLUMNS = ("id", "image")
QUERY_COLUMNS = ("id", "image")
GROUND_TRUTH_COLUMNS = ("query_id", "index_id")
LEVEL_RE = re.compile(r"^level(\d+)$")


def level_columns(frame: pd.DataFrame, file: str | Path) -> list[str]:
    """The category-level columns ``level1..levelK`` in order; a gap or ``level0`` is an error."""
    numbered = sorted((int(m.group(1)), c) for c in frame.columns if (m := LEVEL_RE.match(c)))
    for expected, (number, column) in enumerate(numbered, start=1):
        if number != expected:
            raise DataValidationError(
                file, f"category levels must be level1..levelK without gaps; found {[c for _, c in numbered]}",
                column=column)
    return [c for _, c in numbered]


def check_levels_complete(frame: pd.DataFrame, file: str | Path, levels: list[str]) -> None:
    """Every row labelled on all levels or on none."""
    if not levels:
        return
    empty = frame[levels].apply(lambda col: col.str.strip().eq("")).to_numpy()
    partial = np.flatnonzero(empty.any(axis=1) & ~empty.all(axis=1))
    if len(partial):
        row = int(partial[0])
        column = levels[int(np.flatnonzero(empty[row])[0])]
        raise DataValidationError(
            file, "a row is labelled on every category level or on none; this one is partly empty",
            row=row, column=column)


def _read_table(path: str | Path, required: tuple[str, ...], optional: tuple[str, ...]) -> pd.DataFrame:
    frame = read_csv_strings(path)
    require_columns(frame, required, path)
    if len(frame) == 0:
        raise DataValidationError(path, "no data rows")
    levels = level_columns(frame, path)
    keep = list(required) + [c for c in optional if c in frame.columns] + levels
    frame = frame[keep].copy()
    check_unique_ids(frame, path, "id")
    check_non_empty(frame, path, "image")
    check_image_names(frame, path)
    check_levels_complete(frame, path, levels)
    return frame.reset_index(drop=True)


def read_index(path: str | Path) -> pd.DataFrame:
    """Read and validate index.csv: id, image, [title], [product_id], [level1..levelK] (str), in file order."""
    return _read_table(path, INDEX_COLUMNS, ("title", "product_id"))


def read_queries(path: str | Path) -> pd.DataFrame:
    """Read and validate queries.csv: id, image, [level1..levelK] (str), in file order."""
    return _read_table(path, QUERY_COLUMNS, ())


def _check_known(frame: pd.DataFrame, file: str | Path, column: str, known: pd.Series, known_file: str) -> None:
    unknown = np.flatnonzero(~frame[column].isin(known).to_numpy())
    if len(unknown):
        row = int(unknown[0])
        raise DataValidationError(
            file, f"{column} {frame[column].iloc[row]!r} is not an id of {known_file}"
            + (f" ({len(unknown)} rows with unknown ids)" if len(unknown) > 1 else ""),
            row=row, column=column)


def read_ground_truth(path: str | Path, queries: pd.DataFrame, index: pd.DataFrame,
                      queries_file: str = QUERIES_FILE, index_file: str = INDEX_FILE) -> pd.DataFrame:
    """Read ground_truth.csv and check it against the query and index ids.

    Unknown ids and duplicated pairs are errors; queries without any true match get a DataWarning.
    """
    frame = read_csv_strings(path)
    require_columns(frame, GROUND_TRUTH_COLUMNS, path)
    frame = frame[list(GROUND_TRUTH_COLUMNS)].copy()
    for column in GROUND_TRUTH_COLUMNS:
        check_non_empty(frame, path, column)
    _check_known(frame, path, "query_id", queries["id"], queries_file)
    _check_known(frame, path, "index_id", index["id"], index_file)
    duplicated = np.flatnonzero(frame.duplicated(keep="first").to_numpy())
    if len(duplicated):
        row = int(duplicated[0])
        pair = frame.iloc[row]
        raise DataValidationError(
            path, f"duplicate pair ({pair['query_id']!r}, {pair['index_id']!r})", row=row, column="index_id")
    _warn_queries_without_truth(queries, frame, path)
    return frame.reset_index(drop=True)


def _warn_queries_without_truth(queries: pd.DataFrame, truth: pd.DataFrame, path: str | Path) -> None:
    lonely = np.flatnonzero(~queries["id"].isin(truth["query_id"]).to_numpy())
    if len(lonely):
        shown = ", ".join(repr(queries["id"].iloc[r]) for r in lonely[:5]) + (" ..." if len(lonely) > 5 else "")
        warnings.warn(
            f"{path}: {len(lonely)} of {len(queries)} queries have no true match ({shown}); they are searched "
            "but left out of MAR@10 and recall@k",
            DataWarning,
            stacklevel=3,
        )


@dataclass(frozen=True)
class CategoryTree:
    """Category classes per level (sorted names) and each class's parent class at the level above.

    ``parents[l - 1][c]`` is the class id at level ``l - 1`` of class ``c`` at level ``l`` (0-based levels),
    the form :class:`prodmatch.models.hierarchy.HierarchicalHeads` takes.
    """

    levels: tuple[str, ...]  # column names, top level first
    classes: tuple[np.ndarray, ...]  # per level: sorted class names (object arrays)
    parents: tuple[np.ndarray, ...]  # per level below the top: int64 parent class id of each class

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.classes)

    def encode(self, frame: pd.DataFrame, file: str | Path = "category levels") -> np.ndarray:
        """(n_rows, n_levels) int64 class ids; -1 for unlabelled rows. Unknown names are a DataValidationError
        naming ``file``, the row and the column."""
        codes = np.full((len(frame), len(self.levels)), -1, dtype=np.int64)
        for level, column in enumerate(self.levels):
            values = frame[column]
            labelled = values.ne("").to_numpy()
            found = pd.Index(self.classes[level]).get_indexer(values).astype(np.int64)
            unknown = np.flatnonzero(labelled & (found < 0))
            if len(unknown):
                row = int(unknown[0])
                raise DataValidationError(file, f"{column} value {values.iloc[row]!r} is not in the category tree",
                                          row=row, column=column)
            codes[:, level] = np.where(labelled, found, -1)
        return codes


def category_tree(tables: list[tuple[pd.DataFrame, str | Path]]) -> CategoryTree | None:
    """The category tree of the labelled rows of ``(frame, file)`` tables; None when none has levels.

    Tables with levels must all have the same level columns. A value with two different parents is a
    DataValidationError naming the row where the second parent appears and where the first was seen.
    """
    with_levels = [(frame, file, level_columns(frame, file)) for frame, file in tables]
    with_levels = [t for t in with_levels if t[2]]
    if not with_levels:
        return None
    levels = with_levels[0][2]
    for _frame, file, cols in with_levels[1:]:
        if cols != levels:
            differing = sorted(set(cols) ^ set(levels)) or [cols[-1]]
            raise DataValidationError(file, f"category levels {cols} differ from {levels} in {with_levels[0][1]}",
                                      column=differing[0])
    rows = pd.concat(
        [frame.loc[frame[levels[0]].ne(""), levels].assign(_file=str(file), _row=np.flatnonzero(frame[levels[0]].ne("")))
         for frame, file, _ in with_levels],
        ignore_index=True,
    )
    for parent_column, child_column in zip(levels[:-1], levels[1:]):
        _check_single_parent(rows, parent_column, child_column)
    classes = tuple(np.array(sorted(rows[c].unique()), dtype=object) for c in levels)
    parents = []
    for level in range(1, len(levels)):
        first_parent = rows.groupby(levels[level], sort=True)[levels[level - 1]].first()
        parents.append(pd.Index(classes[level - 1]).get_indexer(first_parent.reindex(classes[level])).astype(np.int64))
    return CategoryTree(tuple(levels), classes, tuple(parents))


def _check_single_parent(rows: pd.DataFrame, parent_column: str, child_column: str) -> None:
    first = rows.groupby(child_column, sort=False)[parent_column].transform("first")
    conflict = np.flatnonzero((rows[parent_column] != first).to_numpy())
    if not len(conflict):
        return
    bad = rows.iloc[int(conflict[0])]
    seen = rows.iloc[int(np.flatnonzero((rows[child_column] == bad[child_column]).to_numpy())[0])]
    raise DataValidationError(
        bad["_file"],
        f"{child_column} {bad[child_column]!r} has {parent_column} {bad[parent_column]!r} here but "
        f"{seen[parent_column]!r} at row {seen['_row']} of {seen['_file']}; category levels must form a tree",
        row=int(bad["_row"]), column=child_column)


@dataclass(frozen=True)
class VisualSearchData:
    index: pd.DataFrame
    queries: pd.DataFrame
    ground_truth: pd.DataFrame | None
    tree: CategoryTree | None

    def truth(self) -> GroundTruth:
        """The ground truth as index positions per query position (for :mod:`prodmatch.visual.metrics`)."""
        if self.ground_truth is None:
            raise MissingInputError(f"no {GROUND_TRUTH_FILE}: scoring needs the true (query_id, index_id) pairs")
        query_pos = pd.Index(self.queries["id"]).get_indexer(self.ground_truth["query_id"])
        index_pos = pd.Index(self.index["id"]).get_indexer(self.ground_truth["index_id"])
        return GroundTruth.from_pairs(query_pos, index_pos, len(self.queries), len(self.index))


@dataclass(frozen=True)
class VisualSearchDir:
    """Paths of a visual-search folder (see the module docstring for the layout)."""

    root: Path

    @classmethod
    def of(cls, root: str | Path) -> VisualSearchDir:
        root = Path(root)
        if not root.is_dir():
            raise DataValidationError(root, "visual-search directory not found")
        return cls(root)

    @property
    def index_csv(self) -> Path:
        return self.root / INDEX_FILE

    @property
    def queries_csv(self) -> Path:
        return self.root / QUERIES_FILE

    @property
    def ground_truth_csv(self) -> Path:
        return self.root / GROUND_TRUTH_FILE

    @property
    def index_images(self) -> Path:
        return self.root / INDEX_IMAGES

    @property
    def query_images(self) -> Path:
        return self.root / QUERY_IMAGES

    def images_dir(self, split: str) -> Path:
        if split not in ("index", "queries"):
            raise ValueError(f"split must be 'index' or 'queries', got {split!r}")
        return self.index_images if split == "index" else self.query_images

    def read_index(self) -> pd.DataFrame:
        return read_index(self.index_csv)

    def read_queries(self) -> pd.DataFrame:
        return read_queries(self.queries_csv)

    def read(self, require_ground_truth: bool = False) -> VisualSearchData:
        """Read and cross-check everything; ground_truth.csv is optional unless ``require_ground_truth``."""
        index, queries = self.read_index(), self.read_queries()
        truth = None
        if require_ground_truth or self.ground_truth_csv.exists():
            truth = read_ground_truth(self.ground_truth_csv, queries, index, str(self.queries_csv),
                                      str(self.index_csv))
        tree = category_tree([(index, self.index_csv), (queries, self.queries_csv)])
        return VisualSearchData(index, queries, truth, tree)

    def missing_images(self, frame: pd.DataFrame, split: str) -> list[str]:
        """Image names of ``frame`` with no file in the split's image folder."""
        folder = self.images_dir(split)
        return [name for name in frame["image"] if not (folder / name).is_file()]
