"""Customer lifetime value: the purchase revenue a customer is expected to bring in the next ``horizon_days``.

Method: the standard pair of probability models for non-contractual retail (no subscription tells us when a
customer has left):

* **BG/NBD** (Fader, Hardie & Lee 2005) for the number of purchases. While "alive" a customer buys at a
  personal Poisson rate (rates vary across customers as a Gamma(r, alpha)); after any purchase they may drop
  out for good with a personal probability (Beta(a, b) across customers). From a customer's repeat
  purchases ``x``, the time of the last one ``t_x`` and the time since the first ``T`` it gives the expected
  number of purchases in the next ``t`` days, which already folds in the probability that they are gone.
* **Gamma-Gamma** (Fader & Hardie 2013) for the check of future purchases: each customer's spend per
  purchase varies around a personal mean, estimated from their repeat purchases and shrunk towards the
  population mean the fewer of them we have seen. The first purchase is left out, as the method prescribes:
  in electronics it is often the device, while later checks are accessories, consumables and upgrades.

Expected revenue = expected purchases x expected check. Both models have seven parameters in all, fitted by
maximum likelihood on one summary row per customer (no event history leaves the warehouse), so scoring is a
closed-form, vectorised formula.

The ``ltv`` score is not that expected value but a **typical** one (:class:`MedianLtvModel`): revenue per
customer is very skewed (most customers buy nothing in a year, a few buy a lot), so a per-customer prediction
judged by its absolute error should aim at the median, not at the mean. The score is a scaled blend of the
expected revenue and the revenue of the last 365 days (each divided by its mean over the training
customers, weighted ``expected_value_weight`` and the rest), with one scale fitted by least absolute error
(a weighted median) on past snapshots: features as of a date, the revenue of the window after it. The blend
ranks customers better than either input alone (the model knows who is still alive, last year's revenue
knows who spends); the scale shrinks it towards the typical outcome. Totals: the expected value
(:meth:`MedianLtvModel.expected_revenue`) is the figure to sum, the score under-states sums by design.

Why not frequency x monetary x survival from the churn model: the churn
model's horizon (90 days) is not the LTV horizon (12 months), and BG/NBD handles one-time buyers and long
purchase cycles (electronics) by design. Validation compares the predictions made at a past date with the
revenue each customer actually brought in the following horizon.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from lifecycle.scores.gate import Floor, Rule

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from lifecycle.scores.config import LtvConfig

MODEL_NAME = "ltv"
#: The feature columns the model reads (from lifecycle.scores.features).
LTV_FEATURES = ("frequency", "recency_days", "tenure_days", "repeat_avg_check", "revenue_365d")
DECILES = 10
MIN_FIT_HISTORY_DAYS = 180
MIN_VALIDATION_DAYS = 30
#: Past snapshots the score's scale is fitted on: at most this many, this many days apart.
MAX_SNAPSHOTS = 6
SNAPSHOT_STEP_DAYS = 30


def _summary(features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD inputs in days: repeat purchases x, time of the last purchase t_x, observation length T."""
    x = features["frequency"].to_numpy(dtype=float) - 1
    T = features["tenure_days"].to_numpy(dtype=float) + 1
    t_x = T - 1 - features["recency_days"].to_numpy(dtype=float)
    return x, t_x, T


