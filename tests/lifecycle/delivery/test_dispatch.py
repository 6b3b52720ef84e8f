"""The ledger state machine end to end through the sandbox provider, on DuckDB and PostgreSQL."""

import email
import json
from datetime import timedelta
from email import policy

import pytest
from delivery_shop import NOW, Clock, ledger, ledger_row, plan, uncapped_policy

from lifecycle.delivery.dispatch import Dispatcher, DispatchSettings
from lifecycle.delivery.messages import Outcome, ProviderResponseError
from lifecycle.delivery.providers.base import Provider
from lifecycle.delivery.providers.sandbox import SandboxProvider
from lifecycle.policy.config import load_policy


def dispatcher(warehouse, provider, signer, clock=None, policy=None, **settings):
    """A dispatcher on the test clock; without caps unless a policy is given (the shop has 4 customers)."""
    clock = clock or Clock()
    return Dispatcher(
        warehouse,
        provider,
        signer,
        settings=DispatchSettings(**settings),
        clock=clock,
        sleep=clock.sleep,
        policy=policy or uncapped_policy(),
    )


def test_sandbox_dispatch_renders_sends_and_records(shop, signer, sender, tmp_path):
    plan(
        shop,
        [
            ledger_row(
                "cart-1", 1, "ru/abandoned_cart/email_4", {"product_id": 100, "cart_product_ids": [200]}
            ),
            ledger_row("post-2", 2, "ru/post_purchase/email_4", {"order_id": 500}),
            ledger_row("bad-addr-3", 3, "ru/welcome/email_1", {}),
            ledger_row("no-order-1", 1, "ru/post_purchase/email_1", {}),
            ledger_row("push-2", 2, "ru/price_drop/push_1", {"product_id": 100}),
            ledger_row("late-1", 1, "ru/welcome/email_2", {}, expires_at=NOW - timedelta(minutes=1)),
            ledger_row("future-1", 1, "ru/welcome/email_3", {}, send_after=NOW + timedelta(hours=1)),
        ],
    )
    provider = SandboxProvider(tmp_path, sender)
    email_report = dispatcher(shop, provider, signer, policy=load_policy()).run("email")
    # Boris got an email at NOW: the send-time check holds his push for the minimum gap (4 h).
    held = dispatcher(shop, provider, signer, policy=load_policy()).run("push")
    assert held.held == {"min_gap": 1}
    assert ledger(shop)["push-2"]["send_after"] == NOW + timedelta(hours=4)
    later = Clock(NOW + timedelta(hours=4))
    push_report = dispatcher(shop, provider, signer, later, load_policy()).run("push")

    rows = ledger(shop)
    assert {k: r["state"] for k, r in rows.items()} == {
        "cart-1": "sent",
        "post-2": "sent",
        "bad-addr-3": "failed",
        "no-order-1": "failed",
        "push-2": "sent",
        "late-1": "expired",
        "future-1": "planned",
    }
    assert rows["bad-addr-3"]["last_error"].startswith("unaddressable: invalid email")
    assert "render: ru/post_purchase/email_1" in rows["no-order-1"]["last_error"]
    assert (email_report.sent, email_report.failed, email_report.expired) == (2, 2, 1)
    line = email_report.summary()  # what the task log says, in words
    assert line.startswith("email via sandbox: claimed 4, sent 2; failed 2 (")
    assert "unaddressable 1" in line
    assert "render 1" in line
    assert "expired 1" in line
    assert held.summary().startswith(
        "push via sandbox: claimed 1, sent 0; held back at send time 1 (min_gap 1)"
    )
    assert push_report.sent == 1

    cart = email.message_from_bytes(
        next((tmp_path / "email").glob("cart-1-*.eml")).read_bytes(), policy=policy.default
    )
    assert cart["To"] == "anna@example.ru"
    assert cart["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = cart["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]
    assert signer.verify_unsubscribe(token) == "cart-1"
    html = cart.get_body(("html",)).get_content()
    assert "Nova Phone 5 &lt;Pro&gt;" in html
    assert "Чехол для Nova Phone 5" in html
    with shop.begin() as conn:
        (code,) = conn.exec_driver_sql("SELECT code FROM crm.promo_codes").one()
    assert code.startswith("CART-")
    assert code in html
    # post-purchase recommendations are the bought phone's accessories
    post = (next((tmp_path / "email").glob("post-2-*.html"))).read_text()
    assert "Стекло для Nova Phone 5" in post
    push = json.loads(next((tmp_path / "push").glob("push-2-*.json")).read_text())
    assert set(push["tokens"]) == {"tok-boris", "tok-boris-dead"}
    assert "59\u00a0990" in push["body"]

    # A second run finds nothing due: nothing is sent twice.
    again = dispatcher(shop, provider, signer).run("email")
    assert again.claimed == 0


