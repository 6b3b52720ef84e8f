"""The shop's currency: its code, symbol and how amounts are written (``currency:`` in scores.yaml).

Amounts in the warehouse are plain numbers in the shop's currency; this module only says what they are and
how to show them. Reports, summaries and message templates format money with :func:`format_money`::

    format_money(12345.5, CurrencySettings.preset("RUB"))  # '12 345,50 ₽'
    format_money(12345.5, CurrencySettings.preset("USD"))  # '$12,345.50'
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Conventional writing of the currencies a shop most often uses; any field can be overridden in YAML.
PRESETS: dict[str, dict[str, object]] = {
    "RUB": {"symbol": "₽", "decimals": 2, "symbol_first": False, "thousands": "\u00a0", "decimal_point": ","},
    "USD": {"symbol": "$", "decimals": 2, "symbol_first": True, "thousands": ",", "decimal_point": "."},
    "EUR": {"symbol": "€", "decimals": 2, "symbol_first": False, "thousands": "\u00a0", "decimal_point": ","},
    "GBP": {"symbol": "£", "decimals": 2, "symbol_first": True, "thousands": ",", "decimal_point": "."},
    "KZT": {"symbol": "₸", "decimals": 2, "symbol_first": False, "thousands": "\u00a0", "decimal_point": ","},
    "BRL": {"symbol": "R$", "decimals": 2, "symbol_first": True, "thousands": ".", "decimal_point": ","},
}


class CurrencySettings(BaseModel):
    """``code`` (ISO 4217) and the way amounts are written; unset fields come from the code's preset, or,
    for a code without a preset, the code itself as symbol after the amount."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field("RUB", pattern=r"^[A-Z]{3}$")
    symbol: str | None = None
    decimals: int | None = Field(None, ge=0, le=4)
    symbol_first: bool | None = None
    thousands: str | None = None
    decimal_point: Literal[".", ","] | None = None

    @model_validator(mode="after")
    def _fill_from_preset(self) -> CurrencySettings:
        preset = PRESETS.get(
            self.code,
            {
                "symbol": self.code,
                "decimals": 2,
                "symbol_first": False,
                "thousands": ",",
                "decimal_point": ".",
            },
        )
        for name, value in preset.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if self.thousands == self.decimal_point:
            raise ValueError("thousands and decimal_point must differ")
        return self

    @classmethod
    def preset(cls, code: str) -> CurrencySettings:
        return cls(code=code)


def format_money(amount: float | None, settings: CurrencySettings, decimals: int | None = None) -> str:
    """``amount`` written the shop's way, e.g. ``'$1,234.50'`` or ``'1 234,50 ₽'`` (``''`` for None/NaN).
    ``decimals`` overrides the currency's (0 for round figures in summaries)."""
    if amount is None or amount != amount:
        return ""
    places = settings.decimals if decimals is None else decimals
    text = f"{abs(float(amount)):,.{places}f}"  # '1,234.50'
    text = text.replace(",", "\x00").replace(".", settings.decimal_point).replace("\x00", settings.thousands)
    sign = "-" if round(float(amount), places) < 0 else ""
    if settings.symbol_first:
        return f"{sign}{settings.symbol}{text}"
    return f"{sign}{text}\u00a0{settings.symbol}"


def load_currency(path: Path | str | None = None) -> CurrencySettings:
    """The ``currency:`` block of the scores settings (default include/config/scores.yaml)."""
    from lifecycle.scores.config import DEFAULT_CONFIG_FILE, load_config

    return load_config(path or DEFAULT_CONFIG_FILE).currency
