"""Loading a whole history in steps (`lifecycle ingest --catch-up`, lifecycle.ingest.ingest_history): each
step an ordinary run committed on its own, ending with the same tables as one window over the history, also
when the process loading it is killed at random points and started again."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from itertools import pairwise

import pandas as pd

from lifecycle.demo import DemoConfig, generate
from lifecycle.ingest import SOURCE_TABLES, UPDATED_IN_PLACE, ingest, ingest_history
from lifecycle.migrations import migrate
from lifecycle.paths import SQL_DIR

END = datetime(2026, 3, 2)
DAYS = 150
#: Columns stamped with the clock of the run that wrote the row (the command line runs on the real clock).
RUN_TIME_COLUMNS = {"customer_state": ("updated_at",), "quarantine": ("quarantined_at",)}
CONTENT_TABLES = (*(f"crm.{table}" for table in SOURCE_TABLES), "crm.customer_state", "crm.quarantine")


def _shop(warehouse):
    """A demo shop of 150 days with bad rows among the good (some wait for a customer, some never load)."""
    generate(warehouse, DemoConfig(customers=300, seed=11, end=END, days=DAYS, bad_share=0.02))
    migrate(warehouse, ("crm",))
    return warehouse


def _snapshot(warehouse) -> dict[str, pd.DataFrame]:
    tables = {}
    with warehouse.begin() as conn:
        for table in CONTENT_TABLES:
            frame = pd.read_sql_query(f"SELECT * FROM {table}", conn)
            frame = frame.drop(columns=list(RUN_TIME_COLUMNS.get(table.split(".")[1], ())))
            tables[table] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return tables


def _assert_same(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame]) -> None:
    for table, frame in want.items():
        assert len(got[table]) == len(frame), table
        pd.testing.assert_frame_equal(got[table], frame, check_dtype=False, obj=table)


def _reset_crm(warehouse) -> None:
    with warehouse.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA crm CASCADE")
    migrate(warehouse, ("crm",))


def test_a_history_caught_up_in_steps_loads_what_one_window_loads(warehouse):
    shop = _shop(warehouse)
    ingest(shop, window_end=END, run_key="whole", now=END)
    whole = _snapshot(shop)
    assert len(whole["crm.events"]) > 2_000
    assert len(whole["crm.quarantine"]) > 0

    _reset_crm(shop)
    reports = ingest_history(shop, END, "steps", step=timedelta(days=30), now=END)
    # the first step ends on the first whole day 30 days after the earliest row; the last at END
    assert len(reports) in (5, 6)
    assert [r.window_end for r in reports][-1] == END
    assert all(b.window_end - a.window_end == timedelta(days=30) for a, b in pairwise(reports[:-1]))
    assert sum(t.rows_loaded for r in reports for t in r.tables if t.source_table == "shop.events") == len(
        whole["crm.events"]
    )
    _assert_same(_snapshot(shop), whole)
    with shop.begin() as conn:
        runs = conn.exec_driver_sql("SELECT COUNT(DISTINCT run_key) FROM crm.ingest_runs").scalar()
        through = conn.exec_driver_sql("SELECT MIN(loaded_through) FROM crm.watermarks").scalar()
    assert runs == len(reports)
    assert through == END
    if shop.dialect == "postgresql":  # the steps' updates left dead row versions: vacuumed at the end
        with shop.begin() as conn:
            vacuumed = conn.exec_driver_sql(
                "SELECT 'crm.' || relname FROM pg_stat_user_tables WHERE schemaname = 'crm' "
                "AND last_vacuum IS NOT NULL"
            ).scalars()
            assert set(UPDATED_IN_PLACE) <= set(vacuumed)

    # caught up: another catch-up is one ordinary run of the last grace period, and changes nothing
    again = ingest_history(shop, END, "again", step=timedelta(days=30), now=END)
    assert len(again) == 1
    appended = [t.rows_loaded for t in again[0].tables if t.source_table in ("shop.events", "shop.orders")]
    assert appended == [0, 0]
    _assert_same(_snapshot(shop), whole)


def test_the_catch_up_starts_at_the_earliest_row_of_any_source_table():
    """The first step's start is read from every table the ingest reads, each by its loaded_at."""
    text = (SQL_DIR / "ingest" / "earliest_loaded.sql").read_text(encoding="utf-8")
    read = {line.split("shop.")[1].strip() for line in text.splitlines() if "FROM shop." in line}
    assert read == set(SOURCE_TABLES)


