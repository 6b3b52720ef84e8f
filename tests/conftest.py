"""Test set-up shared by every test.

Airflow reads its configuration from the environment when first imported, so it is set here before any
test module imports it: a throw-away AIRFLOW_HOME with a SQLite metadata database, this project's dags/ and
plugins/ folders, and no example DAGs.

Warehouses are real: a DuckDB file in a temporary folder, and a fresh database on the PostgreSQL server at
127.0.0.1:5432 (override with LIFECYCLE_TEST_PG_URL). Without that server the PostgreSQL tests are skipped
locally but fail when CI=true, so a CI run can never pass without them.
"""

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="lifecycle-airflow-home-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME}/airflow.db"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"

PG_ADMIN_URL = os.environ.get(
    "LIFECYCLE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"PostgreSQL is required in CI and is unreachable: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unreachable ({reason}); it is required when CI=true")


@pytest.fixture
def duckdb_warehouse(tmp_path):
    from lifecycle.warehouse import Warehouse

    return Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")


@pytest.fixture
def postgres_warehouse():
    """A fresh PostgreSQL database, dropped after the test."""
    import sqlalchemy as sa

    from lifecycle.warehouse import Warehouse

    admin_url = sa.make_url(PG_ADMIN_URL)
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"lifecycle_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _pg_unavailable(str(exc.orig).strip().splitlines()[0])
    warehouse = Warehouse(admin_url.set(database=name))
    try:
        yield warehouse
    finally:
        warehouse.engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request):
    """Each test using this runs once on DuckDB and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_warehouse")


@pytest.fixture(scope="session")
def duckdb_migrated_file(tmp_path_factory):
    """A DuckDB file the project's migrations built, once per test process. Migrating a new DuckDB file takes
    a few seconds (PostgreSQL: a fraction of one), and a few hundred tests start from a migrated one: each
    gets a copy of this file instead."""
    from lifecycle.migrations import migrate
    from lifecycle.warehouse import Warehouse

    path = tmp_path_factory.mktemp("migrated") / "warehouse.duckdb"
    template = Warehouse(f"duckdb:///{path}")
    migrate(template)
    template.engine.dispose()
    assert not path.with_suffix(".duckdb.wal").exists(), "the migrated file must be checkpointed to be copied"
    return path


@pytest.fixture
def duckdb_migrated(duckdb_warehouse, duckdb_migrated_file):
    """The test's DuckDB warehouse, migrated (a copy of :func:`duckdb_migrated_file`)."""
    target = Path(duckdb_warehouse.url.database)
    assert not target.exists(), f"{target} was opened before it could be migrated"
    shutil.copyfile(duckdb_migrated_file, target)
    return duckdb_warehouse


@pytest.fixture
def migrated(warehouse, request):
    from lifecycle.migrations import migrate

    if warehouse.dialect == "duckdb":
        return request.getfixturevalue("duckdb_migrated")
    migrate(warehouse)
    return warehouse


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database (SQLite in the session's AIRFLOW_HOME), migrated once per worker."""
    from airflow.utils import db

    db.resetdb()


@pytest.fixture
def airflow_warehouse(duckdb_migrated, monkeypatch):
    """The DuckDB warehouse, migrated, exposed to DAG runs as the ``lifecycle_warehouse`` connection."""
    import json

    duckdb_warehouse = duckdb_migrated
    monkeypatch.setenv(
        "AIRFLOW_CONN_LIFECYCLE_WAREHOUSE",
        json.dumps({"conn_type": "duckdb", "host": duckdb_warehouse.url.database}),
    )
    return duckdb_warehouse


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under ``pytest -n 2 --dist loadgroup`` (``make test``), the tests of a module that builds a
    module-scoped fixture (a simulated shop, a demo run) go to one worker, so the fixture is built once
    rather than once per worker. xdist reads the marks in its own hook of the same name, so this one runs
    first."""
    for item in items:
        defs = getattr(item, "_fixtureinfo", None)
        scopes = {d[-1].scope for d in defs.name2fixturedefs.values() if d} if defs else set()
        if "module" in scopes:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


_UNGROUPED = pytest.StashKey[str]()


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """xdist groups the tests by a suffix it writes into their node ids; a pytest whose node ids it cannot
    write (pytest 9.2, pytest-xdist#1386) spreads them silently, and each worker builds every shop again.
    Then every grouped test fails, saying so, instead of the run taking twice as long."""
    if not session.config.getoption("loadgroup", default=False):
        return
    lost = [i.nodeid for i in session.items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid]
    if lost:
        session.config.stash[_UNGROUPED] = (
            f"--dist loadgroup did not group {len(lost)} tests: this pytest-xdist cannot mark node ids under "
            f"pytest {pytest.__version__}; keep pytest < 9.2 (requirements-dev.in)"
        )


def pytest_runtest_setup(item):
    ungrouped = item.config.stash.get(_UNGROUPED, None)
    if ungrouped and item.get_closest_marker("xdist_group"):
        pytest.fail(ungrouped, pytrace=False)
