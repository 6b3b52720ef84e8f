"""The render context of claimed ledger rows, loaded in SQL from the ids their ``context`` JSON carries.

The chains put ids, never names or prices, into the ledger: ``product_id``, ``product_ids`` /
``cart_product_ids`` (lists), ``order_id``, ``category_id`` (any other keys are passed through as
``trigger``). Here those ids are staged in ``crm.delivery_render_stage`` and a handful of set-based queries
(one per kind of data, for the whole batch) load the products, the order, the category, the
recommendations the step asks for and the chain instance's promo code.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import sqlalchemy as sa

from lifecycle import sql
from lifecycle.delivery.render import Templates
from lifecycle.delivery.signing import LinkSigner
from lifecycle.warehouse import Warehouse

PRODUCT_LIST_KEYS = ("product_ids", "cart_product_ids")
MAX_RECOMMENDATIONS = 4
BESTSELLER_WINDOW = timedelta(days=90)


class ContextError(ValueError):
    """A ledger row's context cannot be used (bad JSON, ids of the wrong type)."""


@dataclass(frozen=True)
class TriggerIds:
    product_ids: tuple[int, ...]
    order_id: int | None
    category_id: int | None
    extra: dict[str, Any]

    @classmethod
    def parse(cls, raw: str | None) -> TriggerIds:
        try:
            data = json.loads(raw or "{}")
        except json.JSONDecodeError as exc:
            raise ContextError(f"context is not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise ContextError("context must be a JSON object")
        try:
            products = [int(data["product_id"])] if data.get("product_id") is not None else []
            for key in PRODUCT_LIST_KEYS:
                products += [int(value) for value in data.get(key) or []]
            order_id = int(data["order_id"]) if data.get("order_id") is not None else None
            category_id = int(data["category_id"]) if data.get("category_id") is not None else None
        except (TypeError, ValueError) as exc:
            raise ContextError(f"context ids must be integers ({exc})") from None
        return cls(tuple(dict.fromkeys(products)), order_id, category_id, data)


def with_utm(url: str, channel: str, chain_id: str, step_id: str) -> str:
    parts = urlsplit(url)
    utm = urlencode(
        {"utm_source": "lifecycle", "utm_medium": channel, "utm_campaign": chain_id, "utm_content": step_id}
    )
    return urlunsplit(parts._replace(query=f"{parts.query}&{utm}" if parts.query else utm))


def _execute_many(conn: sa.Connection, name: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(sa.text(sql.single_statement(name)), rows)


class ContextBuilder:
    """Builds the render context of every row of one claim, inside the caller's transaction."""

    def __init__(self, templates: Templates, signer: LinkSigner):
        self.templates = templates
        self.signer = signer

    def build(
        self,
        warehouse: Warehouse,
        conn: sa.Connection,
        claim_token: str,
        rows: Iterable[Mapping[str, Any]],
        now: datetime,
    ) -> dict[str, dict[str, Any] | ContextError]:
        """Context per send key; a row whose ids cannot be read gets the error instead."""
        rows = list(rows)
        parsed: dict[str, TriggerIds | ContextError] = {}
        stage: list[dict[str, Any]] = []
        promos: list[dict[str, Any]] = []
        for row in rows:
            key = row["send_key"]
            try:
                ids = parsed[key] = TriggerIds.parse(row["context"])
                settings = self.templates.step_settings(row["chain_id"], row["step_id"])
            except Exception as exc:  # one poison row fails alone, never the claim
                parsed[key] = exc if isinstance(exc, ContextError) else ContextError(f"{exc!r}")
                continue
            base = {"claim_token": claim_token, "send_key": key, "customer_id": row["customer_id"]}
            base["recommend"] = settings.recommend
            stage.append(
                {
                    **base,
                    "product_id": None,
                    "order_id": ids.order_id,
                    "category_id": ids.category_id,
                    "position": 0,
                }
            )
            stage += [
                {**base, "product_id": pid, "order_id": None, "category_id": None, "position": n}
                for n, pid in enumerate(ids.product_ids, start=1)
            ]
            if settings.promo:
                percent = settings.promo.percent + _offer_bonus(row["context"])
                promos.append(
                    {
                        "code": self.signer.promo_code(
                            settings.promo.prefix, row["chain_id"], row["instance_id"]
                        ),
                        "chain_id": row["chain_id"],
                        "instance_id": row["instance_id"],
                        "customer_id": row["customer_id"],
                        "discount_percent": percent,
                        "valid_until": (now + timedelta(days=settings.promo.valid_days)).replace(
                            hour=23, minute=59, second=59, microsecond=0
                        ),
                        "now": now,
                    }
                )
        if stage:
            import pandas as pd

            # Bulk load (one DuckDB append / PostgreSQL COPY), not one INSERT per id.
            warehouse.insert_df(conn, "crm.delivery_render_stage", pd.DataFrame(stage))
        _execute_many(conn, "delivery/promo_insert.sql", promos)
        loaded = self._load(conn, claim_token, now)
        Warehouse.run(conn, "delivery/stage_clear.sql", claim_token=claim_token)

        contexts: dict[str, dict[str, Any] | ContextError] = {}
        for row in rows:
            key = row["send_key"]
            ids = parsed[key]
            if isinstance(ids, ContextError):
                contexts[key] = ids
                continue
            try:
                contexts[key] = self._context(row, ids, loaded, key)
            except Exception as exc:  # one poison row fails alone, never the claim
                contexts[key] = ContextError(f"{exc!r}")
        return contexts

    def _load(self, conn: sa.Connection, claim_token: str, now: datetime) -> dict[str, dict[str, list]]:
        queries = {
            "products": ("delivery/trigger_products.sql", {}),
            "recommendations": (
                "delivery/recommendations.sql",
                {"bestseller_since": now - BESTSELLER_WINDOW, "max_items": MAX_RECOMMENDATIONS},
            ),
            "orders": ("delivery/orders.sql", {}),
            "categories": ("delivery/categories.sql", {}),
            "promos": ("delivery/promos.sql", {}),
            "tokens": ("delivery/push_tokens.sql", {}),
        }
        loaded: dict[str, dict[str, list]] = {}
        for name, (file, params) in queries.items():
            by_key: dict[str, list] = defaultdict(list)
            for record in Warehouse.run(conn, file, claim_token=claim_token, **params).mappings():
                by_key[record["send_key"]].append(dict(record))
            loaded[name] = by_key
        return loaded

    def _context(self, row: Mapping[str, Any], ids: TriggerIds, loaded: dict, key: str) -> dict[str, Any]:
        shop = self.templates.shop
        channel, chain_id, step_id = row["channel"], row["chain_id"], row["step_id"]

        def product(record: dict[str, Any]) -> dict[str, Any]:
            return {
                "product_id": record["product_id"],
                "name": record["name"],
                "brand": record["brand"],
                "price": record["price"],
                "old_price": record["old_price"],
                "in_stock": bool(record["in_stock"]),
                "category_name": record["category_name"],
                "image_url": record["image_url"] or shop["placeholder_image"],
                "url": with_utm(record["url"] or shop["url"], channel, chain_id, step_id),
            }

        seen: set[int] = set()
        products = []
        for record in loaded["products"].get(key, []):
            if record["product_id"] not in seen:
                seen.add(record["product_id"])
                products.append(product(record))
        orders = loaded["orders"].get(key, [])
        categories = loaded["categories"].get(key, [])
        promos = loaded["promos"].get(key, [])
        category = None
        if categories:
            c = categories[0]
            category = {
                "category_id": c["category_id"],
                "name": c["name"],
                "url": with_utm(
                    f"{shop['url']}/catalog/{c['slug'] or c['category_id']}", channel, chain_id, step_id
                ),
            }
        return {
            "customer": {
                "customer_id": row["customer_id"],
                "first_name": (row.get("first_name") or "").strip() or None,
                "last_name": row.get("last_name"),
                "email": row.get("email"),
                "city": row.get("city"),
            },
            "chain": chain_id,
            "step": step_id,
            "variant": row.get("variant") or "a",
            "message_kind": row["message_kind"],
            "products": products,
            "product": products[0] if products else None,
            "recommendations": [product(r) for r in loaded["recommendations"].get(key, [])],
            "order": dict(orders[0]) if orders else None,
            "category": category,
            "promo": (
                {
                    "code": promos[0]["code"],
                    "percent": promos[0]["discount_percent"],
                    "valid_until": promos[0]["valid_until"],
                }
                if promos
                else None
            ),
            "trigger": ids.extra,
            "push_tokens": [t["token"] for t in loaded["tokens"].get(key, [])],
            "shop": shop,
            "links": {
                "shop": with_utm(shop["url"], channel, chain_id, step_id),
                "cart": with_utm(f"{shop['url']}/cart", channel, chain_id, step_id),
                "account": with_utm(f"{shop['url']}/account", channel, chain_id, step_id),
                "unsubscribe": self.signer.unsubscribe_url(key),
            },
        }


#: Extra discount points for a step whose chain gives the customer's RFM segment a "strong" offer
#: (segment_overrides ... offer: strong in include/chains/*.yaml), e.g. lapsed high spenders.
STRONG_OFFER_BONUS = 5


def _offer_bonus(context: str) -> int:
    import json

    return STRONG_OFFER_BONUS if json.loads(context or "{}").get("offer") == "strong" else 0
