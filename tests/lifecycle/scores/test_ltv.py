"""The BG/NBD + Gamma-Gamma LTV model recovers known parameters and predicts future purchases."""

import itertools
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lifecycle.scores.config import LtvConfig
from lifecycle.scores.ltv import (
    _bgnbd_negative_loglik,
    _gamma_gamma_negative_loglik,
    _summary,
    fit,
    fit_bgnbd,
    fit_score,
    training_windows,
    validation_plan,
    weighted_median_scale,
)

TRUE = {"r": 0.6, "alpha": 50.0, "a": 0.8, "b": 2.5}


def _simulate(customers=6000, horizon=365, seed=3, true=TRUE):
    """BG/NBD customers: Poisson purchases at a Gamma-distributed rate, dropping out after each repeat
    purchase with a Beta-distributed probability; Gamma-distributed checks around personal means."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(true["r"], 1 / true["alpha"], customers)
    dropout = rng.beta(true["a"], true["b"], customers)
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


def test_a_snapshot_on_the_flat_ridge_of_a_and_b_fits():
    """A churn training snapshot of the demo shop (1,430 customers at 2026-01-26, its frequency, tenure and
    recency): its dropout parameters a and b lie on a long flat ridge, where the fit of the summed
    log-likelihood failed its line search ('ABNORMAL') and stopped the weekly churn training. The fits
    minimise the mean per customer, whose tolerances mean the same for any shop size."""
    features = pd.read_csv(Path(__file__).with_name("fixtures") / "bgnbd_ridge_snapshot.csv")
    assert len(features) == 1430
    r, alpha, a, b = fit_bgnbd(features)
    assert all(np.isfinite([r, alpha, a, b]))
    x, t_x, T = _summary(features)
    weights = np.ones_like(x)
    fitted = _bgnbd_negative_loglik(np.log([r, alpha, a, b]), x, t_x, T, weights)
    # nothing nearby is better by more than 0.0001 nats per customer (0.14 for the snapshot: no difference a
    # likelihood ratio could see), along the ridge (a and b scaled together) or across it
    for scale_a, scale_b in ((2, 2), (0.5, 0.5), (1.1, 1), (1, 1.1)):
        nearby = np.log([r, alpha, a * scale_a, b * scale_b])
        assert fitted <= _bgnbd_negative_loglik(nearby, x, t_x, T, weights) + 1e-4


def test_a_second_ridge_snapshot_that_the_mean_alone_did_not_fit():
    """Another churn training snapshot of the demo shop (1,185 customers, training for 2026-11-28): even the
    mean log-likelihood's L-BFGS-B stopped 'ABNORMAL' here, a and b halfway along the ridge, on the machine
    it was captured on; the search then goes on without the gradient. On another CPU the same L-BFGS-B may
    stop 'converged' at another point of the ridge (a = 23 instead of its far end): the likelihood there
    differs by 0.00003 nats per customer. Either way the fit must succeed, hold the ridge's dropout
    probability, and leave nothing nearby better by what a likelihood ratio could see (as above)."""
    features = pd.read_csv(Path(__file__).with_name("fixtures") / "bgnbd_ridge_snapshot_2.csv")
    assert len(features) == 1185
    r, alpha, a, b = fit_bgnbd(features)
    x, t_x, T = _summary(features)
    weights = np.ones_like(x)
    fitted = _bgnbd_negative_loglik(np.log([r, alpha, a, b]), x, t_x, T, weights)
    for scale_a, scale_b in ((2, 2), (0.5, 0.5), (1.1, 1), (1, 1.1), (0.9, 1), (1, 0.9)):
        nearby = np.log([r, alpha, a * scale_a, b * scale_b])
        assert fitted <= _bgnbd_negative_loglik(nearby, x, t_x, T, weights) + 1e-4
    assert a / (a + b) == pytest.approx(0.0347, abs=0.002)  # the dropout probability the ridge holds constant


@pytest.mark.parametrize("seed", range(3))
def test_customers_who_all_drop_out_alike_fit_for_every_draw(seed):
    """A shop whose customers share one dropout probability (Beta with a and b in the thousands) puts the
    optimum at the ridge's end for every draw: each fit converges and finds the probability and the rates."""
    true = {"r": 1.2, "alpha": 120.0, "a": 100.0, "b": 2900.0}
    features, _ = _simulate(customers=1500, seed=100 + seed, true=true)
    r, alpha, a, b = fit_bgnbd(features)
    assert a / (a + b) == pytest.approx(true["a"] / (true["a"] + true["b"]), rel=0.5)
    assert r / alpha == pytest.approx(true["r"] / true["alpha"], rel=0.2)


