"""Churn and LTV training on the demo shop: quality against baselines, calibration, the gate, orders only.

Stated tolerances: the churn model's AUC beats ranking by recency alone by at least 0.03; on the validation
snapshot its expected calibration error (10 equal-count bins) is at most 0.05 and no bin is off by more than
0.15; LTV's MAE is below the naive "last year repeats" baseline and its total-revenue error within 35 %.
"""

from datetime import date

import pytest

from lifecycle.scores import registry
from lifecycle.scores.config import ScoresConfig
from lifecycle.scores.training import train_churn

CONFIG = ScoresConfig()
DATA_END = date(2026, 6, 29)


def test_the_churn_model_beats_recency_alone(trained_demo):
    _, churn, _ = trained_demo
    assert churn["promoted"], churn["decision"]
    assert churn["metrics"]["auc"] >= churn["metrics"]["baseline_auc"] + 0.03
    assert churn["metrics"]["auc"] >= 0.8
    assert churn["validation_as_of"] == "2026-03-31"  # one 90-day horizon before the data end
    assert churn["train_to"] == "2025-12-31"  # training labels end where validation starts


def test_churn_probabilities_are_calibrated_on_the_later_snapshot(trained_demo):
    warehouse, churn, _ = trained_demo
    metrics = churn["metrics"]
    assert metrics["ece"] <= 0.05
    assert metrics["max_bin_gap"] <= 0.15
    assert metrics["mean_predicted"] == pytest.approx(metrics["churn_rate"], abs=0.05)
    with warehouse.begin() as conn:
        bins = conn.exec_driver_sql(
            "SELECT COUNT(*), SUM(customers) FROM crm.model_calibration WHERE model_name = 'churn'"
        ).one()
    assert tuple(bins) == (10, metrics["customers"])


def test_ltv_is_validated_against_the_revenue_of_the_following_year(trained_demo):
    _, _, ltv = trained_demo
    assert ltv["promoted"], ltv["decision"]
    assert ltv["validation_as_of"] == "2025-06-29"
    assert ltv["metrics"]["validation_days"] == 365
    assert ltv["metrics"]["mae"] < ltv["metrics"]["baseline_mae"]
    assert abs(ltv["metrics"]["total_error"]) <= 0.35


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


def test_orders_only_retailer_gets_a_working_model(demo_orders_only_file, copy_warehouse):
    warehouse = copy_warehouse(demo_orders_only_file)
    with warehouse.begin() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM crm.events").scalar() == 0
    report = train_churn(warehouse, DATA_END, CONFIG)
    assert report.promoted, report.decision
    assert report.metrics["auc"] >= report.metrics["baseline_auc"] + 0.02
