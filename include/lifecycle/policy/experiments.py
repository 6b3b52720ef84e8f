"""Deterministic experiment assignment and the Thompson-sampling bandit.

A customer's bucket in an experiment is a hash of the experiment id and the customer id mapped to [0, 1):
the same on every run, every worker and every warehouse engine, with no state needed to reproduce it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

_SCALE = float(16**15)


def bucket(experiment: str, customer_id: int) -> float:
    """A uniform number in [0, 1) fixed by experiment and customer."""
    digest = hashlib.sha256(f"{experiment}|{customer_id}".encode()).hexdigest()
    return int(digest[:15], 16) / _SCALE


def choose_variant(experiment: str, customer_id: int, weights: Sequence[tuple[str, float]]) -> str:
    """The variant whose cumulative weight range holds the customer's bucket (weights need not sum to 1)."""
    total = sum(weight for _, weight in weights)
    point = bucket(experiment, customer_id) * total
    running = 0.0
    for variant, weight in weights:
        running += weight
        if point < running:
            return variant
    return weights[-1][0]


def thompson_weights(
    stats: Sequence[tuple[str, int, int]], min_sample: int, seed: str, draws: int = 4000
) -> tuple[tuple[str, float], ...] | None:
    """Traffic shares from (variant, sends, conversions): the probability that each arm is best under a
    Beta(1 + conversions, 1 + failures) posterior. None until every arm has ``min_sample`` sends, so the
    configured weights apply while the data is thin. Seeded by ``seed`` so a re-run gives the same shares."""
    import numpy as np

    if not stats or any(sends < min_sample for _, sends, _ in stats):
        return None
    rng = np.random.default_rng(int(hashlib.sha256(seed.encode()).hexdigest()[:16], 16))
    samples = np.column_stack([rng.beta(1 + conv, 1 + sends - conv, draws) for _, sends, conv in stats])
    wins = np.bincount(samples.argmax(axis=1), minlength=len(stats)) / draws
    return tuple((variant, float(share)) for (variant, _, _), share in zip(stats, wins, strict=True))


def probability_best(stats: Sequence[tuple[str, int, int]], seed: str, draws: int = 4000) -> dict[str, float]:
    """P(each variant is best) from (variant, sends, conversions), for A/B reports."""
    shares = thompson_weights(stats, min_sample=0, seed=seed, draws=draws) or ()
    return dict(shares)
