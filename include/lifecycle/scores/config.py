"""Settings of the scores (``include/config/scores.yaml``), validated: a wrong value names file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lifecycle.paths import INCLUDE_DIR
from lifecycle.settings import load_model

DEFAULT_CONFIG_FILE = INCLUDE_DIR / "config" / "scores.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class RfmConfig(_Section):
    method: Literal["fixed", "quantile"] = "fixed"
    recency_days: tuple[int, int] = (90, 365)
    frequency_orders: tuple[int, int] = (1, 3)
    avg_check_rub: tuple[float, float] = (5000.0, 30000.0)
    quantiles: tuple[float, float] = (1 / 3, 2 / 3)

    @field_validator("recency_days", "frequency_orders", "avg_check_rub", "quantiles")
    @classmethod
    def _ascending(cls, cuts):
        if not 0 <= cuts[0] < cuts[1]:
            raise ValueError("give two ascending, non-negative cut points, e.g. [90, 365]")
        return cuts

    @field_validator("quantiles")
    @classmethod
    def _fractions(cls, cuts):
        if not (cuts[0] > 0 and cuts[1] < 1):
            raise ValueError("quantiles are fractions strictly between 0 and 1, e.g. [0.3333, 0.6667]")
        return cuts


class ChurnGate(_Section):
    min_auc: float = Field(0.65, ge=0.5, le=1)
    auc_tolerance: float = Field(0.005, ge=0)
    brier_tolerance: float = Field(0.001, ge=0)


class ChurnConfig(_Section):
    horizon_days: int = Field(90, ge=7, le=730)
    training_snapshots: int = Field(6, ge=2, le=24)
    snapshot_step_days: int = Field(60, ge=1)
    calibration: Literal["isotonic", "sigmoid"] = "isotonic"
    max_training_rows: int = Field(400_000, ge=1000)
    gate: ChurnGate = ChurnGate()


class LtvGate(_Section):
    mae_tolerance: float = Field(0.02, ge=0)
    total_error_tolerance: float = Field(0.02, ge=0)


class LtvConfig(_Section):
    horizon_days: int = Field(365, ge=30, le=1830)
    gate: LtvGate = LtvGate()


class ScoresConfig(_Section):
    rfm: RfmConfig = RfmConfig()
    churn: ChurnConfig = ChurnConfig()
    ltv: LtvConfig = LtvConfig()


def load_config(path: Path | str = DEFAULT_CONFIG_FILE) -> ScoresConfig:
    """Read and validate the scores settings; raises :class:`ConfigError` naming the file and the field."""
    return load_model(path, ScoresConfig, "see the comments in include/config/scores.yaml and docs/scores.md")
