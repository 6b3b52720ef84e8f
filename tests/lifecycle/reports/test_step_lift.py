"""The step lift on DuckDB and PostgreSQL: the customers a step with its own holdout would have gone to, per
arm, their purchases in the window after the decision, the cost of the treated messages, and the incremental
orders and revenue against that cost."""

from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import pytest

from lifecycle.reports.stats import ArmStats, welch_uplift
from lifecycle.reports.step_lift import (
    days_still_counting,
    format_step_lift,
    main,
    step_lift,
    still_counting,
)

DAY = datetime(2026, 3, 10, 12)
N = 120  # customers per arm: above the reports' minimum of 100


def _decision(i: int, arm: str | None, at: datetime = DAY, step: str = "sms_1", run: str = "r1") -> dict:
    planned = arm in ("treated", None)
    return {
        "run_key": run,
        "instance_id": f"win_back:{i}",
        "step_id": step,
        "channel": "sms",
        "chain_id": "win_back",
        "customer_id": i,
        "outcome": "planned" if planned else "suppressed",
        "reason": None if planned else "step_holdout",
        "variant": "A" if planned else None,
        "send_key": f"k{i}:{step}" if planned else None,
        "send_after": at if planned else None,
        "decided_at": at,
        "step_arm": arm,
    }


def _ledger(i: int, step: str = "sms_1", state: str = "sent", cost: float = 9.0, day: datetime = DAY) -> dict:
    return {
        "send_key": f"k{i}:{step}",
        "chain_id": "win_back",
        "step_id": step,
        "instance_id": f"win_back:{i}",
        "trigger_key": "lapse",
        "customer_id": i,
        "channel": "sms",
        "message_kind": "sale",
        "template": "ru/win_back/sms_1",
        "variant": "A",
        "context": "{}",
        "planned_at": day,
        "send_after": day,
        "local_send_date": day.date(),
        "expires_at": day + timedelta(days=2),
        "run_key": "r1",
        "state": state,
        "attempts": 1,
        "updated_at": day,
        "sent_at": day + timedelta(minutes=20) if state == "sent" else None,
        "segments": 2 if state == "sent" else None,
        "cost": cost if state == "sent" else None,
        "delivery_status": "delivered" if state == "sent" and i % 10 else None,
    }


def _order(order_id: int, customer_id: int, at: datetime, amount: float, status: str = "completed") -> dict:
    return {
        "order_id": order_id,
        "customer_id": customer_id,
        "ordered_at": at,
        "channel": "online",
        "status": status,
        "total_amount": amount,
        "discount_amount": 0.0,
        "updated_at": at,
        "loaded_at": at,
    }


def _fill(warehouse, day: datetime = DAY) -> tuple[list[float], list[float]]:
    """Treated customers 1..N, held-out N+1..2N, decided at ``day``; returns each arm's revenue per customer
    in the window."""
    decisions, ledger, orders = [], [], []
    revenue = {"treated": [0.0] * N, "holdout": [0.0] * N}
    for k in range(N):
        treated, held = 1 + k, N + 1 + k
        decisions += [_decision(treated, "treated", at=day), _decision(held, "holdout", at=day)]
        ledger.append(_ledger(treated, state="sent" if k else "failed", day=day))
        # treated: a third buy within the window (one of them twice), held out: a sixth
        if k % 3 == 0:
            orders.append(_order(10_000 + treated, treated, day + timedelta(days=2), 1000.0 + k))
            revenue["treated"][k] += 1000.0 + k
        if k == 3:
            orders.append(_order(20_000 + treated, treated, day + timedelta(days=6), 500.0))
            revenue["treated"][k] += 500.0
        if k % 6 == 0:
            orders.append(_order(10_000 + held, held, day + timedelta(days=1), 800.0))
            revenue["holdout"][k] += 800.0
    # not counted: an order after the window, one before the decision, a cancelled one
    orders.append(_order(30_001, 2, day + timedelta(days=8), 9999.0))
    orders.append(_order(30_002, 5, day - timedelta(hours=1), 9999.0))
    orders.append(_order(30_003, 8, day + timedelta(days=1), 9999.0, status="cancelled"))
    # not units: a step without a holdout, a hold before the final decision is not counted twice,
    # a decision outside the period
    decisions.append(_decision(9_001, None, step="email_1", at=day))
    decisions.append(_decision(1, "treated", at=day - timedelta(hours=3), run="r0") | {"outcome": "planned"})
    decisions.append(_decision(9_002, "holdout", at=day - timedelta(days=40)))
    with warehouse.begin() as conn:
        warehouse.insert_df(conn, "crm.decisions", pd.DataFrame(decisions))
        warehouse.insert_df(conn, "crm.send_ledger", pd.DataFrame(ledger))
        warehouse.insert_df(conn, "crm.orders", pd.DataFrame(orders))
    return revenue["treated"], revenue["holdout"]


