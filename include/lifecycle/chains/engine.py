"""The hourly processing of the trigger chains, one chain at a time, with no Airflow in sight.

For a chain and a run (``as_of``, ``run_key``), in this order:

1. **progress** — touches and completions from what the contact policy decided in earlier runs;
2. **entries** — the chain's entry query finds the triggers that became due since the chain's watermark
   (minus a grace for late rows); admissible ones become ``crm.chain_instances``; the watermark moves on;
3. **exits** — the chain's exit conditions are checked on its active instances, before any step;
4. **due steps** — for each active instance, its next due step that is not done, with the template resolved
   for the customer's RFM segment, goes to ``crm.due_steps`` (the hand-off to the contact policy). A step a
   segment override skips is logged in ``crm.chain_step_log`` and the following due step is taken instead.

Each phase is its own transaction, so the Airflow layer can show them as separate tasks; a re-run of the
same run key writes the same due steps (the run's earlier rows are replaced, its own decisions ignored).
Python only handles the candidates (new triggers, due steps), never the event history.

Each phase holds the chain's planning lock (:mod:`lifecycle.locks`), so two runs of the same chain at once
(a backfill, a manual run) take turns instead of colliding. A chain that fails is recorded in
``crm.chain_run_failures`` with the phase and the error; the other chains go on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lifecycle.chains.config import ChainConfig, load_chains
from lifecycle.chains.validation import QUERY_FAULTS, entry_query_error
from lifecycle.errors import ConfigError, LifecycleError
from lifecycle.locks import exclusive
from lifecycle.paths import SQL_DIR

if TYPE_CHECKING:
    from lifecycle.warehouse import Warehouse

log = logging.getLogger(__name__)

#: Rows can land up to this late (the ingest's own grace); each run looks this far behind its watermark.
LATE_GRACE = timedelta(hours=3)
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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChainRunFigures:
        """The inverse of :meth:`as_dict` (figures handed from one task to the next through XCom)."""
        moments = {key: datetime.fromisoformat(data[key]) for key in ("as_of", "window_start")}
        return cls(**(data | moments))


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
    """Every chain of the map, one after the other (the Airflow DAG runs them as parallel task groups).

    A chain that fails does not stop the others: once all have run, :class:`ChainsFailedError` names the
    failed ones (their due steps are missing from the run, everything else is written). As in the DAG, a
    DuckDB file is opened once for a chain's phases, not once per transaction (each opening reads the
    file's catalog and each closing writes a checkpoint: both grow with the warehouse).
    """
    chains = chains if chains is not None else load_chains()
    figures = []
    for chain in chains.values():
        try:
            with warehouse.held_open():
                figures.append(process_chain(warehouse, chain, as_of, run_key))
        except Exception:  # recorded by process_chain; reported with the others below
            log.exception("chain %s failed in run %s", chain.id, run_key)
    failures = failed_chains(warehouse, run_key, list(chains))
    if failures:
        raise ChainsFailedError(run_key, failures, figures)
    return figures


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


def process_chain(warehouse: Warehouse, chain: ChainConfig, as_of: datetime, run_key: str) -> ChainRunFigures:
    """All four phases of one chain; returns the run's figures (also stored in ``crm.chain_runs``).

    A phase that fails is recorded in ``crm.chain_run_failures`` before the error propagates.
    """
    with failure_recorded(warehouse, chain.id, run_key, "enter"):
        figures = enter(warehouse, chain, as_of, run_key)
    with failure_recorded(warehouse, chain.id, run_key, "exit"):
        apply_exits(warehouse, chain, as_of, run_key)
    with failure_recorded(warehouse, chain.id, run_key, "due"):
        return emit_due_steps(warehouse, chain, as_of, run_key, figures)


def enter(warehouse: Warehouse, chain: ChainConfig, as_of: datetime, run_key: str) -> ChainRunFigures:
    """Phases 1–2: refresh progress, sync the configured steps, admit new entries, move the watermark."""
    as_of = naive_utc(as_of)
    with _chain_lock(warehouse, chain, run_key) as conn:
        since, rows = enter_on(warehouse, conn, chain, as_of, run_key)
    return ChainRunFigures(chain.id, run_key, as_of, since, candidates=len(rows))


def enter_on(
    warehouse: Warehouse, conn: sa.Connection, chain: ChainConfig, as_of: datetime, run_key: str
) -> tuple[datetime, list[dict[str, Any]]]:
    """The work of :func:`enter` on an open transaction the caller holds (and may roll back, as the
    chain preview does); returns the window start and the entry query's rows."""
    as_of = naive_utc(as_of)
    base = {"chain_id": chain.id, "as_of": as_of, "run_key": run_key, "now": _now()}
    # The configured steps are rewritten only when the file changed them (a read costs less than a rewrite).
    stored = warehouse.run(conn, "chains/engine/steps.sql", chain_id=chain.id).all()
    if [tuple(row) for row in stored] != _step_rows(chain):
        warehouse.run(conn, "chains/engine/sync_steps.sql", **base)
        warehouse.insert_df(conn, "crm.chain_steps", _steps_frame(chain))
    warehouse.run_steps(conn, "chains/engine/progress.sql", **base)
    since, rows = entry_rows(warehouse, conn, chain, as_of)
    if rows:  # staged and cleared inside this transaction: nothing is left behind for the next run
        warehouse.insert_df(conn, "crm.chain_candidates", _candidates_frame(chain, rows))
        restart = chain.on_new_trigger == "restart"
        warehouse.run_steps(conn, "chains/engine/enter.sql", restart=restart, **base)
        warehouse.run(conn, "chains/engine/clear_candidates.sql", **base)
    warehouse.run(conn, "chains/engine/set_watermark.sql", **base)
    return since, rows


