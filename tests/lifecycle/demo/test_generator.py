"""The demo shop generator: determinism, scale, realistic shares, bad rows, orders-only mode, both engines.

Shops are small (at most 4,000 customers) so the whole file runs in well under a minute. The share ranges
below are the ones docs/demo-shop.md documents; a change to the model that moves a share out of its range
must update both.
"""

import json
import zoneinfo
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from lifecycle.demo import SHOP_TABLES, DemoConfig, DemoError, generate
from lifecycle.demo.__main__ import main
from lifecycle.demo.customers import CUSTOMER_TYPES, generate_customers
from lifecycle.demo.events import EVENT_TYPES
from lifecycle.demo.geo import UTC_OFFSET_HOURS
from lifecycle.demo.profile import good_rows, read_table, shop_profile
from lifecycle.demo.seasons import Period, ShopCalendar
from lifecycle.warehouse import Warehouse

END = datetime(2025, 6, 30)
START = END - timedelta(days=365)

# Documented in docs/demo-shop.md ("Distributions"); measured values at 100k customers sit inside them.
DOCUMENTED_RANGES = {
    "events_per_customer": (28, 40),
    "web_active_share": (0.80, 0.90),
    "cart_abandon_share": (0.58, 0.72),
    "late_event_share": (0.015, 0.025),
    "orders_per_customer": (1.5, 2.0),
    "buyer_share": (0.54, 0.66),
    "repeat_buyer_share": (0.48, 0.60),
    "lapsed_90d_buyer_share": (0.55, 0.67),
    "order_value_median": (13_000, 17_000),
    "items_per_order": (1.3, 1.45),
    "offline_share": (0.20, 0.30),
    "cancelled_share": (0.03, 0.055),
    "returned_share": (0.03, 0.055),
    "promo_share": (0.14, 0.23),
    "refill_gap_to_cycle_median": (0.8, 1.05),
    "email_consent_share": (0.70, 0.80),
    "push_consent_share": (0.24, 0.33),
    "sms_consent_share": (0.35, 0.44),
    "opt_out_share": (0.05, 0.09),
    "app_user_share": (0.36, 0.46),
    "email_missing_share": (0.02, 0.04),
    "email_invalid_share": (0.012, 0.03),
}


def _make(warehouse, **knobs):
    return generate(warehouse, DemoConfig(**{"customers": 1_000, "seed": 7, "end": END, **knobs}))


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns), ignore_index=True, na_position="first")


def _table(warehouse, table):
    return _sorted(read_table(warehouse, table))


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """One 3,000-customer shop with 1 % bad rows, shared by the read-only checks below."""
    warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('shop') / 'demo.duckdb'}")
    manifest = generate(warehouse, DemoConfig(customers=3_000, seed=42, end=END, bad_share=0.01))
    tables = {t: read_table(warehouse, t) for t in SHOP_TABLES}
    return warehouse, manifest, tables


def test_same_seed_gives_identical_tables_and_another_seed_differs(tmp_path):
    runs = [Warehouse(f"duckdb:///{tmp_path / f'{name}.duckdb'}") for name in ("a", "b", "c")]
    _make(runs[0], bad_share=0.02)
    _make(runs[1], bad_share=0.02)
    _make(runs[2], bad_share=0.02, seed=8)
    for table in SHOP_TABLES:
        pd.testing.assert_frame_equal(_table(runs[0], table), _table(runs[1], table), obj=table)
    for table in ("shop.customers", "shop.orders", "shop.events"):
        assert not _table(runs[0], table).equals(_table(runs[2], table)), table


def test_row_counts_grow_linearly_with_customers(tmp_path):
    small = _make(Warehouse(f"duckdb:///{tmp_path / 'small.duckdb'}"), customers=1_000)
    large = _make(Warehouse(f"duckdb:///{tmp_path / 'large.duckdb'}"), customers=4_000)
    for table in ("shop.customers", "shop.push_tokens", "shop.orders", "shop.order_items", "shop.events"):
        assert 3.4 < large.rows[table] / small.rows[table] < 4.6, table
    for table in ("shop.products", "shop.categories", "shop.content_mailings"):
        assert large.rows[table] == small.rows[table], table


