"""The promotion gate: a candidate becomes current only if it is not worse than the current model."""

from lifecycle.scores import churn, ltv
from lifecycle.scores.config import ChurnConfig, LtvConfig
from lifecycle.scores.gate import decide

CHURN_RULES, CHURN_FLOORS = churn.gate_rules(ChurnConfig())
CURRENT = {"auc": 0.80, "brier": 0.150, "baseline_auc": 0.74}


def _churn(candidate, current=CURRENT):
    return decide(candidate, current, CHURN_RULES, CHURN_FLOORS)


def test_the_first_model_is_promoted_when_it_clears_the_floors():
    decision = _churn({"auc": 0.78, "brier": 0.16, "baseline_auc": 0.74}, current=None)
    assert decision.promote
    assert "no current model" in decision.reason


def test_a_model_below_the_minimum_auc_or_the_recency_baseline_is_refused_even_alone():
    assert not _churn({"auc": 0.60, "brier": 0.2, "baseline_auc": 0.55}, current=None).promote
    refused = _churn({"auc": 0.72, "brier": 0.2, "baseline_auc": 0.74}, current=None)
    assert not refused.promote
    assert "baseline_auc" in refused.reason
    assert "not good enough" in refused.reason


def test_a_worse_model_is_refused_with_its_figures():
    lower_auc = _churn({"auc": 0.79, "brier": 0.149, "baseline_auc": 0.74})
    assert not lower_auc.promote
    assert "auc 0.7900 vs current 0.8000" in lower_auc.reason
    higher_brier = _churn({"auc": 0.81, "brier": 0.152, "baseline_auc": 0.74})
    assert not higher_brier.promote
    assert "brier 0.1520 vs current 0.1500 (+0.001: worse)" in higher_brier.reason


def test_a_model_within_the_tolerances_is_promoted():
    decision = _churn({"auc": 0.797, "brier": 0.1505, "baseline_auc": 0.74})
    assert decision.promote, decision.reason


def test_ltv_gate_compares_mae_relatively_and_total_error_absolutely():
    rules, floors = ltv.gate_rules(LtvConfig())
    current = {"mae": 10000.0, "abs_total_error": 0.05}
    baseline = {"baseline_mae": 12000.0}
    assert decide({"mae": 10150.0, "abs_total_error": 0.06, **baseline}, current, rules, floors).promote
    assert not decide({"mae": 10300.0, "abs_total_error": 0.05, **baseline}, current, rules, floors).promote
    assert not decide({"mae": 9000.0, "abs_total_error": 0.08, **baseline}, current, rules, floors).promote


def test_an_ltv_model_worse_than_the_naive_baseline_is_refused_even_alone():
    rules, floors = ltv.gate_rules(LtvConfig())
    refused = decide({"mae": 13000.0, "abs_total_error": 0.1, "baseline_mae": 12000.0}, None, rules, floors)
    assert not refused.promote
    assert "mae 13000.0000 vs baseline_mae 12000.0000 (not good enough)" in refused.reason
