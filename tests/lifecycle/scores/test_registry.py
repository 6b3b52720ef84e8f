"""The model registry keeps every model with its figures and artefact; one model per name is current."""

import pandas as pd

from lifecycle.scores import registry
from lifecycle.scores.gate import Decision
from lifecycle.scores.ltv import LtvModel

CALIBRATION = pd.DataFrame(
    {"bin": [1, 2], "customers": [50, 50], "mean_predicted": [0.2, 0.8], "mean_observed": [0.25, 0.75]}
)


def _candidate(mae):
    model = LtvModel(r=0.5, alpha=60.0, a=0.8, b=2.5, p=3.0, q=4.0, v=9000.0, horizon_days=365)
    return registry.Candidate(
        model_name="ltv",
        model=model,
        train_from=pd.Timestamp("2023-01-01").date(),
        train_to=pd.Timestamp("2023-06-30").date(),
        validation_as_of=pd.Timestamp("2023-06-30").date(),
        horizon_days=365,
        features=("frequency", "recency_days"),
        metrics={"mae": mae},
        calibration=CALIBRATION,
        settings={"horizon_days": 365},
    )


def test_promotion_retires_the_previous_model_and_rejection_keeps_it(migrated):
    assert registry.current_model(migrated, "ltv") is None
    first = registry.register(migrated, _candidate(100.0), Decision(True, "promoted: first"))
    second = registry.register(
        migrated,
        _candidate(90.0),
        Decision(True, "promoted: better"),
        incumbent=registry.current_model(migrated, "ltv"),
        incumbent_metrics={"mae": 100.0},
    )
    third = registry.register(
        migrated,
        _candidate(120.0),
        Decision(False, "rejected: worse"),
        incumbent=registry.current_model(migrated, "ltv"),
        incumbent_metrics={"mae": 90.0},
    )
    assert (first, second, third) == (1, 2, 3)

    current = registry.current_model(migrated, "ltv")
    assert current.version == 2
    assert current.metrics == {"mae": 90.0}
    assert current.features == ("frequency", "recency_days")
    assert current.load() == _candidate(90.0).model  # the artefact round-trips through the warehouse

    models = registry.list_models(migrated, "ltv")
    assert models[["version", "status"]].values.tolist() == [[3, "rejected"], [2, "current"], [1, "retired"]]
    assert models.loc[models.version == 3, "decision"].item() == "rejected: worse"
    assert models.loc[models.version == 3, "incumbent_version"].item() == 2
    with migrated.begin() as conn:
        rows = conn.exec_driver_sql("SELECT COUNT(*) FROM crm.model_calibration WHERE model_name = 'ltv'")
        assert rows.scalar() == 6
