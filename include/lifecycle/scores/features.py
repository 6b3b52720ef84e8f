"""Per-customer features as of a snapshot date, computed in the warehouse (``include/sql/scores/``).

Orders are the one required source. Site events and message engagement are optional: a source whose table
is missing (or lacks a column it reads) is skipped, and customers without data in a source get its neutral
values, the same values a customer with no recent activity gets. An orders-only retailer therefore has the
same feature columns, constant where there is no data, which a tree model simply ignores.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from lifecycle.warehouse import Warehouse

log = logging.getLogger(__name__)

ORDER_FEATURES = (
    "recency_days",
    "tenure_days",
    "registered_days",
    "frequency",
    "purchases_90d",
    "purchases_365d",
    "monetary_total",
    "revenue_365d",
    "avg_check",
    "max_check",
    "repeat_avg_check",
    "mean_interval_days",
    "overdue_ratio",
    "overdue_days",
    "last_interval_days",
    "interval_trend",
    "interval_cv",
    "returns",
    "return_share",
    "discount_share",
    "promo_share",
    "online_share",
)


@dataclass(frozen=True)
class OptionalSource:
    """A feature query over tables a retailer may not have (``requires``: table -> the columns it reads);
    ``neutral`` fills the customers it has no row for."""

    name: str
    sql: str
    requires: Mapping[str, tuple[str, ...]]
    neutral: Mapping[str, float]


OPTIONAL_SOURCES = (
    OptionalSource(
        name="events",
        sql="scores/churn_features_events.sql",
        requires={"crm.events": ("customer_id", "session_id", "event_type", "ts")},
        neutral={
            "events_30d": 0,
            "sessions_30d": 0,
            "product_views_30d": 0,
            "cart_adds_30d": 0,
            "app_opens_30d": 0,
            "days_since_last_event": 90,
        },
    ),
    OptionalSource(
        name="engagement",
        sql="scores/churn_features_engagement.sql",
        requires={
            "crm.message_events": ("send_key", "event_type", "occurred_at"),
            "crm.send_ledger": ("send_key", "customer_id"),
        },
        neutral={
            "messages_delivered_90d": 0,
            "messages_opened_90d": 0,
            "messages_clicked_90d": 0,
            "unsubscribed_90d": 0,
        },
    ),
)

#: The season of the as-of date (day of the year on a circle): how many customers come back in the next
#: weeks depends on what those weeks hold (Black Friday, New Year, the spring lull).
SEASON_FEATURES = ("season_sin", "season_cos")

#: Every feature column, in a fixed order; a model records the ones it was trained on.
FEATURES = (
    ORDER_FEATURES + tuple(name for source in OPTIONAL_SOURCES for name in source.neutral) + SEASON_FEATURES
)


def available_sources(warehouse: Warehouse) -> list[OptionalSource]:
    """The optional sources whose tables all exist with every column the source's query reads."""
    found = []
    for source in OPTIONAL_SOURCES:
        missing = []
        for table, columns in source.requires.items():
            schema_name, table_name = table.split(".")
            rows = warehouse.fetch_all(
                "scores/table_columns.sql", schema_name=schema_name, table_name=table_name
            )
            missing += [f"{table}.{c}" for c in columns if c not in {row["column_name"] for row in rows}]
        if missing:
            log.debug("feature source %s skipped: %s missing", source.name, ", ".join(missing))
        else:
            found.append(source)
    return found


def build_features(
    warehouse: Warehouse,
    as_of: date,
    sources: list[OptionalSource] | None = None,
    purchase_unit: str = "customer_day",
    sample_every: int = 1,
    sample_part: int = 0,
) -> pd.DataFrame:
    """One row per customer with a purchase by the end of ``as_of`` (index ``customer_id``), all FEATURES;
    purchases are counted per ``purchase_unit`` (``customer_day`` or ``order``). ``sample_every`` k > 1 keeps
    about one customer in k, the same ones on every date (see :func:`training_sample`): part
    ``sample_part`` of the k parts 0 to k - 1, which together are every customer."""
    if not 0 <= sample_part < sample_every:
        raise ValueError(
            f"sample_part {sample_part} is not one of the {sample_every} parts 0 to {sample_every - 1}"
        )
    sources = available_sources(warehouse) if sources is None else sources
    # (the events' query takes the longest: on PostgreSQL the others run beside it)
    snapshot = {"as_of": as_of, "sample_every": sample_every, "sample_part": sample_part}
    with warehouse.reads_side_by_side() as later:
        extras = [later(warehouse.fetch_df, source.sql, **snapshot) for source in sources]
        frame = warehouse.fetch_df(
            "scores/churn_features_orders.sql", purchase_unit=purchase_unit, **snapshot
        ).set_index("customer_id")
        for extra in extras:
            frame = frame.join(extra.result().set_index("customer_id"), how="left")
    for source in OPTIONAL_SOURCES:
        for column, neutral in source.neutral.items():
            frame[column] = frame[column].fillna(neutral) if column in frame else neutral
    angle = 2 * math.pi * (as_of.timetuple().tm_yday - 1) / 365.25
    frame["season_sin"], frame["season_cos"] = math.sin(angle), math.cos(angle)
    # PostgreSQL returns NUMERIC as Decimal; models and arithmetic want plain floats.
    return frame[list(FEATURES)].astype("float64")


def future_purchases(
    warehouse: Warehouse,
    as_of: date,
    horizon_days: int,
    purchase_unit: str = "customer_day",
    sample_every: int = 1,
) -> pd.DataFrame:
    """Purchases and revenue per customer in the ``horizon_days`` after ``as_of`` (index ``customer_id``);
    with ``sample_every`` k > 1, of the same sample of customers as :func:`build_features`."""
    frame = warehouse.fetch_df(
        "scores/future_purchases.sql",
        as_of=as_of,
        horizon_days=horizon_days,
        purchase_unit=purchase_unit,
        sample_every=sample_every,
    )
    return frame.set_index("customer_id").astype("float64")


def training_sample(warehouse: Warehouse, training_customers: int) -> int:
    """How sparsely weekly training samples the buyers: 1 (everyone) up to ``training_customers`` buyers, else
    k, so that about that many remain (every query of one training reads the same customers: those whose
    ``customer_id`` hashes to a multiple of k)."""
    buyers = int(warehouse.fetch_all("scores/buyer_count.sql")[0]["buyers"] or 0)
    return max(1, math.ceil(buyers / training_customers))
