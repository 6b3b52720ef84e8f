"""What the UI pages show, read from the warehouse as plain dicts: the summary of one DAG run (chains, ingest,
scores) and the CRM overview over a period. Only small tables and per-run rows are read here.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lifecycle.policy.experiments import probability_best, thompson_weights
from lifecycle.reports.build import HOLDOUT, NEW_CODE, TREATED
from lifecycle.reports.send_time import send_time_lift
from lifecycle.reports.stats import ArmStats, ab_winner, chain_effect
from lifecycle.reports.step_lift import step_lift

if TYPE_CHECKING:
    from lifecycle.chains.config import ChainConfig
    from lifecycle.warehouse import Warehouse

#: Reasons that are experiment arms rather than contact-policy hold-backs; the funnel shows them apart.
EXPERIMENT_REASONS = ("holdout", "global_control")
#: Ledger states after planning, in funnel order; "pending" is planned or sending; "dropped" by the
#: send-time check of the contact policy.
SEND_STATES = ("sent", "failed", "unknown", "expired", "dropped", "pending")
DEFAULT_PERIOD_DAYS = 30


def chains_run(warehouse: Warehouse, run_key: str) -> dict[str, Any]:
    """One chains run: per chain who entered and exited (by reason), the funnel per chain and step, the
    previous run's funnel, sends by channel, the chains that failed (phase and error) and the run's status
    as its records tell it (:func:`run_status`)."""
    from lifecycle.chains.engine import failed_chains

    previous = _fetch(warehouse, "reports/previous_chains_run.sql", run_key=run_key)
    previous_key = previous[0]["run_key"] if previous else None
    failures = [{"chain_id": k} | v for k, v in failed_chains(warehouse, run_key, []).items()]
    funnel = _funnel(warehouse, run_key)
    chains = _chain_figures(warehouse, run_key)
    return {
        "run_key": run_key,
        "status": run_status(failures, chains, funnel),
        "failures": failures,
        "chains": chains,
        "funnel": funnel,
        "previous_run_key": previous_key,
        "previous_funnel": _funnel(warehouse, previous_key) if previous_key else [],
        "channels": [dict(r) for r in _fetch(warehouse, "reports/run_channels.sql", run_key=run_key)],
        "send_checks": [dict(r) for r in _fetch(warehouse, "reports/run_send_checks.sql", run_key=run_key)],
    }


#: What the warehouse says about a chains run: ``failed`` (a chain recorded a failure), ``unfinished`` (steps
#: are due but the contact policy has decided none: still running, or the hand-off failed), ``empty`` (no
#: chain has recorded anything yet: still running, or nothing was configured) or ``finished``.
RUN_STATUSES = ("failed", "unfinished", "empty", "finished")


def run_status(failures: list, chains: list[dict[str, Any]], funnel: list[dict[str, Any]]) -> str:
    """The state of a chains run as far as its own records tell (see :data:`RUN_STATUSES`)."""
    if failures:
        return "failed"
    due = sum(s["due"] for s in funnel)
    decided = sum(decided_steps(s) for s in funnel)
    if due and not decided:
        return "unfinished"
    if not chains and not funnel:
        return "empty"
    return "finished"


def decided_steps(step: dict[str, Any]) -> int:
    """Due steps of a funnel row the contact policy decided (planned, held back, suppressed, control)."""
    return (
        step["planned"]
        + sum(step["held"].values())
        + sum(step["suppressed"].values())
        + step["holdout"]
        + step["global_control"]
    )


def _chain_figures(warehouse: Warehouse, run_key: str) -> list[dict[str, Any]]:
    """Per chain that finished its phases in the run: candidates, entered, exited (by reason), completed."""
    exits: dict[str, dict[str, int]] = defaultdict(dict)
    for row in _fetch(warehouse, "reports/run_chain_exits.sql", run_key=run_key):
        exits[row["chain_id"]][row["exit_reason"] or "unspecified"] = int(row["customers"])
    return [
        dict(row) | {"exits": dict(sorted(exits.get(row["chain_id"], {}).items(), key=lambda kv: -kv[1]))}
        for row in _fetch(warehouse, "reports/run_chain_figures.sql", run_key=run_key)
    ]


def _funnel(warehouse: Warehouse, run_key: str) -> list[dict[str, Any]]:
    steps: dict[tuple[str, str], dict[str, Any]] = {}

    def step(chain_id: str, step_id: str) -> dict[str, Any]:
        return steps.setdefault(
            (chain_id, step_id),
            {"chain_id": chain_id, "step_id": step_id, "step_no": None, "channel": None, "due": 0}
            | {"held": defaultdict(int), "suppressed": defaultdict(int), "holdout": 0, "global_control": 0}
            | {"planned": 0}
            | dict.fromkeys(SEND_STATES, 0),
        )

    for row in _fetch(warehouse, "reports/run_due_steps.sql", run_key=run_key):
        s = step(row["chain_id"], row["step_id"])
        s.update(step_no=row["step_no"], channel=row["channel"], due=int(row["due"]))
    for row in _fetch(warehouse, "reports/run_funnel.sql", run_key=run_key):
        s, n = step(row["chain_id"], row["step_id"]), int(row["steps"])
        if row["outcome"] == "planned":
            s["planned"] += n
            s[row["state"] if row["state"] in SEND_STATES else "pending"] += n
        elif row["reason"] in EXPERIMENT_REASONS:
            s[row["reason"]] += n
        else:
            s["held" if row["outcome"] == "held" else "suppressed"][row["reason"] or "unspecified"] += n
    ordered = sorted(steps.values(), key=lambda s: (s["chain_id"], s["step_no"] or 0, s["step_id"]))
    for s in ordered:
        s["held"], s["suppressed"] = dict(s["held"]), dict(s["suppressed"])
    return ordered


def ingest_run(warehouse: Warehouse, run_key: str) -> dict[str, Any]:
    """Rows read, loaded, quarantined and deferred per source table, and quarantined rows by reason."""
    return {
        "run_key": run_key,
        "tables": _fetch(warehouse, "reports/run_ingest.sql", run_key=run_key),
        "quarantine": _fetch(warehouse, "reports/run_quarantine.sql", run_key=run_key),
    }


def scores_run(warehouse: Warehouse, run_key: str) -> dict[str, Any]:
    """The scored date, model versions with their validation figures and the RFM segment distribution."""
    runs = _fetch(warehouse, "reports/run_scores.sql", run_key=run_key)
    if not runs:
        return {"run_key": run_key, "run": None, "models": [], "segments": []}
    run = runs[0]
    return {
        "run_key": run_key,
        "run": run,
        "models": _fetch(
            warehouse,
            "reports/model_versions.sql",
            churn_version=run["churn_model_version"],
            ltv_version=run["ltv_model_version"],
        ),
        "segments": _fetch(warehouse, "scores/segment_distribution.sql", as_of=run["as_of"]),
    }


def default_period(warehouse: Warehouse, days: int = DEFAULT_PERIOD_DAYS) -> tuple[date, date]:
    """The last ``days`` days up to the latest reported day (or today before any report)."""
    span = _fetch(warehouse, "reports/report_days.sql")[0]
    last = span["report_date"] or span["last_day"] or date.today()
    return last - timedelta(days=days - 1), last


def overview(
    warehouse: Warehouse,
    first_day: date,
    last_day: date,
    chains: dict[str, ChainConfig] | None = None,
    bandit_min_sample: int | None = None,
) -> dict[str, Any]:
    """The CRM overview for the days ``first_day``..``last_day``: chain and step KPIs, incremental revenue
    with its interval, A/B results with P(best) and bandit weights, cohorts, RFM, customer KPIs, the send-time
    lift per chain (:func:`lifecycle.reports.send_time.send_time_lift`) and where the customers' best hours
    come from (``send_hour_basis``: customers per basis on the newest learned date), the lift of each step
    with its own holdout against its cost (``step_lift``: :func:`lifecycle.reports.step_lift.step_lift`,
    decisions of the period, purchases in its 7-day window). Every chain's
    ``uplift`` is its :func:`lifecycle.reports.stats.chain_effect` (a chain that sent but had no entrants in
    the period: reason ``no_entrants``)."""
    period = {"since_day": first_day, "until_day": last_day + timedelta(days=1)}
    steps = [_rates(dict(r)) for r in _fetch(warehouse, "reports/chain_kpis.sql", **period)]
    chain_totals: dict[str, dict[str, Any]] = {}
    for s in steps:
        total = chain_totals.setdefault(s["chain_id"], {"chain_id": s["chain_id"]})
        for key, value in s.items():
            if isinstance(value, int | float) and not key.endswith("_rate"):
                total[key] = total.get(key, 0) + value
    sends = {cid: int(t.get("sent", 0)) for cid, t in chain_totals.items()}
    uplift = _uplift(_fetch(warehouse, "reports/holdout_stats.sql", **period), sends)
    for chain_id in uplift:
        chain_totals.setdefault(chain_id, {"chain_id": chain_id})
    empty = ArmStats(0, 0.0, 0.0, 0)
    kpis = [
        _rates(t) | {"uplift": uplift.get(cid) or chain_effect(empty, empty, sends.get(cid, 0))}
        for cid, t in sorted(chain_totals.items())
    ]
    customer = _fetch(warehouse, "reports/customer_kpis.sql", **period)
    return {
        "first_day": first_day,
        "last_day": last_day,
        "chains": kpis,
        "steps": steps,
        "experiments": _experiments(warehouse, period, chains or {}, bandit_min_sample),
        "cohorts": _fetch(warehouse, "reports/cohorts.sql", since_month=date(last_day.year - 2, 1, 1)),
        "rfm": _fetch(warehouse, "reports/rfm_distribution.sql", until_date=last_day),
        "next_order": _fetch(warehouse, "reports/next_order_by_segment.sql", until_date=last_day),
        "send_time": send_time_lift(warehouse, first_day, last_day),
        "send_hour_basis": _fetch(warehouse, "reports/send_hour_basis.sql", until_date=last_day),
        "step_lift": step_lift(warehouse, first_day, last_day),
        "rfm_migration": _fetch(warehouse, "reports/rfm_migration.sql", until_date=last_day),
        "customers": customer[-1] if customer else None,
        "customer_history": customer,
    }


def rfm_migration_between(warehouse: Warehouse, from_date: date, to_date: date) -> list[dict[str, Any]]:
    """The migration matrix between two different scored dates, computed on demand from
    crm.customer_scores; none when the dates are the same (a date compared with itself says nothing)."""
    if from_date == to_date:
        return []
    rows = _fetch(warehouse, "scores/rfm_migrations.sql", from_date=from_date, to_date=to_date)
    return [
        dict(r) | {"from_code": r["from_code"] or NEW_CODE, "from_date": from_date, "to_date": to_date}
        for r in rows
    ]


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    def ratio(num: str, den: str) -> float | None:
        return row.get(num, 0) / row[den] if row.get(den) else None

    return row | {
        "delivery_rate": ratio("delivered", "sent"),
        "open_rate": ratio("opened", "delivered"),
        "click_rate": ratio("clicked", "delivered"),
        "conversion_rate": ratio("converted", "sent"),
        "unsubscribe_rate": ratio("unsubscribed", "delivered"),
    }


def _uplift(rows: list[dict[str, Any]], sends: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Per chain with entrants: :func:`lifecycle.reports.stats.chain_effect` of its arms and its sends."""
    arms: dict[str, dict[str, ArmStats]] = defaultdict(dict)
    for r in rows:
        messaged = None if r["messaged"] is None else int(r["messaged"])
        arms[r["chain_id"]][r["arm"]] = ArmStats(
            int(r["entrants"]), float(r["revenue"]), float(r["revenue_sq"]), int(r["buyers"]), messaged
        )
    empty = ArmStats(0, 0.0, 0.0, 0)
    return {
        chain_id: chain_effect(a.get(TREATED, empty), a.get(HOLDOUT, empty), sends.get(chain_id, 0))
        for chain_id, a in sorted(arms.items())
    }


