"""Bad source values at the door, on real DuckDB and PostgreSQL: one test per value class, each checking the
reason code (or the error text) and that the valid rows of the same batch were loaded."""

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from lifecycle.ingest import NoPurchasesError, QuarantineShareError, ingest
from lifecycle.ingest_config import IngestSettings, QualityGate
from lifecycle.scores.config import ScoresConfig
from lifecycle.scores.scoring import score
from lifecycle.scores.training import train_churn

T0 = datetime(2026, 3, 2, 10, 0)
HOUR = timedelta(hours=1)
LOADED = T0 + HOUR / 2
#: The checks without the gate, for tests of one bad row next to a few good ones.
NO_GATE = IngestSettings(quality_gate=QualityGate(max_quarantined_share=1))


def _customer(customer_id, loaded_at=LOADED, **overrides):
    row = {
        "customer_id": customer_id,
        "email": f"c{customer_id}@example.ru",
        "phone": "+79001234567",
        "first_name": "Анна",
        "timezone": "Europe/Moscow",
        "registered_at": loaded_at - timedelta(days=30),
        "email_consent": True,
        "push_consent": False,
        "sms_consent": False,
        "updated_at": loaded_at - timedelta(minutes=5),
        "loaded_at": loaded_at,
    }
    return row | overrides


def _order(order_id, customer_id=1, loaded_at=LOADED, total=5000.0, **overrides):
    row = {
        "order_id": order_id,
        "customer_id": customer_id,
        "channel": "online",
        "status": "paid",
        "total_amount": total,
        "discount_amount": 0.0,
        "ordered_at": loaded_at - timedelta(minutes=2),
        "updated_at": loaded_at - timedelta(minutes=1),
        "loaded_at": loaded_at,
    }
    return row | overrides


def _event(event_id, loaded_at=LOADED, **overrides):
    row = {
        "event_id": event_id,
        "customer_id": 1,
        "event_type": "view_product",
        "product_id": 100,
        "price": 1000.0,
        "ts": loaded_at - timedelta(seconds=30),
        "loaded_at": loaded_at,
    }
    return row | overrides


def _item(order_id, line_no, loaded_at=LOADED, **overrides):
    row = {"order_id": order_id, "line_no": line_no, "product_id": 100, "quantity": 1, "price": 1000.0}
    return row | {"discount": 0.0, "loaded_at": loaded_at} | overrides


def _product(product_id, loaded_at, **overrides):
    row = {
        "product_id": product_id,
        "name": f"Nova Phone {product_id}",
        "category_id": 1,
        "price": 1000.0,
        "in_stock": True,
        "is_consumable": False,
        "updated_at": loaded_at,
        "loaded_at": loaded_at,
    }
    return row | overrides


def _load(warehouse, **tables):
    with warehouse.begin() as conn:
        for table, rows in tables.items():
            warehouse.insert_df(conn, f"shop.{table}", pd.DataFrame(rows))


def _insert(warehouse, table, rows):
    """Row by row with bound values: a bare CR would not survive the CSV route of ``insert_df``."""
    import sqlalchemy as sa

    columns = list(rows[0])
    statement = sa.text(
        f"INSERT INTO shop.{table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    )
    with warehouse.begin() as conn:
        conn.execute(statement, rows)


def _query(warehouse, sql):
    with warehouse.begin() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql).fetchall()]


def _quarantine(warehouse):
    return _query(warehouse, "SELECT source_table, reason, detail FROM crm.quarantine ORDER BY source_key")


def _run(warehouse, hour=1, settings=NO_GATE, **kwargs):
    return ingest(
        warehouse,
        window_end=T0 + hour * HOUR,
        run_key=f"run-{hour}",
        interval_start=T0 + (hour - 1) * HOUR,
        settings=settings,
        **kwargs,
    )


