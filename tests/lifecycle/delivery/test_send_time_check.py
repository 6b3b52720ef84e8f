"""The contact policy re-checked at the moment of sending: the pure rules, a consent withdrawn and an
unsubscribe arriving while a claim is being sent, then an outage across local days with an unsubscribe in the
middle, sent through a real SMTP server, on DuckDB and PostgreSQL."""

import threading
from datetime import datetime, timedelta

import pytest
from delivery_shop import Clock, add_customers, ledger, ledger_row, plan, uncapped_policy
from smtp_standin import SmtpStandIn

from lifecycle.delivery.dispatch import Dispatcher, DispatchSettings
from lifecycle.delivery.gate import GateCustomer, GateRow, check
from lifecycle.delivery.providers.smtp import SmtpProvider
from lifecycle.delivery.send_audit import audit_sent
from lifecycle.policy.config import load_policy
from lifecycle.policy.rules import Message

POLICY = load_policy()
# 2026-03-02 09:00 UTC = 12:00 in Moscow (UTC+3): inside the allowed hours.
NOON_MSK = datetime(2026, 3, 2, 9, 0)


def row(kind="trigger", channel="email", quiet="hold", scope=None, expires=NOON_MSK + timedelta(days=2)):
    return GateRow("k", 1, channel, kind, expires, quiet, scope)


def customer(received=(), consents=None, suppressions=None):
    return GateCustomer(
        1,
        "Europe/Moscow",
        consents if consents is not None else {"email": True, "push": True, "sms": False},
        suppressions or {},
        [Message(at, channel, "trigger") for at, channel in received],
    )


def test_consent_and_suppressions_are_those_of_now():
    assert check(row(), customer(consents={"email": False}), POLICY, NOON_MSK).reason == "no_consent"
    assert (
        check(row(), customer(suppressions={"email": {"unsubscribe"}}), POLICY, NOON_MSK).state == "dropped"
    )
    scoped = customer(suppressions={"email": {"unsubscribe:birthday"}})
    assert check(row(scope="birthday"), scoped, POLICY, NOON_MSK).reason == "no_consent"
    assert check(row(scope="welcome"), scoped, POLICY, NOON_MSK).state == "sending"
    # service messages ignore consent and unsubscribes, never a hard bounce
    service = row(kind="service")
    assert check(service, customer(consents={}), POLICY, NOON_MSK).state == "sending"
    bounced = customer(suppressions={"email": {"hard_bounce"}})
    assert check(service, bounced, POLICY, NOON_MSK).reason == "suppressed_address"
    assert check(row(), None, POLICY, NOON_MSK).reason == "no_customer"


def test_quiet_hours_hold_or_drop_as_the_step_says():
    late = datetime(2026, 3, 2, 20, 30)  # 23:30 in Moscow
    held = check(row(), customer(), POLICY, late)
    assert (held.state, held.reason) == ("planned", "quiet_hours")
    assert held.hold_until == datetime(2026, 3, 3, 6, 0)  # 09:00 Moscow
    assert check(row(quiet="drop"), customer(), POLICY, late).state == "dropped"
    assert check(row(kind="service"), customer(), POLICY, late).state == "sending"
    # a hold past the freshness limit expires instead
    assert check(row(expires=late + timedelta(hours=2)), customer(), POLICY, late).state == "expired"


