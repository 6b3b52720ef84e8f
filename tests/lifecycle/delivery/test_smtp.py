"""SMTP against a real local server (aiosmtpd): delivery, a per-recipient 550, a transient 451."""

import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from delivery_shop import ledger, ledger_row, plan, run_dispatch

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
    provider = SmtpProvider("127.0.0.1", port, sender, max_batch=10)
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
