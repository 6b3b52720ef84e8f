"""Settings every project DAG shares, so policy lives in one place and the DAG integrity test can check it."""

from datetime import timedelta

import pendulum

from lifecycle_providers.hooks.warehouse import WarehouseHook
from lifecycle_providers.operators.preflight import PreflightOperator

#: Tasks that touch the warehouse run in this pool. With the embedded DuckDB it has 1 slot (one writer per
#: file); on PostgreSQL it can be raised. `make airflow` and docker-compose create it.
WAREHOUSE_POOL = "lifecycle_warehouse"

DEFAULT_ARGS = {
    "owner": "data-engineering",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "pool": WAREHOUSE_POOL,
}

#: Keyword arguments every project DAG passes to ``@dag``: no catch-up of missed intervals (the ingest
#: watermark catches up instead), one run at a time, the shared task defaults.
DAG_SETTINGS = {
    "start_date": pendulum.datetime(2026, 1, 1, tz="UTC"),
    "catchup": False,
    "max_active_runs": 1,
    "default_args": DEFAULT_ARGS,
}

TAG_PRODUCT = "lifecycle"
#: The warehouse connection every DAG's tasks use (through :func:`warehouse`).
WAREHOUSE_CONN_ID = "lifecycle_warehouse"


def preflight(*conn_ids: str) -> PreflightOperator:
    """The first task of a DAG: fails the run at once, naming them, when a pool its tasks run in or a
    connection they use (the warehouse, ``conn_ids``, every operator's ``*_conn_id``) does not exist.
    Put it upstream of the DAG's first tasks."""
    return PreflightOperator(conn_ids=[WAREHOUSE_CONN_ID, *conn_ids])


def warehouse():
    """The warehouse of the ``lifecycle_warehouse`` connection; call inside a task, never at parse time."""
    return WarehouseHook(WAREHOUSE_CONN_ID).get_conn()
