"""Connected components by partitions: min-label propagation with pointer jumping over blocks of records.

Every record starts labelled with its own position. A round (1) gives both ends of every edge the smaller of
their two labels, then (2) replaces each label ``l`` by the label of record ``l`` (a jump: labels point at a
record of the same component whose label is no larger). Labels only decrease and always name a record of
the component, so when a round changes nothing every component carries one label: its smallest record (the
smallest record keeps its own label throughout). Jumping makes a chain's labels travel doubling distances,
so the rounds grow with the log of the components' diameter rather than the diameter itself.

Labels live in blocks of consecutive records, edges with the block of their first record (``a < b``); a
round is a few all-to-all steps of small tasks (each block's lookups into every other block), handed to a
runner (:mod:`prodmatch.dedup.engine.partitioned`), so no task holds more than a block's labels and edges and
the values it looks up. :func:`block_components` is the whole step; the result equals
``scipy.sparse.csgraph.connected_components`` up to the numbering (tests/dedup/engine/test_components.py).
"""

from __future__ import annotations

import numpy as np

MAX_ROUNDS = 200  # a round at least doubles the distance labels travel: never reached on real data


def lookup_part(labels: np.ndarray, start: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions in ``keys``, labels) of the keys inside this block (records ``start .. start + len(labels)``)."""
    inside = np.flatnonzero((keys >= start) & (keys < start + len(labels)))
    return inside, labels[keys[inside] - start]


def assemble(n_keys: int, parts: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Each key's label from the block that holds it."""
    out = np.empty(n_keys, dtype=np.int64)
    for positions, values in parts:
        out[positions] = values
    return out


def key_count(keys: np.ndarray) -> int:
    return len(keys)


def edge_keys(edges: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return edges[1]


def proposals(edges: tuple[np.ndarray, np.ndarray], labels: np.ndarray, start: int, other: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """(record, label) proposals of a block's edges: both ends get min(label of a, label of b)."""
    a, b = edges
    smaller = np.minimum(labels[a - start], other)
    return np.concatenate([a, b]), np.concatenate([smaller, smaller])


def proposals_to(proposed: tuple[np.ndarray, np.ndarray], start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """The proposals for the records ``start .. stop``."""
    records, values = proposed
    inside = (records >= start) & (records < stop)
    return records[inside], values[inside]


def lower(labels: np.ndarray, start: int, incoming: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """A block's labels lowered by the proposals for its records."""
    out = labels.copy()
    for records, values in incoming:
        np.minimum.at(out, records - start, values)
    return out


def jump(labels: np.ndarray, looked_up: np.ndarray) -> np.ndarray:
    return np.minimum(labels, looked_up)


def changed(before: np.ndarray, after: np.ndarray) -> bool:
    return bool((before != after).any())


def _lookup(runner, blocks: list, starts: list[int], keys):
    return runner.submit(assemble, runner.submit(key_count, keys), [runner.submit(lookup_part, block, start, keys)
                                                                    for block, start in zip(blocks, starts)])


def block_components(runner, bounds: list[tuple[int, int]], edges: list) -> list:
    """Handles of each block's labels (the smallest record of each record's component). ``edges``: per block,
    a handle of ``(a, b)`` int64 arrays with ``a`` in the block and ``a < b``."""
    starts = [start for start, _ in bounds]
    labels = [runner.submit(np.arange, start, stop, dtype=np.int64) for start, stop in bounds]
    for _ in range(MAX_ROUNDS):
        other = [_lookup(runner, labels, starts, runner.submit(edge_keys, e)) for e in edges]
        proposed = [runner.submit(proposals, e, block, start, o) for e, block, start, o in zip(edges, labels, starts,
                                                                                              other)]
        lowered = [runner.submit(lower, block, start, [runner.submit(proposals_to, p, start, stop) for p in proposed])
                   for block, (start, stop) in zip(labels, bounds)]
        jumped = [runner.submit(jump, block, _lookup(runner, lowered, starts, block))
                  for block in lowered]
        if not any(runner.gather([runner.submit(changed, before, after) for before, after in zip(labels, jumped)])):
            return jumped
        labels = jumped
    raise RuntimeError(f"connected components did not settle in {MAX_ROUNDS} rounds")


def numbered(labels: np.ndarray) -> np.ndarray:
    """Clusters numbered in order of each cluster's first record (clustering.components' numbering): the
    label is the smallest record, so the order of the labels is that order."""
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)
