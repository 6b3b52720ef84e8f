"""``python -m lifecycle.simulate --days 28 [--warehouse URL] [--customers N] [--seed S] [--end ISO]
[--holdout-share H]``

Builds a demo shop, runs the pipeline hour by hour for the given days (see docs/simulation.md) and prints
the per-chain table of true and measured incremental revenue. Progress goes to stderr; the table and a JSON
summary (``--json``) to stdout. Exit codes: 0 done, 2 a bad argument.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(
        prog="python -m lifecycle.simulate", description=__doc__.splitlines()[0]
    )
    if not any(a.dest == "warehouse" for a in parser._actions):
        parser.add_argument(
            "--warehouse", default=None, help="SQLAlchemy URL (default data/warehouse.duckdb)"
        )
    parser.add_argument("--days", type=int, default=28, help="simulated days (default 28)")
    parser.add_argument(
        "--customers", type=int, default=3000, help="customers of the demo shop (default 3000)"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--end",
        type=_moment,
        default=None,
        help="the last simulated hour (ISO, UTC); default the latest 14:00 Moscow",
    )
    parser.add_argument(
        "--history-days", type=int, default=730, help="history before the weeks (default 730)"
    )
    parser.add_argument(
        "--holdout-share",
        type=float,
        default=None,
        help="every chain's holdout share instead of its file's, e.g. 0.5 to measure in a short run "
        "(default: the chain files' shares)",
    )
    parser.add_argument("--outbox", default=None, help="folder of the sandbox provider (default data/outbox)")
    parser.add_argument("--json", action="store_true", help="also print the run's summary as JSON")
    return parser


def run(args: argparse.Namespace) -> int:
    from lifecycle.reports.send_time import format_lift, send_time_lift
    from lifecycle.simulate.compare import (
        comparison,
        entry_days,
        format_agreement,
        format_recovery,
        format_step_table,
        format_table,
        send_hour_agreement,
        send_time_recovery,
        step_comparison,
    )
    from lifecycle.simulate.engine import Simulation, SimulationConfig

    url = args.warehouse
    if url is None:
        from lifecycle.demo.__main__ import default_warehouse_url

        url = default_warehouse_url()
    if url.startswith("duckdb:///"):
        Path(url.removeprefix("duckdb:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        config = SimulationConfig(
            days=args.days,
            customers=args.customers,
            seed=args.seed,
            end=args.end,
            history_days=args.history_days,
            outbox=Path(args.outbox) if args.outbox else None,
            holdout_share=args.holdout_share,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    simulation = Simulation(url, config, progress)
    progress(
        f"building the demo shop: {config.customers} customers, seed {config.seed}, "
        f"{config.days} simulated days ending {simulation.end:%Y-%m-%d %H:%M} UTC"
    )
    simulation.build()
    progress(f"scenario of the weeks: {json.dumps(simulation.scenario)}")
    result = simulation.run()
    rows = comparison(simulation.warehouse, *entry_days(simulation.warehouse, result.start, result.end))
    print(format_table(rows))
    lift = send_time_lift(simulation.warehouse, result.start.date(), result.end.date())
    agreement = send_hour_agreement(simulation.warehouse)
    print()
    print(format_lift(lift))
    print("send-time open lift against the truth of the same messages (sim.truth_send_time):")
    print(format_recovery(send_time_recovery(simulation.warehouse, result.start.date(), result.end.date())))
    print(format_agreement(agreement))
    steps = step_comparison(simulation.warehouse, result.start.date(), result.end.date())
    print()
    print(format_step_table(steps))
    summary = result.summary()
    progress(
        f"{summary['hours']} hours simulated in {summary['seconds']} s "
        f"({summary['seconds_per_hour']} s per hour; by stage: {summary['seconds_by_stage']})"
    )
    if args.json:
        print(
            json.dumps(
                {
                    "summary": summary,
                    "chains": rows,
                    "send_time": {"lift": lift, "hours": agreement},
                    "steps": steps,
                },
                indent=2,
                default=str,
                ensure_ascii=False,
            )
        )
    simulation.warehouse.engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
