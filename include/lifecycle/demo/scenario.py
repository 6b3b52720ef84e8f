"""What happens to the shop's catalogue during simulated weeks, so that every trigger chain has its trigger.

The generator's catalogue story is placed relative to a long history (launches at 35 % and 88 % of it…), so
a few weeks at its end may hold no restock, no price drop and no launch. :func:`catalogue_scenario` adds,
inside ``(start, end]``:

* **price drops** every three days (from the second day): the in-stock product customers viewed most in the
  30 days before, 15 % cheaper at 12:00 Moscow time, back to its price four days later (price drop);
* **sell-outs** every four days: another much-viewed product is out of stock for three days, then restocked
  (back in stock);
* **a launch** 40 % into the weeks: the next generation of the product line with the most owners (product
  line update);
* **an occasion**, only when no calendar occasion of ``crm.calendar_occasions`` starts inside the weeks:
  "День рождения магазина" 60 % into them (seasonal).

Rows come back as DataFrames in the ``shop`` tables' columns with ``loaded_at`` a few minutes after the
change, ready to be released into the shop hour by hour. The customers' own orders drawn by the generator are
left as they are (an order of a product during its sell-out may remain: the shop sold its last units).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from lifecycle.warehouse import Warehouse

#: Moscow is UTC+3: 09:00 UTC is noon there.
NOON_MOSCOW_UTC = timedelta(hours=9)
DROP_SHARE = 0.15
DROP_EVERY_DAYS, DROP_LASTS_DAYS = 3, 4
SELLOUT_EVERY_DAYS, SELLOUT_LASTS_DAYS = 4, 3
LAUNCH_AT, OCCASION_AT = 0.4, 0.6
SHOP_BIRTHDAY = ("shop_birthday", "День рождения магазина", "The shop's birthday")


@dataclass
class Scenario:
    price_changes: pd.DataFrame
    stock_changes: pd.DataFrame
    products: pd.DataFrame
    #: (occasion_id, name_ru, name_en, month, day) to add to crm.calendar_occasions, or None.
    occasion: tuple[str, str, str, int, int] | None

    def describe(self) -> dict:
        return {
            "price_drops": int((self.price_changes["new_price"] < self.price_changes["old_price"]).sum()),
            "sellouts": int((~self.stock_changes["in_stock"]).sum()),
            "launches": len(self.products),
            "occasion": self.occasion[0] if self.occasion else None,
        }


def shop_price(price: float) -> float:
    """Shop-style price: rounded down to …90 roubles (590 at least)."""
    return float(max(590, int(price // 100) * 100 - 10))


def _popular_products(warehouse: Warehouse, start: datetime) -> pd.DataFrame:
    """Products as the shop published them up to ``start`` (``crm.products``, ingested up to then) with their
    views in the 30 days before, most viewed first; launched, in stock, not consumables."""
    query = """
        WITH views AS (
            SELECT product_id, COUNT(*) AS views FROM shop.events
            WHERE event_type IN ('view_product', 'add_to_cart', 'add_to_wishlist')
              AND ts > :since AND ts <= :start AND product_id IS NOT NULL
            GROUP BY product_id
        )
        SELECT p.product_id, p.price, p.in_stock, COALESCE(v.views, 0) AS views
        FROM crm.products AS p
        LEFT JOIN views AS v ON p.product_id = v.product_id
        WHERE NOT COALESCE(p.is_consumable, FALSE) AND p.price IS NOT NULL
          AND (p.launched_at IS NULL OR CAST(p.launched_at AS TIMESTAMP) <= :start)
        ORDER BY views DESC, p.product_id
    """
    import sqlalchemy as sa

    with warehouse.begin() as conn:
        rows = conn.execute(sa.text(query), {"start": start, "since": start - timedelta(days=30)})
        frame = pd.DataFrame(rows.fetchall(), columns=list(rows.keys()))
    return frame[frame["in_stock"].astype(bool) & (frame["views"] > 0)].reset_index(drop=True)


def _launch(warehouse: Warehouse, start: datetime, launch_day: datetime) -> pd.DataFrame:
    """The next generation of the line with the most buyers before ``start`` (one product row)."""
    import sqlalchemy as sa

    query = """
        WITH owners AS (
            SELECT p.product_line, COUNT(DISTINCT o.customer_id) AS owners
            FROM shop.orders AS o
            JOIN shop.order_items AS oi ON o.order_id = oi.order_id
            JOIN shop.products AS p ON oi.product_id = p.product_id
            WHERE p.product_line IS NOT NULL AND o.ordered_at <= :start
            GROUP BY p.product_line
        ),
        latest AS (
            SELECT p.*, ROW_NUMBER() OVER (
                PARTITION BY p.product_line ORDER BY p.generation DESC, p.price DESC, p.product_id
            ) AS rn
            FROM shop.products AS p WHERE p.product_line IS NOT NULL AND p.generation IS NOT NULL
        )
        SELECT l.*, (SELECT MAX(product_id) FROM shop.products) AS max_id
        FROM latest AS l JOIN owners AS ow ON l.product_line = ow.product_line
        WHERE l.rn = 1
        ORDER BY ow.owners DESC, l.product_line
        LIMIT 1
    """
    with warehouse.begin() as conn:
        row = conn.execute(sa.text(query), {"start": start}).mappings().first()
    if row is None:
        return pd.DataFrame()
    old_gen, new_gen = str(row["generation"]), str(int(row["generation"]) + 1)
    name = str(row["name"]).replace(f"{row['product_line']} {old_gen}", f"{row['product_line']} {new_gen}")
    if name == row["name"]:
        name = f"{row['name']} ({new_gen})"
    product_id = int(row["max_id"]) + 1
    # listed the day before the launch, but never before the weeks start (ingest reads rows landing later)
    listed = max(launch_day - timedelta(days=1), start + timedelta(minutes=30))
    return pd.DataFrame(
        [
            {
                "product_id": product_id,
                "sku": f"SIM-{product_id}",
                "name": name,
                "brand": row["brand"],
                "category_id": row["category_id"],
                "product_line": row["product_line"],
                "generation": int(new_gen),
                "price": shop_price(float(row["price"]) * 1.15),
                "in_stock": True,
                "is_consumable": bool(row["is_consumable"]),
                "replenishment_days": row["replenishment_days"],
                "launched_at": launch_day.date(),
                "image_url": f"https://shop.example/img/{product_id}.jpg",
                "url": f"https://shop.example/p/{product_id}",
                "updated_at": listed,
                "loaded_at": listed + timedelta(minutes=5),
            }
        ]
    )


def _occasion(warehouse: Warehouse, start: datetime, end: datetime) -> tuple | None:
    """The shop's birthday inside the weeks, unless an occasion of the calendar already starts there."""
    import sqlalchemy as sa

    with warehouse.begin() as conn:
        occasions = conn.execute(sa.text("SELECT starts_month, starts_day FROM crm.calendar_occasions")).all()
    for year in range(start.year, end.year + 1):
        for month, day in occasions:
            try:
                moment = datetime(year, int(month), int(day))
            except ValueError:
                continue
            if start < moment <= end - timedelta(days=1):
                return None
    moment = (start + (end - start) * OCCASION_AT).replace(hour=0, minute=0, second=0, microsecond=0)
    if moment <= start:
        moment += timedelta(days=1)
    return (*SHOP_BIRTHDAY, moment.month, moment.day)


