"""What one step earns against its cost: the step's own holdout (``holdout_share`` of a chain step).

A step with a holdout is kept from a fixed share of the customers it would have gone to, at the moment every
other contact rule let it go (``lifecycle.policy.rules``, reason ``step_holdout``); the rest of the chain goes
on for both arms alike. So the two arms are customers the step would have reached, with and without it, and
the difference of their purchases over the window after that moment is the step's own effect, whatever the
earlier steps did. The question it answers is the marketer's: *did the SMS earn its cost?*

Per chain and step, for the decisions of the period: treated and held-out customers, what the treated
messages cost (``crm.send_ledger.cost``: segments x price, or the provider's answer), and over the window

* **incremental orders**: treated minus holdout orders per customer (Welch interval, degrees of freedom
  counted on the buyers, as for the chains' revenue in :mod:`lifecycle.reports.stats`), times the treated;
* **incremental revenue**: the same for revenue; **net** = incremental revenue − cost, and the revenue per
  rouble spent;
* **conversion**: the difference of the shares of customers who bought (Newcombe interval);
* a **verdict**: ``earns_its_cost`` when the whole revenue interval lies above the cost, ``costs_more`` when
  it lies below, else ``unclear``; the figures are None with a reason (a key of
  :data:`lifecycle.reports.stats.REASONS`) when an arm is too small, as for the chains; the revenue, the net
  and the verdict also when fewer than 30 buyers are expected in the smaller arm (``revenue_reason``).

The customers' outcomes are intention to treat: a treated message that failed or was not delivered still
counts in its arm (that is what sending the step does).

A decision counts the purchases of the ``window_days`` after it, so the figures of a period whose last days
are less than a window ago are not final: the purchases after those days' decisions are still coming in, the
incremental revenue is short of them while the cost is whole. :func:`still_counting` says so, for the
command, the CRM overview and the reports run note.

    python -m lifecycle step-lift [--days 30] [--until 2026-11-28] [--window-days 7] [--json]

The table says the verdicts in words ("earns its cost"), ``--json`` gives the keys (``earns_its_cost``); the
note on purchases still coming in follows the table, or goes to stderr with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lifecycle.reports.stats import (
    DEFAULT_CONFIDENCE,
    MIN_BUYERS_PER_ARM,
    MIN_ENTRANTS_PER_ARM,
    REASON_LABELS,
    ArmStats,
    expected_buyers,
    format_estimate,
    newcombe_difference,
    unmeasurable_reason,
    welch_uplift,
)
from lifecycle.warehouse import Warehouse

#: Purchases within this many days after the decision count (the attribution window of the experiments).
DEFAULT_WINDOW_DAYS = 7
VERDICTS = {
    "earns_its_cost": "the whole interval of its incremental revenue lies above what the messages cost",
    "costs_more": "the whole interval of its incremental revenue lies below what the messages cost",
    "unclear": "the interval of its incremental revenue contains the cost: not yet clear",
}
#: The verdicts in the marketer's words, Russian and English (the CRM overview's "Step lift" section).
VERDICT_LABELS = {
    "earns_its_cost": ("окупается", "earns its cost"),
    "costs_more": ("стоит больше, чем приносит", "costs more than it brings"),
    "unclear": ("пока неясно", "not yet clear"),
}
#: Why a step gets no figure, said of a step: the keys of :data:`lifecycle.reports.stats.REASONS` a step can
#: have (their short labels are :data:`lifecycle.reports.stats.REASON_LABELS`).
REASONS = {
    "no_sends": "the step sent nothing to its treated customers in the period: there is no effect to measure",
    "no_entrants": "no customer was due for the step in the period",
    "no_holdout": "no customer of the period was kept from the step: there is nothing to compare with",
    "too_few_entrants": f"an arm has fewer than {MIN_ENTRANTS_PER_ARM} customers: too small to say",
    "too_few_buyers": f"fewer than {MIN_BUYERS_PER_ARM} buyers expected in the smaller arm: too few to "
    "estimate revenue",
}


def days_still_counting(
    first_day: date, last_day: date, window_days: int = DEFAULT_WINDOW_DAYS, today: date | None = None
) -> int:
    """How many decision days of ``first_day``..``last_day`` still have purchases to come on ``today`` (UTC
    today by default): a decision counts the purchases up to ``window_days`` after its moment, so the
    decisions of a day are final from ``window_days + 1`` days later on (:func:`final_last_day`)."""
    today = today or datetime.now(UTC).date()
    open_from = max(first_day, today - timedelta(days=window_days))
    return max(0, (min(last_day, today) - open_from).days + 1)


def final_last_day(window_days: int = DEFAULT_WINDOW_DAYS, today: date | None = None) -> date:
    """The latest last day of a period whose purchases are all in on ``today`` (UTC today by default)."""
    return (today or datetime.now(UTC).date()) - timedelta(days=window_days + 1)


def still_counting(
    first_day: date, last_day: date, window_days: int = DEFAULT_WINDOW_DAYS, today: date | None = None
) -> tuple[str, str] | None:
    """What to tell the marketer, in Russian and English, when the period's last days are less than a window
    ago (their purchases are still coming in, so the figures are not final); None when they are final."""
    days = days_still_counting(first_day, last_day, window_days, today)
    if not days:
        return None
    final = final_last_day(window_days, today).isoformat()
    last_ru = "последнего дня" if days == 1 else f"последних {days} дн."
    last_en = "the last day" if days == 1 else f"the last {days} days"
    return (
        f"Покупки после решений {last_ru} периода ещё поступают (решение считает покупки за "
        f"{window_days} дн. после него), цифры пока не окончательные: чтобы получить окончательные, "
        f"заканчивайте период не позже {final}.",
        f"The purchases after the decisions of {last_en} of the period are still coming in (a decision "
        f"counts the purchases of the {window_days} days after it), so the figures are not final: for final "
        f"figures, end the period on {final} or earlier.",
    )


def step_units(
    warehouse: Warehouse, first_day: date, last_day: date, window_days: int = DEFAULT_WINDOW_DAYS
) -> list[dict[str, Any]]:
    """One row per customer a step with a holdout would have gone to (``reports/step_holdout_units.sql``)."""
    return warehouse.fetch_all(
        "reports/step_holdout_units.sql",
        since_day=first_day,
        until_day=last_day + timedelta(days=1),
        window_days=window_days,
    )


def step_lift(
    warehouse: Warehouse,
    first_day: date,
    last_day: date,
    window_days: int = DEFAULT_WINDOW_DAYS,
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[dict[str, Any]]:
    """One dict per chain, step and channel with a step holdout, for the decisions of
    ``first_day``..``last_day`` (see :func:`lift_of_units` for the keys)."""
    rows = step_units(warehouse, first_day, last_day, window_days)
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["chain_id"], r["step_id"], r["channel"])].append(r)
    return [lift_of_units(key, groups[key], window_days, confidence) for key in sorted(groups)]


def lift_of_units(
    key: tuple[str, str, str], units: list[dict], window_days: int, confidence: float = DEFAULT_CONFIDENCE
) -> dict[str, Any]:
    """The lift of one step from its units. Keys: ``chain_id``, ``step_id``, ``channel``, ``window_days``,
    ``treated`` / ``holdout`` customers, ``sent``, ``delivered``, ``cost`` (of the treated messages) and
    ``cost_per_message``; ``orders_per_treated`` / ``orders_per_holdout``, ``incremental_orders`` with
    ``orders_ci_low`` / ``orders_ci_high``; ``revenue_per_treated`` / ``revenue_per_holdout``,
    ``incremental_revenue`` with ``revenue_ci_low`` / ``revenue_ci_high``, ``net`` (incremental revenue −
    cost) with ``net_ci_low`` / ``net_ci_high`` and ``revenue_per_cost``; ``conversion_treated`` /
    ``conversion_holdout``, ``conversion_uplift`` with ``conversion_ci_low`` / ``conversion_ci_high``;
    ``verdict`` (a key of :data:`VERDICTS`); ``reason`` (None, or why no effect is given: an arm under
    100 customers, no holdout, nothing sent) and ``revenue_reason`` (also ``too_few_buyers``: under 30
    buyers expected in the smaller arm, when the orders and conversion are given but not the revenue)."""
    arms = {arm: [u for u in units if u["arm"] == arm] for arm in ("treated", "holdout")}
    treated, holdout = arms["treated"], arms["holdout"]
    cost = float(sum(float(u["cost"] or 0) for u in treated))
    sent = sum(int(u["sent"]) for u in treated)
    result: dict[str, Any] = {
        "chain_id": key[0],
        "step_id": key[1],
        "channel": key[2],
        "window_days": window_days,
        "confidence": confidence,
        "treated": len(treated),
        "holdout": len(holdout),
        "sent": sent,
        "delivered": sum(int(u["delivered"]) for u in treated),
        "cost": cost,
        "cost_per_message": cost / sent if sent else None,
    }
    orders = {arm: _arm([float(u["orders"]) for u in us]) for arm, us in arms.items()}
    revenue = {
        arm: _arm([float(u["revenue"]) for u in us], [float(u["orders"]) for u in us])
        for arm, us in arms.items()
    }
    result["orders_per_treated"], result["orders_per_holdout"] = (
        orders["treated"].mean,
        orders["holdout"].mean,
    )
    result["revenue_per_treated"] = revenue["treated"].mean
    result["revenue_per_holdout"] = revenue["holdout"].mean
    result["conversion_treated"] = revenue["treated"].conversion
    result["conversion_holdout"] = revenue["holdout"].conversion
    reason = unmeasurable_reason(revenue["treated"], revenue["holdout"], sent)
    revenue_reason = reason
    if reason is None and expected_buyers(revenue["treated"], revenue["holdout"]) < MIN_BUYERS_PER_ARM:
        revenue_reason = "too_few_buyers"
    result["reason"], result["revenue_reason"] = reason, revenue_reason
    counted = ("incremental_orders", "orders_ci_low", "orders_ci_high")
    counted += ("conversion_uplift", "conversion_ci_low", "conversion_ci_high")
    priced = ("incremental_revenue", "revenue_ci_low", "revenue_ci_high", "net", "net_ci_low", "net_ci_high")
    result |= dict.fromkeys(counted + priced + ("revenue_per_cost", "verdict"))
    if reason is not None:
        return result
    by_orders = welch_uplift(orders["treated"], orders["holdout"], confidence)
    conversion = newcombe_difference(
        revenue["treated"].buyers, len(treated), revenue["holdout"].buyers, len(holdout), confidence
    )
    result |= {
        "incremental_orders": by_orders.incremental_revenue,
        "orders_ci_low": by_orders.low,
        "orders_ci_high": by_orders.high,
        "conversion_uplift": conversion[0],
        "conversion_ci_low": conversion[1],
        "conversion_ci_high": conversion[2],
    }
    if revenue_reason is not None:
        return result
    by_revenue = welch_uplift(revenue["treated"], revenue["holdout"], confidence)
    result |= {
        "incremental_revenue": by_revenue.incremental_revenue,
        "revenue_ci_low": by_revenue.low,
        "revenue_ci_high": by_revenue.high,
        "net": by_revenue.incremental_revenue - cost,
        "net_ci_low": None if by_revenue.low is None else by_revenue.low - cost,
        "net_ci_high": None if by_revenue.high is None else by_revenue.high - cost,
        "revenue_per_cost": by_revenue.incremental_revenue / cost if cost else None,
    }
    low, high = result["revenue_ci_low"], result["revenue_ci_high"]
    result["verdict"] = (
        "unclear"
        if low is None
        else "earns_its_cost"
        if low > cost
        else "costs_more"
        if high < cost
        else "unclear"
    )
    return result


def _arm(values: list[float], orders: list[float] | None = None) -> ArmStats:
    """An arm's sums; its buyers are the customers with an order in the window."""
    buyers = sum(1 for v in (orders if orders is not None else values) if v > 0)
    return ArmStats(len(values), float(sum(values)), float(sum(v * v for v in values)), buyers)


