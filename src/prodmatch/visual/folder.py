"""The visual-search index folder, the top-k results file and the evaluation report.

An index folder (``python -m prodmatch index build``)::

    manifest.json   format, status (embedding -> complete), the model (prodmatch.visual.identity), the data,
                    shard size, index kind and parameters, predicted-category levels and classes, timings
                    (:class:`IndexManifest`)
    shards/         embedding shards (format: prodmatch.visual.shards; written by every rank, resumable)
    rows.npz        ``ids`` (str, index.csv order) and, with category heads, ``categories`` (int64, one
                    predicted class id per row and level)
    index.npz       the searchable index (format: prodmatch.visual.vector_index.VectorIndex.save)

The manifest is written first with ``status: embedding`` (so a resumed build can check it continues the same
model, data and shard size) and rewritten with ``status: complete`` last: a folder whose manifest says
complete holds every file above.

A results file (``index search``) is a CSV, one row per query: ``query_id``, ``index_ids`` (space-separated,
best first) and ``scores`` (space-separated, same order). Every file is written atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.data.reading import read_csv_strings
from prodmatch.data.validation import DataValidationError, require_columns
from prodmatch.errors import InputError, MissingInputError
from prodmatch.fileio import atomic_open, write_csv, write_json
from prodmatch.visual.identity import ModelIdentity, identity_from_record

INDEX_FORMAT = "prodmatch-visual-index/1"
EVAL_FORMAT = "prodmatch-visual-eval/1"
MANIFEST_FILE = "manifest.json"
SHARDS_DIR = "shards"
ROWS_FILE = "rows.npz"
INDEX_FILE = "index.npz"
STATUS_EMBEDDING = "embedding"
STATUS_COMPLETE = "complete"
RESULT_COLUMNS = ("query_id", "index_ids", "scores")


class IndexFolderError(InputError, RuntimeError):
    """An index folder that is missing, incomplete, or holds another build."""


@dataclass(frozen=True)
class BuiltIndex:
    """What the manifest says of the searchable index once the build is complete."""

    kind: str
    index: str  # its name with parameters, e.g. ivf(nlist=40,nprobe=8)
    params: dict
    dim: int
    seconds: dict  # stage -> seconds (embed, build)
    categories: dict | None  # {"levels": [...], "classes": [[...], ...]} of the predicted categories, or None


@dataclass(frozen=True)
class IndexManifest:
    """manifest.json: which model embedded which data in shards of which size, and, once complete, the index."""

    model: ModelIdentity
    data_dir: str  # resolved
    n_rows: int
    shard_rows: int
    built: BuiltIndex | None = None  # None: still embedding

    @property
    def status(self) -> str:
        return STATUS_EMBEDDING if self.built is None else STATUS_COMPLETE

    def same_embeddings(self, other: IndexManifest) -> bool:
        """Whether ``other`` embeds the same rows with the same model into the same shards (a build to resume)."""
        return (self.model, self.data_dir, self.n_rows, self.shard_rows) == \
            (other.model, other.data_dir, other.n_rows, other.shard_rows)

    def record(self) -> dict:
        built = {} if self.built is None else {
            "kind": self.built.kind, "index": self.built.index, "params": self.built.params, "dim": self.built.dim,
            "seconds": self.built.seconds, "categories": self.built.categories}
        return {"format": INDEX_FORMAT, "status": self.status, "model": self.model.record(),
                "data_dir": self.data_dir, "n_rows": self.n_rows, "shard_rows": self.shard_rows, **built}

    @classmethod
    def from_record(cls, record, path: Path) -> IndexManifest:
        if not isinstance(record, dict) or record.get("format") != INDEX_FORMAT:
            found = record.get("format") if isinstance(record, dict) else None
            raise IndexFolderError(f"{path}: format {found!r}, expected {INDEX_FORMAT}")
        model = identity_from_record(record.get("model"), path)
        try:
            built = None
            if record.get("status") == STATUS_COMPLETE:
                built = BuiltIndex(str(record["kind"]), str(record["index"]), dict(record["params"]),
                                   int(record["dim"]), dict(record["seconds"]), record["categories"])
            return cls(model, str(record["data_dir"]), int(record["n_rows"]), int(record["shard_rows"]), built)
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexFolderError(f"{path}: not a manifest prodmatch index build writes (no valid {exc}); "
                                   "rebuild the index") from None


@dataclass(frozen=True)
class IndexFolder:
    """The files of one visual-search index folder (see the module docstring)."""

    path: Path

    @classmethod
    def of(cls, path: str | Path) -> IndexFolder:
        return cls(Path(path))

    @property
    def manifest(self) -> Path:
        return self.path / MANIFEST_FILE

    @property
    def shards(self) -> Path:
        return self.path / SHARDS_DIR

    @property
    def rows(self) -> Path:
        return self.path / ROWS_FILE

    @property
    def index(self) -> Path:
        return self.path / INDEX_FILE

    def has_manifest(self) -> bool:
        return self.manifest.is_file()

    def read_manifest(self) -> IndexManifest:
        if not self.manifest.is_file():
            raise IndexFolderError(f"{self.path} is not an index folder (no {MANIFEST_FILE}); build one with "
                                   "python -m prodmatch index build")
        try:
            record = json.loads(self.manifest.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IndexFolderError(f"{self.manifest}: not a JSON manifest ({exc}); rebuild the index") from None
        return IndexManifest.from_record(record, self.manifest)

    def read_complete_manifest(self) -> IndexManifest:
        manifest = self.read_manifest()
        if manifest.built is None:
            raise IndexFolderError(f"{self.path}: the build did not finish (status {manifest.status!r}); "
                                   "run python -m prodmatch index build again to resume it")
        return manifest

    def write_manifest(self, manifest: IndexManifest) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.manifest, manifest.record())

    def write_rows(self, ids: np.ndarray, categories: np.ndarray | None = None) -> None:
        ids = np.asarray(ids).astype(str)
        arrays = {"ids": ids}
        if categories is not None:
            if categories.dtype != np.int64 or categories.ndim != 2 or len(categories) != len(ids):
                raise ValueError(f"categories must be int64 (n_rows, n_levels), got {categories.dtype} "
                                 f"{categories.shape} for {len(ids)} rows")
            arrays["categories"] = categories
        with atomic_open(self.rows, "wb") as handle:
            np.savez(handle, **arrays)

    def read_rows(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(ids, categories or None) in index order."""
        with np.load(self.rows, allow_pickle=False) as data:
            ids = data["ids"].astype(str)
            categories = data["categories"] if "categories" in data.files else None
        return ids, categories


