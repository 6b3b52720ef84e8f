"""The hourly ingest on real DuckDB and PostgreSQL warehouses, with small hand-built source rows."""

from datetime import datetime, timedelta

import pandas as pd
import pytest
from query_plans import plan_nodes

from lifecycle.ingest import ingest

T0 = datetime(2026, 3, 2, 10, 0)
HOUR = timedelta(hours=1)


def _customer(customer_id, loaded_at, **overrides):
    row = {
        "customer_id": customer_id,
        "email": f"c{customer_id}@example.ru",
        "first_name": "Анна",
        "timezone": "Europe/Moscow",
        "registered_at": loaded_at - timedelta(minutes=5),
        "email_consent": True,
        "push_consent": False,
        "sms_consent": False,
        "updated_at": loaded_at - timedelta(minutes=5),
        "loaded_at": loaded_at,
    }
    return row | overrides


def _event(event_id, customer_id, loaded_at, event_type="view_product", **overrides):
    row = {
        "event_id": event_id,
        "customer_id": customer_id,
        "event_type": event_type,
        "product_id": 100,
        "price": 1000.0,
        "ts": loaded_at - timedelta(seconds=30),
        "loaded_at": loaded_at,
    }
    return row | overrides


def _order(order_id, customer_id, loaded_at, status="paid", total=5000.0, **overrides):
    row = {
        "order_id": order_id,
        "customer_id": customer_id,
        "channel": "online",
        "status": status,
        "total_amount": total,
        "discount_amount": 0.0,
        "ordered_at": loaded_at - timedelta(minutes=2),
        "updated_at": loaded_at - timedelta(minutes=1),
        "loaded_at": loaded_at,
    }
    return row | overrides


def _load(warehouse, **tables):
    with warehouse.begin() as conn:
        for table, rows in tables.items():
            warehouse.insert_df(conn, f"shop.{table}", pd.DataFrame(rows))


def _query(warehouse, sql):
    with warehouse.begin() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql).fetchall()]


@pytest.fixture
def shop(migrated):
    """A catalogue of one product and two customers, loaded before T0."""
    return _with_catalogue(migrated)


@pytest.fixture
def duckdb_shop(duckdb_migrated):
    """:func:`shop` on DuckDB alone."""
    return _with_catalogue(duckdb_migrated)


def _with_catalogue(migrated):
    _load(
        migrated,
        categories=[{"category_id": 1, "name": "Смартфоны", "loaded_at": T0 - 5 * HOUR}],
        products=[
            {
                "product_id": 100,
                "name": "Nova Phone 5",
                "category_id": 1,
                "price": 1000.0,
                "in_stock": True,
                "is_consumable": False,
                "updated_at": T0 - 5 * HOUR,
                "loaded_at": T0 - 5 * HOUR,
            }
        ],
        customers=[_customer(1, T0 - 2 * HOUR), _customer(2, T0 - 2 * HOUR)],
    )
    ingest(migrated, window_end=T0, run_key="run-0", interval_start=T0 - HOUR)
    return migrated


def test_valid_rows_land_in_crm_and_refresh_customer_state(shop):
    _load(
        shop,
        events=[
            _event(1, 1, T0 + timedelta(minutes=5)),
            _event(2, 1, T0 + timedelta(minutes=6), "add_to_cart"),
        ],
        orders=[
            _order(10, 1, T0 + timedelta(minutes=20), total=3000.0),
            _order(11, 1, T0 + timedelta(minutes=30), total=5000.0, discount_amount=500.0),
        ],
        order_items=[
            {
                "order_id": 10,
                "line_no": 1,
                "product_id": 100,
                "quantity": 3,
                "price": 1000.0,
                "discount": 0.0,
                "loaded_at": T0 + timedelta(minutes=20),
            }
        ],
    )
    report = ingest(shop, window_end=T0 + HOUR, run_key="run-1", interval_start=T0)
    figures = {t.source_table: t for t in report.tables}
    assert figures["shop.events"].rows_loaded == 2
    assert figures["shop.orders"].rows_loaded == 2
    assert figures["shop.order_items"].rows_loaded == 1
    assert report.rows_quarantined == 0
    state = _query(
        shop,
        "SELECT customer_id, orders_count, revenue_total, discount_total, avg_check, "
        "last_cart_at IS NOT NULL FROM crm.customer_state ORDER BY customer_id",
    )
    assert state == [(1, 2, 8000.0, 500.0, 4000.0, True), (2, 0, 0.0, 0.0, None, False)]