def entry_rows(
    warehouse: Warehouse, conn: sa.Connection, chain: ChainConfig, as_of: datetime
) -> tuple[datetime, list[dict[str, Any]]]:
    """The chain's entry query as a run at ``as_of`` executes it: from its watermark minus the late grace
    (or ``first_run_lookback`` on a first run) to ``as_of``. Reads only; returns the window start and rows."""
    as_of = naive_utc(as_of)
    watermark = warehouse.run(conn, "chains/engine/watermark.sql", chain_id=chain.id).scalar()
    since = watermark - LATE_GRACE if watermark else as_of - chain.entry.first_run_lookback
    since = min(since, as_of)
    try:
        rows = warehouse.records(
            warehouse.run(conn, chain.entry.sql, since=since, as_of=as_of, **chain.entry.params)
        )
    except QUERY_FAULTS as exc:
        raise entry_query_error(chain, exc) from exc
    return since, rows


def apply_exits(warehouse: Warehouse, chain: ChainConfig, as_of: datetime, run_key: str) -> None:
    """Phase 3: end the active instances whose exit condition holds, each with the first reason that holds."""
    with _chain_lock(warehouse, chain, run_key) as conn:
        apply_exits_on(warehouse, conn, chain, as_of, run_key)


def exit_statements(chain: ChainConfig, as_of: datetime, run_key: str) -> list[tuple[str, dict[str, Any]]]:
    """The exit queries the chain's configuration enables, in :data:`EXIT_ORDER`, with their parameters.

    ``active_since`` (the earliest entry among the chain's active instances) is ``as_of`` here, which is
    enough to plan the queries; :func:`apply_exits_on` binds the real one.
    """
    as_of = naive_utc(as_of)
    base = {"chain_id": chain.id, "as_of": as_of, "run_key": run_key, "now": _now(), "active_since": as_of}
    exits = chain.exits
    extra = {
        "entered_chain": {"other_chains": ",".join(exits.entered_chain)},
        "max_touches": {"max_touches": exits.max_touches},
        "time_limit": {"entered_before": as_of - exits.time_limit if exits.time_limit else None},
    }
    return [
        (f"chains/exits/{kind}.sql", base | extra.get(kind, {}))
        for kind in EXIT_ORDER
        if getattr(exits, kind) not in (None, False, [])
    ]


