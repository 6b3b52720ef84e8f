"""The dispatch DAG run end to end through Airflow (dag.test) into the sandbox (an email and an SMS), then
retried safely."""

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
                    "sms_sender": "Elektro",
                    "sms_price_per_segment": "4.5",
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
                    },
                    {
                        "customer_id": 2,
                        "email": "boris@example.ru",
                        "phone": "+79161234567",
                        "first_name": "Борис",
                        "timezone": _midday_zone(now),
                        "registered_at": now,
                        "email_consent": False,
                        "push_consent": False,
                        "sms_consent": True,
                        "updated_at": now,
                        "loaded_at": now,
                    },
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
                    },
                    {
                        "send_key": "win_back:2:sms_1",
                        "chain_id": "win_back",
                        "step_id": "sms_1",
                        "instance_id": "wb2",
                        "trigger_key": "t2",
                        "customer_id": 2,
                        "channel": "sms",
                        "message_kind": "trigger",
                        "template": "ru/win_back/sms_1",
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
                    },
                ]
            ),
        )

    dag = DagBag(dag_folder="dags").dags["lifecycle_dispatch"]
    assert dag.test().state == "success"
    assert dag.test().state == "success"  # a second run (or a retry) sends nothing again
    assert len(list((tmp_path / "outbox" / "email").glob("*.eml"))) == 1
    (sms,) = (tmp_path / "outbox" / "sms").glob("*.json")
    written = json.loads(sms.read_text(encoding="utf-8"))
    assert (written["to"], written["sender"], written["segments"], written["cost"]) == (
        "+79161234567",
        "Elektro",
        1,
        4.5,
    )
    assert written["text"].startswith("Борис, промокод BACK-")
    with airflow_warehouse.begin() as conn:
        rows = conn.exec_driver_sql(
            "SELECT channel, state, attempts, segments, cost FROM crm.send_ledger ORDER BY channel"
        ).all()
    assert [tuple(r) for r in rows] == [("email", "sent", 1, None, None), ("sms", "sent", 1, 1, 4.5)]
    assert "dispatch_sms" in dag.task_ids
    assert dag.get_task("dispatch_sms").pool == "lifecycle_delivery_sms"
