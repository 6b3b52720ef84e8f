"""The Airflow layer of delivery: hooks build providers from Connections, operators only assign."""

import json
from unittest import mock

import pytest

from lifecycle_providers.operators.dispatch import LedgerDispatchOperator
from lifecycle_providers.operators.fcm import FcmDispatchOperator
from lifecycle_providers.operators.onesignal import OneSignalDispatchOperator
from lifecycle_providers.operators.sandbox import SandboxDispatchOperator
from lifecycle_providers.operators.sendgrid import SendGridDispatchOperator
from lifecycle_providers.operators.smsc import SmscDispatchOperator
from lifecycle_providers.operators.smtp import SmtpDispatchOperator
from lifecycle_providers.operators.twilio import TwilioDispatchOperator

OPERATORS = [
    LedgerDispatchOperator,
    SandboxDispatchOperator,
    SmtpDispatchOperator,
    SendGridDispatchOperator,
    FcmDispatchOperator,
    OneSignalDispatchOperator,
    SmscDispatchOperator,
    TwilioDispatchOperator,
]


@pytest.mark.parametrize("operator", OPERATORS)
def test_constructor_only_assigns_and_fields_are_templated(operator):
    with mock.patch("airflow.sdk.BaseHook.get_connection") as get_connection:
        op = operator(task_id="t", channel="{{ params.c }}", provider_conn_id="{{ params.conn }}")
    get_connection.assert_not_called()
    for field in op.template_fields:
        assert hasattr(op, field), field
    assert {"channel", "provider_conn_id", "warehouse_conn_id", "links_conn_id"} <= set(op.template_fields)


CONNECTIONS = {
    "lifecycle_sandbox": {
        "conn_type": "lifecycle_sandbox",
        "password": "hook-secret",
        "extra": {"path": "/tmp/sandbox", "from_email": "shop@shop.example"},
    },
    "lifecycle_smtp": {
        "conn_type": "smtp",
        "host": "mail.example",
        "port": 587,
        "extra": {"starttls": "true", "from_email": "shop@shop.example", "max_batch": 20},
    },
    "lifecycle_sendgrid": {
        "conn_type": "sendgrid",
        "password": "SG.key",
        "extra": {"from_email": "shop@shop.example", "template_id": "d-1"},
    },
    "lifecycle_fcm": {
        "conn_type": "fcm",
        "password": json.dumps(
            {"project_id": "p", "client_email": "a@p.iam", "private_key": "x", "token_uri": "https://t/token"}
        ),
        "extra": {"token_uri": "http://127.0.0.1:1/token"},
    },
    "lifecycle_onesignal": {"conn_type": "onesignal", "login": "app", "password": "key"},
    "lifecycle_smsc": {
        "conn_type": "smsc",
        "login": "shop",
        "password": "psw",
        "extra": {"sender": "Elektro", "price_per_segment": "4.5", "max_batch": 20},
    },
    "lifecycle_twilio": {
        "conn_type": "twilio",
        "login": "AC123",
        "password": "token",
        "extra": {
            "sender": "Elektro",
            "status_callback": "https://crm.example/lifecycle-webhooks/twilio/status",
        },
    },
    "lifecycle_smsc_bad_sender": {
        "conn_type": "smsc",
        "login": "shop",
        "password": "psw",
        "extra": {"sender": "Электросфера"},
    },
}


@pytest.fixture
def connections(monkeypatch):
    for conn_id, conn in CONNECTIONS.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.mark.parametrize(
    ("conn_id", "provider", "checks"),
    [
        ("lifecycle_sandbox", "sandbox", {"idempotent": True}),
        ("lifecycle_smtp", "smtp", {"messages_per_connection": 20, "starttls": True, "port": 587}),
        ("lifecycle_sendgrid", "sendgrid", {"max_batch": 1000, "template_id": "d-1"}),
        ("lifecycle_fcm", "fcm", {"project_id": "p"}),
        ("lifecycle_onesignal", "onesignal", {"idempotent": True, "app_id": "app"}),
        ("lifecycle_smsc", "smsc", {"max_batch": 20, "price": 4.5, "sender": "Elektro", "idempotent": False}),
        ("lifecycle_twilio", "twilio", {"max_batch": 1, "sender": "Elektro", "account_sid": "AC123"}),
    ],
)
def test_the_connection_type_picks_the_hook_and_the_hook_builds_the_provider(
    connections, conn_id, provider, checks
):
    hook = LedgerDispatchOperator(task_id="t", channel="email", provider_conn_id=conn_id).provider_hook()
    client = hook.get_conn()
    try:
        assert client.name == provider
        for attribute, value in checks.items():
            assert getattr(client, attribute) == value
    finally:
        client.close()
    if provider == "fcm":
        assert client.token.info["token_uri"] == "http://127.0.0.1:1/token"


def test_the_webhooks_plugin_mounts_its_app(monkeypatch, tmp_path):
    from lifecycle.migrations import migrate
    from lifecycle.warehouse import Warehouse

    migrate(Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_LIFECYCLE_WAREHOUSE",
        json.dumps({"conn_type": "duckdb", "host": str(tmp_path / "w.duckdb")}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_LIFECYCLE_LINKS",
        json.dumps(
            {"conn_type": "generic", "password": "0123456789abcdef0123", "extra": {"base_url": "http://x"}}
        ),
    )
    import lifecycle_webhooks_plugin as plugin
    from fastapi.testclient import TestClient

    (app_spec,) = plugin.LifecycleWebhooksPlugin.fastapi_apps
    assert app_spec["url_prefix"] == "/lifecycle-webhooks"
    client = TestClient(app_spec["app"])
    assert client.get("/health").json() == {"status": "ok"}
    assert client.post("/sandbox/events", content=b"{}").status_code == 503  # no sandbox secret configured
    token = plugin.resolve_settings().signer.unsubscribe_token("missing")
    assert client.get(f"/unsubscribe/{token}").status_code == 404


def test_an_sms_connection_with_a_sender_operators_would_refuse_fails_with_its_name(connections):
    from lifecycle_providers.hooks.smsc import SmscHook

    with pytest.raises(ValueError, match="'lifecycle_smsc_bad_sender': sender 'Электросфера' is neither"):
        SmscHook("lifecycle_smsc_bad_sender").get_conn()


def test_the_webhooks_plugin_reads_the_sms_secrets(connections, monkeypatch, tmp_path):
    import lifecycle_webhooks_plugin as plugin

    monkeypatch.setenv(
        "AIRFLOW_CONN_LIFECYCLE_WAREHOUSE",
        json.dumps({"conn_type": "duckdb", "host": str(tmp_path / "w.duckdb")}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_LIFECYCLE_LINKS",
        json.dumps(
            {"conn_type": "generic", "password": "0123456789abcdef0123", "extra": {"base_url": "http://x"}}
        ),
    )
    settings = plugin.resolve_settings()
    assert settings.twilio_auth_token == "token"
    assert settings.twilio_status_url == "https://crm.example/lifecycle-webhooks/twilio/status"
    assert settings.smsc_secret == "psw"
