"""The BG/NBD + Gamma-Gamma LTV model recovers known parameters and predicts future purchases."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from lifecycle.scores.config import LtvConfig
from lifecycle.scores.ltv import fit, validation_plan

TRUE = {"r": 0.6, "alpha": 50.0, "a": 0.8, "b": 2.5}


def _simulate(customers=6000, horizon=365, seed=3):
    """BG/NBD customers: Poisson purchases at a Gamma-distributed rate, dropping out after each repeat
    purchase with a Beta-distributed probability; Gamma-distributed checks around personal means."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(TRUE["r"], 1 / TRUE["alpha"], customers)
    dropout = rng.beta(TRUE["a"], TRUE["b"], customers)
    observed = np.floor(rng.uniform(100, 700, customers))
    mean_check = rng.gamma(3.0, 4000.0, customers)
    rows, future = [], []
    for i in range(customers):
        times, t = [0.0], 0.0
        while True:
            t += rng.exponential(1 / rate[i])
            if t > observed[i] + horizon:
                break
            times.append(t)
            if rng.random() < dropout[i]:
                break
        times = np.array(times)
        past = times[times <= observed[i]]
        checks = rng.gamma(10.0, mean_check[i] / 10.0, len(past))
        rows.append(
            {
                "frequency": len(past),
                "recency_days": np.floor(observed[i] - past.max()),
                "tenure_days": observed[i],
                "repeat_avg_check": checks[1:].mean() if len(past) > 1 else np.nan,
            }
        )
        future.append((len(times) - len(past), mean_check[i]))
    return pd.DataFrame(rows), np.array(future)


def test_fit_recovers_the_parameters_and_predicts_the_holdout():
    features, future = _simulate()
    model = fit(features, horizon_days=365)
    assert model.r == pytest.approx(TRUE["r"], rel=0.15)
    assert model.alpha == pytest.approx(TRUE["alpha"], rel=0.2)
    assert model.a == pytest.approx(TRUE["a"], rel=0.3)
    assert model.b == pytest.approx(TRUE["b"], rel=0.3)
    expected = model.expected_purchases(features, 365)
    assert expected.sum() == pytest.approx(future[:, 0].sum(), rel=0.08)
    repeaters = features["frequency"] >= 3
    assert expected[repeaters].mean() == pytest.approx(future[repeaters, 0].mean(), rel=0.15)
    # spend: shrunk towards the population, close to the personal means on average
    checks = model.expected_check(features)
    assert checks[repeaters].mean() == pytest.approx(future[repeaters, 1].mean(), rel=0.1)
    assert (model.predict(features) >= 0).all()


def test_validation_window_shrinks_with_a_short_history():
    config = LtvConfig()
    assert validation_plan(date(2024, 6, 30), date(2026, 6, 29), config) == (date(2025, 6, 29), 365)
    assert validation_plan(date(2025, 6, 30), date(2026, 6, 29), config) == (date(2025, 12, 27), 184)
    with pytest.raises(ValueError, match="at least 210 days"):
        validation_plan(date(2026, 1, 1), date(2026, 6, 29), config)
