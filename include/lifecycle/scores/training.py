"""Weekly training: fit a candidate, measure it and the current model on the same validation data, let the
promotion gate decide, and record everything in the model registry."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from lifecycle.ingest import no_purchases_error
from lifecycle.scores import churn, ltv, registry
from lifecycle.scores.config import ScoresConfig
from lifecycle.scores.features import build_features, future_purchases, training_sample
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
    #: churn: how many training snapshots, how far apart, and the validation snapshot and window used
    snapshots: dict[str, Any] | None = None

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


def _comparable(warehouse: Warehouse, model_name: str, horizon_days: int):
    """The model to compare a candidate with, and a note for the decision when the horizon changed.

    The current model when it predicts the candidate's horizon. Otherwise the candidate starts (or resumes)
    a model line of its own: it is compared with the newest model that was ever current with its horizon,
    if any, and else judged by the floors alone; promoting it replaces the current model of the old horizon,
    and the decision says so."""
    current = registry.current_model(warehouse, model_name)
    if current is None or current.horizon_days == horizon_days:
        return current, None
    same_line = registry.latest_of_line(warehouse, model_name, horizon_days)
    note = (
        f"horizon changed: the current model v{current.version} predicts {current.horizon_days} days, this "
        f"one {horizon_days}; a new model line, "
        + (
            f"compared with v{same_line.version}, the newest {horizon_days}-day model"
            if same_line
            else f"judged by the floors alone (no earlier {horizon_days}-day model)"
        )
        + f"; if promoted it replaces v{current.version}"
    )
    log.warning("%s model: %s", model_name, note)
    return same_line, note


def churn_data(warehouse: Warehouse, data_end: date, config: ScoresConfig):
    """The snapshot plan for data up to ``data_end`` and the labelled training and validation frames."""
    import pandas as pd

    settings, unit = config.churn, config.purchase_unit
    history_start, data_end = purchase_span(warehouse, data_end)
    snapshots = churn.plan_snapshots(data_end, settings, history_start)
    sample = training_sample(warehouse, config.training_customers)
    snapshots = dataclasses.replace(snapshots, sample_every=sample)
    frames = []
    for as_of in snapshots.training:
        try:
            frames.append(churn.labelled_snapshot(warehouse, as_of, settings.horizon_days, unit, sample))
        except churn.TooFewForBgnbd as exc:
            # A young shop's first snapshots can have too few buyers: train on the later ones, and say so.
            log.warning("churn snapshot %s left out: %s", as_of, exc)
    if not frames:
        raise ValueError(
            f"not enough purchasing customers before {snapshots.training[-1]} to train a churn model "
            f"(at least {churn.MIN_BGNBD_CUSTOMERS} on a snapshot date are needed)"
        )
    kept = tuple(frame["snapshot"].iloc[0] for frame in frames)
    snapshots = dataclasses.replace(snapshots, training=kept)
    training = pd.concat(frames)
    validation = churn.labelled_snapshot(warehouse, snapshots.validation, settings.horizon_days, unit, sample)
    if validation.empty or training.empty:
        raise ValueError(f"not enough history before {snapshots.training[0]} to train a churn model")
    log.info(
        "churn data: %d training rows from %d snapshots %s days apart (%s to %s), "
        "%d validation rows as of %s%s",
        len(training),
        len(snapshots.training),
        snapshots.step_days,
        snapshots.training[0],
        snapshots.training[-1],
        len(validation),
        snapshots.validation,
        f" (about one buyer in {sample})" if sample > 1 else "",
    )
    return snapshots, training, validation


def measure_churn(model: churn.ChurnModel, validation) -> tuple[dict[str, float], Any]:
    """A fitted model's validation figures, with the AUC of its scores before calibration."""
    from sklearn.metrics import roc_auc_score

    metrics, calibration = churn.evaluate(churn.predict(model, validation), validation)
    metrics["auc_uncalibrated"] = float(roc_auc_score(validation["churned"], model.raw_scores(validation)))
    metrics["calibration_auc_loss"] = max(0.0, metrics["auc_uncalibrated"] - metrics["auc"])
    return metrics, calibration


def train_churn(
    warehouse: Warehouse,
    data_end: date,
    config: ScoresConfig,
    features: tuple[str, ...] = churn.MODEL_FEATURES,
) -> TrainingReport:
    """Train, validate, gate and register a churn model on data up to ``data_end``."""
    settings = config.churn
    snapshots, training, validation = churn_data(warehouse, data_end, config)
    model = churn.fit(training, settings, features)
    metrics, calibration = measure_churn(model, validation)
    metrics["training_rows"] = min(len(training), settings.max_training_rows)
    metrics["training_snapshots"] = len(snapshots.training)
    metrics["snapshot_step_days"] = snapshots.step_days
    metrics["training_sample_every"] = snapshots.sample_every

    incumbent, note = _comparable(warehouse, churn.MODEL_NAME, settings.horizon_days)
    incumbent_metrics = None
    if incumbent is not None:
        incumbent_metrics, _ = churn.evaluate(churn.predict(incumbent.load(), validation), validation)
    rules, floors = churn.gate_rules(settings)
    decision = decide(metrics, incumbent_metrics, rules, floors, note)
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
        settings={
            **settings.model_dump(),
            **snapshots.describe(),
            "purchase_unit": config.purchase_unit,
            "calibration_method": model.calibrator.method,
            "bgnbd_params": model.bgnbd_params,
            "sklearn": sklearn.__version__,
        },
    )
    version = registry.register(warehouse, candidate, decision, incumbent, incumbent_metrics)
    auc, brier = metrics["auc"], metrics["brier"]
    log.info("churn model v%s: %s; AUC %.3f, Brier %.3f", version, decision.reason, auc, brier)
    return _report(candidate, version, decision, incumbent, incumbent_metrics, snapshots.describe())