@pytest.fixture
def shop(migrated):
    """One product and two customers, ingested before T0."""
    _load(
        migrated,
        categories=[{"category_id": 1, "name": "Смартфоны", "loaded_at": T0 - 5 * HOUR}],
        products=[_product(100, T0 - 5 * HOUR)],
        customers=[_customer(1, T0 - 2 * HOUR), _customer(2, T0 - 2 * HOUR)],
    )
    ingest(migrated, window_end=T0, run_key="run-0", interval_start=T0 - HOUR, settings=NO_GATE)
    return migrated


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize(
    ("table", "column", "good", "bad"),
    [
        ("orders", "total_amount", _order(10), _order(11)),
        ("orders", "discount_amount", _order(10), _order(11)),
        ("events", "price", _event(1), _event(2)),
        ("order_items", "price", _item(55, 1), _item(55, 2)),
        ("products", "price", _product(101, LOADED), _product(102, LOADED)),
    ],
)
def test_non_finite_numbers_are_quarantined(shop, table, column, good, bad, value):
    if table == "order_items":
        _load(shop, orders=[_order(55)])
    _load(shop, **{table: [good, bad]})
    key = {"orders": "order_id", "events": "event_id", "order_items": "line_no", "products": "product_id"}[
        table
    ]
    with shop.begin() as conn:
        # pandas writes NaN as NULL, so the bad value is set in SQL, as a source system would store it.
        conn.exec_driver_sql(
            f"UPDATE shop.{table} SET {column} = CAST('{value}' AS DOUBLE PRECISION) WHERE {key} = {bad[key]}"
        )
    report = _run(shop)
    figures = {t.source_table: t for t in report.tables}[f"shop.{table}"]
    assert (figures.rows_loaded, figures.rows_quarantined) == (1, 1)
    [(source, reason, detail)] = _quarantine(shop)
    assert (source, reason) == (f"shop.{table}", "non_finite_number")
    assert detail.startswith(f"field={column} ")
    assert _query(shop, f"SELECT {key} FROM crm.{table} WHERE {key} = {good[key]}") == [(good[key],)]


def test_huge_amounts_are_quarantined_and_never_overflow_an_aggregate(shop):
    # Two orders of 1e308 used to overflow SUM on PostgreSQL every hour and give LTV = inf on DuckDB.
    _load(shop, orders=[_order(10, total=1e308), _order(11, total=1e308), _order(12, total=4000.0)])
    _run(shop)
    assert _query(shop, "SELECT reason, COUNT(*) FROM crm.quarantine GROUP BY reason") == [
        ("out_of_range", 2)
    ]
    assert _query(shop, "SELECT revenue_total FROM crm.customer_state WHERE customer_id = 1") == [(4000.0,)]
    # The next hour runs as usual.
    _load(shop, orders=[_order(13, loaded_at=T0 + 90 * timedelta(minutes=1), total=1000.0)])
    _run(shop, hour=2)
    assert _query(shop, "SELECT revenue_total FROM crm.customer_state WHERE customer_id = 1") == [(5000.0,)]


