"""A chains run of the demo shop for the UI tests, by the project's own code: a small generated shop ingested
up to the run's hour, every chain and the contact policy run at that hour, the planned messages sent through
the sandbox provider a few minutes later, and then a day more of the shop ingested, as the hourly DAGs would
have done. The run's summary is what a marketer reads after a demo; the day after it is what an analyst's
audience preview finds."""

from datetime import datetime, timedelta
from pathlib import Path

#: The run's hour: 06:00 UTC is morning in most of the shop's time zones and still night in the
#: westernmost, so the run both sends and holds back for quiet hours.
RUN_AT = datetime(2026, 3, 1, 6)
DEMO_RUN = "manual__2026-03-01T06:00:00+00:00"
#: The shop's "now": a day after the run.
END = RUN_AT + timedelta(days=1)
CUSTOMERS = 400
SEED = 5


def _cli(url: str, *args: str) -> None:
    from lifecycle.__main__ import main

    assert main([*args, "--warehouse", url]) == 0, args


def build_demo_shop(path: Path, until: datetime = END) -> str:
    """The demo shop in a DuckDB file, ingested up to ``until``; no chain has run. Returns its URL."""
    url = f"duckdb:///{path}"
    _cli(url, "migrate", "--sets", "crm")
    _cli(url, "demo", "--customers", str(CUSTOMERS), "--seed", str(SEED), "--end", END.isoformat())
    _cli(url, "ingest", "--until", until.isoformat())
    return url


def build_demo_run(path: Path, outbox: Path) -> tuple[str, dict]:
    """The demo shop in a DuckDB file with the run :data:`DEMO_RUN` and a day of data after it; returns the
    URL and the run's policy funnel."""
    url = build_demo_shop(path, RUN_AT)
    funnel = run_demo_chains(url, outbox)
    _cli(url, "ingest", "--until", END.isoformat())
    return url, funnel


def run_demo_chains(url: str, outbox: Path) -> dict:
    """Every chain and the contact policy at :data:`RUN_AT` under the run key :data:`DEMO_RUN`, then both
    channels dispatched through the sandbox five minutes later; returns the policy's funnel."""
    from lifecycle.chains.config import load_chains
    from lifecycle.chains.engine import run_chains
    from lifecycle.delivery.dispatch import Dispatcher
    from lifecycle.delivery.email_mime import Sender
    from lifecycle.delivery.providers.sandbox import SandboxProvider
    from lifecycle.delivery.signing import LinkSigner
    from lifecycle.policy.stage import decide
    from lifecycle.warehouse import Warehouse

    warehouse = Warehouse(url)
    try:
        run_chains(warehouse, RUN_AT, DEMO_RUN, load_chains())
        funnel = decide(warehouse, DEMO_RUN, RUN_AT)
        dispatcher = Dispatcher(
            warehouse,
            SandboxProvider(outbox, Sender("shop@shop.example")),
            LinkSigner(b"a-test-secret-of-enough-bytes", "http://localhost:8080/lifecycle-webhooks"),
            clock=lambda: RUN_AT + timedelta(minutes=5),
            sleep=lambda _: None,
        )
        for channel in ("email", "push"):
            dispatcher.run(channel)
    finally:
        warehouse.engine.dispose()
    return funnel
