"""Access to the warehouse (DuckDB file or PostgreSQL) through SQLAlchemy.

Everything the pipeline computes runs as SQL inside the warehouse; this module only opens transactions,
executes the project's SQL files with bound parameters, fetches results as DataFrames (DuckDB's as Arrow
columns, the same frames as row by row) and bulk-loads DataFrames. The two engines differ only in how
results are fetched and bulk loads are done.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from lifecycle import sql
from lifecycle.errors import ConfigError, WarehouseError
from lifecycle.paths import SQL_DIR

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import pandas as pd

SUPPORTED_DIALECTS = ("duckdb", "postgresql")
#: The schemas the project's SQL names. DuckDB calls a database file's catalog after the file's name, so a
#: file named like one of them (``crm.duckdb``) makes ``crm.events`` ambiguous in every statement.
PROJECT_SCHEMAS = ("crm", "shop", "sim")
# Another process holding the DuckDB file (for example a concurrent task) is waited for, not failed on.
_DUCKDB_LOCK_WAIT_S = 120.0
#: DuckDB's memory limit (its buffer for tables, joins and sorts; beyond it, work spills to a temporary
#: folder beside the file). DuckDB's own default is 80 % of the machine's memory, which a first ingest of a
#: large history fills (20 GB at 1 M customers on a 24 GB machine). ``LIFECYCLE_DUCKDB_MEMORY_LIMIT``
#: overrides it ("8GB" for 10 M customers, "" for DuckDB's default).
DUCKDB_MEMORY_LIMIT = "3GB"
#: How long ``Warehouse.refresh_statistics`` waits for another transaction's ``ANALYZE`` of the same table
#: before it leaves the table be (PostgreSQL's SQLSTATE for a lock wait given up).
_ANALYZE_LOCK_WAIT_MS = 100
_LOCK_NOT_AVAILABLE = "55P03"
_MEMORY_LIMIT = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


def duckdb_memory_limit() -> str | None:
    """The memory limit every DuckDB connection of the project sets (None: DuckDB's default)."""
    import os

    value = os.environ.get("LIFECYCLE_DUCKDB_MEMORY_LIMIT", DUCKDB_MEMORY_LIMIT).strip()
    if not value:
        return None
    if not _MEMORY_LIMIT.match(value):
        raise ConfigError(
            "LIFECYCLE_DUCKDB_MEMORY_LIMIT",
            "value",
            f"{value!r} is not a size",
            "give a size such as 3GB or 8GB, or an empty value for DuckDB's default",
        )
    return value


def _duckdb_engine(url: sa.URL, threads: int | None = None, **pool: Any) -> sa.Engine:
    """A DuckDB engine whose every new connection sets the project's memory limit (and ``threads``)."""
    engine = sa.create_engine(url, **pool)
    limit = duckdb_memory_limit()

    @sa.event.listens_for(engine, "connect")
    def _settings(dbapi_connection, _record) -> None:
        if limit is not None:
            dbapi_connection.execute(f"SET memory_limit = '{limit}'")
        if threads is not None:
            dbapi_connection.execute(f"SET threads = {int(threads)}")

    return engine


#: Settings of every PostgreSQL session the project opens (a warehouse URL's own ``options`` naming one keep
#: their value). See :func:`_postgres_engine`.
POSTGRES_SESSION = {"jit": "off", "random_page_cost": "1.1"}


def _postgres_engine(url: sa.URL) -> sa.Engine:
    """A PostgreSQL engine whose sessions run with :data:`POSTGRES_SESSION`, but for what the URL's
    ``options`` set themselves (``?options=-c%20jit%3Don``).

    * ``jit = off``: the project's queries read a few hours of the history through indexes, but their
      estimated costs pass PostgreSQL's JIT thresholds, which assume long analytic scans: compiling a plan
      took 140 ms of a 160 ms entry query that found no row, in every hourly run.
    * ``random_page_cost = 1.1`` (PostgreSQL's default, 4, assumes spinning disks; 1.1 is what its
      documentation suggests for solid-state storage): the hour's windows of events lie together at the end of
      the table, where each hour's load appended them, but the planner costs reading them through an index
      as reading pages at random. At 4, the abandoned-cart entry query on a 1 M-customer history (73 M events)
      read the whole table to find the 0.9 M cart additions of its three days (4.5–7.2 s); at 1.1 it reads
      them through the ``(event_type, ts)`` index (1.5 s)."""
    engine = sa.create_engine(url, pool_pre_ping=True)
    own = set(re.findall(r"-c\s*([\w.]+)\s*=", str(url.query.get("options", ""))))
    settings = {name: value for name, value in POSTGRES_SESSION.items() if name not in own}
    if not settings:
        return engine

    @sa.event.listens_for(engine, "connect")
    def _settings(dbapi_connection, _record) -> None:
        with dbapi_connection.cursor() as cursor:
            for name, value in settings.items():
                cursor.execute(f"SET {name} = {value}")
        dbapi_connection.commit()  # a session setting made in a transaction that rolls back is undone

    return engine


def _check_duckdb_file_name(url: sa.URL) -> None:
    """Refuse a DuckDB file whose name (the catalog's name) equals a schema the project's SQL uses."""
    stem = PurePath(url.database or "").stem.lower()
    if stem in PROJECT_SCHEMAS:
        raise WarehouseError(
            f"DuckDB warehouse file {url.database!r}: a file named {stem!r} clashes with the schema "
            f"{stem!r} of the project's tables (DuckDB names the file's catalog after it, so "
            f"'{stem}.<table>' becomes ambiguous); give the file another name, e.g. 'warehouse.duckdb'"
        )


class Warehouse:
    """A warehouse reachable by a SQLAlchemy URL (``duckdb:///path`` or ``postgresql+psycopg://…``)."""

    #: Inside :meth:`held_open`.
    _held = False

    def __init__(self, url: str | sa.URL):
        self.url = sa.make_url(url)
        if self.url.get_backend_name() not in SUPPORTED_DIALECTS:
            raise WarehouseError(
                f"unsupported warehouse {self.url.get_backend_name()!r}; use one of {SUPPORTED_DIALECTS}"
            )
        if self.dialect == "duckdb":
            _check_duckdb_file_name(self.url)
        # DuckDB allows one writing process per file: release the file as soon as a transaction ends.
        if self.dialect == "duckdb":
            self.engine = _duckdb_engine(self.url, poolclass=NullPool)
        else:
            self.engine = _postgres_engine(self.url)

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    def __repr__(self) -> str:
        return f"Warehouse({self.url.render_as_string(hide_password=True)})"

    @contextmanager
    def begin(self, lock_wait_s: float = _DUCKDB_LOCK_WAIT_S) -> Iterator[sa.Connection]:
        """A connection inside one transaction: committed on success, rolled back on error.

        ``lock_wait_s`` is how long a DuckDB file held by another process is waited for.
        """
        with self.connect(lock_wait_s) as conn, conn.begin():
            yield conn

    @contextmanager
    def transactions(
        self, generic_plans: bool = False
    ) -> Iterator[Callable[[], AbstractContextManager[sa.Connection]]]:
        """For one thread that commits many short transactions in a row: a factory of transactions, each
        used as :meth:`begin` is. On PostgreSQL they all run on one connection of the pool, checked out once
        here: a transaction then costs no checkout and no liveness ping, a round trip each.

        ``generic_plans``: on that connection PostgreSQL plans each statement once, for any values of its
        parameters, and reuses the plan (``plan_cache_mode = force_generic_plan``; the driver prepares a
        statement from its fifth execution on). Only for statements whose best plan does not depend on the
        values, such as the dispatch's send-time check, which took 0.5 ms to plan and 0.2 ms to run. The
        setting is undone before the connection goes back to the pool; a connection that failed is closed.

        On DuckDB each transaction opens its own connection, as :meth:`begin` does, so the file can still be
        let go between them."""
        if self.dialect != "postgresql":
            yield self.begin
            return
        with self.connect() as held:

            @contextmanager
            def transaction() -> Iterator[sa.Connection]:
                with held.begin():
                    yield held

            if generic_plans:
                with transaction():
                    held.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            try:
                yield transaction
            except BaseException:
                held.invalidate()  # not back to the pool with the setting, or in an unknown state
                raise
            if generic_plans:
                with transaction():
                    held.exec_driver_sql("RESET plan_cache_mode")

    @contextmanager
    def reads_side_by_side(self, workers: int = 2) -> Iterator[Callable[..., Read]]:
        """Independent reads, each its own call (and so its own transactions), started with
        ``later(function, *args, **kwargs)``; ``.result()`` gives a read's result, or raises its error.

        On PostgreSQL up to ``workers`` of them run at once, each on a connection of its own, while the
        caller goes on: a PostgreSQL query runs on one core (parallel workers only for large scans), so the
        daily scores' reads left the rest of the machine idle. On DuckDB, which spreads every query over all
        the cores itself, a read runs only when its result is first asked for, in the caller's thread: in
        the order, and with the memory, of calling it there. Leaving the block cancels the reads not started
        and waits for those running."""
        if self.dialect != "postgresql":
            yield _Deferred
            return
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="warehouse-read")
        try:
            yield pool.submit
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    @contextmanager
    def held_open(self) -> Iterator[Warehouse]:
        """The DuckDB file kept open across the transactions inside, released at the end: a burst of short
        transactions (planning every chain's queries, a chain's three phases) opens the file once instead of
        once each. Other processes wait for the file meanwhile, so hold it only for such a burst. A no-op on
        PostgreSQL, whose pool keeps connections anyway, inside another ``held_open`` and after
        :meth:`keep_open`."""
        if self.dialect != "duckdb" or self._held:
            yield self
            return
        released = self.keep_open()
        self._held = True
        try:
            yield self
        finally:
            self.engine.dispose()
            self.engine, self._held = released, False

    def keep_open(self, connections: int = 1, threads: int | None = None) -> sa.Engine:
        """From now on, keep up to ``connections`` DuckDB connections open (with ``threads`` worker threads
        each, when given) instead of opening the file for every transaction; returns the engine it replaced.
        For a process that owns the file for a long stretch, such as a simulation. A transaction opened
        while others are open gets another connection to the same database (up to four more). PostgreSQL
        keeps its own pool: nothing changes there."""
        if self.dialect != "duckdb":
            return self.engine
        from sqlalchemy.pool import QueuePool

        replaced = self.engine
        self.engine = _duckdb_engine(
            self.url, threads, poolclass=QueuePool, pool_size=max(1, connections), max_overflow=4
        )
        self._held = True  # for good: a later held_open leaves these connections be
        return replaced

    def connect(self, lock_wait_s: float = _DUCKDB_LOCK_WAIT_S) -> sa.Connection:
        """A connection, no transaction begun, for the caller to close: a DuckDB file held by another
        process is waited for up to ``lock_wait_s``, as in :meth:`begin`."""
        deadline = time.monotonic() + lock_wait_s
        while True:
            try:
                return self.engine.connect()
            except sa.exc.OperationalError as exc:
                if self.dialect == "duckdb" and "lock" in str(exc).lower() and time.monotonic() < deadline:
                    time.sleep(0.5)
                    continue
                raise WarehouseError(f"{self!r} is unreachable: {exc.orig}") from exc

    @staticmethod
    def run(conn: sa.Connection, name: str, /, **params: Any) -> sa.CursorResult:
        """Execute the SQL file ``include/sql/<name>`` with bound parameters."""
        return _execute(conn, sql.single_statement(name), params)

    @staticmethod
    def execute(conn: sa.Connection, statement: str, /, **params: Any) -> sa.CursorResult:
        """Execute one statement's text with the parameters of ``params`` it binds (the rest are ignored)."""
        return _execute(conn, statement, params)

    @staticmethod
    def records(result: sa.CursorResult) -> list[dict[str, Any]]:
        """A query's rows as dicts, fetched from the driver at once (SQLAlchemy's row-by-row fetching costs
        about a second per 100 k rows); the result is closed."""
        keys = list(result.keys())
        try:
            return [dict(zip(keys, row, strict=True)) for row in result.cursor.fetchall()]
        finally:
            result.close()

    @staticmethod
    def run_steps(
        conn: sa.Connection, name: str, /, until_empty: str | None = None, **params: Any
    ) -> list[dict[str, Any]]:
        """Execute a multi-statement SQL file in order; returns the rows of its last statement.

        ``until_empty`` names a table one statement of the file creates (``CREATE TEMP TABLE stage_x AS``)
        and every later statement only reads: when that statement creates no row, the rest is skipped and
        nothing is returned.
        """
        result = None
        creates = _creates_table(until_empty) if until_empty else None
        found = False
        for statement in sql.statements(name, conn.dialect.name):
            result = _execute(conn, statement, params)
            if creates is not None and creates.match(statement):
                found = True
                if result.rowcount == 0:
                    return []
        if creates is not None and not found:
            raise ConfigError(
                str(SQL_DIR / name),
                "sql",
                f"no statement creates the table {until_empty}",
                f"create it with CREATE TEMP TABLE {until_empty} AS ..., or do not pass until_empty",
            )
        return [dict(row) for row in result.mappings()] if result is not None and result.returns_rows else []

    def fetch_df(self, name: str, /, **params: Any) -> pd.DataFrame:
        """Run a query file and return its result as a DataFrame (see `query_frame`)."""
        with self.begin() as conn:
            return self.query_frame(conn, sql.single_statement(name), **params)

    def query_frame(self, conn: sa.Connection, statement: str, /, **params: Any) -> pd.DataFrame:
        """A query's result as the DataFrame pandas builds from its rows as Python tuples, on both engines.

        That frame is the contract (NULL-holding integer columns as NaN floats, booleans with NULLs, DECIMAL
        and DATE values as Python objects, an all-NULL column as None objects, an empty result as object
        columns). DuckDB hands its result over as Arrow columns, several times faster than row by row, and
        each column gets the dtype and values the rows would have given; PostgreSQL's rows come straight
        from the driver's cursor, without building SQLAlchemy row objects.
        """
        import pandas as pd

        if self.dialect == "duckdb":
            return _duckdb_frame(conn, statement, params)
        result = _execute(conn, statement, params)
        try:
            return pd.DataFrame(result.cursor.fetchall(), columns=list(result.keys()))
        finally:
            result.close()

    def fetch_all(self, name: str, /, **params: Any) -> list[Mapping[str, Any]]:
        with self.begin() as conn:
            return [dict(row) for row in self.run(conn, name, **params).mappings()]

    def refresh_statistics(
        self, conn: sa.Connection, written: Mapping[str, int], read_by_time: Collection[str] = ()
    ) -> list[str]:
        """PostgreSQL: ``ANALYZE`` each ``schema.table`` of ``written`` (rows just inserted or updated there)
        that was never analysed or whose rows written exceed a tenth of what the planner believes it holds
        (autovacuum's own rule, 50 + 10 %). The statements that follow a bulk write would otherwise be
        planned on statistics from before it, or none: a freshly filled table taken for one row turns its
        joins into nested loops over seq scans (the chains run of a 100 k-customer shop took 23 s instead of
        3). Autovacuum catches up only later, and may be off.

        A table of ``read_by_time`` (its newest rows are what the next queries read, by a time column) is
        analysed after any write: the planner's histogram ends at its last ``ANALYZE``, so rows newer than
        that are estimated as almost none however many there are (an hour of 100 k events, 44,000 cart
        additions, was taken for 184 rows, and the cart entry query's nested loops took 2.0 s, not 0.3 s).
        ``ANALYZE`` reads a fixed sample (30,000 rows), whatever the table's size.

        A table another transaction is analysing is passed over rather than waited for. Returns the tables
        analysed; DuckDB keeps its statistics as it writes, so there it does nothing."""
        if self.dialect != "postgresql":
            return []
        names = _table_names([table for table, rows in written.items() if rows > 0])
        if not names:
            return []
        believed = {
            row.name: row.reltuples
            for row in conn.execute(
                sa.text(
                    "SELECT n.nspname || '.' || c.relname AS name, c.reltuples FROM pg_class AS c "
                    "INNER JOIN pg_namespace AS n ON c.relnamespace = n.oid "
                    "WHERE n.nspname || '.' || c.relname = ANY(:names) AND c.relkind = 'r'"
                ),
                {"names": names},
            )
        }
        stale = [
            table
            for table in names
            if table in believed
            and (table in read_by_time or believed[table] < 0 or written[table] > 50 + 0.1 * believed[table])
        ]
        return [table for table in stale if self._analyze_without_waiting(conn, table)]

    @staticmethod
    def _analyze_without_waiting(conn: sa.Connection, table: str) -> bool:
        """``ANALYZE`` holds its table's SHARE UPDATE EXCLUSIVE lock until the writer's transaction ends, and
        two of them on one table wait for each other: a writer would wait for another's whole transaction,
        and could close a deadlock with it (the other waiting on a row this one locked). So the lock is
        asked for once, briefly, in a savepoint; when another transaction holds it, the table is left to
        that transaction (which is analysing it) and to the next writer. The caller's ``lock_timeout`` is
        put back either way."""
        previous = conn.exec_driver_sql("SELECT current_setting('lock_timeout')").scalar()
        try:
            with conn.begin_nested():
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{_ANALYZE_LOCK_WAIT_MS}ms'")
                conn.exec_driver_sql(f"ANALYZE {table}")
        except sa.exc.OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                raise
            return False
        finally:
            conn.execute(sa.text("SELECT set_config('lock_timeout', :value, true)"), {"value": previous})
        return True

    def vacuum(self, tables: Collection[str]) -> list[str]:
        """PostgreSQL: ``VACUUM (ANALYZE)`` each ``schema.table`` of ``tables``, outside any transaction
        (``VACUUM`` cannot run inside one); returns them. For after a burst of updates that autovacuum would
        reach only later, or never where it is off: a catch-up of a whole history rewrites each customer's
        state once per step (the 100 k-customer demo shop's ``crm.customer_state`` grew from 14 to 45 MB,
        450 k dead rows). DuckDB: nothing."""
        if self.dialect != "postgresql":
            return []
        names = _table_names(tables)
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in names:
                conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")
        return names

    def run_script(self, conn: sa.Connection, script: str) -> None:
        """Execute a multi-statement script without parameters (migrations)."""
        raw = conn.connection.driver_connection
        if self.dialect == "duckdb":
            raw.execute(script)
        else:
            with raw.cursor() as cur:
                cur.execute(script)

    def insert_df(self, conn: sa.Connection, table: str, frame: pd.DataFrame) -> int:
        """Bulk-append a DataFrame to ``schema.table`` (columns matched by name); returns the row count."""
        if frame.empty:
            return 0
        schema, name = table.split(".")
        raw = conn.connection.driver_connection
        if self.dialect == "duckdb":
            # Identifiers cannot be bound; they come from the project's own table names, quoted here.
            target = f'"{schema}"."{name}"'
            raw.register("_lifecycle_frame", frame)
            try:
                raw.execute(f"INSERT INTO {target} BY NAME SELECT * FROM _lifecycle_frame")
            finally:
                raw.unregister("_lifecycle_frame")
        else:
            from psycopg import sql as pgsql

            copy_sql = pgsql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
                pgsql.Identifier(schema, name), pgsql.SQL(", ").join(map(pgsql.Identifier, frame.columns))
            )
            with raw.cursor() as cur, cur.copy(copy_sql) as copy:
                for chunk in _csv_chunks(frame):
                    copy.write(chunk)
        return len(frame)


