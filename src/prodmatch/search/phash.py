"""Perceptual-hash matching: Hamming distance between 64-bit phashes.

Scores are ``1 - distance / 64`` so that, like every other source, higher means closer and one
threshold type fits all. Exact matches score 1.0; Hamming <= d means score >= 1 - d/64.
"""

from __future__ import annotations

import numpy as np

from prodmatch.search.neighbours import Neighbours

PHASH_BITS = 64


def phash_to_bytes(phashes) -> np.ndarray:
    """16-hex-character phash strings -> (n, 8) uint8 array (big-endian, as the hex reads)."""
    values = list(phashes)
    try:
        return np.frombuffer(b"".join(bytes.fromhex(h) for h in values), dtype=np.uint8).reshape(len(values), 8)
    except ValueError:
        bad = next(i for i, h in enumerate(values) if not (isinstance(h, str) and len(h) == 16 and _is_hex(h)))
        raise ValueError(f"phash at position {bad} is not 16 hex characters: {values[bad]!r}") from None


def distance_to_score(distance, bits: int = PHASH_BITS) -> np.ndarray:
    return (1.0 - np.asarray(distance, dtype=np.float32) / bits).astype(np.float32)


def score_to_distance(score: float, bits: int = PHASH_BITS) -> float:
    return (1.0 - score) * bits


def phash_neighbours(phashes, max_distance: int = 12, k: int = 50, block_rows: int | None = None) -> Neighbours:
    """All pairs of postings whose phash differs in <= ``max_distance`` bits (self included), best ``k`` each.

    Uses faiss' binary flat index when installed, otherwise a blockwise numpy popcount (``np.bitwise_count``,
    numpy >= 2.0; a byte lookup table on older numpy, which Kaggle's image may have: the kernel installs
    prodmatch with ``--no-deps``). The default block keeps numpy's (block_rows x n) uint64 temporaries near
    256 MB whatever n is.
    """
    codes = phash_to_bytes(phashes)
    n = len(codes)
    if block_rows is None:
        block_rows = max(64, min(4096, 2**28 // (8 * max(n, 1))))
    try:
        import faiss  # noqa: F401
    except ImportError:
        return _numpy_range_search(codes, max_distance, k, block_rows)
    return _faiss_range_search(codes, max_distance, k, block_rows)


def _faiss_range_search(codes: np.ndarray, max_distance: int, k: int, block_rows: int) -> Neighbours:
    import faiss

    n = len(codes)
    index = faiss.IndexBinaryFlat(PHASH_BITS)
    index.add(codes)
    parts = []
    for start in range(0, n, block_rows):
        # faiss returns distances strictly below the radius
        lims, distances, labels = index.range_search(codes[start : start + block_rows], max_distance + 1)
        rows = np.repeat(np.arange(len(lims) - 1, dtype=np.int64), np.diff(lims).astype(np.int64)) + start
        block = Neighbours(rows, labels.astype(np.int64), distance_to_score(distances), n, n)
        parts.append(block.top_k(k))
    return Neighbours.concat(parts, n, n)


def _numpy_range_search(codes: np.ndarray, max_distance: int, k: int, block_rows: int) -> Neighbours:
    n = len(codes)
    words = codes.view(">u8").reshape(-1).astype(np.uint64)
    parts = []
    for start in range(0, n, block_rows):
        block = words[start : start + block_rows]
        distances = popcount(block[:, None] ^ words[None, :])
        rows, cols = np.nonzero(distances <= max_distance)
        part = Neighbours(
            rows.astype(np.int64) + start, cols.astype(np.int64), distance_to_score(distances[rows, cols]), n, n
        )
        parts.append(part.top_k(k))
    return Neighbours.concat(parts, n, n)


_BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def popcount(words: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (uint8 counts): ``np.bitwise_count`` where numpy has it (>= 2.0), else the sum
    of a 256-entry table over the eight bytes."""
    if words.dtype != np.uint64:
        raise TypeError(f"popcount needs uint64 words, got {words.dtype}")
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words)
    return _table_popcount(words)


def _table_popcount(words: np.ndarray) -> np.ndarray:
    as_bytes = np.ascontiguousarray(words).view(np.uint8).reshape(*words.shape, 8)
    return _BYTE_BITS[as_bytes].sum(axis=-1, dtype=np.uint8)


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
        return True
    except ValueError:
        return False
