import numpy as np
import pytest

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.evaluate import PolicyEvaluator
from prodmatch.match.policy import MatchPolicy, PolicyApplier, match_lists, select_matches
from prodmatch.metrics import score_match_lists, truth_from_labels
from prodmatch.search.neighbours import Neighbours


def nb(triples, n):
    rows, cols, scores = zip(*triples) if triples else ([], [], [])
    return Neighbours(np.array(rows, np.int64), np.array(cols, np.int64), np.array(scores, np.float32), n, n)


def chosen(table, mask):
    return set(zip(table.rows[mask].tolist(), table.cols[mask].tolist()))


@pytest.fixture
def table():
    text = nb([(0, 0, 1), (0, 1, 0.8), (1, 0, 0.8), (0, 2, 0.3), (2, 0, 0.3), (3, 2, 0.35)], 5)
    image = nb([(2, 3, 0.9), (3, 2, 0.9), (0, 2, 0.4)], 5)
    return CandidateTable.from_sources({"text": text, "image": image})


def test_table_unions_pairs_and_marks_missing_scores(table):
    assert len(table) == 7
    i = np.flatnonzero((table.rows == 0) & (table.cols == 2))[0]
    assert table.score("text")[i] == pytest.approx(0.3) and table.score("image")[i] == pytest.approx(0.4)
    j = np.flatnonzero((table.rows == 2) & (table.cols == 3))[0]
    assert table.score("text")[j] == -np.inf


def test_union_of_thresholds_excludes_self(table):
    policy = MatchPolicy({"text": 0.5, "image": 0.5}, min2=False)
    assert chosen(table, select_matches(table, policy)) == {(0, 1), (1, 0), (2, 3), (3, 2)}
    only_text = MatchPolicy({"text": 0.5, "image": np.inf}, min2=False)
    assert chosen(table, select_matches(table, only_text)) == {(0, 1), (1, 0)}


def test_min2_adds_best_other_candidate_for_lonely_rows_only(table):
    policy = MatchPolicy({"text": 0.9, "image": 0.95}, priority=["text", "image"], min2=True)
    got = chosen(table, select_matches(table, policy))
    # row 0: best other by text is 1 (0.8); row 2: text 0.3 to 0, vs image-only 3 -> text ranks first
    assert got == {(0, 1), (1, 0), (2, 0), (3, 2)}
    # row 4 has no candidates at all and stays alone
    floored = MatchPolicy({"text": 0.9, "image": 0.95}, priority=["text", "image"], min2=True, min2_floor=0.5)
    assert chosen(table, select_matches(table, floored)) == {(0, 1), (1, 0)}


def test_cap_keeps_the_best_ranked():
    n = 60
    text = nb([(0, j, 1 - j / 100) for j in range(1, n)], n)
    table = CandidateTable.from_sources({"text": text})
    mask = select_matches(table, MatchPolicy({"text": 0.0}, min2=False, cap=50))
    assert mask.sum() == 49 and set(table.cols[mask]) == set(range(1, 50))
    lists = match_lists(table, mask, [f"p{i}" for i in range(n)], [f"p{i}" for i in range(n)],
                        PolicyApplier(table, ["text"]).order)
    assert len(lists[0]) == 50 and lists[0][:3] == ["p0", "p1", "p2"]


def test_evaluator_equals_the_metric_on_written_lists(table):
    labels = np.array([0, 0, 1, 1, 2])
    ids = [f"p{i}" for i in range(5)]
    policy = MatchPolicy({"text": 0.5, "image": 0.5}, priority=["text", "image"], min2=True)
    applier = PolicyApplier(table, policy.priority)
    lists = match_lists(table, applier.mask(policy), ids, ids, applier.order)
    expected = score_match_lists(dict(zip(ids, lists)), truth_from_labels(ids, labels))
    assert PolicyEvaluator(table, labels, policy.priority).score(policy).f1 == pytest.approx(expected.f1)


def test_policy_round_trips_through_json_form():
    policy = MatchPolicy({"text": 0.5, "image": np.inf}, min2=True)
    back = MatchPolicy.from_dict(policy.as_dict())
    assert back.thresholds == {"text": 0.5, "image": np.inf} and back.min2_floor == -np.inf
    assert policy.as_dict()["thresholds"]["image"] is None


def reference_mask(table, policy):
    """The policy applied the plain way (the definition the fast PolicyApplier must reproduce exactly)."""
    order = PolicyApplier(table, policy.priority).order
    mask = np.zeros(len(table), bool)
    for source, threshold in policy.thresholds.items():
        mask |= table.score(source) >= threshold
    mask &= table.rows != table.cols
    if policy.min2:
        ranked = [i for i in order if table.rows[i] != table.cols[i]]
        first_score = {}
        for source in reversed(policy.priority):
            score = table.score(source)
            for i in np.flatnonzero(np.isfinite(score)):
                first_score[i] = score[i]
        matched = set(table.rows[mask].tolist())
        best = {}
        for i in ranked:
            best.setdefault(int(table.rows[i]), i)
        for row, i in best.items():
            if row not in matched and first_score[i] >= policy.min2_floor:
                mask[i] = True
    kept = np.zeros_like(mask)
    per_row = {}
    for i in order:
        if mask[i]:
            per_row[table.rows[i]] = per_row.get(table.rows[i], 0) + 1
            kept[i] = per_row[table.rows[i]] <= policy.cap - 1
    return kept


@pytest.mark.parametrize("seed", range(6))
def test_fast_applier_equals_the_plain_definition(seed):
    rng = np.random.default_rng(seed)
    n = 40
    parts = {}
    for source in ("text", "image"):
        rows, cols = rng.integers(0, n, 400), rng.integers(0, n, 400)
        scores = np.round(rng.random(400), 1).astype(np.float32)  # coarse scores: many ties
        parts[source] = Neighbours(rows.astype(np.int64), cols.astype(np.int64), scores, n, n)
    table = CandidateTable.from_sources(parts)
    applier = PolicyApplier(table, ["text", "image"])
    labels = rng.integers(0, 8, n)
    evaluator = PolicyEvaluator(table, labels, ["text", "image"])
    for _ in range(10):
        policy = MatchPolicy({"text": float(rng.choice([0.3, 0.6, np.inf])), "image": float(rng.choice([0.2, 0.8]))},
                             priority=["text", "image"], min2=bool(rng.integers(2)),
                             min2_floor=float(rng.choice([-np.inf, 0.5])), cap=int(rng.choice([2, 4, 50])))
        expected = reference_mask(table, policy)
        mask, matched = applier.apply(policy)
        np.testing.assert_array_equal(mask, expected)
        np.testing.assert_array_equal(matched, np.bincount(table.rows[expected], minlength=n))
        _, tp, n_pred = evaluator.counts(policy)
        hits = labels[table.rows] == labels[table.cols]
        np.testing.assert_array_equal(tp, np.bincount(table.rows[expected], weights=hits[expected], minlength=n) + 1)
        np.testing.assert_array_equal(n_pred, np.bincount(table.rows[expected], minlength=n) + 1)
