"""The send-time lift against the simulation's truth on hand-built rows: the true open rate of each arm is the
mean of the probabilities its messages were opened with, the report's interval is checked against it, and
re-draws of the same messages' opens show how the interval behaves."""

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from lifecycle.migrations import migrate
from lifecycle.reports.stats import newcombe_difference
from lifecycle.simulate import Simulation, SimulationConfig
from lifecycle.simulate.compare import format_recovery, send_time_recovery, send_time_redraws
from lifecycle.simulate.send_time_recovery import measured_days

DAY = datetime(2026, 6, 27, 16, 20)
#: (chain, arm): messages and the probability each was opened with.
ARMS = {
    ("win_back", "optimal"): (200, 0.40),
    ("win_back", "default"): (180, 0.20),
    ("cross_sell", "optimal"): (40, 0.30),
    ("cross_sell", "default"): (50, 0.30),
}


@pytest.fixture
def simulated(duckdb_warehouse):
    migrate(duckdb_warehouse)
    simulation = Simulation(str(duckdb_warehouse.url), SimulationConfig(days=1, customers=50))
    simulation._create_truth_tables()
    rng = np.random.default_rng(5)
    ledger, truth, events = [], [], []
    for (chain, arm), (count, p_open) in ARMS.items():
        for i in range(count):
            key = f"{chain}-{arm}-{i}"
            opened = bool(rng.random() < p_open)
            ledger.append(
                {
                    "send_key": key,
                    "chain_id": chain,
                    "step_id": "email_1",
                    "instance_id": key,
                    "trigger_key": key,
                    "customer_id": len(ledger) + 1,
                    "channel": "email",
                    "message_kind": "content",
                    "template": "t",
                    "variant": "A",
                    "context": "{}",
                    "planned_at": DAY,
                    "send_after": DAY,
                    "local_send_date": DAY.date(),
                    "expires_at": DAY + timedelta(days=1),
                    "run_key": "r",
                    "state": "sent",
                    "attempts": 1,
                    "updated_at": DAY,
                    "sent_at": DAY,
                    "send_time_arm": arm,
                }
            )
            truth.append(
                {
                    "send_key": key,
                    "chain_id": chain,
                    "step_id": "email_1",
                    "customer_id": len(ledger),
                    "sent_at": DAY,
                    "delivered": True,
                    "opened": opened,
                    "clicked": False,
                    "hour_factor": 1.0,
                    "open_probability": p_open,
                    "click_probability": p_open / 4,
                }
            )
            # the warehouse hears of every open but the last optimal win-back one (after the end)
            if opened and not (chain == "win_back" and arm == "optimal" and i == count - 1):
                events.append(
                    {
                        "provider": "sandbox",
                        "provider_event_id": key,
                        "send_key": key,
                        "event_type": "open",
                        "occurred_at": DAY + timedelta(hours=3),
                        "received_at": DAY + timedelta(hours=3),
                    }
                )
    wh = duckdb_warehouse
    with wh.begin() as conn:
        wh.insert_df(conn, "crm.send_ledger", pd.DataFrame(ledger))
        wh.insert_df(conn, "crm.message_events", pd.DataFrame(events))
        wh.insert_df(conn, "sim.truth_messages", pd.DataFrame(truth))
    simulation._write_truth_send_time()
    return wh, pd.DataFrame(truth).merge(pd.DataFrame(ledger)[["send_key", "send_time_arm"]])


def test_the_true_lift_is_the_difference_of_the_mean_open_probabilities(simulated):
    warehouse, truth = simulated
    rows = {r["chain_id"]: r for r in send_time_recovery(warehouse, date(2026, 6, 27), date(2026, 6, 27))}
    assert set(rows) == {"win_back", "cross_sell", "*"}
    win_back, cross_sell, pooled = rows["win_back"], rows["cross_sell"], rows["*"]
    assert win_back["true_lift"] == pytest.approx(0.20)
    assert cross_sell["true_lift"] == pytest.approx(0.0)
    assert pooled["true_open_rate_optimal"] == pytest.approx((200 * 0.4 + 40 * 0.3) / 240)
    assert pooled["true_open_rate_default"] == pytest.approx((180 * 0.2 + 50 * 0.3) / 230)
    # measured: the report's opens (one optimal open not heard of); drawn: every open the customers made
    drawn = truth.groupby(["chain_id", "send_time_arm"])["opened"].sum()
    heard = drawn[("win_back", "optimal")] - int(
        truth.query("send_key == 'win_back-optimal-199'")["opened"].iloc[0]
    )
    lift, low, high = newcombe_difference(int(heard), 200, int(drawn[("win_back", "default")]), 180)
    assert (win_back["open_lift"], win_back["ci_low"], win_back["ci_high"]) == pytest.approx(
        (lift, low, high)
    )
    assert win_back["drawn_lift"] == pytest.approx(
        drawn[("win_back", "optimal")] / 200 - drawn[("win_back", "default")] / 180
    )
    assert win_back["covered"] == (low <= 0.2 <= high)
    assert pooled["sent_optimal"] == 240
    assert pooled["sent_default"] == 230
    assert "win_back" in format_recovery(list(rows.values()))
    # another period: nothing sent, nothing to compare
    assert send_time_recovery(warehouse, date(2026, 7, 1), date(2026, 7, 2)) == []


def test_redraws_cover_the_truth_and_say_how_many_sends_a_clear_lift_needs(simulated):
    warehouse, _ = simulated
    figures = send_time_redraws(warehouse, date(2026, 6, 27), date(2026, 6, 27), draws=500, seed=3)
    r1, r0 = (200 * 0.4 + 40 * 0.3) / 240, (180 * 0.2 + 50 * 0.3) / 230
    assert figures["true_lift"] == pytest.approx(r1 - r0)
    assert figures["covered"] >= 0.9  # Newcombe's interval holds what it claims
    assert figures["measured_positive"] >= 0.99  # a 15-point lift on 240 and 230 sends
    ratio = 230 / 240
    needed = 2.8**2 * (r1 * (1 - r1) + r0 * (1 - r0) / ratio) / (r1 - r0) ** 2
    assert figures["sent_optimal_needed"] == round(needed)
    assert figures["sent_default_needed"] == round(needed * ratio)
    assert send_time_redraws(warehouse, date(2026, 7, 1), date(2026, 7, 2))["true_lift"] is None


def test_the_measured_days_leave_the_unsettled_last_days_out():
    start, end = datetime(2026, 6, 26, 11), datetime(2026, 6, 30, 11)
    assert measured_days(start, end, 0) == (date(2026, 6, 26), date(2026, 6, 30))
    assert measured_days(start, end, 1) == (date(2026, 6, 26), date(2026, 6, 28))
