"""The render context of claimed ledger rows, loaded in SQL from the ids their ``context`` JSON carries.

The chains put ids, never names or prices, into the ledger: ``product_id``, ``product_ids`` /
``cart_product_ids`` (lists), ``order_id``, ``category_id`` (any other keys are passed through as
``trigger``). Here those ids are staged in ``crm.delivery_render_stage`` and a handful of set-based queries
(one per kind of data, for the whole batch) load the products, the order, the category, the
recommendations the step asks for and the chain instance's promo code.

What does not depend on the claim (the catalogue, the 90-day best sellers, the accessories) is read once per
dispatch run into :class:`RunData` and is valid for that run only: a later run reads it again, so the next
hour's prices and stock are seen then. Recommendations are ranked against it in Python per claim.
"""

from __future__ import annotations

import functools
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import sqlalchemy as sa

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


@functools.lru_cache(maxsize=65536)
def with_utm(url: str, channel: str, chain_id: str, step_id: str) -> str:
    """``url`` with the step's UTM query (cached: a claim links the same catalogue pages again and again)."""
    parts = urlsplit(url)
    utm = _utm(channel, chain_id, step_id)
    return urlunsplit(parts._replace(query=f"{parts.query}&{utm}" if parts.query else utm))


@functools.lru_cache(maxsize=1024)
def _utm(channel: str, chain_id: str, step_id: str) -> str:
    """The UTM query of a step (a handful per run, encoded once)."""
    return urlencode(
        {"utm_source": "lifecycle", "utm_medium": channel, "utm_campaign": chain_id, "utm_content": step_id}
    )


@dataclass
class RunData:
    """The claim-independent facts recommendations need, read once per dispatch run (valid for that run)."""

    #: product_id -> the catalogue row (name, brand, category, line, generation, price, stock, links)
    catalog: dict[int, dict[str, Any]]
    #: product_id -> units sold in the last 90 days
    sold: dict[int, int]
    #: product_id -> its accessories
    accessories: dict[int, list[int]]
    #: category_id (None: the whole shop) -> in-stock product ids, best sellers first
    top: dict[int | None, list[int]]
    #: category_id -> in-stock product ids
    in_stock_by_category: dict[int, list[int]]
    #: product_line -> (generation, product_id) of every product of the line
    lines: dict[str, list[tuple[int, int]]]
    read_at: datetime

    @classmethod
    def load(cls, conn: sa.Connection, now: datetime) -> RunData:
        catalog = {
            int(r["product_id"]): dict(r) for r in Warehouse.run(conn, "delivery/catalog.sql").mappings()
        }
        sold = {
            int(r["product_id"]): int(r["sold"] or 0)
            for r in Warehouse.run(
                conn, "delivery/bestsellers.sql", bestseller_since=now - BESTSELLER_WINDOW
            ).mappings()
        }
        accessories: dict[int, list[int]] = defaultdict(list)
        for r in Warehouse.run(conn, "delivery/accessories.sql").mappings():
            accessories[int(r["product_id"])].append(int(r["accessory_id"]))
        in_stock = [p for p in catalog.values() if p["in_stock"]]
        by_sales = sorted(in_stock, key=lambda p: (-sold.get(p["product_id"], 0), p["product_id"]))
        top: dict[int | None, list[int]] = defaultdict(list)
        by_category: dict[int, list[int]] = defaultdict(list)
        for p in by_sales:
            top[None].append(p["product_id"])
            if p["category_id"] is not None:
                top[p["category_id"]].append(p["product_id"])
                by_category[p["category_id"]].append(p["product_id"])
        lines: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for p in catalog.values():
            if p["product_line"] is not None and p["generation"] is not None:
                lines[p["product_line"]].append((int(p["generation"]), p["product_id"]))
        return cls(catalog, sold, dict(accessories), dict(top), dict(by_category), dict(lines), now)

    def recommend(
        self, kind: str, triggers: list[int], category_id: int | None, exclude: set[int]
    ) -> list[int]:
        """Up to MAX_RECOMMENDATIONS product ids of one message, best first (see messages.yaml):
        ``alternatives`` in-stock products of the focus category closest in price to the triggers;
        ``accessories`` of the triggers, best sellers first; ``top_category`` best sellers of the focus
        category, else the shop; ``next_generation`` newer generations of a trigger's line. The focus
        category is the named one, else the triggers' (lowest id). Never a trigger nor one of ``exclude``."""
        known = [self.catalog[p] for p in triggers if p in self.catalog]
        if category_id is None:
            category_id = min((p["category_id"] for p in known if p["category_id"] is not None), default=None)
        skip = exclude | set(triggers)
        scores: dict[int, float] = {}
        if kind == "top_category":
            ranked = self.top.get(category_id, []) if category_id is not None else self.top.get(None, [])
            picked = [p for p in ranked if p not in skip][:MAX_RECOMMENDATIONS]
            return picked
        if kind == "alternatives":
            prices = [p["price"] for p in known if p["price"] is not None]
            ref = sum(prices) / len(prices) if prices else None
            for pid in self.in_stock_by_category.get(category_id, []) if category_id is not None else []:
                price = self.catalog[pid]["price"]
                scores[pid] = math.inf if ref is None or price is None else abs(price - ref)
        elif kind == "accessories":
            for trigger in triggers:
                for pid in self.accessories.get(trigger, []):
                    scores[pid] = -self.sold.get(pid, 0)
        elif kind == "next_generation":
            for p in known:
                if p["product_line"] is None or p["generation"] is None:
                    continue
                for generation, pid in self.lines.get(p["product_line"], []):
                    if generation > p["generation"]:
                        scores[pid] = min(scores.get(pid, math.inf), generation)
        ranked = sorted(
            (score, pid) for pid, score in scores.items() if pid not in skip and pid in self.catalog
        )
        return [pid for _, pid in ranked[:MAX_RECOMMENDATIONS]]