def test_every_load_refreshes_the_statistics_of_the_tables_read_by_time(postgres_warehouse):
    """The hourly chain queries read the newest events and orders: PostgreSQL's planner must know them, or
    it takes an hour of 100 k events for a few hundred rows. A small load into a large table is analysed."""
    from lifecycle.migrations import migrate

    migrate(postgres_warehouse)
    shop = _with_catalogue(postgres_warehouse)
    _load(shop, events=[_event(n, 1 + n % 2, T0 + timedelta(seconds=n)) for n in range(1, 1001)])
    ingest(shop, window_end=T0 + HOUR, run_key="run-1", interval_start=T0)
    analysed = "SELECT reltuples FROM pg_class WHERE oid = 'crm.{}'::regclass"
    assert _query(shop, analysed.format("events")) == [(1000,)]
    _load(shop, events=[_event(n, 1, T0 + HOUR + timedelta(seconds=n)) for n in range(1001, 1011)])
    ingest(shop, window_end=T0 + 2 * HOUR, run_key="run-2", interval_start=T0 + HOUR)
    assert _query(shop, analysed.format("events")) == [(1010,)]  # 10 rows: 1 %, analysed all the same


def test_the_duplicate_check_probes_the_key_for_each_row_read_not_the_whole_history(postgres_warehouse):
    """An hour re-reads a few hundred thousand rows against tens of millions stored. Joined plainly,
    PostgreSQL hashes every stored event to find which rows read are stored already (20 s at 66 M events);
    its form of the look-up must probe the key for each row read, so that its cost follows the rows read,
    and find what the engine-neutral form finds."""
    from lifecycle import sql
    from lifecycle.ingest import window_params
    from lifecycle.ingest_config import load_settings
    from lifecycle.migrations import migrate
    from lifecycle.warehouse import Warehouse

    migrate(postgres_warehouse)
    shop = _with_catalogue(postgres_warehouse)
    with shop.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO crm.events (event_id, customer_id, event_type, ts, loaded_at) "
            "SELECT g, 1 + g %% 2, 'view_product', TIMESTAMP '2026-01-01' + g * INTERVAL '1 second', "
            "TIMESTAMP '2026-01-01' + g * INTERVAL '1 second' FROM generate_series(1, 200000) AS g"
        )
        # 3,000 rows read: a third of them stored already (a re-read or a duplicate), the rest new
        conn.exec_driver_sql(
            "INSERT INTO shop.events (event_id, customer_id, event_type, product_id, price, ts, loaded_at) "
            "SELECT 199000 + g, 1 + g %% 2, 'view_product', 100, 1000.0, "
            "TIMESTAMP '2026-03-02 10:00' + g * INTERVAL '1 second', "
            "TIMESTAMP '2026-03-02 10:00' + g * INTERVAL '1 second' FROM generate_series(1, 3000) AS g"
        )
    with shop.begin() as conn:
        conn.exec_driver_sql("ANALYZE crm.events")
        conn.exec_driver_sql("ANALYZE shop.events")
    params = window_params(T0, T0 + HOUR, T0 + HOUR, load_settings())
    found = {}
    for dialect in (None, "postgresql"):
        drop, create = sql.statements("ingest/stored_events.sql", dialect)
        with shop.begin() as conn:
            Warehouse.execute(conn, drop)
            if dialect:
                (plan,) = Warehouse.execute(
                    conn, "EXPLAIN (VERBOSE, FORMAT JSON) " + create, **params
                ).scalar_one()
            Warehouse.execute(conn, create, **params)
            found[dialect] = sorted(conn.exec_driver_sql("SELECT event_id, loaded_at FROM stored_events"))
    assert len(found[None]) == 1000
    assert found["postgresql"] == found[None]
    scans = [
        node["Node Type"]
        for node in plan_nodes(plan["Plan"])
        if node.get("Schema") == "crm" and node.get("Relation Name") == "events"
    ]
    assert scans, plan
    assert set(scans) <= {"Index Scan", "Index Only Scan"}, scans