def test_manifest_counts_every_row_written(shop):
    _, manifest, tables = shop
    assert manifest.rows == {table: len(frame) for table, frame in tables.items()}


@pytest.mark.parametrize("name", sorted(DOCUMENTED_RANGES))
def test_shares_stay_inside_the_documented_ranges(shop, name):
    warehouse, _, _ = shop
    profile = _profile(warehouse)
    low, high = DOCUMENTED_RANGES[name]
    assert low <= profile[name] <= high, f"{name}={profile[name]} outside [{low}, {high}]"


_PROFILES = {}


def _profile(warehouse):
    key = str(warehouse.url)
    if key not in _PROFILES:
        _PROFILES[key] = shop_profile(warehouse, END)
    return _PROFILES[key]


def test_customer_types_are_drawn_with_their_documented_shares():
    period = Period.ending_at(END, 365)
    calendar = ShopCalendar.of(period)
    from lifecycle.demo.catalogue import build_catalogue

    catalogue = build_catalogue(period, np.random.default_rng(1))
    customers = generate_customers(1, 20_000, period, catalogue, calendar.shopping, np.random.default_rng(2))
    drawn = np.bincount(customers.kind, minlength=len(CUSTOMER_TYPES)) / len(customers)
    for kind, share in zip(CUSTOMER_TYPES, drawn, strict=True):
        assert abs(share - kind.share) < 0.015, kind.name
    churner = customers.kind == [t.name for t in CUSTOMER_TYPES].index("churner")
    assert (customers.active_to[churner] < period.end).all()
    assert (customers.active_to[~churner] == period.end).all()


def test_bad_rows_match_the_manifest_reason_by_reason(shop):
    _, manifest, tables = shop
    events, orders, items = tables["shop.events"], tables["shop.orders"], tables["shop.order_items"]
    customers, products = tables["shop.customers"], tables["shop.products"]
    known_products = set(products["product_id"])
    found = {
        "shop.events": {
            "missing_customer_id": events["customer_id"].isna().sum(),
            "unknown_customer": (~events["customer_id"].isin(customers["customer_id"].dropna())
                                 & events["customer_id"].notna()).sum(),
            "unknown_event_type": (~events["event_type"].isin(EVENT_TYPES)).sum(),
            "unknown_product": (events["product_id"].notna()
                                & ~events["product_id"].isin(known_products)).sum(),
            "future_timestamp": (events["ts"] > events["loaded_at"] + timedelta(days=1)).sum(),
            "absurd_timestamp": (events["ts"] < datetime(1990, 1, 1)).sum(),
            "negative_price": (events["price"] < 0).sum(),
            "duplicate": events.duplicated().sum(),
        },
        "shop.orders": {
            "missing_customer_id": orders["customer_id"].isna().sum(),
            "unknown_customer": (~orders["customer_id"].isin(customers["customer_id"].dropna())
                                 & orders["customer_id"].notna()).sum(),
            "unknown_status": (~orders["status"].isin(
                ["created", "paid", "shipped", "delivered", "completed", "cancelled", "returned"])).sum(),
            "negative_amount": (orders["total_amount"] < 0).sum(),
            "duplicate": orders.duplicated().sum(),
        },
        "shop.order_items": {
            "unknown_order": (~items["order_id"].isin(orders["order_id"])).sum(),
            "unknown_product": (~items["product_id"].isin(known_products)).sum(),
            "bad_quantity": (items["quantity"] <= 0).sum(),
            "negative_price": (items["price"] < 0).sum(),
        },
        "shop.customers": {
            "missing_customer_id": customers["customer_id"].isna().sum(),
            "unknown_timezone": (~customers["timezone"].isin(zoneinfo.available_timezones())).sum(),
        },
    }  # fmt: skip
    assert {t: {r: int(n) for r, n in reasons.items()} for t, reasons in found.items()} == manifest.bad_rows
    for table, reasons in manifest.bad_rows.items():
        good = len(good_rows(table, tables[table]))
        assert sum(reasons.values()) == pytest.approx(0.01 * good, abs=2), table
        assert min(reasons.values()) > 0, table


def test_bad_rows_land_inside_the_history(shop):
    _, _, tables = shop
    for table in ("shop.events", "shop.orders", "shop.order_items", "shop.customers"):
        loaded = tables[table]["loaded_at"]
        assert loaded.min() >= START, table
        assert loaded.max() <= END, table