@dataclass(frozen=True)
class LtvModel:
    """Fitted BG/NBD (r, alpha, a, b) and Gamma-Gamma (p, q, v) parameters; time is measured in days."""

    r: float
    alpha: float
    a: float
    b: float
    p: float
    q: float
    v: float
    horizon_days: int

    def expected_purchases(self, features: pd.DataFrame, days: float) -> np.ndarray:
        """Expected purchases in the next ``days`` (BG/NBD conditional expectation)."""
        import numpy as np
        from scipy.special import hyp2f1

        x, t_x, T = _summary(features)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, days / (alpha + T + days))
        first = (a + b + x - 1) / (a - 1)
        second = 1 - hyp * ((alpha + T) / (alpha + T + days)) ** (r + x)
        dropout_odds = np.where(
            x > 0, a / np.maximum(b + x - 1, 1e-9) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0
        )
        expected = first * second / (1 + dropout_odds)
        return np.clip(np.nan_to_num(expected, nan=0.0, posinf=0.0), 0.0, None)

    def expected_check(self, features: pd.DataFrame) -> np.ndarray:
        """Expected revenue per future purchase (Gamma-Gamma conditional mean over the repeat purchases;
        the population mean for a one-time buyer)."""
        import numpy as np

        x = features["frequency"].to_numpy(dtype=float) - 1
        m = np.nan_to_num(features["repeat_avg_check"].to_numpy(dtype=float))
        return self.p * (self.v + x * m) / (self.p * x + self.q - 1)

    def predict(self, features: pd.DataFrame, days: int | None = None) -> np.ndarray:
        """Expected purchase revenue over ``days`` (default: the model's horizon) per feature row."""
        return self.expected_purchases(features, days or self.horizon_days) * self.expected_check(features)


@dataclass(frozen=True)
class MedianLtvModel:
    """The ``ltv`` score: ``scale`` x days x (w x expected revenue per day / ``expected_per_day`` + (1 - w) x
    last-365-days revenue per day / ``last_year_per_day``), with w = ``expected_value_weight``; the two
    normalisers are the inputs' means over the training rows, ``scale`` their least-absolute-error fit."""

    expected: LtvModel
    expected_value_weight: float
    expected_per_day: float
    last_year_per_day: float
    scale: float
    horizon_days: int
    #: how the scale was fitted: training rows, snapshots and the window after each in days
    training_rows: int = 0
    training_snapshots: int = 0
    window_days: int = 0

    def expected_revenue(self, features: pd.DataFrame, days: int | None = None) -> np.ndarray:
        """The BG/NBD x Gamma-Gamma expected revenue over ``days`` (the figure to sum for totals)."""
        return self.expected.predict(features, days or self.horizon_days)

    def blend(self, features: pd.DataFrame, days: int | None = None) -> np.ndarray:
        """The unscaled ranking score over ``days``: both inputs per day, divided by their training means."""
        days = days or self.horizon_days
        return blend(
            self.expected.predict(features, days),
            features["revenue_365d"].to_numpy(dtype=float) * days / 365,
            days,
            self.expected_value_weight,
            self.expected_per_day,
            self.last_year_per_day,
        )

    def predict(self, features: pd.DataFrame, days: int | None = None) -> np.ndarray:
        """The typical purchase revenue over ``days`` (default: the model's horizon) per feature row."""
        return self.scale * self.blend(features, days)


def blend(expected, last_year, days, weight, expected_per_day, last_year_per_day):
    """days x (weight x expected/days / expected_per_day + (1 - weight) x last_year/days / last_year_per_day);
    an input with a zero mean (nobody bought) drops out."""
    import numpy as np

    expected_part = expected / expected_per_day if expected_per_day > 0 else np.zeros_like(expected)
    last_year_part = last_year / last_year_per_day if last_year_per_day > 0 else np.zeros_like(last_year)
    return np.clip(weight * expected_part + (1 - weight) * last_year_part, 0.0, None)


