"""Training and scoring on the demo shop read every query result the columnar way (DuckDB's Arrow), and each
of those frames equals, value by value and dtype by dtype, the frame built from the same query's rows."""

from datetime import date

import pandas as pd
import sqlalchemy as sa

from lifecycle.scores.config import ScoresConfig
from lifecycle.scores.scoring import score
from lifecycle.scores.training import train_churn, train_ltv
from lifecycle.warehouse import Warehouse

DATA_END = date(2026, 6, 29)


def _rows(conn: sa.Connection, statement: str, params: dict) -> pd.DataFrame:
    clause = sa.text(statement)
    result = conn.execute(clause, {key: params[key] for key in clause.compile().params if key in params})
    return pd.DataFrame([tuple(row) for row in result], columns=list(result.keys()))


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Queries without ORDER BY may return their rows in another order on each run."""
    if frame.empty:
        return frame
    positions = list(range(frame.shape[1]))
    keyed = frame.set_axis(positions, axis=1).sort_values(positions, kind="stable", na_position="last")
    return keyed.set_axis(frame.columns, axis=1).reset_index(drop=True)


def test_training_and_scoring_fetch_the_frames_the_rows_give(trained_demo, monkeypatch):
    warehouse, _, _ = trained_demo
    columnar = Warehouse.query_frame
    checked: list[tuple[str, int]] = []

    def checking(self, conn, statement, /, **params):
        frame = columnar(self, conn, statement, **params)
        rows = _rows(conn, statement, params)
        fast, slow = _sorted(frame), _sorted(rows)
        pd.testing.assert_frame_equal(fast, slow, check_exact=True, obj=statement)
        for column in [name for name, dtype in fast.dtypes.items() if dtype.kind == "O"]:
            assert [type(v) for v in fast[column]] == [type(v) for v in slow[column]], column
        checked.append((statement, len(frame)))
        return frame

    monkeypatch.setattr(Warehouse, "query_frame", checking)
    config = ScoresConfig()
    train_churn(warehouse, DATA_END, config)
    train_ltv(warehouse, DATA_END, config)
    score(warehouse, DATA_END, config, run_key="columnar")
    # The order, event and engagement features of each training snapshot, the labels, RFM, purchase gaps
    # and consumable lines: many fetches of thousands of rows, some empty (no engagement in the demo).
    statements = {statement for statement, _ in checked}
    counts = [count for _, count in checked]
    assert len(statements) >= 7, counts
    assert len(checked) >= 20, counts
    assert sum(count > 1000 for count in counts) >= 5, counts
