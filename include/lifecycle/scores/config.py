"""Settings of the scores (``include/config/scores.yaml``), validated: a wrong value names file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lifecycle.currency import CurrencySettings
from lifecycle.paths import INCLUDE_DIR
from lifecycle.settings import load_model

DEFAULT_CONFIG_FILE = INCLUDE_DIR / "config" / "scores.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


#: Named sets of RFM settings. ``electronics``: the fixed average-check cut points of a Russian electronics
#: chain (up to 5 000 RUB accessories and consumables, over 30 000 RUB flagship devices); prices in roubles.
RFM_PRESETS: dict[str, dict[str, object]] = {
    "electronics": {"avg_check_method": "fixed", "avg_check": (5000.0, 30000.0), "currency": "RUB"},
}


class RfmConfig(_Section):
    """``method`` places the recency and frequency cut points (fixed days and purchases by default),
    ``avg_check_method`` the average-check ones: quantiles of the customers' own checks by default, which
    suits a shop in any currency, or ``fixed`` amounts in the shop's currency (``avg_check``)."""

    preset: Literal["electronics"] | None = None
    method: Literal["fixed", "quantile"] = "fixed"
    recency_days: tuple[int, int] = (90, 365)
    frequency_orders: tuple[int, int] = (1, 3)
    avg_check_method: Literal["fixed", "quantile"] = "quantile"
    avg_check: tuple[float, float] | None = None
    quantiles: tuple[float, float] = (1 / 3, 2 / 3)

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data):
        if isinstance(data, dict) and "avg_check_rub" in data:
            raise ValueError(
                "avg_check_rub was replaced by avg_check (amounts in the currency: block) with "
                "avg_check_method: fixed, or by preset: electronics for the 5 000 / 30 000 RUB cut points"
            )
        if isinstance(data, dict) and data.get("preset") in RFM_PRESETS:
            preset = {k: v for k, v in RFM_PRESETS[data["preset"]].items() if k != "currency"}
            data = {**preset, **data}
        return data

    @model_validator(mode="after")
    def _fixed_needs_amounts(self):
        if self.avg_check_method == "fixed" and self.avg_check is None:
            raise ValueError("avg_check_method fixed needs avg_check: [cut 1, cut 2] in the shop's currency")
        return self

    @field_validator("recency_days", "frequency_orders", "avg_check", "quantiles")
    @classmethod
    def _ascending(cls, cuts):
        if cuts is not None and not 0 <= cuts[0] < cuts[1]:
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
    #: Calibration may cost at most this much AUC against the uncalibrated scores on the validation snapshot.
    max_calibration_auc_loss: float = Field(0.002, ge=0)
    #: No more than this share of customers may share one probability.
    max_tied_share: float = Field(0.01, gt=0, le=1)


class ChurnConfig(_Section):
    horizon_days: int = Field(90, ge=7, le=730)
    #: "auto": as many snapshots as the history holds, ``min_step_days`` to ``max_step_days`` apart.
    training_snapshots: int | Literal["auto"] = "auto"
    snapshot_step_days: int | Literal["auto"] = "auto"
    max_snapshots: int = Field(12, ge=2, le=52)
    min_step_days: int = Field(14, ge=1)
    max_step_days: int = Field(60, ge=1)
    calibration: Literal["isotonic", "sigmoid"] = "isotonic"
    max_training_rows: int = Field(400_000, ge=1000)
    gate: ChurnGate = ChurnGate()

    @field_validator("training_snapshots")
    @classmethod
    def _at_least_two(cls, count):
        if count != "auto" and not 2 <= count <= 52:
            raise ValueError("give auto or a number of snapshots from 2 to 52")
        return count

    @field_validator("snapshot_step_days")
    @classmethod
    def _positive_step(cls, step):
        if step != "auto" and step < 1:
            raise ValueError("give auto or a number of days of at least 1")
        return step


class LtvGate(_Section):
    mae_tolerance: float = Field(0.02, ge=0)
    total_error_tolerance: float = Field(0.02, ge=0)
    #: Spearman correlation of decile number and mean realised revenue per decile of prediction.
    min_decile_spearman: float = Field(0.9, ge=-1, le=1)


class LtvConfig(_Section):
    horizon_days: int = Field(365, ge=30, le=1830)
    #: The score's weight on the BG/NBD x Gamma-Gamma expected revenue; the rest is last year's revenue.
    expected_value_weight: float = Field(0.6, ge=0.0, le=1.0)
    gate: LtvGate = LtvGate()


