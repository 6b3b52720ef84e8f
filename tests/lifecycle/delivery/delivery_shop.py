"""A tiny, hand-made shop in the crm schema and ledger rows for it: every chain's ids resolve."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd

NOW = datetime(2026, 3, 2, 12, 0)
SECRET = b"test-link-secret-0123456789"


def seed_shop(warehouse) -> None:
    t = NOW - timedelta(days=1)
    customers = pd.DataFrame(
        [
            {
                "customer_id": cid,
                "email": email,
                "first_name": name,
                "timezone": "Europe/Moscow",
                "registered_at": t,
                "email_consent": True,
                "push_consent": True,
                "sms_consent": False,
                "updated_at": t,
                "loaded_at": t,
            }
            for cid, email, name in [
                (1, "anna@example.ru", "Анна"),
                (2, "boris@example.ru", None),
                (3, "not-an-address", "Вера"),
                (4, "reject@example.ru", "Глеб"),
            ]
        ]
    )
    categories = pd.DataFrame(
        [
            {"category_id": 10, "name": "Смартфоны", "slug": "phones", "loaded_at": t},
            {"category_id": 20, "name": "Чехлы", "slug": "cases", "loaded_at": t},
        ]
    )
    products = pd.DataFrame(
        [
            {
                "product_id": pid,
                "name": name,
                "brand": "Nova",
                "category_id": cat,
                "product_line": line,
                "generation": gen,
                "price": price,
                "in_stock": True,
                "is_consumable": False,
                "image_url": f"https://shop.example/images/{pid}.jpg",
                "url": f"https://shop.example/product/{pid}",
                "updated_at": t,
                "loaded_at": t,
            }
            for pid, name, cat, line, gen, price in [
                (100, "Nova Phone 5 <Pro>", 10, "nova-phone", 5, 59990.0),
                (101, "Nova Phone 6", 10, "nova-phone", 6, 69990.0),
                (102, "Orbit Phone", 10, None, None, 54990.0),
                (200, "Чехол для Nova Phone 5", 20, None, None, 1990.0),
                (201, "Стекло для Nova Phone 5", 20, None, None, 990.0),
            ]
        ]
    )
    accessories = pd.DataFrame([{"product_id": 100, "accessory_id": a, "loaded_at": t} for a in (200, 201)])
    orders = pd.DataFrame(
        [
            {
                "order_id": 500,
                "customer_id": 2,
                "channel": "online",
                "status": "delivered",
                "total_amount": 59990.0,
                "discount_amount": 0.0,
                "ordered_at": t - timedelta(days=20),
                "updated_at": t,
                "loaded_at": t,
            }
        ]
    )
    items = pd.DataFrame(
        [
            {
                "order_id": 500,
                "line_no": 1,
                "product_id": 100,
                "quantity": 1,
                "price": 59990.0,
                "discount": 0.0,
                "loaded_at": t,
            }
        ]
    )
    price_changes = pd.DataFrame(
        [{"product_id": 100, "changed_at": t, "old_price": 64990.0, "new_price": 59990.0, "loaded_at": t}]
    )
    tokens = pd.DataFrame(
        [
            {
                "token": tok,
                "customer_id": cid,
                "platform": "android",
                "created_at": t,
                "is_active": True,
                "loaded_at": t,
            }
            for tok, cid in [("tok-anna", 1), ("tok-boris-dead", 2), ("tok-boris", 2)]
        ]
    )
    with warehouse.begin() as conn:
        for table, frame in [
            ("crm.customers", customers),
            ("crm.categories", categories),
            ("crm.products", products),
            ("crm.product_accessories", accessories),
            ("crm.orders", orders),
            ("crm.order_items", items),
            ("crm.price_changes", price_changes),
            ("crm.push_tokens", tokens),
        ]:
            warehouse.insert_df(conn, table, frame)


def ledger_row(send_key: str, customer_id: int, template: str, context: dict, **overrides) -> dict:
    _, chain, step = template.split("/")
    row = {
        "send_key": send_key,
        "chain_id": chain,
        "step_id": step,
        "instance_id": f"{chain}:{customer_id}",
        "trigger_key": send_key,
        "customer_id": customer_id,
        "channel": "push" if "push" in step else "email",
        "message_kind": "trigger",
        "template": template,
        "variant": "a",
        "context": json.dumps(context),
        "planned_at": NOW - timedelta(hours=1),
        "send_after": NOW - timedelta(minutes=5),
        "local_send_date": NOW.date(),
        "expires_at": NOW + timedelta(days=1),
        "run_key": "test",
        "state": "planned",
        "attempts": 0,
        "updated_at": NOW - timedelta(hours=1),
    }
    row.update(overrides)
    return row


def plan(warehouse, rows: list[dict]) -> None:
    with warehouse.begin() as conn:
        warehouse.insert_df(conn, "crm.send_ledger", pd.DataFrame(rows))


def ledger(warehouse) -> dict[str, dict]:
    with warehouse.begin() as conn:
        result = conn.exec_driver_sql("SELECT * FROM crm.send_ledger ORDER BY send_key")
        return {row["send_key"]: dict(row) for row in result.mappings()}


class Clock:
    """A test clock that moves only when the code under test sleeps (or the test says so)."""

    def __init__(self, start: datetime = NOW):
        self.now = start
        self.waits: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += timedelta(seconds=seconds)


def uncapped_policy():
    """The default policy without caps or gap: for tests of the providers, which plan many messages to the
    few customers of the test shop. The send-time check itself is tested with the real defaults."""
    from lifecycle.policy.config import Caps, PolicyConfig

    many = {"email": 10**6, "push": 10**6, "sms": 10**6}
    return PolicyConfig(
        caps=Caps(daily_total=10**6, daily_per_channel=many, weekly_per_channel=many, min_gap=timedelta(0))
    )


def run_dispatch(warehouse, provider, signer, channel: str, clock: Clock | None = None, **kwargs):
    """One dispatch run of the provider tests: the test clock, no real sleeping, no caps."""
    from lifecycle.delivery.dispatch import Dispatcher

    clock = clock or Clock()
    kwargs.setdefault("policy", uncapped_policy())
    return Dispatcher(warehouse, provider, signer, clock=clock, sleep=clock.sleep, **kwargs).run(channel)


def add_customers(warehouse, count: int, first_id: int = 1000, timezone: str = "Europe/Moscow") -> list[int]:
    """``count`` more customers with consent and distinct addresses (``c<id>@example.ru``)."""
    t = NOW - timedelta(days=1)
    ids = list(range(first_id, first_id + count))
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "email": [f"c{i}@example.ru" for i in ids],
            "first_name": "Клиент",
            "timezone": timezone,
            "registered_at": t,
            "email_consent": True,
            "push_consent": True,
            "sms_consent": False,
            "updated_at": t,
            "loaded_at": t,
        }
    )
    with warehouse.begin() as conn:
        warehouse.insert_df(conn, "crm.customers", frame)
    return ids


def midday_zone(now: datetime) -> str:
    """A time zone in which the naive UTC ``now`` is about noon: tests that send at the real time of day
    stay outside quiet hours whenever they run."""
    offset = 12 - now.hour
    if offset > 12:
        offset -= 24
    return f"Etc/GMT{-offset:+d}"  # POSIX sign: Etc/GMT-3 is UTC+3