class ContextBuilder:
    """Builds the render context of every row of one claim, inside the caller's transaction."""

    def __init__(self, templates: Templates, signer: LinkSigner, run_data: RunData | None = None):
        self.templates = templates
        self.signer = signer
        #: Read once per dispatch run (:meth:`start_run`); a builder without it reads it per build.
        self.run_data = run_data

    def start_run(self, conn: sa.Connection, now: datetime) -> RunData:
        """Read the run-level facts (catalogue, best sellers, accessories) for the builds of one run."""
        self.run_data = RunData.load(conn, now)
        return self.run_data

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
                    }
                )
        if stage:
            import pandas as pd

            # Bulk load (one DuckDB append / PostgreSQL COPY), not one INSERT per id.
            warehouse.insert_df(conn, "crm.delivery_render_stage", pd.DataFrame(stage))
        _insert_promos(conn, promos, now)
        run_data = self.run_data or RunData.load(conn, now)
        loaded = self._load(conn, claim_token)
        bought: dict[int, set[int]] = defaultdict(set)
        for record in Warehouse.records(Warehouse.run(conn, "delivery/bought.sql", claim_token=claim_token)):
            bought[int(record["customer_id"])].add(int(record["product_id"]))
        recommendations = self._recommendations(rows, parsed, loaded, bought, run_data)
        Warehouse.run(conn, "delivery/stage_clear.sql", claim_token=claim_token)

        contexts: dict[str, dict[str, Any] | ContextError] = {}
        for row in rows:
            key = row["send_key"]
            ids = parsed[key]
            if isinstance(ids, ContextError):
                contexts[key] = ids
                continue
            try:
                contexts[key] = self._context(row, ids, loaded, key, recommendations.get(key, []))
            except Exception as exc:  # one poison row fails alone, never the claim
                contexts[key] = ContextError(f"{exc!r}")
        return contexts

    def _recommendations(
        self,
        rows: list[Mapping[str, Any]],
        parsed: dict[str, TriggerIds | ContextError],
        loaded: dict[str, dict[str, list]],
        bought: dict[int, set[int]],
        run_data: RunData,
    ) -> dict[str, list[dict[str, Any]]]:
        """Catalogue rows of each message's recommendations, by the kind its step asks for."""
        out: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            key = row["send_key"]
            ids = parsed[key]
            if isinstance(ids, ContextError):
                continue
            kind = self.templates.step_settings(row["chain_id"], row["step_id"]).recommend
            if kind == "none":
                continue
            # Trigger products: the named ids, then the lines of the named order (as the product query).
            triggers = list(dict.fromkeys(r["product_id"] for r in loaded["products"].get(key, [])))
            picked = run_data.recommend(
                kind, triggers, ids.category_id, bought.get(int(row["customer_id"]), set())
            )
            out[key] = [run_data.catalog[pid] for pid in picked]
        return out

    def _load(self, conn: sa.Connection, claim_token: str) -> dict[str, dict[str, list]]:
        queries = {
            "products": ("delivery/trigger_products.sql", {}),
            "orders": ("delivery/orders.sql", {}),
            "categories": ("delivery/categories.sql", {}),
            "promos": ("delivery/promos.sql", {}),
            "tokens": ("delivery/push_tokens.sql", {}),
        }
        loaded: dict[str, dict[str, list]] = {}
        for name, (file, params) in queries.items():
            by_key: dict[str, list] = defaultdict(list)
            for record in Warehouse.records(Warehouse.run(conn, file, claim_token=claim_token, **params)):
                by_key[record["send_key"]].append(record)
            loaded[name] = by_key
        return loaded

    def _context(
        self,
        row: Mapping[str, Any],
        ids: TriggerIds,
        loaded: dict,
        key: str,
        recommendations: list[dict[str, Any]],
    ) -> dict[str, Any]:
        shop = self.templates.shop
        channel, chain_id, step_id = row["channel"], row["chain_id"], row["step_id"]

        def product(record: dict[str, Any]) -> dict[str, Any]:
            return {
                "product_id": record["product_id"],
                "name": record["name"],
                "brand": record["brand"],
                "price": record["price"],
                "old_price": record.get("old_price"),
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
            "recommendations": [product(r) for r in recommendations],
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
    return STRONG_OFFER_BONUS if json.loads(context or "{}").get("offer") == "strong" else 0


def _insert_promos(conn: sa.Connection, promos: list[dict[str, Any]], now: datetime) -> None:
    """Every promo code of one claim in one statement (parallel arrays); the first insert of a code wins."""
    unique = list({p["code"]: p for p in promos}.values())
    if not unique:
        return
    Warehouse.run(
        conn,
        "delivery/promo_insert.sql",
        codes=[p["code"] for p in unique],
        chain_ids=[p["chain_id"] for p in unique],
        instance_ids=[p["instance_id"] for p in unique],
        customer_ids=[int(p["customer_id"]) for p in unique],
        discount_percents=[int(p["discount_percent"]) for p in unique],
        valid_untils=[p["valid_until"] for p in unique],
        now=now,
    )
