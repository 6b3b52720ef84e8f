"""The hourly processing of the trigger chains, all chains of a run together, with no Airflow in sight.

A run (``as_of``, ``run_key``) goes in two parts:

1. **entries, per chain** — each chain's entry query finds the triggers that became due since the chain's
   watermark (minus a grace for late rows), in a read of its own: a broken query stops only its own chain,
   recorded in ``crm.chain_run_failures`` with the phase ``enter``;
2. **advance, all chains at once** — in one transaction, one statement per step for every chain that read its
   entries (their settings are rows of ``crm.chain_run_members``):

   * progress: touches and completions from what the contact policy decided in earlier runs;
   * entries: admissible triggers become ``crm.chain_instances``; the watermarks move on;
   * exits: each exit kind in :data:`EXIT_ORDER`, for the chains that turn it on, before any step;
   * due steps: for each active instance, its next due step that is not done, with the template resolved
     for the customer's RFM segment, goes to ``crm.due_steps`` (the hand-off to the contact policy). A step
     a segment override skips is logged in ``crm.chain_step_log`` and the following due step is taken.

The statements of part 2 cost about the same for one chain as for sixteen, so an hour costs what its new rows
and active instances cost, not a fixed price per chain. A re-run of the same run key writes the same due
steps (the run's earlier rows are replaced, its own decisions ignored). Python only handles the candidates
(new triggers, due steps), never the event history.

Part 2 holds the chains' planning lock (:mod:`lifecycle.locks`), so two runs at once (a backfill, a manual
run) take turns instead of colliding. If it fails (the engine's own SQL, not a chain's file), every chain of
the run is recorded as failed in the phase it reached.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lifecycle import sql
from lifecycle.chains.config import NO_SCORES, SCORES_PARAMS, ChainConfig, load_chains
from lifecycle.chains.validation import QUERY_FAULTS, entry_query_error
from lifecycle.errors import ConfigError, LifecycleError
from lifecycle.ingest_config import LATE_GRACE
from lifecycle.locks import exclusive
from lifecycle.paths import SQL_DIR

if TYPE_CHECKING:
    from lifecycle.warehouse import Warehouse

log = logging.getLogger(__name__)

#: Columns every entry query must return; ``branch``, ``product_ids`` and ``trigger_value`` are optional,
#: any other column is context for the templates.
REQUIRED_COLUMNS = ("customer_id", "trigger_key", "triggered_at")
_STAGED_COLUMNS = ("branch", "product_ids", "trigger_value")
#: The longest error text kept for a failed chain (the full traceback is in the task's log).
_ERROR_CHARS = 4000
#: Exit checks in the order they are applied; the first that holds names the exit reason.
EXIT_ORDER = (
    "unsubscribed",
    "purchase_of_trigger_product",
    "any_purchase",
    "any_cart",
    "entered_chain",
    "max_touches",
    "time_limit",
)


@dataclass
class ChainRunFigures:
    chain_id: str
    run_key: str
    as_of: datetime
    window_start: datetime
    candidates: int = 0
    entered: int = 0
    exited: int = 0
    completed: int = 0
    due_steps: int = 0
    skipped_steps: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["as_of"], data["window_start"] = self.as_of.isoformat(), self.window_start.isoformat()
        return data


def naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


class ChainsFailedError(LifecycleError):
    """Some chains of a run failed (the others ran); names each with the phase and the error."""

    def __init__(self, run_key: str, failures: dict[str, dict[str, Any]], figures: list[ChainRunFigures]):
        self.run_key, self.failures, self.figures = run_key, failures, figures
        listed = "; ".join(f"{chain_id} ({f['phase']}): {f['error']}" for chain_id, f in failures.items())
        super().__init__(
            f"{len(failures)} chain(s) failed in run {run_key}, the other chains ran: {listed}. Fix the "
            "named file and clear the failed tasks (or run the chains again for the same run key)"
        )


def run_chains(
    warehouse: Warehouse, as_of: datetime, run_key: str, chains: dict[str, ChainConfig] | None = None
) -> list[ChainRunFigures]:
    """Every chain of the map at ``as_of``: entries per chain, then all chains advanced together.

    A chain whose entry query fails does not stop the others: once all have run, :class:`ChainsFailedError`
    names the failed ones (their due steps are missing from the run, everything else is written). A DuckDB
    file is opened once for the whole run, not once per transaction (each opening reads the file's catalog
    and each closing writes a checkpoint: both grow with the warehouse).
    """
    chains = chains if chains is not None else load_chains()
    as_of = naive_utc(as_of)
    figures: list[ChainRunFigures] = []
    with warehouse.held_open():
        # DuckDB: this process holds the file for the whole run, so no other run can move a watermark between
        # the reads and the advance. PostgreSQL: the reads wait for the lock too, each in a savepoint of the
        # run's transaction (a failing query rolls back only its own read).
        locked = warehouse.dialect == "postgresql"
        staged = [] if locked else read_entries(warehouse, chains, as_of, run_key)
        try:
            with _run_lock(warehouse, run_key) as conn:
                if locked:
                    staged = read_entries(warehouse, chains, as_of, run_key, conn)
                if staged:
                    figures = advance_on(warehouse, conn, staged, as_of, run_key)
        except PhaseError as exc:
            log.exception("chains run %s failed in its %s phase", run_key, exc.phase)
            for entry in staged:
                record_failure(warehouse, entry.chain.id, run_key, exc.phase, exc.__cause__ or exc)
    failures = failed_chains(warehouse, run_key, list(chains))
    if failures:
        raise ChainsFailedError(run_key, failures, figures)
    return figures


def process_chain(warehouse: Warehouse, chain: ChainConfig, as_of: datetime, run_key: str) -> ChainRunFigures:
    """One chain's run at ``as_of`` (a run of the map with this chain alone); returns its figures."""
    return run_chains(warehouse, as_of, run_key, {chain.id: chain})[0]


