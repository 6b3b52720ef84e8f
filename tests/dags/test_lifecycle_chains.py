"""The chains DAG run end to end through Airflow (dag.test) on a real DuckDB warehouse."""

from datetime import datetime, timedelta

import pandas as pd
import pytest

pytestmark = [pytest.mark.airflow]

AS_OF = datetime(2026, 3, 2, 12, 0)


def _customer(customer_id):
    """A customer who registered three hours before the run: the welcome chain's first step is due."""
    return {
        "customer_id": customer_id,
        "email": f"c{customer_id}@example.ru",
        "timezone": "Europe/Moscow",
        "registered_at": AS_OF - timedelta(hours=3),
        "email_consent": True,
        "push_consent": False,
        "sms_consent": False,
        "updated_at": AS_OF,
        "loaded_at": AS_OF,
    }


def task_states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_chains_dag_writes_due_steps_of_every_chain_and_hands_them_off(
    airflow_db, airflow_warehouse, monkeypatch, caplog
):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("LIFECYCLE_CHECK_TEMPLATES", "0")
    caplog.set_level("INFO")
    with airflow_warehouse.begin() as conn:
        airflow_warehouse.insert_df(
            conn,
            "crm.customers",
            pd.DataFrame([_customer(1)]),
        )

    from lifecycle.chains.config import chain_ids

    dag = DagBag(dag_folder="dags").dags["lifecycle_chains"]
    # One task for all chains, not one per chain or phase: a scheduler starts a process per task instance.
    assert sorted(dag.task_ids) == [
        "check_chains",
        "check_pools_and_connections",
        "hand_off",
        "run_chains",
        "validate_chains",
        "write_run_note",
    ]
    run = dag.test(logical_date=pd.Timestamp(AS_OF, tz="UTC").to_pydatetime())
    assert run.state == "success"
    assert set(task_states(run).values()) == {"success"}

    with airflow_warehouse.begin() as conn:
        due = conn.exec_driver_sql("SELECT chain_id, step_id, run_key FROM crm.due_steps").fetchall()
        chains_run = conn.exec_driver_sql("SELECT chain_id FROM crm.chain_runs ORDER BY chain_id").fetchall()
        welcome = conn.exec_driver_sql(
            "SELECT candidates, entered, due_steps FROM crm.chain_runs WHERE chain_id = 'welcome'"
        ).fetchall()
        decisions = conn.exec_driver_sql("SELECT run_key, chain_id, outcome FROM crm.decisions").fetchall()
        ledger = conn.exec_driver_sql("SELECT send_key, state FROM crm.send_ledger").fetchall()
    assert [(c, s) for c, s, _ in due] == [("welcome", "email_1")]
    assert due[0][2] == run.run_id
    assert [c for (c,) in chains_run] == sorted(chain_ids())
    assert welcome == [(1, 1, 1)]
    # The hand-off gave the step to the contact policy: 15:00 in Moscow, consented, no control group.
    assert decisions == [(run.run_id, "welcome", "planned")]
    assert ledger == [("welcome:email_1:welcome:1:email", "planned")]
    # The task logs say what happened in words and figures, never who it happened to.
    logged = caplog.text
    assert "16 chain(s) fine, 0 broken, 0 warning(s)" in logged
    assert "welcome: 1 candidate(s) since " in logged
    assert ", 1 entered, 0 exited, 0 completed, 1 step(s) due, 0 skipped by segment" in logged
    assert "16 of 16 chain(s) ran in " in logged
    assert "contact policy: 1 due step(s) decided in " in logged
    assert "c1@example.ru" not in logged


