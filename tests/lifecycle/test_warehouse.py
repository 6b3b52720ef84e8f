"""The warehouse refuses a DuckDB file whose name clashes with a schema of the project's SQL."""

import pytest

from lifecycle.errors import WarehouseError
from lifecycle.warehouse import PROJECT_SCHEMAS, Warehouse


@pytest.mark.parametrize("stem", PROJECT_SCHEMAS)
def test_a_file_named_like_a_schema_is_refused_with_the_reason(tmp_path, stem):
    path = tmp_path / f"{stem}.duckdb"
    with pytest.raises(WarehouseError, match=rf"{stem}\.duckdb.*clashes with the schema '{stem}'"):
        Warehouse(f"duckdb:///{path}")
    assert not path.exists()


def test_the_clash_is_real_and_another_name_works(tmp_path):
    import duckdb

    clashing = duckdb.connect(str(tmp_path / "crm.duckdb"))
    clashing.execute("CREATE SCHEMA crm")
    with pytest.raises(duckdb.BinderException, match="Ambiguous reference"):
        clashing.execute("CREATE TABLE crm.t (x INTEGER)")
    clashing.close()

    warehouse = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    with warehouse.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA crm")
        conn.exec_driver_sql("CREATE TABLE crm.t (x INTEGER)")
    warehouse.engine.dispose()
