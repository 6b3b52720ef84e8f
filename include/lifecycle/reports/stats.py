"""Incremental revenue and conversion of a chain over its holdout with 95 % intervals, from per-arm sums.

Each arm is summarised by its count of entrants, of buyers, and the sum and sum of squares of revenue per
entrant, which add up across days, so any period's interval comes from the materialised daily rows without
going back to customers.

* Revenue: difference of mean revenue per entrant with a Welch t interval whose degrees of freedom count the
  **buyers** of each arm rather than the entrants. Revenue per entrant is mostly zeros with a long tail of
  order values; its sample variance is about as precise as the number of non-zero values makes it, so the
  entrant count overstates the degrees of freedom and the interval under-covers when buyers are few.
* Conversion (share of entrants who bought in the horizon): Newcombe's hybrid score interval for a difference
  of proportions (from two Wilson intervals), which keeps its level with few buyers and rates near 0.

A chain is **not measured** (figure None with a reason) when it sent nothing in the period, has no holdout,
or an arm is below :data:`MIN_ENTRANTS_PER_ARM` entrants; revenue also needs :data:`MIN_BUYERS_PER_ARM`
buyers expected in the smaller arm at the pooled conversion. ``tests/lifecycle/reports/test_ground_truth.py``
checks the intervals' coverage on a synthetic shop with known effects.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_CONFIDENCE = 0.95
#: Below this many entrants in either arm a chain's effect is not estimated ("too_few_entrants").
MIN_ENTRANTS_PER_ARM = 100
#: Below this many buyers expected in the smaller arm (at the pooled conversion, :func:`expected_buyers`)
#: the revenue interval is not trusted ("too_few_buyers"): with heavy-tailed order values a handful of
#: buyers gives an interval that covers far less than it claims.
MIN_BUYERS_PER_ARM = 30

#: An A/B variant is declared the winner when P(best) reaches this and every variant has
#: :data:`MIN_SENDS_PER_VARIANT` sends in the period. 0.975 rather than 0.95: with two equal variants one of
#: them reaches P(best) 0.95 about 10 % of the time (either side), 0.975 about 5 %, as a two-sided 5 % test.
WINNER_P_BEST = 0.975
MIN_SENDS_PER_VARIANT = 100

#: Why a chain's effect (or an A/B winner) is not given, in the order they are checked, with what it means.
REASONS = {
    "no_sends": "the chain sent nothing to its entrants of the period: there is no effect to measure",
    "no_entrants": "no customer entered the chain in the period",
    "no_holdout": "the chain has no holdout entrants to compare with",
    "too_few_entrants": f"an arm has fewer than {MIN_ENTRANTS_PER_ARM} entrants: too small to say",
    "too_few_buyers": f"fewer than {MIN_BUYERS_PER_ARM} buyers expected in the smaller arm: too few to "
    "estimate revenue",
    "too_few_sends": f"a variant has fewer than {MIN_SENDS_PER_VARIANT} sends: too early to say",
    "no_clear_winner": f"no variant is best with probability {WINNER_P_BEST:.1%}",
}
#: The same reasons as short Russian and English labels for the pages.
REASON_LABELS = {
    "no_sends": ("ничего не отправлено", "nothing sent"),
    "no_entrants": ("нет вошедших", "no entrants"),
    "no_holdout": ("нет контрольной группы", "no holdout"),
    "too_few_entrants": ("слишком мало клиентов", "too small to say"),
    "too_few_buyers": ("слишком мало покупателей", "too few buyers to say"),
    "too_few_sends": ("слишком мало отправок", "too early to say"),
    "no_clear_winner": ("победителя нет", "no clear winner"),
}


@dataclass(frozen=True)
class ArmStats:
    """One arm: n entrants, the sum and the sum of squares of their revenue, how many of them bought and how
    many were sent at least one message of the chain (None: unknown)."""

    n: int
    total: float
    total_sq: float
    buyers: int | None = None
    messaged: int | None = None

    @classmethod
    def of(cls, values: list[float]) -> ArmStats:
        return cls(
            len(values), float(sum(values)), float(sum(v * v for v in values)), sum(v > 0 for v in values)
        )

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        """Sample variance (n - 1 in the denominator); None below two entrants."""
        if self.n < 2:
            return None
        return max(self.total_sq - self.total * self.total / self.n, 0.0) / (self.n - 1)

    @property
    def conversion(self) -> float | None:
        return self.buyers / self.n if self.n and self.buyers is not None else None


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
    degrees of freedom, each arm's taken as its buyers less one when the buyers are known, else its entrants
    less one). The interval is None when an arm has fewer than two entrants; with no variance at all it
    collapses to the point estimate."""
    if not treated.n or not holdout.n:
        return Uplift(treated, holdout, None, None, None, confidence, None)
    diff = treated.mean - holdout.mean
    if treated.variance is None or holdout.variance is None:
        return Uplift(treated, holdout, diff, None, None, confidence, None)
    a, b = treated.variance / treated.n, holdout.variance / holdout.n
    se = math.sqrt(a + b)
    if se == 0:
        return Uplift(treated, holdout, diff, diff, diff, confidence, math.inf)
    df = (a + b) ** 2 / (a * a / _dof(treated) + b * b / _dof(holdout))
    from scipy.stats import t

    half = float(t.ppf(0.5 + confidence / 2, df)) * se
    return Uplift(treated, holdout, diff, diff - half, diff + half, confidence, df)


