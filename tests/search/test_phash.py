import numpy as np
import pytest

from prodmatch.search.phash import (
    _faiss_range_search,
    _numpy_range_search,
    phash_neighbours,
    phash_to_bytes,
    score_to_distance,
)


def flip(h, bits):
    value = int(h, 16)
    for b in bits:
        value ^= 1 << int(b)
    return f"{value:016x}"


BASE = "a5a5a5a5a5a5a5a5"
HASHES = [BASE, BASE, flip(BASE, [0, 9, 33]), flip(BASE, range(0, 64, 2)), "0000000000000000"]


def pairs(nb):
    return {(r, c): round(score_to_distance(s)) for r, c, s in zip(nb.rows.tolist(), nb.cols.tolist(), nb.scores)}


def test_exact_and_hamming_matches():
    got = pairs(phash_neighbours(HASHES, max_distance=4))
    assert got[(0, 1)] == 0 and got[(0, 2)] == 3 and got[(2, 0)] == 3
    assert (0, 3) not in got and (0, 4) not in got
    assert all(got[(i, i)] == 0 for i in range(5))


def test_faiss_and_numpy_agree():
    rng = np.random.default_rng(1)
    hashes = [f"{int(v):016x}" for v in rng.integers(0, 2**63, 60)]
    hashes += [flip(h, rng.choice(64, 5, replace=False)) for h in hashes[:40]]
    codes = phash_to_bytes(hashes)
    a = _faiss_range_search(codes, 8, 50, 17)
    b = _numpy_range_search(codes, 8, 50, 23)
    assert pairs(a) == pairs(b) and len(a) > len(hashes)


def test_bad_hash_is_named():
    with pytest.raises(ValueError, match="position 1"):
        phash_to_bytes(["a5a5a5a5a5a5a5a5", "zz"])


def test_numpy_path_without_bitwise_count_or_faiss(monkeypatch):
    """numpy < 2.0 (no np.bitwise_count) and no faiss, as a Kaggle image can be: the same pairs, by a byte table."""
    import builtins

    from prodmatch.search import phash as phash_module

    rng = np.random.default_rng(2)
    hashes = [f"{int(v):016x}" for v in rng.integers(0, 2**63, 50)]
    hashes += [flip(h, rng.choice(64, 4, replace=False)) for h in hashes[:30]]
    expected = pairs(_numpy_range_search(phash_to_bytes(hashes), 8, 50, 19))
    real_import = builtins.__import__

    def no_faiss(name, *args, **kwargs):
        if name == "faiss":
            raise ImportError("no faiss here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_faiss)
    monkeypatch.delattr(phash_module.np, "bitwise_count")
    assert pairs(phash_neighbours(hashes, max_distance=8, block_rows=19)) == expected


def test_table_popcount_counts_every_bit():
    from prodmatch.search.phash import _table_popcount, popcount

    words = np.array([0, 1, 2**64 - 1, 0x8000000000000001, 0xA5A5A5A5A5A5A5A5], dtype=np.uint64)
    assert _table_popcount(words).tolist() == [0, 1, 64, 2, 32]
    grid = words[:, None] ^ words[None, :]
    assert _table_popcount(grid).tolist() == popcount(grid).tolist()
    with pytest.raises(TypeError, match="uint64"):
        popcount(words.astype(np.int64))
