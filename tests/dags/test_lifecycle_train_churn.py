"""The weekly training DAG run end to end through Airflow (dag.test) on a DuckDB demo warehouse."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow
DAGS = Path(__file__).resolve().parents[2] / "dags"


def test_training_dag_registers_new_models_through_the_gate(airflow_db, scores_warehouse):
    from airflow.dag_processing.dagbag import DagBag

    from lifecycle.scores.registry import current_model, list_models

    dag = DagBag(dag_folder=str(DAGS)).dags["lifecycle_train_churn"]
    run = dag.test(run_conf={"data_end": "2026-06-29"})
    assert run.state == "success"
    # churn: version 1 was current before the run; version 2 was measured against it on the same data
    models = list_models(scores_warehouse, "churn").set_index("version")
    assert models.index.tolist() == [2, 1]
    assert models.loc[2, "incumbent_version"] == 1
    assert models.loc[2, "decision"].startswith(("promoted", "rejected"))
    assert "vs current" in models.loc[2, "decision"]
    assert sorted(models["status"]) in (["current", "retired"], ["current", "rejected"])
    # the snapshots and the validation window used are on record
    settings = current_model(scores_warehouse, "churn").settings
    assert settings["training_snapshots"] >= 2
    assert settings["validation_window"] == ["2026-04-01", "2026-06-29"]
    # LTV: a second version, judged against zero, last year and its deciles
    ltv = list_models(scores_warehouse, "ltv").set_index("version")
    assert ltv.index.tolist() == [2, 1]
    assert "zero_mae" in ltv.loc[2, "decision"]
    assert "decile_spearman" in ltv.loc[2, "decision"]
