"""One command line for the whole package: ``python -m lifecycle <command> [--warehouse URL] ...``.

Commands: migrate, ingest, train, score, chains check, chains preview, dispatch, report, simulate, and the
older module commands under one roof (demo, replan, validate-templates, send-audit, render). Results go to
stdout, progress to stderr. Exit codes: 0 done, 1 problems found (a broken chain, a quality gate, a failed
audit), 2 a usage or configuration error (a wrong argument, an unreadable file, an unreachable warehouse).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

OK, PROBLEMS, USAGE = 0, 1, 2
#: Where the sandbox provider writes what ``dispatch`` sends (the folder ``make airflow`` uses too).
DEFAULT_OUTBOX = "data/outbox"
#: The link-signing secret of ``dispatch`` when ``--link-secret`` is not given.
LINK_SECRET_ENV = "LIFECYCLE_LINK_SECRET"

#: The package's older module commands, run as they are with the arguments that follow.
PASSTHROUGH: dict[str, tuple[str, str]] = {
    "demo": ("lifecycle.demo.__main__", "generate a demo shop (python -m lifecycle.demo)"),
    "replan": ("lifecycle.delivery.replan", "re-plan failed messages (python -m lifecycle.delivery.replan)"),
    "validate-templates": (
        "lifecycle.delivery.validate",
        "render every template with sample data (python -m lifecycle.delivery.validate)",
    ),
    "step-lift": (
        "lifecycle.reports.step_lift",
        "what each step with its own holdout earns against its cost (python -m lifecycle.reports.step_lift)",
    ),
    "send-audit": (
        "lifecycle.delivery.send_audit",
        "check the send ledger against the contact rules (python -m lifecycle.delivery.send_audit)",
    ),
    "render": (
        "lifecycle.delivery.preview",
        "render one step for one customer to a file (python -m lifecycle.delivery.preview)",
    ),
}


def say(message: str) -> None:
    """A progress line on stderr."""
    print(message, file=sys.stderr, flush=True)


def duration(text: str) -> timedelta:
    """A command-line duration such as 7d or 12h (argparse reports a ValueError as a usage error)."""
    from lifecycle.settings import parse_duration

    value = parse_duration(text)
    if value <= timedelta(0):
        raise ValueError(text)
    return value


def utc_moment(text: str) -> datetime:
    """An ISO time; without an offset it is UTC. Returned naive, in UTC."""
    moment = datetime.fromisoformat(text)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def current_hour() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)


def warehouse_of(args: argparse.Namespace):
    from lifecycle.demo.__main__ import default_warehouse_url
    from lifecycle.warehouse import Warehouse

    url = args.warehouse or default_warehouse_url()
    if url.startswith("duckdb:///"):
        Path(url.removeprefix("duckdb:///")).parent.mkdir(parents=True, exist_ok=True)
    return Warehouse(url)


# --- commands ----------------------------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    from lifecycle.migrations import MIGRATION_SETS, migrate

    sets = tuple(s.strip() for s in args.sets.split(",") if s.strip())
    unknown = [s for s in sets if s not in MIGRATION_SETS]
    if unknown or not sets:
        say(f"error: --sets {args.sets!r}: use one or more of {', '.join(MIGRATION_SETS)}, comma-separated")
        return USAGE
    warehouse = warehouse_of(args)
    say(f"migrating {', '.join(sets)} on {warehouse!r}")
    applied = migrate(warehouse, sets)
    for name in applied:
        print(name)
    say(f"{len(applied)} migration(s) applied" if applied else "up to date: nothing to apply")
    return OK


def cmd_ingest(args: argparse.Namespace) -> int:
    from lifecycle.ingest import QuarantineShareError, ingest, ingest_history

    warehouse = warehouse_of(args)
    until = args.until or current_hour()
    run_key = args.run_key or f"cli-ingest-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    say(f"ingesting the shop's tables up to {until:%Y-%m-%d %H:%M} UTC (run {run_key})")
    started = time.monotonic()
    try:
        if args.catch_up:
            reports = ingest_history(warehouse, until, run_key, step=args.step)
        else:
            reports = [ingest(warehouse, window_end=until, run_key=run_key)]
    except QuarantineShareError as exc:
        print(json.dumps(exc.report.as_dict(), indent=2, default=str))
        say(f"quality gate breached: {exc}")
        return PROBLEMS
    for report in reports:
        print(json.dumps(report.as_dict(), indent=2, default=str))
    loaded = sum(t.rows_loaded for report in reports for t in report.tables)
    steps = f" in {len(reports)} steps" if args.catch_up else ""
    refreshed = sum(r.customers_refreshed for r in reports)
    say(
        f"ingested {len(reports[-1].tables)} table(s){steps}: {loaded} rows loaded, "
        f"{sum(r.rows_quarantined for r in reports)} quarantined, {refreshed} customer refreshes "
        f"in {time.monotonic() - started:.1f} s"
    )
    return OK


def cmd_scores(args: argparse.Namespace) -> int:
    from lifecycle.demo.__main__ import default_warehouse_url
    from lifecycle.scores.__main__ import main as scores_main

    argv = [args.command, "--warehouse", args.warehouse or default_warehouse_url()]
    if args.date:
        argv += ["--date", args.date.isoformat()]
    if args.config:
        argv += ["--config", args.config]
    say(f"{'training the churn and LTV models' if args.command == 'train' else 'scoring customers'}")
    return scores_main(argv)


def cmd_scores_evaluate(args: argparse.Namespace) -> int:
    from lifecycle.demo.__main__ import default_warehouse_url
    from lifecycle.scores.__main__ import main as scores_main

    argv = ["evaluate", "--warehouse", args.warehouse or default_warehouse_url()]
    argv += ["--date", args.date.isoformat()] if args.date else []
    argv += ["--config", args.config] if args.config else []
    argv += ["--json"] if args.json else []
    say("training a churn model and the baselines on the same snapshots (writes nothing)")
    return scores_main(argv)


def cmd_chains_check(args: argparse.Namespace) -> int:
    from lifecycle.chains.check import check_chains
    from lifecycle.chains.config import CHAINS_DIR

    folder = Path(args.folder) if args.folder else CHAINS_DIR
    if args.scratch:
        import tempfile

        from lifecycle.migrations import MIGRATION_SETS, migrate
        from lifecycle.warehouse import Warehouse

        with tempfile.TemporaryDirectory(prefix="lifecycle-chains-check-") as scratch:
            warehouse = Warehouse(f"duckdb:///{Path(scratch) / 'warehouse.duckdb'}")
            say(f"migrating an empty scratch warehouse ({', '.join(MIGRATION_SETS)}) to plan the queries on")
            migrate(warehouse, MIGRATION_SETS)
            say(f"checking the chains of {folder}")
            result = check_chains(warehouse, folder, check_templates=not args.no_templates)
            warehouse.engine.dispose()
    else:
        warehouse = warehouse_of(args)
        say(f"checking the chains of {folder} against {warehouse!r}")
        result = check_chains(warehouse, folder, check_templates=not args.no_templates)
    for chain_id in result.chains:
        print(f"ok       {chain_id}")
    for chain_id, problem in result.problems.items():
        print(f"BROKEN   {chain_id}: {problem}")
    for warning in result.warnings:
        print(f"warning  {warning.chain_id or '-'}: {warning}")
    say(
        f"{len(result.chains)} chain(s) fine, {len(result.problems)} broken, "
        f"{len(result.warnings)} warning(s)"
    )
    if result.problems or (args.strict and result.warnings):
        return PROBLEMS
    return OK


def cmd_chains_preview(args: argparse.Namespace) -> int:
    from lifecycle.chains.config import CHAINS_DIR, load_chain
    from lifecycle.chains.preview import describe, preview_chain

    folder = Path(args.folder) if args.folder else CHAINS_DIR
    path = folder / f"{args.chain}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml")))
        say(f"error: there is no chain {args.chain!r} in {folder} (known: {known})")
        return USAGE
    chain = load_chain(path)
    warehouse = warehouse_of(args)
    as_of = args.at or current_hour()
    say(f"previewing {chain.id} at {as_of:%Y-%m-%d %H:%M} UTC on {warehouse!r}; nothing is written")
    preview = preview_chain(warehouse, chain, as_of, sample_size=args.sample)
    if args.json:
        print(json.dumps(preview.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(describe(preview))
    return OK


def cmd_chains_run(args: argparse.Namespace) -> int:
    from lifecycle.chains.config import CHAINS_DIR, load_chains
    from lifecycle.chains.engine import ChainsFailedError, run_chains
    from lifecycle.policy.stage import decide

    warehouse = warehouse_of(args)
    chains = load_chains(Path(args.folder) if args.folder else CHAINS_DIR)
    as_of = args.at or current_hour()
    run_key = args.run_key or f"cli-chains-{as_of:%Y%m%dT%H%M}"
    say(
        f"running {len(chains)} chain(s) at {as_of:%Y-%m-%d %H:%M} UTC (run {run_key}), "
        "then the contact policy"
    )
    started = time.monotonic()
    failed: ChainsFailedError | None = None
    try:
        figures = run_chains(warehouse, as_of, run_key, chains)
    except ChainsFailedError as exc:  # the other chains ran; their due steps are decided below
        failed, figures = exc, exc.figures
    for f in figures:
        say(f"  {f.chain_id}: {f.entered} entered, {f.exited} exited, {f.due_steps} step(s) due")
    funnel = decide(warehouse, run_key, as_of)
    print(
        json.dumps(
            {"run_key": run_key, "chains": [f.as_dict() for f in figures], "policy": funnel},
            indent=2,
            default=str,
            ensure_ascii=False,
        )
    )
    say(f"chains and policy done in {time.monotonic() - started:.1f} s")
    if failed:
        say(f"error: {failed}")
        return PROBLEMS
    return OK


def cmd_dispatch(args: argparse.Namespace) -> int:
    from lifecycle.delivery.dispatch import Dispatcher, DispatchSettings
    from lifecycle.delivery.email_mime import Sender
    from lifecycle.delivery.providers.sandbox import SandboxProvider
    from lifecycle.delivery.signing import LinkSigner
    from lifecycle.paths import DATA_DIR

    secret = args.link_secret or os.environ.get(LINK_SECRET_ENV)
    if not secret:
        say(
            f"error: no link-signing secret: give --link-secret or set {LINK_SECRET_ENV} (the secret of the "
            "lifecycle_links connection, so that unsubscribe links in the messages can be verified)"
        )
        return USAGE
    try:
        signer = LinkSigner(secret.encode(), args.links_url)
    except ValueError as exc:
        say(f"error: --link-secret: {exc}")
        return USAGE
    warehouse = warehouse_of(args)
    outbox = Path(args.outbox) if args.outbox else DATA_DIR / "outbox"
    provider = SandboxProvider(outbox, Sender(args.sender))
    settings = DispatchSettings(max_messages=args.max_messages)
    dispatcher = Dispatcher(warehouse, provider, signer, settings=settings)
    say(f"dispatching {', '.join(args.channel)} through the sandbox into {outbox}")
    failed = 0
    for channel in args.channel:
        report = dispatcher.run(channel)
        print(json.dumps({"channel": channel, **report.as_dict()}, indent=2, default=str))
        say(f"{channel}: {report.summary()}")
        failed += report.failed
    return PROBLEMS if failed else OK


def cmd_report(args: argparse.Namespace) -> int:
    from lifecycle.reports.build import build_reports

    warehouse = warehouse_of(args)
    report_date = args.date or (datetime.now(UTC) - timedelta(days=1)).date()
    run_key = f"cli-reports-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    say(f"building the report tables for {report_date} (run {run_key})")
    started = time.monotonic()
    figures = build_reports(warehouse, report_date, run_key)
    print(json.dumps(figures, indent=2, default=str, ensure_ascii=False))
    say(f"reports built in {time.monotonic() - started:.1f} s")
    return OK


def cmd_simulate(args: argparse.Namespace) -> int:
    from lifecycle.simulate.__main__ import run as simulate

    return simulate(args)


# --- parsing -----------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--warehouse", default=None, help="SQLAlchemy URL; default: the DuckDB file data/warehouse.duckdb"
    )
    parser = argparse.ArgumentParser(
        prog="python -m lifecycle",
        description=__doc__.splitlines()[0],
        epilog="Exit codes: 0 done, 1 problems found, 2 usage or configuration error.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: Callable[[argparse.Namespace], int], help: str, parent=commands):
        sub = parent.add_parser(name, parents=[common], help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    sub = command("migrate", cmd_migrate, "apply pending schema migrations")
    sub.add_argument(
        "--sets",
        default="shop,crm",
        help="migration sets, comma-separated (default shop,crm; a retailer's own warehouse: --sets crm)",
    )

    sub = command("ingest", cmd_ingest, "load the shop's new rows into crm (incremental, validated)")
    sub.add_argument(
        "--until", type=utc_moment, default=None, help="window end (ISO, UTC); default this hour"
    )
    sub.add_argument("--run-key", default=None, help="the run's key; default cli-ingest-<time>")
    sub.add_argument(
        "--catch-up",
        action="store_true",
        help="load everything up to --until in steps, each committed on its own: for a whole history before "
        "the hourly runs start",
    )
    sub.add_argument(
        "--step",
        type=duration,
        default=None,
        help="with --catch-up: how much loaded_at one step loads (e.g. 7d); default catch_up_step in "
        "include/config/ingest.yaml",
    )

    for name, help in (
        ("train", "train and gate the churn and LTV models on data up to --date"),
        ("score", "score every purchasing customer as of --date (default yesterday)"),
    ):
        sub = command(name, cmd_scores, help)
        sub.add_argument("--date", type=date.fromisoformat, default=None, help="data end / as-of date")
        sub.add_argument(
            "--config", default=None, help="scores settings (default include/config/scores.yaml)"
        )

    scores = commands.add_parser("scores", help="measure the scores on the shop's data")
    score_commands = scores.add_subparsers(dest="scores_command", metavar="SCORES_COMMAND", required=True)
    sub = command(
        "evaluate",
        cmd_scores_evaluate,
        "churn model vs recency, BG/NBD and logistic regression; LTV vs zero and last year (same data)",
        score_commands,
    )
    sub.add_argument("--date", type=date.fromisoformat, default=None, help="data end (default: newest)")
    sub.add_argument("--config", default=None, help="scores settings (default include/config/scores.yaml)")
    sub.add_argument("--json", action="store_true", help="print JSON instead of tables")

    chains = commands.add_parser("chains", help="check, preview or run the trigger chains")
    chain_commands = chains.add_subparsers(dest="chains_command", metavar="CHAINS_COMMAND", required=True)
    sub = command(
        "check",
        cmd_chains_check,
        "load every chain, plan its entry and exit queries (EXPLAIN), warn about dead configuration",
        chain_commands,
    )
    sub.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    sub.add_argument(
        "--scratch",
        action="store_true",
        help="plan on an empty temporary DuckDB warehouse with every migration applied (make lint does)",
    )
    sub.add_argument("--folder", default=None, help="chain files (default include/chains)")
    sub.add_argument("--no-templates", action="store_true", help="do not render the chains' templates")
    sub = command(
        "preview",
        cmd_chains_preview,
        "who would enter CHAIN now and what the contact policy would do with them; writes nothing",
        chain_commands,
    )
    sub.add_argument("chain", help="chain id, e.g. abandoned_cart")
    sub.add_argument("--at", type=utc_moment, default=None, help="as if run at this time (ISO, UTC)")
    sub.add_argument("--sample", type=int, default=10, help="customers listed (default 10)")
    sub.add_argument("--folder", default=None, help="chain files (default include/chains)")
    sub.add_argument("--json", action="store_true", help="print the preview as JSON")

    sub = command(
        "run",
        cmd_chains_run,
        "run every chain and the contact policy at --at, as the chains DAG does (writes the run)",
        chain_commands,
    )
    sub.add_argument(
        "--at", type=utc_moment, default=None, help="the run's time (ISO, UTC); default this hour"
    )
    sub.add_argument("--run-key", default=None, help="the run's key; default cli-chains-<time>")
    sub.add_argument("--folder", default=None, help="chain files (default include/chains)")

    sub = command("dispatch", cmd_dispatch, "send planned messages through the sandbox provider to a folder")
    sub.add_argument(
        "--channel", action="append", choices=("email", "push"), help="repeat for several (default both)"
    )
    sub.add_argument("--outbox", default=None, help=f"folder for the messages (default {DEFAULT_OUTBOX})")
    sub.add_argument("--link-secret", default=None, help=f"link-signing secret (default ${LINK_SECRET_ENV})")
    sub.add_argument(
        "--links-url",
        default="http://localhost:8080/lifecycle-webhooks",
        help="where the webhook app is served (unsubscribe and click links)",
    )
    sub.add_argument("--from", dest="sender", default="shop@shop.example", help="sender address")
    sub.add_argument("--max-messages", type=int, default=None, help="stop after this many per channel")

    sub = command("report", cmd_report, "build the report tables for --date (default yesterday)")
    sub.add_argument("--date", type=date.fromisoformat, default=None, help="the last complete day")

    from lifecycle.simulate.__main__ import build_parser as simulate_arguments

    simulate_arguments(
        command(
            "simulate",
            cmd_simulate,
            "weeks of hourly pipeline runs against a demo shop whose customers react; prints true against "
            "measured incremental revenue per chain (docs/simulation.md)",
        )
    )

    for name, (_, help) in PASSTHROUGH.items():
        commands.add_parser(name, help=help + "; the arguments that follow are its own", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in PASSTHROUGH:
        import importlib

        return importlib.import_module(PASSTHROUGH[argv[0]][0]).main(argv[1:])
    args = build_parser().parse_args(argv)
    if getattr(args, "channel", None) is None and args.command == "dispatch":
        args.channel = ["email", "push"]
    return run(args)


def run(args: argparse.Namespace) -> int:
    """The command's handler, with errors turned into a message and an exit code."""
    import sqlalchemy as sa

    from lifecycle.errors import ConfigError, LifecycleError, WarehouseError

    try:
        return args.handler(args)
    except (ConfigError, WarehouseError) as exc:
        say(f"error: {exc}")
        return USAGE
    except sa.exc.OperationalError as exc:
        say(f"error: the warehouse cannot be used: {str(exc.orig).strip().splitlines()[0]}")
        return USAGE
    except LifecycleError as exc:
        say(f"error: {exc}")
        return PROBLEMS


if __name__ == "__main__":
    sys.exit(main())