def test_incremental_orders_and_revenue_against_the_cost(migrated):
    treated, holdout = _fill(migrated)
    (row,) = step_lift(migrated, date(2026, 3, 1), date(2026, 3, 31))
    assert (row["chain_id"], row["step_id"], row["channel"]) == ("win_back", "sms_1", "sms")
    assert (row["treated"], row["holdout"], row["sent"]) == (N, N, N - 1)
    assert row["delivered"] == sum(1 for k in range(1, N) if (1 + k) % 10)
    assert row["cost"] == pytest.approx(9.0 * (N - 1))
    assert row["cost_per_message"] == pytest.approx(9.0)
    treated_orders = N // 3 + 1
    assert row["orders_per_treated"] == pytest.approx(treated_orders / N)
    assert row["orders_per_holdout"] == pytest.approx((N // 6) / N)
    assert row["conversion_treated"] == pytest.approx((N // 3) / N)
    expected = welch_uplift(
        ArmStats(N, sum(treated), sum(v * v for v in treated), N // 3),
        ArmStats(N, sum(holdout), sum(v * v for v in holdout), N // 6),
    )
    assert row["reason"] is None
    assert row["revenue_reason"] is None
    assert row["incremental_revenue"] == pytest.approx(expected.incremental_revenue)
    assert (row["revenue_ci_low"], row["revenue_ci_high"]) == pytest.approx((expected.low, expected.high))
    assert row["incremental_orders"] == pytest.approx(treated_orders - N // 6)
    assert row["orders_ci_low"] < row["incremental_orders"] < row["orders_ci_high"]
    assert row["net"] == pytest.approx(row["incremental_revenue"] - row["cost"])
    assert row["net_ci_low"] == pytest.approx(row["revenue_ci_low"] - row["cost"])
    assert row["revenue_per_cost"] == pytest.approx(row["incremental_revenue"] / row["cost"])
    assert row["verdict"] == "earns_its_cost"
    text = format_step_lift([row])
    assert "win_back.sms_1" in text
    assert text.splitlines()[-1].endswith("  earns its cost")  # in words, not the key
    assert "earns_its_cost" not in text


def test_a_step_with_few_customers_is_not_measured(migrated):
    with migrated.begin() as conn:
        migrated.insert_df(
            conn, "crm.decisions", pd.DataFrame([_decision(i, "treated") for i in range(1, 40)])
        )
        migrated.insert_df(conn, "crm.send_ledger", pd.DataFrame([_ledger(i) for i in range(1, 40)]))
    (row,) = step_lift(migrated, date(2026, 3, 1), date(2026, 3, 31))
    assert row["reason"] == "no_holdout"
    assert row["incremental_revenue"] is None
    assert row["verdict"] is None
    assert row["cost"] == pytest.approx(9.0 * 39)
    text = format_step_lift([row])
    assert text.splitlines()[-1].endswith("  no holdout")  # the reason's label, not its key
    assert "no_holdout" not in text


def test_the_command_prints_the_table(duckdb_warehouse, capsys):
    """The table says the verdict in words; ``--json`` keeps the keys. A period that ended more than the
    purchase window ago is final: no note."""
    import json

    from lifecycle.migrations import migrate

    migrate(duckdb_warehouse)
    _fill(duckdb_warehouse)
    url = duckdb_warehouse.url.render_as_string(hide_password=False)
    duckdb_warehouse.engine.dispose()
    assert main(["--warehouse", url, "--until", "2026-03-20", "--days", "20"]) == 0
    out = capsys.readouterr().out
    assert "win_back.sms_1" in out
    assert "earns its cost" in out
    assert "earns_its_cost" not in out
    assert "still coming in" not in out
    assert main(["--warehouse", url, "--until", "2026-03-20", "--days", "20", "--json"]) == 0
    captured = capsys.readouterr()
    (row,) = json.loads(captured.out)
    assert (row["verdict"], row["revenue_reason"]) == ("earns_its_cost", None)
    assert captured.err == ""


def test_the_command_says_when_the_last_purchases_are_still_coming_in(duckdb_warehouse, capsys):
    """Decisions three days ago, the period up to yesterday (the default): the purchases after the decisions
    of its last 7 days are not all in, and the command says until when a period gives final figures."""
    import json

    from lifecycle.migrations import migrate

    today = datetime.now(UTC).date()
    migrate(duckdb_warehouse)
    _fill(duckdb_warehouse, datetime.combine(today - timedelta(days=3), time(12)))
    url = duckdb_warehouse.url.render_as_string(hide_password=False)
    duckdb_warehouse.engine.dispose()
    assert main(["--warehouse", url, "--days", "20"]) == 0
    out = capsys.readouterr().out
    assert "win_back.sms_1" in out
    final = (today - timedelta(days=8)).isoformat()
    assert out.rstrip().endswith(
        "The purchases after the decisions of the last 7 days of the period are still coming in (a decision "
        "counts the purchases of the 7 days after it), so the figures are not final: for final figures, end "
        f"the period on {final} or earlier."
    )
    assert main(["--warehouse", url, "--days", "20", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)[0]["step_id"] == "sms_1"  # the note stays out of the JSON
    assert "still coming in" in captured.err


@pytest.mark.parametrize(
    ("first", "last", "today", "days"),
    [
        # a decision at 23:59 on the last day counts purchases until 23:59 seven days later
        (date(2026, 3, 1), date(2026, 3, 31), date(2026, 4, 8), 0),
        (date(2026, 3, 1), date(2026, 3, 31), date(2026, 4, 7), 1),
        (date(2026, 3, 1), date(2026, 3, 31), date(2026, 4, 1), 7),
        # a period that goes on past today: only the days decided so far
        (date(2026, 3, 1), date(2026, 3, 31), date(2026, 3, 29), 8),
        # a period shorter than the window
        (date(2026, 3, 30), date(2026, 3, 31), date(2026, 4, 1), 2),
    ],
)
def test_the_days_whose_purchases_are_still_coming_in(first, last, today, days):
    assert days_still_counting(first, last, 7, today) == days
    said = still_counting(first, last, 7, today)
    if not days:
        assert said is None
        return
    ru, en = said
    assert f"{(today - timedelta(days=8)).isoformat()} or earlier" in en
    assert f"не позже {(today - timedelta(days=8)).isoformat()}" in ru
    assert ("the last day of the period" if days == 1 else f"the last {days} days of the period") in en
