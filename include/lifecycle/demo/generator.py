"""Fill the `shop` schema of a warehouse with a deterministic demo electronics retailer.

Customers are generated and written in chunks of `CHUNK_CUSTOMERS` (one transaction each, the chunk's
frames inserted straight into the warehouse), so nothing but one chunk is ever held in memory: peak memory
is the same for 100 k, 1 M or 10 M customers (about 1.5 GB, of which the chunk's events are most). Every
chunk draws from its own random streams, derived from the seed, the chunk number and the purpose, so a run
is reproducible and the orders do not depend on whether events are made. The chunk size is therefore part
of a shop's definition: shops up to `CHUNK_CUSTOMERS` customers are one chunk, and changing the constant
would change every larger shop (not the small ones the tests and the simulation use).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from enum import IntEnum

import numpy as np
import pandas as pd
import sqlalchemy as sa

from lifecycle.demo.bad_rows import BadRowMaker, align_categories
from lifecycle.demo.catalogue import Catalogue, build_catalogue
from lifecycle.demo.config import DemoConfig, DemoError, Manifest
from lifecycle.demo.customers import generate_customers
from lifecycle.demo.events import generate_events
from lifecycle.demo.mailings import build_mailings, mailing_recipients
from lifecycle.demo.orders import generate_orders
from lifecycle.demo.seasons import Period, ShopCalendar, utc_now_hour
from lifecycle.migrations import migrate
from lifecycle.warehouse import Warehouse

CHUNK_CUSTOMERS = 50_000
STATIC_TABLES = (
    "shop.categories", "shop.products", "shop.product_accessories", "shop.price_changes",
    "shop.stock_changes", "shop.content_mailings",
)  # fmt: skip
CHUNK_TABLES = (
    "shop.customers", "shop.push_tokens", "shop.orders", "shop.order_items", "shop.events",
    "shop.content_mailing_recipients",
)  # fmt: skip
SHOP_TABLES = STATIC_TABLES + CHUNK_TABLES


class Stream(IntEnum):
    """Independent random streams: changing one part of the model does not reshuffle the others."""

    CATALOGUE = 1
    MAILINGS = 2
    CUSTOMERS = 3
    ORDERS = 4
    EVENTS = 5
    RECIPIENTS = 6
    BAD_ROWS = 7


def random_stream(seed: int, stream: Stream, chunk: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, int(stream), chunk])


def generate(warehouse: Warehouse, config: DemoConfig) -> Manifest:
    """Create the shop schema if needed, refuse (or, with `replace`, empty) a filled shop, and fill it.

    Only the `shop` migrations run: the generator plays the retailer, the pipeline migrates its own `crm`.
    """
    started = time.perf_counter()
    migrate(warehouse, ("shop",))
    _prepare_target(warehouse, config.replace)
    end = config.end or utc_now_hour()
    period = Period.ending_at(end, config.days)
    calendar = ShopCalendar.of(period)
    catalogue = build_catalogue(period, random_stream(config.seed, Stream.CATALOGUE))
    mailings = build_mailings(calendar, random_stream(config.seed, Stream.MAILINGS))
    manifest = Manifest(
        seed=config.seed,
        customers=config.customers,
        start=_as_datetime(period.start),
        end=end,
        orders_only=config.orders_only,
        bad_share=config.bad_share,
        rows=dict.fromkeys(SHOP_TABLES, 0),
    )
    _write(warehouse, manifest, _scaled({**catalogue.tables, "shop.content_mailings": mailings}, config))
    counters = {"order": 1, "event": 1, "session": 1}
    for chunk, first in enumerate(range(0, config.customers, CHUNK_CUSTOMERS)):
        size = min(CHUNK_CUSTOMERS, config.customers - first)
        tables = _chunk_tables(config, calendar, catalogue, mailings, chunk, first + 1, size, counters)
        _add_bad_rows(
            tables,
            manifest,
            config.bad_share,
            BadRowMaker(chunk, random_stream(config.seed, Stream.BAD_ROWS, chunk)),
        )
        _write(warehouse, manifest, _scaled(tables, config))
    manifest.elapsed_s = round(time.perf_counter() - started, 2)
    return manifest


#: The money columns of the shop tables, scaled by ``DemoConfig.price_scale``.
MONEY_COLUMNS = ("price", "discount", "total_amount", "discount_amount", "old_price", "new_price")


def _scaled(tables: dict[str, pd.DataFrame], config: DemoConfig) -> dict[str, pd.DataFrame]:
    """The tables with every amount multiplied by ``price_scale`` and rounded to cents (1: unchanged)."""
    if config.price_scale == 1.0:
        return tables
    return {
        name: frame.assign(**{
            column: (frame[column] * config.price_scale).round(2)
            for column in MONEY_COLUMNS if column in frame
        })
        for name, frame in tables.items()
    }  # fmt: skip


def _as_datetime(moment: int) -> datetime:
    return datetime.fromtimestamp(moment, UTC).replace(tzinfo=None)


def _chunk_tables(
    config: DemoConfig,
    calendar: ShopCalendar,
    catalogue: Catalogue,
    mailings: pd.DataFrame,
    chunk: int,
    first_id: int,
    size: int,
    counters: dict[str, int],
) -> dict[str, pd.DataFrame]:
    seed = config.seed
    customers = generate_customers(
        first_id,
        size,
        calendar.period,
        catalogue,
        calendar.shopping,
        random_stream(seed, Stream.CUSTOMERS, chunk),
    )
    orders = generate_orders(
        customers, catalogue, calendar, random_stream(seed, Stream.ORDERS, chunk), counters["order"]
    )
    tables = {**customers.frames, **orders.frames}
    counters["order"] += len(orders.customer)
    if not config.orders_only:
        events, sessions = generate_events(
            customers,
            orders,
            catalogue,
            calendar,
            random_stream(seed, Stream.EVENTS, chunk),
            counters["event"],
            counters["session"],
        )
        tables["shop.events"] = events
        counters["event"] += len(events)
        counters["session"] += sessions
    tables["shop.content_mailing_recipients"] = mailing_recipients(
        mailings, customers, catalogue, random_stream(seed, Stream.RECIPIENTS, chunk)
    )
    return tables


def _add_bad_rows(
    tables: dict[str, pd.DataFrame], manifest: Manifest, share: float, maker: BadRowMaker
) -> None:
    """Mix each fact table's bad rows in among its good rows, in arrival order like everything else."""
    for table in ("shop.customers", "shop.orders", "shop.order_items", "shop.events"):
        if table not in tables:
            continue
        good = tables[table]
        bad, counts = maker.make(table, good, share)
        manifest.add_bad_rows(table, counts)
        if len(bad):
            align_categories(good, bad)
            merged = pd.concat([good, bad], ignore_index=True)
            tables[table] = merged.iloc[np.argsort(merged["loaded_at"].to_numpy(), kind="stable")]


