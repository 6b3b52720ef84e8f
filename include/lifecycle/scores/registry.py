"""The model registry in the warehouse (``crm.model_registry``, ``crm.model_calibration``).

Every trained model is recorded, promoted or not, with its training window, features, validation figures,
calibration table and its pickled artefact, so any worker with warehouse access can load the current model.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from lifecycle.scores.gate import Decision
    from lifecycle.warehouse import Warehouse


@dataclass(frozen=True)
class Candidate:
    """A freshly trained model with the figures measured on its validation data."""

    model_name: str
    model: Any
    train_from: date
    train_to: date
    validation_as_of: date
    horizon_days: int
    features: tuple[str, ...]
    metrics: dict[str, float]
    calibration: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RegisteredModel:
    model_name: str
    version: int
    trained_at: datetime
    train_from: date
    train_to: date
    validation_as_of: date
    horizon_days: int
    features: tuple[str, ...]
    settings: dict[str, Any]
    metrics: dict[str, float]
    artefact: bytes

    def load(self) -> Any:
        """The fitted model object (artefacts are written by this package only, into our own warehouse)."""
        return pickle.loads(self.artefact)


def current_model(warehouse: Warehouse, model_name: str) -> RegisteredModel | None:
    return _loaded(warehouse.fetch_all("scores/registry_current.sql", model_name=model_name))


def latest_of_line(warehouse: Warehouse, model_name: str, horizon_days: int) -> RegisteredModel | None:
    """The newest model of a name and horizon that was ever current (current or retired), if any."""
    return _loaded(
        warehouse.fetch_all("scores/registry_line.sql", model_name=model_name, horizon_days=horizon_days)
    )


def _loaded(rows) -> RegisteredModel | None:
    if not rows:
        return None
    row = dict(rows[0])
    for name in ("features", "settings", "metrics"):
        row[name] = json.loads(row[name])
    row["features"] = tuple(row["features"])
    row["artefact"] = bytes(row["artefact"])
    return RegisteredModel(**row)


def register(
    warehouse: Warehouse,
    candidate: Candidate,
    decision: Decision,
    incumbent: RegisteredModel | None = None,
    incumbent_metrics: dict[str, float] | None = None,
) -> int:
    """Record the candidate; if promoted, retire the current model (one transaction). Returns the version."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with warehouse.begin() as conn:
        version = warehouse.run(
            conn, "scores/registry_next_version.sql", model_name=candidate.model_name
        ).scalar()
        if decision.promote:
            warehouse.run(
                conn, "scores/registry_retire_current.sql", model_name=candidate.model_name, retired_at=now
            )
        warehouse.run(
            conn,
            "scores/registry_insert.sql",
            model_name=candidate.model_name,
            version=version,
            trained_at=now,
            train_from=candidate.train_from,
            train_to=candidate.train_to,
            validation_as_of=candidate.validation_as_of,
            horizon_days=candidate.horizon_days,
            features=json.dumps(list(candidate.features)),
            settings=json.dumps(candidate.settings, default=str),
            auc=candidate.metrics.get("auc"),
            brier=candidate.metrics.get("brier"),
            metrics=json.dumps(candidate.metrics),
            artefact=pickle.dumps(candidate.model, protocol=pickle.HIGHEST_PROTOCOL),
            status="current" if decision.promote else "rejected",
            decision=decision.reason,
            incumbent_version=incumbent.version if incumbent else None,
            incumbent_metrics=json.dumps(incumbent_metrics) if incumbent_metrics is not None else None,
            decided_at=now,
        )
        calibration = candidate.calibration.assign(model_name=candidate.model_name, version=version)
        warehouse.insert_df(conn, "crm.model_calibration", calibration)
    return int(version)


def list_models(warehouse: Warehouse, model_name: str) -> pd.DataFrame:
    """Every model of a name, newest first, without the artefacts."""
    return warehouse.fetch_df("scores/registry_models.sql", model_name=model_name)
