"""Render every step template against sample data before anything is planned.

A template with an undefined variable or a broken filter fails every message of its step at send time.
This renders each step the way dispatch can meet it — with all optional data, and with only what the
chain guarantees (no first name, no recommendations, no promo unless the step gives one), in variants a
and b — so such a template is caught by the chains DAG's ``validate_chains`` task and by ``make test``.

    python -m lifecycle.delivery.validate            # exit 1 and one line per broken template
"""

from __future__ import annotations

import functools
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from lifecycle.delivery.render import Templates
from lifecycle.delivery.signing import LinkSigner

#: What a chain's ledger rows always carry (see docs/delivery.md, "Context contract").
NEEDS_PRODUCT = {
    "abandoned_cart",
    "abandoned_browse",
    "expensive_browse",
    "back_in_stock",
    "price_drop",
    "cross_sell",
    "replenishment",
    "product_line_update",
    "ecosystem",
}
NEEDS_ORDER = {"post_purchase"}
NEEDS_CATEGORY = {"abandoned_category"}
_SIGNER = LinkSigner(b"template-validation-secret-never-sends", "https://crm.shop.example/lifecycle-webhooks")
_NOW = datetime(2026, 3, 2, 12, 0)


def _product(product_id: int, name: str, price: float, old_price: float | None, shop: dict) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "name": name,
        "brand": "Nova",
        "price": price,
        "old_price": old_price,
        "in_stock": True,
        "category_name": "Смартфоны",
        "image_url": shop.get("placeholder_image", ""),
        "url": f"{shop.get('url', 'https://shop.example')}/product/{product_id}",
    }


def sample_contexts(templates: Templates, template: str) -> list[dict[str, Any]]:
    """The contexts one step's template must render in: full, and with only the guaranteed data."""
    _, chain, step = template.split("/")
    shop = templates.shop
    settings = templates.step_settings(chain, step)
    products = [
        _product(101, "Nova Phone 6 <Pro>", 69990.0, 74990.0, shop),
        _product(200, "Чехол для Nova Phone 6", 1990.0, None, shop),
    ]
    order = {
        "order_id": 500,
        "ordered_at": _NOW - timedelta(days=3),
        "total_amount": 71980.0,
        "channel": "online",
        "status": "delivered",
    }
    category = {"category_id": 10, "name": "Смартфоны", "url": f"{shop.get('url', '')}/catalog/phones"}
    promo = {"code": "TEST-7K3F9Q2MXA", "percent": 10, "valid_until": _NOW + timedelta(days=7)}
    base = {
        "chain": chain,
        "step": step,
        "message_kind": "trigger",
        "trigger": {},
        "push_tokens": ["sample-token"],
        "shop": shop,
        "links": {
            "shop": shop.get("url", ""),
            "cart": f"{shop.get('url', '')}/cart",
            "account": f"{shop.get('url', '')}/account",
            "unsubscribe": _SIGNER.unsubscribe_url(f"{chain}:{step}:sample"),
        },
    }
    full = {
        **base,
        "customer": {
            "customer_id": 42,
            "first_name": "Анна",
            "last_name": "Иванова",
            "email": "anna@example.ru",
            "city": "Москва",
        },
        "products": products,
        "product": products[0],
        "recommendations": [_product(300 + n, f"Товар {n}", 990.0 * (n + 1), None, shop) for n in range(4)],
        "order": order,
        "category": category,
        "promo": promo,
    }
    guaranteed_products = products[:1] if chain in NEEDS_PRODUCT else []
    minimal = {
        **base,
        "customer": {
            "customer_id": 42,
            "first_name": None,
            "last_name": None,
            "email": "a@example.ru",
            "city": None,
        },
        "products": guaranteed_products,
        "product": guaranteed_products[0] if guaranteed_products else None,
        "recommendations": [],
        "order": order if chain in NEEDS_ORDER else None,
        "category": category if chain in NEEDS_CATEGORY else None,
        "promo": promo if settings.promo else None,
    }
    return [{**context, "variant": variant} for context in (full, minimal) for variant in ("a", "b")]


def template_problem(template: str, templates: Templates | None = None) -> str | None:
    """Why one step template (``ru/<chain>/<step>``) does not render against sample data, or None.
    Cached until a file of the template, the layouts or ``messages.yaml`` changes."""
    templates = templates or Templates()
    root = templates.root
    watched = [
        root / "messages.yaml",
        *sorted((root / "layout").glob("*")),
        *sorted((root / template).glob("*")),
    ]
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in watched if p.is_file())
    return _template_problem(str(root), template, stamp)


@functools.lru_cache(maxsize=8)
def _templates(root: str) -> Templates:
    """One template environment per folder: Jinja compiles each file once and reloads it when it changes."""
    return Templates(Path(root))


@functools.lru_cache(maxsize=512)
def _template_problem(root: str, template: str, stamp: tuple) -> str | None:
    templates = _templates(root)
    try:
        for context in sample_contexts(templates, template):
            if templates.is_push(template):
                templates.render_push(template, context)
            elif templates.is_sms(template):
                content = templates.render_sms(template, context)
                if content.segments > content.max_segments:
                    return (
                        f"{template}: the sample text needs {content.segments} SMS segments, the step allows "
                        f"{content.max_segments} (messages.yaml sms.max_segments): {content.text!r}"
                    )
            else:
                templates.render_email(template, context)
    except Exception as exc:  # RenderError, or a broken messages.yaml entry: name the template all the same
        return f"{template}: {exc}"
    return None


def validate_templates(templates: Templates | None = None, locale: str = "ru") -> list[str]:
    """One line per template that does not render (``<template>: <why>``); empty when all do."""
    templates = templates or Templates()
    problems = [template_problem(template, templates) for template in templates.steps(locale)]
    return [problem for problem in problems if problem]


def main(argv: list[str] | None = None) -> int:
    problems = validate_templates()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(f"all {len(Templates().steps())} step templates render")
    return 0


if __name__ == "__main__":
    sys.exit(main())
