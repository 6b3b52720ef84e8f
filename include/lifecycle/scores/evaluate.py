"""The churn and LTV models measured against the classics on the shop's own data.

``python -m lifecycle scores evaluate`` trains the churn model as the weekly job would (same snapshots, same
settings) and puts its figures on the validation snapshot next to those of three baselines measured on the
same customers: ranking by recency alone, BG/NBD expected purchases (fitted on the same date's customers;
its probability of no purchase in the horizon gives its Brier score and calibration error), and a logistic
regression trained on the same snapshots and the same inputs. The current registered model, if any, is
measured too. For LTV it shows the model's MAE next to predicting zero and the naive "last year's revenue
repeats", and how monotone its decile table is. The expected next order is checked on its own holdout
snapshot against the first purchase after it, next to the naive "same interval again" and the shop's median
interval (:func:`lifecycle.scores.next_order.evaluate`). Nothing is written to the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from lifecycle.scores import churn, ltv, next_order, registry
from lifecycle.scores.config import ScoresConfig
from lifecycle.scores.features import training_sample
from lifecycle.scores.training import churn_data, fit_ltv, ltv_data, measure_churn

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from lifecycle.warehouse import Warehouse


@dataclass
class Evaluation:
    snapshots: dict[str, Any]
    churn_rate: float
    customers: int
    #: per model: auc, brier, ece, distinct_scores, tied_share (None where the model gives no probability)
    churn: dict[str, dict[str, float | None]] = field(default_factory=dict)
    ltv: dict[str, float] | None = None
    ltv_problem: str | None = None
    #: the expected next order against what customers did next (see next_order.evaluate)
    next_order: dict[str, Any] | None = None
    next_order_problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "snapshots": self.snapshots,
            "churn_rate": self.churn_rate,
            "customers": self.customers,
            "churn": self.churn,
            "ltv": self.ltv,
            "ltv_problem": self.ltv_problem,
            "next_order": self.next_order,
            "next_order_problem": self.next_order_problem,
        }


def logistic_regression(features: tuple[str, ...]):
    """The plain baseline: median imputation with missing-value flags, scaling, logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [
            ("features", ColumnTransformer([("keep", "passthrough", list(features))], remainder="drop")),
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(max_iter=2000)),
        ]
    )


def _probability_figures(probabilities: np.ndarray, frame: pd.DataFrame) -> dict[str, float | None]:
    metrics, _ = churn.evaluate(probabilities, frame)
    keys = ("auc", "brier", "ece", "distinct_scores", "tied_share")
    return {key: metrics[key] for key in keys}


def evaluate_scores(warehouse: Warehouse, data_end: date, config: ScoresConfig) -> Evaluation:
    """Train on data up to ``data_end`` and measure every model on the same validation snapshot."""
    from sklearn.metrics import roc_auc_score

    snapshots, training, validation = churn_data(warehouse, data_end, config)
    y = validation["churned"].to_numpy()
    result = Evaluation(snapshots=snapshots.describe(), churn_rate=float(y.mean()), customers=len(y))
    model = churn.fit(training, config.churn)
    figures, _ = measure_churn(model, validation)
    result.churn["project model"] = {
        **{key: figures[key] for key in ("auc", "brier", "ece", "distinct_scores", "tied_share")},
        "auc_uncalibrated": figures["auc_uncalibrated"],
    }
    current = registry.current_model(warehouse, churn.MODEL_NAME)
    if current is not None:
        probabilities = churn.predict(current.load(), validation)
        result.churn[f"current registered v{current.version}"] = _probability_figures(
            probabilities, validation
        )
    result.churn["recency alone"] = {
        "auc": float(roc_auc_score(y, validation["recency_days"])),
        "brier": None,
        "ece": None,
        "distinct_scores": int(validation["recency_days"].nunique()),
        "tied_share": float(validation["recency_days"].value_counts(normalize=True).max()),
    }
    bgnbd = _probability_figures(validation["bgnbd_p_none"].to_numpy(), validation)
    bgnbd["auc"] = float(roc_auc_score(y, -validation["bgnbd_expected_purchases"]))
    result.churn["BG/NBD expected purchases"] = bgnbd
    sample = training
    if len(sample) > config.churn.max_training_rows:
        sample = sample.sample(config.churn.max_training_rows, random_state=0)
    features = churn.MODEL_FEATURES
    regression = logistic_regression(features).fit(sample[list(features)], sample["churned"])
    probabilities = regression.predict_proba(validation[list(features)])[:, 1]
    result.churn["logistic regression"] = _probability_figures(probabilities, validation)

    try:
        sample = training_sample(warehouse, config.training_customers)
        features_ltv, realised, as_of, window = ltv_data(warehouse, data_end, config, sample)
        fitted = fit_ltv(warehouse, features_ltv, as_of, config, sample)
        metrics, _ = ltv.evaluate(fitted.predict(features_ltv, window), features_ltv, realised, window)
        expected, _ = ltv.evaluate(
            fitted.expected_revenue(features_ltv, window), features_ltv, realised, window
        )
        result.ltv = {
            **metrics,
            "expected_value": expected,
            "as_of": as_of.isoformat(),
            "validation_days": window,
            "training_rows": fitted.training_rows,
            "training_snapshots": fitted.training_snapshots,
            "training_window_days": fitted.window_days,
        }
    except (ValueError, RuntimeError) as exc:
        result.ltv_problem = str(exc)
    try:
        result.next_order = next_order.evaluate(warehouse, data_end, config)
    except ValueError as exc:
        result.next_order_problem = str(exc)
    return result