def _write(warehouse: Warehouse, manifest: Manifest, tables: dict[str, pd.DataFrame]) -> None:
    """Append one chunk's rows. On PostgreSQL the shop's tables are analysed as they fill, as autovacuum
    would after a retailer's bulk load: a shop copied straight after generating had none, and the ingest's
    read of an hour of 66 M events was planned as a scan of 14 M rows."""
    with warehouse.begin() as conn:
        written = {table: warehouse.insert_df(conn, table, frame) for table, frame in tables.items()}
        for table, rows in written.items():
            manifest.add_rows(table, rows)
        warehouse.refresh_statistics(conn, written)


def _shop_table(name: str) -> sa.TableClause:
    schema, table = name.split(".")
    return sa.table(table, schema=schema)


def _prepare_target(warehouse: Warehouse, replace: bool) -> None:
    """A second shop on top of the first would duplicate every id: refuse unless asked to replace it."""
    with warehouse.begin() as conn:
        filled = [
            t
            for t in SHOP_TABLES
            if conn.execute(sa.select(sa.func.count()).select_from(_shop_table(t))).scalar_one()
        ]
        if filled and not replace:
            raise DemoError(
                f"{warehouse!r} already holds shop data ({', '.join(filled)}); "
                "use --replace (DemoConfig(replace=True)) to empty the shop schema first, "
                "or another warehouse"
            )
        for table in filled:
            conn.execute(sa.delete(_shop_table(table)))
