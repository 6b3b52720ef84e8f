"""A plain-text summary of the scores for people: current models with their figures, RFM distribution."""

from __future__ import annotations

import json
from datetime import date

from lifecycle.scores.registry import list_models
from lifecycle.scores.scoring import segment_distribution
from lifecycle.warehouse import Warehouse

_CHURN_FIGURES = (
    "auc",
    "auc_uncalibrated",
    "baseline_auc",
    "bgnbd_auc",
    "brier",
    "ece",
    "tied_share",
    "churn_rate",
    "mean_predicted",
    "training_snapshots",
    "snapshot_step_days",
    "customers",
)
_LTV_FIGURES = (
    "mae",
    "zero_mae",
    "baseline_mae",
    "decile_spearman",
    "total_error",
    "baseline_total_error",
    "expected_value_mae",
    "expected_value_total_error",
    "validation_days",
    "customers",
)


def describe(warehouse: Warehouse, as_of: date | None = None) -> str:
    """Current churn and LTV models (figures on their validation data) and the RFM distribution of ``as_of``
    (default: the newest scored date)."""
    import pandas as pd

    lines = []
    for name, figures in (("churn", _CHURN_FIGURES), ("ltv", _LTV_FIGURES)):
        models = list_models(warehouse, name)
        current = models[models["status"] == "current"]
        if current.empty:
            lines.append(f"{name} model: none current ({len(models)} trained)")
            if len(models):
                lines.append(f"  newest decision: {models.iloc[0]['decision']}")
            continue
        row = current.iloc[0]
        metrics = json.loads(row["metrics"])
        shown = ", ".join(f"{key} {_fmt(metrics[key])}" for key in figures if key in metrics)
        lines.append(f"{name} model v{row['version']} (validated as of {row['validation_as_of']}): {shown}")
    as_of = as_of or warehouse.fetch_all("scores/latest_score_date.sql")[0]["as_of"]
    if as_of is None:
        return "\n".join([*lines, "no scores yet"])
    distribution = segment_distribution(warehouse, as_of)
    total = int(distribution["customers"].sum())
    lines.append(f"\nRFM segments as of {as_of} ({total} customers):")
    for row in distribution.itertuples():
        churn = "" if pd.isna(row.mean_churn_probability) else f"  churn {row.mean_churn_probability:.3f}"
        ltv = "" if pd.isna(row.mean_ltv) else f"  LTV {row.mean_ltv:,.0f}"
        lines.append(
            f"  {row.rfm_code} {row.segment_en:<32} {row.segment_ru:<36} {row.customers:>7} "
            f"{row.share:6.1%}{churn}{ltv}"
        )
    return "\n".join(lines)


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
