"""The send-time lift: for every chain with ``send_time: optimal`` steps, the open, click and conversion rates
of the messages timed to the customers' best hours (arm ``optimal``) against those of the chain's send-time
holdout, sent at the default time (arm ``default``), with the difference and its 95 % interval (Newcombe's
hybrid score interval). The arms are assigned by customer, so the comparison is fair; a message of the
optimal arm whose best hour came too late went at the default time and still counts in its arm.

Opens come at the customer's reading hour, up to a day after the message: a period that ends today
undercounts the opens of its last day's messages, and not equally in both arms (they went out at different
hours). Read the lift over sends at least :data:`SETTLE_DAYS` old."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from lifecycle.reports.stats import DEFAULT_CONFIDENCE, format_estimate, format_share, newcombe_difference
from lifecycle.warehouse import Warehouse

ARMS = ("optimal", "default")
METRICS = ("opened", "clicked", "converted")
#: Below this many sent messages in either arm the difference is not given (``too_few_sends``): with about
#: a third of the messages opened, 100 per arm already make the open lift's interval about ±13 points wide.
MIN_SENDS_PER_ARM = 100
#: Days after which a message's opens and clicks are in: opened at the customer's reading hour, at most a
#: day after it arrived.
SETTLE_DAYS = 1
#: Why a chain's lift is not given, as the pages say it (Russian, English) and what it means.
REASONS = {
    "no_optimal_sends": (
        "нет отправок в лучший час",
        "no sends at the best hour",
        "every recipient of the period was in the send-time holdout",
    ),
    "no_default_sends": (
        "нет контрольных отправок",
        "no holdout sends",
        "no recipient of the period was in the send-time holdout (send_time_holdout: 0?)",
    ),
    "too_few_sends": (
        "слишком мало отправок, чтобы судить",
        "too few sends to say",
        f"an arm has fewer than {MIN_SENDS_PER_ARM} sent messages in the period: the interval would be "
        "too wide to say anything",
    ),
}


def send_time_lift(
    warehouse: Warehouse,
    first_day: date,
    last_day: date,
    attribution_days: int = 7,
    confidence: float = DEFAULT_CONFIDENCE,
    min_sends: int = MIN_SENDS_PER_ARM,
) -> list[dict[str, Any]]:
    """One dict per chain for the messages sent ``first_day``..``last_day``: ``sent_<arm>`` and for each
    metric (opened, clicked, converted) ``<metric>_<arm>`` counts and ``<metric>_rate_<arm>``; then
    ``<metric>_lift`` (optimal rate − default rate) with ``<metric>_ci_low`` / ``<metric>_ci_high``, all None
    with ``reason`` when an arm has no sent message (``no_optimal_sends`` or ``no_default_sends``). An arm
    with fewer than ``min_sends`` messages gives ``reason`` ``too_few_sends``: the difference and its interval
    are still computed (a measurement may pool them) but the pages do not show them."""
    rows = warehouse.fetch_all(
        "reports/send_time_lift.sql",
        since_day=first_day,
        until_day=last_day + timedelta(days=1),
        attribution_days=attribution_days,
    )
    by_chain: dict[str, dict[str, dict[str, int]]] = {}
    for r in rows:
        by_chain.setdefault(r["chain_id"], {})[r["arm"]] = {k: int(r[k]) for k in ("sent", *METRICS)}
    results = []
    for chain_id in sorted(by_chain):
        arms = by_chain[chain_id]
        result: dict[str, Any] = {"chain_id": chain_id, "reason": None}
        for arm in ARMS:
            counts = arms.get(arm, {"sent": 0} | dict.fromkeys(METRICS, 0))
            result[f"sent_{arm}"] = counts["sent"]
            for metric in METRICS:
                result[f"{metric}_{arm}"] = counts[metric]
                result[f"{metric}_rate_{arm}"] = counts[metric] / counts["sent"] if counts["sent"] else None
        missing = [arm for arm in ARMS if not result[f"sent_{arm}"]]
        if missing:
            result["reason"] = f"no_{missing[0]}_sends"
        elif min(result[f"sent_{arm}"] for arm in ARMS) < min_sends:
            result["reason"] = "too_few_sends"
        for metric in METRICS:
            if missing:
                result |= {f"{metric}_lift": None, f"{metric}_ci_low": None, f"{metric}_ci_high": None}
                continue
            diff, low, high = newcombe_difference(
                result[f"{metric}_optimal"],
                result["sent_optimal"],
                result[f"{metric}_default"],
                result["sent_default"],
                confidence,
            )
            result |= {f"{metric}_lift": diff, f"{metric}_ci_low": low, f"{metric}_ci_high": high}
        results.append(result)
    return results


def format_lift(rows: list[dict[str, Any]]) -> str:
    """The lift as a plain-text table (percentage points with the 95 % interval); why a lift is not given,
    in words (:data:`REASONS`, in English)."""
    if not rows:
        return "send-time lift: no message of a send_time: optimal step was sent in the period"

    def lift(row: dict[str, Any], metric: str) -> str:
        return format_estimate(
            row[f"{metric}_lift"], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"], scale=100, unit=" pp"
        )

    head = (
        f"{'chain':<18} {'sent opt/def':>13}  {'open opt/def':>15} {'open lift (95 % CI)':>26}  "
        f"{'click lift (95 % CI)':>26}  {'conversion lift (95 % CI)':>26}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['chain_id']:<18} {r['sent_optimal']:>6}/{r['sent_default']:<6}  "
            f"{format_share(r['opened_rate_optimal']):>7}/{format_share(r['opened_rate_default']):<7} "
            f"{lift(r, 'opened'):>26}  {lift(r, 'clicked'):>26}  {lift(r, 'converted'):>26}"
            + (f"  ({REASONS[r['reason']][1]})" if r["reason"] else "")
        )
    return "\n".join(lines)