def test_steps_shorter_than_a_day_start_at_the_first_step_after_the_earliest_row(duckdb_warehouse):
    """Steps end on a grid from the earliest row's midnight: the first one after that row, not before it."""
    end = END + timedelta(hours=15)  # a history that starts in the afternoon
    generate(duckdb_warehouse, DemoConfig(customers=20, seed=3, end=end, days=28))
    migrate(duckdb_warehouse, ("crm",))
    with duckdb_warehouse.begin() as conn:
        earliest = duckdb_warehouse.run(
            conn, "ingest/earliest_loaded.sql", window_start=datetime(1900, 1, 1), window_end=end
        ).scalar()
    assert earliest.hour >= 4
    step = timedelta(hours=4)
    reports = ingest_history(duckdb_warehouse, end, "hours", step=step, now=end)
    assert reports[0].window_end - step <= earliest < reports[0].window_end
    assert all(b.window_end - a.window_end == step for a, b in pairwise(reports[:-1]))
    assert reports[-1].window_end == end


def test_an_empty_shop_is_caught_up_in_one_run_that_loads_nothing(duckdb_warehouse):
    migrate(duckdb_warehouse)
    reports = ingest_history(duckdb_warehouse, END, "empty", now=END)
    assert len(reports) == 1
    assert sum(t.rows_read for t in reports[0].tables) == 0


def _cli(url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lifecycle", "ingest", "--until", END.isoformat(), "--warehouse", url, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )


def _finish(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]


def test_a_catch_up_killed_at_random_points_resumes_and_ends_as_one_window(tmp_path, duckdb_warehouse):
    """SIGKILL mid-step, five times, at random points of a catch-up by the command line: each start
    resumes from the committed steps, and the tables end as one window over the history leaves them,
    nothing lost, nothing twice."""
    _shop(duckdb_warehouse)
    duckdb_warehouse.engine.dispose()
    source = duckdb_warehouse.url.database
    copies = {}
    for name in ("whole", "steps", "killed"):
        copies[name] = str(tmp_path / f"{name}.duckdb")
        shutil.copyfile(source, copies[name])
    urls = {name: f"duckdb:///{path}" for name, path in copies.items()}
    from lifecycle.warehouse import Warehouse

    _finish(_cli(urls["whole"]))
    whole = _snapshot(Warehouse(urls["whole"]))

    started = time.monotonic()
    _finish(_cli(urls["steps"], "--catch-up", "--step", "5d"))
    full_run = time.monotonic() - started
    _assert_same(_snapshot(Warehouse(urls["steps"])), whole)
    with Warehouse(urls["steps"]).begin() as conn:
        steps = conn.exec_driver_sql("SELECT COUNT(DISTINCT run_key) FROM crm.ingest_runs").scalar()
    assert steps >= DAYS // 5

    rng = random.Random(20261201)
    loaded_through = []
    for _ in range(5):
        process = _cli(urls["killed"], "--catch-up", "--step", "5d")
        time.sleep(rng.uniform(0.2, 0.6) * full_run)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        with Warehouse(urls["killed"]).begin() as conn:
            loaded_through.append(
                conn.exec_driver_sql("SELECT MIN(loaded_through) FROM crm.watermarks").scalar()
            )
    _finish(_cli(urls["killed"], "--catch-up", "--step", "5d"))
    # some kills came after a step had committed and before the last one had
    assert any(done is not None and done < END for done in loaded_through), loaded_through
    _assert_same(_snapshot(Warehouse(urls["killed"])), whole)


def test_a_step_that_is_not_a_positive_duration_is_a_usage_error(duckdb_warehouse):
    url = duckdb_warehouse.url.render_as_string(hide_password=False)
    for step in ("0d", "soon"):
        process = _cli(url, "--catch-up", "--step", step)
        _, err = process.communicate(timeout=120)
        assert process.returncode == 2
        assert f"--step: invalid duration value: '{step}'" in err