#: DuckDB result types read column by column through Arrow by `Warehouse.query_frame`; a result with any
#: other type (intervals, lists, structs, times, time zones…) is read row by row.
_DUCKDB_INTEGERS = frozenset({
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
})  # fmt: skip
_DUCKDB_COLUMNAR = _DUCKDB_INTEGERS | {"FLOAT", "DOUBLE", "BOOLEAN", "VARCHAR", "DATE", "TIMESTAMP", '"NULL"'}


def _duckdb_frame(conn: sa.Connection, statement: str, params: Mapping[str, Any]) -> pd.DataFrame:
    """The statement run as a DuckDB relation on the transaction's connection, its result read as Arrow."""
    import pandas as pd

    clause = sa.text(statement)
    compiled = clause.compile(dialect=conn.dialect)
    values = compiled.construct_params({key: params[key] for key in compiled.params if key in params})
    # The relation API, not a DB-API cursor, whose Arrow output is an extra copy of the whole result.
    relation = conn.connection.driver_connection.sql(
        compiled.string, params=[values[key] for key in compiled.positiontup or ()] or None
    )
    kinds = [str(kind) for kind in relation.types]
    if not all(map(_columnar, kinds)):
        return pd.DataFrame(relation.fetchall(), columns=relation.columns)
    table = relation.to_arrow_table()
    if not table.num_rows:
        return pd.DataFrame([], columns=relation.columns)
    frame = pd.DataFrame({i: _as_from_rows(table.column(i), kind) for i, kind in enumerate(kinds)})
    frame.columns = relation.columns
    return frame


