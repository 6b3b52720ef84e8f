"""Churn and LTV training on the demo shop: quality against the classics, calibration, the gates, orders only.

Stated tolerances: the churn model's AUC beats ranking by recency alone by at least 0.03 and BG/NBD expected
purchases; on the validation snapshot its expected calibration error (10 equal-count bins) is at most 0.05,
no bin is off by more than 0.15, calibration costs at most 0.002 AUC and no probability is shared by more
than 1 % of customers. On an orders-only shop it also beats a logistic regression on the same inputs.
"""

from datetime import date

import pytest

from lifecycle.scores import registry
from lifecycle.scores.config import ChurnConfig, ScoresConfig
from lifecycle.scores.evaluate import evaluate_scores, format_evaluation
from lifecycle.scores.gate import Decision
from lifecycle.scores.ltv import LtvModel
from lifecycle.scores.training import churn_data, train_churn, train_ltv

CONFIG = ScoresConfig()
DATA_END = date(2026, 6, 29)


def test_the_churn_model_beats_recency_and_bgnbd(trained_demo):
    _, churn, _ = trained_demo
    assert churn["promoted"], churn["decision"]
    metrics = churn["metrics"]
    assert metrics["auc"] >= metrics["baseline_auc"] + 0.03
    assert metrics["auc"] > metrics["bgnbd_auc"]
    assert metrics["auc"] >= 0.8
    assert churn["validation_as_of"] == "2026-03-31"  # one 90-day horizon before the data end
    assert churn["train_to"] == "2025-12-31"  # training labels end where validation starts


def test_the_snapshot_schedule_is_reported_and_recorded(trained_demo):
    warehouse, churn, _ = trained_demo
    plan = churn["snapshots"]
    # two years of history: eleven snapshots six weeks apart, up to one horizon before validation
    assert (plan["training_snapshots"], plan["snapshot_step_days"]) == (11, 42)
    assert plan["snapshots"][-1] == "2025-12-31"
    assert plan["validation_window"] == ["2026-04-01", "2026-06-29"]
    current = registry.current_model(warehouse, "churn")
    assert current.settings["training_snapshots"] == 11
    assert current.settings["validation_window"] == ["2026-04-01", "2026-06-29"]
    assert current.metrics["training_snapshots"] == 11


def test_churn_probabilities_are_calibrated_without_losing_the_ranking(trained_demo):
    warehouse, churn, _ = trained_demo
    metrics = churn["metrics"]
    assert metrics["ece"] <= 0.05
    assert metrics["max_bin_gap"] <= 0.15
    assert metrics["mean_predicted"] == pytest.approx(metrics["churn_rate"], abs=0.05)
    assert metrics["auc_uncalibrated"] - metrics["auc"] <= 0.002
    assert metrics["calibration_auc_loss"] <= 0.002
    assert metrics["tied_share"] <= 0.01
    assert metrics["distinct_scores"] >= 0.95 * metrics["customers"]
    recorded = registry.current_model(warehouse, "churn").metrics
    assert {"auc_uncalibrated", "calibration_auc_loss", "tied_share"} <= set(recorded)
    with warehouse.begin() as conn:
        bins = conn.exec_driver_sql(
            "SELECT COUNT(*), SUM(customers) FROM crm.model_calibration WHERE model_name = 'churn'"
        ).one()
    assert tuple(bins) == (10, metrics["customers"])


def test_the_promoted_ltv_beats_zero_and_last_year_and_rises_over_its_deciles(trained_demo):
    warehouse, _, ltv = trained_demo
    metrics = ltv["metrics"]
    assert ltv["validation_as_of"] == "2025-06-29"
    assert metrics["validation_days"] == 365
    assert ltv["promoted"], ltv["decision"]
    assert metrics["mae"] < metrics["zero_mae"]
    assert metrics["mae"] < metrics["baseline_mae"]
    assert metrics["decile_spearman"] >= 0.9
    for figure in ("zero_mae", "baseline_mae", "decile_spearman"):
        assert figure in ltv["decision"]
    # the expected value (the figure for totals) is measured beside it; the score aims at the typical
    # customer, so its total is below the realised one
    assert metrics["mae"] < metrics["expected_value_mae"]
    assert metrics["total_error"] < 0
    assert metrics["training_rows"] > 0
    assert metrics["training_snapshots"] >= 1
    model = registry.current_model(warehouse, "ltv").load()
    assert model.scale > 0
    assert model.expected_value_weight == CONFIG.ltv.expected_value_weight


def test_a_current_expected_value_model_is_replaced_on_the_floors_alone(trained_demo):
    """A model from before the score (expected revenue, aimed at totals) is not compared rule by rule."""
    import pandas as pd

    warehouse, _, _ = trained_demo
    old = registry.Candidate(
        model_name="ltv",
        model=LtvModel(r=0.5, alpha=60.0, a=0.8, b=2.5, p=3.0, q=4.0, v=9000.0, horizon_days=365),
        train_from=date(2024, 6, 29),
        train_to=date(2025, 6, 29),
        validation_as_of=date(2025, 6, 29),
        horizon_days=365,
        features=("frequency",),
        metrics={"mae": 1.0, "abs_total_error": 0.0},
        calibration=pd.DataFrame(
            {"bin": [1], "customers": [1], "mean_predicted": [1.0], "mean_observed": [1.0]}
        ),
        settings={},
    )
    old_version = registry.register(warehouse, old, Decision(True, "promoted: an expected-value model"))
    report = train_ltv(warehouse, DATA_END, CONFIG)
    assert f"method changed: v{old_version} predicts the expected revenue" in report.decision
    assert report.incumbent_version == old_version
    assert report.incumbent_metrics is None
    assert report.promoted, report.decision
    statuses = registry.list_models(warehouse, "ltv").set_index("version")["status"]
    assert statuses[old_version] == "retired"


