"""``chains preview``: who a chain would take in at a given time, and what the contact policy would do with
them, without writing anything.

The preview runs the chain exactly as a run would (entries from the chain's watermark, exits, due steps, the
contact policy) on one connection inside a transaction that is rolled back at the end, so the figures are
those of a real run at that moment and the warehouse is left as it was. It takes no planning lock: a run
writing at the same time may make the preview a little stale, never wrong in what it changes (nothing).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lifecycle.chains.engine import PhaseError, StagedChain, advance_on, entry_rows, naive_utc

if TYPE_CHECKING:
    from lifecycle.chains.config import ChainConfig
    from lifecycle.policy.config import PolicyConfig
    from lifecycle.warehouse import Warehouse

SAMPLE_SIZE = 10


@dataclass
class ChainPreview:
    chain_id: str
    as_of: datetime
    window_start: datetime
    #: Triggers the entry query found (one customer may have several; re-entry rules drop some).
    triggers: int = 0
    #: Customers who would enter the chain.
    entering: int = 0
    #: Up to SAMPLE_SIZE of them: customer_id, trigger_key, triggered_at, branch, trigger_value.
    sample: list[dict[str, Any]] = field(default_factory=list)
    #: The contact policy on the due steps of the new entrants: outcome, reason, steps.
    entrants_policy: list[dict[str, Any]] = field(default_factory=list)
    #: The same for instances already in the chain whose next step is due at this time.
    active_policy: list[dict[str, Any]] = field(default_factory=list)
    exited: int = 0
    due_steps: int = 0

    def as_dict(self) -> dict[str, Any]:
        from lifecycle.chains.engine import _jsonable

        return {
            key: [{k: _jsonable(v) for k, v in row.items()} for row in value]
            if isinstance(value, list)
            else _jsonable(value)
            for key, value in self.__dict__.items()
        }


def preview_chain(
    warehouse: Warehouse,
    chain: ChainConfig,
    as_of: datetime,
    policy: PolicyConfig | None = None,
    sample_size: int = SAMPLE_SIZE,
) -> ChainPreview:
    """Run ``chain`` at ``as_of`` and the contact policy on its due steps; report; roll everything back."""
    from lifecycle.policy.stage import decide_on

    as_of = naive_utc(as_of)
    run_key = f"preview-{uuid.uuid4().hex}"
    with warehouse.engine.connect() as conn:
        transaction = conn.begin()
        try:
            since, rows = entry_rows(warehouse, conn, chain, as_of)
            try:
                [figures] = advance_on(warehouse, conn, [StagedChain(chain, since, rows)], as_of, run_key)
            except PhaseError as exc:  # the warehouse's own complaint, as a run would record it
                raise exc.__cause__ from None
            decide_on(warehouse, conn, run_key, as_of, policy)
            params = {"chain_id": chain.id, "run_key": run_key}
            entered = [
                dict(r) for r in warehouse.run(conn, "chains/preview/entered.sql", **params).mappings()
            ]
            decided = [
                dict(r) for r in warehouse.run(conn, "chains/preview/decisions.sql", **params).mappings()
            ]
        finally:
            transaction.rollback()
    preview = ChainPreview(
        chain.id,
        as_of,
        since,
        triggers=len(rows),
        entering=len(entered),
        sample=[{k: v for k, v in row.items() if k != "instance_id"} for row in entered[:sample_size]],
        exited=figures.exited,
        due_steps=figures.due_steps,
    )
    for row in decided:
        target = preview.entrants_policy if row.pop("entrant") else preview.active_policy
        target.append(row | {"steps": int(row["steps"])})
    return preview


def describe(preview: ChainPreview) -> str:
    """The preview as text for a person."""
    lines = [
        f"chain {preview.chain_id} at {preview.as_of:%Y-%m-%d %H:%M} UTC "
        f"(triggers since {preview.window_start:%Y-%m-%d %H:%M}): nothing was written",
        f"  {preview.triggers} trigger(s) found, {preview.entering} customer(s) would enter",
    ]
    if preview.sample:
        lines.append(f"  sample ({len(preview.sample)} of {preview.entering}):")
        lines.append(f"    {'customer_id':>12}  {'triggered_at':<19}  trigger_key")
        for row in preview.sample:
            branch = f"  branch {row['branch']}" if row.get("branch") else ""
            moment = f"{row['triggered_at']:%Y-%m-%d %H:%M:%S}"
            lines.append(f"    {row['customer_id']:>12}  {moment}  {row['trigger_key']}{branch}")
    for title, rows in (
        ("contact policy on the new entrants' due steps", preview.entrants_policy),
        ("contact policy on steps due for customers already in the chain", preview.active_policy),
    ):
        if rows:
            lines.append(f"  {title}:")
            for row in rows:
                reason = f" ({row['reason']})" if row["reason"] else ""
                lines.append(f"    {row['steps']:>8}  {row['outcome']}{reason}")
    if not preview.entrants_policy and preview.entering:
        lines.append("  no step of the new entrants is due yet at this time")
    lines.append(f"  {preview.exited} instance(s) would exit; {preview.due_steps} step(s) due in all")
    return "\n".join(lines)
