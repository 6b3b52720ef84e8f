"""Settings of the scores (``include/config/scores.yaml``), validated so a wrong value names its file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lifecycle.errors import ConfigError
from lifecycle.paths import INCLUDE_DIR

DEFAULT_CONFIG_FILE = INCLUDE_DIR / "config" / "scores.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
        if not (0 < cuts[0] and cuts[1] < 1):
            raise ValueError("quantiles are fractions strictly between 0 and 1, e.g. [0.3333, 0.6667]")
        return cuts


class ChurnGate(_Section):
    min_auc: float = Field(0.65, ge=0.5, le=1)
    auc_tolerance: float = Field(0.005, ge=0)
    brier_tolerance: float = Field(0.001, ge=0)


class ChurnConfig(_Section):
    horizon_days: int = Field(90, ge=7, le=730)
    training_snapshots: int = Field(4, ge=2, le=24)
    snapshot_step_days: int = Field(30, ge=1)
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
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(str(path), "(file)", "the file does not exist", "create it or fix the path") from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "(file)", f"it is not valid YAML ({exc})", "fix the syntax") from None
    if not isinstance(raw, dict):
        raise ConfigError(str(path), "(file)", "it is not a mapping", "use sections rfm:, churn:, ltv:")
    try:
        return ScoresConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(file)"
        raise ConfigError(
            str(path), field, first["msg"], "see the comments in include/config/scores.yaml and docs/scores.md"
        ) from None