def test_the_gate_refuses_a_worse_model_and_keeps_the_current_one(trained_demo):
    warehouse, churn, _ = trained_demo
    weak = train_churn(warehouse, DATA_END, CONFIG, features=("discount_share", "online_share"))
    assert not weak.promoted
    assert "worse" in weak.decision
    assert weak.incumbent_version == churn["version"]
    # the current model is measured again on the candidate's snapshot: here the same one, so the same AUC
    assert weak.incumbent_metrics["auc"] == pytest.approx(churn["metrics"]["auc"])
    assert registry.current_model(warehouse, "churn").version == churn["version"]
    statuses = registry.list_models(warehouse, "churn").set_index("version")["status"]
    assert statuses[weak.version] == "rejected"


def test_a_new_horizon_starts_a_model_line_and_says_what_it_replaces(trained_demo):
    warehouse, churn, _ = trained_demo
    config = ScoresConfig(churn=ChurnConfig(horizon_days=60, max_snapshots=3))
    report = train_churn(warehouse, DATA_END, config)
    assert report.incumbent_version is None  # no earlier 60-day model to compare with
    assert f"the current model v{churn['version']} predicts 90 days, this one 60" in report.decision
    assert "judged by the floors alone" in report.decision
    assert "no current model" not in report.decision
    statuses = registry.list_models(warehouse, "churn").set_index("version")["status"]
    if report.promoted:
        assert f"replaces v{churn['version']}" in report.decision
        assert statuses[churn["version"]] == "retired"
    else:
        assert statuses[churn["version"]] == "current"


def test_on_an_orders_only_shop_the_model_beats_every_classic(demo_orders_only_file, copy_warehouse):
    warehouse = copy_warehouse(demo_orders_only_file)
    with warehouse.begin() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM crm.events").scalar() == 0
    result = evaluate_scores(warehouse, DATA_END, CONFIG)
    ours = result.churn["project model"]
    for baseline in ("recency alone", "BG/NBD expected purchases", "logistic regression"):
        assert ours["auc"] > result.churn[baseline]["auc"], baseline
    assert ours["ece"] <= 0.05
    assert ours["tied_share"] <= 0.01
    assert ours["auc_uncalibrated"] - ours["auc"] <= 0.002
    assert result.snapshots["validation_as_of"] == "2026-03-31"
    ltv = result.ltv
    assert ltv["mae"] < ltv["zero_mae"], ltv
    assert ltv["mae"] < ltv["baseline_mae"], ltv
    assert ltv["decile_spearman"] >= 0.9
    repeat = result.next_order["groups"]["repeat buyers"]
    assert repeat["model"]["mae_days"] < repeat["same interval again"]["mae_days"], repeat
    text = format_evaluation(result)
    assert "logistic regression" in text
    assert "predict zero" in text
    assert "expected value" in text
    assert "Expected next order: holdout snapshot 2025-12-31" in text
    assert "same interval again" in text


def test_a_shop_above_training_customers_trains_on_a_fixed_sample(demo_file, copy_warehouse):
    warehouse = copy_warehouse(demo_file)
    buyers = warehouse.fetch_all("scores/buyer_count.sql")[0]["buyers"]
    config = ScoresConfig(training_customers=1000)
    every = -(-buyers // 1000)
    assert every >= 3
    full, sampled = churn_data(warehouse, DATA_END, CONFIG), churn_data(warehouse, DATA_END, config)
    assert (full[0].sample_every, sampled[0].sample_every) == (1, every)
    for whole, part in ((full[1], sampled[1]), (full[2], sampled[2])):  # training rows, validation rows
        assert 0.6 * len(whole) / every < len(part) < 1.4 * len(whole) / every

    # the same customers on every snapshot and in validation: those whose id hashes to a multiple of k
    def chosen(index):
        return {c for c in index if (c % 2147483647) * 2654435761 % 2147483647 % every == 0}

    assert set(sampled[2].index) == chosen(full[2].index)
    for snapshot, rows in sampled[1].groupby("snapshot"):
        assert set(rows.index) == chosen(full[1][full[1]["snapshot"] == snapshot].index)
    churn = train_churn(warehouse, DATA_END, config)
    assert churn.snapshots["sample_every"] == every
    assert churn.metrics["training_sample_every"] == every
    assert churn.metrics["auc"] >= 0.75  # a thousand buyers still rank churners well
    assert registry.current_model(warehouse, "churn").settings["sample_every"] == every
    ltv = train_ltv(warehouse, DATA_END, config)
    assert ltv.metrics["training_sample_every"] == every
    assert ltv.metrics["training_rows"] < 1.4 * buyers / every * ltv.metrics["training_snapshots"]
