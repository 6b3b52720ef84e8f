"""Truth against measurement: per chain, the simulator's true incremental revenue next to what the project's
reports measure over their holdouts.

The measured figures are read the way the Airflow UI reads them: :func:`lifecycle.reports.read.overview`
over the report tables that ``build_reports`` materialised (``crm.report_holdout_daily`` and friends), for the
entry days of the simulated weeks. Nothing here re-measures anything.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from lifecycle.reports.stats import format_estimate, format_share, newcombe_difference
from lifecycle.simulate.world import SIM_SCHEMA
from lifecycle.warehouse import Warehouse


def entry_days(warehouse: Warehouse, start: datetime, end: datetime) -> tuple[date, date]:
    """The entry days the comparison covers: from the first entry of the run to the end. An instance's
    ``entered_at`` is its trigger's moment, which for the first chains run can lie before the start (a cart
    abandoned the evening before, an occasion that began the day before): its messages are in the truth, so
    its entry day must be in the measurement too. The warehouse's chains start empty with the run."""
    with warehouse.begin() as conn:
        first = conn.execute(sa.text("SELECT MIN(entered_at) FROM crm.chain_instances")).scalar()
    first_day = start.date() if first is None else min(start.date(), first.date())
    return first_day, end.date()


def comparison(warehouse: Warehouse, first_day: date, last_day: date) -> list[dict[str, Any]]:
    """One row per chain: sends, true incremental orders and revenue, measured incremental revenue with its
    95 % interval, and whether the interval covers the truth."""
    from lifecycle.reports.read import overview

    with warehouse.begin() as conn:
        truth = {
            r["chain_id"]: dict(r)
            for r in conn.execute(
                sa.text(f"SELECT * FROM {SIM_SCHEMA}.truth_chain ORDER BY chain_id")
            ).mappings()
        }
    measured = {c["chain_id"]: c for c in overview(warehouse, first_day, last_day)["chains"]}
    rows = []
    for chain_id in sorted(set(truth) | set(measured)):
        t = truth.get(chain_id, {})
        uplift = (measured.get(chain_id) or {}).get("uplift") or {}
        low, high = uplift.get("ci_low"), uplift.get("ci_high")
        true_revenue = float(t.get("incremental_revenue") or 0.0)
        covered = None if low is None or high is None else bool(low <= true_revenue <= high)
        rows.append(
            {
                "chain_id": chain_id,
                "true_uplift": t.get("uplift"),
                "sends": int(t.get("sends") or 0),
                "true_orders": int(t.get("incremental_orders") or 0),
                "true_revenue": true_revenue,
                "treated": uplift.get("treated"),
                "holdout": uplift.get("holdout"),
                "measured_revenue": uplift.get("incremental_revenue"),
                # why the reports give no figure (lifecycle.reports.stats.REASONS), None when they give one
                "reason": uplift.get("reason") if uplift else "no_entrants",
                "ci_low": low,
                "ci_high": high,
                "covered": covered,
                "significant": bool(uplift.get("significant")),
                "conversion_uplift": uplift.get("conversion_uplift"),
                "conversion_ci_low": uplift.get("conversion_ci_low"),
                "conversion_ci_high": uplift.get("conversion_ci_high"),
                "conversion_significant": bool(uplift.get("conversion_significant")),
                "conversion_reason": uplift.get("conversion_reason") if uplift else "no_entrants",
            }
        )
    return rows


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}".replace(",", " ")