@dataclass
class StagedChain:
    """A chain whose entry query ran for a run: the window's start and the query's rows."""

    chain: ChainConfig
    since: datetime
    rows: list[dict[str, Any]]


class PhaseError(LifecycleError):
    """Advancing the run's chains failed in ``phase`` (``enter``, ``exit`` or ``due``); the cause is
    chained."""

    def __init__(self, phase: str):
        self.phase = phase
        super().__init__(f"advancing the chains failed in the {phase} phase")


@contextmanager
def _phase(name: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        raise PhaseError(name) from exc


def read_entries(
    warehouse: Warehouse,
    chains: dict[str, ChainConfig],
    as_of: datetime,
    run_key: str,
    conn: sa.Connection | None = None,
) -> list[StagedChain]:
    """Each chain's entry query at ``as_of``, in a transaction of its own, or in a savepoint of ``conn``'s
    (a failing query aborts either); a chain that fails is recorded with the phase ``enter`` and left out."""

    def reading():
        return conn.begin_nested() if conn is not None else warehouse.begin()

    with reading() as read:
        watermarks = watermarks_on(warehouse, conn or read)
        scores = scores_in_force(warehouse, conn or read, as_of)
    staged = []
    for chain in chains.values():
        try:
            with failure_recorded(warehouse, chain.id, run_key, "enter"), reading() as read:
                since, rows = entry_rows(warehouse, conn or read, chain, as_of, watermarks, scores)
                _check_columns(chain, rows)  # a query missing a required column fails here, on its own
        except Exception:
            log.exception("chain %s failed in run %s", chain.id, run_key)
            continue
        staged.append(StagedChain(chain, since, rows))
    return staged


@contextmanager
def failure_recorded(warehouse: Warehouse, chain_id: str, run_key: str, phase: str) -> Iterator[None]:
    """Run a phase of a chain; if it fails, record the failure in ``crm.chain_run_failures`` and re-raise."""
    try:
        yield
    except Exception as exc:
        record_failure(warehouse, chain_id, run_key, phase, exc)
        raise


def record_failure(
    warehouse: Warehouse, chain_id: str, run_key: str, phase: str, error: BaseException
) -> None:
    """Store why a chain failed in a run; a failure to store it is logged, never raised over the error."""
    raw = error.orig if isinstance(error, sa.exc.DBAPIError) else None
    text = f"{type(raw).__name__}: {raw}" if raw is not None else str(error)
    try:
        with warehouse.begin() as conn:
            warehouse.run_steps(
                conn,
                "chains/engine/record_failure.sql",
                run_key=run_key,
                chain_id=chain_id,
                phase=phase,
                error=text[:_ERROR_CHARS],
                now=_now(),
            )
    except Exception:
        log.exception("could not record that chain %s failed in run %s", chain_id, run_key)


def failed_chains(warehouse: Warehouse, run_key: str, expected: list[str]) -> dict[str, dict[str, Any]]:
    """The chains of ``expected`` that did not finish run ``run_key``: phase, error and when, per chain.

    A chain with neither figures nor a recorded failure (its task was killed, or never started because
    an upstream task failed) is reported as such.
    """
    rows = warehouse.fetch_all("chains/engine/failures.sql", run_key=run_key)
    finished = {r["chain_id"] for r in rows if r["phase"] is None}
    failures = {
        r["chain_id"]: {"phase": r["phase"], "error": r["error"], "failed_at": r["failed_at"]}
        for r in rows
        if r["phase"] is not None and r["chain_id"] not in finished
    }
    for chain_id in expected:
        if chain_id not in finished and chain_id not in failures:
            failures[chain_id] = {
                "phase": "unknown",
                "error": "the chain recorded neither figures nor an error in this run; see its tasks' logs",
                "failed_at": None,
            }
    return dict(sorted(failures.items()))


def watermarks_on(warehouse: Warehouse, conn: sa.Connection) -> dict[str, datetime]:
    """Each chain's watermark (a chain missing here never ran)."""
    return {row[0]: row[1] for row in warehouse.run(conn, "chains/engine/watermark.sql")}


def scores_in_force(warehouse: Warehouse, conn: sa.Connection, as_of: datetime) -> dict[str, Any]:
    """The daily scores a run at ``as_of`` reads (the newest date before its day) as entry parameters:
    ``scores_as_of``, and ``unscored_from``, from when on orders may be missing from them. Without scores,
    both are the beginning of time: no scored row matches, and every order counts as unscored."""
    row = warehouse.run(conn, "chains/engine/scores_in_force.sql", as_of=as_of).first()
    if row is None:
        return dict(NO_SCORES)
    return {"scores_as_of": row[0], "unscored_from": row[1]}


def entry_rows(
    warehouse: Warehouse,
    conn: sa.Connection,
    chain: ChainConfig,
    as_of: datetime,
    watermarks: dict[str, datetime] | None = None,
    scores: dict[str, Any] | None = None,
) -> tuple[datetime, list[dict[str, Any]]]:
    """The chain's entry query as a run at ``as_of`` executes it: from its watermark minus the late grace
    (or ``first_run_lookback`` on a first run) to ``as_of``. Reads only; returns the window start and rows.
    ``watermarks`` (from :func:`watermarks_on`) and ``scores`` (from :func:`scores_in_force`) spare reading
    them again for each chain."""
    as_of = naive_utc(as_of)
    watermark = (watermarks if watermarks is not None else watermarks_on(warehouse, conn)).get(chain.id)
    since = watermark - LATE_GRACE if watermark else as_of - chain.entry.first_run_lookback
    since = min(since, as_of)
    params = {"since": since, "as_of": as_of, **chain.entry.params}
    if SCORES_PARAMS & sql.binds(chain.entry.sql):
        params.update(scores if scores is not None else scores_in_force(warehouse, conn, as_of))
    try:
        rows = warehouse.records(warehouse.run(conn, chain.entry.sql, **params))
    except QUERY_FAULTS as exc:
        raise entry_query_error(chain, exc) from exc
    return since, rows


def exits_on(chain: ChainConfig) -> list[str]:
    """The exit kinds the chain's configuration turns on, in :data:`EXIT_ORDER`."""
    return [kind for kind in EXIT_ORDER if getattr(chain.exits, kind) not in (None, False, [])]


def exit_statements(chain: ChainConfig, as_of: datetime, run_key: str) -> list[tuple[str, dict[str, Any]]]:
    """The exit queries the chain's configuration turns on, in :data:`EXIT_ORDER`, with parameters to plan
    them (``active_since`` is ``as_of`` here; a run binds the earliest entry among the active instances)."""
    as_of = naive_utc(as_of)
    base = {"as_of": as_of, "run_key": run_key, "now": _now(), "active_since": as_of}
    return [(f"chains/exits/{kind}.sql", base) for kind in exits_on(chain)]


def advance_on(
    warehouse: Warehouse,
    conn: sa.Connection,
    staged: list[StagedChain],
    as_of: datetime,
    run_key: str,
) -> list[ChainRunFigures]:
    """Part 2 of a run on an open transaction the caller holds (and may roll back, as the chain preview
    does): progress, entries, exits and due steps of every staged chain, one statement each for all of them.
    Returns each chain's figures (also stored in ``crm.chain_runs``). Raises :class:`PhaseError`."""
    import pandas as pd

    as_of, now = naive_utc(as_of), _now()
    base = {"as_of": as_of, "run_key": run_key, "now": now}
    chains = {entry.chain.id: entry.chain for entry in staged}
    with _phase("enter"):
        _sync_steps(warehouse, conn, list(chains.values()))
        warehouse.insert_df(conn, "crm.chain_run_members", _members_frame(staged, as_of, run_key))
        candidates = [_candidates_frame(e.chain, e.rows) for e in staged if e.rows]
        # PostgreSQL plans what follows on statistics that know the tables just written (a no-op on DuckDB).
        warehouse.refresh_statistics(conn, {"crm.chain_run_members": len(staged)})
        warehouse.run_steps(conn, "chains/engine/progress.sql", **base)
        if candidates:
            frame = pd.concat(candidates, ignore_index=True)
            warehouse.insert_df(conn, "crm.chain_candidates", frame)
            warehouse.run_steps(conn, "chains/engine/enter.sql", **base)
            warehouse.refresh_statistics(conn, {"crm.chain_instances": len(frame)})
        warehouse.run(conn, "chains/engine/set_watermark.sql", **base)
    with _phase("exit"):
        # The earliest entry among each chain's active instances: the reads of events and orders start there.
        active = dict(warehouse.run(conn, "chains/engine/active_since.sql", run_key=run_key).all())
        for kind in EXIT_ORDER:
            turned_on = [c for c in active if kind in exits_on(chains[c])]
            if turned_on:
                since = min(active[c] for c in turned_on)
                warehouse.run(conn, f"chains/exits/{kind}.sql", **base, active_since=since)
    with _phase("due"):
        if warehouse.run(conn, "chains/engine/run_written.sql", run_key=run_key).scalar():
            warehouse.run_steps(conn, "chains/engine/clear_run.sql", run_key=run_key)
        # Chains with no active instance have no due step: their customers and scores are not read.
        rows = warehouse.records(warehouse.run(conn, "chains/engine/due.sql", **base)) if active else []
        by_chain: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_chain.setdefault(row["chain_id"], []).append(row)
        counts = {
            row["chain_id"]: row
            for row in warehouse.run(conn, "chains/engine/run_figures.sql", run_key=run_key).mappings()
        }
        figures, due, skipped = [], [], []
        for entry in staged:
            chain = entry.chain
            chain_due, chain_skipped = plan_steps(chain, by_chain.get(chain.id, []), run_key)
            due += chain_due
            skipped += chain_skipped
            done = counts.get(chain.id, {})
            figures.append(
                ChainRunFigures(
                    chain.id,
                    run_key,
                    as_of,
                    entry.since,
                    candidates=len(entry.rows),
                    entered=int(done.get("entered") or 0),
                    exited=int(done.get("exited") or 0),
                    completed=int(done.get("completed") or 0),
                    due_steps=len(chain_due),
                    skipped_steps=len(chain_skipped),
                )
            )
        warehouse.insert_df(conn, "crm.due_steps", pd.DataFrame(due))
        warehouse.insert_df(
            conn, "crm.chain_step_log", pd.DataFrame([s | {"logged_at": now} for s in skipped])
        )
        # The contact policy reads this run's due steps next.
        warehouse.refresh_statistics(conn, {"crm.due_steps": len(due), "crm.chain_step_log": len(skipped)})
        records = [asdict(f) | {"finished_at": now} for f in figures]
        warehouse.insert_df(conn, "crm.chain_runs", pd.DataFrame(records))
        warehouse.run_steps(conn, "chains/engine/clear_scratch.sql", run_key=run_key)
    return figures


def _sync_steps(warehouse: Warehouse, conn: sa.Connection, chains: list[ChainConfig]) -> None:
    """Rewrite the configured steps of the chains whose files changed them (a read costs less than a
    rewrite, and most runs change nothing)."""
    import pandas as pd

    stored: dict[str, list[tuple]] = {}
    for row in warehouse.run(conn, "chains/engine/steps.sql"):
        stored.setdefault(row[0], []).append(tuple(row[1:]))
    changed = [chain for chain in chains if stored.get(chain.id, []) != _step_rows(chain)]
    for chain in changed:
        warehouse.run(conn, "chains/engine/sync_steps.sql", chain_id=chain.id)
    if changed:
        warehouse.insert_df(conn, "crm.chain_steps", pd.concat([_steps_frame(c) for c in changed]))


def _members_frame(staged: list[StagedChain], as_of: datetime, run_key: str):
    """One ``crm.chain_run_members`` row per staged chain: what the run's statements read of its file."""
    import pandas as pd

    rows = []
    for entry in staged:
        chain, exits = entry.chain, entry.chain.exits
        rows.append(
            {
                "run_key": run_key,
                "chain_id": chain.id,
                "as_of": as_of,
                "restart": chain.on_new_trigger == "restart",
                "typical_order_value": float(chain.typical_order_value),
                "exit_unsubscribed": bool(exits.unsubscribed),
                "exit_purchase_of_trigger_product": bool(exits.purchase_of_trigger_product),
                "exit_any_purchase": bool(exits.any_purchase),
                "exit_any_cart": bool(exits.any_cart),
                "exit_entered_chains": ",".join(exits.entered_chain) or None,
                "exit_max_touches": exits.max_touches,
                "exit_entered_before": as_of - exits.time_limit if exits.time_limit else None,
            }
        )
    frame = pd.DataFrame(rows)
    # Columns that are NULL for every chain would otherwise come out as objects the warehouse cannot type.
    frame["exit_max_touches"] = frame["exit_max_touches"].astype("Int64")
    frame["exit_entered_before"] = pd.to_datetime(frame["exit_entered_before"])
    frame["exit_entered_chains"] = frame["exit_entered_chains"].astype("string")
    return frame


def plan_steps(
    chain: ChainConfig, rows: list[dict[str, Any]], run_key: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per instance, the first due step its RFM segment does not skip (rows come in instance, step order).

    Returns the ``crm.due_steps`` rows and the ``crm.chain_step_log`` rows of the skipped steps.
    """
    due: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    taken: set[str] = set()
    for row in rows:
        instance_id = row["instance_id"]
        if instance_id in taken:
            continue
        step = chain.step(row["step_id"])
        override = step.override_for(row["rfm_code"])
        if override and override[1].skip:
            skipped.append(
                {
                    "instance_id": instance_id,
                    "step_id": step.id,
                    "chain_id": chain.id,
                    "customer_id": row["customer_id"],
                    "outcome": "skipped",
                    "reason": f"segment_override:{override[0]}",
                    "run_key": run_key,
                }
            )
            continue
        taken.add(instance_id)
        template, offer = step.template, step.offer
        if override:
            template, offer = override[1].template or template, override[1].offer or offer
        context = json.loads(row["context"]) | {
            "rfm_code": row["rfm_code"],
            "promo": step.promo,
            "offer": offer,
        }
        due_at = row["due_at"]
        due.append(
            {
                "run_key": run_key,
                "chain_id": chain.id,
                "step_id": step.id,
                "step_no": int(row["step_no"]),
                "instance_id": instance_id,
                "trigger_key": row["trigger_key"],
                "customer_id": int(row["customer_id"]),
                "channel": step.channel,
                "message_kind": step.kind,
                "template": template,
                "priority": chain.priority,
                "expected_value": float(row["expected_value"] or 0.0),
                "due_at": due_at,
                "expires_at": due_at + step.fresh_for,
                "quiet_hours": step.quiet_hours,
                "send_time": step.send_time,
                "send_time_holdout": chain.send_time_holdout,
                "holdout_share": chain.holdout_share,
                "step_holdout_share": step.holdout_share,
                "variants": step.variants_json(),
                "use_bandit": step.bandit,
                "send_condition": step.send_condition,
                "consent_scope": chain.consent_scope,
                "context": json.dumps(context, ensure_ascii=False, sort_keys=True),
            }
        )
    return due, skipped


def run_summary(warehouse: Warehouse, run_key: str) -> list[dict[str, Any]]:
    """Per chain: candidates, entered, exited (plus a row per exit reason), completed, due, skipped steps."""
    return [dict(row) for row in warehouse.fetch_all("chains/engine/summary.sql", run_key=run_key)]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _run_lock(warehouse: Warehouse, run_key: str):
    """A transaction holding the chains' planning lock: chains runs take turns."""
    return exclusive(warehouse, "chains", "chains run", run_key)


def _step_rows(chain: ChainConfig) -> list[tuple[int, str, int, str | None]]:
    """(step_no, step_id, delay_s, branch) of each configured step, as crm.chain_steps holds them."""
    return [
        (no, step.id, int(step.delay.total_seconds()), step.branch)
        for no, step in enumerate(chain.steps, start=1)
    ]


def _steps_frame(chain: ChainConfig):
    import pandas as pd

    return pd.DataFrame(
        [
            {"chain_id": chain.id, "step_no": no, "step_id": step_id, "delay_s": delay_s, "branch": branch}
            for no, step_id, delay_s, branch in _step_rows(chain)
        ]
    )


def _candidates_frame(chain: ChainConfig, rows: list[dict[str, Any]]):
    """The entry query's rows as staged candidates; every non-key column goes into the JSON context."""
    import pandas as pd

    _check_columns(chain, rows)
    staged = []
    for row in rows:
        context = {k: _jsonable(v) for k, v in row.items() if k not in (*REQUIRED_COLUMNS, "product_ids")}
        product_ids = row.get("product_ids")
        if product_ids:
            context["product_ids"] = [int(p) for p in str(product_ids).split(",") if p]
        staged.append(
            {
                "chain_id": chain.id,
                "customer_id": int(row["customer_id"]),
                "trigger_key": str(row["trigger_key"]),
                "branch": row.get("branch"),
                "triggered_at": naive_utc(row["triggered_at"]),
                "product_ids": product_ids,
                "trigger_value": row.get("trigger_value"),
                "context": json.dumps(context, ensure_ascii=False, sort_keys=True),
                "reentry_days": chain.reentry_days,
            }
        )
    return pd.DataFrame(
        staged,
        columns=[
            "chain_id",
            "customer_id",
            "trigger_key",
            *_STAGED_COLUMNS,
            "triggered_at",
            "context",
            "reentry_days",
        ],
    )


def _check_columns(chain: ChainConfig, rows: list[dict[str, Any]]) -> None:
    """Raise :class:`ConfigError` naming the query file when the entry query's rows lack a required column."""
    missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]] if rows else []
    if missing:
        raise ConfigError(
            str(SQL_DIR / chain.entry.sql),
            "output columns",
            f"the query returns no {missing}",
            "select customer_id, trigger_key and triggered_at (see the header of any chain query)",
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy / Decimal-like scalars
        return value.item()
    if value.__class__.__name__ == "Decimal":
        return float(value)
    return value
