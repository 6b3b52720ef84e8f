"""Fixtures of the chain tests: one migrated warehouse per engine per module, emptied before each test."""

import os
import uuid

import pytest
from chain_helpers import PG_ADMIN_URL, SCENARIO_TABLES, load_catalogue


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def module_warehouse(request, tmp_path_factory):
    import sqlalchemy as sa

    from lifecycle.migrations import migrate
    from lifecycle.warehouse import Warehouse

    if request.param == "duckdb":
        warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('chains') / 'warehouse.duckdb'}")
        migrate(warehouse)
        yield warehouse
        return
    admin = sa.create_engine(sa.make_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    name = f"lifecycle_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"PostgreSQL is required in CI: {exc.orig}", pytrace=False)
        pytest.skip("PostgreSQL unreachable")
    warehouse = Warehouse(sa.make_url(PG_ADMIN_URL).set(database=name))
    migrate(warehouse)
    try:
        yield warehouse
    finally:
        warehouse.engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def wh(module_warehouse, monkeypatch):
    """The module's warehouse, emptied, with the test catalogue; templates need not exist yet."""
    monkeypatch.setenv("LIFECYCLE_CHECK_TEMPLATES", "0")
    with module_warehouse.begin() as conn:
        for table in SCENARIO_TABLES:
            conn.exec_driver_sql(f"DELETE FROM {table}")
    load_catalogue(module_warehouse)
    return module_warehouse
