"""SendGrid v3 Mail Send against a local stand-in that checks the documented contract."""

import time
from datetime import timedelta

import pytest
from delivery_shop import Clock, add_customers, ledger, ledger_row, plan, run_dispatch
from provider_standins import Reply, SendGridStandIn

from lifecycle.delivery.providers.sendgrid import SendGridProvider


@pytest.fixture
def sendgrid():
    with SendGridStandIn() as server:
        yield server
    assert server.violations == []


def run(warehouse, signer, provider, sleeps=None):
    clock = Clock()
    report = run_dispatch(warehouse, provider, signer, "email", clock)
    if sleeps is not None:
        sleeps.extend(clock.waits)
    return report


def keys(warehouse, n):
    """n welcome emails to n new customers (distinct addresses)."""
    customers = add_customers(warehouse, n)
    return [ledger_row(f"k{i:03}", c, "ru/welcome/email_1", {}) for i, c in enumerate(customers)]


def test_batches_of_personalizations_with_pass_through_template(duck_shop, signer, sender, sendgrid):
    plan(duck_shop, keys(duck_shop, 5))
    provider = SendGridProvider(
        SendGridStandIn.api_key, sender, sendgrid.url, template_id="d-pass", concurrency=1
    )
    provider.max_batch = 2  # the stand-in allows 1000; small batches show the batching
    report = run(duck_shop, signer, provider)
    assert report.sent == 5
    assert [len(r.json()["personalizations"]) for r in sendgrid.requests] == [2, 2, 1]
    first = sendgrid.requests[0].json()["personalizations"][0]
    assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["dynamic_template_data"]["html"].startswith("<!DOCTYPE html>")
    assert all(r["provider_message_id"] for r in ledger(duck_shop).values())


def test_429_waits_for_ratelimit_reset_then_sends_once(duck_shop, signer, sender, sendgrid):
    plan(duck_shop, keys(duck_shop, 3))
    sendgrid.script(
        Reply(
            429,
            {"errors": [{"message": "too many requests"}]},
            {"X-RateLimit-Reset": str(int(time.time()) + 30)},
        )
    )
    sleeps = []
    report = run(duck_shop, signer, SendGridProvider(SendGridStandIn.api_key, sender, sendgrid.url), sleeps)
    assert report.sent == 3
    assert sleeps
    assert 20 <= sleeps[0] <= 30  # until the reset epoch (the test clock does not really sleep)
    assert sorted(sendgrid.accepted_keys()) == ["k000", "k001", "k002"]


def test_timeout_and_500_are_unknown_and_never_resent(duck_shop, signer, sender, sendgrid):
    plan(duck_shop, keys(duck_shop, 3))
    sendgrid.script(Reply(202, None, delay_s=1.5), Reply(500, {"errors": [{"message": "oops"}]}))
    provider = SendGridProvider(SendGridStandIn.api_key, sender, sendgrid.url, timeout=0.5, concurrency=1)
    report = run(duck_shop, signer, provider)
    assert (report.unknown, report.sent) == (2, 1)
    again = run(duck_shop, signer, SendGridProvider(SendGridStandIn.api_key, sender, sendgrid.url))
    assert again.claimed == 0
    accepted = sendgrid.accepted_keys()
    assert len(accepted) == len(set(accepted))  # at most once, even the one whose answer was lost


def test_a_400_naming_a_personalization_fails_that_message_and_sends_the_rest(
    duck_shop, signer, sender, sendgrid
):
    plan(duck_shop, keys(duck_shop, 4))
    sendgrid.invalid_addresses = {"c1002@example.ru"}
    report = run(duck_shop, signer, SendGridProvider(SendGridStandIn.api_key, sender, sendgrid.url, "d-pass"))
    states = {k: r["state"] for k, r in ledger(duck_shop).items()}
    assert states == {"k000": "sent", "k001": "sent", "k002": "failed", "k003": "sent"}
    assert "personalizations.2.to.0.email" in ledger(duck_shop)["k002"]["last_error"]
    assert report.failed == 1
    assert len(sendgrid.requests) == 2  # the rejected request, then the same without the bad message
    assert sorted(sendgrid.accepted_keys()) == ["k000", "k001", "k003"]


