"""The daily reports DAG run end to end through Airflow (dag.test) on hand-built rows."""

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow
ROOT = Path(__file__).resolve().parents[2]


def _rows_module():
    path = ROOT / "tests/lifecycle/reports/report_rows.py"
    spec = importlib.util.spec_from_file_location("report_rows", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reports_dag_builds_the_previous_day_and_is_idempotent(airflow_db, airflow_warehouse, caplog):
    from airflow.dag_processing.dagbag import DagBag

    _rows_module().build_fixture_rows(airflow_warehouse)
    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["lifecycle_reports"]
    counts = []
    # The scheduled run for 1 April builds 31 March; a manual re-run of that date changes nothing.
    for hour, conf in ((2, None), (3, {"report_date": "2026-03-31"})):
        run = dag.test(run_after=datetime(2026, 4, 1, hour, 30, tzinfo=UTC), run_conf=conf)
        assert run.state == "success"
        with airflow_warehouse.begin() as conn:
            counts.append(
                conn.exec_driver_sql(
                    "SELECT (SELECT COUNT(*) FROM crm.report_chain_daily), (SELECT COUNT(*) FROM"
                    " crm.report_holdout_daily), (SELECT MAX(report_date) FROM crm.report_runs)"
                ).fetchone()
            )
    assert counts[0] == counts[1]
    assert counts[0][0] > 0
    assert counts[0][1] > 0
    assert str(counts[0][2]) == "2026-03-31"
    # Without the lifecycle_airflow_api connection the note is skipped, not failed.
    assert "no 'lifecycle_airflow_api' connection" in caplog.text
