"""Nonsense policy settings are refused at the door with the file, the field and the value, before any run
plans a message: negative caps and limits, an empty quiet-hours window, shares outside [0, 1], numbers
that are not finite."""

import pytest
import yaml

from lifecycle.errors import ConfigError
from lifecycle.policy.config import DEFAULT_POLICY_FILE, load_policy

SHIPPED = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))


def _write(tmp_path, section: str, changes: dict):
    data = {key: dict(value) for key, value in SHIPPED.items()}
    data[section] |= changes
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_the_shipped_settings_load():
    config = load_policy()
    assert config.caps.daily_per_channel["email"] == 2
    assert (config.quiet_hours.start.hour, config.quiet_hours.end.hour) == (21, 9)


@pytest.mark.parametrize(
    ("section", "changes", "field", "problem"),
    [
        (
            "caps",
            {"daily_per_channel": {"email": -5, "push": 2, "sms": 1}},
            "caps.daily_per_channel.email",
            "greater than or equal to 0 (got -5)",
        ),
        (
            "caps",
            {"weekly_per_channel": {"email": 6, "push": -1, "sms": 2}},
            "caps.weekly_per_channel.push",
            "greater than or equal to 0 (got -1)",
        ),
        ("caps", {"daily_total": 0}, "caps.daily_total", "greater than or equal to 1 (got 0)"),
        ("quiet_hours", {"start": "03:00", "end": "03:00"}, "quiet_hours", "both 03:00, which is no window"),
        (
            "warmup",
            {"daily_limits": {"shop.example": -1}},
            "warmup.daily_limits.shop.example",
            "greater than or equal to 0 (got -1)",
        ),
        ("sale_share", {"max_share": 1.5}, "sale_share.max_share", "less than or equal to 1 (got 1.5)"),
        ("sale_share", {"max_share": float("nan")}, "sale_share.max_share", "finite number"),
        ("experiments", {"global_control_share": -0.1}, "experiments.global_control_share", "(got -0.1)"),
        ("experiments", {"global_control_share": 1.0}, "experiments.global_control_share", "less than 1"),
    ],
)
def test_out_of_bounds_settings_name_the_file_field_and_value(tmp_path, section, changes, field, problem):
    path = _write(tmp_path, section, changes)
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    assert (caught.value.file, caught.value.field) == (str(path), field)
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"{path}: field '{field}': ")
    assert "docs/policy.md" in caught.value.fix


def test_a_channel_switched_off_with_a_cap_of_zero_is_allowed(tmp_path):
    config = load_policy(_write(tmp_path, "caps", {"daily_per_channel": {"email": 2, "push": 2, "sms": 0}}))
    assert config.caps.daily_per_channel["sms"] == 0
