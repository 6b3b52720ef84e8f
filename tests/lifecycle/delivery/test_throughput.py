"""Dispatch throughput against the local SendGrid stand-in at its batch size and an artificial latency.

The figure is printed (``pytest tests/lifecycle/delivery/test_throughput.py -s``), not asserted: the machine
is shared. What is asserted is the shape that makes the figure possible: the next claim is claimed and
rendered while the current claim's requests are in flight, both sending threads are busy at once, a
provider of one message per request gets its requests handed over in waves (one commit for several
requests) with several in flight at once, within its rate limit, and rendering in worker processes gives
exactly what rendering in-process gives. `make bench` measures every
provider stand-in on a generated shop (scripts/bench_dispatch.py).
"""

import threading
import time

from delivery_shop import NOW, add_customers, ledger, ledger_row, plan, uncapped_policy
from provider_standins import OneSignalStandIn, SendGridStandIn
from query_plans import plan_nodes

from lifecycle.delivery.dispatch import Dispatcher, DispatchSettings
from lifecycle.delivery.providers.onesignal import OneSignalProvider
from lifecycle.delivery.providers.sendgrid import MAX_PERSONALIZATIONS, SendGridProvider
from lifecycle.delivery.render import RenderPool, Templates, render_jobs

MESSAGES = 4000
LATENCY_S = 0.2
CONCURRENCY = 2


class _Timeline:
    def __init__(self):
        self.lock = threading.Lock()
        self.spans: dict[str, list[tuple[float, float]]] = {"claim": [], "request": []}

    def wrap(self, obj, name: str, kind: str) -> None:
        original = getattr(obj, name)

        def timed(*args, **kwargs):
            started = time.monotonic()
            try:
                return original(*args, **kwargs)
            finally:
                with self.lock:
                    self.spans[kind].append((started, time.monotonic()))

        setattr(obj, name, timed)


def _grants(limiter) -> list[float]:
    """The moments ``limiter`` gives out a token from now on (its waiting ``acquire`` or a ``try_acquire``
    that succeeds)."""
    granted: list[float] = []
    acquire, try_acquire = limiter.acquire, limiter.try_acquire

    def acquired() -> None:
        acquire()
        granted.append(time.monotonic())

    def tried() -> bool:
        ok = try_acquire()
        if ok:
            granted.append(time.monotonic())
        return ok

    limiter.acquire, limiter.try_acquire = acquired, tried
    return granted


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_sendgrid_throughput_and_pipeline(duck_shop, signer, sender):
    customers = add_customers(duck_shop, MESSAGES)
    templates = ["ru/welcome/email_1", "ru/cross_sell/email_1", "ru/win_back/email_3"]
    contexts = [{}, {"product_id": 100}, {}]
    plan(
        duck_shop,
        [ledger_row(f"t{i:05}", c, templates[i % 3], contexts[i % 3]) for i, c in enumerate(customers)],
    )
    timeline = _Timeline()
    with SendGridStandIn(latency_s=LATENCY_S) as server:
        provider = SendGridProvider(
            SendGridStandIn.api_key, sender, server.url, template_id="d-pass", concurrency=CONCURRENCY
        )
        dispatcher = Dispatcher(
            duck_shop,
            provider,
            signer,
            clock=lambda: NOW,
            policy=uncapped_policy(),
            settings=DispatchSettings(render_processes=0, hold_warehouse_s=3600),
        )
        timeline.wrap(dispatcher, "_dispatch_claim", "claim")
        timeline.wrap(provider, "send", "request")
        started = time.perf_counter()
        report = dispatcher.run("email")
        elapsed = time.perf_counter() - started
        assert server.violations == []
    assert report.sent == MESSAGES
    assert {row["state"] for row in ledger(duck_shop).values()} == {"sent"}
    assert len(server.requests) == MESSAGES // MAX_PERSONALIZATIONS
    claims, requests = timeline.spans["claim"], timeline.spans["request"]
    # Every claim after the first was prepared while requests of the one before were in flight...
    assert all(any(_overlap(claim, request) for request in requests) for claim in claims[1:-1])
    # ... and both sending threads had a request in flight at the same time.
    assert any(_overlap(a, b) for i, a in enumerate(requests) for b in requests[i + 1 :])
    ceiling = MAX_PERSONALIZATIONS * CONCURRENCY / LATENCY_S
    print(
        f"\nSendGrid stand-in: {MESSAGES} messages in {len(requests)} requests of <= {MAX_PERSONALIZATIONS}, "
        f"latency {LATENCY_S * 1000:.0f} ms, concurrency {CONCURRENCY}: {MESSAGES / elapsed:,.0f} msg/s "
        f"end to end (ceiling {ceiling:,.0f} msg/s)"
    )


