"""Weekly training: fit a candidate, measure it and the current model on the same validation data, let the
promotion gate decide, and record everything in the model registry."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from lifecycle.ingest import no_purchases_error
from lifecycle.scores import churn, ltv, registry
from lifecycle.scores.config import ScoresConfig
from lifecycle.scores.features import FEATURES, build_features, future_purchases
from lifecycle.scores.gate import decide
from lifecycle.warehouse import Warehouse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingReport:
    model_name: str
    version: int
    promoted: bool
    decision: str
    train_from: date
    train_to: date
    validation_as_of: date
    metrics: dict[str, float]
    incumbent_version: int | None
    incumbent_metrics: dict[str, float] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            key: value.isoformat() if isinstance(value, date) else value
            for key, value in asdict(self).items()
        }


def purchase_span(warehouse: Warehouse, requested_end: date) -> tuple[date, date]:
    """First purchase date and the data end: ``requested_end``, but never past the newest purchase (a stale
    warehouse would otherwise label everyone as churned)."""
    row = warehouse.fetch_all("scores/purchase_span.sql")[0]
    if row["latest_purchase"] is None:
        raise no_purchases_error(warehouse)
    return row["first_purchase"].date(), min(requested_end, row["latest_purchase"].date())


def _comparable(incumbent: registry.RegisteredModel | None, horizon_days: int):
    """The current model if it predicts the candidate's horizon (otherwise the two are not comparable)."""
    if incumbent is not None and incumbent.horizon_days != horizon_days:
        log.warning(
            "current %s model v%s has horizon %s days, the candidate %s: promoting without comparison",
            incumbent.model_name,
            incumbent.version,
            incumbent.horizon_days,
            horizon_days,
        )
        return None
    return incumbent


def train_churn(
    warehouse: Warehouse, data_end: date, config: ScoresConfig, features: tuple[str, ...] = FEATURES
) -> TrainingReport:
    """Train, validate, gate and register a churn model on data up to ``data_end``."""
    import pandas as pd

    settings = config.churn
    history_start, data_end = purchase_span(warehouse, data_end)
    snapshots = churn.plan_snapshots(data_end, settings, history_start)
    training = pd.concat(
        [churn.labelled_snapshot(warehouse, as_of, settings.horizon_days) for as_of in snapshots.training]
    )
    validation = churn.labelled_snapshot(warehouse, snapshots.validation, settings.horizon_days)
    if validation.empty or training.empty:
        raise ValueError(f"not enough history before {snapshots.training[0]} to train a churn model")
    log.info(
        "churn data: %d training rows from %d snapshots (%s to %s), %d validation rows as of %s",
        len(training),
        len(snapshots.training),
        snapshots.training[0],
        snapshots.training[-1],
        len(validation),
        snapshots.validation,
    )
    model = churn.fit(training, settings, features)
    metrics, calibration = churn.evaluate(churn.predict(model, validation), validation)
    metrics["training_rows"] = min(len(training), settings.max_training_rows)

    incumbent = _comparable(registry.current_model(warehouse, churn.MODEL_NAME), settings.horizon_days)
    incumbent_metrics = None
    if incumbent is not None:
        incumbent_metrics, _ = churn.evaluate(churn.predict(incumbent.load(), validation), validation)
    rules, floors = churn.gate_rules(settings)
    decision = decide(metrics, incumbent_metrics, rules, floors)
    import sklearn

    candidate = registry.Candidate(
        model_name=churn.MODEL_NAME,
        model=model,
        train_from=snapshots.training[0],
        train_to=snapshots.training[-1],
        validation_as_of=snapshots.validation,
        horizon_days=settings.horizon_days,
        features=tuple(features),
        metrics=metrics,
        calibration=calibration,
        settings={**settings.model_dump(), "snapshots": snapshots.training, "sklearn": sklearn.__version__},
    )
    version = registry.register(warehouse, candidate, decision, incumbent, incumbent_metrics)
    log.info(
        "churn model v%s: %s; AUC %.3f, Brier %.3f",
        version,
        decision.reason,
        metrics["auc"],
        metrics["brier"],
    )
    return _report(candidate, version, decision, incumbent, incumbent_metrics)


def train_ltv(warehouse: Warehouse, data_end: date, config: ScoresConfig) -> TrainingReport:
    """Fit the LTV model as of one horizon before ``data_end``, validate it on the horizon since, gate it.

    With less history than a horizon plus half a year the validation window is shortened (``validation_days``
    in the figures); the model still predicts the configured horizon."""
    settings = config.ltv
    history_start, data_end = purchase_span(warehouse, data_end)
    as_of, window = ltv.validation_plan(history_start, data_end, settings)
    features = build_features(warehouse, as_of)
    log.info("LTV data: %d customers as of %s, validated on the %d days after", len(features), as_of, window)
    model = ltv.fit(features, settings.horizon_days)
    realised = future_purchases(warehouse, as_of, window)["revenue"]
    metrics, table = ltv.evaluate(model.predict(features, window), features, realised, window)
    metrics["validation_days"] = window

    incumbent = _comparable(registry.current_model(warehouse, ltv.MODEL_NAME), settings.horizon_days)
    incumbent_metrics = None
    if incumbent is not None:
        incumbent_metrics, _ = ltv.evaluate(
            incumbent.load().predict(features, window), features, realised, window
        )
    decision = decide(metrics, incumbent_metrics, *ltv.gate_rules(settings))
    candidate = registry.Candidate(
        model_name=ltv.MODEL_NAME,
        model=model,
        train_from=as_of - timedelta(days=int(features["tenure_days"].max())),
        train_to=as_of,
        validation_as_of=as_of,
        horizon_days=settings.horizon_days,
        features=ltv.LTV_FEATURES,
        metrics=metrics,
        calibration=table,
        settings={**settings.model_dump(), **asdict(model)},
    )
    version = registry.register(warehouse, candidate, decision, incumbent, incumbent_metrics)
    log.info("LTV model v%s: %s", version, decision.reason)
    return _report(candidate, version, decision, incumbent, incumbent_metrics)


def _report(candidate, version, decision, incumbent, incumbent_metrics) -> TrainingReport:
    return TrainingReport(
        model_name=candidate.model_name,
        version=version,
        promoted=decision.promote,
        decision=decision.reason,
        train_from=candidate.train_from,
        train_to=candidate.train_to,
        validation_as_of=candidate.validation_as_of,
        metrics=candidate.metrics,
        incumbent_version=incumbent.version if incumbent else None,
        incumbent_metrics=incumbent_metrics,
    )
