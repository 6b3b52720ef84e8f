"""The replenishment chain measured against its holdout in the simulated shop, and the expected next purchase
of a line against what the simulated customers did.

A copy of the chain map holds only the replenishment chain, half of its entrants held out. On its first run
the chain admits every customer whose expected next purchase of a consumable line (the daily scores,
``crm.customer_line_next_orders``) falls in the coming lead window: the entry query's window reaches
``slip_hours`` behind the first run's lookback, so a lookback of ``lead_days`` less the slip spans exactly
the lead window, and one cohort enters at once; the chain then admits the customers who come due as the days
pass. The steps stay fresh for longer by the lead window, so the first cohort's messages go out as the
contact policy allows instead of expiring. The simulated customers buy with the chain's known uplift
(``DEFAULT_UPLIFT``: +0.10, variant B +0.05) within a week of a delivered message; the report
(:func:`lifecycle.reports.read.overview` through :func:`lifecycle.simulate.coverage.measure`) compares the
entrants' purchases over the chain's horizon with the holdout's, and its interval of the difference in
conversion must hold the truth the simulator recorded (the buyers the chain's messages added inside each
entry's horizon), as must the revenue interval when the arms have buyers enough for one.

On the same run, the expected next purchase of each customer's line as of the first scoring day is closer
to the day the customer bought the line again (their own orders: those the messages induced are left out)
than "same interval again" (the last purchase of the line plus its last gap), in mean absolute days over
the customer-lines with two purchases of the line or more that bought it again before the end.

Five simulated days of 30,000 customers with one chain (docs/simulation.md has the figures)."""

from datetime import datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from lifecycle.chains.config import CHAINS_DIR
from lifecycle.reports.stats import MIN_ENTRANTS_PER_ARM
from lifecycle.scores.config import load_config
from lifecycle.scores.next_order import consumable_lines
from lifecycle.simulate import Simulation, SimulationConfig
from lifecycle.simulate.coverage import measure
from lifecycle.simulate.world import SIM_SCHEMA
from lifecycle.warehouse import Warehouse

pytestmark = pytest.mark.timeout(1800)
END = datetime(2026, 6, 30, 11)
CUSTOMERS, DAYS, HISTORY_DAYS, SEED = 30_000, 5, 365, 1


