"""Caps hold by construction: four policy runs, and four chains runs, for the same hour started at the same
moment as separate processes plan exactly what one run would, and the ledger audit stays clean.

Before planning was serialised, four policy runs on PostgreSQL each planned every customer a message (4 in
the same minute, 3,000 daily-cap violations over 3,000 customers), and concurrent chains runs failed with a
raw ``UniqueViolation "chain_steps_pkey"``.
"""

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest
from concurrent_runs import run_concurrently

from lifecycle.policy.audit import audit_ledger
from lifecycle.policy.experiments import bucket

NOW = datetime(2026, 3, 3, 9, 0)  # 12:00 in Moscow, outside quiet hours
CUSTOMERS = 1000
CHAINS = ("welcome", "abandoned_cart", "win_back", "post_purchase")
#: The demo shop's last hour (the chains test runs the hour after the ingest).
DEMO_END = datetime(2026, 3, 2, 12, 0)


def _due_steps(run_key, chain, customer_ids):
    return [
        {
            "run_key": run_key,
            "chain_id": chain,
            "step_id": "email_1",
            "step_no": 1,
            "instance_id": f"{chain}:{customer_id}:k",
            "trigger_key": "k",
            "customer_id": customer_id,
            "channel": "email",
            "message_kind": "content",
            "template": f"ru/{chain}/email_1",
            "priority": 50,
            "expected_value": 100.0,
            "due_at": NOW - timedelta(hours=1),
            "expires_at": NOW + timedelta(hours=12),
            "quiet_hours": "hold",
            "holdout_share": 0.0,
            "variants": json.dumps([{"id": "A", "weight": 1}]),
            "use_bandit": False,
            "send_condition": None,
            "consent_scope": None,
            "context": "{}",
        }
        for customer_id in customer_ids
    ]


def _count(warehouse, sql):
    with warehouse.begin() as conn:
        return conn.exec_driver_sql(sql).scalar()


def _assert_clean(outcomes):
    for outcome in outcomes:
        assert outcome.ok, (outcome.run_key, outcome.result, outcome.stderr[-2000:])
        assert "UniqueViolation" not in outcome.stderr


def test_four_concurrent_policy_runs_plan_each_customer_once(migrated):
    """Each run hands every customer a step of another chain; together they must respect the caps."""
    customer_ids = [i for i in range(1, 10 * CUSTOMERS) if bucket("global_control", i) >= 0.05][:CUSTOMERS]
    customers = [
        {
            "customer_id": customer_id,
            "email": f"c{customer_id}@example.ru",
            "timezone": "Europe/Moscow",
            "registered_at": NOW - timedelta(days=30),
            "email_consent": True,
            "push_consent": False,
            "sms_consent": False,
            "updated_at": NOW - timedelta(days=30),
            "loaded_at": NOW - timedelta(days=30),
        }
        for customer_id in customer_ids
    ]
    run_keys = [f"chains-run-{n}" for n in range(len(CHAINS))]
    with migrated.begin() as conn:
        migrated.insert_df(conn, "crm.customers", pd.DataFrame(customers))
        for run_key, chain in zip(run_keys, CHAINS, strict=True):
            migrated.insert_df(conn, "crm.due_steps", pd.DataFrame(_due_steps(run_key, chain, customer_ids)))
    migrated.engine.dispose()  # DuckDB: leave the file to the runs

    _assert_clean(run_concurrently("policy", str(migrated.url), NOW.isoformat(), run_keys))

    # The first run to get the lock plans one email per customer; the others see it and hold theirs
    # (minimum gap). Without the lock, every run planned every customer: 4 emails each.
    assert _count(migrated, "SELECT COUNT(*) FROM crm.send_ledger") == CUSTOMERS
    assert _count(migrated, "SELECT COUNT(DISTINCT customer_id) FROM crm.send_ledger") == CUSTOMERS
    assert _count(migrated, "SELECT COUNT(*) FROM crm.decisions") == CUSTOMERS * len(CHAINS)
    audit = audit_ledger(migrated)
    assert audit.ok, audit.summary()
    assert audit.max_per_local_day == 1


@pytest.fixture
def demo_shop(postgres_warehouse):
    from lifecycle.demo import DemoConfig, generate
    from lifecycle.ingest import ingest
    from lifecycle.migrations import migrate

    generate(postgres_warehouse, DemoConfig(customers=1500, seed=11, end=DEMO_END, days=60))
    migrate(postgres_warehouse)
    ingest(postgres_warehouse, DEMO_END, "ingest-initial")
    return postgres_warehouse


def test_four_concurrent_chains_runs_take_turns_and_the_ledger_stays_clean(demo_shop):
    url, now = str(demo_shop.url), DEMO_END.isoformat()
    run_keys = [f"chains-{n}" for n in range(4)]

    chains_runs = run_concurrently("chains", url, now, run_keys)
    _assert_clean(chains_runs)
    due = [outcome.result["due_steps"] for outcome in chains_runs]
    assert due[0] > 50
    assert len(set(due)) == 1, due  # each run found the same due steps (the policy has not run yet)
    assert _count(demo_shop, "SELECT COUNT(*) FROM crm.chain_run_failures") == 0
    assert _count(demo_shop, "SELECT COUNT(*) FROM crm.chain_runs") == 4 * 16

    _assert_clean(run_concurrently("policy", url, now, run_keys))
    audit = audit_ledger(demo_shop)
    assert audit.messages > 50, audit.summary()
    assert audit.ok, audit.summary()
    # The same instance's step is planned once, whichever run got there first.
    assert _count(demo_shop, "SELECT COUNT(*) FROM crm.send_ledger") == _count(
        demo_shop, "SELECT COUNT(DISTINCT instance_id || step_id) FROM crm.send_ledger"
    )