def write_results(path: str | Path, query_ids, index_ids: np.ndarray, scores: np.ndarray) -> Path:
    """One row per query: its top-k index ids and scores, best first; empty slots (id "") are dropped."""
    index_ids = np.asarray(index_ids).astype(str)
    scores = np.asarray(scores, dtype=np.float32)
    if index_ids.shape != scores.shape or index_ids.ndim != 2 or len(index_ids) != len(query_ids):
        raise ValueError(f"index_ids {index_ids.shape} and scores {scores.shape} must be (n_queries, k) for "
                         f"{len(query_ids)} queries")
    filled = index_ids != ""
    frame = pd.DataFrame({
        "query_id": np.asarray(query_ids).astype(str),
        "index_ids": [" ".join(row[keep]) for row, keep in zip(index_ids, filled)],
        "scores": [" ".join(f"{s:.6f}" for s in row[keep]) for row, keep in zip(scores, filled)],
    })
    write_csv(path, frame)
    return Path(path)


def read_results(path: str | Path, index_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(query ids, (n_queries, k) int64 index positions, -1 where a row lists fewer than k) of a results file.

    Unknown index ids, a query listed twice, or an id repeated within a row are errors naming the row.
    """
    frame = read_csv_strings(path)
    require_columns(frame, RESULT_COLUMNS, path)
    duplicated = np.flatnonzero(frame["query_id"].duplicated().to_numpy())
    if len(duplicated):
        raise DataValidationError(path, f"query {frame['query_id'].iloc[duplicated[0]]!r} is listed twice",
                                  row=int(duplicated[0]), column="query_id")
    lookup = pd.Index(np.asarray(index_ids).astype(str))
    positions = np.full((len(frame), k), -1, dtype=np.int64)
    for row, text in enumerate(frame["index_ids"]):
        names = text.split()[:k]
        found = lookup.get_indexer(names)
        if (found < 0).any():
            raise DataValidationError(path, f"index id {names[int(np.flatnonzero(found < 0)[0])]!r} is not in the "
                                      "index", row=row, column="index_ids")
        if len(set(names)) != len(names):
            raise DataValidationError(path, "an index id is listed twice", row=row, column="index_ids")
        positions[row, :len(found)] = found
    return frame["query_id"].to_numpy(), positions


def write_evaluation(path: str | Path, report: dict) -> None:
    """The evaluation table of ``index eval --json`` (one JSON object, ``rows`` one per index and category mode)."""
    write_json(path, {"format": EVAL_FORMAT, **report})


def read_evaluation(path: str | Path) -> dict:
    """An evaluation written by :func:`write_evaluation`; anything else is an :class:`IndexFolderError`."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"evaluation file not found: {path} (index eval --json writes one)")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexFolderError(f"{path}: not an evaluation file ({exc})") from None
    if not isinstance(report, dict) or report.get("format") != EVAL_FORMAT:
        raise IndexFolderError(f"{path}: not an evaluation file of format {EVAL_FORMAT} (index eval --json writes one)")
    return report
