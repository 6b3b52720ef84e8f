"""Churn/LTV features built in the warehouse: hand-checked values, point-in-time, and missing sources."""

from datetime import date, datetime, timedelta

import pytest

from lifecycle.scores.features import (
    FEATURES,
    OPTIONAL_SOURCES,
    available_sources,
    build_features,
    future_purchases,
)

AS_OF = date(2024, 6, 30)
NEUTRAL = {name: value for source in OPTIONAL_SOURCES for name, value in source.neutral.items()}


@pytest.fixture
def shop(migrated, add_customers, add_orders):
    add_customers(migrated, [1, 2, 3], registered_at=datetime(2023, 6, 30, 12))
    add_orders(
        migrated,
        [
            {
                "customer_id": 1,
                "ordered_at": datetime(2024, 6, 1, 10),
                "total_amount": 40000.0,
                "discount_amount": 10000.0,
                "promo_code": "SPRING",
            },
            {
                "customer_id": 1,
                "ordered_at": datetime(2024, 5, 1, 10),
                "total_amount": 35000.0,
                "channel": "offline",
            },
            {"customer_id": 1, "ordered_at": datetime(2024, 4, 1, 10), "total_amount": 30000.0},
            {"customer_id": 1, "ordered_at": datetime(2024, 3, 1, 10), "total_amount": 35000.0},
            {"customer_id": 2, "ordered_at": datetime(2023, 1, 15, 12), "total_amount": 3000.0},
            {"customer_id": 3, "ordered_at": datetime(2024, 1, 10, 9), "total_amount": 10000.0},
            {"customer_id": 3, "ordered_at": datetime(2023, 12, 1, 9), "total_amount": 20000.0},
            {
                "customer_id": 3,
                "ordered_at": datetime(2024, 6, 20, 9),
                "total_amount": 50000.0,
                "status": "returned",
            },
            {"customer_id": 3, "ordered_at": datetime(2024, 8, 1, 9), "total_amount": 7000.0},
        ],
    )
    return migrated


def test_order_features_match_the_hand_computed_values(shop):
    frame = build_features(shop, AS_OF)
    assert list(frame.columns) == list(FEATURES)
    assert sorted(frame.index) == [1, 2, 3]
    one = frame.loc[1]
    assert one[["recency_days", "tenure_days", "frequency", "purchases_90d", "purchases_365d"]].tolist() == [
        29,
        121,
        4,
        2,
        4,
    ]
    assert one["registered_days"] == 366
    assert one["monetary_total"] == 140000
    assert one["avg_check"] == 35000
    assert one["max_check"] == 40000
    assert one["repeat_avg_check"] == pytest.approx(105000 / 3)  # the purchases after the first (1 March)
    assert one["mean_interval_days"] == pytest.approx(92 / 3)
    assert one["overdue_ratio"] == pytest.approx(29 / (92 / 3))
    assert one["discount_share"] == pytest.approx(10000 / 150000)
    assert one["promo_share"] == 0.25
    assert one["online_share"] == 0.75
    three = frame.loc[3]
    assert three[["frequency", "returns"]].tolist() == [2, 1]
    assert three["return_share"] == pytest.approx(1 / 3)
    # A one-time buyer has no interval: left missing for the model, which handles it natively.
    assert frame.loc[2, ["mean_interval_days", "overdue_ratio", "repeat_avg_check"]].isna().all()


def test_orders_only_warehouse_gets_neutral_activity_and_engagement_values(shop):
    frame = build_features(shop, AS_OF)
    for name, value in NEUTRAL.items():
        assert (frame[name] == value).all(), name


def test_a_missing_optional_table_skips_its_source(shop):
    with shop.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS crm.message_events")
    assert [source.name for source in available_sources(shop)] == ["events"]
    assert (build_features(shop, AS_OF)["messages_opened_90d"] == 0).all()


