"""Dispatch throughput against the local provider stand-ins, on a real (generated) shop.

Plans ``messages`` ledger rows for customers of the shop (a mix of steps: welcome, abandoned cart with its
products, cross-sell with accessories, win-back with a promo code, category picks; push: back in stock and
cart), then runs one dispatch of the channel against a stand-in that answers after ``latency_s``, and
reports messages per second end to end (claim, context SQL, rendering, send-time check, request, outcome)
next to the ceiling the provider allows: batch size x concurrency / latency.

The stand-ins live with the tests (tests/lifecycle/delivery/); they run in this process, on loopback.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lifecycle" / "delivery"))

SECRET = b"bench-link-secret-0123456789"


@dataclass(frozen=True)
class ProviderCase:
    name: str
    channel: str
    latency_s: float
    concurrency: int
    messages: int
    #: messages per request
    batch: int = 1

    @property
    def ceiling(self) -> float:
        return self.batch * self.concurrency / self.latency_s


#: Realistic answers: SendGrid ~200 ms for a request of 1000 personalizations; SMTP ~50 ms per message
#: after DATA on a pool of connections; FCM and OneSignal ~50 ms per message.
CASES = {
    "sendgrid": ProviderCase("sendgrid", "email", 0.2, 2, 20000, batch=1000),
    "smtp": ProviderCase("smtp", "email", 0.05, 4, 400),
    "fcm": ProviderCase("fcm", "push", 0.05, 20, 1000),
    "onesignal": ProviderCase("onesignal", "push", 0.05, 10, 1000),
}

EMAIL_STEPS = [
    ("ru/welcome/email_1", None),
    ("ru/abandoned_cart/email_1", "cart"),
    ("ru/cross_sell/email_1", "product"),
    ("ru/win_back/email_3", None),
    ("ru/abandoned_category/email_1", "category"),
]
PUSH_STEPS = [("ru/back_in_stock/push_1", "product"), ("ru/abandoned_cart/push_1", "cart")]


def bench_policy():
    """The project's policy without caps or gap (the bench sends many messages to one customer across
    providers) and with quiet hours the dispatch clock (below) is outside of in every Russian zone."""
    from lifecycle.policy.config import Caps, PolicyConfig, QuietHours

    many = {"email": 10**6, "push": 10**6, "sms": 10**6}
    return PolicyConfig(
        caps=Caps(daily_total=10**6, daily_per_channel=many, weekly_per_channel=many, min_gap=timedelta(0)),
        quiet_hours=QuietHours(start=clock_time(22, 0), end=clock_time(8, 0)),
    )


def dispatch_clock(end: datetime) -> datetime:
    """07:30 UTC of the shop's last day: 09:30 in Kaliningrad, 19:30 in Kamchatka."""
    return end.replace(hour=7, minute=30, second=0, microsecond=0)


def plan_messages(warehouse, channel: str, count: int, now: datetime, seed: int) -> int:
    """Plan ``count`` due rows of ``channel`` for customers of the shop; returns how many were planned."""
    rng = np.random.default_rng(seed)
    with warehouse.begin() as conn:
        if channel == "email":
            customers = pd.read_sql_query(
                "SELECT customer_id FROM crm.customers WHERE email_consent AND POSITION('@' IN email) > 0 "
                "ORDER BY customer_id",
                conn,
            )["customer_id"].to_numpy()
        else:
            customers = pd.read_sql_query(
                "SELECT DISTINCT t.customer_id FROM crm.push_tokens AS t "
                "JOIN crm.customers AS c ON t.customer_id = c.customer_id "
                "WHERE t.is_active AND c.push_consent ORDER BY t.customer_id",
                conn,
            )["customer_id"].to_numpy()
        products = pd.read_sql_query(
            "SELECT product_id, category_id FROM crm.products WHERE in_stock ORDER BY product_id", conn
        )
        with_accessories = pd.read_sql_query(
            "SELECT DISTINCT product_id FROM crm.product_accessories ORDER BY product_id", conn
        )["product_id"].to_numpy()
    if len(customers) == 0 or products.empty:
        raise RuntimeError(f"the shop has no {channel} customers or no products to plan messages for")
    picked = rng.choice(customers, size=count, replace=count > len(customers))
    steps = EMAIL_STEPS if channel == "email" else PUSH_STEPS
    product_ids = products["product_id"].to_numpy()
    categories = products["category_id"].dropna().unique()
    run = uuid.uuid4().hex[:8]
    rows = []
    for n, customer_id in enumerate(picked):
        template, needs = steps[n % len(steps)]
        _, chain, step = template.split("/")
        if needs == "cart":
            context = {
                "cart_product_ids": [int(p) for p in rng.choice(product_ids, size=int(rng.integers(1, 4)))]
            }
        elif needs == "product":
            pool = with_accessories if chain == "cross_sell" and len(with_accessories) else product_ids
            context = {"product_id": int(rng.choice(pool))}
        elif needs == "category":
            context = {"category_id": int(rng.choice(categories))}
        else:
            context = {}
        key = f"bench-{run}-{n:07}"
        rows.append(
            {
                "send_key": key,
                "chain_id": chain,
                "step_id": step,
                "instance_id": f"{chain}:bench-{run}:{customer_id}:{n}",
                "trigger_key": key,
                "customer_id": int(customer_id),
                "channel": channel,
                "message_kind": "trigger",
                "template": template,
                "variant": "a",
                "context": json.dumps(context),
                "planned_at": now - timedelta(hours=1),
                "send_after": now - timedelta(minutes=5),
                "local_send_date": now.date(),
                "expires_at": now + timedelta(days=1),
                "run_key": f"bench-{run}",
                "state": "planned",
                "attempts": 0,
                "updated_at": now - timedelta(hours=1),
            }
        )
    with warehouse.begin() as conn:
        warehouse.insert_df(conn, "crm.send_ledger", pd.DataFrame(rows))
    return len(rows)


