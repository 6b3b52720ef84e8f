"""On the demo shop (3,000 customers) every chain gets entrants: a first run 45 days before the end of the
data, then the run at the end catches up on everything since (DuckDB)."""

from datetime import datetime, timedelta

import pytest

END = datetime(2026, 3, 2)


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    from lifecycle.chains.config import load_chains
    from lifecycle.chains.engine import run_chains
    from lifecycle.demo.config import DemoConfig
    from lifecycle.demo.generator import generate
    from lifecycle.ingest import ingest
    from lifecycle.migrations import migrate
    from lifecycle.warehouse import Warehouse

    warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('demo') / 'warehouse.duckdb'}")
    migrate(warehouse)
    generate(warehouse, DemoConfig(customers=3000, seed=7, end=END))
    ingest(warehouse, window_end=END, run_key="ingest", now=END)
    chains = load_chains(check_templates=False)
    first = run_chains(warehouse, END - timedelta(days=45), "chains-first", chains)
    latest = run_chains(warehouse, END, "chains-latest", chains)
    return warehouse, first, latest


def test_every_chain_gets_entrants_on_the_demo_shop(demo_runs):
    _, first, latest = demo_runs
    entered = {f.chain_id: 0 for f in first}
    for figures in (*first, *latest):
        entered[figures.chain_id] += figures.entered
    assert [chain for chain, count in entered.items() if count == 0] == []
    assert sum(f.due_steps for f in latest) > 0


def test_the_run_summary_explains_exits(demo_runs):
    from lifecycle.chains.engine import run_summary

    warehouse, _, _ = demo_runs
    rows = run_summary(warehouse, "chains-latest")
    totals = {r["chain_id"]: r for r in rows if r["exit_reason"] is None}
    reasons = [r for r in rows if r["exit_reason"] is not None]
    assert len(totals) == 16
    for chain_id, total in totals.items():
        assert total["exited"] == sum(r["exited"] for r in reasons if r["chain_id"] == chain_id)