def test_caps_and_gap_count_what_was_actually_sent():
    two_sent = customer([(NOON_MSK - timedelta(hours=6), "email"), (NOON_MSK - timedelta(hours=5), "push")])
    assert check(row(), two_sent, POLICY, NOON_MSK).state == "sending"
    three_sent = customer([(NOON_MSK - timedelta(hours=h), "push") for h in (7, 6, 5)])
    verdict = check(row(), three_sent, POLICY, NOON_MSK)
    assert (verdict.state, verdict.reason) == ("planned", "daily_cap")
    recent = customer([(NOON_MSK - timedelta(hours=1), "push")])
    gap = check(row(), recent, POLICY, NOON_MSK)
    assert (gap.reason, gap.hold_until) == ("min_gap", NOON_MSK + timedelta(hours=3))
    week = customer([(NOON_MSK - timedelta(days=d), "email") for d in range(1, 7)])
    assert check(row(), week, POLICY, NOON_MSK).reason == "weekly_cap"
    # an approved message counts against the next one in the same run
    fresh = customer()
    assert check(row(), fresh, POLICY, NOON_MSK).state == "sending"
    assert check(row(), fresh, POLICY, NOON_MSK).reason == "min_gap"


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_a_withdrawal_while_the_claim_is_sent_stops_the_rest(shop, signer, sender):
    """Requests leave in waves, several at once, each wave checked in one commit. While the first wave is
    on the wire, one customer withdraws email consent and another unsubscribes (their messages are claimed
    already, not yet handed over): none of their messages leaves; every other message does, once.
    PostgreSQL only: a DuckDB file is the dispatch's alone while it sends, and a write from another process
    waits for it to be let go (test_held_customers)."""
    concurrency = 3
    customers = add_customers(shop, 8)
    withdrawn, unsubscribed = customers[-2], customers[-1]
    # One message each for the first six customers (the first wave takes three), then three each for the
    # two who change their mind: claimed in the same claim, sent in later waves.
    rows = [ledger_row(f"a{n}-{c}", c, "ru/welcome/email_1", {}) for n, c in enumerate(customers[:6])]
    rows += [
        ledger_row(f"b{n}-{c}", c, "ru/welcome/email_1", {})
        for c in (withdrawn, unsubscribed)
        for n in range(3)
    ]
    plan(shop, rows)
    changed = threading.Event()
    claimed_when_changed: dict[str, str] = {}
    waves: list[int] = []

    with SmtpStandIn() as server:
        provider = SmtpProvider("127.0.0.1", server.port, sender, concurrency=concurrency)
        send = provider.send

        def send_and_change(batch):
            if batch[0].send_key == rows[0]["send_key"]:
                states = ledger(shop)
                claimed_when_changed.update({k: r["state"] for k, r in states.items() if k.startswith("b")})
                with shop.begin() as conn:
                    conn.exec_driver_sql(
                        f"UPDATE crm.customers SET email_consent = FALSE WHERE customer_id = {withdrawn}"
                    )
                    conn.exec_driver_sql(
                        "INSERT INTO crm.suppressions (channel, address, customer_id, reason, source, "
                        f"created_at) VALUES ('email', 'c{unsubscribed}@example.ru', {unsubscribed}, "
                        "'unsubscribe', 'link', TIMESTAMP '2026-03-02 11:59:00')"
                    )
                changed.set()
            # No request returns (so no later wave is checked) before the change is committed.
            assert changed.wait(30)
            return send(batch)

        provider.send = send_and_change
        clock = Clock()
        dispatcher = Dispatcher(
            shop,
            provider,
            signer,
            settings=DispatchSettings(orphan_after=timedelta(0)),
            clock=clock,
            sleep=clock.sleep,
            policy=uncapped_policy(),
        )
        gate_wave = dispatcher._gate_wave

        def counted(conn, wave, report, *rest):
            waves.append(len(wave))
            return gate_wave(conn, wave, report, *rest)

        dispatcher._gate_wave = counted
        report = dispatcher.run("email")
        provider.close()
        received = server.send_keys()

    states = ledger(shop)
    assert set(claimed_when_changed.values()) == {"sending"}  # claimed, not yet handed over
    assert waves[0] == concurrency
    assert sum(waves) == len(rows)
    assert len(waves) < len(rows)
    assert set(received) == {r["send_key"] for r in rows[:6]}
    assert max(received.values()) == 1
    assert report.sent == 6
    assert report.dropped == {"no_consent": 3, "suppressed_address": 3}
    for key, row in states.items():
        if key.startswith("b"):
            assert row["state"] == "dropped"
            assert row["attempted_at"] is None
    assert audit_sent(shop).ok