def test_orders_are_stored_in_time_order_whatever_order_they_arrive_in(duckdb_shop):
    """DuckDB skips the row groups outside a query's ordered_at bounds only when crm.orders is stored in
    that order (PostgreSQL reads the bounds through an index, so the test is DuckDB's)."""
    shop = duckdb_shop
    minutes = [50, 5, 30, 15, 40, 1, 25]
    loaded = T0 + timedelta(minutes=55)
    _load(
        shop,
        orders=[
            _order(20 + i, 1 + i % 2, loaded, ordered_at=T0 + timedelta(minutes=m))
            for i, m in enumerate(minutes)
        ],
    )
    ingest(shop, window_end=T0 + HOUR, run_key="run-1", interval_start=T0)
    stored = [r[0] for r in _query(shop, "SELECT ordered_at FROM crm.orders ORDER BY rowid")]
    assert stored == [T0 + timedelta(minutes=m) for m in sorted(minutes)]


@pytest.mark.parametrize(
    ("table", "row", "reason"),
    [
        ("events", _event(1, None, T0 + HOUR / 2), "missing_customer_id"),
        ("events", _event(1, 1, T0 + HOUR / 2, "teleport"), "unknown_event_type"),
        ("events", _event(1, 1, T0 + HOUR / 2, ts=T0 + timedelta(days=3)), "future_timestamp"),
        ("events", _event(1, 1, T0 + HOUR / 2, ts=datetime(1970, 1, 1)), "absurd_timestamp"),
        ("events", _event(1, 1, T0 + HOUR / 2, price=-5.0), "negative_price"),
        ("events", _event(1, 1, T0 + HOUR / 2, product_id=999), "unknown_product"),
        ("events", _event(1, 777, T0 + HOUR / 2), "unknown_customer"),
        ("orders", _order(10, 1, T0 + HOUR / 2, status="lost"), "unknown_status"),
        ("orders", _order(10, 1, T0 + HOUR / 2, total=-1.0), "negative_amount"),
        ("orders", _order(10, 1, T0 + HOUR / 2, channel="telepathy"), "unknown_channel"),
        ("customers", _customer(3, T0 + HOUR / 2, timezone="Mars/Olympus"), "unknown_timezone"),
        ("customers", _customer(None, T0 + HOUR / 2), "missing_customer_id"),
        (
            "order_items",
            {
                "order_id": 55,
                "line_no": 1,
                "product_id": 100,
                "quantity": 1,
                "price": 1.0,
                "loaded_at": T0 + HOUR / 2,
            },
            "unknown_order",
        ),
    ],
)
def test_a_bad_row_is_quarantined_with_its_reason_and_counted(shop, table, row, reason):
    # Rows old enough that a missing reference can no longer be waited for (no grace).
    _load(shop, **{table: [row]})
    report = ingest(shop, window_end=T0 + HOUR, run_key="run-1", interval_start=T0, late_grace=timedelta(0))
    figures = {t.source_table: t for t in report.tables}[f"shop.{table}"]
    assert (figures.rows_read, figures.rows_loaded, figures.rows_quarantined) == (1, 0, 1)
    assert _query(shop, "SELECT source_table, reason FROM crm.quarantine") == [(f"shop.{table}", reason)]