def replenishment_only(folder):
    """The replenishment chain alone, half of its entrants held out, its first run admitting everyone whose
    expected next purchase of a line falls in the coming ``lead_days``. An entry is dated at its trigger (the
    expected purchase less the lead), up to the lead window before the first run, so each step stays fresh
    for that much longer."""
    folder.mkdir()
    chain = yaml.safe_load((CHAINS_DIR / "replenishment.yaml").read_text(encoding="utf-8"))
    params = chain["entry"]["params"]
    lead_hours = params["lead_days"] * 24
    chain["entry"]["first_run_lookback"] = f"{lead_hours - params['slip_hours']}h"
    chain["holdout_share"] = 0.5
    for step in chain["steps"]:
        fresh = step["fresh_for"]
        assert fresh.endswith("d")
        step["fresh_for"] = f"{int(fresh[:-1]) * 24 + lead_hours}h"
    (folder / "replenishment.yaml").write_text(yaml.safe_dump(chain, allow_unicode=True), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replenishment-holdout")
    config = SimulationConfig(
        days=DAYS,
        customers=CUSTOMERS,
        seed=SEED,
        end=END,
        history_days=HISTORY_DAYS,
        outbox=tmp / "outbox",
        chains_folder=replenishment_only(tmp / "chains"),
    )
    simulation = Simulation(f"duckdb:///{tmp / 'warehouse.duckdb'}", config)
    simulation.build()
    result = simulation.run()
    figures = measure(simulation.warehouse, result.start, result.end, simulation.chains)
    simulation.warehouse.engine.dispose()
    return Warehouse(simulation.url), result, figures


def scalar(warehouse, query: str, **params):
    with warehouse.begin() as conn:
        return conn.execute(sa.text(query), params).scalar()


def test_the_first_run_admits_the_customers_due_in_the_lead_window(run):
    warehouse, result, _ = run
    first_scores = result.start.date() - timedelta(days=1)
    due = scalar(
        warehouse,
        "SELECT COUNT(*) FROM crm.customer_line_next_orders WHERE as_of = :d"
        " AND next_purchase_date > :d + 1 AND next_purchase_date <= :d + 8",
        d=first_scores,
    )
    with warehouse.begin() as conn:
        first_run = conn.execute(
            sa.text(
                "SELECT COUNT(*), MIN(triggered_at), MAX(triggered_at) FROM crm.chain_instances"
                " WHERE entered_run_key = (SELECT MIN(entered_run_key) FROM crm.chain_instances)"
            )
        ).one()
    print(
        f"\nfirst run: {first_run[0]} entrants; {due} customer-lines were expected in the 7 days after"
        f" {result.start.date()} by the scores of {first_scores}"
    )
    assert first_run[0] >= 100
    # the first run, in the first simulated hour, dates its entries at the moment the first message was
    # due: in the lead window before it
    first_hour = result.start + timedelta(hours=1)
    assert first_hour - timedelta(days=7) < first_run[1] < first_run[2] <= first_hour


def test_the_measured_effect_holds_the_truth(run):
    _, _, figures = run
    (row,) = figures["chains"]
    print(
        "\nreplenishment: {treated} treated / {holdout} held out, {sends} sent, true orders {true_orders},"
        " true revenue {true_revenue:,.0f}; conversion {conversion_uplift:+.3f}"
        " [{conversion_ci_low:+.3f}; {conversion_ci_high:+.3f}], true {true_share:+.3f}"
        " ({truth_horizon_buyers} buyers); revenue {measured_revenue} [{ci_low}; {ci_high}]"
        " ({reason}), true in the horizon {truth_horizon_revenue:,.0f}".format(
            **row, true_share=row["truth_horizon_buyers"] / row["treated"]
        )
    )
    assert row["chain_id"] == "replenishment"
    # the configured uplift, the mean of its email's two variants (A +0.10, B +0.05)
    assert row["true_uplift"] == pytest.approx(0.075)
    assert min(row["treated"], row["holdout"]) >= MIN_ENTRANTS_PER_ARM
    assert 0.4 < row["holdout"] / (row["treated"] + row["holdout"]) < 0.6
    assert row["conversion_reason"] is None
    # the messages did add orders: the interval has a truth other than zero to hold
    assert row["true_orders"] > 0
    assert row["truth_horizon_buyers"] > 0
    true_share = row["truth_horizon_buyers"] / row["treated"]
    assert row["conversion_ci_low"] <= true_share <= row["conversion_ci_high"]
    if row["reason"] is None:
        assert row["ci_low"] <= row["truth_horizon_revenue"] <= row["ci_high"]
    else:
        # a few days of entrants who buy a refill now and then: too few buyers for a revenue interval
        assert row["reason"] == "too_few_buyers"


#: Per customer and consumable line, the first purchase of the line after the as-of date that the customer
#: placed on their own (orders the messages induced are left out), up to the end of the run.
OWN_NEXT_PURCHASE = f"""
SELECT
    o.customer_id,
    COALESCE(p.product_line, c.name, 'category ' || CAST(p.category_id AS VARCHAR)) AS line,
    MIN(CAST(o.ordered_at AS DATE)) AS bought_on
FROM crm.orders AS o
INNER JOIN crm.ref_order_statuses AS s ON o.status = s.status
INNER JOIN crm.order_items AS oi ON o.order_id = oi.order_id
INNER JOIN crm.products AS p ON oi.product_id = p.product_id
LEFT JOIN crm.categories AS c ON p.category_id = c.category_id
WHERE
    s.counts_as_purchase
    AND p.is_consumable
    AND o.ordered_at >= CAST(:as_of AS DATE) + 1
    AND o.order_id NOT IN (SELECT order_id FROM {SIM_SCHEMA}.truth_messages WHERE effect > 0)
GROUP BY 1, 2
"""


def test_the_expected_next_purchase_beats_the_same_interval_again(run):
    warehouse, result, _ = run
    as_of = result.start.date() - timedelta(days=1)
    with warehouse.begin() as conn:
        expected = pd.read_sql_query(
            sa.text(
                "SELECT customer_id, line, last_purchase_at, next_purchase_date, basis"
                " FROM crm.customer_line_next_orders WHERE as_of = :as_of"
            ),
            conn,
            params={"as_of": as_of},
        )
        bought = pd.read_sql_query(sa.text(OWN_NEXT_PURCHASE), conn, params={"as_of": as_of})
    # the last gap of each line the scores saw: its purchases as of the same day, recomputed
    lines = consumable_lines(warehouse, as_of, load_config().next_order)
    frame = (
        expected.merge(
            lines[["customer_id", "line", "last_purchase_at", "last_gap_days"]],
            on=["customer_id", "line", "last_purchase_at"],
        )
        .merge(bought, on=["customer_id", "line"])
        .dropna(subset=["last_gap_days"])
    )
    last_day = pd.to_datetime(frame["last_purchase_at"]).dt.normalize()
    actual = pd.to_datetime(frame["bought_on"])
    model = (pd.to_datetime(frame["next_purchase_date"]) - actual).dt.days
    naive = (last_day + pd.to_timedelta(frame["last_gap_days"].astype("float64"), unit="D") - actual).dt.days
    model_mae, naive_mae = float(model.abs().mean()), float(naive.abs().mean())
    better = int((model.abs() < naive.abs()).sum())
    worse = int((model.abs() > naive.abs()).sum())
    paired = naive.abs() - model.abs()
    window = f"{as_of + timedelta(days=1)} to {result.end:%Y-%m-%d %H:%M}"
    print(
        f"\n{len(frame)} customer-lines with a last gap bought the line again from {window}:"
        f" expected next purchase MAE {model_mae:.1f} days (median {float(model.abs().median()):.1f},"
        f" bias {float(model.mean()):+.1f}), same interval again {naive_mae:.1f}"
        f" (median {float(naive.abs().median()):.1f}, bias {float(naive.mean()):+.1f});"
        f" closer for {better}, farther for {worse}; paired difference {float(paired.mean()):+.1f}"
        f" (standard error {float(paired.std() / len(paired) ** 0.5):.1f});"
        f" bases {frame['basis'].value_counts().to_dict()}"
    )
    assert len(frame) >= 50
    assert model_mae < naive_mae
