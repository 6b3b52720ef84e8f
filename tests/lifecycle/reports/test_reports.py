"""The report tables and the overview on hand-built rows with known answers, on DuckDB and PostgreSQL."""

from datetime import date, datetime

import pytest
from report_rows import HOLDOUT_REVENUE, REPORT_DATE, TREATED_REVENUE

from lifecycle.reports import read
from lifecycle.reports.build import build_reports
from lifecycle.reports.stats import (
    MIN_BUYERS_PER_ARM,
    MIN_ENTRANTS_PER_ARM,
    REASON_LABELS,
    REASONS,
    ArmStats,
    ab_winner,
    chain_effect,
    newcombe_difference,
    welch_uplift,
    wilson,
)

pytestmark = pytest.mark.usefixtures("reports_warehouse")


def _rows(warehouse, table, order):
    with warehouse.begin() as conn:
        result = conn.exec_driver_sql(f"SELECT * FROM crm.{table} ORDER BY {order}")
        return [dict(r) for r in result.mappings()]


def test_last_touch_and_first_touch_attribution(reports_warehouse):
    rows = _rows(reports_warehouse.warehouse, "report_attributed_orders", "model, order_id")
    got = {(r["model"], r["order_id"]): (r["send_key"], r["revenue"]) for r in rows}
    assert got == {
        # order 1 (100) follows cart (3 days) and welcome (1 day); order 3 (50) is 8 days after cart.
        ("last_touch", 1): ("s2", 100.0),
        ("last_touch", 3): ("s2", 50.0),
        ("first_touch", 1): ("s1", 100.0),
        ("first_touch", 3): ("s2", 50.0),
    }


def test_chain_and_step_kpis_over_a_period(reports_warehouse):
    view = read.overview(reports_warehouse.warehouse, date(2026, 3, 1), REPORT_DATE)
    chains = {c["chain_id"]: c for c in view["chains"]}
    cart, welcome = chains["cart"], chains["welcome"]
    assert (cart["messages"], cart["sent"], cart["failed"]) == (2, 1, 1)
    assert (cart["delivered"], cart["opened"], cart["clicked"], cart["unsubscribed"]) == (1, 1, 1, 0)
    assert (cart["converted"], cart["orders_last_touch"], cart["revenue_last_touch"]) == (1, 0, 0.0)
    assert (cart["orders_first_touch"], cart["revenue_first_touch"]) == (1, 100.0)
    assert (welcome["revenue_last_touch"], welcome["revenue_first_touch"]) == (150.0, 50.0)
    assert welcome["unsubscribed"] == 1
    assert welcome["unsubscribe_rate"] == 1.0
    # A period that excludes the sends has no KPIs for them.
    assert read.overview(reports_warehouse.warehouse, date(2026, 3, 4), REPORT_DATE)["steps"] == []


def test_incremental_revenue_of_a_holdout_too_small_to_say(reports_warehouse):
    uplift = next(
        c["uplift"]
        for c in read.overview(reports_warehouse.warehouse, date(2026, 3, 1), REPORT_DATE)["chains"]
        if c["chain_id"] == "cart"
    )
    assert (uplift["treated"], uplift["holdout"], uplift["sends"]) == (4, 3, 1)
    assert (uplift["treated_buyers"], uplift["holdout_buyers"]) == (2, 2)
    assert uplift["revenue_per_treated"] == pytest.approx(75.0)
    assert uplift["revenue_per_holdout"] == pytest.approx(20.0)
    assert (uplift["conversion_treated"], uplift["conversion_holdout"]) == (0.5, pytest.approx(2 / 3))
    # The chain's one sent message went to customer 1, who never entered it: its entrants got nothing, so
    # there is no effect to measure (and four against three entrants would be too few anyway).
    assert (uplift["messaged"], uplift["reach"], uplift["holdout_messaged"]) == (0, 0.0, 0)
    assert (uplift["reason"], uplift["conversion_reason"]) == ("no_sends", "no_sends")
    assert (uplift["incremental_revenue"], uplift["ci_low"], uplift["ci_high"]) == (None, None, None)
    assert (uplift["significant"], uplift["conversion_significant"]) == (False, False)
    assert uplift["conversion_uplift"] is None


def test_chain_effects_table(reports_warehouse):
    effects = {e["chain_id"]: e for e in read.chain_effects(reports_warehouse.warehouse)}
    cart, welcome = effects["cart"], effects["welcome"]
    assert tuple(cart) == read.CHAIN_EFFECT_COLUMNS
    assert (cart["sends"], cart["treated"], cart["holdout"], cart["messaged"]) == (1, 4, 3, 0)
    assert cart["reason"] == "no_sends"
    # welcome sent one message but nobody entered it in the period.
    assert (welcome["sends"], welcome["treated"], welcome["holdout"]) == (1, 0, 0)
    assert (welcome["reason"], welcome["incremental_revenue"], welcome["significant"]) == (
        "no_entrants",
        None,
        False,
    )


