"""`Warehouse.query_frame` gives, on both engines and whichever way DuckDB hands the result over, the very
frame pandas builds from the rows as Python tuples: same values, NULLs, dtypes and column order."""

from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

# Every column type the project's queries return, each with a value and a NULL; `many` repeats the rows so
# that DuckDB hands the result over in several Arrow chunks.
TYPED = """
SELECT
    b, i, s_int, big, dec, dbl, real_, bo, txt, dt, ts, sum_int, cnt, all_null, no_null_int, no_null_bool
FROM (
    VALUES
        (1::BIGINT, 7::INTEGER, 3::SMALLINT, 9007199254740993::BIGINT, 12.34::DECIMAL(18, 2), 1.5::DOUBLE,
         2.25::REAL, TRUE, 'Москва', DATE '2026-01-31', TIMESTAMP '2026-02-01 10:11:12.123456',
         5::HUGEINT, 4::BIGINT, NULL::BIGINT, 1::INTEGER, TRUE),
        (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, 2, FALSE),
        (3, -7, -3, -1, -0.05, 'NaN'::DOUBLE, -0.5, FALSE, '', DATE '1970-01-01',
         TIMESTAMP '1999-12-31 23:59:59', 170141183460469231731687303715884105727::HUGEINT, 1, NULL, 3, TRUE)
) AS t (
    b, i, s_int, big, dec, dbl, real_, bo, txt, dt, ts, sum_int, cnt, all_null, no_null_int, no_null_bool
)
ORDER BY b
"""
# Without the HUGEINT beyond BIGINT: the values PostgreSQL can hold too.
PORTABLE = TYPED.replace("170141183460469231731687303715884105727::HUGEINT", "6::BIGINT").replace(
    "5::HUGEINT", "5::NUMERIC(38, 0)"
)


def _by_rows(conn: sa.Connection, statement: str) -> pd.DataFrame:
    result = conn.execute(sa.text(statement))
    return pd.DataFrame([tuple(row) for row in result], columns=list(result.keys()))


def _both(warehouse, statement: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    with warehouse.begin() as conn:
        return warehouse.query_frame(conn, statement), _by_rows(conn, statement)


def _same(fast: pd.DataFrame, rows: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(fast, rows, check_exact=True)
    # assert_frame_equal treats None and NaN alike in object columns; the row path tells them apart.
    for column in [name for name, dtype in fast.dtypes.items() if dtype.kind == "O"]:
        assert [type(v) for v in fast[column]] == [type(v) for v in rows[column]], column


@pytest.mark.parametrize("repeat", [1, 50_000])
def test_duckdb_columns_match_the_rows_type_by_type(duckdb_warehouse, repeat):
    statement = TYPED if repeat == 1 else f"SELECT t.* FROM ({TYPED}) AS t, range({repeat}) ORDER BY b"
    fast, rows = _both(duckdb_warehouse, statement)
    _same(fast, rows)
    assert len(fast) == 3 * repeat
    # The row path's own dtypes, so the comparison above is not between two equally wrong frames.
    assert fast.dtypes.astype(str).to_dict() == {
        "b": "int64", "i": "float64", "s_int": "float64", "big": "float64", "dec": "object",
        "dbl": "float64", "real_": "float64", "bo": "object", "txt": "str", "dt": "object",
        "ts": "datetime64[us]", "sum_int": "object", "cnt": "int64", "all_null": "object",
        "no_null_int": "int64", "no_null_bool": "bool",
    }  # fmt: skip
    assert fast["sum_int"].iloc[-1] == 2**127 - 1


def test_duckdb_without_nulls_empty_and_unusual_types(duckdb_warehouse):
    no_nulls = (
        "SELECT * FROM (VALUES (1::HUGEINT, 2.5::DECIMAL(9, 1), TRUE, DATE '2026-01-01')) t(a, b, c, d)"
    )
    empty = f"SELECT * FROM ({TYPED}) AS t WHERE b > 99"
    # An interval and a list are not read through Arrow: the whole result goes row by row.
    unusual = "SELECT 1 AS n, INTERVAL 3 DAY AS gap, [1, 2] AS items, NULL AS nothing"
    for statement in (no_nulls, empty, unusual):
        fast, rows = _both(duckdb_warehouse, statement)
        _same(fast, rows)
    assert _both(duckdb_warehouse, no_nulls)[0].dtypes.astype(str).tolist() == [
        "int64",
        "object",
        "bool",
        "object",
    ]
    assert _both(duckdb_warehouse, empty)[0].shape == (0, 16)


def test_postgresql_rows_come_from_the_driver_unchanged(postgres_warehouse):
    statement = (
        PORTABLE.replace("::DOUBLE", "::DOUBLE PRECISION")
        .replace("'NaN'::DOUBLE PRECISION", "'NaN'::FLOAT8")
        .replace("'Москва'", "'Москва'::VARCHAR")
    )
    fast, rows = _both(postgres_warehouse, statement)
    _same(fast, rows)
    assert fast["dec"].iloc[0] == Decimal("12.34")


def test_duplicate_column_names_keep_their_order(duckdb_warehouse):
    fast, rows = _both(duckdb_warehouse, "SELECT 1 AS a, 'x' AS a, 2.5 AS b")
    _same(fast, rows)
    assert list(fast.columns) == ["a", "a", "b"]
