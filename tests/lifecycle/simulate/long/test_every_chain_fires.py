"""Every one of the 16 chains sends in a default-configured simulation long enough for the catalogue scenario
(a restock, a price drop, a launch, an occasion) to play out. Slow (about 8 simulated days of 1,500
customers): `make test-simulation`, not part of `make test`."""

from datetime import datetime

import pytest
import sqlalchemy as sa

from lifecycle.chains.config import load_chains
from lifecycle.simulate import Simulation, SimulationConfig
from lifecycle.warehouse import Warehouse

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


def test_every_chain_fires(tmp_path):
    config = SimulationConfig(
        days=8,
        customers=1500,
        seed=42,
        end=datetime(2026, 6, 30, 11),
        history_days=730,
        outbox=tmp_path / "out",
    )
    simulation = Simulation(f"duckdb:///{tmp_path / 'warehouse.duckdb'}", config)
    simulation.build()
    simulation.run()
    simulation.warehouse.engine.dispose()
    with Warehouse(simulation.url).begin() as conn:
        sends = dict(conn.execute(sa.text("SELECT chain_id, sends FROM sim.truth_chain")).all())
        entered = dict(
            conn.execute(
                sa.text(
                    "SELECT chain_id, COUNT(*) FROM crm.chain_instances WHERE entered_at > :s GROUP BY 1"
                ),
                {"s": simulation.start},
            ).all()
        )
    chains = sorted(load_chains(check_templates=False))
    assert len(chains) == 16
    silent = {c: (entered.get(c, 0), sends.get(c, 0)) for c in chains if not sends.get(c)}
    assert silent == {}, f"chains that sent nothing (entered, sent): {silent}"