def test_welch_interval_of_the_arms():
    scipy_stats = pytest.importorskip("scipy.stats")
    treated, holdout = ArmStats.of(TREATED_REVENUE), ArmStats.of(HOLDOUT_REVENUE)
    uplift = welch_uplift(treated, holdout)
    assert uplift.per_entrant == pytest.approx(55.0)
    assert uplift.incremental_revenue == pytest.approx(220.0)  # 55 per entrant × 4 treated
    # Without buyer counts the interval is SciPy's Welch interval on the raw revenues, scaled by the treated.
    plain = welch_uplift(
        ArmStats(4, treated.total, treated.total_sq), ArmStats(3, holdout.total, holdout.total_sq)
    )
    low, high = scipy_stats.ttest_ind(TREATED_REVENUE, HOLDOUT_REVENUE, equal_var=False).confidence_interval(
        0.95
    )
    assert (plain.low, plain.high) == (pytest.approx(low * 4), pytest.approx(high * 4))
    # With them, each arm's degrees of freedom are its buyers less one (2 and 2 here): a wider interval.
    a, b = treated.variance / 4, holdout.variance / 3
    df = (a + b) ** 2 / (a * a / 1 + b * b / 1)
    half = scipy_stats.t.ppf(0.975, df) * (a + b) ** 0.5
    assert uplift.df == pytest.approx(df)
    assert (uplift.low, uplift.high) == (pytest.approx((55 - half) * 4), pytest.approx((55 + half) * 4))
    assert uplift.low < plain.low


