"""Churn probability: a calibrated gradient-boosting classifier trained on time-based snapshots.

Label: a customer has churned at a snapshot date when they make no purchase in the ``horizon_days`` after it.
Snapshots are laid out backwards from the newest date whose horizon is complete (``data_end - horizon``):

* that newest snapshot is the **validation** snapshot, never seen in training;
* the training snapshots end one horizon before it (their labels stop where validation begins) and step
  back ``snapshot_step_days`` at a time; by default six snapshots two months apart, so that the label windows
  span a whole year of seasons (Black Friday, New Year, the spring lull).

The classifier (scikit-learn ``HistGradientBoostingClassifier``, which takes missing values natively, e.g. the
mean interval of a one-time buyer) is calibrated with ``CalibratedClassifierCV``: isotonic regression fitted
on out-of-fold predictions over customer-grouped folds (a customer's rows never sit on both sides of a fold),
then one classifier refitted on all training rows, so scoring evaluates a single model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from lifecycle.scores.features import FEATURES, build_features, future_purchases
from lifecycle.scores.gate import Floor, Rule

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from lifecycle.scores.config import ChurnConfig
    from lifecycle.warehouse import Warehouse

log = logging.getLogger(__name__)

MODEL_NAME = "churn"
CALIBRATION_BINS = 10
#: A training snapshot needs this much purchase history before it.
MIN_HISTORY_DAYS = 90


@dataclass(frozen=True)
class Snapshots:
    training: tuple[date, ...]  # oldest first
    validation: date


def plan_snapshots(data_end: date, config: ChurnConfig, history_start: date | None = None) -> Snapshots:
    """Snapshot dates for training and validation when the warehouse holds purchases from ``history_start``
    to ``data_end``. Training snapshots less than ``MIN_HISTORY_DAYS`` after the start are dropped (their
    customers would look brand new); fewer than two left is an error naming the history needed."""
    validation = data_end - timedelta(days=config.horizon_days)
    newest_training = validation - timedelta(days=config.horizon_days)
    planned = [
        newest_training - timedelta(days=config.snapshot_step_days * i)
        for i in reversed(range(config.training_snapshots))
    ]
    earliest = history_start + timedelta(days=MIN_HISTORY_DAYS) if history_start else planned[0]
    training = tuple(d for d in planned if d >= earliest)
    if len(training) < 2:
        needed = 2 * config.horizon_days + config.snapshot_step_days + MIN_HISTORY_DAYS
        raise ValueError(
            f"purchases from {history_start} to {data_end} are too short a history to train a churn model: "
            f"it needs about {needed} days (two horizons of {config.horizon_days}, one snapshot step and "
            f"{MIN_HISTORY_DAYS} days before the first snapshot)"
        )
    return Snapshots(training=training, validation=validation)


def labelled_snapshot(warehouse: Warehouse, as_of: date, horizon_days: int) -> pd.DataFrame:
    """Features of every purchasing customer at ``as_of``, and ``churned``: 1 = no purchase in the horizon."""
    frame = build_features(warehouse, as_of)
    bought = future_purchases(warehouse, as_of, horizon_days)
    frame["churned"] = (~frame.index.isin(bought.index)).astype("int8")
    return frame


def make_classifier(features: tuple[str, ...]):
    """The uncalibrated pipeline: pick the feature columns by name, then gradient boosting."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            ("features", ColumnTransformer([("keep", "passthrough", list(features))], remainder="drop")),
            (
                "boosting",
                HistGradientBoostingClassifier(
                    learning_rate=0.1,
                    max_iter=100,
                    max_leaf_nodes=15,
                    min_samples_leaf=40,
                    l2_regularization=1.0,
                    early_stopping=False,
                    random_state=0,
                ),
            ),
        ]
    )


def fit(training: pd.DataFrame, config: ChurnConfig, features: tuple[str, ...] = FEATURES):
    """Fit the calibrated classifier on labelled snapshot rows (customer id as index, column ``churned``)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import GroupKFold

    if len(training) > config.max_training_rows:
        training = training.sample(config.max_training_rows, random_state=0)
    y = training["churned"].to_numpy()
    if y.min() == y.max():
        raise ValueError("every training customer has the same label; the warehouse needs more history")
    folds = list(GroupKFold(n_splits=3).split(training, y, groups=training.index.to_numpy()))
    model = CalibratedClassifierCV(
        make_classifier(features), method=config.calibration, cv=folds, ensemble=False
    )
    with _one_thread():
        return model.fit(training[list(features)], y)


def predict(model: Any, features: pd.DataFrame) -> np.ndarray:
    """Churn probability per row of a feature frame."""
    with _one_thread():
        return model.predict_proba(features)[:, 1]


def _one_thread():
    """Gradient boosting runs its OpenMP loops on one thread. An Airflow worker runs several tasks at once,
    and OpenMP threads competing for busy cores made training ten times slower in our measurements."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def evaluate(probabilities: np.ndarray, frame: pd.DataFrame) -> tuple[dict[str, float], pd.DataFrame]:
    """Validation figures and the calibration table (deciles of predicted probability) on a labelled frame."""
    import numpy as np
    from sklearn.metrics import brier_score_loss, roc_auc_score

    y = frame["churned"].to_numpy()
    table = calibration_table(probabilities, y)
    metrics = {
        "auc": float(roc_auc_score(y, probabilities)),
        "brier": float(brier_score_loss(y, probabilities)),
        # The recency-only baseline: rank customers by days since their last purchase.
        "baseline_auc": float(roc_auc_score(y, frame["recency_days"].to_numpy())),
        "ece": float(
            np.sum(table["customers"] * (table["mean_predicted"] - table["mean_observed"]).abs()) / len(y)
        ),
        "max_bin_gap": float((table["mean_predicted"] - table["mean_observed"]).abs().max()),
        "churn_rate": float(y.mean()),
        "mean_predicted": float(np.mean(probabilities)),
        "customers": len(y),
    }
    return metrics, table


def calibration_table(probabilities: np.ndarray, observed: np.ndarray, bins: int = CALIBRATION_BINS):
    """Customers split into equal-count bins by prediction: mean predicted vs mean observed per bin."""
    import numpy as np
    import pandas as pd

    order = np.argsort(probabilities, kind="stable")
    bin_of = np.empty(len(order), dtype=np.int64)
    bin_of[order] = np.arange(len(order)) * bins // max(len(order), 1)
    frame = pd.DataFrame({"bin": bin_of + 1, "predicted": probabilities, "observed": observed})
    return (
        frame.groupby("bin")
        .agg(
            customers=("predicted", "size"),
            mean_predicted=("predicted", "mean"),
            mean_observed=("observed", "mean"),
        )
        .reset_index()
    )


def gate_rules(config: ChurnConfig) -> tuple[list[Rule], list[Floor]]:
    """AUC not lower than the current model's by more than a tolerance, Brier not higher by more than one;
    and in any case an AUC above ``min_auc`` and above the recency-only baseline."""
    rules = [
        Rule("auc", higher_is_better=True, tolerance=config.gate.auc_tolerance),
        Rule("brier", higher_is_better=False, tolerance=config.gate.brier_tolerance),
    ]
    floors = [Floor("auc", minimum=config.gate.min_auc), Floor("auc", beats="baseline_auc")]
    return rules, floors
