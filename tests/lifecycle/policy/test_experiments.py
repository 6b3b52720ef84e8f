"""Deterministic assignment and the Thompson-sampling bandit."""

import pytest

from lifecycle.policy.experiments import bucket, choose_variant, probability_best, thompson_weights


def test_buckets_are_stable_uniform_and_independent_per_experiment():
    values = [bucket("holdout:welcome", cid) for cid in range(20_000)]
    assert values == [bucket("holdout:welcome", cid) for cid in range(20_000)]
    assert all(0 <= v < 1 for v in values)
    assert abs(sum(v < 0.1 for v in values) / len(values) - 0.1) < 0.01
    other = [bucket("holdout:win_back", cid) for cid in range(20_000)]
    both = sum(a < 0.1 and b < 0.1 for a, b in zip(values, other, strict=True)) / len(values)
    assert abs(both - 0.01) < 0.005  # holdouts of two chains are not the same customers


def test_variants_follow_their_weights():
    picks = [
        choose_variant("ab:cart:email_1", cid, (("A", 0.2), ("B", 0.3), ("C", 0.5))) for cid in range(20_000)
    ]
    shares = {v: picks.count(v) / len(picks) for v in "ABC"}
    assert shares == pytest.approx({"A": 0.2, "B": 0.3, "C": 0.5}, abs=0.015)


def test_the_bandit_waits_for_the_minimum_sample():
    assert thompson_weights([("A", 199, 20), ("B", 500, 80)], min_sample=200, seed="r1") is None


def test_the_bandit_moves_traffic_to_the_better_arm_and_is_reproducible():
    stats = [("A", 1000, 50), ("B", 1000, 80)]  # 5 % vs 8 % conversion
    weights = dict(thompson_weights(stats, min_sample=200, seed="run-7"))
    assert weights["B"] > 0.95
    assert sum(weights.values()) == pytest.approx(1.0)
    assert thompson_weights(stats, min_sample=200, seed="run-7") == tuple(weights.items())


def test_probability_best_is_even_for_equal_arms():
    best = probability_best([("A", 2000, 100), ("B", 2000, 100)], seed="s")
    assert best["A"] == pytest.approx(0.5, abs=0.05)
