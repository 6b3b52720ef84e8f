"""The customers of the claims in flight (consents, suppressions, what they received), held in memory by a
DuckDB dispatch between waves: why it may be (no other process can write while the dispatch holds the
file), how it follows the dispatch's own hand-overs, outcomes and the opt-outs its provider reports, and
that it gives the verdicts a fresh read gives, on DuckDB and PostgreSQL alike."""

import subprocess
import sys
import time
from datetime import timedelta

import sqlalchemy as sa
from delivery_shop import NOW, Clock, add_customers, ledger, ledger_row, plan, run_dispatch
from sms_shop import PHONES, sms_row
from smtp_standin import SmtpStandIn

from lifecycle.delivery.dispatch import Dispatcher, DispatchSettings
from lifecycle.delivery.gate import GateCustomer, HeldCustomers
from lifecycle.delivery.providers.smtp import SmtpProvider
from lifecycle.delivery.providers.twilio import TwilioProvider
from lifecycle.delivery.send_audit import audit_sent
from lifecycle.policy.config import Caps, PolicyConfig
from lifecycle.policy.rules import Message

TWO_EMAILS_A_DAY = PolicyConfig(
    caps=Caps(
        daily_total=10,
        daily_per_channel={"email": 2, "push": 10, "sms": 10},
        weekly_per_channel={"email": 10, "push": 10, "sms": 10},
        min_gap=timedelta(0),
    )
)


def test_the_held_customers_follow_the_dispatchs_own_hand_overs_and_outcomes():
    held = HeldCustomers()
    until = NOW + timedelta(hours=1)

    def row(customer_id, channel, at, kind, source, send_key):
        return {"customer_id": customer_id, "channel": channel, "at": at, "kind": kind, "source": source,
                "send_key": send_key}  # fmt: skip

    rows = [
        row(1, "email", NOW - timedelta(hours=2), "trigger", "ledger", "old"),
        row(1, "email", NOW + timedelta(minutes=30), "content", "mailing", None),
        row(2, "push", NOW, "trigger", "ledger", "x"),
    ]
    one = GateCustomer(1, "Europe/Moscow", {"email": True}, {"sms": {"unsubscribe"}})
    facts = {1: one, 2: GateCustomer(2, "UTC", {"push": True})}
    assert held.missing([2, 1, 1], NOW) == [1, 2]
    held.load(
        [1], facts, rows, until, held.generation
    )  # only customer 1 was asked for: customer 2's row is not taken
    assert held.missing([1, 2], NOW) == [2]
    assert held.customer(2, count_mailings=True) is None
    customer = held.customer(1, count_mailings=True)
    assert (customer.timezone, customer.consents, customer.suppressions) == (
        "Europe/Moscow",
        {"email": True},
        {"sms": {"unsubscribe"}},
    )
    assert [m.kind for m in customer.received] == ["trigger", "content"]
    # a copy: what a check adds to it or changes in it is not held
    customer.received.append(Message(NOW, "email", "trigger"))
    customer.consents["email"] = False
    customer.suppressions["sms"].add("complaint")
    assert held.customer(1, count_mailings=True) == GateCustomer(
        1, "Europe/Moscow", {"email": True}, {"sms": {"unsubscribe"}}, held.received(1, count_mailings=True)
    )
    assert [m.kind for m in held.received(1, count_mailings=True)] == ["trigger", "content"]
    assert [m.kind for m in held.received(1, count_mailings=False)] == ["trigger"]

    held.handed_over(1, "new", Message(NOW, "email", "trigger"))
    held.handed_over(3, "stray", Message(NOW, "email", "trigger"))  # a customer not held: nothing to add to
    assert len(held.received(1, count_mailings=False)) == 2
    assert held.missing([3], NOW) == [3]
    held.returned_unsent(1, "new")  # its request returned without sending it
    held.returned_unsent(1, "never-held")
    assert [m.at for m in held.received(1, count_mailings=False)] == [NOW - timedelta(hours=2)]

    # reloading a customer held already keeps the trigger messages the dispatch added since
    held.handed_over(1, "again", Message(NOW, "email", "trigger"))
    held.load([1, 2], facts, rows, until, held.generation)
    assert len(held.received(1, count_mailings=False)) == 2
    assert len(held.received(2, count_mailings=False)) == 1
    # past the mailings read ahead, the customers are read again: their mailings anew, their messages kept
    later = until + timedelta(hours=1)
    assert held.missing([1, 2], until + timedelta(seconds=1)) == [1, 2]
    mailing = row(1, "email", until + timedelta(minutes=30), "content", "mailing", None)
    held.load([1], facts, [mailing], later, held.generation)
    assert [m.kind for m in held.received(1, count_mailings=True)] == ["trigger", "trigger", "content"]
    assert held.missing([1, 2], until + timedelta(seconds=1)) == [2]
    # an opt-out recorded by the dispatch: everyone is read again, the messages held stay
    before = held.generation
    held.forget_facts()
    assert held.missing([1, 2], NOW) == [1, 2]
    assert held.customer(1, count_mailings=False) is None
    assert len(held.received(1, count_mailings=False)) == 2
    # what a transaction begun before that opt-out read is not held: it may not see the suppression
    assert held.load([1, 2], facts, rows, until, before) is False
    assert held.missing([1, 2], NOW) == [1, 2]
    withdrawn = GateCustomer(1, "Europe/Moscow", {"email": False})
    assert held.load([1], {1: withdrawn}, [], until, held.generation) is True
    assert held.customer(1, count_mailings=False).consents == {"email": False}
    assert len(held.customer(1, count_mailings=False).received) == 2
    held.clear()
    assert held.missing([1], NOW) == [1]
    assert held.received(1, count_mailings=True) == []


