"""The ingest DAG run end to end through Airflow (dag.test) on a real DuckDB warehouse."""

from datetime import datetime, timedelta

import pandas as pd
import pytest

pytestmark = [pytest.mark.airflow]


def test_ingest_dag_loads_quarantines_and_emits_its_asset(airflow_db, airflow_warehouse):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    end = datetime(2026, 3, 2, 12, 0)
    with airflow_warehouse.begin() as conn:
        airflow_warehouse.insert_df(
            conn,
            "shop.customers",
            pd.DataFrame(
                [
                    {
                        "customer_id": 1,
                        "email": "a@example.ru",
                        "timezone": "Asia/Vladivostok",
                        "registered_at": end - timedelta(days=3),
                        "updated_at": end - timedelta(days=3),
                        "loaded_at": end - timedelta(days=3),
                    },
                ]
            ),
        )
        airflow_warehouse.insert_df(
            conn,
            "shop.events",
            pd.DataFrame(
                [
                    {
                        "event_id": 1,
                        "customer_id": 1,
                        "event_type": "app_open",
                        "ts": end - timedelta(minutes=30),
                        "loaded_at": end - timedelta(minutes=29),
                    },
                    {
                        "event_id": 2,
                        "customer_id": 1,
                        "event_type": "levitate",
                        "ts": end - timedelta(minutes=30),
                        "loaded_at": end - timedelta(minutes=29),
                    },
                ]
            ),
        )

    dag = DagBag(dag_folder="dags").dags["lifecycle_ingest"]
    run = dag.test(logical_date=pd.Timestamp(end, tz="UTC").to_pydatetime())
    assert run.state == "success"

    with airflow_warehouse.begin() as conn:
        assert conn.exec_driver_sql("SELECT event_id FROM crm.events").fetchall() == [(1,)]
        assert conn.exec_driver_sql("SELECT reason FROM crm.quarantine").fetchall() == [
            ("unknown_event_type",)
        ]
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM crm.customer_state").fetchall() == [(1,)]
    with create_session() as session:
        events = session.query(AssetEvent).filter(AssetEvent.source_run_id == run.run_id).all()
    assert [e.extra["rows_quarantined"] for e in events] == [1]
