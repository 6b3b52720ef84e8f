"""SMTP against a real local server (aiosmtpd): delivery, a per-recipient 550, a transient 451."""

import re
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from delivery_shop import add_customers, ledger, ledger_row, plan, run_dispatch
from smtp_standin import SmtpStandIn

from lifecycle.delivery.providers.smtp import SmtpProvider


class Mailbox:
    def __init__(self):
        self.messages, self.transient_left = [], 1

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == "reject@example.ru":
            return "550 5.1.1 mailbox unavailable"
        if address == "boris@example.ru" and self.transient_left:
            self.transient_left -= 1
            return "451 4.7.1 greylisted, try again"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted"


@pytest.fixture
def smtp_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


def test_smtp_partial_failures_touch_only_their_rows(duck_shop, signer, sender, smtp_server):
    mailbox, port = smtp_server
    plan(
        duck_shop,
        [
            ledger_row("a", 1, "ru/welcome/email_1", {}),
            ledger_row("b", 2, "ru/welcome/email_1", {}),
            ledger_row("r", 4, "ru/welcome/email_1", {}),
        ],
    )
    provider = SmtpProvider("127.0.0.1", port, sender, messages_per_connection=10)
    report = run_dispatch(duck_shop, provider, signer, "email")
    states = {k: (r["state"], r["last_error"]) for k, r in ledger(duck_shop).items()}
    assert states["a"][0] == "sent"
    assert states["b"][0] == "sent"
    assert states["r"][0] == "failed"
    assert "550" in states["r"][1]
    assert report.sent == 2
    assert report.failed == 1
    assert sorted(tos[0] for tos, _ in mailbox.messages) == ["anna@example.ru", "boris@example.ru"]
    _, message = mailbox.messages[0]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://crm.shop.example/lifecycle-webhooks/unsubscribe/")
    assert message.get_body(("plain",))
    assert message.get_body(("html",))


def test_unreachable_server_releases_rows(duck_shop, signer, sender):
    plan(duck_shop, [ledger_row("a", 1, "ru/welcome/email_1", {})])
    provider = SmtpProvider("127.0.0.1", 1, sender, timeout=1)
    report = run_dispatch(duck_shop, provider, signer, "email")
    # Four rounds in which the server took nothing (backoff 1, 2, 4 s between them), then the run gives up.
    assert (report.requests, report.released, report.sent) == (4, 4, 0)
    row = ledger(duck_shop)["a"]
    assert row["state"] == "planned"
    assert row["attempted_at"] is None


def _plan_many(warehouse, count):
    customers = add_customers(warehouse, count)
    plan(warehouse, [ledger_row(f"m{c}", c, "ru/welcome/email_1", {}) for c in customers])
    return [f"m{c}" for c in customers]


def test_a_421_closes_the_connection_and_the_next_message_opens_a_new_one(duck_shop, signer, sender):
    """A 421 on every 7th transaction (at MAIL, RCPT or after the body): nothing lost, nothing twice."""
    keys = _plan_many(duck_shop, 40)
    with SmtpStandIn() as server:
        faults = ["mail421", "rcpt421", "data421"]
        server.faults = {n: faults[(n // 7) % 3] for n in range(7, 200, 7)}
        provider = SmtpProvider("127.0.0.1", server.port, sender, messages_per_connection=50)
        try:
            run_dispatch(duck_shop, provider, signer, "email")
        finally:
            provider.close()
        received = server.send_keys()
    rows = ledger(duck_shop)
    assert {rows[k]["state"] for k in keys} == {"sent"}
    assert sorted(received) == sorted(keys)
    assert max(received.values()) == 1
    assert server.violations == []


def test_a_connection_dropped_after_the_body_is_unknown_the_rest_goes_on(duck_shop, signer, sender):
    keys = _plan_many(duck_shop, 10)
    with SmtpStandIn(faults={3: "drop_after_body"}) as server:
        provider = SmtpProvider("127.0.0.1", server.port, sender)
        report = run_dispatch(duck_shop, provider, signer, "email")
        provider.close()
        received = server.send_keys()
    states = {k: ledger(duck_shop)[k]["state"] for k in keys}
    assert sorted(states.values()).count("unknown") == 1
    assert sorted(states.values()).count("sent") == 9
    assert (report.sent, report.unknown) == (9, 1)
    # the ambiguous one did arrive: 'unknown' never means resent
    assert sorted(received) == sorted(keys)
    assert max(received.values()) == 1


@pytest.mark.parametrize("eight_bit", [True, False])
def test_bodies_are_8bit_only_to_a_server_that_advertises_8bitmime(duck_shop, signer, sender, eight_bit):
    keys = _plan_many(duck_shop, 2)
    with SmtpStandIn(eight_bit=eight_bit) as server:
        provider = SmtpProvider("127.0.0.1", server.port, sender)
        run_dispatch(duck_shop, provider, signer, "email")
        provider.close()
    assert server.violations == []
    assert sorted(server.send_keys()) == sorted(keys)
    _, message = server.received[0]
    encodings = {part["Content-Transfer-Encoding"] for part in message.walk() if not part.is_multipart()}
    assert encodings == ({"8bit"} if eight_bit else {"base64"})
    assert re.search("[а-яА-Я]", message.get_body(("plain",)).get_content())