def test_unknown_ids_exist_nowhere(shop):
    _, _, tables = shop
    customer_ids = set(tables["shop.customers"]["customer_id"].dropna())
    unknown = set(tables["shop.events"]["customer_id"].dropna()) - customer_ids
    assert unknown
    assert not unknown & set(tables["shop.orders"]["customer_id"].dropna())
    assert not unknown & set(tables["shop.push_tokens"]["customer_id"])


def test_good_ids_are_unique(shop):
    _, _, tables = shop
    events = good_rows("shop.events", tables["shop.events"])
    orders = good_rows("shop.orders", tables["shop.orders"])
    items = good_rows("shop.order_items", tables["shop.order_items"])
    assert events["event_id"].is_unique
    assert orders["order_id"].is_unique
    assert not items.duplicated(["order_id", "line_no"]).any()
    assert events.groupby("session_id")["customer_id"].nunique().max() == 1


def test_nothing_arrives_before_its_customer_or_after_the_end(shop):
    _, _, tables = shop
    customers = good_rows("shop.customers", tables["shop.customers"])
    first_load = customers.groupby("customer_id")["loaded_at"].min()
    registered = customers.groupby("customer_id")["registered_at"].min()
    for table in ("shop.events", "shop.orders", "shop.push_tokens", "shop.content_mailing_recipients"):
        rows = good_rows(table, tables[table])
        assert (rows["loaded_at"].to_numpy() >= first_load.loc[rows["customer_id"]].to_numpy()).all(), table
    for table, frame in tables.items():
        assert frame["loaded_at"].max() <= END, table
    events = good_rows("shop.events", tables["shop.events"])
    assert (events["ts"] <= events["loaded_at"]).all()
    assert (events["ts"].to_numpy() >= registered.loc[events["customer_id"]].to_numpy()).all()
    assert (events["ts"] >= START).all()


def test_loaded_at_follows_each_source_lag(shop):
    _, _, tables = shop
    events = good_rows("shop.events", tables["shop.events"])
    lag = events["loaded_at"] - events["ts"]
    assert lag.median() < timedelta(minutes=1)
    assert 0.01 < (lag > timedelta(hours=1)).mean() < 0.03  # the late arrivals
    orders = good_rows("shop.orders", tables["shop.orders"])
    offline = orders[(orders["channel"] == "offline")]
    assert (offline["loaded_at"].dt.hour == 3).all()
    assert (offline["loaded_at"].dt.minute == 0).all()
    assert (offline["loaded_at"].dt.normalize() > offline["updated_at"].dt.normalize()).all()
    online = orders[(orders["channel"] == "online") & orders["status"].isin(["delivered", "shipped", "paid"])]
    assert ((online["loaded_at"] - online["ordered_at"]) < timedelta(minutes=20)).all()
    returned = orders[orders["status"] == "returned"]
    assert (returned["updated_at"] > returned["delivered_at"]).all()
    assert (returned["loaded_at"] >= returned["updated_at"]).all()
    items = good_rows("shop.order_items", tables["shop.order_items"]).merge(
        orders[["order_id", "loaded_at"]], on="order_id", suffixes=("", "_order")
    )
    assert (items["loaded_at"] == items["loaded_at_order"]).all()
    for table in ("shop.categories", "shop.products", "shop.product_accessories"):
        assert (tables[table]["loaded_at"] == START).all(), table


def test_order_totals_add_up_from_their_lines(shop):
    _, _, tables = shop
    orders = good_rows("shop.orders", tables["shop.orders"]).set_index("order_id")
    items = good_rows("shop.order_items", tables["shop.order_items"])
    lines = (items["price"] * items["quantity"] - items["discount"]).groupby(items["order_id"]).sum()
    np.testing.assert_allclose(orders.loc[lines.index, "total_amount"], lines)
    np.testing.assert_allclose(
        orders.loc[lines.index, "discount_amount"], items.groupby("order_id")["discount"].sum()
    )
    assert ((orders["channel"] == "offline") == orders["store_id"].notna()).all()


