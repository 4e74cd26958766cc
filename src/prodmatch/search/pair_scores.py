"""Scores of given pairs: the dot product of two rows of one matrix, for any list of (row, col) pairs.

Sources score pairs they did not propose with it (the pair model's features), and blocked search scores its
candidates with it, so a pair's score is the same number whichever path computed it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def rowwise_dot(vectors, rows: np.ndarray, cols: np.ndarray, chunk: int = 1 << 18) -> np.ndarray:
    """``vectors[rows[i]] . vectors[cols[i]]`` for every i (dense float32 or sparse CSR), in chunks of pairs
    so memory stays bounded however many pairs there are."""
    if vectors.dtype != np.float32:
        raise TypeError(f"vectors must be float32, got {vectors.dtype}")
    if rows.shape != cols.shape:
        raise ValueError(f"rows and cols differ in shape: {rows.shape} vs {cols.shape}")
    out = np.empty(len(rows), dtype=np.float32)
    for start in range(0, len(rows), chunk):
        a, b = rows[start : start + chunk], cols[start : start + chunk]
        if sp.issparse(vectors):
            product = vectors[a].multiply(vectors[b]).sum(axis=1)
        else:
            product = np.einsum("ij,ij->i", vectors[a], vectors[b])
        out[start : start + len(a)] = np.asarray(product).reshape(-1)
    return out