def test_an_outage_across_local_days_sends_within_the_policy(shop, signer, sender):
    """The provider is down for two local days while four emails a customer pile up (as the policy planned
    them: 2 a day, 4 h apart), one customer unsubscribes in the middle, and a quiet-hours 'drop' step was
    planned for 20:00. When the server is back at 23:30 Moscow time, hourly dispatches for the next days
    must not burst: every message that leaves obeys quiet hours, caps and gap at that moment; nothing goes
    to the customer who unsubscribed; the drop step is dropped."""
    customers = add_customers(shop, 20)
    day1 = datetime(2026, 3, 2, 7, 0)  # 10:00 Moscow
    rows = []
    for c in customers:
        for n, planned in enumerate(
            [day1, day1 + timedelta(hours=4), day1 + timedelta(days=1), day1 + timedelta(days=1, hours=4)]
        ):
            rows.append(
                ledger_row(
                    f"o{c}-{n}",
                    c,
                    "ru/welcome/email_1",
                    {},
                    send_after=planned,
                    planned_at=planned,
                    local_send_date=planned.date(),
                    expires_at=planned + timedelta(days=4),
                    quiet_hours="hold",
                )
            )
    drop_at = datetime(2026, 3, 3, 17, 0)  # 20:00 Moscow, the evening of day 2
    rows.append(
        ledger_row(
            "drop-step",
            customers[0],
            "ru/welcome/email_2",
            {},
            send_after=drop_at,
            expires_at=drop_at + timedelta(days=2),
            quiet_hours="drop",
        )
    )
    plan(shop, rows)
    unsubscribed = customers[1]
    with shop.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO crm.suppressions (channel, address, customer_id, reason, source, created_at) "
            f"VALUES ('email', 'c{unsubscribed}@example.ru', {unsubscribed}, 'unsubscribe', 'link', "
            "TIMESTAMP '2026-03-03 08:00:00')"
        )

    clock = Clock(day1)
    settings = DispatchSettings(max_wait_s=0, orphan_after=timedelta(0))
    # the outage: a closed port, tried every three hours for two days
    down = SmtpProvider("127.0.0.1", 1, sender, timeout=1)
    while clock.now < datetime(2026, 3, 4, 20, 0):
        Dispatcher(shop, down, signer, settings=settings, clock=clock, sleep=clock.sleep).run("email")
        clock.now += timedelta(hours=3)
    assert {r["state"] for r in ledger(shop).values()} <= {"planned", "dropped"}

    clock.now = datetime(2026, 3, 4, 20, 30)  # back at 23:30 Moscow; then every 90 minutes for three days
    with SmtpStandIn() as server:
        up = SmtpProvider("127.0.0.1", server.port, sender)
        while clock.now < datetime(2026, 3, 7, 20, 30):
            Dispatcher(shop, up, signer, settings=settings, clock=clock, sleep=clock.sleep).run("email")
            clock.now += timedelta(minutes=90)
        up.close()
        received = server.send_keys()

    states = {k: r for k, r in ledger(shop).items()}
    audit = audit_sent(shop)
    assert audit.ok, audit.summary()
    assert max(received.values()) == 1
    assert {k for k, r in states.items() if r["state"] == "sent"} == set(received)
    assert not any(k.startswith(f"o{unsubscribed}-") for k in received)
    assert {states[f"o{unsubscribed}-{n}"]["hold_reason"] for n in range(4)} == {"suppressed_address"}
    assert states["drop-step"]["state"] == "dropped"
    assert states["drop-step"]["hold_reason"] == "quiet_hours"
    # no burst: at most 2 emails a local day per customer, 4 h apart, and the backlog did go out
    assert len(received) >= 19 * 2
    held = [r for r in states.values() if (r["held_count"] or 0) > 0]
    assert held


def test_the_send_audit_finds_a_burst(duckdb_warehouse):
    """The audit is not vacuous: ledger rows sent at once, as the old dispatch did, are reported."""
    from delivery_shop import seed_shop

    from lifecycle.migrations import migrate

    migrate(duckdb_warehouse)
    seed_shop(duckdb_warehouse)
    at = NOON_MSK
    plan(
        duckdb_warehouse,
        [
            ledger_row(f"b{n}", 1, "ru/welcome/email_1", {}, state="sent", sent_at=at + timedelta(seconds=n))
            for n in range(4)
        ]
        + [
            ledger_row(
                "late", 2, "ru/welcome/email_1", {}, state="sent", sent_at=datetime(2026, 3, 2, 20, 30)
            )
        ],
    )
    audit = audit_sent(duckdb_warehouse)
    assert audit.violations["min_gap"] == ["b1", "b2", "b3"]
    assert audit.violations["daily_cap"] == ["b2", "b3"]
    assert audit.violations["quiet_hours"] == ["late"]


def test_a_message_that_was_not_sent_does_not_count_against_the_next(shop, signer, sender):
    """One sending slot, two emails to one customer under the real minimum gap. The server turns the first
    away (421 at RCPT TO: certainly not sent); the commit that writes that outcome also checks the second
    email, which must leave: a message that never left counts against no cap or gap. The first, tried again
    a moment later, is then held by the gap the second one opened."""
    (customer,) = add_customers(shop, 1)
    rows = [ledger_row(f"m{n}", customer, "ru/welcome/email_1", {}) for n in range(2)]
    plan(shop, rows)
    clock = Clock()  # 15:00 in Moscow
    waves: list[tuple[int, int]] = []
    with SmtpStandIn(faults={1: "rcpt421"}) as server:
        provider = SmtpProvider("127.0.0.1", server.port, sender, concurrency=1)
        dispatcher = Dispatcher(
            shop,
            provider,
            signer,
            settings=DispatchSettings(orphan_after=timedelta(0), render_processes=0),
            clock=clock,
            sleep=clock.sleep,
            policy=POLICY,
        )
        gate_wave = dispatcher._gate_wave

        def counted(conn, wave, report, write):
            waves.append((len(wave), len(write.not_sent)))
            return gate_wave(conn, wave, report, write)

        dispatcher._gate_wave = counted
        report = dispatcher.run("email")
        provider.close()
        received = server.send_keys()

    states = ledger(shop)
    assert waves[:2] == [(1, 0), (1, 1)]  # the second is checked in the commit that writes the first's 421
    assert set(received) == {"m1"}
    assert states["m1"]["state"] == "sent"
    assert (states["m0"]["state"], states["m0"]["hold_reason"]) == ("planned", "min_gap")
    assert report.sent == 1
    assert report.held == {"min_gap": 1}
    assert audit_sent(shop).ok
