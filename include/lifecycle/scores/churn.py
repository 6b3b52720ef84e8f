"""Churn probability: gradient boosting on time-based snapshots, with BG/NBD and purchase-rhythm inputs and a
calibration that keeps the ranking.

Label: a customer has churned at a snapshot date when they make no purchase in the ``horizon_days`` after it.
Snapshots are laid out backwards from the newest date whose horizon is complete (``data_end - horizon``):

* that newest snapshot is the **validation** snapshot, never seen in training;
* the training snapshots end one horizon before it (their labels stop where validation begins) and step
  back in time. With ``auto`` (the default) the schedule fits the history: up to ``max_snapshots`` of them,
  spread over all the history there is, ``min_step_days`` to ``max_step_days`` apart: closer together when
  the history is short, more of them when it is long.

Inputs: the warehouse features (:mod:`lifecycle.scores.features`: recency, frequency, money, purchase rhythm,
optional site and message activity) plus three BG/NBD quantities fitted on the same date's customers
(probability of being alive, expected purchases and the probability of none in the horizon). The classifier
(scikit-learn ``HistGradientBoostingClassifier``, which takes missing values natively, e.g. the mean
interval of a one-time buyer) is calibrated on out-of-fold scores over customer-grouped folds (a customer's
rows never sit on both sides of a fold), then refitted on all training rows. Calibration is strictly
increasing in the score, so it keeps the ranking: ``sigmoid`` (Platt scaling of the log-odds) or
``isotonic`` (isotonic regression, interpolated between the centres of its steps in log-odds, so it has no
flat steps and no probabilities of exactly 0 or 1).
"""

from __future__ import annotations

import logging
import math
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
#: The BG/NBD inputs, refitted on the customers of each snapshot (and of each scoring date).
BGNBD_FEATURES = ("bgnbd_p_alive", "bgnbd_expected_purchases", "bgnbd_p_none")
#: What the churn model reads by default: the warehouse features and the BG/NBD ones.
MODEL_FEATURES = FEATURES + BGNBD_FEATURES
#: Fewer customers than this on a date: the BG/NBD quantities use the parameters fitted at training.
MIN_BGNBD_CUSTOMERS = 200
#: Probabilities are kept away from exactly 0 and 1 by this much.
PROBABILITY_FLOOR = 1e-4


class TooFewForBgnbd(ValueError):
    """A snapshot date with too few purchasing customers to fit BG/NBD on."""


@dataclass(frozen=True)
class Snapshots:
    training: tuple[date, ...]  # oldest first
    validation: date
    step_days: int = 0
    horizon_days: int = 0
    #: 1, or k: the snapshots hold about one buyer in k (``training_customers`` in scores.yaml)
    sample_every: int = 1

    @property
    def validation_window(self) -> tuple[date, date]:
        """The days whose purchases label the validation snapshot (first, last)."""
        return self.validation + timedelta(days=1), self.validation + timedelta(days=self.horizon_days)

    def describe(self) -> dict[str, Any]:
        first, last = self.validation_window
        return {
            "training_snapshots": len(self.training),
            "snapshot_step_days": self.step_days,
            "snapshots": [d.isoformat() for d in self.training],
            "validation_as_of": self.validation.isoformat(),
            "validation_window": [first.isoformat(), last.isoformat()],
            "sample_every": self.sample_every,
        }


