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
silently and a bad row never fails the run. Every value class is checked at the door (non-finite and
out-of-range numbers, control characters, over-long strings, timestamps in the future or before the earliest
plausible business date; limits in ``include/config/ingest.yaml``, docs/ingest.md). All steps of a run commit
in one transaction.

The quality gate: when the quarantined rows exceed a set share of the rows read from one table, the run
raises :class:`QuarantineShareError` *after* that transaction committed, so the valid rows are loaded and the
watermarks moved on (a retry re-reads the same window and changes nothing) and the failure is still loud.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from lifecycle.errors import LifecycleError
from lifecycle.ingest_config import LATE_GRACE, IngestSettings, QualityGate, load_settings
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

#: Tables whose newest rows the hourly chain queries read by time: their statistics are refreshed after every
#: load (see Warehouse.refresh_statistics).
READ_BY_TIME = ("crm.events", "crm.orders")
#: Tables the ingest updates in place (upserts of newer versions, the customers' state, the watermarks), where
#: a catch-up's steps leave dead row versions on PostgreSQL; the rest are only appended to.
UPDATED_IN_PLACE = (
    "crm.categories",
    "crm.products",
    "crm.customers",
    "crm.push_tokens",
    "crm.content_mailings",
    "crm.orders",
    "crm.customer_state",
    "crm.watermarks",
)
#: The figures the closing statement of each table's file returns.
_COUNTS = ("rows_read", "rows_loaded", "rows_quarantined", "rows_deferred")

log = logging.getLogger(__name__)

#: The window start used when a table has never been ingested.
BEGINNING_OF_TIME = datetime(1900, 1, 1)


@dataclass(frozen=True)
class TableFigures:
    source_table: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_deferred: int


@dataclass(frozen=True)
class GateBreach:
    """A table whose quarantined share of the rows read is above the quality gate's limit."""

    source_table: str
    rows_read: int
    rows_quarantined: int
    limit: float
    top_reasons: tuple[tuple[str, int], ...] = ()

    @property
    def share(self) -> float:
        return self.rows_quarantined / self.rows_read

    def describe(self) -> str:
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.top_reasons) or "see crm.quarantine"
        return (
            f"{self.source_table}: {self.share:.1%} of the {self.rows_read} rows read were quarantined "
            f"({self.rows_quarantined}; limit {self.limit:.0%}); top reasons: {reasons}"
        )


@dataclass
class IngestReport:
    run_key: str
    window_start: datetime
    window_end: datetime
    tables: list[TableFigures] = field(default_factory=list)
    customers_refreshed: int = 0
    gate_breaches: list[GateBreach] = field(default_factory=list)

    @property
    def rows_quarantined(self) -> int:
        return sum(t.rows_quarantined for t in self.tables)

    def summary(self) -> str:
        """One line a person can read: the window, rows read, loaded, quarantined and deferred."""
        read = sum(t.rows_read for t in self.tables)
        loaded = sum(t.rows_loaded for t in self.tables)
        deferred = sum(t.rows_deferred for t in self.tables)
        busiest = sorted((t for t in self.tables if t.rows_quarantined), key=lambda t: -t.rows_quarantined)
        where = ", ".join(f"{t.source_table} {t.rows_quarantined}" for t in busiest[:3])
        text = (
            f"ingest {self.window_start:%Y-%m-%d %H:%M} to {self.window_end:%Y-%m-%d %H:%M} UTC: read {read} "
            f"rows from {len(self.tables)} tables, loaded {loaded}, quarantined {self.rows_quarantined}"
            + (f" ({where})" if where else "")
            + f", deferred {deferred}; customer state refreshed for {self.customers_refreshed} customers"
        )
        if self.gate_breaches:
            text += f"; quality gate breached by {len(self.gate_breaches)} table(s)"
        return text

    def as_dict(self) -> dict:
        return {
            "run_key": self.run_key,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "customers_refreshed": self.customers_refreshed,
            "tables": [t.__dict__ for t in self.tables],
            "gate_breaches": [breach.describe() for breach in self.gate_breaches],
        }