@pytest.mark.parametrize(
    ("table", "good", "bad", "field"),
    [
        ("order_items", _item(55, 1, quantity=2), _item(55, 2, quantity=10**9), "quantity"),
        ("events", _event(1), _event(2, price=2e9), "price"),
        (
            "products",
            _product(101, LOADED),
            _product(102, LOADED, replenishment_days=10**9),
            "replenishment_days",
        ),
    ],
)
def test_out_of_range_numbers_are_quarantined(shop, table, good, bad, field):
    if table == "order_items":
        _load(shop, orders=[_order(55)])
    _load(shop, **{table: [good, bad]})
    _run(shop)
    [(source, reason, detail)] = _quarantine(shop)
    assert (source, reason) == (f"shop.{table}", "out_of_range")
    assert detail.startswith(f"field={field} ")
    key = {"events": "event_id", "order_items": "line_no", "products": "product_id"}[table]
    assert _query(shop, f"SELECT {key} FROM crm.{table} WHERE {key} = {good[key]}") == [(good[key],)]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("email", "c3@example.ru\r\nBcc: everyone@example.ru"),
        ("email", "c3@example.ru\n"),
        ("phone", "+7900\t1234567"),
        ("first_name", "Анна\rX-Header: 1"),
    ],
)
def test_control_characters_in_contact_fields_are_quarantined(shop, column, value):
    _insert(shop, "customers", [_customer(3, **{column: value}), _customer(4)])
    _run(shop)
    [(source, reason, detail)] = _quarantine(shop)
    assert (source, reason) == ("shop.customers", "control_character")
    assert detail.startswith(f"field={column} ")
    assert _query(shop, "SELECT customer_id FROM crm.customers WHERE customer_id > 2") == [(4,)]


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("+7 (916) 123-45-67", "+79161234567"),
        ("8 916 123 45 67", "+79161234567"),
        ("79161234567", "+79161234567"),
        ("+44.20.7946.0958", "+442079460958"),
        ("9161234567", None),
        ("+7916", None),
        ("+7 916 ABC 45 67", None),
        ("+0161234567", None),
        ("+7916123456789012", None),
    ],
)
def test_phones_are_stored_in_e164_and_a_bad_one_is_dropped_without_losing_the_customer(shop, raw, stored):
    from lifecycle.delivery.sms import normalize_phone

    _insert(shop, "customers", [_customer(3, phone=raw, sms_consent=True), _customer(4)])
    figures = _run(shop)
    assert _query(shop, "SELECT customer_id, phone FROM crm.customers WHERE customer_id > 2 ORDER BY 1") == [
        (3, stored),
        (4, "+79001234567"),
    ]
    assert normalize_phone(raw) == stored  # the send path and the door agree
    assert figures.rows_quarantined == 0  # the customer was loaded
    if stored is None:
        assert _quarantine(shop) == [
            (
                "shop.customers",
                "invalid_phone",
                f"field=phone phone={raw} (not an E.164 number: the customer is loaded without a phone)",
            )
        ]
        key = _query(shop, "SELECT source_key FROM crm.quarantine")[0][0]
        assert key == "3#1"
    else:
        assert _quarantine(shop) == []


def test_an_empty_phone_is_no_phone_and_no_quarantine(shop):
    _insert(shop, "customers", [_customer(3, phone=""), _customer(5, phone=None)])
    _run(shop)
    assert _query(shop, "SELECT customer_id, phone FROM crm.customers WHERE customer_id > 2 ORDER BY 1") == [
        (3, None),
        (5, None),
    ]
    assert _quarantine(shop) == []


def test_control_characters_in_a_push_token_are_quarantined(shop):
    _insert(
        shop,
        "push_tokens",
        [
            {"customer_id": 1, "token": "fcm:abc\r\ndef", "platform": "android", "loaded_at": LOADED},
            {"customer_id": 1, "token": "fcm:good", "platform": "android", "loaded_at": LOADED},
        ],
    )
    _run(shop)
    assert [r[:2] for r in _quarantine(shop)] == [("shop.push_tokens", "control_character")]
    assert _query(shop, "SELECT token FROM crm.push_tokens") == [("fcm:good",)]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (_customer(3, first_name="Я" * 2_000_000), "first_name"),
        (_customer(3, email="a" * 300 + "@example.ru"), "email"),
        (_customer(3, city="Москва" * 100), "city"),
        # Without an id the key is made from the e-mail: it stays short enough for the quarantine's index.
        (_customer(None, email="b" * 1_000_000 + "@example.ru"), "email"),
    ],
)
def test_over_long_strings_are_quarantined_with_a_short_key_and_detail(shop, row, field):
    _load(shop, customers=[row, _customer(4)])
    _run(shop)
    [(source, reason, detail)] = _quarantine(shop)
    expected = "missing_customer_id" if row["customer_id"] is None else "too_long"
    assert (source, reason) == ("shop.customers", expected)
    if expected == "too_long":
        assert detail.startswith(f"field={field} ")
    assert (
        _query(shop, "SELECT MAX(LENGTH(source_key)), MAX(LENGTH(detail)) FROM crm.quarantine")[0][0] <= 200
    )
    assert len(detail) <= 500
    assert _query(shop, "SELECT customer_id FROM crm.customers WHERE customer_id > 2") == [(4,)]


