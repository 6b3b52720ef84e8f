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


def test_the_demo_shop_can_price_in_another_currency(tmp_path):
    """``--price-scale`` multiplies every amount and rounds to cents; the rows are otherwise the same."""
    from datetime import datetime

    from lifecycle.demo import DemoConfig, generate
    from lifecycle.warehouse import Warehouse

    def orders(name, scale):
        warehouse = Warehouse(f"duckdb:///{tmp_path / name}")
        config = DemoConfig(customers=60, seed=3, end=datetime(2026, 6, 30), days=60, price_scale=scale)
        generate(warehouse, config)
        with warehouse.begin() as conn:
            return conn.exec_driver_sql(
                "SELECT order_id, customer_id, total_amount FROM shop.orders ORDER BY order_id"
            ).fetchall()

    roubles, dollars = orders("rub.duckdb", 1.0), orders("usd.duckdb", 0.011)
    assert len(roubles) == len(dollars) > 0
    for rub, usd in zip(roubles, dollars, strict=True):
        assert rub[:2] == usd[:2]
        assert usd[2] == pytest.approx(round(rub[2] * 0.011, 2), abs=0.011)
    assert max(row[2] for row in dollars) < max(row[2] for row in roubles) / 50
