"""All chains of a run advance together: the statements of the advance do not multiply with the chains, and
the map run together gives every chain what it gives when run alone."""

import pytest
from chain_helpers import H, T, customer, event, insert, query

import lifecycle.warehouse as warehouse_module
from lifecycle.chains.config import load_chains
from lifecycle.chains.engine import EXIT_ORDER, run_chains


@pytest.fixture
def busy(wh):
    """Welcome entrants, a cart left idle and a browse: several chains have entries and active instances."""
    insert(wh, "crm.customers", [customer(c, registered_at=T - 3 * H) for c in range(1, 6)])
    insert(
        wh,
        "crm.events",
        [event(10 + c, c, "add_to_cart", T - 3 * H, product_id=100) for c in range(1, 4)]
        + [event(20 + c, c, "view_product", T - 4 * H, product_id=400, duration_s=300) for c in range(3, 6)],
    )
    return wh


def _statements(monkeypatch, wh, chains, as_of, run_key):
    executed = []
    execute = warehouse_module._execute

    def counting(conn, statement, params):
        executed.append(statement)
        return execute(conn, statement, params)

    monkeypatch.setattr(warehouse_module, "_execute", counting)
    figures = run_chains(wh, as_of, run_key, chains)
    monkeypatch.setattr(warehouse_module, "_execute", execute)
    return figures, executed


def test_the_advance_costs_the_same_statements_for_one_chain_as_for_sixteen(busy, monkeypatch):
    chains = load_chains(check_templates=False)
    run_chains(busy, T, "warm-up", chains)  # first runs: steps written, watermarks set
    _, alone = _statements(monkeypatch, busy, {"welcome": chains["welcome"]}, T + H, "one")
    figures, together = _statements(monkeypatch, busy, chains, T + H, "all")

    assert len(figures) == len(chains) == 16
    assert sum(f.due_steps for f in figures) > 0
    # Sixteen entry queries instead of one; the rest is the same statements, but for the exit kinds that
    # only other chains turn on.
    assert len(together) - len(alone) <= (len(chains) - 1) + len(EXIT_ORDER)
    assert len(together) < 3 * len(alone)


def test_a_chain_run_with_the_others_writes_what_it_writes_alone(busy):
    chains = load_chains(check_templates=False)
    instances = "SELECT instance_id, status FROM crm.chain_instances ORDER BY instance_id"
    due = "SELECT chain_id, instance_id, step_id, due_at FROM crm.due_steps ORDER BY 2, 3"
    run_chains(busy, T, "together", chains)
    together = query(busy, instances), query(busy, due)
    with busy.begin() as conn:
        for table in ("crm.chain_instances", "crm.chain_watermarks", "crm.due_steps", "crm.chain_runs"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
    for chain_id, chain in chains.items():
        run_chains(busy, T, "alone", {chain_id: chain})
    assert (query(busy, instances), query(busy, due)) == together
    assert len(together[0]) >= 5
    assert len(together[1]) >= 5