def test_a_long_push_token_is_keyed_short_and_unique(shop):
    tokens = ["t" * 5000 + "1", "t" * 5000 + "2"]
    _load(
        shop,
        push_tokens=[{"customer_id": 1, "token": t, "platform": "ios", "loaded_at": LOADED} for t in tokens],
    )
    _run(shop)
    assert _query(shop, "SELECT reason, COUNT(DISTINCT source_key) FROM crm.quarantine GROUP BY reason") == [
        ("too_long", 2)
    ]


def test_an_updated_at_in_the_future_cannot_freeze_a_customer(shop):
    # A row dated 2099 used to win every later version: a consent withdrawal was dropped as stale.
    _load(shop, customers=[_customer(1, updated_at=datetime(2099, 1, 1), first_name="Frozen")])
    _run(shop)
    assert [r[:2] for r in _quarantine(shop)] == [("shop.customers", "future_updated_at")]
    later = T0 + 90 * timedelta(minutes=1)
    _load(shop, customers=[_customer(1, loaded_at=later, email_consent=False)])
    _run(shop, hour=2)
    assert _query(shop, "SELECT email_consent, first_name FROM crm.customers WHERE customer_id = 1") == [
        (False, "Анна")
    ]


def test_a_future_version_in_the_same_batch_does_not_hide_the_valid_one(shop):
    _load(
        shop,
        orders=[
            _order(10, status="paid"),
            _order(10, status="returned", updated_at=datetime(2099, 1, 1)),
        ],
    )
    _run(shop)
    assert [r[:2] for r in _quarantine(shop)] == [("shop.orders", "future_updated_at")]
    assert _query(shop, "SELECT order_id, status FROM crm.orders") == [(10, "paid")]


@pytest.mark.parametrize("table", ["customers", "orders", "events", "push_tokens"])
def test_a_loaded_at_in_the_future_is_quarantined_not_left_unread(shop, table):
    future = datetime(2099, 1, 1)
    rows = {
        "customers": [_customer(3, loaded_at=future), _customer(4)],
        "orders": [_order(10, loaded_at=future), _order(11)],
        "events": [_event(1, loaded_at=future), _event(2)],
        "push_tokens": [
            {"customer_id": 1, "token": "fcm:later", "platform": "ios", "loaded_at": future},
            {"customer_id": 1, "token": "fcm:now", "platform": "ios", "loaded_at": LOADED},
        ],
    }[table]
    _load(shop, **{table: rows})
    report = _run(shop)
    figures = {t.source_table: t for t in report.tables}[f"shop.{table}"]
    assert (figures.rows_loaded, figures.rows_quarantined) == (1, 1)
    assert [r[:2] for r in _quarantine(shop)] == [(f"shop.{table}", "future_loaded_at")]


@pytest.mark.parametrize(
    ("earliest", "ordered_at", "loaded"),
    [
        (date(1990, 1, 1), datetime(1995, 6, 1), True),  # a long history loads with the default
        (date(1990, 1, 1), datetime(1985, 6, 1), False),
        (date(2000, 1, 1), datetime(1995, 6, 1), False),  # the setting, not a constant, decides
    ],
)
def test_the_earliest_business_date_is_a_setting(shop, earliest, ordered_at, loaded):
    _load(shop, orders=[_order(10, ordered_at=ordered_at), _order(11)])
    _run(shop, settings=NO_GATE.model_copy(update={"earliest_business_date": earliest}))
    assert _query(shop, "SELECT COUNT(*) FROM crm.orders") == [(2 if loaded else 1,)]
    assert [r[1] for r in _quarantine(shop)] == ([] if loaded else ["absurd_timestamp"])


