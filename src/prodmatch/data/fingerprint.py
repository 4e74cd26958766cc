"""A short hash of a table's rows, so that a file tuned on one train set can tell when it meets another."""

from __future__ import annotations

import hashlib

import pandas as pd

TRAIN_IDENTITY = ("posting_id", "label_group")  # what tuning learns from: which rows, grouped how


def frame_fingerprint(frame: pd.DataFrame, columns: tuple[str, ...] = TRAIN_IDENTITY) -> str:
    """sha256 of ``columns`` as text, row by row, in order (16 hex digits)."""
    digest = hashlib.sha256()
    for column in columns:
        digest.update(column.encode())
        digest.update("\x1f".join(frame[column].astype(str)).encode())
    return digest.hexdigest()[:16]