def _write_from_another_process(path: str) -> subprocess.CompletedProcess:
    code = (
        "import duckdb, sys\n"
        "con = duckdb.connect(sys.argv[1])\n"
        'con.execute("UPDATE crm.customers SET email_consent = FALSE WHERE customer_id = 1000")\n'
    )
    return subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, timeout=60)


def test_no_other_process_can_write_while_the_dispatch_holds_the_duckdb_file(duck_shop, signer, sender):
    """The premise of holding the customers: while the dispatch holds the DuckDB file, a write
    from any other process (a webhook, an ingest, another channel's dispatch) is refused at the lock; once
    the file is let go it goes through, and what was held is forgotten."""
    add_customers(duck_shop, 1)
    provider = SmtpProvider("127.0.0.1", 1, sender)
    dispatcher = Dispatcher(duck_shop, provider, signer, settings=DispatchSettings(orphan_after=timedelta(0)))
    path = duck_shop.url.database
    with dispatcher._anchor():
        dispatcher._held.load([1000], {}, [], NOW + timedelta(hours=1), dispatcher._held.generation)
        refused = _write_from_another_process(path)
        assert refused.returncode != 0
        assert "lock" in refused.stderr.lower()
        assert dispatcher._held.missing([1000], NOW) == []
    assert dispatcher._held.missing([1000], NOW) == [1000]
    done = _write_from_another_process(path)
    assert done.returncode == 0, done.stderr
    provider.close()


def test_caps_count_earlier_claims_and_a_mailing_that_falls_due_during_the_run(shop, signer, sender):
    """One email a claim, the clock moving a minute with each: the first email counts against the next
    claims' rows, and so does a content mailing scheduled half a minute after the run began (read ahead on
    DuckDB, read in each wave on PostgreSQL). Two emails a day: the first and the mailing fill the day."""
    (customer,) = add_customers(shop, 1)
    with shop.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO crm.content_mailings (mailing_id, name, channel, kind, audience, scheduled_at, "
            f"loaded_at) VALUES (1, 'Весенняя распродажа', 'email', 'content', 'all', "
            f"TIMESTAMP '{NOW + timedelta(seconds=30)}', TIMESTAMP '{NOW - timedelta(days=1)}')"
        )
    plan(shop, [ledger_row(f"m{n}", customer, "ru/welcome/email_1", {}) for n in range(3)])
    clock = Clock()
    with SmtpStandIn() as server:
        provider = SmtpProvider("127.0.0.1", server.port, sender, concurrency=1)
        send = provider.send

        def send_and_tick(batch):
            clock.now += timedelta(minutes=1)
            return send(batch)

        provider.send = send_and_tick
        dispatcher = Dispatcher(
            shop,
            provider,
            signer,
            settings=DispatchSettings(orphan_after=timedelta(0), claim_size=1, render_processes=0),
            clock=clock,
            sleep=clock.sleep,
            policy=TWO_EMAILS_A_DAY,
        )
        report = dispatcher.run("email")
        provider.close()
        received = server.send_keys()

    states = ledger(shop)
    assert set(received) == {"m0"}
    assert report.sent == 1
    assert report.held == {"daily_cap": 2}
    assert {states[k]["hold_reason"] for k in ("m1", "m2")} == {"daily_cap"}
    assert audit_sent(shop).ok