def test_catalogue_has_lines_generations_accessories_and_refill_cycles(shop):
    _, _, tables = shop
    products = tables["shop.products"]
    nova = products[products["product_line"] == "Nova Phone"]
    assert set(nova["generation"]) == {3, 4, 5, 6}
    launch_6 = pd.Timestamp(nova.loc[nova["generation"] == 6, "launched_at"].min())
    assert START + timedelta(days=250) < launch_6 < END
    items = good_rows("shop.order_items", tables["shop.order_items"]).merge(
        tables["shop.orders"][["order_id", "customer_id", "ordered_at"]].drop_duplicates("order_id")
    )
    gen5 = set(nova.loc[nova["generation"] == 5, "product_id"])
    assert (
        items[items["product_id"].isin(gen5) & (items["ordered_at"] < launch_6)]["customer_id"].nunique() > 5
    )
    consumables = products[products["is_consumable"]]
    assert consumables["replenishment_days"].notna().all()
    assert len(consumables) >= 5
    refills = items[items["product_id"].isin(consumables["product_id"])]
    assert (refills.groupby(["customer_id", "product_id"]).size() >= 3).sum() > 20
    accessories = tables["shop.product_accessories"]
    assert set(accessories["product_id"]) <= set(products["product_id"])
    assert products["url"].str.startswith("https://shop.example/").all()
    assert tables["shop.price_changes"]["new_price"].lt(tables["shop.price_changes"]["old_price"]).any()
    assert set(tables["shop.stock_changes"]["in_stock"]) == {True, False}


def test_seasons_show_black_friday_and_new_year(shop):
    _, _, tables = shop
    orders = good_rows("shop.orders", tables["shop.orders"])
    weekly = orders.set_index("ordered_at").resample("W-SUN").size()
    black_friday_week = weekly[pd.Timestamp("2024-12-01")]  # the week ending on Cyber Sunday
    assert black_friday_week > 1.8 * weekly.median()
    monthly = orders.set_index("ordered_at").resample("MS").size()
    assert monthly[pd.Timestamp("2024-12-01")] > 1.3 * monthly[pd.Timestamp("2024-08-01")]


def test_all_russian_time_zones_are_present(shop):
    _, _, tables = shop
    customers = good_rows("shop.customers", tables["shop.customers"])
    assert set(customers["timezone"]) == set(UTC_OFFSET_HOURS)


def test_content_mailings_plan_about_two_a_week(shop):
    _, _, tables = shop
    mailings = tables["shop.content_mailings"]
    assert 95 <= len(mailings) <= 115
    assert set(mailings["kind"]) == {"content", "sale"}
    assert set(mailings["channel"]) == {"email", "push"}
    assert mailings["audience"].str.fullmatch(r"all|segment:[a-z_]+").all()
    assert mailings["scheduled_at"].max() > END  # the plan reaches past today
    assert (mailings["loaded_at"] < mailings["scheduled_at"]).all()
    assert mailings["loaded_at"].max() <= END
    recipients = tables["shop.content_mailing_recipients"]
    segment_ids = set(mailings.loc[mailings["audience"] != "all", "mailing_id"])
    assert set(recipients["mailing_id"]) == segment_ids


def test_orders_only_writes_no_events_and_the_same_orders(tmp_path):
    full, orders_only = (Warehouse(f"duckdb:///{tmp_path / f'{n}.duckdb'}") for n in ("full", "orders"))
    _make(full, bad_share=0.01)
    manifest = _make(orders_only, bad_share=0.01, orders_only=True)
    assert read_table(orders_only, "shop.events").empty
    assert "shop.events" not in manifest.bad_rows
    assert manifest.rows.get("shop.events", 0) == 0
    for table in ("shop.customers", "shop.orders", "shop.order_items"):
        pd.testing.assert_frame_equal(_table(full, table), _table(orders_only, table), obj=table)


def test_good_rows_do_not_depend_on_the_bad_share(tmp_path):
    clean, dirty = (Warehouse(f"duckdb:///{tmp_path / f'{n}.duckdb'}") for n in ("clean", "dirty"))
    _make(clean)
    _make(dirty, bad_share=0.05)
    for table in ("shop.customers", "shop.orders", "shop.order_items", "shop.events"):
        dirty_good = good_rows(table, read_table(dirty, table))
        pd.testing.assert_frame_equal(_table(clean, table), _sorted(dirty_good), obj=table)


