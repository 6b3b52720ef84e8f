"""The expected next order: what the scores write for each customer and consumable line, and how close it
comes to what the customers of a generated demo shop did next (real DuckDB)."""

from datetime import date, datetime, timedelta

import pytest

from lifecycle.scores import next_order
from lifecycle.scores.config import NextOrderConfig, ScoresConfig
from lifecycle.scores.scoring import score

AS_OF = date(2026, 3, 31)
DATA_END = date(2026, 6, 29)


def _regular_shop(add_customers, add_orders, warehouse):
    """Customers 1-60 buy every 30 days (the last on 16 March), 61-100 once (on 1 March)."""
    add_customers(warehouse, range(1, 101))
    orders = []
    for c in range(1, 61):
        for k in range(6):
            orders.append(
                {
                    "customer_id": c,
                    "ordered_at": datetime(2026, 3, 16, 12) - timedelta(days=30 * k),
                    "total_amount": 1000.0,
                }
            )
    for c in range(61, 101):
        orders.append({"customer_id": c, "ordered_at": datetime(2026, 3, 1, 12), "total_amount": 500.0 + c})
    add_orders(warehouse, orders)


def test_a_regular_buyer_is_expected_one_rhythm_after_the_last_purchase(migrated, add_customers, add_orders):
    _regular_shop(add_customers, add_orders, migrated)
    report = score(migrated, AS_OF, ScoresConfig(), run_key="t")
    assert report.next_order_basis == {"own_rhythm": 60, "shop": 40}
    with migrated.begin() as conn:
        rows = conn.exec_driver_sql(
            "SELECT customer_id, next_order_date, next_order_early, next_order_late, next_order_basis"
            " FROM crm.customer_scores_current ORDER BY customer_id"
        ).all()
    # 16 March + 30 days; every ratio of the shop is 1, so the interval is that one day
    assert rows[0][1:] == (date(2026, 4, 15), date(2026, 4, 15), date(2026, 4, 15), "own_rhythm")
    # a one-time buyer has waited 30 days: every gap on record is 30 days, none longer, so the shop's
    # longest gaps are counted from tomorrow
    one_time = rows[60]
    assert one_time[4] == "shop"
    assert one_time[2] >= AS_OF + timedelta(days=1)
    assert one_time[2] <= one_time[1] <= one_time[3]


def test_the_date_is_never_before_tomorrow_and_the_interval_is_ordered(migrated, add_customers, add_orders):
    _regular_shop(add_customers, add_orders, migrated)
    score(migrated, date(2026, 5, 31), ScoresConfig(), run_key="t")  # everyone is long overdue
    with migrated.begin() as conn:
        bad = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM crm.customer_scores WHERE next_order_early <= as_of"
            " OR next_order_early > next_order_date OR next_order_date > next_order_late"
            " OR next_order_date IS NULL"
        ).scalar()
    assert bad == 0


def test_a_shop_without_repeat_purchases_gets_no_date_rather_than_a_made_up_one(
    migrated, add_customers, add_orders
):
    add_customers(migrated, [1, 2])
    add_orders(
        migrated,
        [{"customer_id": c, "ordered_at": datetime(2026, 3, 1), "total_amount": 10.0} for c in (1, 2)],
    )
    report = score(migrated, AS_OF, ScoresConfig(), run_key="t")
    assert report.customers == 2
    assert report.next_order_basis == {}
    with migrated.begin() as conn:
        assert (
            conn.exec_driver_sql(
                "SELECT COUNT(*) FROM crm.customer_scores WHERE next_order_date IS NULL"
            ).scalar()
            == 2
        )


def test_residual_quantiles_count_only_gaps_longer_than_the_wait_and_within_reach():
    import numpy as np

    sample = np.arange(1.0, 101.0)  # gaps of 1 to 100 days
    result = next_order.residual_quantiles(sample, np.array([0.0, 50.0, 99.0]), 2, np.array([100, 60, 200]))
    assert result[0].tolist() == pytest.approx([25.75, 50.5, 75.25])
    assert result[1].tolist() == pytest.approx([53.25, 55.5, 57.75])  # 51 .. 60
    assert np.isnan(result[2]).all()  # only one gap (100) is longer than 99 days


@pytest.fixture(scope="module")
def demo_evaluation(demo_file, tmp_path_factory):
    import shutil

    from lifecycle.warehouse import Warehouse

    target = tmp_path_factory.mktemp("next") / "demo.duckdb"
    shutil.copyfile(demo_file, target)
    warehouse = Warehouse(f"duckdb:///{target}")
    return warehouse, next_order.evaluate(warehouse, DATA_END, ScoresConfig())


def test_on_the_demo_shop_the_model_beats_same_interval_again(demo_evaluation):
    _, result = demo_evaluation
    assert result["as_of"] == "2025-12-31"
    repeat = result["groups"]["repeat buyers"]
    model, naive = repeat["model"], repeat["same interval again"]
    assert model["customers"] >= 300
    assert model["mae_days"] < 0.8 * naive["mae_days"], repeat
    # the 50 % interval holds about half of the customers who came back, the median is not far off
    assert 0.4 <= model["interval_coverage"] <= 0.6, model
    assert abs(model["bias_days"]) < 15, model
    everyone = result["groups"]["all"]
    assert everyone["model"]["mae_days"] < everyone["shop median interval"]["mae_days"], everyone
    one_time = result["groups"]["one-time buyers"]
    assert one_time["model"]["mae_days"] < one_time["shop median interval"]["mae_days"], one_time
    assert set(everyone["model"]["basis"]) <= {"own_rhythm", "segment", "shop"}
    # per consumable line, the customer's cycle beats their last gap of the line
    lines = result["lines"]["groups"]["repeat line buyers"]
    assert lines["model"]["customers"] >= 50
    assert lines["model"]["mae_days"] < lines["same interval again"]["mae_days"], lines


def test_the_demo_shop_scores_write_each_consumable_line(demo_evaluation):
    warehouse, _ = demo_evaluation
    report = score(warehouse, DATA_END, ScoresConfig(), run_key="t")
    assert report.consumable_lines > 100
    lines = next_order.consumable_lines(warehouse, DATA_END, ScoresConfig().next_order)
    with warehouse.begin() as conn:
        rows = conn.exec_driver_sql(
            "SELECT line, basis, COUNT(*), MEDIAN(cycle_days) FROM crm.customer_line_next_orders"
            " GROUP BY line, basis ORDER BY line, basis"
        ).all()
        mismatched = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM crm.customer_line_next_orders"
            " WHERE next_purchase_date <> CAST(last_purchase_at + cycle_days * INTERVAL '1 day' AS DATE)"
        ).scalar()
    assert len(lines) == report.consumable_lines
    assert mismatched == 0
    cycles = {(line, basis): median for line, basis, _, median in rows}
    # the demo's catalogue cycles: vacuum bags 60 days, water cartridges 45, printer cartridges 75; the
    # learnt cycles of the lines come close to them
    assert cycles["Мешки для пылесосов", "line"] == pytest.approx(60, abs=8)
    assert cycles["Картриджи для фильтров воды", "line"] == pytest.approx(45, abs=6)
    assert cycles["Картриджи для принтеров", "line"] == pytest.approx(75, abs=10)
    assert {basis for _, basis, _, _ in rows} == {"customer", "line"}


def test_the_settings_refuse_a_zero_prior_weight():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        NextOrderConfig(line_prior_weight=0)
