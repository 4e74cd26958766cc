"""``submission.csv``: written, and known to be valid.

The file is written to a temporary path, validated there, and only then renamed into place, so a
``submission.csv`` on disk is always complete and valid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.data.reading import read_csv_strings
from prodmatch.errors import InputError
from prodmatch.fileio import atomic_path
from prodmatch.match.policy import KAGGLE_MAX_MATCHES

SUBMISSION_HEADER = ["posting_id", "matches"]


class SubmissionError(InputError, ValueError):
    def __init__(self, file: str | Path, message: str, row: int | None = None, column: str | None = None):
        where = [str(file)]
        if row is not None:
            where.append(f"row {row} (line {row + 2})")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {message}")
        self.row, self.column = row, column


def write_submission(path: str | Path, posting_ids, matches: list[list[str]], test: pd.DataFrame | None = None) -> Path:
    """Atomically write posting_id,matches; validated against ``test`` (when given) before it is moved in place."""
    frame = pd.DataFrame({"posting_id": list(posting_ids), "matches": [" ".join(m) for m in matches]})
    path = Path(path)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
        if test is not None:
            validate_submission(tmp, test, display_name=path)
    return path


def validate_submission(path: str | Path, test: pd.DataFrame, display_name: str | Path | None = None,
                        max_matches: int = KAGGLE_MAX_MATCHES) -> None:
    """Header ``posting_id,matches``; every test posting exactly once; itself among its matches;
    at most ``max_matches`` ids; only ids that exist in test.csv."""
    name = display_name or path
    frame = read_csv_strings(path)
    if list(frame.columns) != SUBMISSION_HEADER:
        raise SubmissionError(name, f"header must be {','.join(SUBMISSION_HEADER)}, got {','.join(frame.columns)}")
    test_ids = test["posting_id"].to_numpy(dtype=object)
    known = set(test_ids)
    ids = frame["posting_id"]
    duplicated = np.flatnonzero(ids.duplicated().to_numpy())
    if len(duplicated):
        raise SubmissionError(name, f"posting_id {ids.iloc[duplicated[0]]!r} appears more than once",
                              row=int(duplicated[0]), column="posting_id")
    for row, (posting_id, matches) in enumerate(zip(ids, frame["matches"])):
        if posting_id not in known:
            raise SubmissionError(name, f"posting_id {posting_id!r} is not in test.csv", row=row, column="posting_id")
        listed = matches.split()
        if posting_id not in listed:
            raise SubmissionError(name, f"{posting_id!r} does not list itself", row=row, column="matches")
        if len(listed) > max_matches:
            raise SubmissionError(name, f"{len(listed)} matches, more than {max_matches}", row=row, column="matches")
        if len(set(listed)) != len(listed):
            raise SubmissionError(name, "a posting is listed twice", row=row, column="matches")
        unknown = [m for m in listed if m not in known]
        if unknown:
            raise SubmissionError(name, f"unknown posting id {unknown[0]!r}", row=row, column="matches")
    missing = known - set(ids)
    if missing:
        raise SubmissionError(name, f"{len(missing)} test posting(s) missing, e.g. {sorted(missing)[0]!r}",
                              column="posting_id")
