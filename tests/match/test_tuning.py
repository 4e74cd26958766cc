import numpy as np

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.evaluate import PolicyEvaluator
from prodmatch.match.policy import MatchPolicy
from prodmatch.match.tuning import NEVER, tune_source, tune_union
from prodmatch.search.neighbours import Neighbours
from prodmatch.search.scales import COSINE


def noisy_source(labels, rng, signal, n_noise):
    """Same-group pairs score ~signal, random pairs score lower: a source with a clear best threshold."""
    n = len(labels)
    rows, cols, scores = [], [], []
    for i in range(n):
        for j in np.flatnonzero(labels == labels[i]):
            rows.append(i), cols.append(j), scores.append(1.0 if i == j else signal + 0.05 * rng.normal())
        for j in rng.integers(0, n, n_noise):
            if labels[j] != labels[i]:
                rows.append(i), cols.append(j), scores.append(signal - 0.3 + 0.1 * rng.normal())
    nb = Neighbours(np.array(rows, np.int64), np.array(cols, np.int64), np.array(scores, np.float32), n, n)
    return nb


def test_tuning_finds_a_separating_threshold_and_drops_a_useless_source():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(40), 3)
    good = noisy_source(labels, rng, signal=0.8, n_noise=5)
    junk_rows = rng.integers(0, 120, 600)
    junk = Neighbours(junk_rows, rng.integers(0, 120, 600), rng.uniform(0.5, 1, 600).astype(np.float32), 120, 120)
    table = CandidateTable.from_sources({"good": good, "junk": junk.select(junk.rows != junk.cols).top_k(50)})
    evaluator = PolicyEvaluator(table, labels, ["good", "junk"])
    best, curve = tune_source(evaluator, "good", COSINE.grid(), min2=False)
    assert 0.55 <= best.threshold <= 0.75 and best.score.f1 > 0.95
    assert len(curve) > 50
    start = MatchPolicy({"good": best.threshold, "junk": 0.5}, priority=["good", "junk"], min2=False)
    policy, score = tune_union(evaluator, start, {"good": COSINE.grid(), "junk": COSINE.grid()}, tune_floor=False)
    assert policy.thresholds["junk"] >= 0.99 or policy.thresholds["junk"] == NEVER
    assert score.f1 >= best.score.f1 - 1e-9