def test_the_quality_gate_fails_the_run_after_loading_the_valid_rows(shop):
    good = [_order(100 + i, total=1000.0) for i in range(20)]
    bad = [_order(200 + i, ordered_at=datetime(1985, 1, 1)) for i in range(8)]
    bad += [_order(300 + i, total=-1.0) for i in range(2)]
    _load(shop, orders=good + bad)
    with pytest.raises(QuarantineShareError) as error:
        _run(shop, settings=IngestSettings())
    message = str(error.value)
    assert "shop.orders: 33.3% of the 30 rows read were quarantined (10; limit 20%)" in message
    assert "top reasons: absurd_timestamp 8, negative_amount 2" in message
    # Loaded and advanced before failing: the valid rows are there, the watermark moved on.
    assert _query(shop, "SELECT COUNT(*), SUM(total_amount) FROM crm.orders") == [(20, 20000.0)]
    assert _query(shop, "SELECT MIN(loaded_through) FROM crm.watermarks") == [(T0 + HOUR,)]
    assert error.value.report.gate_breaches[0].source_table == "shop.orders"
    # A retry reads the same window, fails the same way and loads nothing twice.
    with pytest.raises(QuarantineShareError):
        _run(shop, settings=IngestSettings())
    assert _query(
        shop, "SELECT COUNT(*), SUM(revenue_total) FROM crm.customer_state WHERE customer_id = 1"
    ) == [(1, 20000.0)]
    assert _query(shop, "SELECT COUNT(*) FROM crm.quarantine") == [(10,)]


def test_the_quality_gate_passes_below_its_share_and_for_small_tables(shop):
    _load(shop, orders=[_order(100 + i) for i in range(27)] + [_order(200 + i, total=-1.0) for i in range(3)])
    _load(shop, events=[_event(1, event_type="teleport"), _event(2, event_type="teleport"), _event(3)])
    report = _run(shop, settings=IngestSettings())  # 10 % of orders; 2 of 3 events is below min_rows
    assert report.gate_breaches == []
    assert report.rows_quarantined == 5


def test_training_and_scoring_say_that_no_ingest_has_run(migrated):
    with pytest.raises(NoPurchasesError, match="no ingest has ever run"):
        train_churn(migrated, date(2026, 3, 1), ScoresConfig())
    with pytest.raises(NoPurchasesError, match="no ingest has ever run"):
        score(migrated, date(2026, 3, 1), ScoresConfig(), run_key="score-1")


def test_training_and_scoring_say_that_the_ingest_loaded_no_purchases(shop):
    # A history before the earliest business date: every order is quarantined, the gate fails the ingest.
    _load(shop, orders=[_order(100 + i, ordered_at=datetime(1985, 1, 1) + i * HOUR) for i in range(25)])
    with pytest.raises(QuarantineShareError, match="absurd_timestamp 25"):
        _run(shop, settings=IngestSettings())
    expected = r"loaded no purchases.*read 25 row\(s\) of shop.orders and quarantined 25.*absurd_timestamp 25"
    with pytest.raises(NoPurchasesError, match=expected):
        train_churn(shop, date(2026, 3, 1), ScoresConfig())
    with pytest.raises(NoPurchasesError, match=expected):
        score(shop, date(2026, 3, 1), ScoresConfig(), run_key="score-1")
    assert _query(shop, "SELECT COUNT(*) FROM crm.score_runs") == [(0,)]


def test_scoring_a_date_before_the_first_purchase_says_so(shop):
    _load(shop, orders=[_order(10)])
    _run(shop)
    with pytest.raises(
        NoPurchasesError, match=r"no purchase up to the end of 2026-01-01.*first purchase .* 2026-03-02"
    ):
        score(shop, date(2026, 1, 1), ScoresConfig(), run_key="score-1")