class QuarantineShareError(LifecycleError):
    """The run loaded its valid rows but quarantined more than the allowed share of a table."""

    def __init__(self, report: IngestReport):
        self.report = report
        tables = "; ".join(breach.describe() for breach in report.gate_breaches)
        super().__init__(
            f"ingest run {report.run_key} quarantined too much: {tables}. The valid rows were loaded and the "
            "watermarks advanced; fix the source rows (crm.quarantine has each row's key, reason and detail) "
            "or, if this is expected, quality_gate.max_quarantined_share in include/config/ingest.yaml"
        )


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def ingest(
    warehouse: Warehouse,
    window_end: datetime,
    run_key: str,
    interval_start: datetime | None = None,
    late_grace: timedelta = LATE_GRACE,
    now: datetime | None = None,
    settings: IngestSettings | None = None,
) -> IngestReport:
    """Ingest every source table up to ``window_end`` (exclusive) in one transaction.

    Raises :class:`QuarantineShareError` after committing when the quality gate is breached.
    """
    settings = settings or load_settings()
    started = time.monotonic()
    window_end = _naive_utc(window_end)
    now = _naive_utc(now or datetime.now(UTC))
    with warehouse.begin() as conn:
        start = _window_start(_watermarks(warehouse, conn), interval_start, late_grace)
        report = IngestReport(run_key=run_key, window_start=start, window_end=window_end)
        params = window_params(start, window_end, now, settings, late_grace)
        warehouse.run_steps(conn, "ingest/begin.sql")
        log.info("ingest %s: window %s to %s UTC", run_key, start, window_end)
        for table in SOURCE_TABLES:
            table_started = time.monotonic()
            if table == "events":
                # the stored copies of the window's events, looked up in the form that suits the engine
                warehouse.run_steps(conn, "ingest/stored_events.sql", **params)
            # A table with no row in the window (most tables, most hours) stops after staging: every later
            # statement of its file reads only the stage.
            found = warehouse.run_steps(conn, f"ingest/{table}.sql", until_empty=f"stage_{table}", **params)
            counts = found[0] if found else dict.fromkeys(_COUNTS, 0)
            figures = TableFigures(f"shop.{table}", **{k: int(v) for k, v in counts.items()})
            log.info(
                "%s: read %d, loaded %d, quarantined %d, deferred %d (%.1f s)",
                figures.source_table,
                figures.rows_read,
                figures.rows_loaded,
                figures.rows_quarantined,
                figures.rows_deferred,
                time.monotonic() - table_started,
            )
            report.tables.append(figures)
        # Every table's figures and watermark in two statements (in the same transaction as the loads).
        warehouse.run_steps(
            conn,
            "ingest/record_runs.sql",
            run_key=run_key,
            window_start=start,
            window_end=window_end,
            now=now,
            **{
                "source_tables": [t.source_table for t in report.tables],
                **{
                    column: [getattr(t, column) for t in report.tables]
                    for column in ("rows_read", "rows_loaded", "rows_quarantined", "rows_deferred")
                },
            },
        )
        warehouse.refresh_statistics(
            conn,
            {"crm." + t.source_table.split(".", 1)[1]: t.rows_loaded for t in report.tables},
            read_by_time=READ_BY_TIME,
        )
        refresh_started = time.monotonic()
        (refreshed,) = warehouse.run_steps(conn, "ingest/refresh_customer_state.sql", now=now)
        report.customers_refreshed = refreshed["refreshed"]
        warehouse.refresh_statistics(conn, {"crm.customer_state": report.customers_refreshed})
        log.info(
            "customer state refreshed for %d customers (%.1f s)",
            report.customers_refreshed,
            time.monotonic() - refresh_started,
        )
        report.gate_breaches = _gate_breaches(report.tables, settings.quality_gate)
        if report.gate_breaches:
            reasons = warehouse.run(conn, "ingest/window_reasons.sql", **params).mappings().all()
            report.gate_breaches = [_with_reasons(breach, reasons) for breach in report.gate_breaches]
    log.info("%s in %.1f s", report.summary(), time.monotonic() - started)
    if report.gate_breaches:
        raise QuarantineShareError(report)
    return report


def ingest_history(
    warehouse: Warehouse,
    until: datetime,
    run_key: str,
    step: timedelta | None = None,
    now: datetime | None = None,
    settings: IngestSettings | None = None,
) -> list[IngestReport]:
    """Catch the warehouse up to ``until`` in consecutive windows of ``step``, each an ordinary run of
    :func:`ingest` committed on its own, from the watermark (or, before any ingest, from the earliest
    ``loaded_at`` of any source row): for loading a retailer's whole history before the hourly runs start.
    ``step``: the settings' ``catch_up_step`` (30 days) unless given.

    One window over years holds every row, every index entry and every staged table in one transaction:
    DuckDB keeps a primary key's index in memory while rows go in (it cannot spill), and the project's
    DuckDB connection gives way at its memory limit. A step's transaction holds one step's rows; between
    steps the file is let go, and its indexes with it. A catch-up stopped half-way (killed, or a step's
    quality gate breached) leaves its committed steps and resumes from their watermark; every step is keyed
    as the hourly runs are, so a step read again changes nothing. On PostgreSQL the row versions that the
    steps' updates left behind are vacuumed at the end (:data:`UPDATED_IN_PLACE`). Returns each
    step's report, oldest first; a step's :class:`QuarantineShareError` stops the catch-up after that step
    committed.
    """
    settings = settings or load_settings()
    step = step or settings.catch_up_step
    if step <= timedelta(0):
        raise ValueError(f"the step of a catch-up must be positive, not {step}")
    until = _naive_utc(until)
    with warehouse.begin() as conn:
        start = _window_start(_watermarks(warehouse, conn), None, LATE_GRACE)
        if start == BEGINNING_OF_TIME:
            earliest = warehouse.run(
                conn, "ingest/earliest_loaded.sql", window_start=start, window_end=until
            ).scalar()
            start = earliest if earliest is not None else until
    ends: list[datetime] = []
    end = datetime.combine(start.date(), datetime.min.time()) + step  # steps end on the day's grid
    while end <= start:  # a step shorter than a day: its first end after the start
        end += step
    while end < until:
        ends.append(end)
        end += step
    ends.append(until)
    reports = []
    for end in ends:
        log.info("catch-up %s: step to %s UTC (%d of %d)", run_key, end, len(reports) + 1, len(ends))
        key = run_key if end == until else f"{run_key}-to-{end:%Y%m%dT%H%M}"
        reports.append(ingest(warehouse, window_end=end, run_key=key, now=now, settings=settings))
    if len(reports) > 1:
        warehouse.vacuum(UPDATED_IN_PLACE)
    return reports


