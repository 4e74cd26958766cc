"""Connected components by blocks (min-label propagation with jumps) against scipy's connected_components."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from prodmatch.dedup.engine.components import block_components, numbered
from prodmatch.dedup.engine.partitioned import InProcess, split_rows


def by_blocks(n, a, b, blocks):
    bounds = split_rows(n, blocks)
    edges = [(a[(a >= s) & (a < e)], b[(a >= s) & (a < e)]) for s, e in bounds]
    return np.concatenate(block_components(InProcess(), bounds, edges))


def scipy_labels(n, a, b):
    graph = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def same_partition(x, y):
    """Two labellings make the same clusters (up to names)."""
    pairs = set(zip(x.tolist(), y.tolist()))
    return len(pairs) == len(set(x.tolist())) == len(set(y.tolist()))


def random_graph(n, m, seed, chain=0):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, n, m), rng.integers(0, n, m)
    if chain:  # a long path through records in random order: the slow case of label propagation
        path = rng.permutation(n)[:chain]
        a, b = np.r_[a, path[:-1]], np.r_[b, path[1:]]
    keep = a != b
    return np.minimum(a, b)[keep].astype(np.int64), np.maximum(a, b)[keep].astype(np.int64)


@pytest.mark.parametrize("n, m, chain, blocks", [(500, 200, 0, 4), (500, 900, 0, 3), (2000, 50, 400, 5),
                                                 (300, 0, 0, 2), (50, 60, 30, 1), (40, 30, 10, 40)])
def test_components_are_scipys(n, m, chain, blocks):
    a, b = random_graph(n, m, seed=n + m + chain, chain=chain)
    labels = by_blocks(n, a, b, blocks)
    expected = scipy_labels(n, a, b)
    assert same_partition(labels, expected)
    # each record is labelled with its component's smallest record, so numbering follows the first records
    smallest = np.full(expected.max() + 1, n)
    np.minimum.at(smallest, expected, np.arange(n))
    assert np.array_equal(labels, smallest[expected])
    first_seen = np.unique(numbered(labels), return_index=True)[1]
    assert np.all(np.diff(first_seen) > 0)