def test_the_likelihood_is_per_customer_so_its_tolerances_hold_for_any_shop_size():
    """The same customers counted a thousand times give the same objective, for BG/NBD and Gamma-Gamma."""
    features, _ = _simulate(customers=500)
    x, t_x, T = _summary(features)
    weights = np.ones_like(x)
    params = np.log([0.6, 50.0, 0.8, 2.5])
    once = _bgnbd_negative_loglik(params, x, t_x, T, weights)
    assert _bgnbd_negative_loglik(params, x, t_x, T, weights * 1000) == pytest.approx(once, rel=1e-12)
    assert 0 < once < 50  # nats per customer, not per shop
    repeaters = (x > 0) & features["repeat_avg_check"].notna().to_numpy()
    n, m = x[repeaters], features["repeat_avg_check"].to_numpy()[repeaters]
    spend = np.log([2.0, 3.0, 4000.0])
    per_customer = _gamma_gamma_negative_loglik(spend, n, m)
    assert _gamma_gamma_negative_loglik(spend, np.tile(n, 1000), np.tile(m, 1000)) == pytest.approx(
        per_customer, rel=1e-9
    )
    assert abs(per_customer) < 50


def test_validation_window_shrinks_with_a_short_history():
    config = LtvConfig()
    assert validation_plan(date(2024, 6, 30), date(2026, 6, 29), config) == (date(2025, 6, 29), 365)
    assert validation_plan(date(2025, 6, 30), date(2026, 6, 29), config) == (date(2025, 12, 27), 184)
    with pytest.raises(ValueError, match="at least 210 days"):
        validation_plan(date(2026, 1, 1), date(2026, 6, 29), config)


def test_the_scale_is_the_least_absolute_error_fit():
    rng = np.random.default_rng(5)
    score = rng.gamma(1.0, 100.0, 400)
    target = np.where(rng.random(400) < 0.5, 0.0, score * rng.gamma(2.0, 1.0, 400))
    best = weighted_median_scale(target, score)

    def mae(scale):
        return np.abs(target - scale * score).mean()

    grid = np.linspace(0, 5, 2001)
    assert mae(best) <= min(mae(scale) for scale in grid) + 1e-9
    assert weighted_median_scale(target, np.zeros(400)) == 0.0


def test_snapshots_for_the_scale_end_by_the_fit_date():
    # two years of history: full-horizon windows, snapshots a month apart with half a year before each
    dates, window = training_windows(date(2023, 1, 1), date(2025, 1, 1), 365)
    assert window == 365
    assert dates[0] == date(2024, 1, 2)
    assert all((later - earlier).days == 30 for later, earlier in itertools.pairwise(dates))
    assert all((d - date(2023, 1, 1)).days >= 180 for d in dates)
    # half a year: half of it before the one snapshot, half after
    dates, window = training_windows(date(2025, 6, 1), date(2025, 12, 1), 365)
    assert (window, dates) == (91, [date(2025, 9, 1)])
    with pytest.raises(ValueError, match="at least 60 days before the fit date"):
        training_windows(date(2025, 11, 1), date(2025, 12, 1), 365)


def test_the_score_ranks_by_the_blend_and_keeps_the_expected_value_for_totals():
    features, future = _simulate(customers=1500)
    features["revenue_365d"] = np.where(features["frequency"] > 1, features["repeat_avg_check"], 0.0)
    expected_model = fit(features, horizon_days=365)
    expected = expected_model.predict(features, 180)
    realised = future[:, 0] * future[:, 1] * 180 / 365
    model = fit_score(expected_model, [(features, expected, realised)], 180, 0.5)
    assert model.training_rows == 1500
    assert model.window_days == 180
    score = model.predict(features)
    assert (score >= 0).all()
    # the blend: the two inputs, each over its training mean, half and half
    last_year = features["revenue_365d"].to_numpy() * 365 / 365
    full = expected_model.predict(features, 365)
    mixed = 0.5 * full / (model.expected_per_day * 365) + 0.5 * last_year / (model.last_year_per_day * 365)
    assert score == pytest.approx(model.scale * mixed)
    assert model.expected_revenue(features) == pytest.approx(full)
    # aimed at the typical customer: its absolute error on the training rows beats the expected value's
    fitted = model.predict(features, 180)
    assert np.abs(realised - fitted).mean() < np.abs(realised - expected).mean()


def test_a_search_whose_line_search_gives_up_goes_on_without_the_gradient(monkeypatch):
    """Where L-BFGS-B's finite-difference gradient cannot satisfy its line search (here a kink at the
    minimum, as the flat ridge of BG/NBD's dropout parameters is on some machines), the fit goes on with
    Nelder-Mead from where it stopped and returns the minimum instead of failing."""
    import scipy.optimize

    from lifecycle.scores.ltv import _minimise

    methods = []
    minimize = scipy.optimize.minimize

    def recorded(*args, **kwargs):
        found = minimize(*args, **kwargs)
        methods.append((kwargs["method"], found.success))
        return found

    monkeypatch.setattr(scipy.optimize, "minimize", recorded)
    kink = lambda v: abs(v[0] - 1) + abs(v[1] + 2)  # noqa: E731
    found = _minimise(kink, np.array([5.0, 5.0]), (), [(-10, 10), (-10, 10)], "probe")
    assert methods == [("L-BFGS-B", False), ("Nelder-Mead", True)]
    assert found == pytest.approx([1, -2], abs=1e-5)