#: The columns of :func:`chain_effects`, in order.
CHAIN_EFFECT_COLUMNS = (
    "chain_id",
    "sends",
    "treated",
    "holdout",
    "messaged",
    "reach",
    "holdout_messaged",
    "incremental_revenue",
    "ci_low",
    "ci_high",
    "significant",
    "reason",
    "conversion_treated",
    "conversion_holdout",
    "conversion_uplift",
    "conversion_ci_low",
    "conversion_ci_high",
    "incremental_buyers",
    "conversion_significant",
    "conversion_reason",
)


def chain_effects(
    warehouse: Warehouse, first_day: date | None = None, last_day: date | None = None
) -> list[dict[str, Any]]:
    """Per chain, what it sent and what it earned over its holdout, from the report tables (build them first
    with :func:`lifecycle.reports.build.build_reports`), one dict per chain with the keys of
    :data:`CHAIN_EFFECT_COLUMNS`:

    * ``sends`` messages sent (by send day) and ``treated`` / ``holdout`` entrants (by entry day) in the days
      ``first_day``..``last_day`` (default: all history up to the latest report date); ``messaged`` treated
      entrants who were sent at least one message (whenever), ``reach`` = messaged / treated, and
      ``holdout_messaged`` (0 unless the holdout leaked); None where the rows predate migration crm/0014;
    * ``incremental_revenue`` = (revenue per treated − per holdout entrant over the chain's horizon) × treated
      entrants, with its 95 % interval ``ci_low``..``ci_high`` and ``significant`` (the interval excludes 0);
      all None / False with ``reason`` saying why when it cannot be measured (``no_sends``, ``no_entrants``,
      ``no_holdout``, ``too_few_entrants``, ``too_few_buyers``; meanings in
      :data:`lifecycle.reports.stats.REASONS`, Russian and English labels in ``REASON_LABELS``);
    * the same for conversion (share of entrants who bought in the horizon): the shares per arm, their
      difference ``conversion_uplift`` with a Newcombe 95 % interval, ``incremental_buyers`` (difference ×
      treated), ``conversion_significant`` and ``conversion_reason``.

    A chain that sent but had no entrants in the period (they entered earlier) has zero entrants and the
    reason ``no_entrants``."""
    if first_day is None or last_day is None:
        first_day = first_day or date(2000, 1, 1)
        last_day = last_day or default_period(warehouse)[1]
    period = {"since_day": first_day, "until_day": last_day + timedelta(days=1)}
    sends: dict[str, int] = defaultdict(int)
    for r in _fetch(warehouse, "reports/chain_kpis.sql", **period):
        sends[r["chain_id"]] += int(r["sent"])
    effects = _uplift(_fetch(warehouse, "reports/holdout_stats.sql", **period), sends)
    empty = ArmStats(0, 0.0, 0.0, 0)
    for chain_id, sent in sends.items():
        if chain_id not in effects:
            effects[chain_id] = chain_effect(empty, empty, sent)
    return [
        {"chain_id": cid} | {k: effects[cid][k] for k in CHAIN_EFFECT_COLUMNS[1:]} for cid in sorted(effects)
    ]