def _columnar(kind: str) -> bool:
    return kind in _DUCKDB_COLUMNAR or kind.startswith("DECIMAL(")


def _as_from_rows(column: Any, kind: str) -> Any:
    """One Arrow column of a DuckDB result as the column pandas infers from the same values row by row."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.null_count == len(column):
        return np.full(len(column), None, dtype=object)
    if kind in _DUCKDB_INTEGERS:
        try:
            column = pc.cast(column, pa.int64())
        except pa.ArrowInvalid:  # beyond BIGINT: Python ints, inferred as the rows would be
            values = [(None if v is None else int(v),) for v in column.to_pylist()]
            return pd.DataFrame(values)[0]
        # With NULLs, floats rounded to the nearest double, as pandas makes of Python ints and None.
        return (
            pc.cast(column, pa.float64(), safe=False).to_numpy() if column.null_count else column.to_numpy()
        )
    if kind in ("FLOAT", "DOUBLE"):
        return pc.cast(column, pa.float64()).to_numpy()
    if kind == "BOOLEAN":
        return np.array(column.to_pylist(), dtype=object) if column.null_count else column.to_numpy()
    if kind == "TIMESTAMP":
        return column.to_pandas().astype("datetime64[us]")
    return column.to_pandas()  # VARCHAR as str, DECIMAL as Decimal objects, DATE as date objects


_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*")


def _table_names(tables: Iterable[str]) -> list[str]:
    """``tables`` as a list, each checked to be a plain ``schema.table`` (they are written into SQL)."""
    names = list(tables)
    for table in names:
        if not _TABLE_NAME.fullmatch(table):
            raise ValueError(f"not a schema.table name: {table!r}")
    return names


def _execute(conn: sa.Connection, statement: str, params: Mapping[str, Any]) -> sa.CursorResult:
    """Execute with the parameters the statement binds, so one parameter set can serve a whole file.

    DuckDB's SQLAlchemy dialect keeps no compiled statements (``supports_statement_cache = False``), so
    SQLAlchemy would compile the text again on every execution: about 2 ms for a dispatch wave's UPDATE,
    a third of the wave. There the driver's form of each text is compiled once and executed as is."""
    clause, used = sql.clause(statement)
    values = {key: params[key] for key in used if key in params}
    if conn.dialect.name == "duckdb" and len(values) == len(used):
        text, order = _driver_form(statement, conn.dialect)
        return conn.exec_driver_sql(text, tuple(values[key] for key in order))
    return conn.execute(clause, values)  # (a missing value: SQLAlchemy's error names it)


