"""Dispatch throughput against the local provider stand-ins, on a real (generated) shop.

Plans ``messages`` ledger rows for customers of the shop (a mix of steps: welcome, abandoned cart with its
products, cross-sell with accessories, win-back with a promo code, category picks; push: back in stock and
cart), then runs one dispatch of the channel against a stand-in that answers after ``latency_s``, and
reports messages per second end to end (claim, context SQL, rendering, send-time check, request, outcome)
next to the ceiling the provider allows: batch size x concurrency / latency.

The stand-ins live with the tests (tests/lifecycle/delivery/); each runs in a process of its own, on
loopback, as a provider does: its CPU (reported beside the dispatcher's) does not share the dispatching
interpreter's lock.
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
#: after DATA on a pool of connections; FCM and OneSignal ~50 ms per message. Each run plans about ten
#: seconds' worth of messages at the ceiling (SendGrid: two), so the start of a run (the first claim's
#: context and rendering, before any request can leave) weighs little in the rate.
CASES = {
    "sendgrid": ProviderCase("sendgrid", "email", 0.2, 2, 20000, batch=1000),
    "smtp": ProviderCase("smtp", "email", 0.05, 4, 800),
    "fcm": ProviderCase("fcm", "push", 0.05, 20, 4000),
    "onesignal": ProviderCase("onesignal", "push", 0.05, 10, 2000),
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
    with _stand_in(case, sender) as stand_in:
        provider = stand_in.provider
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
        #: CPU of this process (the dispatch, in-process rendering included; not render workers, not the
        #: stand-in) per message
        "cpu_ms_per_msg": round(cpu / max(report.sent, 1) * 1000, 3),
        #: rendering CPU per message (in this process or the render workers)
        "render_cpu_ms_per_msg": round(dispatcher.renderer.cpu_s / max(report.sent, 1) * 1000, 3),
        #: CPU of the stand-in's process per message (the provider's side, on the same machine)
        "standin_cpu_ms_per_msg": round(stand_in.cpu_s / max(report.sent, 1) * 1000, 3),
        #: what sending one message costs this machine: the dispatching process and its render workers
        "sending_cpu_ms_per_msg": round(
            (cpu + dispatcher.renderer.worker_cpu_s) / max(report.sent, 1) * 1000, 3
        ),
    }


def _render_setting() -> dict:
    """BENCH_RENDER_PROCESSES=0 renders in-process (to compare CPU time per message); default: the
    dispatcher's own choice."""
    value = os.environ.get("BENCH_RENDER_PROCESSES")
    return {} if value is None else {"render_processes": int(value)}


def _serve(name: str, latency_s: float, public_pem: bytes | None, pipe) -> None:
    """The stand-in process: start the provider's stand-in, send its address, serve until told to stop,
    then answer the contract violations it saw and the CPU seconds it used."""
    import resource

    if name == "sendgrid":
        from provider_standins import SendGridStandIn

        server = SendGridStandIn(latency_s=latency_s)
    elif name == "smtp":
        from smtp_standin import SmtpStandIn

        server = SmtpStandIn(delay_s=latency_s)
    elif name == "onesignal":
        from provider_standins import OneSignalStandIn

        server = OneSignalStandIn(latency_s=latency_s)
    elif name == "fcm":
        from cryptography.hazmat.primitives import serialization
        from provider_standins import FcmStandIn

        server = FcmStandIn(serialization.load_pem_public_key(public_pem), latency_s=latency_s)
    else:
        raise ValueError(f"no stand-in for {name}")
    with server:
        pipe.send(f"127.0.0.1:{server.port}" if name == "smtp" else server.url)
        pipe.recv()
        violations = list(getattr(server, "violations", []))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    pipe.send((violations, usage.ru_utime + usage.ru_stime))


class _stand_in:
    """The provider under test, talking to its stand-in in another process; both closed on exit."""

    def __init__(self, case: ProviderCase, sender):
        self.case, self.sender = case, sender
        self.process = self.pipe = self.provider = None
        self.cpu_s = 0.0

    def _start(self, public_pem: bytes | None = None) -> str:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(self.case.name, self.case.latency_s, public_pem, child), daemon=True
        )
        self.process.start()
        return self.pipe.recv()

    def __enter__(self):
        self.provider = self._provider()
        return self

    def _provider(self):
        case = self.case
        if case.name == "sendgrid":
            from provider_standins import SendGridStandIn

            from lifecycle.delivery.providers.sendgrid import SendGridProvider

            return SendGridProvider(
                SendGridStandIn.api_key,
                self.sender,
                self._start(),
                template_id="d-pass",
                concurrency=case.concurrency,
            )
        if case.name == "smtp":
            from lifecycle.delivery.providers.smtp import SmtpProvider

            host, port = self._start().split(":")
            return SmtpProvider(
                host, int(port), self.sender, messages_per_connection=1000, concurrency=case.concurrency
            )
        if case.name == "onesignal":
            from provider_standins import OneSignalStandIn

            from lifecycle.delivery.providers.onesignal import OneSignalProvider

            return OneSignalProvider(
                OneSignalStandIn.app_id, OneSignalStandIn.api_key, self._start(), concurrency=case.concurrency
            )
        if case.name == "fcm":
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
            from provider_standins import FcmStandIn

            from lifecycle.delivery.providers.fcm import FcmProvider

            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public_pem = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            url = self._start(public_pem)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()
            account = {
                "type": "service_account",
                "project_id": FcmStandIn.project_id,
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": "push@demo-project.iam.gserviceaccount.com",
                "token_uri": f"{url}/token",
            }
            return FcmProvider(account, url, concurrency=case.concurrency)
        raise ValueError(f"no stand-in for {case.name}")

    def __exit__(self, *exc):
        if self.provider is not None:
            self.provider.close()
        if self.process is None:
            return
        self.pipe.send("stop")
        violations, self.cpu_s = self.pipe.recv()
        self.process.join(timeout=30)
        if violations and exc[0] is None:
            raise RuntimeError(f"{self.case.name} stand-in saw contract violations: {violations[:3]}")
