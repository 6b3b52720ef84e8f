"""The planning lock on real PostgreSQL and DuckDB: a second run waits, and when the wait runs out it is told
which run is active and since when, instead of planning beside it."""

import subprocess
import sys
import threading
import time

import pytest

from lifecycle.locks import RunActiveError, exclusive


def test_postgres_run_kept_waiting_names_the_active_run_and_since_when(postgres_warehouse):
    with exclusive(postgres_warehouse, "policy", "policy run", "scheduled__2026-03-02T12"):
        started = time.monotonic()
        with (
            pytest.raises(RunActiveError) as caught,
            exclusive(postgres_warehouse, "policy", "policy run", "manual__2026-03-02T12", wait_s=1),
        ):
            pass
        assert time.monotonic() - started >= 1
    message = str(caught.value)
    assert message.startswith("another policy run is active since 20")
    assert "UTC (lifecycle policy run scheduled__2026-03-02T12, server process " in message
    assert "waited 1 s" in message
    assert "start policy run manual__2026-03-02T12 again" in message


def test_postgres_locks_are_per_purpose_and_released_at_commit(postgres_warehouse):
    with exclusive(postgres_warehouse, "chains:welcome", "chains run of welcome", "run-a"):
        # Another chain, or the policy, is not held up by a run of the welcome chain.
        with exclusive(postgres_warehouse, "chains:win_back", "chains run of win_back", "run-a", wait_s=0):
            pass
        with exclusive(postgres_warehouse, "policy", "policy run", "run-a", wait_s=0):
            pass
    with exclusive(postgres_warehouse, "chains:welcome", "chains run of welcome", "run-b", wait_s=0) as conn:
        assert (
            conn.exec_driver_sql("SHOW application_name").scalar() == "lifecycle chains run of welcome run-b"
        )


def test_postgres_waiting_run_goes_ahead_once_the_active_one_commits(postgres_warehouse):
    waited = {}

    def second_run():
        started = time.monotonic()
        with exclusive(postgres_warehouse, "policy", "policy run", "second", wait_s=30):
            waited["s"] = time.monotonic() - started

    with exclusive(postgres_warehouse, "policy", "policy run", "first"):
        thread = threading.Thread(target=second_run)
        thread.start()
        time.sleep(1.0)
        assert "s" not in waited
    thread.join(timeout=30)
    assert 0.8 <= waited["s"] < 10


def test_duckdb_second_process_is_told_who_holds_the_file(duckdb_warehouse):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "time.sleep(60)",
            duckdb_warehouse.url.database,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with (
            pytest.raises(RunActiveError) as caught,
            exclusive(duckdb_warehouse, "policy", "policy run", "manual__1", wait_s=1),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    message = str(caught.value)
    assert message.startswith(
        f"another policy run is active: the DuckDB file {duckdb_warehouse.url.database}"
    )
    assert f"(PID {holder.pid})" in message
    assert "waited 1 s" in message
    # Once the other process is gone, the run goes ahead.
    with exclusive(duckdb_warehouse, "policy", "policy run", "manual__1", wait_s=5) as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
