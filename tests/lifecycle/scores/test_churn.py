"""Snapshot layout of churn training and its guard against too short a history."""

from datetime import date

import pytest

from lifecycle.scores.churn import plan_snapshots
from lifecycle.scores.config import ChurnConfig


def test_snapshots_are_laid_out_backwards_from_the_newest_complete_horizon():
    snapshots = plan_snapshots(date(2026, 6, 29), ChurnConfig(training_snapshots=3, snapshot_step_days=60))
    assert snapshots.validation == date(2026, 3, 31)
    assert snapshots.training == (date(2025, 9, 2), date(2025, 11, 1), date(2025, 12, 31))


def test_snapshots_too_close_to_the_first_purchase_are_dropped():
    config = ChurnConfig(training_snapshots=6, snapshot_step_days=60)
    snapshots = plan_snapshots(date(2026, 6, 29), config, history_start=date(2025, 6, 1))
    assert snapshots.training == (date(2025, 9, 2), date(2025, 11, 1), date(2025, 12, 31))


def test_too_short_a_history_names_the_days_needed():
    with pytest.raises(ValueError, match="needs about 330 days"):
        plan_snapshots(date(2026, 6, 29), ChurnConfig(), history_start=date(2025, 10, 1))
