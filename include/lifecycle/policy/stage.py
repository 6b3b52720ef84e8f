"""The policy stage: read a chains run's due steps and what the customers already received, apply the
rules per customer (:mod:`lifecycle.policy.rules`), and write one decision per due step, the planned
messages into the send ledger and the experiment arms used. Re-running a run gives the same result.

Policy runs are serialised per warehouse (:mod:`lifecycle.locks`): a run reads the history only once it
holds the planning lock, so it sees every message an earlier or concurrent run planned."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from lifecycle.locks import DEFAULT_LOCK_WAIT_S, exclusive
from lifecycle.policy.config import CHANNELS, PolicyConfig, load_policy
from lifecycle.policy.experiments import thompson_weights
from lifecycle.policy.rules import Customer, Decision, DueStep, Message, RunState, decide_customer, local
from lifecycle.warehouse import Warehouse

#: How far back received messages matter: the sale-share window or the weekly cap, whichever is longer.
_WEEK = timedelta(days=8)


def decide(
    warehouse: Warehouse,
    run_key: str,
    now: datetime,
    config: PolicyConfig | None = None,
    lock_wait_s: float = DEFAULT_LOCK_WAIT_S,
) -> dict:
    """Decide every due step of ``run_key`` as of ``now``; returns the funnel (chain, outcome, reason).

    Waits up to ``lock_wait_s`` seconds for another policy run on the same warehouse to finish, then
    raises :class:`~lifecycle.locks.RunActiveError` naming it.
    """
    config = config or load_policy()
    with exclusive(warehouse, "policy", "policy run", run_key, lock_wait_s) as conn:
        return decide_on(warehouse, conn, run_key, now, config)


def decide_on(
    warehouse: Warehouse, conn, run_key: str, now: datetime, config: PolicyConfig | None = None
) -> dict:
    """The work of :func:`decide` on an open transaction the caller holds (and may roll back, as the chain
    preview does); returns the same funnel."""
    config = config or load_policy()
    now = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    since = now - max(_WEEK, timedelta(days=config.sale_share.window_days))
    rows = warehouse.records(warehouse.run(conn, "policy/due_steps.sql", run_key=run_key))
    history = _by_customer(warehouse.run(conn, "policy/history.sql", run_key=run_key, since=since))
    until = now + timedelta(days=2)
    newsletters = _by_customer(
        warehouse.run(conn, "policy/newsletters.sql", run_key=run_key, since=since, until=until)
    )
    to_all = [
        Message(r["at"], r["channel"], r["kind"])
        for r in warehouse.records(
            warehouse.run(conn, "policy/newsletters_to_all.sql", since=since, until=until)
        )
    ]
    suppressions: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for row in warehouse.run(conn, "policy/suppressions.sql", run_key=run_key).mappings():
        suppressions[row["customer_id"]][row["channel"]].add(row["reason"])
    engaged = {
        (r["instance_id"], r["step_id"])
        for r in warehouse.run(conn, "policy/engagement.sql", run_key=run_key).mappings()
    }
    run = RunState(
        now=now,
        variant_weights=_bandit_weights(warehouse, conn, run_key, config),
        domain_budget=_domain_budget(warehouse, conn, run_key, now, config),
    )

    decisions: list[Decision] = []
    rows.sort(key=lambda r: r["customer_id"])
    for customer_id, group in groupby(rows, key=lambda r: r["customer_id"]):
        group = list(group)
        customer = _customer(
            group[0],
            history.get(customer_id, []),
            newsletters.get(customer_id, []) + _consented(group[0], to_all),
            suppressions.get(customer_id, {}),
            engaged,
        )
        decisions += decide_customer(customer, [_due_step(r) for r in group], config, run)

    warehouse.run(conn, "policy/write_decisions.sql", run_key=run_key)
    warehouse.insert_df(conn, "crm.decisions", _decisions_frame(decisions, rows, run_key, now))
    # PostgreSQL plans the next statements (and the next chains run) knowing the decisions just written.
    warehouse.refresh_statistics(conn, {"crm.decisions": len(decisions)})
    planned = warehouse.run(conn, "policy/insert_ledger.sql", run_key=run_key, now=now).rowcount
    warehouse.refresh_statistics(conn, {"crm.send_ledger": max(planned or 0, 0)})
    warehouse.run(conn, "policy/insert_assignments.sql", run_key=run_key, now=now)
    warehouse.run(conn, "policy/insert_send_time_assignments.sql", run_key=run_key, now=now)
    funnel = [dict(r) for r in warehouse.run(conn, "policy/funnel.sql", run_key=run_key).mappings()]
    return {"run_key": run_key, "due_steps": len(rows), "funnel": funnel}


def _by_customer(result) -> dict[int, list[Message]]:
    grouped: dict[int, list[Message]] = defaultdict(list)
    for row in Warehouse.records(result):
        grouped[row["customer_id"]].append(Message(row["at"], row["channel"], row["kind"]))
    return grouped


def _consented(row: dict[str, Any], mailings: list[Message]) -> list[Message]:
    """The mailings to everybody that reach a customer: those on a channel the customer consents to (a
    customer unknown to crm.customers consents to none)."""
    return [m for m in mailings if m.channel in CHANNELS and row[f"{m.channel}_consent"]]


def _customer(
    row: dict[str, Any],
    history: list[Message],
    newsletters: list[Message],
    suppressions: dict[str, set[str]],
    engaged: set[tuple[str, str]],
) -> Customer:
    known = row["timezone"] is not None
    return Customer(
        customer_id=row["customer_id"],
        timezone=row["timezone"] if known else "UTC",
        email=row["email"],
        phone=row["phone"],
        has_push_token=bool(row["has_push_token"]),
        consents={channel: bool(row[f"{channel}_consent"]) for channel in CHANNELS} if known else {},
        suppressions=dict(suppressions),
        history=list(history),
        newsletters=list(newsletters),
        engaged_steps=engaged,
    )


def _due_step(row: dict[str, Any]) -> DueStep:
    variants = _variants(row["variants"])
    return DueStep(
        chain_id=row["chain_id"],
        step_id=row["step_id"],
        instance_id=row["instance_id"],
        trigger_key=row["trigger_key"],
        customer_id=row["customer_id"],
        channel=row["channel"],
        message_kind=row["message_kind"],
        template=row["template"],
        priority=row["priority"],
        expected_value=row["expected_value"],
        due_at=row["due_at"],
        expires_at=row["expires_at"],
        quiet_hours=row["quiet_hours"],
        holdout_share=row["holdout_share"],
        variants=variants,
        use_bandit=bool(row["use_bandit"]),
        send_condition=row["send_condition"],
        consent_scope=row["consent_scope"],
        context=row["context"],
        send_time=row.get("send_time") or "default",
        send_time_holdout=float(row.get("send_time_holdout") or 0.0),
        best_hour=None if row.get("best_hour") is None else int(row["best_hour"]),
        step_holdout_share=float(row.get("step_holdout_share") or 0.0),
    )


@lru_cache(maxsize=1024)
def _variants(text: str) -> tuple[tuple[str, float], ...]:
    """A step's variants as (id, weight) pairs; a chain's steps repeat the same few texts on every row."""
    return tuple((v["id"], float(v["weight"])) for v in json.loads(text)) or (("A", 1.0),)


def _bandit_weights(warehouse, conn, run_key: str, config: PolicyConfig) -> dict:
    stats: dict[tuple[str, str], list[tuple[str, int, int]]] = defaultdict(list)
    for row in warehouse.run(
        conn, "policy/bandit_stats.sql", run_key=run_key, attribution_days=config.experiments.attribution_days
    ).mappings():
        stats[(row["chain_id"], row["step_id"])].append(
            (row["variant"], int(row["sends"]), int(row["conversions"]))
        )
    weights = {}
    for key, arms in stats.items():
        shares = thompson_weights(arms, config.experiments.bandit_min_sample, seed=f"{run_key}:{key}")
        if shares:
            weights[key] = shares
    return weights


def _domain_budget(warehouse, conn, run_key: str, now: datetime, config: PolicyConfig) -> dict[str, int]:
    domain = config.warmup.sending_domain
    if domain not in config.warmup.daily_limits:
        return {}
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    used = warehouse.run(
        conn,
        "policy/domain_volume.sql",
        run_key=run_key,
        day_start=day_start,
        day_end=day_start + timedelta(days=1),
    ).scalar()
    return {domain: config.warmup.daily_limits[domain] - int(used or 0)}


def _decisions_frame(decisions: list[Decision], rows: list[dict], run_key: str, now: datetime):
    import pandas as pd

    zones = {r["customer_id"]: r["timezone"] or "UTC" for r in rows}
    records = [
        {
            "run_key": run_key,
            "instance_id": d.step.instance_id,
            "step_id": d.step.step_id,
            "channel": d.step.channel,
            "chain_id": d.step.chain_id,
            "customer_id": d.step.customer_id,
            "outcome": d.outcome,
            "reason": d.reason,
            "hold_until": d.hold_until,
            "variant": d.variant,
            "send_key": d.step.send_key if d.outcome == "planned" else None,
            "send_after": d.send_after,
            "local_send_date": local(d.send_after, ZoneInfo(zones[d.step.customer_id])).date()
            if d.send_after
            else None,
            "decided_at": now,
            "send_time_arm": d.send_time_arm,
            "step_arm": d.step_arm,
        }
        for d in decisions
    ]
    columns = [
        "run_key",
        "instance_id",
        "step_id",
        "channel",
        "chain_id",
        "customer_id",
        "outcome",
        "reason",
        "hold_until",
        "variant",
        "send_key",
        "send_after",
        "local_send_date",
        "decided_at",
        "send_time_arm",
        "step_arm",
    ]
    return pd.DataFrame.from_records(records, columns=columns)
