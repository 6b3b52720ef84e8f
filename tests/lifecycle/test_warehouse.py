"""The warehouse refuses a DuckDB file whose name clashes with a schema of the project's SQL."""

import pytest

from lifecycle.errors import ConfigError, WarehouseError
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


STAGED = """-- A staged step. Inputs: :above. Output: sink and the count of the stage.
DROP TABLE IF EXISTS stage_t;
CREATE TEMP TABLE stage_t AS SELECT * FROM (VALUES (1), (2), (3)) AS v (x) WHERE v.x > :above;
INSERT INTO sink SELECT x FROM stage_t;
SELECT COUNT(*) AS n FROM stage_t;
"""


@pytest.mark.parametrize(("above", "expected", "sunk"), [(1, [{"n": 2}], 2), (5, [], 0)])
def test_run_steps_stops_after_an_empty_stage(warehouse, tmp_path, monkeypatch, above, expected, sunk):
    from lifecycle import sql

    monkeypatch.setattr(sql, "SQL_DIR", tmp_path)
    (tmp_path / "staged.sql").write_text(STAGED)
    with warehouse.begin() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE sink (x INTEGER)")
        assert warehouse.run_steps(conn, "staged.sql", until_empty="stage_t", above=above) == expected
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM sink").scalar() == sunk


def test_run_steps_names_the_file_when_the_stage_is_never_created(duckdb_warehouse, tmp_path, monkeypatch):
    from lifecycle import sql
    from lifecycle.errors import ConfigError

    monkeypatch.setattr(sql, "SQL_DIR", tmp_path)
    (tmp_path / "staged.sql").write_text(STAGED)
    with duckdb_warehouse.begin() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE sink (x INTEGER)")
        with pytest.raises(ConfigError, match=r"staged\.sql.*no statement creates the table stage_u"):
            duckdb_warehouse.run_steps(conn, "staged.sql", until_empty="stage_u", above=1)


def test_keep_open_reuses_one_connection_with_its_threads(duckdb_warehouse):
    original = duckdb_warehouse.engine
    replaced = duckdb_warehouse.keep_open(connections=1, threads=1)
    assert replaced is original
    seen = set()
    for _ in range(3):
        with duckdb_warehouse.begin() as conn:
            seen.add(id(conn.connection.dbapi_connection))
            assert conn.exec_driver_sql("SELECT current_setting('threads')").scalar() == 1
    assert len(seen) == 1
    duckdb_warehouse.engine.dispose()


def test_held_open_gives_the_engine_back_and_does_nothing_on_postgres(duckdb_warehouse, postgres_warehouse):
    original = duckdb_warehouse.engine
    with duckdb_warehouse.held_open() as held:
        assert held.engine is not original
        with held.held_open():  # nested: the same engine
            assert held.engine is not original
        with held.begin() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    assert duckdb_warehouse.engine is original
    pg_engine = postgres_warehouse.engine
    with postgres_warehouse.held_open():
        assert postgres_warehouse.engine is pg_engine
    assert postgres_warehouse.keep_open(connections=3, threads=1) is pg_engine
    assert postgres_warehouse.engine is pg_engine


