"""The scores settings load from YAML and wrong values are named with their file and field."""

import pytest

from lifecycle.errors import ConfigError
from lifecycle.scores.config import DEFAULT_CONFIG_FILE, load_config


def test_the_shipped_file_loads_with_the_documented_defaults():
    config = load_config()
    assert config.rfm.method == "fixed"
    assert config.rfm.recency_days == (90, 365)
    assert config.rfm.frequency_orders == (1, 3)
    assert config.rfm.avg_check_method == "quantile"  # no currency-bound amounts out of the box
    assert config.currency.code == "RUB"
    assert config.purchase_unit == "customer_day"
    assert config.churn.horizon_days == 90
    assert (config.churn.training_snapshots, config.churn.snapshot_step_days) == ("auto", "auto")
    assert config.churn.gate.max_calibration_auc_loss == 0.002
    assert config.ltv.horizon_days == 365
    assert DEFAULT_CONFIG_FILE.name == "scores.yaml"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("rfm:\n  method: median\n", "rfm.method"),
        ("rfm:\n  recency_days: [365, 90]\n", "rfm.recency_days"),
        ("rfm:\n  quantiles: [0.5, 1.5]\n", "rfm.quantiles"),
        ("churn:\n  horizon_days: 2\n", "churn.horizon_days"),
        ("churn:\n  gate:\n    auc_tolerance: -1\n", "churn.gate.auc_tolerance"),
        ("ltv:\n  horizon: 365\n", "ltv.horizon"),
        ("churn:\n  gate:\n    brier_tolerance: .inf\n", "churn.gate.brier_tolerance"),
        ("rfm:\n  avg_check: [5000, .inf]\n", "rfm.avg_check.1"),
        ("rfm:\n  avg_check_rub: [5000, 30000]\n", "rfm"),
        ("rfm:\n  avg_check_method: fixed\n", "rfm"),
        ("currency:\n  code: dollars\n", "currency.code"),
        ("purchase_unit: basket\n", "purchase_unit"),
        ("currency:\n  code: USD\nrfm:\n  preset: electronics\n", "(file)"),
        ("rfm: [1, 2\n", "(file)"),
    ],
)
def test_a_wrong_value_names_the_file_and_the_field(tmp_path, text, field):
    path = tmp_path / "scores.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert error.value.file == str(path)
    assert error.value.field == field
    assert str(path) in str(error.value)
    assert field in str(error.value)


def test_the_electronics_preset_brings_the_fixed_rouble_check_cut_points(tmp_path):
    path = tmp_path / "scores.yaml"
    path.write_text("rfm:\n  preset: electronics\n")
    rfm = load_config(path).rfm
    assert (rfm.avg_check_method, rfm.avg_check) == ("fixed", (5000, 30000))
    path.write_text("currency:\n  code: USD\nrfm:\n  avg_check_method: fixed\n  avg_check: [40, 250]\n")
    config = load_config(path)
    assert (config.currency.symbol, config.rfm.avg_check) == ("$", (40, 250))


def test_a_retired_field_says_what_replaced_it(tmp_path):
    path = tmp_path / "scores.yaml"
    path.write_text("rfm:\n  avg_check_rub: [5000, 30000]\n")
    with pytest.raises(ConfigError, match="replaced by avg_check"):
        load_config(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"absent\.yaml"):
        load_config(tmp_path / "absent.yaml")
