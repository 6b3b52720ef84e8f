"""The send-time lift report on DuckDB and PostgreSQL: per chain and arm the sent messages of timed steps,
how many were opened, clicked and followed by a purchase, and optimal − default with Newcombe intervals."""

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from lifecycle.reports.send_time import format_lift, send_time_lift
from lifecycle.reports.stats import newcombe_difference

DAY = datetime(2026, 3, 10, 12)


def _ledger(key, customer_id, arm, chain="win_back", state="sent", sent_at=DAY):
    return {
        "send_key": key,
        "chain_id": chain,
        "step_id": "email_1",
        "instance_id": key,
        "trigger_key": key,
        "customer_id": customer_id,
        "channel": "email",
        "message_kind": "content",
        "template": "t",
        "variant": "A",
        "context": "{}",
        "planned_at": sent_at,
        "send_after": sent_at,
        "local_send_date": sent_at.date(),
        "expires_at": sent_at + timedelta(days=1),
        "run_key": "r",
        "state": state,
        "attempts": 1,
        "updated_at": sent_at,
        "sent_at": sent_at if state == "sent" else None,
        "send_time_arm": arm,
    }


def _event(key, kind, at=DAY + timedelta(hours=2)):
    return {
        "provider": "sandbox",
        "provider_event_id": f"{key}-{kind}",
        "send_key": key,
        "event_type": kind,
        "occurred_at": at,
        "received_at": at,
    }


def test_rates_and_intervals_per_arm(migrated):
    ledger, events, orders = [], [], []
    # optimal: 10 sent, 6 opened (2 of them clicked), 3 bought within 7 days (one after 9 days: not counted)
    for i in range(10):
        key = f"o{i}"
        ledger.append(_ledger(key, 100 + i, "optimal"))
        if i < 6:
            events.append(_event(key, "open"))
        if i < 2:
            events.append(_event(key, "click"))
        if i < 4:
            after = timedelta(days=9 if i == 3 else 2)
            orders.append({"order_id": i + 1, "customer_id": 100 + i, "ordered_at": DAY + after})
    # default: 8 sent, 2 opened, 1 clicked without an open event (counts as opened), 1 bought
    for i in range(8):
        key = f"d{i}"
        ledger.append(_ledger(key, 200 + i, "default"))
        if i < 2:
            events.append(_event(key, "open"))
        if i == 2:
            events.append(_event(key, "click"))
        if i == 0:
            orders.append({"order_id": 50, "customer_id": 200, "ordered_at": DAY + timedelta(days=1)})
    # not counted: a message of a default step, one not sent, one outside the period
    ledger.append(_ledger("x1", 300, None))
    ledger.append(_ledger("x2", 301, "optimal", state="planned"))
    ledger.append(_ledger("x3", 302, "optimal", sent_at=DAY - timedelta(days=30)))
    orders = pd.DataFrame(orders).assign(
        channel="online", status="completed", total_amount=100.0, discount_amount=0.0
    )
    orders = orders.assign(updated_at=orders["ordered_at"], loaded_at=orders["ordered_at"])
    with migrated.begin() as conn:
        migrated.insert_df(conn, "crm.send_ledger", pd.DataFrame(ledger))
        migrated.insert_df(conn, "crm.message_events", pd.DataFrame(events))
        migrated.insert_df(conn, "crm.orders", orders)

    (row,) = send_time_lift(migrated, date(2026, 3, 1), date(2026, 3, 31), min_sends=8)
    assert row["chain_id"] == "win_back"
    assert row["reason"] is None
    assert (row["sent_optimal"], row["opened_optimal"], row["clicked_optimal"], row["converted_optimal"]) == (
        10,
        6,
        2,
        3,
    )
    assert (row["sent_default"], row["opened_default"], row["clicked_default"], row["converted_default"]) == (
        8,
        3,
        1,
        1,
    )
    assert row["opened_rate_optimal"] == pytest.approx(0.6)
    diff, low, high = newcombe_difference(6, 10, 3, 8)
    assert (row["opened_lift"], row["opened_ci_low"], row["opened_ci_high"]) == pytest.approx(
        (diff, low, high)
    )
    assert row["opened_ci_low"] < row["opened_lift"] < row["opened_ci_high"]
    text = format_lift([row])
    assert "win_back" in text
    assert "+22.5 pp" in text
    # at the shipped minimum (100 sends per arm) the same figures are too few to say
    (small,) = send_time_lift(migrated, date(2026, 3, 1), date(2026, 3, 31))
    assert small["reason"] == "too_few_sends"
    assert small["opened_lift"] == pytest.approx(diff)
    assert format_lift([small]).endswith("(too few sends to say)")
    (one_short,) = send_time_lift(migrated, date(2026, 3, 1), date(2026, 3, 31), min_sends=9)
    assert one_short["reason"] == "too_few_sends"