def format_evaluation(result: Evaluation, currency=None) -> str:
    """The comparison as plain-text tables."""
    from lifecycle.currency import CurrencySettings

    currency = currency or CurrencySettings()
    plan = result.snapshots
    lines = [
        f"Churn: validation snapshot {plan['validation_as_of']} (purchases {plan['validation_window'][0]} to "
        f"{plan['validation_window'][1]}), {result.customers} customers, churn rate {result.churn_rate:.3f}; "
        f"trained on {plan['training_snapshots']} snapshots {plan['snapshot_step_days']} days apart "
        f"({plan['snapshots'][0]} to {plan['snapshots'][-1]})",
        "",
        f"{'model':<30} {'AUC':>6} {'Brier':>7} {'calib. error':>13} {'distinct':>9} {'largest tie':>12}",
    ]

    def cell(value, width, pattern):
        return f"{'—':>{width}}" if value is None else f"{value:{width}{pattern}}"

    for name, figures in result.churn.items():
        lines.append(
            f"{name:<30} {figures['auc']:6.3f} {cell(figures['brier'], 7, '.3f')} "
            f"{cell(figures['ece'], 13, '.3f')} {figures['distinct_scores']:9d} {figures['tied_share']:12.1%}"
        )
    project = result.churn["project model"]
    lines.append(
        f"(project model AUC before calibration {project['auc_uncalibrated']:.4f}, "
        f"after {project['auc']:.4f}; BG/NBD: AUC by expected purchases, Brier and calibration error "
        "of its probability of no purchase)"
    )
    lines.append("")
    if result.ltv is None:
        lines.append(f"LTV: not measured: {result.ltv_problem}")
    else:
        lines += _ltv_lines(result.ltv, currency)
    lines.append("")
    if result.next_order is None:
        lines.append(f"Expected next order: not measured: {result.next_order_problem}")
    else:
        lines += next_order.format_evaluation(result.next_order)
    return "\n".join(lines)


def _ltv_lines(figures: dict[str, Any], currency) -> list[str]:
    from lifecycle.currency import format_money

    expected = figures["expected_value"]
    snapshots = figures["training_snapshots"]
    money = lambda value, width: f"{format_money(value, currency, 0):>{width}}"  # noqa: E731
    return [
        f"LTV: fitted as of {figures['as_of']}, checked on the {figures['validation_days']} days after it, "
        f"{figures['customers']} customers; score scale fitted on {figures['training_rows']} customers of "
        f"{snapshots} earlier snapshot{'' if snapshots == 1 else 's'} "
        f"and the {figures['training_window_days']} days after each",
        "",
        f"{'':<26} {'ltv score':>12} {'expected value':>15} {'predict zero':>13} {'last year repeats':>18}",
        f"{'MAE per customer':<26} {money(figures['mae'], 12)} {money(expected['mae'], 15)} "
        f"{money(figures['zero_mae'], 13)} {money(figures['baseline_mae'], 18)}",
        f"{'total revenue error':<26} {figures['total_error']:>+12.1%} {expected['total_error']:>+15.1%} "
        f"{-1:>+13.1%} {figures['baseline_total_error']:>+18.1%}",
        f"{'decile table Spearman':<26} {figures['decile_spearman']:>12.3f} "
        f"{expected['decile_spearman']:>15.3f}",
        "(ltv score: the typical revenue, aimed at the MAE, the figure the gate judges; expected value: "
        "BG/NBD x Gamma-Gamma, the figure to sum for totals)",
    ]
