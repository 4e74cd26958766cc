"""Graph steps on the pair model's probabilities, recomputed by hand."""

import numpy as np
import pytest

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.pair.graph import GraphSteps, apply_graph_steps, mutual_probability, two_hop_support


def square(pairs: dict[tuple[int, int], float], n: int):
    keys = sorted(pairs)
    rows = np.array([a for a, _ in keys], dtype=np.int64)
    cols = np.array([b for _, b in keys], dtype=np.int64)
    table = CandidateTable(rows, cols, {}, n, n)
    return table, np.array([pairs[k] for k in keys], dtype=np.float32), keys


def test_two_hop_support_sums_products_over_strong_shared_neighbours():
    # a=0 -> b=1 -> c=2 strongly; a=0 -> d=3 -> c=2 strongly too; 0 -> 2 itself weak
    pairs = {(0, 1): 0.9, (1, 2): 0.8, (0, 3): 0.7, (3, 2): 0.5, (0, 2): 0.1, (2, 0): 0.1, (1, 0): 0.9}
    table, p, keys = square(pairs, 4)
    support = dict(zip(keys, two_hop_support(table, p, edge=0.5).tolist()))
    assert support[(0, 2)] == pytest.approx(min(1.0, 0.9 * 0.8 + 0.7 * 0.5))
    support = dict(zip(keys, two_hop_support(table, p, edge=0.6).tolist()))
    assert support[(0, 2)] == pytest.approx(0.9 * 0.8)  # 3 -> 2 (0.5) is no longer a strong edge
    assert support[(0, 1)] == 0.0  # no strong path 0 -> x -> 1 (0 -> 1 -> 0 -> 1 is not one)


def test_mutual_keeps_the_lower_direction():
    table, p, keys = square({(0, 1): 0.9, (1, 0): 0.4, (0, 2): 0.7}, 3)
    assert dict(zip(keys, mutual_probability(table, p).tolist())) == pytest.approx(
        {(0, 1): 0.4, (1, 0): 0.4, (0, 2): 0.7})


def test_steps_raise_to_the_support_and_keep_self_pairs_at_one():
    table, p, keys = square({(0, 0): 1.0, (0, 1): 0.9, (1, 2): 0.9, (0, 2): 0.2}, 3)
    out = dict(zip(keys, apply_graph_steps(table, p, GraphSteps(two_hop_edge=0.5)).tolist()))
    assert out[(0, 2)] == pytest.approx(0.81) and out[(0, 0)] == 1.0 and out[(0, 1)] == pytest.approx(0.9)
    np.testing.assert_array_equal(apply_graph_steps(table, p, GraphSteps()), p)


def test_steps_describe_and_round_trip():
    steps = GraphSteps(mutual=True, two_hop_edge=0.6)
    assert GraphSteps.from_dict(steps.as_dict()) == steps
    assert steps.describe() == "mutual + two-hop support (edges p>=0.60)" and GraphSteps().describe() == "none"


def test_probabilities_must_be_float32_one_per_pair():
    table, p, _ = square({(0, 1): 0.5}, 2)
    with pytest.raises(TypeError, match="float32"):
        apply_graph_steps(table, p.astype(np.float64), GraphSteps())
