"""The weekly training DAG run end to end through Airflow (dag.test) on a DuckDB demo warehouse."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow
DAGS = Path(__file__).resolve().parents[2] / "dags"


def test_training_dag_registers_new_models_through_the_gate(airflow_db, scores_warehouse):
    from airflow.dag_processing.dagbag import DagBag

    from lifecycle.scores.registry import list_models

    dag = DagBag(dag_folder=str(DAGS)).dags["lifecycle_train_churn"]
    run = dag.test(run_conf={"data_end": "2026-06-29"})
    assert run.state == "success"
    for name in ("churn", "ltv"):
        # version 1 was current before the run; version 2 was measured against it on the same data
        models = list_models(scores_warehouse, name).set_index("version")
        assert models.index.tolist() == [2, 1]
        assert models.loc[2, "incumbent_version"] == 1
        assert models.loc[2, "decision"].startswith(("promoted", "rejected"))
        assert "vs current" in models.loc[2, "decision"]
        assert sorted(models["status"]) in (["current", "retired"], ["current", "rejected"])
