"""Short-lived, read-only access to the warehouse for the pages.

One connection per page view, closed at once. DuckDB allows one writing process per file: the page opens
the file read-only, and while a task holds it the open is retried briefly before the page says so
(HTTP 503 with Retry-After) instead of making the browser wait for the task.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

WAREHOUSE_CONN_ID = "lifecycle_warehouse"
#: How long a page waits for a task to release the DuckDB file.
LOCK_WAIT_S = 8.0


class WarehouseBusy(Exception):
    """A task holds the DuckDB file for longer than a page should wait."""


class PageReader:
    """``fetch_all(sql_file, **params)`` over one open connection: what lifecycle.reports.read needs."""

    def __init__(self, warehouse, conn):
        self.warehouse, self.conn = warehouse, conn

    @property
    def dialect(self) -> str:
        return self.warehouse.dialect

    def fetch_all(self, name: str, /, **params: Any) -> list[Mapping[str, Any]]:
        return [dict(row) for row in self.warehouse.run(self.conn, name, **params).mappings()]


def warehouse_url(conn_id: str = WAREHOUSE_CONN_ID, read_only: bool = True) -> str:
    """The connection's SQLAlchemy URL, read from the api-server's secrets (environment, then metadata DB).
    A DuckDB file is opened read-only unless ``read_only`` is False (the audience preview writes inside a
    transaction it rolls back)."""
    from airflow.models.connection import Connection

    from lifecycle_providers.hooks.warehouse import WarehouseHook

    class _ServerHook(WarehouseHook):
        @classmethod
        def get_connection(cls, conn_id: str):
            return Connection.get_connection_from_secrets(conn_id)

    url = _ServerHook(conn_id).sqlalchemy_url()
    return f"{url}?access_mode=read_only" if read_only and url.startswith("duckdb:") else url


@contextmanager
def reading(url: str, wait_s: float = LOCK_WAIT_S) -> Iterator[PageReader]:
    """A reader on a fresh connection inside a read transaction, closed on exit."""
    import sqlalchemy as sa

    from lifecycle.warehouse import Warehouse

    warehouse = Warehouse(url)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn = warehouse.engine.connect()
            break
        except sa.exc.OperationalError as exc:
            if warehouse.dialect == "duckdb" and "lock" in str(exc).lower():
                if time.monotonic() < deadline:
                    time.sleep(0.25)
                    continue
                raise WarehouseBusy(str(exc.orig)) from exc
            raise
    try:
        with conn.begin():
            yield PageReader(warehouse, conn)
    finally:
        conn.close()
        warehouse.engine.dispose()
