"""Money written the shop's way: presets, overrides, rounding and signs."""

import pytest
from pydantic import ValidationError

from lifecycle.currency import CurrencySettings, format_money


@pytest.mark.parametrize(
    ("code", "amount", "text"),
    [
        ("RUB", 1234567.891, "1\u00a0234\u00a0567,89\u00a0₽"),
        ("USD", 1234567.891, "$1,234,567.89"),
        ("EUR", 0.5, "0,50\u00a0€"),
        ("USD", -12.345, "-$12.35"),
        ("USD", -0.001, "$0.00"),
        ("CHF", 99.5, "99.50\u00a0CHF"),  # no preset: the code as symbol
    ],
)
def test_amounts_are_written_the_currencys_way(code, amount, text):
    assert format_money(amount, CurrencySettings(code=code)) == text


def test_round_figures_and_overrides():
    usd = CurrencySettings(code="USD")
    assert format_money(84213.6, usd, decimals=0) == "$84,214"
    assert format_money(None, usd) == ""
    assert format_money(float("nan"), usd) == ""
    plain = CurrencySettings(code="RUB", symbol="руб.", thousands=" ", decimals=0)
    assert format_money(30000, plain) == "30 000\u00a0руб."


def test_wrong_settings_are_refused():
    with pytest.raises(ValidationError):
        CurrencySettings(code="usd")
    with pytest.raises(ValidationError):
        CurrencySettings(code="USD", thousands=".", decimal_point=".")
