"""Re-plan messages that failed for a reason since fixed, so the next dispatch sends them.

    python -m lifecycle.delivery.replan --reason render:            # what would be re-planned
    python -m lifecycle.delivery.replan --reason render: --apply    # do it
    python -m lifecycle.delivery.replan --reason "render: ru/welcome" --chain welcome --since 2026-11-27

Only ``failed`` rows whose ``last_error`` starts with ``--reason`` are touched, and only while they are
still fresh (a message past its freshness limit is never sent late). Before anything is re-planned the
templates concerned must render against sample data (:mod:`lifecycle.delivery.validate`); the send-time
check of the contact policy then applies as to any planned message.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import datetime

from lifecycle.delivery.dispatch import utcnow
from lifecycle.delivery.validate import validate_templates
from lifecycle.warehouse import Warehouse


@dataclass
class ReplanResult:
    by_template: dict[str, tuple[int, int]]
    replanned: int = 0
    blocked: list[str] | None = None

    @property
    def fresh(self) -> int:
        return sum(fresh for fresh, _ in self.by_template.values())

    @property
    def stale(self) -> int:
        return sum(stale for _, stale in self.by_template.values())


def replan(
    warehouse: Warehouse,
    reason: str,
    chain_id: str | None = None,
    since: datetime | None = None,
    apply: bool = False,
    now: datetime | None = None,
) -> ReplanResult:
    if not reason.strip():
        raise ValueError("--reason must name the start of last_error, e.g. 'render:'")
    now = now or utcnow()
    params = {"prefix": reason, "chain_id": chain_id, "since": since or datetime(1970, 1, 1), "now": now}
    with warehouse.begin() as conn:
        rows = Warehouse.run(conn, "delivery/replan_candidates.sql", **params).mappings().all()
    result = ReplanResult({r["template"]: (int(r["fresh"] or 0), int(r["stale"] or 0)) for r in rows})
    broken = [p for p in validate_templates() if p.split(":", 1)[0] in result.by_template]
    if broken:
        result.blocked = broken
        return result
    if apply and result.fresh:
        with warehouse.begin() as conn:
            result.replanned = max(Warehouse.run(conn, "delivery/replan.sql", **params).rowcount or 0, 0)
    return result


def main(argv: list[str] | None = None) -> int:
    from lifecycle.demo.__main__ import default_warehouse_url

    parser = argparse.ArgumentParser(
        prog="python -m lifecycle.delivery.replan", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--reason", required=True, help="start of last_error, e.g. 'render:'")
    parser.add_argument("--chain", default=None, help="only this chain")
    parser.add_argument("--since", type=datetime.fromisoformat, default=None, help="failed at or after (UTC)")
    parser.add_argument("--apply", action="store_true", help="re-plan (without it: only show what would be)")
    parser.add_argument("--warehouse", default=None, help="SQLAlchemy URL; default data/warehouse.duckdb")
    args = parser.parse_args(argv)
    warehouse = Warehouse(args.warehouse or default_warehouse_url())
    result = replan(warehouse, args.reason, args.chain, args.since, args.apply)
    for template, (fresh, stale) in result.by_template.items():
        print(f"{template}: {fresh} still fresh, {stale} past their freshness limit (never re-planned)")
    if result.blocked:
        print("these templates still do not render; fix them first:", file=sys.stderr)
        for problem in result.blocked:
            print(f"  {problem}", file=sys.stderr)
        return 1
    if not result.by_template:
        print(f"no failed message matches --reason {args.reason!r}")
    elif args.apply:
        print(f"re-planned {result.replanned} messages; the next dispatch sends them")
    else:
        print(f"{result.fresh} would be re-planned; add --apply to do it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
