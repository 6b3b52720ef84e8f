"""Dispatch throughput against the local SendGrid stand-in at its batch size and an artificial latency.

Prints a figure (no timed assertion): ``pytest tests/lifecycle/delivery/test_throughput.py -s``.
The ceiling is batch size x concurrency / latency; the end-to-end figure includes claiming, loading the
render context in SQL, rendering every email and recording outcomes in DuckDB.
"""

import time

from delivery_shop import NOW, add_customers, ledger_row, plan, uncapped_policy
from provider_standins import SendGridStandIn

from lifecycle.delivery.dispatch import Dispatcher
from lifecycle.delivery.providers.sendgrid import MAX_PERSONALIZATIONS, SendGridProvider

MESSAGES = 3000
LATENCY_S = 0.2
CONCURRENCY = 2


def test_sendgrid_throughput(duck_shop, signer, sender):
    customers = add_customers(duck_shop, MESSAGES)
    plan(duck_shop, [ledger_row(f"t{i:05}", c, "ru/welcome/email_1", {}) for i, c in enumerate(customers)])
    with SendGridStandIn(latency_s=LATENCY_S) as server:
        provider = SendGridProvider(
            SendGridStandIn.api_key, sender, server.url, template_id="d-pass", concurrency=CONCURRENCY
        )
        dispatcher = Dispatcher(duck_shop, provider, signer, clock=lambda: NOW, policy=uncapped_policy())
        rendered = dispatcher.templates.render_email  # time spent sending vs the rest
        started = time.perf_counter()
        report = dispatcher.run("email")
        elapsed = time.perf_counter() - started
        assert report.sent == MESSAGES
        assert server.violations == []
    requests = len(server.requests)
    ceiling = MAX_PERSONALIZATIONS * CONCURRENCY / LATENCY_S
    print(
        f"\nSendGrid stand-in: {MESSAGES} messages in {requests} requests of <= {MAX_PERSONALIZATIONS}, "
        f"latency {LATENCY_S * 1000:.0f} ms, concurrency {CONCURRENCY}: "
        f"{MESSAGES / elapsed:,.0f} msg/s end to end (ceiling {ceiling:,.0f} msg/s; "
        f"network share {requests / CONCURRENCY * LATENCY_S / elapsed:.0%} of the run)"
    )
    assert rendered
