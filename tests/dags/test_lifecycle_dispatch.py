"""The dispatch DAG run end to end through Airflow (dag.test) into the sandbox, then retried safely."""

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

pytestmark = [pytest.mark.airflow]


def _midday_zone(now: datetime) -> str:
    offset = 12 - now.hour if now.hour else -12
    return f"Etc/GMT{-offset:+d}"  # POSIX sign: Etc/GMT-3 is UTC+3


def test_dispatch_dag_sends_through_the_sandbox_once(airflow_db, airflow_warehouse, monkeypatch, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv(
        "AIRFLOW_CONN_LIFECYCLE_SANDBOX",
        json.dumps(
            {
                "conn_type": "lifecycle_sandbox",
                "extra": {
                    "path": str(tmp_path / "outbox"),
                    "from_email": "shop@shop.example",
                    "from_name": "Shop",
                },
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_LIFECYCLE_LINKS",
        json.dumps(
            {
                "conn_type": "generic",
                "password": "test-secret-0123456789",
                "extra": {"base_url": "http://localhost"},
            }
        ),
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    with airflow_warehouse.begin() as conn:
        airflow_warehouse.insert_df(
            conn,
            "crm.customers",
            pd.DataFrame(
                [
                    {
                        "customer_id": 1,
                        "email": "anna@example.ru",
                        "first_name": "Анна",
                        # a zone where it is about noon now: the send-time check keeps quiet hours
                        "timezone": _midday_zone(now),
                        "registered_at": now,
                        "email_consent": True,
                        "push_consent": False,
                        "sms_consent": False,
                        "updated_at": now,
                        "loaded_at": now,
                    }
                ]
            ),
        )
        airflow_warehouse.insert_df(
            conn,
            "crm.send_ledger",
            pd.DataFrame(
                [
                    {
                        "send_key": "welcome:1:email_1",
                        "chain_id": "welcome",
                        "step_id": "email_1",
                        "instance_id": "w1",
                        "trigger_key": "t",
                        "customer_id": 1,
                        "channel": "email",
                        "message_kind": "trigger",
                        "template": "ru/welcome/email_1",
                        "variant": "a",
                        "context": "{}",
                        "planned_at": now,
                        "send_after": now - timedelta(minutes=1),
                        "local_send_date": now.date(),
                        "expires_at": now + timedelta(days=1),
                        "run_key": "r",
                        "state": "planned",
                        "attempts": 0,
                        "updated_at": now,
                    }
                ]
            ),
        )

    dag = DagBag(dag_folder="dags").dags["lifecycle_dispatch"]
    assert dag.test().state == "success"
    assert dag.test().state == "success"  # a second run (or a retry) sends nothing again
    assert len(list((tmp_path / "outbox" / "email").glob("*.eml"))) == 1
    with airflow_warehouse.begin() as conn:
        state, attempts = conn.exec_driver_sql("SELECT state, attempts FROM crm.send_ledger").one()
    assert (state, attempts) == ("sent", 1)