def plan_snapshots(data_end: date, config: ChurnConfig, history_start: date | None = None) -> Snapshots:
    """Snapshot dates for training and validation when the warehouse holds purchases from ``history_start``
    to ``data_end``. No training snapshot lies less than ``MIN_HISTORY_DAYS`` after the start (its customers
    would look brand new); fewer than two possible is an error naming the history needed."""
    horizon = config.horizon_days
    validation = data_end - timedelta(days=horizon)
    newest = validation - timedelta(days=horizon)
    earliest = history_start + timedelta(days=MIN_HISTORY_DAYS) if history_start else None
    span = (newest - earliest).days if earliest else None
    most = config.max_snapshots if config.training_snapshots == "auto" else config.training_snapshots
    if config.snapshot_step_days != "auto":
        step = config.snapshot_step_days
    elif span is None or span <= 0:
        step = config.max_step_days
    else:  # spread the snapshots over the whole span, within the step bounds
        step = min(config.max_step_days, max(config.min_step_days, math.ceil(span / max(most - 1, 1))))
    count = most if span is None else min(most, max(span, -1) // step + 1)
    training = tuple(newest - timedelta(days=step * i) for i in reversed(range(max(count, 0))))
    if len(training) < 2:
        smallest = config.min_step_days if config.snapshot_step_days == "auto" else step
        needed = 2 * horizon + smallest + MIN_HISTORY_DAYS
        raise ValueError(
            f"purchases from {history_start} to {data_end} are too short a history to train a churn model: "
            f"it needs at least {needed} days (two horizons of {horizon}, two snapshots {smallest} days "
            f"apart and {MIN_HISTORY_DAYS} days before the first snapshot)"
        )
    return Snapshots(training=training, validation=validation, step_days=step, horizon_days=horizon)


def with_bgnbd(frame: pd.DataFrame, horizon_days: int, params: tuple[float, ...] | None = None):
    """The frame with the BG/NBD columns added, and the parameters used: fitted on the frame's own
    customers (all purchasing customers of one date) unless ``params`` are given or the frame is too small
    to fit (then ``params`` must be given)."""
    from lifecycle.scores.ltv import bgnbd_quantities, fit_bgnbd

    if len(frame) >= MIN_BGNBD_CUSTOMERS:
        try:
            params = fit_bgnbd(frame)
        except RuntimeError as exc:
            if params is None:
                raise
            log.warning("%s: using the BG/NBD parameters fitted at training", exc)
    if params is None:
        raise TooFewForBgnbd(
            f"{len(frame)} customers are too few to fit BG/NBD (at least {MIN_BGNBD_CUSTOMERS} are needed)"
        )
    return frame.join(bgnbd_quantities(frame, params, horizon_days)), params


def labelled_snapshot(
    warehouse: Warehouse,
    as_of: date,
    horizon_days: int,
    purchase_unit: str = "customer_day",
    sample_every: int = 1,
) -> pd.DataFrame:
    """Features of every purchasing customer at ``as_of`` (or of the sample ``sample_every`` picks; BG/NBD
    ones included), and ``churned``: 1 = no purchase in the horizon."""
    features = build_features(warehouse, as_of, purchase_unit=purchase_unit, sample_every=sample_every)
    frame, _ = with_bgnbd(features, horizon_days)
    bought = future_purchases(warehouse, as_of, horizon_days, purchase_unit, sample_every)
    frame["churned"] = (~frame.index.isin(bought.index)).astype("int8")
    frame["snapshot"] = as_of
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
                    learning_rate=0.05,
                    max_iter=200,
                    max_leaf_nodes=15,
                    min_samples_leaf=40,
                    l2_regularization=1.0,
                    early_stopping=False,
                    random_state=0,
                ),
            ),
        ]
    )


@dataclass
class Calibrator:
    """A strictly increasing map from the classifier's log-odds to a probability (see the module text)."""

    method: str
    knots_x: Any = None  # isotonic: step centres (log-odds in), ascending
    knots_y: Any = None  # isotonic: logit of the step's observed rate
    slope: float = 1.0  # sigmoid
    intercept: float = 0.0

    def fit(self, scores: np.ndarray, y: np.ndarray) -> Calibrator:
        import numpy as np

        if self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, y)
            fitted = iso.predict(scores)
            levels, block = np.unique(fitted, return_inverse=True)
            if len(levels) >= 2:
                centres = np.bincount(block, weights=scores) / np.bincount(block)
                clipped = np.clip(levels, 0.5 / len(y), 1 - 0.5 / len(y))
                self.knots_x, self.knots_y = centres, np.log(clipped / (1 - clipped))
                return self
            log.warning("isotonic calibration found one level only: using sigmoid calibration")
            self.method = "sigmoid"
        from sklearn.linear_model import LogisticRegression

        platt = LogisticRegression(C=1e6).fit(scores.reshape(-1, 1), y)
        self.slope, self.intercept = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        if self.slope <= 0:
            raise ValueError("the classifier's scores do not rank churn at all (Platt slope not positive)")
        return self

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        import numpy as np

        if self.method == "isotonic":
            x, y = self.knots_x, self.knots_y
            logit = np.interp(scores, x, y)
            # beyond the outer centres the score is log-odds already: go on one to one (keeps the order)
            logit = np.where(scores < x[0], y[0] + (scores - x[0]), logit)
            logit = np.where(scores > x[-1], y[-1] + (scores - x[-1]), logit)
        else:
            logit = self.slope * scores + self.intercept
        # squeezed into [floor, 1 - floor] without clipping, so no two scores meet at a bound
        return PROBABILITY_FLOOR + (1 - 2 * PROBABILITY_FLOOR) / (1 + np.exp(-logit))


@dataclass
class ChurnModel:
    """The fitted classifier, its calibrator, and what it needs to score a date's customers."""

    classifier: Any
    calibrator: Calibrator
    features: tuple[str, ...]
    horizon_days: int
    bgnbd_params: tuple[float, ...] | None

    def prepare(self, frame: pd.DataFrame, bgnbd_params: tuple[float, ...] | None = None) -> pd.DataFrame:
        """The frame with the BG/NBD inputs (fitted on its customers, or with ``bgnbd_params`` when given),
        unless it already has them."""
        if not set(BGNBD_FEATURES) & set(self.features) or set(BGNBD_FEATURES) <= set(frame.columns):
            return frame
        if bgnbd_params is not None:
            from lifecycle.scores.ltv import bgnbd_quantities

            return frame.join(bgnbd_quantities(frame, bgnbd_params, self.horizon_days))
        return with_bgnbd(frame, self.horizon_days, self.bgnbd_params)[0]

    def raw_scores(self, frame: pd.DataFrame, bgnbd_params: tuple[float, ...] | None = None) -> np.ndarray:
        """The classifier's log-odds of churn, before calibration."""
        with _one_thread():
            return self.classifier.decision_function(self.prepare(frame, bgnbd_params)[list(self.features)])

    def predict_proba(self, frame: pd.DataFrame, bgnbd_params: tuple[float, ...] | None = None) -> np.ndarray:
        import numpy as np

        probability = self.calibrator(self.raw_scores(frame, bgnbd_params))
        return np.column_stack([1 - probability, probability])


