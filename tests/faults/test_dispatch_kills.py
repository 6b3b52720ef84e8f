"""Dispatch processes killed with SIGKILL at random moments, many times, on DuckDB and PostgreSQL.

Each scenario plans messages (one per customer, in a time zone where it is about noon, so the contact
policy lets them go), then starts a real dispatch process (``dispatch_worker.py``) against a local
provider stand-in and kills it at a random moment, ``KILLS`` times; a last process finishes the work.
Then what the stand-in actually received is compared with the ledger:

* duplicated: messages received more than once (must be 0);
* lost: messages never received and never going to be (must stay within the requests that were in flight
  when a kill landed: at most concurrency × request size per kill; 0 with a deduplicating provider);
* phantom: the ledger says 'sent' but nothing arrived (must be 0);
* policy violations at send time (the send audit; must be 0), and nothing left 'planned' or 'sending'.

The SMS scenarios give every 20th customer a number the gateway refuses (SMSC: an error for that number
inside an otherwise accepted request; Twilio: 400 21614): those messages must end 'failed' and are counted
as refused, not lost.

``make test-faults`` runs this suite (CI too); ``-s`` prints one line of figures per scenario, and
``LIFECYCLE_FAULT_REPORT=file`` appends them as JSON. ``LIFECYCLE_FAULT_KILLS`` sets the kills per scenario
(default 20); ``LIFECYCLE_FAULT_PYTHONPATH`` puts another checkout's ``include`` first on the workers' path,
to measure the same scenarios against another version of the dispatcher.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from delivery_shop import add_customers, ledger, ledger_row, midday_zone, plan, seed_shop
from provider_standins import OneSignalStandIn, SendGridStandIn
from sms_standins import SmscStandIn, TwilioStandIn
from smtp_standin import SmtpStandIn

from lifecycle.delivery.feedback import FeedbackEvent, store_events
from lifecycle.delivery.providers.onesignal import idempotency_key
from lifecycle.delivery.send_audit import audit_sent
from lifecycle.migrations import migrate

WORKER = Path(__file__).with_name("dispatch_worker.py")
KILLS = int(os.environ.get("LIFECYCLE_FAULT_KILLS", "20"))
REPORT = os.environ.get("LIFECYCLE_FAULT_REPORT")

pytestmark = pytest.mark.faults


@dataclass
class Tally:
    scenario: str
    engine: str
    kills: int
    messages: int
    received: int
    duplicated: int
    lost: int
    ambiguous: int
    phantom: int
    policy_violations: int
    unsettled: int
    allowed_loss: int
    #: messages to numbers the gateway refuses, 'failed' in the ledger (SMS scenarios)
    refused: int = 0

    def line(self) -> str:
        return " | ".join(f"{k}={v}" for k, v in asdict(self).items())


def _url(warehouse) -> str:
    return warehouse.url.render_as_string(hide_password=False)


def _start(warehouse, provider: str, target: str, **options) -> subprocess.Popen:
    command = [sys.executable, str(WORKER), "--warehouse", _url(warehouse), "--provider", provider]
    command += ["--target", target]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    env = dict(os.environ)
    if os.environ.get("LIFECYCLE_FAULT_PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["LIFECYCLE_FAULT_PYTHONPATH"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline()
    if line.strip() != "ready":
        process.kill()
        raise AssertionError(f"worker did not start: {line}{process.stderr.read()}")
    return process


def _kill_at_random(
    process: subprocess.Popen,
    rng: random.Random,
    max_delay_s: float,
    sending: Callable[[], bool] | None = None,
) -> bool:
    """Kill ``process`` a random time after it started, or, given ``sending``, after ``sending()`` says its
    first request reached the stand-in (claiming and rendering can take longer than the sending itself on
    a busy machine; this lands the kills among the requests)."""
    if sending is not None:
        deadline = time.monotonic() + 120
        while process.poll() is None and not sending() and time.monotonic() < deadline:
            time.sleep(0.005)
    time.sleep(rng.uniform(0.0, max_delay_s))
    killed = process.poll() is None
    if killed:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    process.stdout.close()
    process.stderr.close()
    return killed


def _kill_repeatedly(
    warehouse,
    provider: str,
    target: str,
    seed: int,
    max_delay_s: float,
    more,
    requests: Callable[[], int] | None = None,
    **options,
) -> int:
    """Start and kill dispatch processes until ``KILLS`` kills landed on a running process (a process that
    finished first does not count), or three times as many attempts were made. When everything is sent
    before that, ``more()`` plans another batch, so every kill meets work in progress. ``requests`` (the
    stand-in's count of requests) times each kill from the process's first request."""
    rng = random.Random(seed)
    kills = 0
    for _ in range(3 * KILLS):
        states = Counter(r["state"] for r in ledger(warehouse).values())
        if not states["planned"] and not states["sending"]:
            more()
        sending = None
        if requests is not None:
            before = requests()

            def sending(before=before) -> bool:
                return requests() > before

        process = _start(warehouse, provider, target, **options)
        kills += _kill_at_random(process, rng, max_delay_s, sending)
        if kills >= KILLS:
            break
    return kills


def _finish(warehouse, provider: str, target: str, **options) -> None:
    """Run to completion until nothing is left to send (released rows may need a later run)."""
    for _ in range(5):
        process = _start(warehouse, provider, target, **options)
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
        states = Counter(r["state"] for r in ledger(warehouse).values())
        if not states["planned"] and not states["sending"]:
            return
        time.sleep(2.5)  # released rows wait for their backoff


def _plan(warehouse, count: int, channel: str = "email", first_id: int = 1000) -> list[str]:
    """``count`` messages to as many new customers; the first call also builds the shop."""
    if first_id == 1000:
        migrate(warehouse)
        seed_shop(warehouse)
    now = datetime.now(UTC).replace(tzinfo=None)
    customers = add_customers(warehouse, count, first_id=first_id, timezone=midday_zone(now))
    template = {"email": "ru/welcome/email_1", "push": "ru/price_drop/push_1", "sms": "ru/win_back/sms_1"}
    template = template[channel]
    context = {"product_id": 100} if channel == "push" else {}
    if channel == "sms":
        with warehouse.begin() as conn:
            for c in customers:
                conn.execute(
                    sa.text("UPDATE crm.customers SET phone = :p, sms_consent = TRUE WHERE customer_id = :c"),
                    {"p": phone(c), "c": c},
                )
    plan(
        warehouse,
        [
            ledger_row(
                f"f{c}",
                c,
                template,
                context,
                channel=channel,
                planned_at=now,
                send_after=now - timedelta(minutes=1),
                local_send_date=now.date(),
                expires_at=now + timedelta(days=1),
                updated_at=now,
            )
            for c in customers
        ],
    )
    return [f"f{c}" for c in customers]


def phone(customer_id: int) -> str:
    return f"+7916{customer_id:07d}"


def refused(customer_id: int) -> bool:
    """Every 20th customer's number is one the SMS gateway refuses."""
    return customer_id % 20 == 7


def _tally(
    scenario, warehouse, keys, received: Counter, kills: int, allowed_per_kill: int, refused_keys=frozenset()
) -> Tally:
    rows = ledger(warehouse)
    states = Counter(rows[k]["state"] for k in keys)
    lost = sum(1 for k in keys if rows[k]["state"] != "sent" and not received[k] and k not in refused_keys)
    tally = Tally(
        scenario=scenario,
        engine=warehouse.dialect,
        kills=kills,
        messages=len(keys),
        received=sum(1 for k in keys if received[k]),
        duplicated=sum(c - 1 for c in received.values() if c > 1),
        lost=lost,
        ambiguous=states["unknown"],
        phantom=sum(1 for k in keys if rows[k]["state"] == "sent" and not received[k]),
        unsettled=states["planned"] + states["sending"],
        refused=sum(1 for k in keys if k in refused_keys and rows[k]["state"] == "failed"),
        policy_violations=audit_sent(warehouse).total,
        allowed_loss=kills * allowed_per_kill,
    )
    print(f"\n{tally.line()}")
    if REPORT:
        with open(REPORT, "a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(tally)) + "\n")
    return tally


def _more(warehouse, keys: list[str], count: int, channel: str = "email", on_plan=None):
    """Plans another batch of ``count`` messages into ``keys`` (new customers each time); ``on_plan`` is
    told the new keys."""

    def plan_more() -> None:
        new = _plan(warehouse, count, channel, first_id=1000 + 100_000 * (len(keys) // count))
        keys.extend(new)
        if on_plan:
            on_plan(new)

    return plan_more


def _assert_promises_kept(tally: Tally) -> None:
    """Every kill landed, nothing is left half-done, nothing twice, no phantom, no rule broken, and what is
    lost or ambiguous stays within the requests that were in flight."""
    assert tally.kills >= KILLS
    assert tally.unsettled == 0
    assert tally.duplicated == 0
    assert tally.phantom == 0
    assert tally.policy_violations == 0
    assert tally.lost <= tally.allowed_loss
    assert tally.ambiguous <= tally.allowed_loss


def test_smtp_dispatch_killed_at_random(warehouse):
    """300 emails through a real SMTP server, one message per request: a kill can leave at most the
    message whose transaction was under way ambiguous."""
    keys = _plan(warehouse, 300)
    with SmtpStandIn(delay_s=0.01) as server:
        target = f"127.0.0.1:{server.port}"
        kills = _kill_repeatedly(warehouse, "smtp", target, 11, 1.0, _more(warehouse, keys, 300))
        _finish(warehouse, "smtp", target)
        received = server.send_keys()
        assert server.violations == []
    tally = _tally("smtp, 1 message per request", warehouse, keys, received, kills, 1)
    _assert_promises_kept(tally)


def test_sendgrid_dispatch_killed_at_random_while_rendering_and_sending(warehouse):
    """2,000 emails with a pass-through template, requests of 100 on 2 threads: claimed rows not yet handed
    over are never lost; only the requests in flight can be ambiguous."""
    keys = _plan(warehouse, 2000)
    with SendGridStandIn(latency_s=0.3) as server:
        options = {"max_batch": 100, "concurrency": 2}
        more = _more(warehouse, keys, 2000)
        kills = _kill_repeatedly(warehouse, "sendgrid", server.url, 12, 1.5, more, **options)
        _finish(warehouse, "sendgrid", server.url, **options)
        received = Counter(server.accepted_keys())
        assert server.violations == []
    tally = _tally("sendgrid, requests of 100, 2 threads", warehouse, keys, received, kills, 2 * 100)
    _assert_promises_kept(tally)


def test_onesignal_dispatch_killed_at_random_loses_nothing(warehouse):
    """OneSignal deduplicates by our idempotency key: a killed request is simply asked again."""
    keys = _plan(warehouse, 300, channel="push")
    with OneSignalStandIn(latency_s=0.02) as server:
        more = _more(warehouse, keys, 300, "push")
        kills = _kill_repeatedly(warehouse, "onesignal", server.url, 13, 1.0, more, channel="push")
        _finish(warehouse, "onesignal", server.url, channel="push")
        assert server.violations == []
        by_key = {idempotency_key(k): k for k in keys}
        received = Counter(by_key[key] for key in server.delivered)
    tally = _tally("onesignal (idempotent), 4 threads", warehouse, keys, received, kills, 0)
    _assert_promises_kept(tally)
    assert tally.lost == 0
    assert tally.ambiguous == 0


def _sms_keys_received(delivered: list[tuple[str, str, str]], keys: list[str]) -> Counter:
    """What the subscribers got, by send key (each customer has their own number and one message)."""
    by_phone = {phone(int(k[1:])): k for k in keys}
    return Counter(by_phone[number] for number, _text, _sender in delivered)


def _refused_keys(warehouse, keys: list[str]) -> set[str]:
    """The messages to refused numbers; each must have failed with the gateway's refusal, never be sent."""
    rows = ledger(warehouse)
    refused_keys = {k for k in keys if refused(int(k[1:]))}
    for k in refused_keys:
        assert rows[k]["state"] in ("failed", "unknown"), (k, rows[k]["state"])
        if rows[k]["state"] == "failed":
            assert rows[k]["last_error"].startswith(("smsc refused", "twilio 21614")), rows[k]["last_error"]
    return refused_keys


def test_smsc_dispatch_of_many_messages_per_request_killed_at_random(warehouse):
    """SMSC takes up to 50 personalised messages per request (``list``) and refuses bad numbers alone inside
    an accepted request; no idempotency key: a killed request's messages are 'unknown' and never resent, so
    at most the requests in flight (2 threads x 50) per kill are lost or ambiguous."""
    with SmscStandIn(latency_s=0.2) as server:
        server.balance = 1e9

        def refuse(new_keys: list[str]) -> None:
            server.undeliverable |= {phone(int(k[1:])) for k in new_keys if refused(int(k[1:]))}

        keys = _plan(warehouse, 600, "sms")
        refuse(keys)
        more = _more(warehouse, keys, 600, "sms", on_plan=refuse)
        options = {"channel": "sms", "max_batch": 50, "concurrency": 2}
        kills = _kill_repeatedly(
            warehouse, "smsc", server.url, 14, 1.5, more, requests=lambda: len(server.requests), **options
        )
        _finish(warehouse, "smsc", server.url, **options)
        assert server.violations == []
        received = _sms_keys_received(server.delivered, keys)
        multi = [r for r in server.requests if b"list=" in r.body]
    refused_keys = _refused_keys(warehouse, keys)
    tally = _tally(
        "smsc, requests of 50 (list), 2 threads", warehouse, keys, received, kills, 2 * 50, refused_keys
    )
    _assert_promises_kept(tally)
    assert multi, "no request carried several messages"
    assert tally.refused > 0


def test_twilio_dispatch_killed_at_random(warehouse):
    """Twilio takes one message per request and no idempotency key: a kill can lose or leave ambiguous at
    most the 4 requests in flight; a refused number (21614) fails alone."""
    with TwilioStandIn(latency_s=0.02) as server:

        def refuse(new_keys: list[str]) -> None:
            server.not_mobile |= {phone(int(k[1:])) for k in new_keys if refused(int(k[1:]))}

        keys = _plan(warehouse, 300, "sms")
        refuse(keys)
        more = _more(warehouse, keys, 300, "sms", on_plan=refuse)
        options = {"channel": "sms", "concurrency": 4}
        kills = _kill_repeatedly(
            warehouse, "twilio", server.url, 15, 1.0, more, requests=lambda: len(server.requests), **options
        )
        _finish(warehouse, "twilio", server.url, **options)
        assert server.violations == []
        received = Counter(_twilio_keys(server, keys))
    refused_keys = _refused_keys(warehouse, keys)
    tally = _tally(
        "twilio, 1 message per request, 4 threads", warehouse, keys, received, kills, 4, refused_keys
    )
    _assert_promises_kept(tally)
    assert tally.refused > 0


def _twilio_keys(server: TwilioStandIn, keys: list[str]) -> list[str]:
    by_phone = {phone(int(k[1:])): k for k in keys}
    return [by_phone[form["To"]] for form in server.created.values()]


@pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)
def test_a_duckdb_dispatch_killed_before_its_claim_returned_leaves_a_journal_the_next_one_applies(warehouse):
    """On DuckDB each wave appends its verdicts and outcomes to the hand-over journal, and the ledger gets
    them once the claim's requests have returned. A process killed as its 6th request starts (one message
    per request, one slot: 5 answered, the 6th handed over) has written nothing of its claim to the ledger,
    every wave of it to the journal; a delivery report naming a message sent meanwhile finds it there, and
    the next dispatch applies the journal, as the waves had it, before it recovers anything."""
    keys = _plan(warehouse, 12)
    with SmtpStandIn() as server:
        target = f"127.0.0.1:{server.port}"
        process = _start(warehouse, "smtp", target, concurrency=1, kill_at_request=6)
        process.wait(timeout=120)
        process.stdout.close()
        process.stderr.close()
        assert process.returncode == -signal.SIGKILL
        received_at_kill = server.send_keys()
        rows = ledger(warehouse)
        with warehouse.begin() as conn:
            journal = conn.exec_driver_sql(
                "SELECT send_key, is_outcome, state, provider_message_id, handed_at FROM crm.send_handovers"
            ).all()
        answered = {j.send_key for j in journal if j.is_outcome}
        handed = {j.send_key: j.handed_at for j in journal if not j.is_outcome}
        assert len(received_at_kill) == 5
        assert set(received_at_kill.values()) == {1}
        assert answered == set(received_at_kill)
        assert {j.state for j in journal} == {"sending", "sent"}
        assert len(handed) == 6
        assert set(handed) > answered
        # nothing of the claim reached the ledger: every row still claimed, none marked handed over
        assert {(rows[k]["state"], rows[k]["attempted_at"]) for k in keys} == {("sending", None)}

        # a delivery report for a message whose outcome is only in the journal finds its key
        reported = next(j for j in journal if j.is_outcome)
        event = FeedbackEvent(
            "smtp", "report-1", "delivered", None, None, datetime.now(UTC).replace(tzinfo=None),
            provider_message_id=reported.provider_message_id,
        )  # fmt: skip
        assert store_events(warehouse, [event]) == 1
        with warehouse.begin() as conn:
            stored = conn.exec_driver_sql(
                "SELECT send_key FROM crm.message_events WHERE provider_event_id = 'report-1'"
            ).scalar_one()
        assert stored == reported.send_key

        _finish(warehouse, "smtp", target)
        received = server.send_keys()
    rows = ledger(warehouse)
    (in_flight,) = set(handed) - answered
    assert set(received.values()) == {1}
    assert set(received) == set(keys) - {in_flight}
    assert rows[in_flight]["state"] == "unknown"  # handed over, never answered: not sent again
    assert all(rows[k]["state"] == "sent" for k in keys if k != in_flight)
    for key in answered:  # applied as the waves had it: handed over when their wave was checked
        assert rows[key]["attempted_at"] == rows[key]["sent_at"] == handed[key]
    assert rows[reported.send_key]["delivery_status"] == "delivered"
    with warehouse.begin() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM crm.send_handovers").scalar_one() == 0
    assert audit_sent(warehouse).total == 0