def test_duplicates_are_quarantined_once_each_and_the_original_loaded(shop):
    original = _event(1, 1, T0 + timedelta(minutes=5))
    later_copy = original | {"loaded_at": T0 + timedelta(minutes=40)}
    _load(shop, events=[original, original, later_copy])
    ingest(shop, window_end=T0 + HOUR, run_key="run-1", interval_start=T0)
    assert _query(shop, "SELECT COUNT(*) FROM crm.events") == [(1,)]
    assert _query(shop, "SELECT reason, COUNT(*) FROM crm.quarantine GROUP BY reason") == [("duplicate", 2)]


def _snapshot(warehouse):
    tables = ("customers", "events", "orders", "order_items", "customer_state", "quarantine", "watermarks")
    return {t: sorted(_query(warehouse, f"SELECT * FROM crm.{t}"), key=repr) for t in tables}


def test_rerunning_an_interval_changes_nothing(shop):
    _load(
        shop,
        events=[_event(i, 1 + i % 2, T0 + timedelta(minutes=i)) for i in range(1, 30)]
        + [_event(99, 1, T0 + HOUR / 2, "teleport")],
        orders=[_order(10, 2, T0 + HOUR / 2)],
    )
    fixed_now = T0 + 2 * HOUR
    ingest(shop, window_end=T0 + HOUR, run_key="run-1", interval_start=T0, now=fixed_now)
    first = _snapshot(shop)
    ingest(shop, window_end=T0 + HOUR, run_key="run-1", interval_start=T0, now=fixed_now)
    assert _snapshot(shop) == first
    # A backfill of the same interval after later runs leaves the tables as they were too.
    ingest(shop, window_end=T0 + 2 * HOUR, run_key="run-2", interval_start=T0 + HOUR, now=fixed_now)
    after_second = _snapshot(shop)
    ingest(shop, window_end=T0 + HOUR, run_key="run-1", interval_start=T0, now=fixed_now)
    assert _snapshot(shop) == after_second


def test_late_rows_and_missed_runs_are_picked_up_through_the_watermark(shop):
    # An offline order from yesterday lands now: an old business time, a new loaded_at.
    _load(shop, orders=[_order(20, 2, T0 + HOUR / 2, channel="offline", ordered_at=T0 - timedelta(days=1))])
    # Rows of an hour whose run never happened, then a run for a later hour only.
    _load(shop, events=[_event(5, 1, T0 + 90 * timedelta(minutes=1))])
    report = ingest(shop, window_end=T0 + 3 * HOUR, run_key="run-3", interval_start=T0 + 2 * HOUR)
    assert report.window_start <= T0
    assert _query(shop, "SELECT order_id, channel FROM crm.orders") == [(20, "offline")]
    assert _query(shop, "SELECT event_id FROM crm.events") == [(5,)]
    assert _query(shop, "SELECT MIN(loaded_through) FROM crm.watermarks") == [(T0 + 3 * HOUR,)]


def test_a_row_whose_customer_arrives_later_waits_then_loads(shop):
    _load(shop, events=[_event(7, 3, T0 + timedelta(minutes=50))])
    first = ingest(shop, window_end=T0 + HOUR, run_key="run-1", interval_start=T0)
    events = {t.source_table: t for t in first.tables}["shop.events"]
    assert (events.rows_loaded, events.rows_deferred, events.rows_quarantined) == (0, 1, 0)
    _load(shop, customers=[_customer(3, T0 + timedelta(minutes=70))])
    ingest(shop, window_end=T0 + 2 * HOUR, run_key="run-2", interval_start=T0 + HOUR)
    assert _query(shop, "SELECT event_id, customer_id FROM crm.events") == [(7, 3)]
    assert _query(shop, "SELECT COUNT(*) FROM crm.quarantine") == [(0,)]


def test_a_row_whose_customer_never_arrives_is_quarantined_after_the_grace(shop):
    _load(shop, events=[_event(7, 3, T0 + timedelta(minutes=50))])
    for hour in range(1, 6):
        ingest(
            shop, window_end=T0 + hour * HOUR, run_key=f"run-{hour}", interval_start=T0 + (hour - 1) * HOUR
        )
    assert _query(shop, "SELECT source_key, reason FROM crm.quarantine") == [("7#1", "unknown_customer")]


