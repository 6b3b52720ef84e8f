"""The pipeline on a distributed Airflow: API server, scheduler, DAG processor and a Celery worker, each its
own process, with Redis as the broker and PostgreSQL for the metadata and the warehouse (`make test-celery`).

The stack itself is scripts/celery_stack.py. It needs the PostgreSQL server at 127.0.0.1:5432 (override with
LIFECYCLE_TEST_PG_URL) and Redis at 127.0.0.1:6379 (LIFECYCLE_TEST_REDIS_URL, default database 11; keys,
queue and node name carry a random token, so stacks can share the server). Without either server these tests
are skipped locally and fail when CI=true. Everything started is stopped and dropped afterwards, also when a
test fails.
"""

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

PG_ADMIN_URL = os.environ.get(
    "LIFECYCLE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("LIFECYCLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
#: The demo shop: small, so the whole pipeline runs in minutes on two cores.
CUSTOMERS = 1000
SEED = 42


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "celery: runs the pipeline on a distributed Airflow (make test-celery)"
    )


def _unavailable(what: str, reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is required in CI and is unreachable: {reason}", pytrace=False)
    pytest.skip(f"{what} unreachable ({reason}); it is required when CI=true")


def _check_servers() -> None:
    import redis
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        _unavailable("PostgreSQL", str(exc.orig).strip().splitlines()[0])
    finally:
        engine.dispose()
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        _unavailable("Redis", str(exc))


@pytest.fixture(scope="session")
def shop_end() -> datetime:
    """The demo shop's now and the logical date of every run: the current UTC hour, as in `make demo`."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


@pytest.fixture(scope="session")
def celery_stack(tmp_path_factory, shop_end):
    """The running stack with the demo shop loaded into its warehouse; torn down at the end of the session."""
    from celery_stack import CeleryStack

    _check_servers()
    stack = CeleryStack(
        workdir=tmp_path_factory.mktemp("celery-stack"), pg_admin_url=PG_ADMIN_URL, redis_url=REDIS_URL
    )
    try:
        started = time.monotonic()
        stack.manifest = stack.start(customers=CUSTOMERS, seed=SEED, end=shop_end.replace(tzinfo=None))
        print(f"stack up with the demo shop loaded in {time.monotonic() - started:.0f} s ({stack.workdir})")
        yield stack
    finally:
        problems = stack.stop()
        assert not problems, f"clean-up of the Celery stack: {problems}"


@pytest.fixture(scope="session")
def pipeline_runs(celery_stack, shop_end) -> dict:
    """Every DAG of the pipeline triggered in order through the REST API and finished with success."""
    from celery_stack import run_pipeline

    started = time.monotonic()
    runs = run_pipeline(celery_stack, shop_end)
    print(f"pipeline of {len(runs)} DAGs done in {time.monotonic() - started:.0f} s")
    return {run.dag_id: run for run in runs}


@pytest.fixture(scope="session")
def warehouse_engine(celery_stack):
    import sqlalchemy as sa

    engine = sa.create_engine(celery_stack.warehouse_url)
    yield engine
    engine.dispose()