class Flaky(Provider):
    """A non-idempotent provider: the first call is refused with 429, the second goes through."""

    name = "flaky"
    channels = frozenset({"email"})
    max_batch = 2

    def __init__(self, answers):
        self.answers, self.calls = list(answers), []

    def send(self, batch):
        self.calls.append([m.send_key for m in batch])
        answer = self.answers.pop(0) if self.answers else "sent"
        if isinstance(answer, ProviderResponseError):
            raise answer
        return [Outcome(m.send_key, answer, provider_message_id="id") for m in batch]


def test_retry_after_is_honoured_then_sent(duck_shop, signer):
    plan(duck_shop, [ledger_row(f"w-{i}", 1, "ru/welcome/email_1", {}) for i in range(3)])
    clock = Clock()
    provider = Flaky([ProviderResponseError("retry", "429", retry_after=7.0)])
    report = dispatcher(duck_shop, provider, signer, clock).run("email")
    assert report.sent == 3
    assert clock.waits == [7.0]
    assert sorted(k for call in provider.calls for k in call) == ["w-0", "w-0", "w-1", "w-1", "w-2"]


def test_ambiguous_failure_is_unknown_and_never_resent(duck_shop, signer):
    plan(duck_shop, [ledger_row("w-0", 1, "ru/welcome/email_1", {})])
    provider = Flaky([ProviderResponseError("ambiguous", "HTTP 500")])
    assert dispatcher(duck_shop, provider, signer).run("email").unknown == 1
    assert dispatcher(duck_shop, provider, signer).run("email").claimed == 0
    assert provider.calls == [["w-0"]]
    assert ledger(duck_shop)["w-0"]["state"] == "unknown"


def test_a_long_retry_after_releases_rows_for_a_later_run(duck_shop, signer):
    plan(duck_shop, [ledger_row("w-0", 1, "ru/welcome/email_1", {})])
    provider = Flaky([ProviderResponseError("retry", "429", retry_after=3600)])
    report = dispatcher(duck_shop, provider, signer).run("email")
    assert report.released == 1
    assert ledger(duck_shop)["w-0"]["state"] == "planned"
    assert ledger(duck_shop)["w-0"]["send_after"] == NOW + timedelta(hours=1)
    assert dispatcher(duck_shop, provider, signer).run("email").claimed == 0
    later = Clock(NOW + timedelta(hours=1))
    assert dispatcher(duck_shop, provider, signer, later).run("email").sent == 1


@pytest.mark.parametrize(("idempotent", "after_crash"), [(False, "unknown"), (True, "sent")])
def test_a_crash_mid_send_never_resends_blindly(duck_shop, signer, sender, tmp_path, idempotent, after_crash):
    """A task killed after claiming leaves rows 'sending'; the retried task settles them first."""
    plan(duck_shop, [ledger_row("w-0", 1, "ru/welcome/email_1", {})])

    class Crashing(SandboxProvider):
        name = "crashy"

        def send(self, batch):
            raise SystemExit("worker killed")

    crashing = Crashing(tmp_path, sender)
    crashing.idempotent = idempotent
    with pytest.raises(SystemExit):
        dispatcher(duck_shop, crashing, signer, orphan_after=timedelta(0)).run("email")
    assert ledger(duck_shop)["w-0"]["state"] == "sending"

    retried = SandboxProvider(tmp_path, sender)
    retried.name, retried.idempotent = "crashy", idempotent
    report = dispatcher(duck_shop, retried, signer, orphan_after=timedelta(0)).run("email")
    assert report.orphans_recovered == 1
    assert ledger(duck_shop)["w-0"]["state"] == after_crash
    assert len(list((tmp_path / "email").glob("*.eml"))) == (1 if idempotent else 0)


def test_one_click_unsubscribe_only_with_an_https_link(duck_shop, sender, tmp_path):
    """RFC 8058: List-Unsubscribe-Post goes only with an HTTPS URI; an http:// links base keeps the plain
    List-Unsubscribe header (RFC 2369) and drops the one-click promise."""
    from delivery_shop import SECRET

    from lifecycle.delivery.signing import LinkSigner

    plan(duck_shop, [ledger_row("w-1", 1, "ru/welcome/email_1", {})])
    signer = LinkSigner(SECRET, "http://localhost:8080/lifecycle-webhooks")
    dispatcher(duck_shop, SandboxProvider(tmp_path, sender), signer).run("email")
    message = email.message_from_bytes(
        next((tmp_path / "email").glob("w-1-*.eml")).read_bytes(), policy=policy.default
    )
    assert message["List-Unsubscribe"].startswith("<http://localhost:8080/lifecycle-webhooks/unsubscribe/")
    assert message["List-Unsubscribe-Post"] is None