def test_an_opt_out_the_provider_reports_stops_the_next_waves_to_that_address(sms_shop, signer, twilio):
    """Twilio answers 21610 (the number unsubscribed by replying STOP) to the first of three SMS to one
    customer, sent one request at a time: the address is suppressed in the commit that writes that outcome,
    before that commit's wave is checked, so neither later SMS is handed over; on DuckDB the customers held
    for the claim are read again. Another customer's SMS in between still leaves."""
    twilio.unsubscribed.add(PHONES[11])
    plan(sms_shop, [sms_row("s11-1", 11), sms_row("s10", 10), sms_row("s11-2", 11), sms_row("s11-3", 11)])
    provider = TwilioProvider(
        twilio.account_sid, twilio.auth_token, base_url=twilio.url, sender="Elektro", concurrency=1
    )

    report = run_dispatch(sms_shop, provider, signer, "sms")

    rows = ledger(sms_shop)
    assert rows["s11-1"]["state"] == "failed"
    assert rows["s10"]["state"] == "sent"
    for key in ("s11-2", "s11-3"):
        assert (rows[key]["state"], rows[key]["hold_reason"]) == ("dropped", "suppressed_address")
        assert rows[key]["attempted_at"] is None
    assert report.opted_out == 1
    assert report.dropped == {"suppressed_address": 2}
    assert [form["To"] for form in twilio.created.values()] == [PHONES[10]]


def test_while_it_holds_the_file_a_duckdb_dispatch_runs_on_one_thread_then_puts_the_settings_back(
    duck_shop, signer, sender
):
    """Its statements are one-row UPDATEs and reads of a claim's rows: one DuckDB thread, not one per core,
    and a claim's customers joined with the customers table filter its scan by their keys (up to 2,000 of
    them, where DuckDB's default is 50). A process that keeps the file open with its own settings (a
    simulation) gets them back after the run."""
    duck_shop.keep_open()
    with duck_shop.begin() as conn:
        conn.exec_driver_sql("SET threads = 3")
        conn.exec_driver_sql("SET GLOBAL dynamic_or_filter_threshold = 70")
    (customer,) = add_customers(duck_shop, 1)
    plan(duck_shop, [ledger_row("t0", customer, "ru/welcome/email_1", {})])

    def settings() -> tuple[int, int]:
        with duck_shop.begin() as conn:
            return tuple(
                int(conn.exec_driver_sql(f"SELECT current_setting('{name}')").scalar())
                for name in ("threads", "dynamic_or_filter_threshold")
            )

    seen = []
    with SmtpStandIn() as server:
        provider = SmtpProvider("127.0.0.1", server.port, sender, concurrency=1)
        send = provider.send

        def send_and_look(batch):
            seen.append(settings())
            return send(batch)

        provider.send = send_and_look
        report = run_dispatch(duck_shop, provider, signer, "email")
        provider.close()

    assert report.sent == 1
    assert seen == [(1, 2000)]
    assert settings() == (3, 70)


def test_holding_the_duckdb_file_keeps_no_transaction_open(duck_shop, signer, sender):
    """The connection that holds the file holds no transaction: one left open would keep every older version
    of the ledger's rows alive for the whole hold, and each wave's UPDATE would scan them all. DuckDB
    checkpoints only when no other transaction is open, so a checkpoint taken while a message is being sent
    proves it."""
    duck_shop.keep_open()
    (customer,) = add_customers(duck_shop, 1)
    plan(duck_shop, [ledger_row("t0", customer, "ru/welcome/email_1", {})])
    checkpoints = []
    with SmtpStandIn() as server:
        provider = SmtpProvider("127.0.0.1", server.port, sender, concurrency=1)
        send = provider.send

        def send_and_checkpoint(batch):
            # The dispatch's other threads write in short transactions of their own (the next claim may be
            # claimed meanwhile): the checkpoint is tried again for a second, which a transaction kept open
            # for the whole hold would outlast.
            with duck_shop.engine.connect() as conn:
                for _ in range(50):
                    try:
                        conn.exec_driver_sql("CHECKPOINT")
                        checkpoints.append("done")
                        break
                    except sa.exc.DBAPIError as exc:  # "Cannot CHECKPOINT: there are other transactions…"
                        error = str(exc.orig)
                        conn.rollback()
                        time.sleep(0.02)
                else:
                    checkpoints.append(error)
            return send(batch)

        provider.send = send_and_checkpoint
        report = run_dispatch(duck_shop, provider, signer, "email")
        provider.close()

    assert report.sent == 1, report.summary()
    assert checkpoints == ["done"]
