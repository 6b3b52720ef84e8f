"""The simulated shop's world: rows the shop has not produced yet, released into ``shop`` hour by hour.

The demo generator draws the customers' own behaviour (registrations, browsing, orders: what they would do
without any message) for the whole history including the simulated weeks. Everything that lands after the
simulation's start is moved from ``shop.<table>`` to ``sim.future_<table>``; each simulated hour moves the
rows whose ``loaded_at`` has passed back into ``shop``, where the pipeline's ingest finds them as it would
find a real shop's new rows. Reactions to messages add rows to (induced orders) or remove rows from
(prevented orders) ``sim.future_*`` before they are released.

Schema ``sim`` is the simulator's own: the pipeline never reads it (a test greps the SQL and packages).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import sqlalchemy as sa

from lifecycle.demo.generator import SHOP_TABLES
from lifecycle.warehouse import Warehouse

#: The simulator's schema; the SQL files in include/sql/simulate name it as written here.
SIM_SCHEMA = "sim"
#: shop.<table> names without the schema.
TABLES = tuple(name.split(".", 1)[1] for name in SHOP_TABLES)


def future(table: str) -> str:
    return f"{SIM_SCHEMA}.future_{table}"


class World:
    """The not-yet-released rows of the shop; ``next_release`` avoids touching tables with nothing due."""

    def __init__(self, warehouse: Warehouse):
        self.warehouse = warehouse
        self.pending: dict[str, datetime | None] = {}

    def stash_after(self, start: datetime) -> dict[str, int]:
        """Move every shop row with ``loaded_at >= start`` to ``sim.future_*``; returns rows per table."""
        moved = {}
        with self.warehouse.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {SIM_SCHEMA}"))
            for table in TABLES:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {future(table)}"))
                conn.execute(
                    sa.text(
                        f"CREATE TABLE {future(table)} AS SELECT * FROM shop.{table} WHERE loaded_at >= :s"
                    ),
                    {"s": start},
                )
                moved[table] = conn.execute(
                    sa.text(f"DELETE FROM shop.{table} WHERE loaded_at >= :s"), {"s": start}
                ).rowcount
        self.refresh()
        return moved

    def add(self, table: str, frame: pd.DataFrame) -> None:
        """Rows the shop will produce later (their ``loaded_at`` says when), in the shop table's columns."""
        if frame.empty:
            return
        with self.warehouse.begin() as conn:
            columns = [
                r[0] for r in conn.execute(sa.text(f"SELECT * FROM shop.{table} LIMIT 0")).cursor.description
            ]
            self.warehouse.insert_df(conn, future(table), frame[columns])
        first = frame["loaded_at"].min()
        current = self.pending.get(table)
        self.pending[table] = first if current is None else min(current, first)

    def refresh(self) -> None:
        with self.warehouse.begin() as conn:
            for table in TABLES:
                self.pending[table] = conn.execute(
                    sa.text(f"SELECT MIN(loaded_at) FROM {future(table)}")
                ).scalar()

    def release(self, until: datetime) -> int:
        """Move the rows with ``loaded_at < until`` into ``shop``; returns how many."""
        due = [t for t, first in self.pending.items() if first is not None and first < until]
        if not due:
            return 0
        released = 0
        with self.warehouse.begin() as conn:
            for table in due:
                released += conn.execute(
                    sa.text(f"INSERT INTO shop.{table} SELECT * FROM {future(table)} WHERE loaded_at < :u"),
                    {"u": until},
                ).rowcount
                conn.execute(sa.text(f"DELETE FROM {future(table)} WHERE loaded_at < :u"), {"u": until})
                self.pending[table] = conn.execute(
                    sa.text(f"SELECT MIN(loaded_at) FROM {future(table)}")
                ).scalar()
        return released
