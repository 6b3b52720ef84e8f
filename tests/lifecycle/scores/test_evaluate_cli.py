"""``python -m lifecycle scores evaluate``: the command, and a clear error where the history is too short.

Its figures on demo shops are checked in test_training.py (evaluate_scores on an orders-only shop)."""

from datetime import datetime

import pytest

from lifecycle.__main__ import main


def test_the_command_is_listed_with_its_options(capsys):
    with pytest.raises(SystemExit) as done:
        main(["scores", "evaluate", "--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    for option in ("--warehouse", "--date", "--config", "--json"):
        assert option in shown


@pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)
def test_too_short_a_history_is_an_error_naming_the_days_needed(migrated, add_customers, add_orders, capsys):
    add_customers(migrated, [1, 2])
    add_orders(
        migrated,
        [
            {"customer_id": 1, "ordered_at": datetime(2026, 1, 5), "total_amount": 40.0},
            {"customer_id": 2, "ordered_at": datetime(2026, 3, 5), "total_amount": 25.0},
        ],
    )
    url = migrated.url.render_as_string(hide_password=False)
    assert main(["scores", "evaluate", "--warehouse", url]) == 1
    error = capsys.readouterr().err
    assert "too short a history to train a churn model" in error
    assert "needs at least 284 days" in error