def _message_tables(warehouse):
    """Only the columns the engagement source reads (crm.message_events and crm.send_ledger have more)."""
    with warehouse.begin() as conn:
        for table in ("message_events", "send_ledger"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS crm.{table}")
        conn.exec_driver_sql("CREATE TABLE crm.send_ledger (send_key VARCHAR, customer_id BIGINT)")
        conn.exec_driver_sql(
            "CREATE TABLE crm.message_events (send_key VARCHAR, event_type VARCHAR, occurred_at TIMESTAMP)"
        )
        conn.exec_driver_sql("INSERT INTO crm.send_ledger VALUES ('k1', 1), ('k2', 2)")
        conn.exec_driver_sql(
            "INSERT INTO crm.message_events VALUES ('k1', 'delivered', '2024-06-10 10:00:00'),"
            " ('k1', 'open', '2024-06-10 11:00:00'), ('k1', 'click', '2024-06-10 11:01:00'),"
            " ('k2', 'open', '2024-07-02 09:00:00')"
        )


def test_events_and_engagement_are_used_where_present(shop):
    _message_tables(shop)
    import pandas as pd

    seen = datetime(2024, 6, 28, 15)
    events = pd.DataFrame(
        [
            {"event_id": 1, "customer_id": 1, "session_id": 10, "event_type": "view_product", "ts": seen},
            {"event_id": 2, "customer_id": 1, "session_id": 10, "event_type": "add_to_cart", "ts": seen},
            {"event_id": 3, "customer_id": 1, "session_id": 11, "event_type": "app_open", "ts": seen},
            {
                "event_id": 4,
                "customer_id": 2,
                "session_id": 12,
                "event_type": "app_open",
                "ts": seen - timedelta(60),
            },
            {
                "event_id": 5,
                "customer_id": 3,
                "session_id": 13,
                "event_type": "app_open",
                "ts": datetime(2024, 7, 2),
            },
        ]
    ).assign(loaded_at=seen)
    with shop.begin() as conn:
        shop.insert_df(conn, "crm.events", events)
    frame = build_features(shop, AS_OF)
    assert frame.loc[
        1,
        [
            "events_30d",
            "sessions_30d",
            "product_views_30d",
            "cart_adds_30d",
            "app_opens_30d",
            "days_since_last_event",
        ],
    ].tolist() == [3, 2, 1, 1, 1, 2]
    assert frame.loc[2, ["events_30d", "days_since_last_event"]].tolist() == [0, 62]
    assert frame.loc[3, ["events_30d", "days_since_last_event"]].tolist() == [0, 90]  # its event is later
    assert frame.loc[
        1, ["messages_delivered_90d", "messages_opened_90d", "messages_clicked_90d"]
    ].tolist() == [1, 1, 1]
    assert frame.loc[2, "messages_opened_90d"] == 0  # its open is after the snapshot


def test_features_and_labels_respect_the_snapshot_date(shop):
    earlier = build_features(shop, date(2024, 1, 31))
    assert sorted(earlier.index) == [2, 3]
    assert earlier.loc[3, ["recency_days", "frequency", "returns"]].tolist() == [21, 2, 0]
    bought = future_purchases(shop, AS_OF, 90)
    assert bought.to_dict("index") == {3: {"purchases": 1, "revenue": 7000.0}}
    assert future_purchases(shop, AS_OF, 31).empty  # 1 August is day 32 after 30 June


def _sampled(customer_id: int, every: int) -> bool:
    """The sample the feature queries draw, computed apart: customer_id hashed (Knuth's multiplicative hash,
    times 2654435761 modulo 2^31 - 1), kept when the hash is a multiple of ``every``."""
    return (customer_id % 2147483647) * 2654435761 % 2147483647 % every == 0


def test_a_sample_keeps_the_same_customers_on_both_engines_whatever_their_ids(
    migrated, add_customers, add_orders
):
    # ids ten apart, large and consecutive: a plain id modulo would keep all or none of the first group
    ids = [10 * n for n in range(1, 61)] + [9_000_000_000 + n for n in range(60)]
    add_customers(migrated, ids, registered_at=datetime(2023, 6, 30, 12))
    add_orders(
        migrated,
        [{"customer_id": c, "ordered_at": datetime(2024, 5, 1, 10), "total_amount": 100.0} for c in ids]
        + [{"customer_id": c, "ordered_at": datetime(2024, 7, 1, 10), "total_amount": 50.0} for c in ids],
    )
    assert sorted(build_features(migrated, AS_OF).index) == ids  # sample_every 1: everyone
    for every in (2, 3, 7):
        kept = [c for c in ids if _sampled(c, every)]
        assert 0.4 * len(ids) / every < len(kept) < 1.8 * len(ids) / every  # about one in k
        for group in (ids[:60], ids[60:]):  # neither id pattern is kept whole or dropped whole
            assert 0 < sum(_sampled(c, every) for c in group) < len(group)
        assert sorted(build_features(migrated, AS_OF, sample_every=every).index) == kept
        bought = future_purchases(migrated, AS_OF, 90, sample_every=every)
        assert sorted(bought.index) == kept
