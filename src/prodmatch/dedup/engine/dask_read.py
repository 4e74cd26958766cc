"""A table read with dask.dataframe: CSV in byte blocks, Parquet by row groups, parsed on the workers, every cell
a string exactly as :func:`prodmatch.dedup.table.read_strings` reads it (same checks, same one-line errors).

The parsed partitions come back to the client, which validates the table once (the rules and messages of
:func:`prodmatch.dedup.table.validate_table`, row numbers as in the file) and keeps it for the outputs
(ids, clusters, the catalogue, the report); the engine then hands the validated partitions to the workers.
"""

from __future__ import annotations

from pathlib import Path

import dask.dataframe as dd
import pandas as pd

from prodmatch.data.reading import check_one_record_per_line, csv_read_errors
from prodmatch.data.validation import DataValidationError
from prodmatch.dedup.table import cell_text, table_format
from prodmatch.dedup.vocab import PARQUET
from prodmatch.errors import MissingInputError

BLOCKSIZE = "32MiB"  # bytes of CSV per partition as read


def read_csv_dask(path: Path, client, blocksize: str = BLOCKSIZE) -> pd.DataFrame:
    with csv_read_errors(path):
        frame = client.compute(dd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8",
                                           blocksize=blocksize), sync=True)
    frame = frame.reset_index(drop=True)  # each block counts its rows from 0
    frame.columns = [str(c).strip() for c in frame.columns]
    check_one_record_per_line(frame, path)
    return frame


def read_parquet_dask(path: Path, client) -> pd.DataFrame:
    from pyarrow import ArrowException

    try:
        frame = client.compute(dd.read_parquet(path, engine="pyarrow"), sync=True)
    except (ArrowException, OSError) as exc:
        raise DataValidationError(path, f"cannot read it as Parquet ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.apply(lambda column: column.map(cell_text)).reset_index(drop=True)


def read_strings_dask(path: str | Path, client) -> pd.DataFrame:
    """Every cell as a string ("" for missing), column names as strings."""
    path = Path(path)
    kind = table_format(path)
    if not path.is_file():
        raise MissingInputError(f"{path}: table not found")
    return read_parquet_dask(path, client) if kind == PARQUET else read_csv_dask(path, client)
