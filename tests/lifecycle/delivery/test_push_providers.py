"""FCM HTTP v1 (with its OAuth token endpoint) and OneSignal against local stand-ins."""

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from delivery_shop import Clock, ledger, ledger_row, plan, run_dispatch
from provider_standins import FcmStandIn, OneSignalStandIn, Reply

from lifecycle.delivery.providers.fcm import FcmProvider
from lifecycle.delivery.providers.onesignal import OneSignalProvider, idempotency_key


def run(warehouse, signer, provider, sleeps=None):
    clock = Clock()
    report = run_dispatch(warehouse, provider, signer, "push", clock)
    if sleeps is not None:
        sleeps.extend(clock.waits)
    return report


@pytest.fixture
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def fcm(rsa_key):
    with FcmStandIn(rsa_key.public_key(), dead_tokens=("tok-boris-dead",)) as server:
        yield server
    assert server.violations == []


def service_account(key, token_uri):
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": FcmStandIn.project_id,
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "push@demo-project.iam.gserviceaccount.com",
        "token_uri": token_uri,
    }


def test_fcm_sends_per_token_and_retires_dead_tokens(duck_shop, signer, rsa_key, fcm):
    plan(
        duck_shop,
        [
            ledger_row("p1", 1, "ru/back_in_stock/push_1", {"product_id": 100}),
            ledger_row("p2", 2, "ru/back_in_stock/push_1", {"product_id": 101}),
            ledger_row("p3", 3, "ru/back_in_stock/push_1", {"product_id": 101}),
        ],
    )
    provider = FcmProvider(service_account(rsa_key, f"{fcm.url}/token"), fcm.url, concurrency=2)
    provider.token.get()  # so the scripted 429 hits a send, not the token endpoint
    fcm.script(Reply(429, {"error": {"status": "RESOURCE_EXHAUSTED"}}, {"Retry-After": "2"}))
    sleeps = []
    report = run(duck_shop, signer, provider, sleeps)
    states = {k: r["state"] for k, r in ledger(duck_shop).items()}
    assert states == {"p1": "sent", "p2": "sent", "p3": "failed"}  # customer 3 has no token
    assert report.tokens_retired == 1
    assert 2.0 in sleeps
    with duck_shop.begin() as conn:
        active = dict(conn.exec_driver_sql("SELECT token, is_active FROM crm.push_tokens").all())
    assert active == {"tok-anna": True, "tok-boris": True, "tok-boris-dead": False}
    assert sorted(m["token"] for m in fcm.delivered) == ["tok-anna", "tok-boris"]
    assert len([r for r in fcm.requests if r.path == "/token"]) == 1  # the access token is cached


def test_fcm_wrong_key_is_a_configuration_error(duck_shop, signer, rsa_key, fcm):
    from lifecycle.delivery.messages import ProviderConfigError

    plan(duck_shop, [ledger_row("p1", 1, "ru/back_in_stock/push_1", {"product_id": 100})])
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(ProviderConfigError, match="token endpoint"):
        run(duck_shop, signer, FcmProvider(service_account(other, f"{fcm.url}/token"), fcm.url))
    assert ledger(duck_shop)["p1"]["state"] == "planned"


def test_onesignal_resends_ambiguous_failures_under_the_same_idempotency_key(duck_shop, signer):
    plan(
        duck_shop,
        [
            ledger_row("p1", 1, "ru/price_drop/push_1", {"product_id": 100}),
            ledger_row("p3", 3, "ru/price_drop/push_1", {"product_id": 100}),
        ],
    )
    with OneSignalStandIn() as server:
        server.script(Reply(500, {"errors": ["Internal Server Error"]}), Reply(200, None, delay_s=1.2))
        provider = OneSignalProvider(server.app_id, server.api_key, server.url, timeout=0.5, concurrency=1)
        report = run(duck_shop, signer, provider)
        assert server.violations == []
    assert report.sent == 2  # no push token needed: OneSignal targets the customer's external_id
    bodies = [json.loads(r.body) for r in server.requests]
    by_key = {}
    for body in bodies:
        by_key.setdefault(body["include_aliases"]["external_id"][0], set()).add(body["idempotency_key"])
    assert all(len(k) == 1 for k in by_key.values())  # every retry carried the same key
    assert len(server.created) == 2  # so OneSignal created each notification once
    assert idempotency_key("p1") in server.created


def test_onesignal_200_with_invalid_aliases_is_not_sent(duck_shop, signer):
    """OneSignal answers 200 with an id *and* errors.invalid_aliases for a customer no longer subscribed."""
    plan(
        duck_shop,
        [
            ledger_row("p1", 1, "ru/price_drop/push_1", {"product_id": 100}),
            ledger_row("p2", 2, "ru/price_drop/push_1", {"product_id": 100}),
        ],
    )
    with OneSignalStandIn() as server:
        server.unsubscribed = {"2"}
        provider = OneSignalProvider(server.app_id, server.api_key, server.url, concurrency=1)
        report = run(duck_shop, signer, provider)
        assert server.violations == []
    rows = ledger(duck_shop)
    assert (rows["p1"]["state"], rows["p2"]["state"]) == ("sent", "failed")
    assert "not subscribed" in rows["p2"]["last_error"]
    assert (report.sent, report.failed) == (1, 1)
    assert list(server.delivered) == [idempotency_key("p1")]


def test_fcm_invalid_registration_token_is_retired(duck_shop, signer, rsa_key):
    import pandas as pd
    from delivery_shop import NOW

    with duck_shop.begin() as conn:
        duck_shop.insert_df(
            conn,
            "crm.push_tokens",
            pd.DataFrame(
                [
                    {
                        "token": "tok-vera-garbled",
                        "customer_id": 3,
                        "platform": "android",
                        "created_at": NOW,
                        "is_active": True,
                        "loaded_at": NOW,
                    }
                ]
            ),
        )
    plan(duck_shop, [ledger_row("p3", 3, "ru/back_in_stock/push_1", {"product_id": 101})])
    with FcmStandIn(rsa_key.public_key(), invalid_tokens=("tok-vera-garbled",)) as fcm:
        provider = FcmProvider(service_account(rsa_key, f"{fcm.url}/token"), fcm.url, concurrency=1)
        report = run(duck_shop, signer, provider)
    assert ledger(duck_shop)["p3"]["state"] == "failed"
    assert report.tokens_retired == 1
    with duck_shop.begin() as conn:
        (active,) = conn.exec_driver_sql(
            "SELECT is_active FROM crm.push_tokens WHERE token = 'tok-vera-garbled'"
        ).one()
    assert active is False
    # the next push to Vera is not paid for again: no active token, so nothing is sent
    plan(duck_shop, [ledger_row("p3b", 3, "ru/back_in_stock/push_1", {"product_id": 101})])
    with FcmStandIn(rsa_key.public_key()) as fcm:
        provider = FcmProvider(service_account(rsa_key, f"{fcm.url}/token"), fcm.url, concurrency=1)
        run(duck_shop, signer, provider)
        assert fcm.delivered == []
    assert ledger(duck_shop)["p3b"]["last_error"] == "unaddressable: no active push token"