def date_bgnbd_params(model: Any, features: pd.DataFrame) -> tuple[float, ...] | None:
    """The BG/NBD parameters ``model`` fits on the customers of ``features`` when it scores them (None for
    a model without BG/NBD inputs): daily scoring in parts fits them once, on its first part, and scores
    every part with them."""
    if not isinstance(model, ChurnModel) or not set(BGNBD_FEATURES) & set(model.features):
        return None
    return with_bgnbd(features, model.horizon_days, model.bgnbd_params)[1]


def fit(training: pd.DataFrame, config: ChurnConfig, features: tuple[str, ...] = MODEL_FEATURES):
    """Fit the calibrated classifier on labelled snapshot rows (customer id as index, column ``churned``)."""
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import GroupKFold

    if len(training) > config.max_training_rows:
        training = training.sample(config.max_training_rows, random_state=0)
    y = training["churned"].to_numpy()
    if y.min() == y.max():
        raise ValueError("every training customer has the same label; the warehouse needs more history")
    X = training[list(features)]
    groups = training.index.to_numpy()
    out_of_fold = np.empty(len(y))
    classifier = make_classifier(features)
    with _one_thread():
        for train_rows, test_rows in GroupKFold(n_splits=3).split(X, y, groups=groups):
            fold = clone(classifier).fit(X.iloc[train_rows], y[train_rows])
            out_of_fold[test_rows] = fold.decision_function(X.iloc[test_rows])
        classifier.fit(X, y)
    calibrator = Calibrator(config.calibration).fit(out_of_fold, y)
    newest = training["snapshot"].max() if "snapshot" in training else None
    params = None
    if newest is not None and set(BGNBD_FEATURES) & set(features):
        from lifecycle.scores.ltv import fit_bgnbd

        params = fit_bgnbd(training[training["snapshot"] == newest])
    return ChurnModel(classifier, calibrator, tuple(features), config.horizon_days, params)


def predict(model: Any, features: pd.DataFrame, bgnbd_params: tuple[float, ...] | None = None) -> np.ndarray:
    """Churn probability per row of a feature frame (BG/NBD inputs with ``bgnbd_params``, when given, see
    :func:`date_bgnbd_params`)."""
    with _one_thread():
        if bgnbd_params is None:
            return model.predict_proba(features)[:, 1]
        return model.predict_proba(features, bgnbd_params=bgnbd_params)[:, 1]


def _one_thread():
    """Gradient boosting runs its OpenMP loops on one thread. An Airflow worker runs several tasks at once,
    and OpenMP threads competing for busy cores made training ten times slower in our measurements."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def tied_share(probabilities: np.ndarray) -> float:
    """The largest share of customers sharing one probability (to 9 decimals)."""
    import numpy as np

    if len(probabilities) == 0:
        return 0.0
    _, counts = np.unique(np.round(probabilities, 9), return_counts=True)
    return float(counts.max() / len(probabilities))


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
        "ece": expected_calibration_error(table, len(y)),
        "max_bin_gap": float((table["mean_predicted"] - table["mean_observed"]).abs().max()),
        "churn_rate": float(y.mean()),
        "mean_predicted": float(np.mean(probabilities)),
        "customers": len(y),
        "distinct_scores": len(np.unique(np.round(probabilities, 9))),
        "tied_share": tied_share(probabilities),
    }
    if "bgnbd_expected_purchases" in frame:
        metrics["bgnbd_auc"] = float(roc_auc_score(y, -frame["bgnbd_expected_purchases"].to_numpy()))
    return metrics, table


def expected_calibration_error(table: pd.DataFrame, customers: int) -> float:
    """Mean |predicted - observed| over the bins of a calibration table, weighted by customers."""
    import numpy as np

    gaps = (table["mean_predicted"] - table["mean_observed"]).abs()
    return float(np.sum(table["customers"] * gaps) / max(customers, 1))


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
    and in any case an AUC above ``min_auc`` and above the recency-only baseline, a calibration that costs
    at most ``max_calibration_auc_loss`` of AUC, and no probability shared by more than ``max_tied_share``."""
    rules = [
        Rule("auc", higher_is_better=True, tolerance=config.gate.auc_tolerance),
        Rule("brier", higher_is_better=False, tolerance=config.gate.brier_tolerance),
    ]
    floors = [
        Floor("auc", minimum=config.gate.min_auc),
        Floor("auc", beats="baseline_auc"),
        Floor("calibration_auc_loss", minimum=config.gate.max_calibration_auc_loss, higher_is_better=False),
        Floor("tied_share", minimum=config.gate.max_tied_share, higher_is_better=False),
    ]
    return rules, floors
