"""The win-back SMS measured against its own holdout in the simulated shop.

A copy of the chain map holds only the win-back chain, its first email and its SMS, half of the SMS's
customers held out of the SMS alone (``holdout_share: 0.5`` on the step). On its first run the chain admits
every customer who lapsed in the last 400 days, so one cohort of several hundred SMS customers is decided
in the first simulated day (after the email, as the minimum gap between messages and the quiet hours
allow). The simulated customers buy with a known extra probability after a delivered SMS
(``step_uplift``), within two days; the report
(:func:`lifecycle.reports.step_lift.step_lift`) compares their purchases over two days with the held-out
customers', and its intervals must hold the truth the simulator recorded (the orders the SMS added, inside
each customer's window) and exclude zero. Three simulated days of 4,000 customers with one chain."""

from datetime import datetime

import pytest
import sqlalchemy as sa
import yaml

from lifecycle.chains.config import CHAINS_DIR
from lifecycle.demo.response import ResponseConfig
from lifecycle.reports.step_lift import format_step_lift, step_lift
from lifecycle.simulate import Simulation, SimulationConfig
from lifecycle.simulate.compare import format_step_table, step_comparison
from lifecycle.warehouse import Warehouse

pytestmark = pytest.mark.timeout(1800)
END = datetime(2026, 6, 30, 11)
WINDOW_DAYS = 2
SMS_UPLIFT = 0.3


def win_back_only(folder, sms_holdout: float = 0.5):
    """The win-back chain alone, admitting on its first run everyone who lapsed in the last 400 days: its
    first email and then its SMS (with a holdout of its own) go to that cohort at once. Both steps stay fresh
    for 400 days and the instances stay for 450, since an entry is dated at the lapse; the SMS is a content
    message here, so that it is not every customer's only sale message of the week (the sale share would
    stop it)."""
    folder.mkdir()
    chain = yaml.safe_load((CHAINS_DIR / "win_back.yaml").read_text(encoding="utf-8"))
    chain["entry"]["first_run_lookback"] = "400d"
    chain["exits"]["time_limit"] = "450d"  # the instances of old lapses stay until their steps are decided
    chain["holdout_share"] = 0.0
    email, sms = (dict(s) for s in chain["steps"] if s["id"] in ("email_1", "sms_1"))
    email.pop("send_time", None)
    email["fresh_for"] = "400d"
    sms.pop("condition", None)
    sms |= {"delay": "0h", "kind": "content", "fresh_for": "400d", "holdout_share": sms_holdout}
    chain["steps"] = [email, sms]
    chain.pop("send_time_holdout", None)
    (folder / "win_back.yaml").write_text(yaml.safe_dump(chain, allow_unicode=True), encoding="utf-8")
    return folder


def simulate(tmp, seed: int, sms_uplift: float, customers: int = 4000, days: int = 3):
    config = SimulationConfig(
        days=days,
        customers=customers,
        seed=seed,
        end=END,
        history_days=200,
        outbox=tmp / "outbox",
        chains_folder=win_back_only(tmp / "chains"),
        response=ResponseConfig(step_uplift={("win_back", "sms_1"): sms_uplift}, window_days=WINDOW_DAYS),
    )
    simulation = Simulation(f"duckdb:///{tmp / 'warehouse.duckdb'}", config)
    simulation.build()
    result = simulation.run()
    simulation.warehouse.engine.dispose()
    return Warehouse(simulation.url), result


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return simulate(tmp_path_factory.mktemp("step-holdout"), seed=3, sms_uplift=SMS_UPLIFT)


def scalar(warehouse, query: str, **params):
    with warehouse.begin() as conn:
        return conn.execute(sa.text(query), params).scalar()


def test_the_sms_holdout_is_kept_from_the_sms_alone(run):
    warehouse, _ = run
    arms = dict(
        warehouse.engine.connect()
        .execute(
            sa.text(
                "SELECT step_arm, COUNT(*) FROM crm.decisions"
                " WHERE step_id = 'sms_1' AND step_arm IS NOT NULL GROUP BY 1"
            )
        )
        .all()
    )
    assert arms["treated"] >= 100
    assert arms["holdout"] >= 100
    assert 0.4 < arms["holdout"] / (arms["holdout"] + arms["treated"]) < 0.6
    # held out: decided with the reason, never in the ledger; treated: planned and sent, with a cost
    assert (
        scalar(
            warehouse,
            "SELECT COUNT(*) FROM crm.decisions AS d JOIN crm.send_ledger AS l"
            " ON l.instance_id = d.instance_id AND l.step_id = 'sms_1'"
            " WHERE d.step_arm = 'holdout' AND d.step_id = 'sms_1'",
        )
        == 0
    )
    assert (
        scalar(
            warehouse,
            "SELECT COUNT(*) FROM crm.decisions WHERE step_arm = 'holdout' AND reason <> 'step_holdout'",
        )
        == 0
    )
    assert (
        scalar(warehouse, "SELECT MIN(cost) FROM crm.send_ledger WHERE channel = 'sms' AND state = 'sent'")
        > 0
    )
    # the email before the SMS went to both arms alike
    assert scalar(warehouse, "SELECT COUNT(*) FROM sim.truth_messages WHERE step_id = 'email_1'") > 0