def test_a_broken_entry_query_stops_only_its_chain_and_the_run_is_marked_failed(
    airflow_db, airflow_warehouse, monkeypatch
):
    """`SELEC` in one chain's SQL: that chain fails with the file and line, the others are handed off and
    decided, the Run summary and the run note name the failed chain, and the run is failed."""
    from airflow.dag_processing.dagbag import DagBag

    from lifecycle import sql
    from lifecycle.reports.digest import chains_digest
    from lifecycle.reports.read import chains_run

    monkeypatch.setenv("LIFECYCLE_CHECK_TEMPLATES", "0")
    original = sql.load

    def load(name, dialect=None):
        text = original(name, dialect)
        return (
            text.replace("WITH purchases AS (\n    SELECT", "WITH purchases AS (\n    SELEC", 1)
            if (name == "chains/abandoned_cart.sql")
            else text
        )

    monkeypatch.setattr(sql, "load", load)  # statements() reads through load(); nothing else caches
    with airflow_warehouse.begin() as conn:
        airflow_warehouse.insert_df(conn, "crm.customers", pd.DataFrame([_customer(1)]))
    dag = DagBag(dag_folder="dags").dags["lifecycle_chains"]
    run = dag.test(logical_date=pd.Timestamp(AS_OF, tz="UTC").to_pydatetime())

    states = task_states(run)
    assert run.state == "failed"
    assert states["run_chains"] == "success"  # the other fifteen chains ran
    assert states["hand_off"] == "success"
    assert states["write_run_note"] == "success"
    assert states["check_chains"] == "failed"
    with airflow_warehouse.begin() as conn:
        failures = conn.exec_driver_sql(
            "SELECT chain_id, phase, error FROM crm.chain_run_failures"
        ).fetchall()
        decisions = conn.exec_driver_sql("SELECT chain_id, outcome FROM crm.decisions").fetchall()
    assert [(c, p) for c, p, _ in failures] == [("abandoned_cart", "enter")]
    from lifecycle.paths import SQL_DIR

    lines = (SQL_DIR / "chains" / "abandoned_cart.sql").read_text(encoding="utf-8").splitlines()
    broken_line = lines.index("WITH purchases AS (") + 2  # the SELECT under it, 1-based
    assert f"abandoned_cart.sql, line {broken_line}: " in failures[0][2]
    assert 'syntax error at or near "SELEC"' in failures[0][2]
    assert decisions == [("welcome", "planned")]  # the other chains were decided all the same
    summary = chains_run(airflow_warehouse, run.run_id)
    assert [f["chain_id"] for f in summary["failures"]] == ["abandoned_cart"]
    assert "Failed chains (ошибка цепочки): abandoned_cart (enter)" in chains_digest(summary)


def test_an_exit_query_that_does_not_plan_fails_its_chain_before_it_runs(
    airflow_db, airflow_warehouse, monkeypatch
):
    """A broken exit query stops the chains that turn that exit on before they run (recorded as failed in
    their enter phase, nobody entered), not in the exit phase; the other chains run and are handed off."""
    from airflow.dag_processing.dagbag import DagBag

    from lifecycle import sql
    from lifecycle.chains.config import CHAINS_DIR, chain_ids, load_chain

    monkeypatch.setenv("LIFECYCLE_CHECK_TEMPLATES", "0")
    original = sql.load

    def load(name, dialect=None):
        text = original(name, dialect)
        return (
            text.replace("FROM crm.events", "FROM crm.event", 1)
            if name == "chains/exits/any_cart.sql"
            else text
        )

    monkeypatch.setattr(sql, "load", load)
    with airflow_warehouse.begin() as conn:
        airflow_warehouse.insert_df(conn, "crm.customers", pd.DataFrame([_customer(1)]))
    dag = DagBag(dag_folder="dags").dags["lifecycle_chains"]
    run = dag.test(logical_date=pd.Timestamp(AS_OF, tz="UTC").to_pydatetime())

    broken = sorted(c for c in chain_ids() if load_chain(CHAINS_DIR / f"{c}.yaml", False).exits.any_cart)
    assert broken  # abandoned browse, category…
    states = task_states(run)
    assert run.state == "failed"
    assert states["run_chains"] == "success"
    assert states["hand_off"] == "success"
    assert states["check_chains"] == "failed"
    with airflow_warehouse.begin() as conn:
        failures = conn.exec_driver_sql(
            "SELECT chain_id, phase, error FROM crm.chain_run_failures"
        ).fetchall()
        entered = conn.exec_driver_sql("SELECT DISTINCT chain_id FROM crm.chain_instances").fetchall()
        decisions = conn.exec_driver_sql("SELECT chain_id, outcome FROM crm.decisions").fetchall()
    assert sorted((c, p) for c, p, _ in failures) == [(c, "enter") for c in broken]
    assert all("(exit 'any_cart' of chain " in error for _, _, error in failures)
    assert all("event does not exist" in error for _, _, error in failures)
    assert not {c for (c,) in entered} & set(broken)
    assert decisions == [("welcome", "planned")]
