"""Fixtures for the scores DAG tests: one demo warehouse with trained models, copied for each test.

The Airflow metadata database comes from ``airflow_db`` in tests/conftest.py.
"""

from datetime import date, datetime

import pytest

SCORES_DEMO_END = datetime(2026, 6, 30)


def _build_scores_demo(path):
    from lifecycle.demo import DemoConfig, generate
    from lifecycle.ingest import ingest
    from lifecycle.migrations import migrate
    from lifecycle.scores.config import ScoresConfig
    from lifecycle.scores.training import train_churn, train_ltv
    from lifecycle.warehouse import Warehouse

    warehouse = Warehouse(f"duckdb:///{path}")
    generate(warehouse, DemoConfig(customers=1500, seed=5, end=SCORES_DEMO_END, days=730))
    migrate(warehouse)
    ingest(warehouse, window_end=SCORES_DEMO_END, run_key="demo")
    assert train_churn(warehouse, date(2026, 6, 29), ScoresConfig()).promoted
    # LTV must beat predicting zero to become current; on this small demo it may not (docs/scores.md)
    train_ltv(warehouse, date(2026, 6, 29), ScoresConfig())
    warehouse.engine.dispose()


@pytest.fixture(scope="session")
def scores_demo_file(tmp_path_factory, worker_id):
    """A two-year demo shop of 1 500 customers, ingested, with a churn model current and an LTV model trained.
    Built once per test run and shared by the workers (the first to ask builds it, the others wait)."""
    import fcntl

    base = tmp_path_factory.getbasetemp()
    root = base.parent if worker_id != "master" else base
    path = root / "scores_dags_demo.duckdb"
    with open(root / "scores_dags_demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            partial = root / "scores_dags_demo.partial"
            _build_scores_demo(partial)
            partial.rename(path)
    return path


@pytest.fixture
def scores_warehouse(scores_demo_file, tmp_path, monkeypatch):
    """A fresh copy of the scores demo, exposed to DAG runs as the ``lifecycle_warehouse`` connection."""
    import json
    import shutil

    from lifecycle.warehouse import Warehouse

    path = tmp_path / scores_demo_file.name
    shutil.copyfile(scores_demo_file, path)
    monkeypatch.setenv(
        "AIRFLOW_CONN_LIFECYCLE_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": str(path)})
    )
    return Warehouse(f"duckdb:///{path}")
