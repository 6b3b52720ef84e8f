"""Settings of the ingest (``include/config/ingest.yaml``): value checks at the door and the quality gate."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lifecycle.paths import INCLUDE_DIR
from lifecycle.settings import Duration, load_model

#: Rows can land up to this late after the moment they record: each ingest and each chain run reads this
#: far behind its watermark, and the daily scores count orders later than the ingest's watermark less it as
#: possibly unseen.
LATE_GRACE = timedelta(hours=3)

DEFAULT_SETTINGS_FILE = INCLUDE_DIR / "config" / "ingest.yaml"
_FIX = "see the comments in include/config/ingest.yaml and docs/ingest.md"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StringLimits(_Section):
    """Longest value, in characters, per kind of text column (docs/ingest.md lists the columns)."""

    email: int = Field(254, ge=6, le=10_000)
    phone: int = Field(32, ge=5, le=1_000)
    name: int = Field(200, ge=10, le=100_000)
    title: int = Field(500, ge=10, le=100_000)
    code: int = Field(64, ge=4, le=10_000)
    url: int = Field(2048, ge=20, le=100_000)
    token: int = Field(4096, ge=16, le=100_000)
    text: int = Field(1000, ge=10, le=1_000_000)


class QualityGate(_Section):
    max_quarantined_share: float = Field(0.2, ge=0, le=1)
    min_rows: int = Field(20, ge=1)


class IngestSettings(_Section):
    earliest_business_date: date = date(1990, 1, 1)
    clock_skew: Duration = timedelta(days=1)
    # 1e15 at most: even a billion rows of such values sum far below the largest double.
    max_amount: float = Field(1e9, gt=0, le=1e15)
    max_quantity: int = Field(10_000, ge=1, le=1_000_000)
    max_replenishment_days: int = Field(3650, ge=1, le=36_500)
    max_length: StringLimits = StringLimits()
    quality_gate: QualityGate = QualityGate()
    #: How much of a long history one step of a catch-up loads (lifecycle.ingest.ingest_history).
    catch_up_step: Duration = timedelta(days=30)

    @field_validator("earliest_business_date")
    @classmethod
    def _plausible_date(cls, value: date) -> date:
        if not date(1900, 1, 1) <= value < date.today():
            raise ValueError("give a date between 1900-01-01 and today, before the retailer's first sale")
        return value

    @field_validator("clock_skew")
    @classmethod
    def _skew(cls, value: timedelta) -> timedelta:
        if not timedelta(0) <= value <= timedelta(days=7):
            raise ValueError("give a duration between 0h and 7d, e.g. 1d")
        return value

    @field_validator("catch_up_step")
    @classmethod
    def _step(cls, value: timedelta) -> timedelta:
        if not timedelta(hours=1) <= value <= timedelta(days=366):
            raise ValueError("give a duration between 1h and 366d, e.g. 30d")
        return value

    def sql_params(self) -> dict[str, Any]:
        """The bound parameters the ingest SQL files use for the checks."""
        limits = {f"max_length_{kind}": limit for kind, limit in self.max_length.model_dump().items()}
        return {
            "earliest_business_date": datetime.combine(self.earliest_business_date, datetime.min.time()),
            "clock_skew": self.clock_skew,
            "max_amount": self.max_amount,
            "max_quantity": self.max_quantity,
            "max_replenishment_days": self.max_replenishment_days,
            **limits,
        }


def load_settings(path: Path | str = DEFAULT_SETTINGS_FILE) -> IngestSettings:
    """Read and validate the ingest settings; raises :class:`ConfigError` naming the file and the field."""
    return load_model(path, IngestSettings, _FIX)