def test_a_chain_without_a_holdout_send_says_so(migrated):
    with migrated.begin() as conn:
        migrated.insert_df(conn, "crm.send_ledger", pd.DataFrame([_ledger("o", 1, "optimal")]))
    (row,) = send_time_lift(migrated, date(2026, 3, 1), date(2026, 3, 31))
    assert row["reason"] == "no_default_sends"
    assert row["opened_lift"] is None
    text = format_lift([row])
    assert "(no holdout sends)" in text
    assert "no_default_sends" not in text
    assert send_time_lift(migrated, date(2026, 4, 1), date(2026, 4, 30)) == []


def test_where_the_best_hours_come_from(migrated):
    """As the policy picks them: own responses, else the segment's profile, else the shop's; an own hour
    that is not the segment's best is counted; nothing before any hours are learned."""
    as_of = date(2026, 3, 31)
    customers = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5],
            "timezone": "Europe/Moscow",
            "registered_at": datetime(2026, 1, 1),
            "email_consent": True,
            "push_consent": False,
            "sms_consent": False,
            "updated_at": datetime(2026, 1, 1),
            "loaded_at": datetime(2026, 1, 1),
        }
    )
    scores = pd.DataFrame(
        {
            "as_of": as_of,
            "customer_id": [1, 2, 3, 4],
            "recency_days": 1,
            "frequency": 1,
            "avg_check": 1.0,
            "r": [3, 3, 3, 1],
            "f": 1,
            "m": 1,
            "rfm_code": ["311", "311", "311", "111"],
            "segment_ru": "x",
            "segment_en": "x",
            "ltv": 1.0,
            "scored_at": datetime(2026, 4, 1),
        }
    )
    # segment 311 reads at 19:00, the shop at 20:00; 111 has no responses of its own (no profile)
    profiles = pd.DataFrame(
        [
            {
                "as_of": as_of,
                "segment": s,
                "hour": h,
                "responses": 1.0,
                "probability": 0.5 if h == best else 0.02,
            }
            for s, best in (("*", 20), ("311", 19))
            for h in range(24)
        ]
    )
    hours = pd.DataFrame(
        {
            "as_of": as_of,
            "customer_id": [1, 2],
            "segment": "311",
            "best_hour": [8, 19],
            "responses": 3.0,
            "probability": 0.3,
        }
    )
    assert migrated.fetch_all("reports/send_hour_basis.sql", until_date=as_of) == []
    with migrated.begin() as conn:
        migrated.insert_df(conn, "crm.customers", customers)
        migrated.insert_df(conn, "crm.customer_scores", scores)
        migrated.insert_df(conn, "crm.send_hour_profiles", profiles)
        migrated.insert_df(conn, "crm.customer_send_hours", hours)
    rows = migrated.fetch_all("reports/send_hour_basis.sql", until_date=as_of)
    # 1 and 2 their own (1 moved to 08:00), 3 its segment's, 4 (segment 111) and 5 (unscored) the shop's
    assert [(r["basis"], int(r["customers"]), int(r["own_hour_differs"])) for r in rows] == [
        ("customer", 2, 1),
        ("segment", 1, 0),
        ("shop", 2, 0),
    ]
    assert {r["as_of"] for r in rows} == {as_of}
    assert migrated.fetch_all("reports/send_hour_basis.sql", until_date=date(2026, 3, 30)) == []
