"""`Warehouse.insert_df` stores a frame's values alike on both engines: on PostgreSQL through COPY of the CSV
Arrow writes (or pandas, for a column Arrow cannot type), on DuckDB straight from the frame."""

import math
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

TABLE = """
CREATE SCHEMA IF NOT EXISTS t_ins;
CREATE TABLE t_ins.sample (
    k INTEGER NOT NULL,
    customer_id BIGINT,
    txt VARCHAR,
    amount DOUBLE PRECISION,
    n BIGINT,
    flag BOOLEAN,
    day DATE,
    seen_at TIMESTAMP,
    price DECIMAL(18, 2)
);
"""

TEXT = 'a "b",\nc; Москва'
# What each row must read back as, in column order: every missing value (NaN, None, NA, NaT) is NULL.
EXPECTED = [
    (1, 1, "", 1.5, 1, True, date(2026, 1, 31), datetime(2026, 2, 1, 10, 11, 12, 123456), Decimal("12.34")),
    (2, None, None, None, None, None, None, None, None),
    (3, 3, TEXT, math.inf, -2, False, date(1970, 1, 1), datetime(1999, 12, 31, 23, 59, 59), Decimal("-0.05")),
]  # fmt: skip


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "k": [1, 2, 3],
        # a nullable id as pandas holds it after a join: floats with NaN, which BIGINT takes only as "1"
        "customer_id": [1.0, np.nan, 3.0],
        "txt": ["", None, TEXT],
        "amount": [1.5, np.nan, np.inf],
        "n": pd.array([1, None, -2], dtype="Int64"),
        "flag": [True, None, False],
        "day": [date(2026, 1, 31), None, date(1970, 1, 1)],
        "seen_at": pd.to_datetime(["2026-02-01 10:11:12.123456", None, "1999-12-31 23:59:59.000000"]),
        "price": [Decimal("12.34"), None, Decimal("-0.05")],
    })  # fmt: skip


def _read(warehouse) -> list[tuple]:
    with warehouse.begin() as conn:
        return [tuple(row) for row in conn.exec_driver_sql("SELECT * FROM t_ins.sample ORDER BY k")]


def _same(got: list[tuple], expected: list[tuple]) -> None:
    assert got == expected
    assert [[type(v) for v in row] for row in got] == [[type(v) for v in row] for row in expected]


def test_a_frame_reads_back_alike_on_both_engines(warehouse):
    """An empty string stays empty (PostgreSQL's COPY reads an unquoted empty field as NULL), integral floats
    fit a BIGINT, text with quotes, commas and line breaks is kept whole."""
    with warehouse.begin() as conn:
        warehouse.run_script(conn, TABLE)
        assert warehouse.insert_df(conn, "t_ins.sample", _frame()) == 3
    _same(_read(warehouse), EXPECTED)


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_a_large_frame_goes_in_pieces_and_every_row_arrives_once(warehouse, monkeypatch):
    from lifecycle import warehouse as module

    monkeypatch.setattr(module, "_CSV_CHUNK_ROWS", 1_000)
    pieces = []
    chunks = module._csv_chunks
    monkeypatch.setattr(module, "_csv_chunks", lambda frame: (pieces.append(1) or c for c in chunks(frame)))
    frame = pd.concat([_frame()] * 2_501, ignore_index=True).assign(k=range(7_503))
    with warehouse.begin() as conn:
        warehouse.run_script(conn, TABLE)
        assert warehouse.insert_df(conn, "t_ins.sample", frame) == 7_503
    assert len(pieces) == 8
    with warehouse.begin() as conn:
        (row,) = conn.exec_driver_sql(
            "SELECT COUNT(*), COUNT(DISTINCT k), SUM(customer_id), COUNT(txt), SUM(LENGTH(txt))"
            " FROM t_ins.sample"
        )
    assert tuple(row) == (7_503, 7_503, 4 * 2_501, 2 * 2_501, len(TEXT) * 2_501)


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_a_column_arrow_cannot_type_is_written_by_pandas(warehouse, monkeypatch):
    """Mixed Python objects (a number and a text in one column) are no Arrow type; pandas writes them, in
    pieces (of two rows here), with a float id column made integral over the whole frame: the second piece
    holds none of its NaN, and "3.0" is no BIGINT."""
    from lifecycle import warehouse as module

    monkeypatch.setattr(module, "_CSV_CHUNK_ROWS", 2)
    frame = _frame().assign(txt=["x", 7, None])
    with warehouse.begin() as conn:
        warehouse.run_script(conn, TABLE)
        assert warehouse.insert_df(conn, "t_ins.sample", frame) == 3
    texts = ["x", "7", None]
    _same(_read(warehouse), [(*row[:2], txt, *row[3:]) for row, txt in zip(EXPECTED, texts, strict=True)])
