"""Hook for the warehouse the pipeline reads and writes: a DuckDB file or a PostgreSQL database.

The connection is an ordinary Airflow ``duckdb`` connection (``host`` = path of the database file) or
``postgres`` connection; the hook turns it into a :class:`lifecycle.warehouse.Warehouse`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from lifecycle.warehouse import Warehouse


class WarehouseHook(BaseHook):
    """Open the project's warehouse from an Airflow Connection (default id ``lifecycle_warehouse``)."""

    conn_name_attr = "warehouse_conn_id"
    default_conn_name = "lifecycle_warehouse"
    conn_type = "duckdb"
    hook_name = "Lifecycle warehouse"

    def __init__(self, warehouse_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    def sqlalchemy_url(self) -> str:
        """The SQLAlchemy URL for the connection; fails with the conn id named for other connection types."""
        import sqlalchemy as sa

        conn = self.get_connection(self.warehouse_conn_id)
        if conn.conn_type == "duckdb":
            if not conn.host:
                raise ValueError(f"connection {self.warehouse_conn_id!r}: set host to the DuckDB file path")
            return f"duckdb:///{conn.host}"
        if conn.conn_type in ("postgres", "postgresql"):
            return sa.URL.create(
                "postgresql+psycopg",
                username=conn.login or None,
                password=conn.password or None,
                host=conn.host or "localhost",
                port=conn.port or 5432,
                database=conn.schema or "postgres",
                query={k: str(v) for k, v in conn.extra_dejson.items() if k in ("sslmode", "options")},
            ).render_as_string(hide_password=False)
        raise ValueError(
            f"connection {self.warehouse_conn_id!r} has type {conn.conn_type!r}; use 'duckdb' or 'postgres'"
        )

    def get_conn(self) -> Warehouse:
        from lifecycle.warehouse import Warehouse

        return Warehouse(self.sqlalchemy_url())

    def test_connection(self) -> tuple[bool, str]:
        try:
            with self.get_conn().begin() as conn:
                conn.exec_driver_sql("SELECT 1")
        except Exception as exc:
            return False, str(exc)
        return True, "Connection successfully tested"