def test_a_run_of_transactions_shares_one_postgres_connection_and_gives_it_back_as_it_was(postgres_warehouse):
    """The dispatch's hand-over commits hundreds of short transactions a second: on PostgreSQL they run on
    one connection checked out once, planning each statement once; the setting never reaches the pool."""

    def plan_cache_mode(conn) -> str:
        return conn.exec_driver_sql("SHOW plan_cache_mode").scalar()

    def fail_in(transaction) -> None:
        with transaction() as conn:
            conn.exec_driver_sql("CREATE TEMP TABLE rolled_back (x INTEGER)")
            raise ZeroDivisionError

    with postgres_warehouse.transactions(generic_plans=True) as transaction:
        backends, modes = set(), set()
        for n in range(3):
            with transaction() as conn:
                backends.add(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar())
                modes.add(plan_cache_mode(conn))
                conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS seen_{n} (x INTEGER)")
        with pytest.raises(ZeroDivisionError):
            fail_in(transaction)
        with transaction() as conn:  # the failed transaction was rolled back, the connection goes on
            assert conn.exec_driver_sql("SELECT to_regclass('rolled_back')").scalar() is None
            assert conn.exec_driver_sql("SELECT to_regclass('seen_2')").scalar() is not None
    assert len(backends) == 1
    assert modes == {"force_generic_plan"}
    with postgres_warehouse.begin() as conn:  # the same pooled connection, its setting undone
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() in backends
        assert plan_cache_mode(conn) == "auto"

    def thread_that_fails() -> int:
        with postgres_warehouse.transactions(generic_plans=True) as transaction:
            with transaction() as conn:
                backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            raise RuntimeError(backend)

    with pytest.raises(RuntimeError) as failed:  # its connection is closed, not pooled with the setting
        thread_that_fails()
    with postgres_warehouse.begin() as conn:
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != failed.value.args[0]
        assert plan_cache_mode(conn) == "auto"


def test_a_run_of_duckdb_transactions_lets_the_file_go_between_them(duckdb_warehouse):
    with duckdb_warehouse.transactions(generic_plans=True) as transaction:
        for _ in range(2):
            with transaction() as conn:
                assert conn.exec_driver_sql("SELECT 1").scalar() == 1
            assert conn.closed  # each its own connection, closed after it, as begin() does