class NextOrderConfig(_Section):
    """The expected next order (:mod:`lifecycle.scores.next_order`) and the consumable lines' cycles."""

    #: A sample of gaps (a group of ratios, the first gaps of one third of first checks, the tail of gaps
    #: longer than a customer's wait) smaller than this is not used; the next broader one is.
    min_sample: int = Field(30, ge=5)
    #: The prediction is for the customers who buy again within this many days after the as-of date (one
    #: who does not is the churn probability's concern); ``scores evaluate`` checks it on the snapshot this
    #: many days before the data end, against the first purchase in these days.
    horizon_days: int = Field(180, ge=30, le=730)
    #: A consumable line's cycle is learnt from the repeat purchases of the last ``line_learn_days`` when
    #: there are at least ``line_min_repeats`` of them, else it is the catalogue's replenishment_days. Each
    #: consumable product's cycle (``crm.product_cycles``) is learnt over the same days.
    line_learn_days: int = Field(365, ge=30)
    line_min_repeats: int = Field(5, ge=1)
    #: A customer's cycle for a line: their own gaps and this many gaps of the line's cycle, averaged.
    line_prior_weight: float = Field(4.0, gt=0)
    #: The shop's typical interval between two purchases (``crm.purchase_intervals``, what the second-purchase
    #: chain waits after a first purchase) is learnt from the gaps of the last ``interval_learn_days``.
    interval_learn_days: int = Field(365, ge=30)


class SendTimeConfig(_Section):
    """How each customer's best local hour to receive a message is learned (``scores/send_hours.sql``)."""

    #: Responses older than this many days before the scored date are not counted.
    lookback_days: int = Field(180, ge=7, le=1830)
    #: What one response counts: an open, a click (on top of its open), an online purchase.
    open_weight: float = Field(1.0, ge=0)
    click_weight: float = Field(1.0, ge=0)
    purchase_weight: float = Field(0.5, ge=0)
    #: Pseudo-responses spread as the shop's profile in each segment's profile.
    segment_prior: float = Field(50.0, gt=0)
    #: Pseudo-responses spread as the segment's profile in each customer's: with this many responses of
    #: their own a customer's profile is half theirs, half their segment's.
    customer_prior: float = Field(6.0, gt=0)

    @model_validator(mode="after")
    def _something_counts(self):
        if self.open_weight + self.click_weight + self.purchase_weight <= 0:
            raise ValueError("open_weight, click_weight and purchase_weight are all 0: nothing would count")
        return self


class ScoresConfig(_Section):
    currency: CurrencySettings = CurrencySettings()
    #: What one purchase is: ``customer_day`` (default) merges a customer's orders of one day into one
    #: basket, so split order lines or a forgotten item bought later do not inflate frequency; ``order``
    #: counts every order.
    purchase_unit: Literal["customer_day", "order"] = "customer_day"
    #: Weekly training reads every customer up to this many buyers; above it, a fixed sample of about this
    #: many (the same customers every snapshot and every week), so training time and memory stop growing
    #: with the shop. Daily scoring always scores everyone.
    training_customers: int = Field(200_000, ge=1000)
    #: Daily scoring reads the customers' features (34 numbers each) and scores them in parts of at most this
    #: many customers, so its memory stops growing with the shop; every customer is scored all the same.
    scoring_customers: int = Field(1_000_000, ge=1000)
    rfm: RfmConfig = RfmConfig()
    churn: ChurnConfig = ChurnConfig()
    ltv: LtvConfig = LtvConfig()
    next_order: NextOrderConfig = NextOrderConfig()
    send_time: SendTimeConfig = SendTimeConfig()

    @model_validator(mode="after")
    def _preset_currency(self):
        preset = RFM_PRESETS.get(self.rfm.preset or "", {})
        if "currency" in preset and preset["currency"] != self.currency.code:
            raise ValueError(
                f"rfm preset {self.rfm.preset} has cut points in {preset['currency']}, the shop's "
                f"currency is {self.currency.code}: use avg_check_method quantile or fixed avg_check "
                "amounts instead"
            )
        return self


def load_config(path: Path | str = DEFAULT_CONFIG_FILE) -> ScoresConfig:
    """Read and validate the scores settings; raises :class:`ConfigError` naming the file and the field."""
    return load_model(path, ScoresConfig, "see the comments in include/config/scores.yaml and docs/scores.md")
