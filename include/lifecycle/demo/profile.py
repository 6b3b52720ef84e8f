"""Measure what a generated shop looks like, from its tables: the numbers docs/demo-shop.md quotes.

Bad rows are left out (they are recognised by the id ranges `bad_rows` uses), so the profile describes the
shop the pipeline should see after quarantine.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from lifecycle.demo.bad_rows import BAD_LINE_NO, BAD_ROW_IDS
from lifecycle.warehouse import Warehouse

_CART_TO_ORDER_WINDOW = pd.Timedelta(hours=1)
_BROKEN_EMAIL = r"^[^@\s]+@[^@\s]+\.[a-z]+$"


def read_table(warehouse: Warehouse, table: str, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A whole `shop` table (or some columns) as a DataFrame, for tests and profiling of small shops."""
    schema, name = table.split(".")
    source = sa.table(name, *(sa.column(c) for c in columns), schema=schema)
    query = sa.select(*source.c) if columns else sa.select(sa.text("*")).select_from(source)
    with warehouse.begin() as conn:
        result = conn.execute(query)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def good_rows(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Drop the injected bad rows of a table (ids that were NULL-able read back as integers again)."""
    if table == "shop.customers":
        ids = pd.to_numeric(frame["customer_id"])
        good = frame[ids.notna() & (ids < BAD_ROW_IDS)]
    elif table == "shop.events":
        good = frame[frame["event_id"] < BAD_ROW_IDS].drop_duplicates()
    elif table == "shop.orders":
        good = frame[frame["order_id"] < BAD_ROW_IDS].drop_duplicates()
    elif table == "shop.order_items":
        good = frame[(frame["order_id"] < BAD_ROW_IDS) & (frame["line_no"] < BAD_LINE_NO)]
    else:
        good = frame
    return good.astype({"customer_id": "int64"}) if "customer_id" in good and len(good) else good


def shop_profile(warehouse: Warehouse, end: datetime) -> dict[str, float]:
    """Shares and averages of the shop as of `end`, rounded for reading."""
    tables = {
        t: good_rows(t, read_table(warehouse, t))
        for t in (
            "shop.customers",
            "shop.push_tokens",
            "shop.orders",
            "shop.order_items",
            "shop.events",
            "shop.products",
        )
    }
    customers = tables["shop.customers"].sort_values("updated_at").drop_duplicates("customer_id", keep="last")
    result = {
        **_customer_profile(customers, tables["shop.customers"], tables["shop.push_tokens"], end),
        **_order_profile(
            customers, tables["shop.orders"], tables["shop.order_items"], tables["shop.products"], end
        ),
        **_event_profile(customers, tables["shop.events"], tables["shop.orders"]),
    }
    return {k: round(float(v), 4) for k, v in result.items()}


def _customer_profile(
    latest: pd.DataFrame, all_versions: pd.DataFrame, tokens: pd.DataFrame, end: datetime
) -> dict[str, float]:
    email = latest["email"].astype("str")
    tokens_latest = tokens.sort_values("loaded_at").drop_duplicates("token", keep="last")
    start = pd.Timestamp(end) - pd.Timedelta(days=365)
    return {
        "customers": len(latest),
        "registered_in_history_share": (latest["registered_at"] >= start).mean(),
        "email_missing_share": latest["email"].isna().mean(),
        "email_invalid_share": (latest["email"].notna() & ~email.str.match(_BROKEN_EMAIL)).mean(),
        "email_consent_share": latest["email_consent"].mean(),
        "push_consent_share": latest["push_consent"].mean(),
        "sms_consent_share": latest["sms_consent"].mean(),
        "opt_out_share": all_versions["customer_id"].duplicated().sum() / len(latest),
        "app_user_share": tokens_latest["customer_id"].nunique() / len(latest),
        "inactive_token_share": (~tokens_latest["is_active"].astype(bool)).mean(),
        "timezones": latest["timezone"].nunique(),
    }


def _order_profile(
    customers: pd.DataFrame, orders: pd.DataFrame, items: pd.DataFrame, products: pd.DataFrame, end: datetime
) -> dict[str, float]:
    purchases = orders[~orders["status"].isin(["cancelled", "returned", "created"])]
    per_buyer = purchases.groupby("customer_id").size()
    last_order = purchases.groupby("customer_id")["ordered_at"].max()
    return {
        "orders_per_customer": len(orders) / len(customers),
        "buyer_share": len(per_buyer) / len(customers),
        "purchases_per_buyer": per_buyer.mean(),
        "repeat_buyer_share": (per_buyer >= 2).mean(),
        "lapsed_90d_buyer_share": (last_order < pd.Timestamp(end) - pd.Timedelta(days=90)).mean(),
        "order_value_median": purchases["total_amount"].median(),
        "order_value_mean": purchases["total_amount"].mean(),
        "items_per_order": len(items) / len(orders),
        "offline_share": (orders["channel"] == "offline").mean(),
        "cancelled_share": (orders["status"] == "cancelled").mean(),
        "returned_share": (orders["status"] == "returned").mean(),
        "promo_share": orders["promo_code"].notna().mean(),
        **_refill_regularity(orders, items, products),
    }


def _refill_regularity(orders: pd.DataFrame, items: pd.DataFrame, products: pd.DataFrame) -> dict[str, float]:
    """How close repeat purchases of a consumable come to its replenishment_days (median gap / cycle)."""
    consumables = products[products["is_consumable"].astype(bool)][["product_id", "replenishment_days"]]
    lines = items.merge(orders[["order_id", "customer_id", "ordered_at"]], on="order_id").merge(
        consumables, on="product_id"
    )
    lines = lines.sort_values(["customer_id", "product_id", "ordered_at"])
    gap = lines.groupby(["customer_id", "product_id"])["ordered_at"].diff().dt.total_seconds() / 86_400
    ratio = (gap / lines["replenishment_days"].astype(float)).dropna()
    return {
        "refill_gap_to_cycle_median": ratio.median() if len(ratio) else np.nan,
        "refill_buyer_share": lines["customer_id"].nunique() / max(orders["customer_id"].nunique(), 1),
    }


def _event_profile(customers: pd.DataFrame, events: pd.DataFrame, orders: pd.DataFrame) -> dict[str, float]:
    if events.empty:
        return {"events_per_customer": 0.0}
    per_customer = events.groupby("customer_id").size().reindex(customers["customer_id"], fill_value=0)
    sessions = events.groupby("session_id").agg(customer_id=("customer_id", "first"), last=("ts", "max"))
    carted = events.loc[events["event_type"] == "add_to_cart", "session_id"].unique()
    return {
        "events_per_customer": per_customer.mean(),
        "events_per_customer_median": per_customer.median(),
        "events_per_customer_p90": per_customer.quantile(0.9),
        "web_active_share": (per_customer > 0).mean(),
        "sessions_per_customer": len(sessions) / len(customers),
        "events_per_session": len(events) / len(sessions),
        **{f"share_{t}": s for t, s in events["event_type"].value_counts(normalize=True).items()},
        "cart_abandon_share": _cart_abandon_share(sessions.loc[carted], orders),
        "late_event_share": (events["loaded_at"] - events["ts"] > pd.Timedelta(hours=1)).mean(),
        "app_session_share": events.groupby("session_id")["platform"].first().isin(["ios", "android"]).mean(),
    }


def _cart_abandon_share(carted: pd.DataFrame, orders: pd.DataFrame) -> float:
    """Sessions with a cart that no online order of the customer followed within an hour."""
    online = orders[orders["channel"] == "online"][["customer_id", "ordered_at"]].sort_values("ordered_at")
    left = carted.reset_index().sort_values("last")
    matched = pd.merge_asof(
        left,
        online,
        left_on="last",
        right_on="ordered_at",
        by="customer_id",
        direction="forward",
        tolerance=_CART_TO_ORDER_WINDOW,
    )
    return matched["ordered_at"].isna().mean()