@lru_cache(maxsize=2048)
def _driver_form(statement: str, dialect: sa.Dialect) -> tuple[str, tuple[str, ...]]:
    """``statement`` as the dialect's driver takes it, and the names of its positional parameters."""
    compiled = sql.clause(statement)[0].compile(dialect=dialect)
    return compiled.string, tuple(compiled.positiontup or ())


@lru_cache(maxsize=64)
def _creates_table(table: str) -> re.Pattern[str]:
    return re.compile(rf"CREATE\s+TEMP(?:ORARY)?\s+TABLE\s+{re.escape(table)}\s+AS\b", re.IGNORECASE)


class Read(Protocol):
    """A read started by :meth:`Warehouse.reads_side_by_side` (a :class:`concurrent.futures.Future` on
    PostgreSQL)."""

    def result(self) -> Any: ...


class _Deferred:
    """A call made when its result is first asked for, then kept (DuckDB's side of
    :meth:`Warehouse.reads_side_by_side`)."""

    def __init__(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any):
        self._call: Callable[[], Any] | None = lambda: function(*args, **kwargs)
        self._value: Any = None

    def result(self) -> Any:
        if self._call is not None:
            self._value, self._call = self._call(), None
        return self._value


#: Rows of a frame written as one piece of CSV for PostgreSQL's COPY: the CSV is never the whole frame's.
_CSV_CHUNK_ROWS = 50_000


