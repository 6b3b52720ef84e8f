"""The promotion gate: a candidate becomes current only if it is not worse than the current model."""

from lifecycle.scores import churn, ltv
from lifecycle.scores.config import ChurnConfig, LtvConfig
from lifecycle.scores.gate import decide

CHURN_RULES, CHURN_FLOORS = churn.gate_rules(ChurnConfig())
CURRENT = {"auc": 0.80, "brier": 0.150, "baseline_auc": 0.74}
#: A candidate's calibration figures that pass: no AUC lost, no large tie.
SOUND = {"calibration_auc_loss": 0.0, "tied_share": 0.001}


def _churn(candidate, current=CURRENT):
    return decide(candidate, current, CHURN_RULES, CHURN_FLOORS)


def test_the_first_model_is_promoted_when_it_clears_the_floors():
    decision = _churn({"auc": 0.78, "brier": 0.16, "baseline_auc": 0.74, **SOUND}, current=None)
    assert decision.promote
    assert "no current model" in decision.reason


def test_a_model_below_the_minimum_auc_or_the_recency_baseline_is_refused_even_alone():
    assert not _churn({"auc": 0.60, "brier": 0.2, "baseline_auc": 0.55, **SOUND}, current=None).promote
    refused = _churn({"auc": 0.72, "brier": 0.2, "baseline_auc": 0.74, **SOUND}, current=None)
    assert not refused.promote
    assert "baseline_auc" in refused.reason
    assert "not good enough" in refused.reason


def test_a_worse_model_is_refused_with_its_figures():
    lower_auc = _churn({"auc": 0.79, "brier": 0.149, "baseline_auc": 0.74, **SOUND})
    assert not lower_auc.promote
    assert "auc 0.7900 vs current 0.8000" in lower_auc.reason
    higher_brier = _churn({"auc": 0.81, "brier": 0.152, "baseline_auc": 0.74, **SOUND})
    assert not higher_brier.promote
    assert "brier 0.1520 vs current 0.1500 (+0.001: worse)" in higher_brier.reason


def test_a_model_within_the_tolerances_is_promoted():
    decision = _churn({"auc": 0.797, "brier": 0.1505, "baseline_auc": 0.74, **SOUND})
    assert decision.promote, decision.reason


def test_ltv_gate_compares_mae_relatively_and_total_error_absolutely():
    rules, floors = ltv.gate_rules(LtvConfig())
    current = {"mae": 10000.0, "abs_total_error": 0.05}
    baseline = {"baseline_mae": 12000.0, "zero_mae": 11000.0, "decile_spearman": 0.95}
    assert decide({"mae": 10150.0, "abs_total_error": 0.06, **baseline}, current, rules, floors).promote
    assert not decide({"mae": 10300.0, "abs_total_error": 0.05, **baseline}, current, rules, floors).promote
    assert not decide({"mae": 9000.0, "abs_total_error": 0.08, **baseline}, current, rules, floors).promote


def test_an_ltv_model_worse_than_the_naive_baseline_is_refused_even_alone():
    rules, floors = ltv.gate_rules(LtvConfig())
    candidate = {"mae": 13000.0, "abs_total_error": 0.1, "baseline_mae": 12000.0}
    refused = decide({**candidate, "zero_mae": 14000.0, "decile_spearman": 0.95}, None, rules, floors)
    assert not refused.promote
    assert "mae 13000.0000 vs baseline_mae 12000.0000 (not good enough)" in refused.reason


def test_an_ltv_model_must_beat_predicting_zero_and_rise_over_its_deciles():
    rules, floors = ltv.gate_rules(LtvConfig())
    good = {"mae": 9000.0, "abs_total_error": 0.1, "baseline_mae": 12000.0, "zero_mae": 10000.0}
    assert decide({**good, "decile_spearman": 0.95}, None, rules, floors).promote
    worse_than_zero = decide({**good, "zero_mae": 8500.0, "decile_spearman": 0.95}, None, rules, floors)
    assert not worse_than_zero.promote
    assert "mae 9000.0000 vs zero_mae 8500.0000 (not good enough)" in worse_than_zero.reason
    not_monotone = decide({**good, "decile_spearman": 0.6}, None, rules, floors)
    assert not not_monotone.promote
    assert "decile_spearman 0.6000 vs minimum 0.9000 (not good enough)" in not_monotone.reason
    # a decile table that cannot be ranked (one level only) is no evidence either
    assert not decide({**good, "decile_spearman": float("nan")}, None, rules, floors).promote


def test_a_churn_model_whose_calibration_costs_auc_or_ties_customers_is_refused():
    lossy = _churn(
        {"auc": 0.81, "brier": 0.149, "baseline_auc": 0.74, **SOUND, "calibration_auc_loss": 0.004}
    )
    assert not lossy.promote
    assert "calibration_auc_loss 0.0040 vs maximum 0.0020 (not good enough)" in lossy.reason
    tied = _churn({"auc": 0.81, "brier": 0.149, "baseline_auc": 0.74, **SOUND, "tied_share": 0.3})
    assert not tied.promote
    assert "tied_share 0.3000 vs maximum 0.0100" in tied.reason


def test_a_changed_horizon_note_leads_the_reason_and_replaces_no_current_model_wording():
    decision = decide(
        {"auc": 0.81, "brier": 0.149, "baseline_auc": 0.74, **SOUND},
        None,
        CHURN_RULES,
        CHURN_FLOORS,
        note="horizon changed: the current model v3 predicts 90 days, this one 60",
    )
    assert decision.reason.startswith("promoted: horizon changed: the current model v3")
    assert "no current model" not in decision.reason