def catalogue_scenario(warehouse: Warehouse, start: datetime, end: datetime) -> Scenario:
    """The catalogue changes of ``(start, end]`` (see the module docstring). ``shop`` must hold the
    generated history, and ``crm`` the history ingested up to ``start`` (products' state, the calendar)."""
    popular = _popular_products(warehouse, start)
    days = max(1, (end - start).days)
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    drop_days = list(range(1, days, DROP_EVERY_DAYS))
    sellout_days = list(range(2, days, SELLOUT_EVERY_DAYS))
    prices, stocks, used = [], [], 0
    for day in drop_days:
        if used >= len(popular):
            break
        product = popular.iloc[used]
        used += 1
        at = midnight + timedelta(days=day) + NOON_MOSCOW_UTC
        old, new = float(product["price"]), shop_price(float(product["price"]) * (1 - DROP_SHARE))
        back = at + timedelta(days=DROP_LASTS_DAYS)
        prices.append((int(product["product_id"]), old, new, at))
        prices.append((int(product["product_id"]), new, old, back))
    for day in sellout_days:
        if used >= len(popular):
            break
        product_id = int(popular.iloc[used]["product_id"])
        used += 1
        out = midnight + timedelta(days=day, hours=6)
        stocks.append((product_id, False, out))
        stocks.append((product_id, True, out + timedelta(days=SELLOUT_LASTS_DAYS, hours=4)))
    launch_day = (start + (end - start) * LAUNCH_AT).replace(hour=0, minute=0, second=0, microsecond=0)
    if launch_day <= start:
        launch_day += timedelta(days=1)
    products = _launch(warehouse, start, launch_day)
    if not products.empty:
        stocks.append((int(products["product_id"].iloc[0]), True, launch_day + timedelta(hours=6)))
    price_changes = pd.DataFrame(prices, columns=["product_id", "old_price", "new_price", "changed_at"])
    stock_changes = pd.DataFrame(stocks, columns=["product_id", "in_stock", "changed_at"])
    for frame in (price_changes, stock_changes):
        frame["loaded_at"] = frame["changed_at"] + timedelta(minutes=7)
    price_changes = price_changes[price_changes["changed_at"] <= end]
    stock_changes = stock_changes[stock_changes["changed_at"] <= end]
    return Scenario(price_changes, stock_changes, products, _occasion(warehouse, start, end))