def outcome_label(row: dict[str, Any]) -> tuple[str, str]:
    """A step's verdict in the marketer's words (:data:`VERDICT_LABELS`), or, when it has none, the short
    label of why (:data:`lifecycle.reports.stats.REASON_LABELS`): Russian and English."""
    if row["verdict"] is not None:
        return VERDICT_LABELS[row["verdict"]]
    return REASON_LABELS[row["revenue_reason"]]


def format_step_lift(rows: list[dict[str, Any]]) -> str:
    """The lift of the steps with a holdout as a plain-text table; the verdict, or why there is none, in
    words (:func:`outcome_label`, in English)."""
    if not rows:
        return "step holdouts: no step with its own holdout was decided in the period"

    head = (
        f"{'step':<22} {'channel':<7} {'treated/holdout':>15} {'cost':>10}  "
        f"{'incremental orders (95 % CI)':>30}  {'incremental revenue (95 % CI)':>34}  "
        f"{'net of cost':>12}  verdict"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        orders = format_estimate(r["incremental_orders"], r["orders_ci_low"], r["orders_ci_high"], "+.1f")
        revenue = format_estimate(
            r["incremental_revenue"], r["revenue_ci_low"], r["revenue_ci_high"], "+,.0f"
        )
        lines.append(
            f"{r['chain_id'] + '.' + r['step_id']:<22} {r['channel']:<7} "
            f"{r['treated']:>7}/{r['holdout']:<7} {r['cost']:>10.0f}  "
            f"{orders:>30}  {revenue:>34}  {format_estimate(r['net'], fmt='+,.0f'):>12}  "
            f"{outcome_label(r)[1]}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lifecycle step-lift",
        description="What each step with its own holdout earns against its cost (docs/sms.md).",
    )
    parser.add_argument("--warehouse", default=None, help="SQLAlchemy URL; default data/warehouse.duckdb")
    parser.add_argument("--days", type=int, default=30, help="decision days to cover (default 30)")
    parser.add_argument(
        "--until", type=date.fromisoformat, default=None, help="last decision day (default yesterday, UTC)"
    )
    parser.add_argument("--window-days", type=int, default=DEFAULT_WINDOW_DAYS, help="purchase window (7)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.days < 1 or args.window_days < 1:
        parser.error("--days and --window-days must be at least 1")
    if args.warehouse is None:
        from lifecycle.demo.__main__ import default_warehouse_url

        args.warehouse = default_warehouse_url()
    last = args.until or datetime.now(UTC).date() - timedelta(days=1)
    first = last - timedelta(days=args.days - 1)
    rows = step_lift(Warehouse(args.warehouse), first, last, args.window_days)
    note = still_counting(first, last, args.window_days) if rows else None
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        if note:
            print(note[1], file=sys.stderr)
    else:
        print(format_step_lift(rows) + (f"\n\n{note[1]}" if note else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