def test_a_return_updates_the_order_and_the_customer_state(shop):
    _load(shop, orders=[_order(10, 1, T0 + HOUR / 2, total=4000.0)])
    ingest(shop, window_end=T0 + HOUR, run_key="run-1", interval_start=T0)
    assert _query(
        shop, "SELECT orders_count, revenue_total FROM crm.customer_state WHERE customer_id = 1"
    ) == [(1, 4000.0)]
    _load(shop, orders=[_order(10, 1, T0 + 90 * timedelta(minutes=1), status="returned", total=4000.0)])
    ingest(shop, window_end=T0 + 2 * HOUR, run_key="run-2", interval_start=T0 + HOUR)
    assert _query(shop, "SELECT status FROM crm.orders") == [("returned",)]
    assert _query(
        shop,
        "SELECT orders_count, returned_orders_count, revenue_total FROM crm.customer_state "
        "WHERE customer_id = 1",
    ) == [(0, 1, 0.0)]


def test_a_table_with_nothing_in_the_window_stops_after_staging(shop):
    """An hour in which only events arrive: the other tables run their two staging statements and nothing
    else (their quarantine, load and count statements would only read an empty stage), and report zeros."""
    import sqlalchemy as sa

    _load(shop, events=[_event(1, 1, T0 + timedelta(minutes=5)), _event(2, 1, T0 + timedelta(minutes=6))])
    executed: list[str] = []

    def _record(conn, cursor, statement, *_args):
        executed.append(statement)

    sa.event.listen(shop.engine, "before_cursor_execute", _record)
    try:
        report = ingest(shop, window_end=T0 + HOUR, run_key="run-1", interval_start=T0)
    finally:
        sa.event.remove(shop.engine, "before_cursor_execute", _record)
    figures = {t.source_table: t for t in report.tables}
    assert (figures["shop.events"].rows_read, figures["shop.events"].rows_loaded) == (2, 2)
    # The customers of the fixture are read again (they lie within the late grace); the catalogue is not.
    empty = [name for name, table in figures.items() if table.rows_read == 0]
    assert len(empty) >= 9, figures
    for name in empty:
        table = figures[name]
        assert (table.rows_loaded, table.rows_quarantined, table.rows_deferred) == (0, 0, 0), name
        stage = f"stage_{name.removeprefix('shop.')}"
        assert not any(stage in s and s.lstrip().upper().startswith("INSERT") for s in executed), name
    loads = [s for s in executed if s.lstrip().upper().startswith("INSERT INTO CRM.EVENTS")]
    assert loads
    assert all("stage_events" in s for s in loads)
    assert _query(shop, "SELECT COUNT(*) FROM crm.events") == [(2,)]


def test_every_statement_after_staging_only_reads_the_stage():
    """What lets an empty stage end a table's file early: each later statement is an INSERT … SELECT … FROM
    the stage (or the closing count), so on an empty stage it writes nothing. An edit that adds a statement
    reading anything else fails here instead of being skipped in a quiet hour."""
    import re

    from lifecycle import sql
    from lifecycle.ingest import SOURCE_TABLES

    for table in SOURCE_TABLES:
        statements = sql.statements(f"ingest/{table}.sql")
        created = [
            i for i, s in enumerate(statements) if re.match(rf"CREATE\s+TEMP\s+TABLE\s+stage_{table}\s+AS", s)
        ]
        assert len(created) == 1, table
        for statement in statements[created[0] + 1 :]:
            sources = set(re.findall(r"\b(?:FROM|JOIN)\s+([A-Za-z_.]+)", statement))
            assert sources == {f"stage_{table}"}, (table, statement[:80])
            assert re.match(r"(INSERT\s+INTO\s+[a-z_.]+\b.*?\bSELECT\b|SELECT\b)", statement, re.S), (
                table,
                statement[:80],
            )