def test_every_duckdb_connection_keeps_to_the_memory_limit(tmp_path, monkeypatch):
    """DuckDB's own default is 80 % of the machine's memory; the project's connections set 3 GB (a first
    ingest of a large history spills beyond it instead of taking the machine), overridable by variable."""
    from lifecycle.warehouse import Warehouse

    def limit(warehouse):
        with warehouse.begin() as conn:
            return conn.exec_driver_sql("SELECT current_setting('memory_limit')").scalar()

    warehouse = Warehouse(f"duckdb:///{tmp_path / 'limited.duckdb'}")
    assert limit(warehouse) == "2.7 GiB"  # 3 GB as DuckDB prints it
    warehouse.keep_open(connections=1, threads=1)
    assert limit(warehouse) == "2.7 GiB"
    warehouse.engine.dispose()

    monkeypatch.setenv("LIFECYCLE_DUCKDB_MEMORY_LIMIT", "5GB")
    assert limit(Warehouse(f"duckdb:///{tmp_path / 'larger.duckdb'}")) == "4.6 GiB"
    monkeypatch.setenv("LIFECYCLE_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(ConfigError, match="MEMORY_LIMIT: field 'value': 'lots' is not a size"):
        Warehouse(f"duckdb:///{tmp_path / 'bad.duckdb'}")


def test_postgres_sessions_run_without_jit_and_with_ssd_page_costs_unless_the_url_asks_otherwise(
    postgres_warehouse,
):
    """JIT compiling took 140 ms of an entry query that read nothing; a random page costed as on a spinning
    disk made the cart query read a 73 M-row table whole. Every session the project opens has JIT off and
    random_page_cost 1.1, through rollbacks and new pooled connections, and a URL's own options win."""

    def settings(warehouse):
        with warehouse.engine.connect() as conn:
            value = (
                conn.exec_driver_sql("SHOW jit").scalar(),
                conn.exec_driver_sql("SHOW random_page_cost").scalar(),
            )
            conn.rollback()
            return value

    assert settings(postgres_warehouse) == ("off", "1.1")
    assert settings(postgres_warehouse) == ("off", "1.1")  # the pooled connection, after a rollback
    postgres_warehouse.engine.dispose()
    assert settings(postgres_warehouse) == ("off", "1.1")
    for options, expected in (
        ("-c jit=on", ("on", "1.1")),
        ("-c random_page_cost=4", ("off", "4")),
        ("-c jit=on -c random_page_cost=2", ("on", "2")),
        ("-c jit_above_cost=1000", ("off", "1.1")),  # another setting whose name starts alike
    ):
        asked = Warehouse(postgres_warehouse.url.update_query_dict({"options": options}))
        try:
            assert settings(asked) == expected, options
        finally:
            asked.engine.dispose()


def test_statistics_are_refreshed_after_a_write_the_planner_has_not_seen(
    postgres_warehouse, duckdb_warehouse
):
    """A table never analysed, or grown by more than a tenth, is analysed in the writer's transaction (the
    planner then knows its size); a small write to a large table is left to autovacuum; DuckDB keeps its
    own statistics."""

    def believed(conn) -> float:
        return conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = 'stats_probe'").scalar()

    with postgres_warehouse.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS probe")
        conn.exec_driver_sql("CREATE TABLE probe.stats_probe (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO probe.stats_probe SELECT g FROM generate_series(1, 2000) AS g")
        assert believed(conn) < 0  # never analysed
        assert postgres_warehouse.refresh_statistics(conn, {"probe.stats_probe": 2000}) == [
            "probe.stats_probe"
        ]
        assert believed(conn) == 2000
        conn.exec_driver_sql("INSERT INTO probe.stats_probe SELECT g FROM generate_series(1, 100) AS g")
        assert postgres_warehouse.refresh_statistics(conn, {"probe.stats_probe": 100}) == []  # < 50 + 200
        conn.exec_driver_sql("INSERT INTO probe.stats_probe SELECT g FROM generate_series(1, 400) AS g")
        assert postgres_warehouse.refresh_statistics(conn, {"probe.stats_probe": 400}) == [
            "probe.stats_probe"
        ]
        assert believed(conn) == 2500
        # a table read by its newest rows is analysed after any write
        conn.exec_driver_sql("INSERT INTO probe.stats_probe SELECT g FROM generate_series(1, 10) AS g")
        assert postgres_warehouse.refresh_statistics(conn, {"probe.stats_probe": 10}) == []
        assert postgres_warehouse.refresh_statistics(
            conn, {"probe.stats_probe": 10}, read_by_time={"probe.stats_probe"}
        ) == ["probe.stats_probe"]
        assert believed(conn) == 2510
        # tables that do not exist (or were not written) are passed over; a name that is not one is refused
        assert postgres_warehouse.refresh_statistics(conn, {"probe.absent": 10, "probe.stats_probe": 0}) == []
        with pytest.raises(ValueError, match=r"not a schema\.table name"):
            postgres_warehouse.refresh_statistics(conn, {"probe.x; DROP TABLE y": 1})
    with duckdb_warehouse.begin() as conn:
        assert duckdb_warehouse.refresh_statistics(conn, {"crm.anything": 10**6}) == []


def test_a_refresh_never_waits_for_another_transactions_analyze(postgres_warehouse):
    """Two writers of one table: the first analysed it and now waits for a row the second has locked (the
    policy's ledger insert behind a dispatch's release of the same send key). Were the second to wait for
    the first's ANALYZE lock, PostgreSQL would break the deadlock by failing one of them. The second passes
    the table over instead, keeps its own lock timeout, and both commit; the next writer analyses it."""
    import threading
    import time

    with postgres_warehouse.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA probe")
        conn.exec_driver_sql("CREATE TABLE probe.ledger (k INTEGER PRIMARY KEY, state TEXT)")
        conn.exec_driver_sql("INSERT INTO probe.ledger SELECT g, 'new' FROM generate_series(1, 1000) AS g")
        conn.exec_driver_sql("ANALYZE probe.ledger")
    first, second = postgres_warehouse.engine.connect(), postgres_warehouse.engine.connect()
    try:
        first.begin()
        second.begin()
        second.exec_driver_sql("SET LOCAL lock_timeout = '7s'")
        second.exec_driver_sql("UPDATE probe.ledger SET state = 'released' WHERE k = 1")
        assert postgres_warehouse.refresh_statistics(first, {"probe.ledger": 5000}) == ["probe.ledger"]
        failures: list[BaseException] = []

        def insert_behind_the_row_lock() -> None:
            try:
                first.exec_driver_sql("UPDATE probe.ledger SET state = 'planned again' WHERE k = 1")
            except Exception as exc:  # reported by the assertion below
                failures.append(exc)

        waiting = threading.Thread(target=insert_behind_the_row_lock)
        waiting.start()
        time.sleep(0.3)  # the first now waits for the second's row lock
        started = time.monotonic()
        assert postgres_warehouse.refresh_statistics(second, {"probe.ledger": 5000}) == []
        assert time.monotonic() - started < 1.0  # PostgreSQL's deadlock check would fire after 1 s
        assert second.exec_driver_sql("SELECT current_setting('lock_timeout')").scalar() == "7s"
        second.commit()
        waiting.join(timeout=10)
        assert not waiting.is_alive()
        assert failures == []
        first.commit()
        second.begin()
        assert postgres_warehouse.refresh_statistics(second, {"probe.ledger": 5000}) == ["probe.ledger"]
        assert second.exec_driver_sql("SELECT current_setting('lock_timeout')").scalar() == "0"
        second.commit()
    finally:
        first.close()
        second.close()


def test_a_statement_is_compiled_once_and_binds_as_sqlalchemy_would(warehouse, monkeypatch):
    """DuckDB's dialect keeps no compiled statements, so there each text is compiled once for its driver
    (PostgreSQL's keeps them itself); what it binds must not change: a name used twice, a cast written
    ``::``, an escaped colon, a parameter the statement does not use, and a missing value named in the
    error."""
    import sqlalchemy as sa

    compiled = []
    compile_text = sa.sql.compiler.SQLCompiler.visit_textclause

    def counting(self, textclause, **kw):
        compiled.append(textclause.text)
        return compile_text(self, textclause, **kw)

    monkeypatch.setattr(sa.sql.compiler.SQLCompiler, "visit_textclause", counting)
    statement = (
        "SELECT CAST(:n AS INTEGER) + :n AS twice, '1'::INTEGER AS cast, 'a\\:b' AS colon, :word AS word"
    )
    with warehouse.begin() as conn:
        first = Warehouse.records(Warehouse.execute(conn, statement, n=1, word="w1"))
        assert statement in compiled
        compiled.clear()
        rows = [
            Warehouse.records(Warehouse.execute(conn, statement, n=k, word=f"w{k}", unused=object()))
            for k in (2, 3, 4)
        ]
        assert compiled == []
        with pytest.raises(sa.exc.StatementError, match="word"):
            Warehouse.execute(conn, statement, n=5)
    assert [first, *rows] == [
        [{"twice": 2 * k, "cast": 1, "colon": "a:b", "word": f"w{k}"}] for k in (1, 2, 3, 4)
    ]


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_postgres_reads_side_by_side_run_at_once_on_their_own_connections(warehouse):
    """Each read waits at a barrier for the other: run one after the other, they would break it."""
    import threading

    barrier = threading.Barrier(2, timeout=20)

    def read(n: int) -> tuple[int, int]:
        with warehouse.begin() as conn:
            backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            barrier.wait()
            return n, backend

    with warehouse.reads_side_by_side() as later:
        first, second = later(read, 1), later(read, 2)
        failing = later(warehouse.fetch_df, "no/such_file.sql")
        (one, pid_one), (two, pid_two) = first.result(), second.result()
        with pytest.raises(Exception, match="such_file"):
            failing.result()
    assert (one, two) == (1, 2)
    assert pid_one != pid_two


def test_duckdb_reads_side_by_side_run_in_the_callers_thread_when_asked_for(duckdb_warehouse):
    import threading

    calls = []

    def read(n: int) -> int:
        calls.append((n, threading.current_thread()))
        return n * 10

    with duckdb_warehouse.reads_side_by_side() as later:
        first, second = later(read, 1), later(read, 2)
        assert calls == []  # nothing read yet: held frames would all be in memory at once
        assert second.result() == 20
        assert first.result() == 10
        assert second.result() == 20
    assert calls == [(2, threading.current_thread()), (1, threading.current_thread())]