def _csv_chunks(frame: pd.DataFrame) -> Iterator[memoryview | str]:
    """The frame as CSV for PostgreSQL's COPY, in pieces of at most ``_CSV_CHUNK_ROWS`` rows.

    Arrow writes it, in C++: a row of the daily scores (20 columns) takes 1.7 µs, against 15 µs through
    pandas' ``to_csv``, which took 10 s of the daily scores at 1 M customers. Its CSV is what COPY
    reads: NULL for a missing value (NaN, None, NA), quoted strings, so that an empty one stays empty as on
    DuckDB, and integral floats without a fraction, which a BIGINT column takes. A frame Arrow cannot type
    (a column of mixed Python objects, lists, time spans) is written by pandas instead."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    options = pacsv.WriteOptions(include_header=False)

    def written(start: int) -> memoryview:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table.slice(start, _CSV_CHUNK_ROWS), sink, options)
        return memoryview(sink.getvalue())

    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        first = written(0)  # (the later pieces have its types)
    except pa.ArrowException as exc:
        log.debug("the CSV of %d rows is written by pandas: %s", len(frame), exc)
        frame = _integral_floats_as_ints(frame)  # (of the whole frame: a piece may hold none of its NaN)
        for start in range(0, len(frame), _CSV_CHUNK_ROWS):
            buffer = io.StringIO()
            frame.iloc[start : start + _CSV_CHUNK_ROWS].to_csv(
                buffer, index=False, header=False, date_format="%Y-%m-%d %H:%M:%S.%f"
            )
            yield buffer.getvalue()
        return
    yield first
    for start in range(_CSV_CHUNK_ROWS, table.num_rows, _CSV_CHUNK_ROWS):
        yield written(start)


def _integral_floats_as_ints(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable integer columns arrive as floats ("1.0"), which PostgreSQL's COPY refuses for BIGINT."""
    out = frame.copy(deep=False)
    for column in frame.columns[frame.dtypes == "float64"]:
        values = frame[column]
        if values.isna().any() and (values.dropna() % 1 == 0).all():
            out[column] = values.astype("Int64")
    return out
