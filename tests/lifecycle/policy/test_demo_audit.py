"""A day of hourly runs on the demo shop (ingest, chains, policy), then the ledger audited in each customer's
own time zone: every due step decided, nobody above the daily cap, nothing in quiet hours, nothing without
consent or to a suppressed address, sales within their share."""

from datetime import datetime, timedelta

import pytest

from lifecycle.chains.engine import run_chains
from lifecycle.demo import DemoConfig, generate
from lifecycle.ingest import ingest
from lifecycle.migrations import migrate
from lifecycle.policy import decide
from lifecycle.policy.audit import audit_ledger

END = datetime(2026, 3, 2, 12, 0)
HOURS = 24


@pytest.fixture(scope="module")
def simulated_day(tmp_path_factory):
    from lifecycle.warehouse import Warehouse

    warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('audit') / 'warehouse.duckdb'}")
    generate(warehouse, DemoConfig(customers=1500, seed=11, end=END, days=120))
    migrate(warehouse)
    start = END - timedelta(hours=HOURS)
    ingest(warehouse, start, "ingest-initial")
    for hour in range(1, HOURS + 1):
        now = start + timedelta(hours=hour)
        ingest(warehouse, now, f"ingest-{hour}", interval_start=now - timedelta(hours=1))
        run_chains(warehouse, now, f"chains-{hour}")
        decide(warehouse, f"chains-{hour}", now)
    return warehouse


def test_the_ledger_keeps_every_promise_of_the_policy(simulated_day):
    audit = audit_ledger(simulated_day)
    assert audit.messages > 50, audit.summary()  # enough traffic for the check to mean something
    assert audit.ok, audit.summary()
    assert 1 <= audit.max_per_local_day <= 3


def test_the_audit_catches_a_message_planned_against_the_rules(simulated_day):
    with simulated_day.begin() as conn:
        send_key = conn.exec_driver_sql("SELECT MIN(send_key) FROM crm.send_ledger").scalar()
        conn.exec_driver_sql(
            "UPDATE crm.customers SET email_consent = FALSE, email_consent_at = NULL WHERE customer_id = "
            "(SELECT customer_id FROM crm.send_ledger WHERE send_key = ?)",
            (send_key,),
        )
    try:
        assert send_key in audit_ledger(simulated_day).violations["no_consent"]
    finally:
        with simulated_day.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE crm.customers SET email_consent = TRUE WHERE customer_id = "
                "(SELECT customer_id FROM crm.send_ledger WHERE send_key = ?)",
                (send_key,),
            )