def _dof(arm: ArmStats) -> int:
    """Degrees of freedom of an arm's variance: its buyers (the non-zero revenues) less one, at least one."""
    effective = arm.n if arm.buyers is None else min(arm.n, arm.buyers)
    return max(effective - 1, 1)


def wilson(successes: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(centre - half, 0.0), min(centre + half, 1.0)


def newcombe_difference(
    x1: int, n1: int, x2: int, n2: int, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float, float]:
    """p1 - p2 with Newcombe's hybrid score interval (method 10 of Newcombe 1998), from Wilson intervals."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, confidence)
    l2, u2 = wilson(x2, n2, confidence)
    diff = p1 - p2
    return diff, diff - math.hypot(p1 - l1, u2 - p2), diff + math.hypot(u1 - p1, p2 - l2)


def ab_winner(variants: list[tuple[str, int, float | None]]) -> tuple[str | None, str | None]:
    """From (variant, sends, P(best)): the winning variant and None, or None and why there is none yet
    (``too_few_sends``: a variant has fewer than :data:`MIN_SENDS_PER_VARIANT` sends; ``no_clear_winner``: no
    variant is best with probability :data:`WINNER_P_BEST`)."""
    if any(sends < MIN_SENDS_PER_VARIANT for _, sends, _ in variants):
        return None, "too_few_sends"
    best = max(variants, key=lambda v: v[2] or 0.0)
    if (best[2] or 0.0) >= WINNER_P_BEST:
        return best[0], None
    return None, "no_clear_winner"


def unmeasurable_reason(treated: ArmStats, holdout: ArmStats, sends: int | None) -> str | None:
    """Why neither effect of a chain can be given (a key of :data:`REASONS`), or None. "Sent nothing" is
    judged on the treated entrants who were sent a message when that is known, else on the period's sends."""
    reached = treated.messaged if treated.messaged is not None else sends
    if reached is not None and reached <= 0:
        return "no_sends"
    if treated.n == 0 and holdout.n == 0:
        return "no_entrants"
    if holdout.n == 0:
        return "no_holdout"
    if min(treated.n, holdout.n) < MIN_ENTRANTS_PER_ARM:
        return "too_few_entrants"
    return None


def expected_buyers(treated: ArmStats, holdout: ArmStats) -> float:
    """Buyers the smaller arm would have at the two arms' pooled conversion. The minimum is checked on this
    rather than on each arm's own buyers, which would withhold exactly the periods whose holdout happened to
    buy little (a figure shown only when the holdout bought enough is biased downwards)."""
    n = treated.n + holdout.n
    if not n or treated.buyers is None or holdout.buyers is None:
        return 0.0
    return min(treated.n, holdout.n) * (treated.buyers + holdout.buyers) / n


def chain_effect(
    treated: ArmStats, holdout: ArmStats, sends: int | None, confidence: float = DEFAULT_CONFIDENCE
) -> dict[str, Any]:
    """A chain's incremental revenue and conversion over its holdout, ready for the pages and tables.

    Keys: ``sends`` (messages sent in the period); ``treated`` / ``holdout`` entrants, ``treated_buyers`` /
    ``holdout_buyers``, ``messaged`` (treated entrants sent at least one message), ``reach`` (messaged /
    treated) and ``holdout_messaged`` (holdout entrants sent a message: 0 unless the holdout leaked);
    ``revenue_per_treated`` / ``revenue_per_holdout`` (always, as observed); ``uplift_per_entrant``,
    ``incremental_revenue`` (per entrant × treated entrants), ``ci_low`` / ``ci_high``, ``significant`` (the
    interval excludes 0) and ``reason`` (None, or why the revenue figures are None); ``conversion_treated`` /
    ``conversion_holdout``, ``conversion_uplift`` (difference of shares), ``conversion_ci_low`` / ``_high``,
    ``incremental_buyers`` (difference × treated entrants), ``conversion_significant`` and
    ``conversion_reason``; ``confidence``. ``sends`` None means unknown and is not checked."""
    reason = unmeasurable_reason(treated, holdout, sends)
    revenue_reason = reason
    if reason is None and expected_buyers(treated, holdout) < MIN_BUYERS_PER_ARM:
        revenue_reason = "too_few_buyers"
    uplift = welch_uplift(treated, holdout, confidence)
    result = uplift.as_dict() | {
        "sends": sends,
        "treated_buyers": treated.buyers,
        "holdout_buyers": holdout.buyers,
        "messaged": treated.messaged,
        "reach": treated.messaged / treated.n if treated.messaged is not None and treated.n else None,
        "holdout_messaged": holdout.messaged,
        "significant": revenue_reason is None and uplift.significant,
        "reason": revenue_reason,
        "conversion_treated": treated.conversion,
        "conversion_holdout": holdout.conversion,
        "conversion_uplift": None,
        "conversion_ci_low": None,
        "conversion_ci_high": None,
        "incremental_buyers": None,
        "conversion_significant": False,
        "conversion_reason": reason,
    }
    if revenue_reason is not None:
        result |= dict.fromkeys(("uplift_per_entrant", "incremental_revenue", "ci_low", "ci_high"))
    if reason is None and treated.buyers is not None and holdout.buyers is not None:
        diff, low, high = newcombe_difference(
            treated.buyers, treated.n, holdout.buyers, holdout.n, confidence
        )
        result |= {
            "conversion_uplift": diff,
            "conversion_ci_low": low,
            "conversion_ci_high": high,
            "incremental_buyers": diff * treated.n,
            "conversion_significant": low > 0 or high < 0,
        }
    return result


#: What the plain-text tables show for a figure that is not given.
MISSING = "—"


def format_estimate(
    value: Any,
    low: Any = None,
    high: Any = None,
    fmt: str | Callable[[Any], str] = "+.1f",
    *,
    scale: float = 1,
    unit: str = "",
    sep: str = ", ",
) -> str:
    """An estimate and its interval for the plain-text tables: ``+1.2 [-0.3, +2.7]``.

    Each number is multiplied by ``scale`` (100 for percentage points) and written with ``fmt``, a format
    spec or a function; ``unit`` follows the estimate and ``sep`` separates the bounds. A missing estimate is
    ``—``, an estimate without an interval stands alone.
    """

    def number(x: Any) -> str:
        scaled = x if scale == 1 else x * scale
        return fmt(scaled) if callable(fmt) else format(scaled, fmt)

    if value is None:
        return MISSING
    if low is None:
        return number(value) + unit
    return f"{number(value)}{unit} [{number(low)}{sep}{number(high)}]"


def format_share(value: float | None) -> str:
    """A share as a percentage with one decimal (``12.3%``) for the plain-text tables; ``—`` when missing."""
    return MISSING if value is None else f"{value:.1%}"