def test_same_shop_on_postgresql_and_duckdb(postgres_warehouse, duckdb_warehouse):
    pg = _make(postgres_warehouse, bad_share=0.01)
    duck = _make(duckdb_warehouse, bad_share=0.01)
    assert pg.rows == duck.rows
    assert pg.bad_rows == duck.bad_rows
    for table in SHOP_TABLES:
        assert len(read_table(postgres_warehouse, table)) == pg.rows[table], table
    for table in ("shop.customers", "shop.products", "shop.orders", "shop.order_items", "shop.events"):
        pd.testing.assert_frame_equal(
            _table(postgres_warehouse, table), _table(duckdb_warehouse, table), obj=table, check_dtype=False
        )


def test_a_shop_generated_on_postgresql_has_statistics_as_after_autovacuum(postgres_warehouse):
    """The ingest reads an hour of the source by loaded_at: a never-analysed source is estimated blind."""
    shop = _make(postgres_warehouse)
    with postgres_warehouse.begin() as conn:
        believed = dict(
            conn.exec_driver_sql(
                "SELECT 'shop.' || c.relname, c.reltuples FROM pg_class AS c "
                "INNER JOIN pg_namespace AS n ON c.relnamespace = n.oid "
                "WHERE n.nspname = 'shop' AND c.relkind = 'r'"
            ).all()
        )
    for table in ("shop.customers", "shop.orders", "shop.order_items", "shop.events"):
        assert believed[table] == shop.rows[table], table


def test_a_filled_shop_is_refused_unless_replaced(warehouse):
    first = _make(warehouse, customers=300)
    with pytest.raises(DemoError, match="already holds shop data"):
        _make(warehouse, customers=300)
    again = _make(warehouse, customers=300, replace=True)
    assert again.rows == first.rows
    assert len(read_table(warehouse, "shop.orders")) == first.rows["shop.orders"]


@pytest.mark.parametrize(
    "knobs",
    [{"customers": 0}, {"customers": 20_000_001}, {"days": 3}, {"bad_share": 0.9}, {"bad_share": -0.1}],
)
def test_impossible_knobs_are_refused(knobs):
    with pytest.raises(DemoError):
        DemoConfig(**knobs)


def test_the_largest_shop_keeps_bad_row_ids_apart_from_unknown_ids():
    from lifecycle.demo import bad_rows
    from lifecycle.demo.config import MAX_CUSTOMERS
    from lifecycle.demo.generator import CHUNK_CUSTOMERS

    chunks = -(-MAX_CUSTOMERS // CHUNK_CUSTOMERS)
    highest_bad_row_id = bad_rows.BAD_ROW_IDS + chunks * bad_rows._PER_CHUNK
    assert highest_bad_row_id <= min(bad_rows.UNKNOWN_ORDER_IDS, bad_rows.UNKNOWN_CUSTOMER_IDS)
    assert DemoConfig(customers=10_000_000).customers == 10_000_000


def test_cli_prints_the_manifest(tmp_path, capsys):
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    code = main(
        [
            "--customers",
            "200",
            "--seed",
            "3",
            "--end",
            "2025-06-30T00:00:00",
            "--days",
            "120",
            "--bad-share",
            "0.02",
            "--warehouse",
            url,
        ]
    )
    manifest = json.loads(capsys.readouterr().out)
    assert code == 0
    assert manifest["start"] == "2025-03-02T00:00:00"
    assert manifest["end"] == "2025-06-30T00:00:00"
    assert manifest["rows"]["shop.customers"] >= 200
    assert set(manifest["bad_rows"]["shop.orders"]) == {
        "missing_customer_id",
        "unknown_customer",
        "unknown_status",
        "negative_amount",
        "duplicate",
    }
    assert main(["--customers", "200", "--warehouse", url]) == 2  # already filled


def test_tiny_shops_and_short_histories_work(duckdb_warehouse):
    """A chunk can hold no orders or no sessions at all; nothing may assume otherwise."""
    for seed in range(1, 6):
        manifest = _make(duckdb_warehouse, customers=1, seed=seed, days=28, bad_share=0.5, replace=True)
        assert manifest.rows["shop.customers"] >= 1
        assert len(read_table(duckdb_warehouse, "shop.orders")) == manifest.rows["shop.orders"]