def test_an_inactive_template_is_a_configuration_error_not_a_thousand_failures(
    duck_shop, signer, sender, sendgrid
):
    from lifecycle.delivery.messages import ProviderConfigError

    plan(duck_shop, keys(duck_shop, 6))
    sendgrid.inactive_templates = {"d-old"}
    provider = SendGridProvider(SendGridStandIn.api_key, sender, sendgrid.url, "d-old", concurrency=1)
    provider.max_batch = 3
    with pytest.raises(ProviderConfigError, match=r"inactive"):
        run(duck_shop, signer, provider)
    assert len(sendgrid.requests) == 1
    assert {r["state"] for r in ledger(duck_shop).values()} == {"planned"}
    assert {r["attempted_at"] for r in ledger(duck_shop).values()} == {None}


def test_one_request_never_carries_an_address_twice(duck_shop, signer, sender, sendgrid):
    """Two service emails to one customer, due together, go in two requests (SendGrid rejects repeats)."""
    plan(
        duck_shop,
        [ledger_row(f"s{i}", 1, "ru/welcome/email_1", {}, message_kind="service") for i in range(2)]
        + keys(duck_shop, 2),
    )
    provider = SendGridProvider(SendGridStandIn.api_key, sender, sendgrid.url, "d-pass")
    report = run(duck_shop, signer, provider)
    assert report.sent == 4
    assert sendgrid.violations == []
    assert sorted(len(r.json()["personalizations"]) for r in sendgrid.requests) == [1, 3]


def test_bad_api_key_fails_the_run_and_releases_rows(duck_shop, signer, sender, sendgrid):
    from lifecycle.delivery.messages import ProviderConfigError

    plan(duck_shop, keys(duck_shop, 2))
    with pytest.raises(ProviderConfigError):
        run(duck_shop, signer, SendGridProvider("SG.wrong", sender, sendgrid.url))
    assert {r["state"] for r in ledger(duck_shop).values()} == {"planned"}


def test_a_429_storm_never_ends_the_run_for_the_others(duck_shop, signer, sender, sendgrid):
    """Two requests in three refused with 429 and a wait longer than the run may wait: every message is
    tried once in the run, the refused ones go back to the queue at the provider's time, nothing twice."""
    plan(duck_shop, keys(duck_shop, 40))
    storm = Reply(429, {"errors": [{"message": "too many requests"}]}, {"Retry-After": "600"})
    ok = Reply(202, None, {"X-Message-ID": "m"})
    sendgrid.script(*([storm, storm, ok] * 13), storm)
    provider = SendGridProvider(SendGridStandIn.api_key, sender, sendgrid.url, concurrency=1)
    clock = Clock()
    first = run_dispatch(duck_shop, provider, signer, "email", clock)
    assert first.requests == 40  # nobody waits behind a released row
    assert (first.sent, first.released) == (13, 27)
    rows = ledger(duck_shop)
    released = [r for r in rows.values() if r["state"] == "planned"]
    assert {r["send_after"] for r in released} == {clock.now + timedelta(seconds=600)}
    clock.now += timedelta(seconds=600)
    assert not sendgrid._script  # the storm is over
    second = run_dispatch(duck_shop, provider, signer, "email", clock)
    assert second.sent == 27
    accepted = sendgrid.accepted_keys()
    assert sorted(accepted) == sorted(rows)
    assert len(accepted) == len(set(accepted))


def test_a_5xx_storm_leaves_only_its_requests_unknown(duck_shop, signer, sender, sendgrid):
    plan(duck_shop, keys(duck_shop, 30))
    sendgrid.script(*([Reply(500, {"errors": [{"message": "internal"}]}), Reply(202, None, {})] * 15))
    provider = SendGridProvider(SendGridStandIn.api_key, sender, sendgrid.url, concurrency=1)
    report = run(duck_shop, signer, provider)
    assert (report.sent, report.unknown, report.requests) == (15, 15, 30)
    assert run(duck_shop, signer, provider).claimed == 0  # 'unknown' is never resent
    accepted = sendgrid.accepted_keys()
    assert len(accepted) == len(set(accepted)) == 15
