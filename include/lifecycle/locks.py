"""Planning runs serialised by the warehouse itself, so that concurrent runs cannot break a cap.

A policy run reads what customers already received and plans new messages from it; two runs doing that at
the same time on PostgreSQL (READ COMMITTED) would not see each other's plans and could each send a
customer the day's allowance. ``max_active_runs=1`` does not prevent it: a backfill, a manual ``dags test``
or a second deployment gets past it. So every planning transaction first takes a lock of the warehouse:

* **PostgreSQL**: a transaction-level advisory lock (``pg_try_advisory_xact_lock``), polled until the wait
  runs out. The commit or rollback releases it, also when the worker dies. While it holds the lock the
  session is named after its run (``application_name``), so a run kept waiting can say which run is active
  and since when.
* **DuckDB**: one process at a time can open the file at all, so the file lock already serialises; a
  second process waits for it and, when the wait runs out, gets the same kind of message.

Reads made after the lock is taken see everything the previous holder committed.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC

import sqlalchemy as sa

from lifecycle.errors import LifecycleError, WarehouseError
from lifecycle.warehouse import Warehouse

#: How long a run waits for another run holding the same lock before giving up (seconds).
DEFAULT_LOCK_WAIT_S = 300.0
_POLL_S = 0.2
#: The first key of the project's advisory locks, so they cannot collide with other applications' locks.
_NAMESPACE = zlib.crc32(b"lifecycle") & 0x7FFFFFFF
_DUCKDB_HOLDER = re.compile(r"Conflicting lock is held in (?P<holder>.+?\(PID \d+\))")


class RunActiveError(LifecycleError):
    """Another run holds the planning lock and did not finish within the wait."""


def lock_id(name: str) -> int:
    """The advisory lock key of a planning lock ("policy", "chains:welcome"): stable across processes."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


@contextmanager
def exclusive(
    warehouse: Warehouse, name: str, kind: str, run_key: str, wait_s: float = DEFAULT_LOCK_WAIT_S
) -> Iterator[sa.Connection]:
    """A transaction of ``warehouse`` that holds the planning lock ``name`` until it ends.

    ``kind`` and ``run_key`` say who holds it ("policy run", "scheduled__2026-03-02T12:00:00+00:00").
    Raises :class:`RunActiveError` naming the active run when the lock is not free within ``wait_s``.
    """
    if warehouse.dialect == "postgresql":
        with warehouse.begin() as conn:
            _take_advisory_lock(warehouse, conn, name, kind, run_key, wait_s)
            yield conn
        return
    with ExitStack() as stack:
        try:
            conn = stack.enter_context(warehouse.begin(lock_wait_s=wait_s))
        except WarehouseError as exc:
            cause = exc.__cause__
            if not isinstance(cause, sa.exc.OperationalError) or "lock" not in str(cause).lower():
                raise
            found = _DUCKDB_HOLDER.search(str(cause.orig))
            holder = found["holder"] if found else "another process"
            raise RunActiveError(
                f"another {kind} is active: the DuckDB file {warehouse.url.database} is held by {holder}; "
                f"waited {wait_s:.0f} s for it. DuckDB lets one process write a file at a time: wait for "
                f"that process to finish, then start {kind} {run_key} again"
            ) from exc
        yield conn


def _take_advisory_lock(
    warehouse: Warehouse, conn: sa.Connection, name: str, kind: str, run_key: str, wait_s: float
) -> None:
    key = {"namespace": _NAMESPACE, "lock_id": lock_id(name)}
    deadline = time.monotonic() + wait_s
    while not warehouse.run(conn, "locks/try_lock.sql", **key).scalar():
        if time.monotonic() >= deadline:
            holder = warehouse.run(conn, "locks/holder.sql", **key).mappings().first()
            raise RunActiveError(_active_message(kind, run_key, holder, wait_s))
        time.sleep(_POLL_S)
    # PostgreSQL keeps at most 63 bytes of an application name.
    warehouse.run(conn, "locks/name_holder.sql", holder=f"lifecycle {kind} {run_key}"[:63])


def _active_message(kind: str, run_key: str, holder, wait_s: float) -> str:
    if holder is None:  # released in the very moment the wait ran out
        return f"another {kind} was active for the whole wait of {wait_s:.0f} s; start {run_key} again"
    since = holder["xact_start"]
    since_text = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if since else "an unknown time"
    who = holder["application_name"] or "a session without a name"
    return (
        f"another {kind} is active since {since_text} ({who}, server process {holder['pid']}); "
        f"waited {wait_s:.0f} s for it. Runs that plan messages run one at a time per warehouse so that no "
        f"cap can be broken: wait for it to finish, or end a stuck one with pg_terminate_backend("
        f"{holder['pid']}), then start {kind} {run_key} again"
    )
