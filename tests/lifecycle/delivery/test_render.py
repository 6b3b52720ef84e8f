"""Every template of every chain renders with demo-like data; a missing variable fails before sending."""

import html
from datetime import datetime

import pytest

from lifecycle.delivery.render import RenderError, Templates, money

TEMPLATES = Templates()
STEPS = TEMPLATES.steps("ru")


def _templates_the_chains_name() -> set[str]:
    from lifecycle.chains.config import load_chains, template_paths

    chains = load_chains(check_templates=False).values()
    return {template for chain in chains for _, template in template_paths(chain)}


def product(pid, name="Nova Phone 5", price=59990.0, old_price=None):
    return {
        "product_id": pid,
        "name": name,
        "brand": "Nova",
        "price": price,
        "old_price": old_price,
        "in_stock": True,
        "category_name": "Смартфоны",
        "image_url": f"https://shop.example/i/{pid}.jpg",
        "url": f"https://shop.example/product/{pid}?utm_source=lifecycle",
    }


def demo_context(first_name="Анна", **overrides):
    products = [product(100, "Nova Phone 5 & <Pro>", old_price=64990.0), product(200, "Чехол", 1990.0)]
    context = {
        "customer": {
            "customer_id": 1,
            "first_name": first_name,
            "last_name": None,
            "email": "a@example.ru",
            "city": "Москва",
        },
        "chain": "x",
        "step": "y",
        "variant": "a",
        "message_kind": "trigger",
        "products": products,
        "product": products[0],
        "recommendations": [
            product(101, "Nova Phone 6", 69990.0),
            product(102, "Orbit"),
            product(201, "Стекло"),
        ],
        "order": {
            "order_id": 500,
            "ordered_at": datetime(2026, 2, 10),
            "total_amount": 61980.0,
            "channel": "online",
        },
        "category": {"category_id": 10, "name": "Смартфоны", "url": "https://shop.example/catalog/phones"},
        "promo": {"code": "CART-ABCDEFGHJK", "percent": 7, "valid_until": datetime(2026, 3, 5, 23, 59)},
        "trigger": {},
        "push_tokens": ["tok"],
        "shop": TEMPLATES.shop,
        "links": {
            "shop": "https://shop.example",
            "cart": "https://shop.example/cart",
            "account": "https://shop.example/account",
            "unsubscribe": "https://crm.example/u/tok",
        },
    }
    context.update(overrides)
    return context


def test_the_templates_are_exactly_those_the_chains_name():
    assert set(STEPS) == _templates_the_chains_name()


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("first_name", ["Анна", None])
def test_every_step_renders(step, first_name):
    context = demo_context(first_name)
    if TEMPLATES.is_push(step):
        push = TEMPLATES.render_push(step, context)
        assert push.title
        assert push.body
        assert len(push.title) <= 65
        assert len(push.body) <= 240
        assert "{{" not in push.title + push.body
        return
    if TEMPLATES.is_sms(step):
        _, context["chain"], context["step"] = step.split("/")  # the step's own rules (messages.yaml sms:)
        sms = TEMPLATES.render_sms(step, context)
        assert sms.text
        assert "{" not in sms.text
        assert "\n" not in sms.text
        assert sms.segments <= sms.max_segments
        assert context["promo"]["code"] in sms.text  # every SMS of the map reminds of a promo code
        assert first_name is None or first_name in sms.text
        return
    email = TEMPLATES.render_email(step, context)
    assert email.subject
    assert email.preheader
    assert "{" not in email.subject + email.preheader
    assert email.html.startswith("<!DOCTYPE html>")
    assert "</html>" in email.html
    assert html.escape(email.preheader, quote=False) in email.html
    assert "https://crm.example/u/tok" in email.html
    assert "https://crm.example/u/tok" in email.text
    assert "<Pro>" not in email.html  # autoescaped
    assert (first_name or "Здравствуйте") in email.text


@pytest.mark.parametrize(
    ("first_name", "percent", "expected", "transliterated"),
    [
        ("Анна", 7, "Анна, −7% на корзину: код CART-ABCDEFGHJK до 05.03. shop.example", False),
        ("Екатерина", 12, "Екатерина, −12% на корзину: код CART-ABCDEFGHJK до 05.03. shop.example", False),
        # a longer name would take a second Cyrillic segment: the same text in Latin letters, in one
        ("Александра", 12, "Aleksandra, -12% na korzinu: kod CART-ABCDEFGHJK do 05.03. shop.example", True),
        (None, 7, "−7% на корзину: код CART-ABCDEFGHJK до 05.03. shop.example", False),
    ],
)
def test_the_cart_sms_is_one_segment(first_name, percent, expected, transliterated):
    context = demo_context(first_name, chain="abandoned_cart", step="sms_1")
    context["promo"] = {**context["promo"], "percent": percent}
    sms = TEMPLATES.render_sms("ru/abandoned_cart/sms_1", context)
    assert (sms.text, sms.segments, sms.max_segments, sms.transliterated) == (expected, 1, 1, transliterated)


def test_html_is_inlined_and_responsive():
    email = TEMPLATES.render_email("ru/abandoned_cart/email_1", demo_context())
    assert email.html.count("<style") == 1
    assert "@media only screen" in email.html
    assert 'style="' in email.html
    assert "59\u00a0990\u00a0₽" in email.html
    assert "64\u00a0990\u00a0₽" in email.html


@pytest.mark.parametrize(
    ("step", "missing"),
    [
        ("ru/abandoned_cart/email_1", {"product": None, "products": []}),
        ("ru/post_purchase/email_1", {"order": None}),
        ("ru/win_back/email_3", {"promo": None}),
        ("ru/abandoned_category/email_1", {"category": None}),
    ],
)
def test_a_missing_variable_fails_at_render_time(step, missing):
    with pytest.raises(RenderError):
        TEMPLATES.render_email(step, demo_context(**missing))
    context = demo_context()
    del context["links"]
    with pytest.raises(RenderError, match="links"):
        TEMPLATES.render_email(step, context)


def test_money_format():
    assert money(1234567.4) == "1\u00a0234\u00a0567\u00a0₽"


def test_money_follows_the_shops_currency(monkeypatch):
    from lifecycle.currency import CurrencySettings
    from lifecycle.delivery import render

    monkeypatch.setattr(render, "shop_currency", lambda: CurrencySettings.preset("USD"))
    assert money(1234567.4) == "$1,234,567"
    with pytest.raises(RenderError, match="not a price"):
        money(float("nan"))
