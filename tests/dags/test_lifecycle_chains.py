"""The chains DAG run end to end through Airflow (dag.test) on a real DuckDB warehouse."""

from datetime import datetime, timedelta

import pandas as pd
import pytest

pytestmark = [pytest.mark.airflow]

AS_OF = datetime(2026, 3, 2, 12, 0)


def test_chains_dag_writes_due_steps_of_every_chain_and_hands_them_off(
    airflow_db, airflow_warehouse, monkeypatch
):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("LIFECYCLE_CHECK_TEMPLATES", "0")
    with airflow_warehouse.begin() as conn:
        airflow_warehouse.insert_df(
            conn,
            "crm.customers",
            pd.DataFrame(
                [
                    {
                        "customer_id": 1,
                        "email": "a@example.ru",
                        "timezone": "Europe/Moscow",
                        "registered_at": AS_OF - timedelta(hours=3),
                        "email_consent": True,
                        "push_consent": False,
                        "sms_consent": False,
                        "updated_at": AS_OF,
                        "loaded_at": AS_OF,
                    }
                ]
            ),
        )

    dag = DagBag(dag_folder="dags").dags["lifecycle_chains"]
    assert {g.split(".")[0] for g in dag.task_ids if "." in g} >= {"welcome", "abandoned_cart", "win_back"}
    run = dag.test(logical_date=pd.Timestamp(AS_OF, tz="UTC").to_pydatetime())
    assert run.state == "success"

    with airflow_warehouse.begin() as conn:
        due = conn.exec_driver_sql("SELECT chain_id, step_id, run_key FROM crm.due_steps").fetchall()
        chains_run = conn.exec_driver_sql("SELECT COUNT(*) FROM crm.chain_runs").scalar()
        welcome = conn.exec_driver_sql(
            "SELECT candidates, entered, due_steps FROM crm.chain_runs WHERE chain_id = 'welcome'"
        ).fetchall()
        decisions = conn.exec_driver_sql("SELECT run_key, chain_id, outcome FROM crm.decisions").fetchall()
        ledger = conn.exec_driver_sql("SELECT send_key, state FROM crm.send_ledger").fetchall()
    assert [(c, s) for c, s, _ in due] == [("welcome", "email_1")]
    assert due[0][2] == run.run_id
    assert chains_run == 16
    assert welcome == [(1, 1, 1)]  # the entry task's figures reach the run's record
    # The hand-off gave the step to the contact policy: 15:00 in Moscow, consented, no control group.
    assert decisions == [(run.run_id, "welcome", "planned")]
    assert ledger == [("welcome:email_1:welcome:1:email", "planned")]
