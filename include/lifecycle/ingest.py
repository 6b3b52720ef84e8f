"""Incremental, idempotent ingest of the retailer's source tables (schema ``shop``) into ``crm``.

One run processes the rows whose ``loaded_at`` falls in a window that ends at the run's interval end and
starts at the earlier of the interval start and the stored watermark, minus a grace period:

* missed runs are caught up (the window reaches back to the watermark);
* rows that land late, with an old business time but a new ``loaded_at``, are picked up;
* a row whose customer, order or product has not arrived yet is *deferred* while it is younger than the
  grace period (the next window still covers it) and quarantined as ``unknown_*`` after that;
* re-running or backfilling an interval gives the same tables: every write is keyed (upsert or
  insert-if-absent), and the run's figures are stored under its run key.

Every rejected row lands in ``crm.quarantine`` with a reason code and is counted; nothing is dropped
silently and a bad row never fails the run. All steps of a run commit in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lifecycle.warehouse import Warehouse

#: Source tables in dependency order: a table is validated against those loaded before it.
SOURCE_TABLES = (
    "categories",
    "products",
    "product_accessories",
    "customers",
    "push_tokens",
    "price_changes",
    "stock_changes",
    "content_mailings",
    "content_mailing_recipients",
    "orders",
    "order_items",
    "events",
)
#: The window start used when a table has never been ingested.
BEGINNING_OF_TIME = datetime(1900, 1, 1)
DEFAULT_LATE_GRACE = timedelta(hours=3)


@dataclass(frozen=True)
class TableFigures:
    source_table: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_deferred: int


@dataclass
class IngestReport:
    run_key: str
    window_start: datetime
    window_end: datetime
    tables: list[TableFigures] = field(default_factory=list)
    customers_refreshed: int = 0

    @property
    def rows_quarantined(self) -> int:
        return sum(t.rows_quarantined for t in self.tables)

    def as_dict(self) -> dict:
        return {
            "run_key": self.run_key,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "customers_refreshed": self.customers_refreshed,
            "tables": [t.__dict__ for t in self.tables],
        }


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def ingest(
    warehouse: Warehouse,
    window_end: datetime,
    run_key: str,
    interval_start: datetime | None = None,
    late_grace: timedelta = DEFAULT_LATE_GRACE,
    now: datetime | None = None,
) -> IngestReport:
    """Ingest every source table up to ``window_end`` (exclusive) in one transaction."""
    window_end = _naive_utc(window_end)
    now = _naive_utc(now or datetime.now(UTC))
    with warehouse.begin() as conn:
        watermarks = {
            row["source_table"]: row["loaded_through"]
            for row in warehouse.run(conn, "ingest/watermark.sql").mappings()
        }
        start = _window_start(watermarks, interval_start, late_grace)
        report = IngestReport(run_key=run_key, window_start=start, window_end=window_end)
        params = {
            "window_start": start,
            "window_end": window_end,
            "defer_after": window_end - late_grace,
            "now": now,
        }
        warehouse.run_steps(conn, "ingest/begin.sql")
        for table in SOURCE_TABLES:
            (counts,) = warehouse.run_steps(conn, f"ingest/{table}.sql", **params)
            figures = TableFigures(f"shop.{table}", **{k: int(v) for k, v in counts.items()})
            report.tables.append(figures)
            warehouse.run_steps(
                conn,
                "ingest/record_run.sql",
                run_key=run_key,
                **figures.__dict__,
                window_start=start,
                window_end=window_end,
                now=now,
            )
        report.customers_refreshed = warehouse.run(
            conn, "ingest/refresh_customer_state.sql", now=now
        ).rowcount
    return report


def _window_start(watermarks: dict, interval_start: datetime | None, late_grace: timedelta) -> datetime:
    """The earliest loaded_at this run must read (see the module docstring)."""
    if len(watermarks) < len(SOURCE_TABLES):
        return BEGINNING_OF_TIME
    start = min(watermarks.values())
    if interval_start is not None:
        start = min(start, _naive_utc(interval_start))
    return max(start - late_grace, BEGINNING_OF_TIME)