def test_one_message_requests_leave_in_waves_within_the_rate_limit(duck_shop, signer):
    """OneSignal (one message per request), concurrency 8, 50 ms latency, at most 40 requests a second: the
    requests are handed over a wave at a time (the first fills every sending slot), several are in flight at
    once, and they start no faster than the limit allows (a burst of one second's worth, then 40/s)."""
    messages, rate = 80, 40
    customers = add_customers(duck_shop, messages)
    plan(
        duck_shop,
        [
            ledger_row(f"p{i:03}", c, "ru/abandoned_cart/push_1", {"cart_product_ids": [200]})
            for i, c in enumerate(customers)
        ],
    )
    timeline = _Timeline()
    waves: list[int] = []
    with OneSignalStandIn(latency_s=0.05) as server:
        provider = OneSignalProvider(
            server.app_id, server.api_key, server.url, concurrency=8, requests_per_second=rate
        )
        dispatcher = Dispatcher(
            duck_shop,
            provider,
            signer,
            clock=lambda: NOW,
            policy=uncapped_policy(),
            settings=DispatchSettings(render_processes=0),
        )
        gate_wave = dispatcher._gate_wave

        def counted(conn, wave, report, *rest):
            waves.append(len(wave))
            return gate_wave(conn, wave, report, *rest)

        dispatcher._gate_wave = counted
        timeline.wrap(provider, "send", "request")
        granted = _grants(dispatcher.limiter)
        report = dispatcher.run("push")
        assert server.violations == []
    assert report.sent == messages
    assert sum(waves) == messages
    # The first wave fills every sending slot at once: one hand-over for eight requests. Later waves carry
    # what returned since the last one and what the rate limit lets leave (at 40/s, one request each 25 ms):
    # on a fast machine many are single requests, on a busy one larger; their count follows the clock.
    assert waves[0] == 8
    assert len(waves) < messages
    requests = sorted(timeline.spans["request"])
    assert max(sum(1 for b in requests if _overlap(a, b)) for a in requests) >= 3
    # Every request left on a token of the limiter, and the tokens were given out as a token bucket does: at
    # most one second's worth at once, then ``rate`` a second (+1: clock rounding). Timed when the limiter
    # gives each out, not when a sending thread starts its request: on a busy machine (beside a database
    # load) threads handed their requests 25 ms apart could start them together, the first one late.
    assert len(granted) == messages
    for i, first in enumerate(granted):
        for j in range(i, len(granted)):
            assert j - i + 1 <= rate + rate * (granted[j] - first) + 1


def test_worker_processes_render_what_the_process_renders(duck_shop, signer):
    from lifecycle.delivery.context import ContextBuilder

    customers = add_customers(duck_shop, 3)
    rows = [
        ledger_row("w1", customers[0], "ru/welcome/email_1", {}),
        ledger_row("w2", customers[1], "ru/cross_sell/email_1", {"product_id": 100}),
        ledger_row("w3", 1, "ru/back_in_stock/push_1", {"product_id": 101}),
    ]
    plan(duck_shop, rows)
    templates = Templates()
    claimed = [
        {**row, "email": f"c{row['customer_id']}@example.ru", "first_name": "Анна", "last_name": None}
        for row in rows
    ]
    with duck_shop.begin() as conn:
        contexts = ContextBuilder(templates, signer).build(duck_shop, conn, "tok", claimed, NOW)
    jobs = [(row["channel"], row["template"], contexts[row["send_key"]]) for row in claimed]
    jobs.append(("email", "ru/no_such_chain/email_1", contexts["w1"]))  # fails alone, with its reason
    pool = RenderPool(templates, processes=2, min_jobs=1)
    try:
        in_workers = pool.render(jobs)
    finally:
        pool.close()
    assert in_workers == render_jobs(templates, jobs)
    assert in_workers[0].subject
    assert in_workers[2].title
    assert "does not exist" in in_workers[3]


