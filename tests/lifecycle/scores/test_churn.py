"""Snapshot layout of churn training (fitted to the history), its guard against too short a history, and a
calibration that keeps the ranking."""

from datetime import date

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from lifecycle.scores.churn import Calibrator, plan_snapshots, tied_share
from lifecycle.scores.config import ChurnConfig

END = date(2026, 6, 29)


def test_fixed_snapshots_are_laid_out_backwards_from_the_newest_complete_horizon():
    snapshots = plan_snapshots(END, ChurnConfig(training_snapshots=3, snapshot_step_days=60))
    assert snapshots.validation == date(2026, 3, 31)
    assert snapshots.training == (date(2025, 9, 2), date(2025, 11, 1), date(2025, 12, 31))
    assert snapshots.validation_window == (date(2026, 4, 1), date(2026, 6, 29))


def test_fixed_snapshots_too_close_to_the_first_purchase_are_dropped():
    config = ChurnConfig(training_snapshots=6, snapshot_step_days=60)
    snapshots = plan_snapshots(END, config, history_start=date(2025, 6, 1))
    assert snapshots.training == (date(2025, 9, 2), date(2025, 11, 1), date(2025, 12, 31))


def test_a_short_history_gets_closer_snapshots_and_a_long_one_more_of_them():
    config = ChurnConfig()  # auto: up to 12 snapshots, 14 to 60 days apart
    # 15 months of purchases: 184 days between the earliest usable snapshot and the newest training one
    short = plan_snapshots(END, config, history_start=date(2025, 4, 1))
    assert (len(short.training), short.step_days) == (11, 17)
    assert short.training == tuple(sorted(short.training))
    assert short.training[-1] == date(2025, 12, 31)
    assert short.training[0] >= date(2025, 6, 30)  # 90 days after the first purchase
    # two years: spread over 459 days, 42 days apart
    two_years = plan_snapshots(END, config, history_start=date(2024, 6, 30))
    assert (len(two_years.training), two_years.step_days) == (11, 42)
    # five years: the most snapshots allowed, at the widest step
    long = plan_snapshots(END, config, history_start=date(2021, 6, 30))
    assert (len(long.training), long.step_days) == (12, 60)
    assert long.describe()["training_snapshots"] == 12
    assert long.describe()["validation_window"] == ["2026-04-01", "2026-06-29"]
    # ten months: what fits, two weeks apart
    tight = plan_snapshots(END, config, history_start=date(2025, 9, 1))
    assert (len(tight.training), tight.step_days) == (3, 14)


def test_too_short_a_history_names_the_days_needed():
    with pytest.raises(ValueError, match="needs at least 284 days"):
        plan_snapshots(END, ChurnConfig(), history_start=date(2025, 10, 20))


def _scores(rows=20000, seed=1):
    """Log-odds scores and labels drawn from them, with a slope and offset a calibrator has to undo."""
    rng = np.random.default_rng(seed)
    score = rng.normal(0, 2, rows)
    label = (rng.random(rows) < 1 / (1 + np.exp(-(0.6 * score + 0.8)))).astype(int)
    return score, label


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_keeps_the_ranking_and_creates_no_ties(method):
    score, label = _scores()
    test_score, test_label = _scores(seed=2)
    probability = Calibrator(method).fit(score, label)(test_score)
    assert roc_auc_score(test_label, test_score) - roc_auc_score(test_label, probability) <= 0.002
    # strictly increasing: the order of the scores is the order of the probabilities, none at 0 or 1
    order = np.argsort(test_score)
    assert (np.diff(probability[order]) > 0).all()
    assert probability.min() > 0
    assert probability.max() < 1
    assert tied_share(probability) == pytest.approx(1 / len(probability))
    # and calibrated: mean predicted per decile of score within 0.03 of the observed rate
    deciles = np.array_split(order, 10)
    gaps = [abs(probability[d].mean() - test_label[d].mean()) for d in deciles]
    assert max(gaps) <= 0.03


def test_isotonic_calibration_of_plain_sklearn_would_tie_many_customers():
    """What the interpolation is for: a stepwise isotonic fit gives a few dozen values for 20 000 scores."""
    from sklearn.isotonic import IsotonicRegression

    score, label = _scores()
    steps = IsotonicRegression(out_of_bounds="clip").fit(score, label).predict(score)
    assert tied_share(steps) > 0.01
    assert tied_share(Calibrator("isotonic").fit(score, label)(score)) < 0.001
