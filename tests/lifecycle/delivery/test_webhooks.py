"""Feedback webhooks with real keys: SendGrid ECDSA, the sandbox HMAC, the one-click unsubscribe link."""

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from delivery_shop import ledger, ledger_row, plan
from fastapi.testclient import TestClient

from lifecycle.delivery import signing
from lifecycle.delivery.webhooks import WebhookSettings, create_app

SANDBOX_SECRET = b"sandbox-webhook-secret"


@pytest.fixture
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def client(shop, signer, ec_key):
    public = ec_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    plan(shop, [ledger_row("cart-1", 1, "ru/abandoned_cart/email_1", {"product_id": 100}, state="unknown")])

    def settings():
        from lifecycle.warehouse import Warehouse

        return WebhookSettings(
            Warehouse(shop.url), signer, "Электросфера", SANDBOX_SECRET, base64.b64encode(public).decode()
        )

    return TestClient(create_app(settings))


def sendgrid_headers(key, body: bytes, timestamp: str | None = None):
    timestamp = timestamp or str(int(time.time()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        signing.SENDGRID_SIGNATURE_HEADER: base64.b64encode(signature).decode(),
        signing.SENDGRID_TIMESTAMP_HEADER: timestamp,
    }


def events(shop):
    with shop.begin() as conn:
        return conn.exec_driver_sql("SELECT provider, event_type FROM crm.message_events ORDER BY 1, 2").all()


def suppressions(shop):
    with shop.begin() as conn:
        return conn.exec_driver_sql(
            "SELECT channel, address, customer_id, reason FROM crm.suppressions"
        ).all()


def test_signed_sendgrid_events_are_stored_once_and_applied(client, shop, ec_key):
    body = json.dumps(
        [
            {
                "email": "anna@example.ru",
                "timestamp": 1767000000,
                "event": "delivered",
                "sg_event_id": "e1",
                "sg_message_id": "m1.filter",
                "send_key": "cart-1",
            },
            {
                "email": "Anna@example.ru",
                "timestamp": 1767000100,
                "event": "spamreport",
                "sg_event_id": "e2",
                "sg_message_id": "m1.filter",
                "send_key": "cart-1",
            },
        ]
    ).encode()
    for _ in range(2):  # SendGrid redelivers: stored once
        response = client.post("/sendgrid/events", content=body, headers=sendgrid_headers(ec_key, body))
        assert response.status_code == 200
    assert events(shop) == [("sendgrid", "complaint"), ("sendgrid", "delivered")]
    assert suppressions(shop) == [("email", "anna@example.ru", 1, "complaint")]
    assert ledger(shop)["cart-1"]["state"] == "sent"  # feedback proves the 'unknown' message was sent


def test_bad_or_missing_sendgrid_signatures_are_refused(client, shop, ec_key):
    body = b'[{"email": "a@b.ru", "timestamp": 1, "event": "unsubscribe", "sg_event_id": "x"}]'
    other = ec.generate_private_key(ec.SECP256R1())
    assert client.post("/sendgrid/events", content=body).status_code == 401
    assert (
        client.post("/sendgrid/events", content=body, headers=sendgrid_headers(other, body)).status_code
        == 401
    )
    tampered = sendgrid_headers(ec_key, body)
    assert client.post("/sendgrid/events", content=body + b" ", headers=tampered).status_code == 401
    assert events(shop) == []
    assert suppressions(shop) == []


def test_sandbox_events_need_a_fresh_hmac(client, shop):
    body = json.dumps(
        {
            "events": [
                {
                    "id": "s1",
                    "event": "hard_bounce",
                    "send_key": "cart-1",
                    "recipient": "anna@example.ru",
                    "timestamp": 1767000000,
                }
            ]
        }
    ).encode()
    old = signing.sign_webhook(SANDBOX_SECRET, body, int(time.time()) - 3600)
    assert (
        client.post("/sandbox/events", content=body, headers={signing.SIGNATURE_HEADER: old}).status_code
        == 401
    )
    forged = signing.sign_webhook(b"wrong", body)
    assert (
        client.post("/sandbox/events", content=body, headers={signing.SIGNATURE_HEADER: forged}).status_code
        == 401
    )
    good = signing.sign_webhook(SANDBOX_SECRET, body)
    assert (
        client.post("/sandbox/events", content=body, headers={signing.SIGNATURE_HEADER: good}).status_code
        == 200
    )
    assert suppressions(shop) == [("email", "anna@example.ru", 1, "hard_bounce")]


def test_one_click_unsubscribe(client, shop, signer):
    token = signer.unsubscribe_token("cart-1")
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200
    assert "anna@example.ru" in page.text
    assert '<form method="post">' in page.text
    assert suppressions(shop) == []  # GET never unsubscribes (link scanners)
    for _ in range(2):
        response = client.post(
            f"/unsubscribe/{token}",
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 200
    assert suppressions(shop) == [("email", "anna@example.ru", 1, "unsubscribe")]
    assert client.post(f"/unsubscribe/{token[:-2]}xx").status_code == 404
    assert client.get("/unsubscribe/not-a-token").status_code == 404


def test_a_replayed_sendgrid_event_is_refused(client, shop, ec_key):
    """A validly signed request from 2020 (captured and sent again) is refused, and nothing is stored."""
    body = json.dumps([{"event": "open", "sg_event_id": "e-old", "send_key": "cart-1"}]).encode()
    old = str(int(time.mktime((2020, 5, 1, 12, 0, 0, 0, 0, -1))))
    response = client.post("/sendgrid/events", content=body, headers=sendgrid_headers(ec_key, body, old))
    assert response.status_code == 401
    assert "replay window" in response.text
    assert events(shop) == []


def test_the_signature_is_checked_before_the_body_is_parsed(client, shop, ec_key):
    other = ec.generate_private_key(ec.SECP256R1())
    body = b"{not json at all"
    response = client.post("/sendgrid/events", content=body, headers=sendgrid_headers(other, body))
    assert response.status_code == 401  # not a 400 about the JSON: nothing unsigned is parsed


@pytest.mark.parametrize("route", ["/sendgrid/events", "/sandbox/events"])
def test_an_oversized_body_is_refused_before_it_is_read(shop, signer, ec_key, route):
    """Against a real server: a request declaring 300 MB gets 413 after only its headers were sent."""
    import socket
    import threading

    import uvicorn

    from lifecycle.warehouse import Warehouse

    public = ec_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def settings():
        return WebhookSettings(
            Warehouse(shop.url), signer, "Shop", SANDBOX_SECRET, base64.b64encode(public).decode()
        )

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        if route == "/sendgrid/events":
            headers = sendgrid_headers(ec_key, b"")
        else:
            headers = {signing.SIGNATURE_HEADER: signing.sign_webhook(SANDBOX_SECRET, b"")}
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(
                (
                    f"POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {300 * 1024 * 1024}\r\n{head}\r\n"
                ).encode()
                + b"[" * 1024
            )
            answer = conn.recv(4096).decode()
        assert answer.startswith("HTTP/1.1 413")
        # unsigned and oversized: refused on its headers alone (401), the body never read
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(
                f"POST {route} HTTP/1.1\r\nHost: x\r\nContent-Length: {300 * 1024 * 1024}\r\n\r\n".encode()
            )
            assert conn.recv(4096).decode().startswith("HTTP/1.1 401")
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_streamed_body_without_length_is_cut_at_the_limit(shop, signer, ec_key):
    from lifecycle.warehouse import Warehouse

    def settings():
        return WebhookSettings(Warehouse(shop.url), signer, "Shop", SANDBOX_SECRET, None, max_body_bytes=1000)

    client = TestClient(create_app(settings))

    def chunks():
        for _ in range(100):
            yield b"x" * 100

    header = signing.sign_webhook(SANDBOX_SECRET, b"")
    response = client.post("/sandbox/events", content=chunks(), headers={signing.SIGNATURE_HEADER: header})
    assert response.status_code == 413
