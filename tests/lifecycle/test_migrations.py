import pytest

from lifecycle.migrations import MIGRATION_SETS, discover, migrate


def _tables(warehouse, schema):
    with warehouse.begin() as conn:
        rows = conn.exec_driver_sql(
            "SELECT table_name FROM information_schema.tables "
            f"WHERE table_schema = '{schema}' AND table_type = 'BASE TABLE'"
        ).fetchall()
    return {r[0] for r in rows}


def test_migrations_create_both_schemas_and_are_idempotent(warehouse):
    first = migrate(warehouse)
    expected = [
        f"{m.migration_set}/{m.version}_{m.name}"
        for s in MIGRATION_SETS
        for m in discover(s)
        if m.applies_to(warehouse.dialect)
    ]
    assert first == expected
    assert migrate(warehouse) == []
    assert {"customers", "events", "orders", "order_items", "products", "content_mailings"} <= _tables(
        warehouse, "shop"
    )
    assert {"customer_state", "quarantine", "watermarks", "schema_migrations"} <= _tables(warehouse, "crm")


def test_dialect_specific_migrations_only_run_on_their_engine(warehouse):
    applied = migrate(warehouse)
    pg_only = [a for a in applied if "indexes" in a]
    assert bool(pg_only) == (warehouse.dialect == "postgresql")
    duckdb_only = [a for a in applied if "time_order" in a]
    assert bool(duckdb_only) == (warehouse.dialect == "duckdb")


def test_malformed_migration_name_is_refused(tmp_path, monkeypatch):
    from lifecycle import migrations
    from lifecycle.errors import ConfigError

    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "1_bad.sql").write_text("-- x\nSELECT 1;")
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", tmp_path)
    with pytest.raises(ConfigError, match=r"1_bad\.sql"):
        discover("crm")


def test_orders_are_rewritten_in_time_order_with_every_row_kept(duckdb_migrated):
    """crm/0023: DuckDB skips the row groups outside a query's ordered_at bounds only when crm.orders is
    stored in that order; orders loaded before the ingest kept that order are rewritten so, unchanged."""
    import random
    from datetime import datetime, timedelta

    import pandas as pd

    from lifecycle.paths import MIGRATIONS_DIR

    rng = random.Random(23)
    start = datetime(2025, 1, 1)
    ids = list(range(1, 301))
    rng.shuffle(ids)
    orders = pd.DataFrame(
        [
            {
                "order_id": order_id,
                "customer_id": rng.randint(1, 40),
                "channel": rng.choice(["online", "offline"]),
                "store_id": None,
                "status": rng.choice(["paid", "delivered", "returned"]),
                "total_amount": float(rng.randint(100, 9000)),
                "discount_amount": 0.0,
                "promo_code": rng.choice([None, "SALE"]),
                "ordered_at": start + timedelta(minutes=rng.randint(0, 500_000)),
                "delivered_at": None,
                "updated_at": start,
                "loaded_at": start,
            }
            for order_id in ids
        ]
    )
    warehouse = duckdb_migrated

    def stored(order_by):
        with warehouse.begin() as conn:
            return conn.exec_driver_sql(f"SELECT * FROM crm.orders ORDER BY {order_by}").fetchall()

    with warehouse.begin() as conn:
        warehouse.insert_df(conn, "crm.orders", orders)
    before = stored("order_id")
    assert [r.ordered_at for r in stored("rowid")] != sorted(orders["ordered_at"])
    script = (MIGRATIONS_DIR / "crm" / "0023_orders_in_time_order.duckdb.sql").read_text(encoding="utf-8")
    with warehouse.begin() as conn:
        warehouse.run_script(conn, script)
    assert stored("order_id") == before
    in_storage = [r.ordered_at for r in stored("rowid")]
    assert in_storage == sorted(in_storage)