def weighted_median_scale(target: np.ndarray, score: np.ndarray) -> float:
    """The c >= 0 minimising sum |target - c x score|: the median of target/score weighted by score."""
    import numpy as np

    keep = score > 0
    if not keep.any():
        return 0.0
    ratio, weight = target[keep] / score[keep], score[keep]
    order = np.argsort(ratio, kind="stable")
    cumulative = np.cumsum(weight[order])
    return float(ratio[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def training_windows(history_start: date, fit_date: date, horizon_days: int) -> tuple[list[date], int]:
    """Snapshot dates for fitting the score's scale on data before ``fit_date``, newest first, and the
    window after each: a full horizon when the history allows, else half the history (so every snapshot
    has at least as much history before it as the window after it); up to ``MAX_SNAPSHOTS`` of them
    ``SNAPSHOT_STEP_DAYS`` apart, each with ``MIN_FIT_HISTORY_DAYS`` of history (the newest one: at least
    half the history)."""
    available = (fit_date - history_start).days
    window = min(horizon_days, available // 2)
    if window < MIN_VALIDATION_DAYS:
        raise ValueError(
            f"purchases from {history_start} to {fit_date} are too short a history to fit the LTV score: it "
            f"needs at least {2 * MIN_VALIDATION_DAYS} days before the fit date"
        )
    snapshots = [fit_date - timedelta(days=window)]
    while len(snapshots) < MAX_SNAPSHOTS:
        earlier = snapshots[-1] - timedelta(days=SNAPSHOT_STEP_DAYS)
        if (earlier - history_start).days < MIN_FIT_HISTORY_DAYS:
            break
        snapshots.append(earlier)
    return snapshots, window


def fit_score(
    expected: LtvModel,
    snapshots: list[tuple[pd.DataFrame, np.ndarray, np.ndarray]],
    window_days: int,
    weight: float,
) -> MedianLtvModel:
    """The score's normalisers and scale from past snapshots: per snapshot its features, the expected
    revenue over the window after it (BG/NBD x Gamma-Gamma fitted as of the snapshot) and the revenue
    customers really brought in that window."""
    import numpy as np

    expected_w = np.concatenate([e for _, e, _ in snapshots])
    last_year = np.concatenate(
        [f["revenue_365d"].to_numpy(dtype=float) * window_days / 365 for f, _, _ in snapshots]
    )
    target = np.concatenate([y for _, _, y in snapshots])
    if len(target) == 0:
        raise ValueError("no customers before the LTV training snapshots")
    expected_per_day = float(expected_w.mean() / window_days)
    last_year_per_day = float(last_year.mean() / window_days)
    score = blend(expected_w, last_year, window_days, weight, expected_per_day, last_year_per_day)
    return MedianLtvModel(
        expected=expected,
        expected_value_weight=weight,
        expected_per_day=expected_per_day,
        last_year_per_day=last_year_per_day,
        scale=weighted_median_scale(target, score),
        horizon_days=expected.horizon_days,
        training_rows=len(target),
        training_snapshots=len(snapshots),
        window_days=window_days,
    )


def _bgnbd_negative_loglik(log_params, x, t_x, T, weights):
    import numpy as np
    from scipy.special import gammaln

    r, alpha, a, b = np.exp(log_params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.where(
        x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x), -np.inf
    )
    # The mean over customers, not the sum: the optimiser's tolerances then mean the same for any number of
    # customers. Summed, snapshots whose a and b lie on a long flat ridge failed the line search.
    return -np.sum(weights * (a1 + a2 + np.logaddexp(a3, a4))) / np.sum(weights)


def _gamma_gamma_negative_loglik(log_params, n, m):
    import numpy as np
    from scipy.special import gammaln

    p, q, v = np.exp(log_params)
    loglik = (
        gammaln(p * n + q)
        - gammaln(p * n)
        - gammaln(q)
        + q * np.log(v)
        + (p * n - 1) * np.log(m)
        + p * n * np.log(n)
        - (p * n + q) * np.log(n * m + v)
    )
    return -np.mean(loglik)  # the mean, for the reason given for BG/NBD


def fit_bgnbd(features: pd.DataFrame) -> tuple[float, float, float, float]:
    """Maximum-likelihood BG/NBD parameters (r, alpha, a, b) on one row per purchasing customer."""
    import numpy as np
    import pandas as pd

    x, t_x, T = _summary(features)
    # Customers with the same (x, t_x, T) share one likelihood term: fit on the distinct rows, weighted.
    distinct = pd.DataFrame({"x": x, "t_x": t_x, "T": T}).value_counts().reset_index(name="weight")
    args = tuple(distinct[c].to_numpy(dtype=float) for c in ("x", "t_x", "T", "weight"))
    start = np.log([1.0, max(float(np.mean(T)), 1.0), 1.0, 1.0])
    bounds = [(-10, 10), (-10, 15), (-10, 10), (-10, 10)]
    found = _minimise(_bgnbd_negative_loglik, start, args, bounds, "BG/NBD")
    return tuple(float(value) for value in np.exp(found))


def _minimise(objective, start, args, bounds, what: str):
    """The minimum of ``objective`` (log parameters) within ``bounds``: L-BFGS-B, and where its line search
    gives up (``ABNORMAL``), a derivative-free Nelder-Mead search from where it stopped.

    The gradient is taken by finite differences. On a long flat ridge (BG/NBD's dropout parameters a and b
    when the data fit a nearly constant dropout probability: both grow together towards their bound) those
    differences are noise and the line search fails, although the point is next to the optimum; Nelder-Mead
    does not need the gradient and finishes the walk along the ridge."""
    from scipy.optimize import minimize

    found = minimize(objective, start, args=args, method="L-BFGS-B", bounds=bounds)
    if found.success:
        return found.x
    polished = minimize(
        objective,
        found.x,
        args=args,
        method="Nelder-Mead",
        bounds=bounds,
        options={"xatol": 1e-6, "fatol": 1e-10, "maxiter": 20_000},
    )
    if not polished.success:
        raise RuntimeError(
            f"{what} fit did not converge: L-BFGS-B {found.message}; Nelder-Mead {polished.message}"
        )
    return polished.x if polished.fun <= found.fun else found.x


def bgnbd_quantities(features: pd.DataFrame, params: tuple[float, ...], days: float) -> pd.DataFrame:
    """Per customer, under BG/NBD parameters (r, alpha, a, b): ``bgnbd_p_alive`` (probability the customer
    has not dropped out), ``bgnbd_expected_purchases`` in the next ``days`` and ``bgnbd_p_none``, the
    probability of no purchase in them (a customer drops out only right after a purchase, so it is the chance
    of being gone plus the chance of a quiet spell while alive)."""
    import numpy as np
    import pandas as pd

    r, alpha, a, b = params[:4]
    x, t_x, T = _summary(features)
    dropout_odds = np.where(
        x > 0, a / np.maximum(b + x - 1, 1e-9) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0
    )
    p_alive = 1 / (1 + np.nan_to_num(dropout_odds, nan=0.0, posinf=1e12))
    quiet = ((alpha + T) / (alpha + T + days)) ** (r + x)
    model = LtvModel(r, alpha, a, b, 1.0, 2.0, 1.0, int(days))
    return pd.DataFrame(
        {
            "bgnbd_p_alive": p_alive,
            "bgnbd_expected_purchases": model.expected_purchases(features, days),
            "bgnbd_p_none": (1 - p_alive) + p_alive * quiet,
        },
        index=features.index,
    )


def fit(features: pd.DataFrame, horizon_days: int) -> LtvModel:
    """Maximum-likelihood fit of both models on one row per purchasing customer."""
    import numpy as np

    r, alpha, a, b = fit_bgnbd(features)
    x, _, _ = _summary(features)
    # Spend is fitted on repeat purchases only: a first purchase (often the device itself) says little about
    # the checks that follow (accessories, consumables, upgrades).
    repeaters = (x > 0) & (features["repeat_avg_check"].fillna(0).to_numpy(dtype=float) > 0)
    n = x[repeaters]
    m = features["repeat_avg_check"].to_numpy(dtype=float)[repeaters]
    start = np.log([2.0, 3.0, max(float(np.mean(m)), 1.0)])
    bounds = [(-10, 10), (-10, 10), (-10, 25)]
    p, q, v = np.exp(_minimise(_gamma_gamma_negative_loglik, start, (n, m), bounds, "Gamma-Gamma (LTV)"))
    return LtvModel(float(r), float(alpha), float(a), float(b), float(p), float(q), float(v), horizon_days)


def validation_plan(history_start: date, data_end: date, config: LtvConfig) -> tuple[date, int]:
    """Where to fit the model and how long a window to check it on: a full horizon when the history allows
    (at least ``MIN_FIT_HISTORY_DAYS`` before the fit date), else the longest window that does."""
    horizon = min(config.horizon_days, (data_end - history_start).days - MIN_FIT_HISTORY_DAYS)
    if horizon < MIN_VALIDATION_DAYS:
        raise ValueError(
            f"purchases from {history_start} to {data_end} are too short a history to validate an LTV model: "
            f"it needs at least {MIN_FIT_HISTORY_DAYS + MIN_VALIDATION_DAYS} days"
        )
    return data_end - timedelta(days=horizon), horizon


def evaluate(predicted: np.ndarray, features: pd.DataFrame, realised: pd.Series, horizon_days: int):
    """Error against the revenue customers really brought in the horizon, and a decile table.

    ``realised`` is revenue per customer id (customers absent from it brought nothing). Figures: MAE per
    customer, total error (sum predicted vs sum realised, signed share), the same for the naive baseline
    "the last 365 days' revenue repeats, scaled to the horizon", the MAE of predicting zero for everyone
    (``zero_mae``: most customers buy nothing in a horizon, so zero is a hard baseline for MAE), and
    ``decile_spearman``: the rank correlation of decile number and mean realised revenue per decile of
    prediction (1 = the decile table rises monotonically).
    """
    import numpy as np
    import pandas as pd

    actual = realised.reindex(features.index, fill_value=0.0).to_numpy(dtype=float)
    naive = features["revenue_365d"].to_numpy(dtype=float) * horizon_days / 365
    total = float(actual.sum())
    metrics = {
        "mae": float(np.mean(np.abs(predicted - actual))),
        "total_error": float((predicted.sum() - total) / total) if total else float("nan"),
        "predicted_total": float(predicted.sum()),
        "realised_total": total,
        "baseline_mae": float(np.mean(np.abs(naive - actual))),
        "zero_mae": float(np.mean(np.abs(actual))),
        "customers": len(actual),
    }
    metrics["abs_total_error"] = abs(metrics["total_error"])
    metrics["baseline_total_error"] = float((naive.sum() - total) / total) if total else float("nan")
    order = np.argsort(predicted, kind="stable")
    decile = np.empty(len(order), dtype=np.int64)
    decile[order] = np.arange(len(order)) * DECILES // max(len(order), 1)
    table = (
        pd.DataFrame({"bin": decile + 1, "predicted": predicted, "observed": actual})
        .groupby("bin")
        .agg(
            customers=("predicted", "size"),
            mean_predicted=("predicted", "mean"),
            mean_observed=("observed", "mean"),
        )
        .reset_index()
    )
    metrics["decile_spearman"] = decile_spearman(table)
    return metrics, table


def decile_spearman(table: pd.DataFrame) -> float:
    """Spearman correlation of bin number and mean realised value in a decile table (NaN under 3 bins)."""
    from scipy.stats import spearmanr

    if len(table) < 3 or table["mean_observed"].nunique() < 2:
        return float("nan")
    return float(spearmanr(table["bin"], table["mean_observed"]).statistic)


def gate_rules(config: LtvConfig) -> tuple[list[Rule], list[Floor]]:
    """MAE not above the current model's by more than a share, |total error| not above it by more than a
    number of points; and in any case a lower MAE than predicting zero for everyone AND than the naive "last
    year's revenue repeats" baseline, and a decile table that rises (Spearman at least
    ``min_decile_spearman``)."""
    rules = [
        Rule("mae", higher_is_better=False, tolerance=config.gate.mae_tolerance, relative=True),
        Rule("abs_total_error", higher_is_better=False, tolerance=config.gate.total_error_tolerance),
    ]
    floors = [
        Floor("mae", beats="zero_mae", higher_is_better=False),
        Floor("mae", beats="baseline_mae", higher_is_better=False),
        Floor("decile_spearman", minimum=config.gate.min_decile_spearman),
    ]
    return rules, floors