def apply_exits_on(
    warehouse: Warehouse, conn: sa.Connection, chain: ChainConfig, as_of: datetime, run_key: str
) -> None:
    """The work of :func:`apply_exits` on an open transaction the caller holds.

    The checks read events and orders only from the earliest entry among the chain's active instances on
    (a constant bound the warehouse prunes by); a chain with no active instance has nothing to check.
    """
    active_since = warehouse.run(conn, "chains/engine/active_since.sql", chain_id=chain.id).scalar()
    if active_since is None:
        return
    for name, params in exit_statements(chain, as_of, run_key):
        warehouse.run(conn, name, **(params | {"active_since": active_since}))


def emit_due_steps(
    warehouse: Warehouse,
    chain: ChainConfig,
    as_of: datetime,
    run_key: str,
    figures: ChainRunFigures | None = None,
) -> ChainRunFigures:
    """Phase 4: the chain's due steps of this run into ``crm.due_steps`` (replacing an earlier attempt)."""
    as_of = naive_utc(as_of)
    figures = figures or ChainRunFigures(chain.id, run_key, as_of, as_of)
    with _chain_lock(warehouse, chain, run_key) as conn:
        return emit_due_steps_on(warehouse, conn, chain, as_of, run_key, figures)


def emit_due_steps_on(
    warehouse: Warehouse,
    conn: sa.Connection,
    chain: ChainConfig,
    as_of: datetime,
    run_key: str,
    figures: ChainRunFigures,
) -> ChainRunFigures:
    """The work of :func:`emit_due_steps` on an open transaction the caller holds."""
    import pandas as pd

    as_of, now = naive_utc(as_of), _now()
    base = {"chain_id": chain.id, "as_of": as_of, "run_key": run_key, "now": now}
    if warehouse.run(conn, "chains/engine/run_written.sql", **base).scalar():
        warehouse.run_steps(conn, "chains/engine/clear_run.sql", **base)
    rows = []
    # A chain with no active instance has no due step: its customers and scores are not read.
    if warehouse.run(conn, "chains/engine/active_since.sql", chain_id=chain.id).scalar() is not None:
        rows = warehouse.records(
            warehouse.run(
                conn, "chains/engine/due.sql", typical_order_value=chain.typical_order_value, **base
            )
        )
    due, skipped = plan_steps(chain, rows, run_key)
    warehouse.insert_df(conn, "crm.due_steps", pd.DataFrame(due))
    warehouse.insert_df(conn, "crm.chain_step_log", pd.DataFrame([s | {"logged_at": now} for s in skipped]))
    counts = warehouse.run(conn, "chains/engine/run_figures.sql", **base).mappings().one()
    figures.entered, figures.exited, figures.completed = (int(counts[k] or 0) for k in counts)
    figures.due_steps, figures.skipped_steps = len(due), len(skipped)
    record = asdict(figures) | {"finished_at": now}
    warehouse.insert_df(conn, "crm.chain_runs", pd.DataFrame([record]))
    return figures


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


def _chain_lock(warehouse: Warehouse, chain: ChainConfig, run_key: str):
    """A transaction holding the chain's planning lock: runs of the same chain take turns."""
    return exclusive(warehouse, f"chains:{chain.id}", f"chains run of {chain.id}", run_key)


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

    if rows:
        missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
        if missing:
            raise ConfigError(
                str(SQL_DIR / chain.entry.sql),
                "output columns",
                f"the query returns no {missing}",
                "select customer_id, trigger_key and triggered_at (see the header of any chain query)",
            )
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


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy / Decimal-like scalars
        return value.item()
    if value.__class__.__name__ == "Decimal":
        return float(value)
    return value