def window_params(
    start: datetime,
    window_end: datetime,
    now: datetime,
    settings: IngestSettings,
    late_grace: timedelta = LATE_GRACE,
) -> dict:
    """The parameters the ingest SQL files bind for one window (naive UTC datetimes)."""
    return {
        "window_start": start,
        "window_end": window_end,
        "defer_after": window_end - late_grace,
        "now": now,
        # loaded_at beyond the later of the clock and the window end (plus the skew) lies in the future.
        "loaded_at_limit": max(now, window_end) + settings.clock_skew,
        **settings.sql_params(),
    }


def _gate_breaches(tables: list[TableFigures], gate: QualityGate) -> list[GateBreach]:
    return [
        GateBreach(t.source_table, t.rows_read, t.rows_quarantined, gate.max_quarantined_share)
        for t in tables
        if t.rows_read >= gate.min_rows and t.rows_quarantined > gate.max_quarantined_share * t.rows_read
    ]


def _with_reasons(breach: GateBreach, reasons: list, top: int = 3) -> GateBreach:
    mine = [(r["reason"], int(r["row_count"])) for r in reasons if r["source_table"] == breach.source_table]
    return replace(breach, top_reasons=tuple(mine[:top]))


def _watermarks(warehouse: Warehouse, conn) -> dict[str, datetime]:
    """How far each source table has been loaded (its ``loaded_at`` watermark)."""
    return {
        row["source_table"]: row["loaded_through"]
        for row in warehouse.run(conn, "ingest/watermark.sql").mappings()
    }


def _window_start(watermarks: dict, interval_start: datetime | None, late_grace: timedelta) -> datetime:
    """The earliest loaded_at this run must read (see the module docstring)."""
    if len(watermarks) < len(SOURCE_TABLES):
        return BEGINNING_OF_TIME
    start = min(watermarks.values())
    if interval_start is not None:
        start = min(start, _naive_utc(interval_start))
    return max(start - late_grace, BEGINNING_OF_TIME)


class NoPurchasesError(LifecycleError):
    """A command that needs purchases found none; the message says what is missing and what to do."""


def no_purchases_error(warehouse: Warehouse, up_to: date | None = None) -> NoPurchasesError:
    """Why nothing was purchased (up to the end of ``up_to``): no ingest ever ran, or it loaded nothing."""
    (history,) = warehouse.fetch_all("ingest/history.sql")
    if not history["runs"]:
        return NoPurchasesError(
            f"no ingest has ever run on {warehouse!r} (crm.ingest_runs is empty): run the lifecycle_ingest "
            "DAG first"
        )
    ran = f"the ingest ran {history['runs']} time(s), last finished at {history['last_finished_at']}"
    if history["purchases_stored"] and up_to is not None:
        return NoPurchasesError(
            f"no purchase up to the end of {up_to}: {ran}, and the first purchase it loaded is on "
            f"{history['first_purchase']:%Y-%m-%d}; choose a later date"
        )
    reasons = ", ".join(
        f"{row['reason']} {row['row_count']}"
        for row in warehouse.fetch_all("ingest/table_reasons.sql", source_table="shop.orders")
    )
    return NoPurchasesError(
        f"{ran}, but loaded no purchases: crm.orders holds {history['orders_stored']} order(s), none with a "
        f"status that counts as a purchase (crm.ref_order_statuses); the runs read {history['orders_read']} "
        f"row(s) of shop.orders and quarantined {history['orders_quarantined']}"
        + (f" (top reasons: {reasons}; see crm.quarantine)" if reasons else "")
    )
