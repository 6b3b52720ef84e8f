"""Settings of the contact policy (``include/config/policy.yaml``), validated with bounds: caps and limits
are never negative, shares lie in [0, 1], quiet hours start and end differ, numbers are finite. A wrong
value fails with a message naming the file and the field."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lifecycle.paths import INCLUDE_DIR
from lifecycle.settings import Duration, load_model

DEFAULT_POLICY_FILE = INCLUDE_DIR / "config" / "policy.yaml"
CHANNELS = ("email", "push", "sms")
#: A cap or a volume limit: a number of messages, 0 meaning none at all.
Count = Annotated[int, Field(ge=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _per_channel(value: dict[str, int]) -> dict[str, int]:
    unknown = set(value) - set(CHANNELS)
    if unknown:
        raise ValueError(f"unknown channel(s) {sorted(unknown)}; channels are {list(CHANNELS)}")
    return value


class Caps(_Section):
    daily_total: int = Field(3, ge=1)
    daily_per_channel: dict[str, Count] = {"email": 2, "push": 2, "sms": 1}
    weekly_per_channel: dict[str, Count] = {"email": 6, "push": 6, "sms": 2}
    min_gap: Duration = timedelta(hours=4)
    content_mailings_count: bool = True

    _channels = field_validator("daily_per_channel", "weekly_per_channel")(_per_channel)


class QuietHours(_Section):
    start: time = time(21, 0)
    end: time = time(9, 0)

    @model_validator(mode="after")
    def _a_window(self) -> QuietHours:
        # start == end would be an empty window (or a whole day): either way not what anybody means.
        if self.start == self.end:
            raise ValueError(
                f"start and end are both {self.start:%H:%M}, which is no window at all; give the local time "
                'quiet hours begin and the time they end, e.g. start: "21:00", end: "09:00"'
            )
        return self


class ContentMailingDay(_Section):
    outranking_priority: int = 80


class SaleShare(_Section):
    max_share: float = Field(0.25, gt=0, le=1)
    window_days: int = Field(30, ge=1)


class Experiments(_Section):
    global_control_share: float = Field(0.05, ge=0, lt=1)
    bandit_min_sample: int = Field(200, ge=1)
    attribution_days: int = Field(7, ge=1)


class Warmup(_Section):
    sending_domain: str = Field("shop.example", min_length=1)
    daily_limits: dict[str, Count] = {}


class PolicyConfig(_Section):
    caps: Caps = Caps()
    quiet_hours: QuietHours = QuietHours()
    content_mailing_day: ContentMailingDay = ContentMailingDay()
    sale_share: SaleShare = SaleShare()
    experiments: Experiments = Experiments()
    warmup: Warmup = Warmup()


def load_policy(path: Path | str = DEFAULT_POLICY_FILE) -> PolicyConfig:
    return load_model(path, PolicyConfig, "see the comments in include/config/policy.yaml and docs/policy.md")
