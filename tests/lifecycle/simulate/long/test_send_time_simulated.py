"""Send-time optimisation against the simulated shop, whose customers each have a hidden preferred local hour
(they open at that hour, and open more of what arrives near it): the best hours learned with the daily scores
land near the true ones far more often than chance, and the report's send-time lift shows the best-hour arm
opening more than the default-time holdout. A copy of the chain map times the high-volume marketing emails
(birthday, product line update, win-back, cross-sell) to the best hour with half of each chain held out, so a
few simulated days give both arms enough sends, and the hour matters more than by default (×3 at the
preferred hour, ×0.1 far from it) so those few hundred sends can show it. Slow (six simulated days of 2,500
customers, about twenty minutes): `make test-simulation`, not part of `make test`."""

from datetime import datetime

import pytest
import sqlalchemy as sa
import yaml

from lifecycle.chains.config import CHAINS_DIR
from lifecycle.demo.response import ResponseConfig
from lifecycle.reports.send_time import format_lift, send_time_lift
from lifecycle.simulate import Simulation, SimulationConfig
from lifecycle.simulate.compare import CHANCE_WITHIN_2H, format_agreement, send_hour_agreement
from lifecycle.warehouse import Warehouse

pytestmark = [pytest.mark.slow, pytest.mark.timeout(7200)]
TIMED = {
    "birthday": {"email_1"},
    "product_line_update": {"email_1"},
    "win_back": {"email_1", "email_2", "email_3", "email_4"},
    "cross_sell": {"email_1"},
}


def _chain_map(folder):
    folder.mkdir()
    for path in sorted(CHAINS_DIR.glob("*.yaml")):
        chain = yaml.safe_load(path.read_text(encoding="utf-8"))
        if chain["id"] in TIMED:
            chain["send_time_holdout"] = 0.5
            for step in chain["steps"]:
                step["send_time"] = "optimal" if step["id"] in TIMED[chain["id"]] else "default"
        (folder / path.name).write_text(yaml.safe_dump(chain, allow_unicode=True), encoding="utf-8")
    return folder


def test_learned_hours_match_the_truth_and_the_lift_is_recovered(tmp_path):
    config = SimulationConfig(
        days=6,
        customers=2500,
        seed=11,
        end=datetime(2026, 6, 30, 11),
        history_days=365,
        outbox=tmp_path / "out",
        chains_folder=_chain_map(tmp_path / "chains"),
        response=ResponseConfig(hour_peak=3.0, hour_floor=0.1),
    )
    simulation = Simulation(f"duckdb:///{tmp_path / 'warehouse.duckdb'}", config)
    simulation.build()
    result = simulation.run()
    simulation.warehouse.engine.dispose()
    warehouse = Warehouse(simulation.url)

    agreement = send_hour_agreement(warehouse, min_responses=1)
    lift = {r["chain_id"]: r for r in send_time_lift(warehouse, result.start.date(), result.end.date())}
    print(format_agreement(agreement))
    print(format_agreement(send_hour_agreement(warehouse, min_responses=2)))
    print(format_lift(list(lift.values())))

    assert agreement["customers"] >= 50, agreement
    assert agreement["within_2h"] > 2.5 * CHANCE_WITHIN_2H, agreement
    # every timed chain sent in both arms; pooled, the best hour is opened more than the default time
    timed = [lift[c] for c in TIMED if c in lift]
    assert timed
    sent = {arm: sum(r[f"sent_{arm}"] for r in timed) for arm in ("optimal", "default")}
    opened = {arm: sum(r[f"opened_{arm}"] for r in timed) for arm in ("optimal", "default")}
    assert min(sent.values()) >= 60, sent
    assert opened["optimal"] / sent["optimal"] > opened["default"] / sent["default"], (sent, opened)
    biggest = max(timed, key=lambda r: r["sent_optimal"] + r["sent_default"])
    assert biggest["opened_lift"] > 0, biggest
    # the ground truth agrees: the optimal arm's messages arrived nearer the customers' preferred hours
    with warehouse.begin() as conn:
        factor = dict(
            conn.execute(
                sa.text(
                    "SELECT l.send_time_arm, AVG(m.hour_factor) FROM sim.truth_messages AS m"
                    " JOIN crm.send_ledger AS l ON m.send_key = l.send_key"
                    " WHERE l.send_time_arm IS NOT NULL GROUP BY 1"
                )
            ).all()
        )
    print(f"mean open factor of the arrival hour (truth): {factor}")
    assert factor["optimal"] > factor["default"], factor