def test_a_wave_writes_its_ledger_rows_by_key_whatever_the_claim_index_holds(postgres_warehouse):
    """Every wave of a dispatch writes its outcomes and verdicts in one UPDATE. PostgreSQL must find those
    rows by their keys. Through the partial index of claimed rows, which the statistics often count as
    empty and a busy dispatch fills with dead entries until the next vacuum, the write read the whole index
    on every wave (11 ms against 0.6 ms by key on a 100 k-customer shop)."""
    from datetime import timedelta

    from lifecycle import sql
    from lifecycle.migrations import migrate
    from lifecycle.warehouse import Warehouse

    wh = postgres_warehouse
    migrate(wh)
    with wh.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO crm.send_ledger (send_key, chain_id, step_id, instance_id, trigger_key, "
            "customer_id, channel, message_kind, template, variant, context, planned_at, send_after, "
            "local_send_date, expires_at, run_key, state, attempts, updated_at, claim_token) "
            "SELECT 'k' || g, 'c', 's', 'i' || g, 't', g, 'push', 'content', 'x', 'a', '{}', "
            "TIMESTAMP '2026-11-01', TIMESTAMP '2026-11-01', DATE '2026-11-01', TIMESTAMP '2026-12-01', 'r', "
            "CASE WHEN g <= 5000 THEN 'sending' ELSE 'sent' END, 1, TIMESTAMP '2026-11-01', "
            "CASE WHEN g <= 5000 THEN 'old-claim' END FROM generate_series(1, 20000) AS g"
        )
    with wh.begin() as conn:
        # the claimed rows of an earlier wave were sent: their index entries are dead, the statistics see none
        conn.exec_driver_sql("UPDATE crm.send_ledger SET state = 'sent' WHERE claim_token = 'old-claim'")
    with wh.begin() as conn:
        conn.exec_driver_sql("ANALYZE crm.send_ledger")
        conn.exec_driver_sql(
            "UPDATE crm.send_ledger SET state = 'sending', claim_token = 'claim' "
            "WHERE send_key IN ('k6001', 'k6002', 'k6003')"
        )
    now = NOW + timedelta(minutes=1)
    keys = ["k6001", "k6002", "k6003"]
    n = len(keys)
    params = {
        "is_outcomes": [True] * n,
        "claim_tokens": ["claim"] * n,
        "send_keys": keys,
        "states": ["sent"] * n,
        "reasons": [None] * n,
        "send_afters": [None] * n,
        "recipients": ["token"] * n,
        "provider_message_ids": ["m1", "m2", "m3"],
        "last_errors": [None] * n,
        "sent_ats": [now] * n,
        "segments": [None] * n,
        "costs": [None] * n,
        "handed_ats": [now] * n,
    }
    statement = sql.single_statement("delivery/apply_wave.sql")
    with wh.begin() as conn:
        (plan,) = Warehouse.execute(conn, "EXPLAIN (FORMAT JSON) " + statement, **params).scalar_one()
        assert Warehouse.execute(conn, statement, **params).rowcount == n
    reads = {
        (node["Node Type"], node.get("Index Name"))
        for node in plan_nodes(plan["Plan"])
        if node.get("Relation Name") == "send_ledger" and node["Node Type"] != "ModifyTable"
    }
    assert reads == {("Index Scan", "send_ledger_pkey")}
    with wh.begin() as conn:
        written = sorted(
            conn.exec_driver_sql("SELECT send_key, state FROM crm.send_ledger WHERE claim_token = 'claim'")
        )
    assert written == [(k, "sent") for k in keys]