def ltv_data(warehouse: Warehouse, data_end: date, config: ScoresConfig, sample_every: int = 1):
    """Features as of the LTV fit date, the revenue each customer brought in the window after it, the fit
    date and the window's length in days; of about one buyer in ``sample_every``."""
    history_start, data_end = purchase_span(warehouse, data_end)
    as_of, window = ltv.validation_plan(history_start, data_end, config.ltv)
    unit = config.purchase_unit
    features = build_features(warehouse, as_of, purchase_unit=unit, sample_every=sample_every)
    realised = future_purchases(warehouse, as_of, window, unit, sample_every)["revenue"]
    return features, realised, as_of, window


def fit_ltv(
    warehouse: Warehouse, features, as_of: date, config: ScoresConfig, sample_every: int = 1
) -> ltv.MedianLtvModel:
    """The LTV score fitted as of ``as_of`` on data before it only: BG/NBD x Gamma-Gamma on ``features``
    (the customers as of ``as_of``), the score's scale on past snapshots (of the same sample of buyers)
    whose windows end by ``as_of``."""
    settings, unit = config.ltv, config.purchase_unit
    history_start, _ = purchase_span(warehouse, as_of)
    dates, window = ltv.training_windows(history_start, as_of, settings.horizon_days)
    snapshots = []
    for snapshot in dates:
        past = build_features(warehouse, snapshot, purchase_unit=unit, sample_every=sample_every)
        expected = ltv.fit(past, settings.horizon_days).predict(past, window)
        revenue = future_purchases(warehouse, snapshot, window, unit, sample_every)["revenue"]
        snapshots.append((past, expected, revenue.reindex(past.index, fill_value=0.0).to_numpy(dtype=float)))
    model = ltv.fit_score(
        ltv.fit(features, settings.horizon_days), snapshots, window, settings.expected_value_weight
    )
    log.info(
        "LTV score: scale fitted on %d customers of %d snapshots (%s to %s) and the %d days after each",
        model.training_rows,
        len(dates),
        dates[-1],
        dates[0],
        window,
    )
    return model


def train_ltv(warehouse: Warehouse, data_end: date, config: ScoresConfig) -> TrainingReport:
    """Fit the LTV model as of one horizon before ``data_end``, validate it on the horizon since, gate it.

    With less history than a horizon plus half a year the validation window is shortened (``validation_days``
    in the figures); the model still predicts the configured horizon."""
    settings = config.ltv
    sample = training_sample(warehouse, config.training_customers)
    features, realised, as_of, window = ltv_data(warehouse, data_end, config, sample)
    log.info(
        "LTV data: %d customers as of %s%s, validated on the %d days after",
        len(features),
        as_of,
        f" (about one buyer in {sample})" if sample > 1 else "",
        window,
    )
    model = fit_ltv(warehouse, features, as_of, config, sample)
    metrics, table = ltv.evaluate(model.predict(features, window), features, realised, window)
    metrics["validation_days"] = window
    expected, _ = ltv.evaluate(model.expected_revenue(features, window), features, realised, window)
    metrics.update(
        {f"expected_value_{key}": expected[key] for key in ("mae", "total_error", "decile_spearman")}
    )
    metrics["training_rows"] = model.training_rows
    metrics["training_snapshots"] = model.training_snapshots
    metrics["training_sample_every"] = sample

    incumbent, note = _comparable(warehouse, ltv.MODEL_NAME, settings.horizon_days)
    comparable = incumbent is not None and isinstance(incumbent.load(), ltv.MedianLtvModel)
    if incumbent is not None and not comparable:
        # an expected-value model aims at totals, the score at the typical customer: the floors decide
        change = (
            f"method changed: v{incumbent.version} predicts the expected revenue, this model the typical "
            "revenue; judged by the floors alone"
        )
        note = f"{note}; {change}" if note else change
    incumbent_metrics = None
    if comparable:
        incumbent_metrics, _ = ltv.evaluate(
            incumbent.load().predict(features, window), features, realised, window
        )
    decision = decide(metrics, incumbent_metrics, *ltv.gate_rules(settings), note)
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


def _report(candidate, version, decision, incumbent, incumbent_metrics, snapshots=None) -> TrainingReport:
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
        snapshots=snapshots,
    )