def test_the_truth_of_the_sms_is_written(run):
    warehouse, _ = run
    assert scalar(
        warehouse,
        "SELECT uplift FROM sim.truth_step_uplift WHERE chain_id = 'win_back' AND step_id = 'sms_1'",
    ) == pytest.approx(SMS_UPLIFT)
    with warehouse.begin() as conn:
        steps = {
            r["step_id"]: dict(r)
            for r in conn.execute(
                sa.text("SELECT * FROM sim.truth_step WHERE chain_id = 'win_back'")
            ).mappings()
        }
    assert steps["sms_1"]["channel"] == "sms"
    assert steps["sms_1"]["uplift"] == pytest.approx(SMS_UPLIFT)
    assert steps["sms_1"]["induced_orders"] > 0
    assert steps["sms_1"]["delivered"] < steps["sms_1"]["sends"]  # 96 % of SMS are delivered
    # the chain's other step keeps the chain's uplift
    assert steps["email_1"]["uplift"] == pytest.approx(0.03)


def test_the_measured_sms_effect_holds_the_truth_and_weighs_the_cost(run):
    warehouse, result = run
    rows = step_comparison(warehouse, result.start.date(), result.end.date(), WINDOW_DAYS)
    print("\n" + format_step_table(rows))
    (sms,) = rows
    assert (sms["chain_id"], sms["step_id"], sms["channel"]) == ("win_back", "sms_1", "sms")
    assert sms["reason"] is None
    assert sms["revenue_reason"] is None
    assert sms["true_orders"] > 0
    assert sms["orders_ci_low"] <= sms["true_orders"] <= sms["orders_ci_high"]
    assert sms["revenue_ci_low"] <= sms["true_revenue"] <= sms["revenue_ci_high"]
    assert sms["orders_covered"]
    assert sms["revenue_covered"]
    # a strong SMS is found: its interval excludes zero, and it earns far more than it costs
    assert sms["orders_ci_low"] > 0
    assert sms["cost"] == pytest.approx(
        scalar(warehouse, "SELECT SUM(cost) FROM crm.send_ledger WHERE step_id = 'sms_1' AND state = 'sent'")
    )
    assert sms["net"] == pytest.approx(sms["incremental_revenue"] - sms["cost"])
    assert sms["verdict"] == "earns_its_cost"
    # the report itself (what the pages read) gives the same figures
    (reported,) = step_lift(warehouse, result.start.date(), result.end.date(), WINDOW_DAYS)
    assert reported["incremental_revenue"] == pytest.approx(sms["incremental_revenue"])
    print(format_step_lift([reported]))


def test_the_step_table_says_verdicts_and_reasons_in_words():
    base = {
        "chain_id": "win_back",
        "step_id": "sms_1",
        "true_uplift": 0.05,
        "treated": 400,
        "holdout": 100,
        "true_orders": 12,
        "true_revenue": 60000.0,
        "cost": 1800.0,
        "reason": None,
        "revenue_reason": None,
        "incremental_orders": 11.5,
        "orders_ci_low": 2.0,
        "orders_ci_high": 21.0,
        "incremental_revenue": 58000.0,
        "revenue_ci_low": 9000.0,
        "revenue_ci_high": 107000.0,
        "verdict": "earns_its_cost",
        "revenue_covered": True,
    }
    small = base | {
        "step_id": "sms_2",
        "treated": 30,
        "holdout": 8,
        "reason": "too_few_entrants",
        "revenue_reason": "too_few_entrants",
        "incremental_orders": None,
        "incremental_revenue": None,
        "verdict": None,
        "revenue_covered": None,
    }
    measured, too_small = format_step_table([base, small]).splitlines()[2:]
    assert measured.endswith("earns its cost (truth in CI)")
    assert "— (too small to say)" in too_small
    assert too_small.endswith("—")
    assert "earns_its_cost" not in measured
    assert "too_few_entrants" not in too_small