def run_case(
    warehouse, case: ProviderCase, now: datetime, seed: int = 7, messages: int | None = None
) -> dict:
    """Plan and dispatch one provider case; the figures of the run."""
    from lifecycle.delivery.dispatch import Dispatcher, DispatchSettings
    from lifecycle.delivery.email_mime import Sender
    from lifecycle.delivery.signing import LinkSigner

    count = messages or case.messages
    plan_messages(warehouse, case.channel, count, now, seed)
    signer = LinkSigner(SECRET, "https://crm.shop.example/lifecycle-webhooks")
    sender = Sender("shop@shop.example", "Электросфера")
    with _stand_in(case, sender) as provider:
        dispatcher = Dispatcher(
            warehouse,
            provider,
            signer,
            clock=lambda: now,
            policy=bench_policy(),
            settings=DispatchSettings(orphan_after=timedelta(0), **_render_setting()),
        )
        started, cpu = time.perf_counter(), time.process_time()
        report = dispatcher.run(case.channel)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if report.sent < count:  # (more: rows a dead earlier run left, sent too)
        raise RuntimeError(f"{case.name}: {report.summary()} (expected {count} sent)")
    return {
        "provider": case.name,
        "messages": report.sent,
        "requests": report.requests,
        "seconds": round(elapsed, 3),
        "msg_per_s": round(report.sent / elapsed, 1),
        "ceiling_msg_per_s": round(case.ceiling, 1),
        "share_of_ceiling": round(report.sent / elapsed / case.ceiling, 3),
        #: CPU of this process (dispatch and the stand-in; not render workers) per message
        "cpu_ms_per_msg": round(cpu / max(report.sent, 1) * 1000, 3),
    }


def _render_setting() -> dict:
    """BENCH_RENDER_PROCESSES=0 renders in-process (to compare CPU time per message); default: the
    dispatcher's own choice."""
    value = os.environ.get("BENCH_RENDER_PROCESSES")
    return {} if value is None else {"render_processes": int(value)}


class _stand_in:
    """The provider under test, talking to its stand-in; both closed on exit."""

    def __init__(self, case: ProviderCase, sender):
        self.case, self.sender = case, sender
        self.server = None

    def __enter__(self):
        case = self.case
        if case.name == "sendgrid":
            from provider_standins import SendGridStandIn

            from lifecycle.delivery.providers.sendgrid import SendGridProvider

            self.server = SendGridStandIn(latency_s=case.latency_s).__enter__()
            return SendGridProvider(
                SendGridStandIn.api_key,
                self.sender,
                self.server.url,
                template_id="d-pass",
                concurrency=case.concurrency,
            )
        if case.name == "smtp":
            from smtp_standin import SmtpStandIn

            from lifecycle.delivery.providers.smtp import SmtpProvider

            self.server = SmtpStandIn(delay_s=case.latency_s).__enter__()
            return SmtpProvider(
                "127.0.0.1",
                self.server.port,
                self.sender,
                messages_per_connection=1000,
                concurrency=case.concurrency,
            )
        if case.name == "onesignal":
            from provider_standins import OneSignalStandIn

            from lifecycle.delivery.providers.onesignal import OneSignalProvider

            self.server = OneSignalStandIn(latency_s=case.latency_s).__enter__()
            return OneSignalProvider(
                OneSignalStandIn.app_id,
                OneSignalStandIn.api_key,
                self.server.url,
                concurrency=case.concurrency,
            )
        if case.name == "fcm":
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
            from provider_standins import FcmStandIn

            from lifecycle.delivery.providers.fcm import FcmProvider

            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.server = FcmStandIn(key.public_key(), latency_s=case.latency_s).__enter__()
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()
            account = {
                "type": "service_account",
                "project_id": FcmStandIn.project_id,
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": "push@demo-project.iam.gserviceaccount.com",
                "token_uri": f"{self.server.url}/token",
            }
            return FcmProvider(account, self.server.url, concurrency=case.concurrency)
        raise ValueError(f"no stand-in for {case.name}")

    def __exit__(self, *exc):
        if self.server is not None:
            violations = list(getattr(self.server, "violations", []))
            self.server.__exit__(*exc)
            if violations and exc[0] is None:
                raise RuntimeError(f"{self.case.name} stand-in saw contract violations: {violations[:3]}")