def test_conversion_intervals_match_published_values():
    # Wilson: 0 of 10; Newcombe (1998), example (a): 56/70 - 48/80, hybrid score interval.
    assert wilson(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    diff, low, high = newcombe_difference(56, 70, 48, 80)
    assert (diff, low, high) == (
        pytest.approx(0.2),
        pytest.approx(0.0524, abs=1e-4),
        pytest.approx(0.3339, abs=1e-4),
    )


def test_chain_effect_reasons():
    def arms(n, buyers):
        return ArmStats(n, 100.0 * buyers, 10_000.0 * buyers, buyers)

    assert chain_effect(arms(500, 50), arms(100, 20), sends=0)["reason"] == "no_sends"
    # Known reach decides over the period's sends: messages of the period to earlier entrants do not count,
    # and entrants messaged after the period do.
    silent = ArmStats(500, 5000.0, 500_000.0, 50, messaged=0)
    assert chain_effect(silent, arms(200, 20), sends=300)["reason"] == "no_sends"
    reached = ArmStats(500, 10_000.0, 1_000_000.0, 100, messaged=400)
    assert chain_effect(reached, arms(200, 20), sends=0)["reason"] is None
    assert chain_effect(reached, arms(200, 20), sends=0)["reach"] == 0.8
    none = ArmStats(0, 0.0, 0.0, 0)
    assert chain_effect(arms(500, 50), none, sends=10)["reason"] == "no_holdout"
    assert chain_effect(none, none, sends=10)["reason"] == "no_entrants"
    assert set(REASONS) == set(REASON_LABELS)
    small = chain_effect(arms(500, 50), arms(MIN_ENTRANTS_PER_ARM - 1, 20), sends=10)
    assert (small["reason"], small["conversion_reason"]) == ("too_few_entrants", "too_few_entrants")
    few = chain_effect(arms(500, 50), arms(200, MIN_BUYERS_PER_ARM - 1), sends=10)
    # Too few buyers for revenue; the conversion interval still holds with few buyers.
    assert (few["reason"], few["conversion_reason"], few["incremental_revenue"]) == (
        "too_few_buyers",
        None,
        None,
    )
    assert few["conversion_ci_low"] < few["conversion_uplift"] < few["conversion_ci_high"]
    ok = chain_effect(arms(500, 100), arms(200, 20), sends=10)
    assert ok["reason"] is None
    assert ok["incremental_buyers"] == pytest.approx((0.2 - 0.1) * 500)
    assert ok["conversion_significant"]
    assert ok["significant"]


def test_ab_winner():
    assert ab_winner([("A", 500, 0.01), ("B", 500, 0.99)]) == ("B", None)
    assert ab_winner([("A", 500, 0.04), ("B", 500, 0.96)]) == (None, "no_clear_winner")
    assert ab_winner([("A", 50, 0.0), ("B", 500, 1.0)]) == (None, "too_few_sends")


def test_ab_results_and_bandit_weights(reports_warehouse, chains):
    view = read.overview(
        reports_warehouse.warehouse, date(2026, 3, 1), REPORT_DATE, chains=chains, bandit_min_sample=200
    )
    (test,) = view["experiments"]
    variants = {v["variant"]: v for v in test["variants"]}
    assert (variants["A"]["sent"], variants["A"]["converted"], variants["B"]["sent"]) == (1, 1, 0)
    assert variants["A"]["p_best"] + variants["B"]["p_best"] == pytest.approx(1.0)
    assert variants["A"]["p_best"] > variants["B"]["p_best"]
    # Below the bandit's minimum sample the configured weights stay in force.
    assert test["bandit"]
    assert not test["bandit_active"]
    assert (variants["A"]["weight"], variants["B"]["weight"]) == (0.5, 0.5)


def test_cohort_retention_matrix(reports_warehouse):
    rows = _rows(reports_warehouse.warehouse, "report_cohorts", "cohort_month, months_since")
    got = {(r["cohort_month"], r["months_since"]): (r["cohort_size"], r["active_customers"]) for r in rows}
    # Customer 1 (January cohort) buys in March; the 8 February customers all buy in March.
    assert got == {(date(2026, 1, 1), 2): (1, 1), (date(2026, 2, 1), 1): (8, 8)}


def test_rfm_distribution_and_migration(reports_warehouse):
    view = read.overview(reports_warehouse.warehouse, date(2026, 3, 1), REPORT_DATE)
    counts = {r["rfm_code"]: r["customers"] for r in view["rfm"] if r["customers"]}
    assert counts == {"311": 1, "333": 1, "111": 1}
    moves = {(r["from_code"], r["to_code"]): r["customers"] for r in view["rfm_migration"]}
    assert moves == {("new", "111"): 1, ("111", "311"): 1, ("333", "333"): 1}
    assert {r["from_date"] for r in view["rfm_migration"]} == {date(2026, 2, 1)}


def test_customer_kpis(reports_warehouse):
    kpis = read.overview(reports_warehouse.warehouse, date(2026, 3, 1), REPORT_DATE)["customers"]
    # 9 buyers; repeat buyers: customer 1 (3 purchases) and the 4 entrants with a purchase in the horizon.
    assert (kpis["customers"], kpis["buyers"], kpis["repeat_buyers"]) == (9, 9, 5)
    assert kpis["repeat_purchase_rate"] == pytest.approx(5 / 9)
    assert kpis["mean_ltv"] == pytest.approx(200.0)  # ltv 100, 200, 300 on the latest scored date
    assert kpis["retention_base"] == 0
    assert kpis["retention_rate"] is None


def test_rebuilding_a_date_gives_the_same_tables(reports_warehouse, chains, policy):
    wh = reports_warehouse.warehouse
    tables = ("report_attributed_orders", "report_chain_daily", "report_holdout_daily", "report_cohorts")
    before = {t: _rows(wh, t, "1, 2, 3") for t in tables}
    build_reports(wh, REPORT_DATE, "again", chains=chains, policy=policy, now=datetime(2026, 4, 1))
    build_reports(wh, date(2026, 4, 1), "next", chains=chains, policy=policy, now=datetime(2026, 4, 2))
    assert {t: _rows(wh, t, "1, 2, 3") for t in tables} == before


def test_welch_interval_edge_cases():
    one = ArmStats.of([10.0])
    assert welch_uplift(one, ArmStats.of([1.0, 2.0])).per_entrant_low is None
    flat = welch_uplift(ArmStats.of([5.0, 5.0]), ArmStats.of([2.0, 2.0]))
    assert (flat.per_entrant, flat.low, flat.high) == (3.0, 6.0, 6.0)
    assert welch_uplift(ArmStats(0, 0, 0), one).incremental_revenue is None


def test_the_order_that_triggers_an_entry_is_not_its_outcome(reports_warehouse):
    """A purchase-triggered chain (post-purchase, ecosystem) enters the customer at the moment of the order:
    that order is the trigger, not an outcome, so it counts neither as the entrant's purchase nor as its
    revenue (else every entrant of both arms "converts" and the trigger's amount swamps the revenue); a later
    order inside the horizon does count."""
    import pandas as pd

    wh = reports_warehouse.warehouse
    entered = datetime(2026, 3, 20, 10)
    order = {"channel": "online", "status": "completed", "discount_amount": 0.0}
    with wh.begin() as conn:
        wh.insert_df(
            conn,
            "crm.orders",
            pd.DataFrame(
                [
                    order
                    | {"order_id": 9001, "customer_id": 901, "total_amount": 5000.0, "ordered_at": entered},
                    order
                    | {"order_id": 9002, "customer_id": 902, "total_amount": 7000.0, "ordered_at": entered},
                    order
                    | {
                        "order_id": 9003,
                        "customer_id": 902,
                        "total_amount": 300.0,
                        "ordered_at": entered + pd.Timedelta(days=2),
                    },
                ]
            ).assign(updated_at=lambda f: f.ordered_at, loaded_at=lambda f: f.ordered_at),
        )
        wh.insert_df(
            conn,
            "crm.chain_instances",
            pd.DataFrame(
                [
                    {
                        "instance_id": f"post-{cid}",
                        "chain_id": "post",
                        "customer_id": cid,
                        "trigger_key": f"order-{oid}",
                        "triggered_at": entered,
                        "entered_at": entered,
                        "entered_run_key": "run-1",
                        "status": "active",
                        "touches": 0,
                        "context": "{}",
                        "updated_at": entered,
                    }
                    for cid, oid in ((901, 9001), (902, 9002))
                ]
            ),
        )
    rows = wh.fetch_all(
        "reports/entrant_revenue.sql",
        since=datetime(2026, 3, 20),
        until=datetime(2026, 3, 21),
        default_horizon_days=7,
    )
    got = {r["customer_id"]: float(r["revenue"]) for r in rows if r["chain_id"] == "post"}
    assert got == {901: 0.0, 902: 300.0}
