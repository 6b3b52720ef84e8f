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


def test_malformed_migration_name_is_refused(tmp_path, monkeypatch):
    from lifecycle import migrations
    from lifecycle.errors import ConfigError

    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "1_bad.sql").write_text("-- x\nSELECT 1;")
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", tmp_path)
    with pytest.raises(ConfigError, match=r"1_bad\.sql"):
        discover("crm")
