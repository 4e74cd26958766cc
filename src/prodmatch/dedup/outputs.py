"""The result folder ``prodmatch dedup --out DIR`` writes, and reads back for ``prodmatch score``:

    pairs.csv      id_a, id_b, probability (or score, without a model), reasons: one row per pair decided to
                   match, most probable first (the clusters are these pairs' connected components)
    clusters.csv   id, cluster_id for every record of the table; cluster_id is the id of the cluster's first
                   record in table order, so a record alone has its own id
    pairs.parquet, clusters.parquet   the same tables, when asked for (--format parquet)
    dedup.json     what ran: mode, table, columns, sources and notes, the decision, scores, warnings
    report.html    the report (prodmatch.dedup.report)
    catalogue.parquet   the records the clusters are over (the used columns, as read), so that
                   `prodmatch dedup add` can match new records against them
    model.json     the model the run trained or applied (prodmatch.dedup.saved); none in zero-label mode

The folder is built in a hidden temporary folder and swapped in whole (prodmatch.fileio.atomic_dir); its path is
checked before any work (:func:`check_out_dir`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.data.validation import DataValidationError, require_columns
from prodmatch.dedup.clustering import Edges
from prodmatch.dedup.table import read_strings
from prodmatch.dedup.vocab import CSV, OUTPUT_FORMATS, PARQUET
from prodmatch.errors import ArgumentError, MissingInputError, OutputExistsError, OutputPathError
from prodmatch.fileio import atomic_path, check_output_file, write_json

PAIRS = "pairs"
CLUSTERS = "clusters"
SUMMARY_FILE = "dedup.json"
CATALOGUE_FILE = "catalogue.parquet"
REPORT_FILE = "report.html"
PAIR_COLUMNS = ("id_a", "id_b")
CLUSTER_COLUMNS = ("id", "cluster_id")


def check_out_dir(out: str | Path, inputs: list[str | Path | None], overwrite: bool = False) -> Path:
    """``--out`` as the result folder of a run reading ``inputs``, checked before the work: not a file, not an
    input (or a folder holding one), empty unless ``overwrite``, in a writable place."""
    out = Path(out)
    if not str(out).strip():
        raise OutputPathError("--out is empty; give a folder for the results")
    if out.exists() and not out.is_dir():
        raise OutputPathError(f"--out {out} is a file; give a folder for the results")
    resolved = out.resolve()
    for source in inputs:
        if source is None:
            continue
        source = Path(source).resolve()
        if source == resolved or resolved in source.parents:
            raise OutputPathError(f"--out {out} holds an input of this run ({source}); the folder is replaced whole, so "
                                  "choose another --out")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError(f"--out {out} exists and is not empty; pass --overwrite to replace it, or choose "
                                "another folder")
    check_output_file(out / SUMMARY_FILE)
    return out


def check_formats(formats) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys([CSV, *(formats or ())]))
    unknown = [f for f in formats if f not in OUTPUT_FORMATS]
    if unknown:
        raise ArgumentError(f"unknown output format(s) {unknown}; choose from {OUTPUT_FORMATS}")
    if PARQUET in formats:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ArgumentError("--format parquet needs pyarrow (pip install 'pyarrow>=15')") from None
    return formats


def pairs_frame(ids: np.ndarray, kept: Edges, reasons: list[str] | None, score_name: str = "probability"
                ) -> pd.DataFrame:
    """One row per kept pair, most probable first (ties in table order)."""
    ids = np.asarray(ids, dtype=object)
    order = np.lexsort((kept.b, kept.a, -kept.score))
    frame = pd.DataFrame({"id_a": ids[kept.a[order]], "id_b": ids[kept.b[order]],
                          score_name: np.round(kept.score[order].astype(np.float64), 6)})
    if reasons is not None:
        frame["reasons"] = np.asarray(reasons, dtype=object)[order] if len(reasons) else []
    return frame


def clusters_frame(ids: np.ndarray, clusters: np.ndarray) -> pd.DataFrame:
    """id, cluster_id (the id of the cluster's first record in table order) for every record."""
    ids = np.asarray(ids, dtype=object)
    values, first = np.unique(clusters, return_index=True)
    representative = np.empty(int(clusters.max()) + 1 if len(clusters) else 0, dtype=object)
    representative[values] = ids[first]
    return pd.DataFrame({"id": ids, "cluster_id": representative[clusters] if len(clusters) else []})


def write_table(folder: Path, name: str, frame: pd.DataFrame, formats: tuple[str, ...]) -> list[Path]:
    written = []
    for kind in formats:
        path = folder / f"{name}.{kind}"
        with atomic_path(path) as tmp:
            if kind == PARQUET:
                frame.to_parquet(tmp, index=False, engine="pyarrow")
            else:
                frame.to_csv(tmp, index=False)
        written.append(path)
    return written


def write_summary(folder: Path, summary: dict) -> Path:
    path = folder / SUMMARY_FILE
    write_json(path, summary)
    return path


def read_summary(folder: str | Path) -> dict:
    path = Path(folder) / SUMMARY_FILE
    if not path.is_file():
        raise MissingInputError(f"{path} not found: give the --out folder of a `prodmatch dedup` run")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArgumentError(f"{path}: cannot read the run's summary ({exc})") from None


def read_clusters(path: str | Path) -> pd.DataFrame:
    """A clusters file (id, cluster_id), as ``prodmatch dedup`` writes it; each id once."""
    path = Path(path)
    frame = read_strings(path)
    require_columns(frame, CLUSTER_COLUMNS, path)
    duplicated = np.flatnonzero(frame["id"].duplicated().to_numpy())
    if len(duplicated):
        raise DataValidationError(path, f"id {frame['id'].iloc[duplicated[0]]!r} is listed twice",
                                  row=int(duplicated[0]), column="id")
    return frame[list(CLUSTER_COLUMNS)]


def result_clusters(path: str | Path) -> Path:
    """A run's folder -> its clusters.csv; a clusters file as it is."""
    path = Path(path)
    if path.is_dir():
        path = path / f"{CLUSTERS}.{CSV}"
    if not path.is_file():
        raise MissingInputError(f"{path} not found: give a `prodmatch dedup` --out folder or a clusters file "
                                "(id,cluster_id)")
    return path


def write_catalogue(folder: Path, frame: pd.DataFrame) -> Path:
    """The records a result is over, every cell a string (Parquet keeps text with line breaks as it is)."""
    path = folder / CATALOGUE_FILE
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False, engine="pyarrow")
    return path


def catalogue_path(folder: str | Path) -> Path:
    path = Path(folder) / CATALOGUE_FILE
    if not path.is_file():
        raise MissingInputError(f"{path} not found: give the --out folder of a `prodmatch dedup` run that trained or "
                                "applied a model")
    return path