def _experiments(
    warehouse: Warehouse, period: dict, chains: dict[str, ChainConfig], min_sample: int | None
) -> list[dict[str, Any]]:
    """Steps with two or more variants: per variant sends, conversions, P(best) over the period, and the
    bandit's current traffic shares (all-time data) where the step uses the bandit; ``winner`` is the variant
    declared best (:func:`lifecycle.reports.stats.ab_winner`), else None with ``winner_reason``."""
    in_period = _by_step(_fetch(warehouse, "reports/variant_stats.sql", **period))
    all_time = _by_step(
        _fetch(
            warehouse, "reports/variant_stats.sql", since_day=date(2000, 1, 1), until_day=period["until_day"]
        )
    )
    results = []
    for (chain_id, step_id), variants in sorted(in_period.items()):
        config = chains.get(chain_id)
        step = next((s for s in config.steps if s.id == step_id), None) if config else None
        if len(variants) < 2 and not (step and len(step.variants) > 1):
            continue
        stats = [(v["variant"], int(v["sent"]), int(v["converted"])) for v in variants]
        p_best = probability_best(stats, seed=f"report:{chain_id}:{step_id}")
        weights = shares = None
        if step is not None and step.bandit:
            arms = [
                (v["variant"], int(v["sent"]), int(v["converted"])) for v in all_time[(chain_id, step_id)]
            ]
            shares = thompson_weights(arms, min_sample or 0, seed=f"report:{chain_id}:{step_id}")
            total = sum(v.weight for v in step.variants)
            weights = dict(shares) if shares else {v.id: v.weight / total for v in step.variants}
        winner, winner_reason = ab_winner([(v, sent, p_best.get(v)) for v, sent, _ in stats])
        results.append(
            {
                "chain_id": chain_id,
                "step_id": step_id,
                "winner": winner,
                "winner_reason": winner_reason,
                "bandit": bool(step and step.bandit),
                "bandit_active": bool(step and step.bandit and weights and shares),
                "variants": [
                    v
                    | {
                        "conversion_rate": v["converted"] / v["sent"] if v["sent"] else None,
                        "p_best": p_best.get(v["variant"]),
                        "weight": (weights or {}).get(v["variant"]),
                    }
                    for v in variants
                ],
            }
        )
    return results


def _fetch(warehouse: Warehouse, name: str, **params: Any) -> list[dict[str, Any]]:
    """Rows as dicts with plain numbers (PostgreSQL returns SUMs as Decimal)."""
    return [
        {
            k: (int(v) if v == v.to_integral_value() else float(v)) if isinstance(v, Decimal) else v
            for k, v in r.items()
        }
        for r in warehouse.fetch_all(name, **params)
    ]


def _by_step(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        grouped[(r["chain_id"], r["step_id"])].append(
            dict(r) | {"sent": int(r["sent"]), "converted": int(r["converted"])}
        )
    return grouped
