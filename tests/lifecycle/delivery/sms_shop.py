"""Customers with phone numbers and SMS consent in the tiny test shop, and SMS ledger rows for them."""

from datetime import timedelta

import pandas as pd
from delivery_shop import NOW, ledger_row

PHONES = {
    10: "+79161230010",
    11: "+79161230011",
    12: "+79161230012",
    13: "+79161230013",
    14: "+79161230014",
}


def add_sms_customers(warehouse, phones: dict[int, str | None], consent: bool = True) -> None:
    t = NOW - timedelta(days=1)
    frame = pd.DataFrame(
        {
            "customer_id": list(phones),
            "email": [f"c{i}@example.ru" for i in phones],
            "phone": list(phones.values()),
            "first_name": "Анна",
            "timezone": "Europe/Moscow",
            "registered_at": t,
            "email_consent": True,
            "push_consent": False,
            "sms_consent": consent,
            "updated_at": t,
            "loaded_at": t,
        }
    )
    with warehouse.begin() as conn:
        warehouse.insert_df(conn, "crm.customers", frame)


def sms_row(key: str, customer_id: int, **overrides):
    return ledger_row(key, customer_id, "ru/win_back/sms_1", {}, channel="sms", **overrides)
