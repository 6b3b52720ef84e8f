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
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from delivery_shop import add_customers, ledger, ledger_row, midday_zone, plan, seed_shop
from provider_standins import OneSignalStandIn, SendGridStandIn
from smtp_standin import SmtpStandIn

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


def _kill_at_random(process: subprocess.Popen, rng: random.Random, max_delay_s: float) -> bool:
    time.sleep(rng.uniform(0.0, max_delay_s))
    killed = process.poll() is None
    if killed:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    process.stdout.close()
    process.stderr.close()
    return killed


def _kill_repeatedly(
    warehouse, provider: str, target: str, seed: int, max_delay_s: float, more, **options
) -> int:
    """Start and kill dispatch processes until ``KILLS`` kills landed on a running process (a process that
    finished first does not count), or three times as many attempts were made. When everything is sent
    before that, ``more()`` plans another batch, so every kill meets work in progress."""
    rng = random.Random(seed)
    kills = 0
    for _ in range(3 * KILLS):
        states = Counter(r["state"] for r in ledger(warehouse).values())
        if not states["planned"] and not states["sending"]:
            more()
        kills += _kill_at_random(_start(warehouse, provider, target, **options), rng, max_delay_s)
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
    template = "ru/welcome/email_1" if channel == "email" else "ru/price_drop/push_1"
    context = {} if channel == "email" else {"product_id": 100}
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


def _tally(scenario, warehouse, keys, received: Counter, kills: int, allowed_per_kill: int) -> Tally:
    rows = ledger(warehouse)
    states = Counter(rows[k]["state"] for k in keys)
    lost = sum(1 for k in keys if rows[k]["state"] != "sent" and not received[k])
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
        policy_violations=audit_sent(warehouse).total,
        allowed_loss=kills * allowed_per_kill,
    )
    print(f"\n{tally.line()}")
    if REPORT:
        with open(REPORT, "a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(tally)) + "\n")
    return tally


def _more(warehouse, keys: list[str], count: int, channel: str = "email"):
    """Plans another batch of ``count`` messages into ``keys`` (new customers each time)."""

    def plan_more() -> None:
        keys.extend(_plan(warehouse, count, channel, first_id=1000 + 100_000 * (len(keys) // count)))

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