def format_table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width table for the terminal (roubles)."""
    header = (
        f"{'chain':<20} {'uplift':>7} {'sends':>6} {'true orders':>11} {'true revenue':>13}  "
        f"{'measured revenue (95 % CI)':<40} {'covered':<7}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        ci = (
            format_estimate(r["measured_revenue"], r["ci_low"], r["ci_high"], _money, sep="; ")
            if r["ci_low"] is not None
            else f"— ({(r.get('reason') or 'no interval').replace('_', ' ')}: {r['treated'] or 0} treated, "
            f"{r['holdout'] or 0} holdout)"
        )
        covered = {True: "yes", False: "NO", None: "—"}[r["covered"]]
        uplift = "—" if r["true_uplift"] is None else f"{r['true_uplift']:+.3f}"
        lines.append(
            f"{r['chain_id']:<20} {uplift:>7} {r['sends']:>6} {r['true_orders']:>11} "
            f"{_money(r['true_revenue']):>13}  {ci:<40} {covered:<7}"
        )
    judged = [r for r in rows if r["covered"] is not None]
    lines.append(
        f"intervals covering the truth: {sum(r['covered'] for r in judged)} of {len(judged)} chains "
        "with an interval"
    )
    return "\n".join(lines)


#: Chance that a learned hour falls within ±2 h of the true one when it is drawn at random: 5 of 24 hours.
CHANCE_WITHIN_2H = 5 / 24


def send_hour_agreement(warehouse: Warehouse, min_responses: int = 1) -> dict[str, Any]:
    """The newest learned best hours (``crm.customer_send_hours``) against the customers' true preferred
    hours, for the customers with at least ``min_responses`` opens and clicks of messages: the share within
    ±1 h and ±2 h (around the clock), the mean distance, and the chance level of ±2 h."""
    with warehouse.begin() as conn:
        rows = conn.execute(
            sa.text(
                f"""
                WITH responses AS (
                    SELECT l.customer_id, COUNT(*) AS responses
                    FROM crm.message_events AS e
                    INNER JOIN crm.send_ledger AS l ON e.send_key = l.send_key
                    WHERE e.event_type IN ('open', 'click')
                    GROUP BY l.customer_id
                )
                SELECT h.best_hour, t.preferred_hour, COALESCE(r.responses, 0) AS responses
                FROM crm.customer_send_hours AS h
                INNER JOIN {SIM_SCHEMA}.truth_customers AS t ON h.customer_id = t.customer_id
                LEFT JOIN responses AS r ON h.customer_id = r.customer_id
                WHERE h.as_of = (SELECT MAX(as_of) FROM crm.customer_send_hours)
                """
            )
        ).all()
    enough = [(int(best), int(true)) for best, true, responses in rows if int(responses) >= min_responses]
    distances = [min((b - t) % 24, (t - b) % 24) for b, t in enough]
    count = len(distances)
    return {
        "customers_with_hours": len(rows),
        "min_responses": min_responses,
        "customers": count,
        "within_1h": sum(d <= 1 for d in distances) / count if count else None,
        "within_2h": sum(d <= 2 for d in distances) / count if count else None,
        "mean_distance_h": sum(distances) / count if count else None,
        "chance_within_2h": CHANCE_WITHIN_2H,
    }


def format_agreement(figures: dict[str, Any]) -> str:
    if not figures["customers"]:
        return (
            f"learned send hours: no customer with {figures['min_responses']}+ opens or clicks yet "
            f"({figures['customers_with_hours']} with some)"
        )
    return (
        f"learned send hours vs the true preferred hours, {figures['customers']} customers with "
        f"{figures['min_responses']}+ opens or clicks: {figures['within_1h']:.0%} within ±1 h, "
        f"{figures['within_2h']:.0%} within ±2 h (chance {figures['chance_within_2h']:.0%}), "
        f"mean distance {figures['mean_distance_h']:.1f} h"
    )


def send_time_recovery(warehouse: Warehouse, first_day: date, last_day: date) -> list[dict[str, Any]]:
    """The send-time lift report (:func:`lifecycle.reports.send_time.send_time_lift`) over the messages sent
    ``first_day``..``last_day`` against the truth of the same messages (``sim.truth_send_time``): per chain,
    then ``*`` for all chains pooled, the measured open rates and open lift with its 95 % interval, the true
    open rates (the mean of the probabilities each message was opened with), the true lift and whether the
    interval covers it, and the rates of the opens the customers drew (``drawn_*``, including those the
    warehouse has not heard of by the end). Every chain is measured, however few its sends."""
    from lifecycle.reports.send_time import ARMS, send_time_lift

    measured = send_time_lift(warehouse, first_day, last_day, min_sends=1)
    with warehouse.begin() as conn:
        truth_rows = conn.execute(
            sa.text(
                f"SELECT chain_id, arm, SUM(sent) AS sent, SUM(expected_opens) AS expected_opens,"
                f" SUM(opened) AS opened FROM {SIM_SCHEMA}.truth_send_time"
                " WHERE sent_day >= :first AND sent_day <= :last GROUP BY chain_id, arm"
            ),
            {"first": first_day, "last": last_day},
        ).all()
    truth: dict[tuple[str, str], tuple[int, float, int]] = {
        (str(c), str(a)): (int(n), float(e), int(o)) for c, a, n, e, o in truth_rows
    }
    rows = []
    pooled = {arm: [0, 0, 0, 0.0, 0] for arm in ARMS}  # sent, opened (measured), truth sent, expected, drawn
    for m in measured:
        row: dict[str, Any] = {"chain_id": m["chain_id"]}
        for arm in ARMS:
            sent, expected, drawn = truth.get((m["chain_id"], arm), (0, 0.0, 0))
            row |= {
                f"sent_{arm}": m[f"sent_{arm}"],
                f"open_rate_{arm}": m[f"opened_rate_{arm}"],
                f"true_open_rate_{arm}": expected / sent if sent else None,
                f"drawn_open_rate_{arm}": drawn / sent if sent else None,
            }
            for i, value in enumerate((m[f"sent_{arm}"], m[f"opened_{arm}"], sent, expected, drawn)):
                pooled[arm][i] += value
        rows.append(_recovered(row, m["opened_lift"], m["opened_ci_low"], m["opened_ci_high"]))
    if rows:
        row = {"chain_id": "*"}
        for arm in ARMS:
            sent, opened, truth_sent, expected, drawn = pooled[arm]
            row |= {
                f"sent_{arm}": sent,
                f"open_rate_{arm}": opened / sent if sent else None,
                f"true_open_rate_{arm}": expected / truth_sent if truth_sent else None,
                f"drawn_open_rate_{arm}": drawn / truth_sent if truth_sent else None,
            }
        if pooled["optimal"][0] and pooled["default"][0]:
            interval = newcombe_difference(
                pooled["optimal"][1], pooled["optimal"][0], pooled["default"][1], pooled["default"][0]
            )
        else:
            interval = (None, None, None)
        rows.append(_recovered(row, *interval))
    return rows


def _recovered(
    row: dict[str, Any], lift: float | None, low: float | None, high: float | None
) -> dict[str, Any]:
    def difference(prefix: str) -> float | None:
        optimal, default = row[f"{prefix}_rate_optimal"], row[f"{prefix}_rate_default"]
        return None if optimal is None or default is None else optimal - default

    true_lift = difference("true_open")
    return row | {
        "open_lift": lift,
        "ci_low": low,
        "ci_high": high,
        "true_lift": true_lift,
        "drawn_lift": difference("drawn_open"),
        "covered": None if low is None or true_lift is None else low <= true_lift <= high,
    }


def format_recovery(rows: list[dict[str, Any]]) -> str:
    """The recovery as a plain-text table (percentage points)."""
    if not rows:
        return "send-time lift: no message of a send_time: optimal step was sent in the period"

    def pp(value: float | None, low: float | None = None, high: float | None = None) -> str:
        return format_estimate(value, low, high, scale=100)

    head = (
        f"{'chain':<20} {'sent opt/def':>13}  {'open opt/def':>15}  {'true opt/def':>15}  "
        f"{'lift pp [95 % CI]':>22}  {'true':>6}  {'drawn':>6}  covered"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        interval = "—" if r["ci_low"] is None else pp(r["open_lift"], r["ci_low"], r["ci_high"])
        lines.append(
            f"{r['chain_id']:<20} {r['sent_optimal']:>6}/{r['sent_default']:<6}  "
            f"{format_share(r['open_rate_optimal']):>7}/{format_share(r['open_rate_default']):<7}  "
            f"{format_share(r['true_open_rate_optimal']):>7}/{format_share(r['true_open_rate_default']):<7}  "
            f"{interval:>22}  {pp(r['true_lift']):>6}  {pp(r['drawn_lift']):>6}  "
            f"{'—' if r['covered'] is None else 'yes' if r['covered'] else 'NO'}"
        )
    return "\n".join(lines)


def send_time_redraws(
    warehouse: Warehouse, first_day: date, last_day: date, draws: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """How the pooled open lift behaves over many draws of the customers' opens of the same messages: each
    message of the period's timed steps (``sim.truth_messages`` with its ledger arm) is opened again with
    the probability it had, ``draws`` times, and each draw is measured as the report measures it (Newcombe
    95 % interval of the pooled optimal − default open rates). Returns the true lift, the share of draws
    whose interval covers it, whose measured lift is positive and whose interval lies above zero, and how
    many sends per arm (at this period's arm shares) an interval above zero in 80 % of draws would take."""
    import numpy as np

    with warehouse.begin() as conn:
        rows = conn.execute(
            sa.text(
                f"SELECT l.send_time_arm, m.open_probability FROM crm.send_ledger AS l"
                f" INNER JOIN {SIM_SCHEMA}.truth_messages AS m ON l.send_key = m.send_key"
                " WHERE l.send_time_arm IS NOT NULL AND l.state = 'sent'"
                " AND l.sent_at >= :first AND l.sent_at < :until"
            ),
            {"first": first_day, "until": last_day + timedelta(days=1)},
        ).all()
    p = {arm: np.array([float(q) for a, q in rows if a == arm]) for arm in ("optimal", "default")}
    n1, n0 = len(p["optimal"]), len(p["default"])
    if not n1 or not n0:
        return {"sent_optimal": n1, "sent_default": n0, "true_lift": None}
    rng = np.random.default_rng(seed)
    true_lift = float(p["optimal"].mean() - p["default"].mean())
    opened1 = (rng.random((draws, n1)) < p["optimal"]).sum(axis=1)
    opened0 = (rng.random((draws, n0)) < p["default"]).sum(axis=1)
    intervals = [newcombe_difference(int(a), n1, int(b), n0) for a, b in zip(opened1, opened0, strict=True)]
    r1, r0 = float(p["optimal"].mean()), float(p["default"].mean())
    # sends per arm for 80 % power of a two-sided 5 % test at the same split between the arms
    ratio = n0 / n1
    variance = r1 * (1 - r1) + r0 * (1 - r0) / ratio
    needed = (1.96 + 0.84) ** 2 * variance / true_lift**2 if true_lift > 0 else None
    return {
        "sent_optimal": n1,
        "sent_default": n0,
        "true_open_rate_optimal": r1,
        "true_open_rate_default": r0,
        "true_lift": true_lift,
        "draws": draws,
        "covered": sum(low <= true_lift <= high for _, low, high in intervals) / draws,
        "measured_positive": sum(d > 0 for d, _, _ in intervals) / draws,
        "above_zero": sum(low > 0 for _, low, _ in intervals) / draws,
        "sent_optimal_needed": None if needed is None else round(needed),
        "sent_default_needed": None if needed is None else round(needed * ratio),
    }


def step_comparison(
    warehouse: Warehouse, first_day: date, last_day: date, window_days: int | None = None
) -> list[dict[str, Any]]:
    """One row per step with its own holdout: what the reports measure (:func:`lifecycle.reports.step_lift`)
    next to the truth of the same estimand, and whether the intervals cover it.

    The reports compare, per customer the step would have gone to, the purchases in the window after that
    moment. The truth counts, for the treated customers of the period, the orders that the step's messages
    to them added (or prevented) inside each one's window, as the pipeline saw them by the end (orders in
    ``crm.orders``), and their revenue."""
    from lifecycle.reports.step_lift import DEFAULT_WINDOW_DAYS, lift_of_units, step_units

    window = window_days or DEFAULT_WINDOW_DAYS
    units = step_units(warehouse, first_day, last_day, window)
    with warehouse.begin() as conn:
        effects = conn.execute(
            sa.text(
                f"""
                SELECT m.chain_id, m.step_id, m.channel, m.customer_id, m.ordered_at, m.effect, m.revenue
                FROM {SIM_SCHEMA}.truth_messages AS m
                LEFT JOIN crm.orders AS o ON m.order_id = o.order_id
                WHERE m.effect <> 0 AND (m.effect < 0 OR o.order_id IS NOT NULL)
                """
            )
        ).all()
        configured = {
            (r[0], r[1]): float(r[2])
            for r in conn.execute(
                sa.text(f"SELECT chain_id, step_id, uplift FROM {SIM_SCHEMA}.truth_step_uplift")
            )
        }
    by_customer: dict[tuple, list] = {}
    for r in effects:
        by_customer.setdefault((r[0], r[1], r[2], int(r[3])), []).append((r[4], int(r[5]), float(r[6])))
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for u in units:
        groups.setdefault((u["chain_id"], u["step_id"], u["channel"]), []).append(u)
    rows = []
    for key in sorted(groups):
        measured = lift_of_units(key, groups[key], window)
        true_orders, true_revenue = 0, 0.0
        for u in groups[key]:
            if u["arm"] != "treated":
                continue
            until = u["decided_at"] + timedelta(days=window)
            for ordered_at, effect, revenue in by_customer.get((*key, int(u["customer_id"])), []):
                if u["decided_at"] < ordered_at <= until:
                    true_orders += effect
                    true_revenue += revenue

        def covers(low, high, truth) -> bool | None:
            return None if low is None or high is None else bool(low <= truth <= high)

        rows.append(
            measured
            | {
                "true_uplift": configured.get(key[:2]),
                "true_orders": true_orders,
                "true_revenue": true_revenue,
                "orders_covered": covers(measured["orders_ci_low"], measured["orders_ci_high"], true_orders),
                "revenue_covered": covers(
                    measured["revenue_ci_low"], measured["revenue_ci_high"], true_revenue
                ),
            }
        )
    return rows


def format_step_table(rows: list[dict[str, Any]]) -> str:
    """The steps with a holdout: measured against true incremental orders and revenue, and the cost; the
    verdict, or why a figure is not given, in words (as ``python -m lifecycle step-lift`` says them)."""
    from lifecycle.reports.stats import REASON_LABELS
    from lifecycle.reports.step_lift import VERDICT_LABELS

    if not rows:
        return "step holdouts: no step with its own holdout was decided in the period"

    def interval(r: dict, value: str, low: str, high: str, fmt: str) -> str:
        if r[value] is None:
            return f"— ({REASON_LABELS[r['reason'] or r['revenue_reason']][1]})"
        return format_estimate(r[value], r[low], r[high], fmt)

    head = (
        f"{'step':<20} {'uplift':>6} {'treated/holdout':>15} {'true orders':>11} "
        f"{'measured orders (95 % CI)':>28} {'true revenue':>12} {'measured revenue (95 % CI)':>34} "
        f"{'cost':>8}  verdict"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        uplift = "—" if r["true_uplift"] is None else f"{r['true_uplift']:+.2f}"
        lines.append(
            f"{r['chain_id'] + '.' + r['step_id']:<20} {uplift:>6} {r['treated']:>7}/{r['holdout']:<7} "
            f"{r['true_orders']:>11} "
            f"{interval(r, 'incremental_orders', 'orders_ci_low', 'orders_ci_high', '+.1f'):>28} "
            f"{_money(r['true_revenue']):>12} "
            f"{interval(r, 'incremental_revenue', 'revenue_ci_low', 'revenue_ci_high', '+,.0f'):>34} "
            f"{_money(r['cost']):>8}  {VERDICT_LABELS[r['verdict']][1] if r['verdict'] else '—'}"
            + (
                ""
                if r["revenue_covered"] is None
                else f" (truth {'in' if r['revenue_covered'] else 'OUT of'} CI)"
            )
        )
    return "\n".join(lines)
