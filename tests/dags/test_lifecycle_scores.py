"""The daily scores DAG run end to end through Airflow (dag.test): scores a date once, emits its Asset."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow
DAGS = Path(__file__).resolve().parents[2] / "dags"


def _count(warehouse, sql):
    with warehouse.begin() as conn:
        return conn.exec_driver_sql(sql).scalar()


def test_scores_dag_scores_the_last_complete_day_once_and_emits_its_asset(airflow_db, scores_warehouse):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    from lifecycle.scores.features import build_features
    from lifecycle.scores.registry import current_model
    from lifecycle_providers.assets import CUSTOMER_SCORES

    dag = DagBag(dag_folder=str(DAGS)).dags["lifecycle_scores"]
    # Like an asset-triggered run (no logical date) after the first ingest of 30 June: it scores 29 June.
    first = dag.test(run_after=datetime(2026, 6, 30, 0, 20, tzinfo=UTC), logical_date=None)
    assert first.state == "success"
    ltv_filled = "ltv IS NOT NULL" if current_model(scores_warehouse, "ltv") else "ltv IS NULL"
    scored = _count(
        scores_warehouse,
        "SELECT COUNT(*) FROM crm.customer_scores WHERE as_of = '2026-06-29'"
        f" AND churn_probability IS NOT NULL AND {ltv_filled} AND churn_model_version = 1",
    )
    assert scored == len(build_features(scores_warehouse, date(2026, 6, 29)))  # every purchasing customer
    # no probability is shared by more than 1 % of the customers
    largest_tie = _count(
        scores_warehouse,
        "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM crm.customer_scores"
        " WHERE as_of = '2026-06-29' GROUP BY churn_probability) AS ties",
    )
    assert largest_tie <= 0.01 * scored
    with create_session() as session:
        events = [
            (event.asset.uri, event.extra["as_of"], event.extra["churn_model_version"])
            for event in session.query(AssetEvent).filter(AssetEvent.source_run_id == first.run_id)
        ]
    assert events == [(CUSTOMER_SCORES.uri, "2026-06-29", 1)]

    # The next ingest run the same day finds the date scored: the scoring task is skipped, nothing emitted.
    second = dag.test(run_after=datetime(2026, 6, 30, 1, 20, tzinfo=UTC), logical_date=None)
    assert second.state == "success"
    assert {ti.task_id: ti.state for ti in second.get_task_instances()} == {
        "check_pools_and_connections": "success",
        "pick_as_of": "success",
        "score_customers": "skipped",
        "write_run_note": "skipped",
    }
    assert _count(scores_warehouse, "SELECT COUNT(*) FROM crm.score_runs") == 1
