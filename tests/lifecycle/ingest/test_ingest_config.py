"""The ingest settings load from YAML with bounds, and a wrong value is named with its file and field."""

from datetime import date, timedelta

import pytest

from lifecycle.errors import ConfigError
from lifecycle.ingest_config import DEFAULT_SETTINGS_FILE, load_settings


def test_the_shipped_file_loads_with_the_documented_defaults():
    settings = load_settings()
    assert DEFAULT_SETTINGS_FILE.name == "ingest.yaml"
    assert settings.earliest_business_date == date(1990, 1, 1)
    assert settings.clock_skew == timedelta(days=1)
    assert settings.max_amount == 1e9
    assert settings.quality_gate.max_quarantined_share == 0.2
    assert settings.max_length.email == 254
    assert settings.sql_params()["max_length_name"] == 200


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("quality_gate:\n  max_quarantined_share: 1.5\n", "quality_gate.max_quarantined_share"),
        ("quality_gate:\n  max_quarantined_share: -0.1\n", "quality_gate.max_quarantined_share"),
        ("quality_gate:\n  min_rows: 0\n", "quality_gate.min_rows"),
        ("earliest_business_date: 2999-01-01\n", "earliest_business_date"),
        ("earliest_business_date: 1990-13-01\n", "(file)"),
        ("clock_skew: 30d\n", "clock_skew"),
        ("clock_skew: soon\n", "clock_skew"),
        ("max_amount: .inf\n", "max_amount"),
        ("max_amount: 1e308\n", "max_amount"),
        ("max_amount: -1\n", "max_amount"),
        ("max_length:\n  email: 0\n", "max_length.email"),
        ("max_lenght:\n  email: 100\n", "max_lenght"),
    ],
)
def test_a_wrong_value_names_the_file_and_the_field(tmp_path, text, field):
    path = tmp_path / "ingest.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert (error.value.file, error.value.field) == (str(path), field)
    assert str(path) in str(error.value)
