"""Incremental revenue over a holdout with a Welch confidence interval, from per-arm aggregates.

Each arm is summarised by its count, sum and sum of squares of revenue per entrant, which add up across days,
so any period's interval comes from the materialised daily rows without going back to customers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class ArmStats:
    """Revenue per entrant of one arm: n entrants, the sum and the sum of squares of their revenue."""

    n: int
    total: float
    total_sq: float

    @classmethod
    def of(cls, values: list[float]) -> ArmStats:
        return cls(len(values), float(sum(values)), float(sum(v * v for v in values)))

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        """Sample variance (n - 1 in the denominator); None below two entrants."""
        if self.n < 2:
            return None
        return max(self.total_sq - self.total * self.total / self.n, 0.0) / (self.n - 1)


@dataclass(frozen=True)
class Uplift:
    """Treated minus holdout revenue per entrant, and that difference times the treated entrants."""

    treated: ArmStats
    holdout: ArmStats
    per_entrant: float | None
    per_entrant_low: float | None
    per_entrant_high: float | None
    confidence: float
    df: float | None

    @property
    def incremental_revenue(self) -> float | None:
        return None if self.per_entrant is None else self.per_entrant * self.treated.n

    @property
    def low(self) -> float | None:
        return None if self.per_entrant_low is None else self.per_entrant_low * self.treated.n

    @property
    def high(self) -> float | None:
        return None if self.per_entrant_high is None else self.per_entrant_high * self.treated.n

    @property
    def significant(self) -> bool:
        """The interval excludes zero."""
        return self.low is not None and (self.low > 0 or self.high < 0)

    def as_dict(self) -> dict:
        return {
            "treated": self.treated.n,
            "holdout": self.holdout.n,
            "revenue_per_treated": self.treated.mean,
            "revenue_per_holdout": self.holdout.mean,
            "uplift_per_entrant": self.per_entrant,
            "incremental_revenue": self.incremental_revenue,
            "ci_low": self.low,
            "ci_high": self.high,
            "confidence": self.confidence,
        }


def welch_uplift(treated: ArmStats, holdout: ArmStats, confidence: float = DEFAULT_CONFIDENCE) -> Uplift:
    """Difference of mean revenue per entrant with a Welch t interval (unequal variances, Welch–Satterthwaite
    degrees of freedom). The interval is None when an arm has fewer than two entrants; with no variance at all
    it collapses to the point estimate."""
    if not treated.n or not holdout.n:
        return Uplift(treated, holdout, None, None, None, confidence, None)
    diff = treated.mean - holdout.mean
    if treated.variance is None or holdout.variance is None:
        return Uplift(treated, holdout, diff, None, None, confidence, None)
    a, b = treated.variance / treated.n, holdout.variance / holdout.n
    se = math.sqrt(a + b)
    if se == 0:
        return Uplift(treated, holdout, diff, diff, diff, confidence, math.inf)
    df = (a + b) ** 2 / (a * a / (treated.n - 1) + b * b / (holdout.n - 1))
    from scipy.stats import t

    half = float(t.ppf(0.5 + confidence / 2, df)) * se
    return Uplift(treated, holdout, diff, diff - half, diff + half, confidence, df)
