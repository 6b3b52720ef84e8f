"""SMS end to end on DuckDB: dispatch through the sandbox and the gateways' stand-ins, the send-time check
(consent, quiet hours), the per-step segment limit and transliteration, and delivery reports through the
signed webhooks reaching the ledger."""

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from delivery_shop import NOW, Clock, ledger, ledger_row, plan, run_dispatch
from fastapi.testclient import TestClient
from sms_shop import PHONES, add_sms_customers, sms_row

from lifecycle.delivery.providers.sandbox import SandboxProvider
from lifecycle.delivery.providers.smsc import SmscProvider
from lifecycle.delivery.providers.twilio import TwilioProvider
from lifecycle.delivery.render import Templates
from lifecycle.delivery.webhooks import WebhookSettings, create_app
from lifecycle.paths import TEMPLATES_DIR
from lifecycle.policy.config import load_policy
from lifecycle.warehouse import Warehouse

STATUS_URL = "https://crm.shop.example/lifecycle-webhooks/twilio/status"
SMSC_SECRET = "smsc-callback-secret"


def templates_with(tmp_path: Path, step_sms: dict, text: str | None = None) -> Templates:
    """The real templates, with the win-back SMS step's rules (and text) changed."""
    import shutil

    root = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, root)
    settings = yaml.safe_load((root / "messages.yaml").read_text(encoding="utf-8"))
    settings["steps"]["win_back"]["sms_1"]["sms"] = step_sms
    (root / "messages.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    if text is not None:
        (root / "ru/win_back/sms_1/sms.txt").write_text(text, encoding="utf-8")
    return Templates(root)


def test_sandbox_sms_run_sends_and_counts_segments_and_cost(sms_shop, signer, sender, tmp_path):
    add_sms_customers(sms_shop, {20: None}, consent=True)
    plan(sms_shop, [sms_row("s10", 10), sms_row("s11", 11), sms_row("no-phone", 20)])
    provider = SandboxProvider(tmp_path, sender, sms_sender="Elektro", sms_price_per_segment=2.45)

    report = run_dispatch(sms_shop, provider, signer, "sms", policy=load_policy())

    rows = ledger(sms_shop)
    assert rows["s10"]["state"] == "sent"
    assert rows["no-phone"]["last_error"] == "unaddressable: no phone number"
    assert rows["s11"]["state"] == "sent"
    written = json.loads(next((tmp_path / "sms").glob("s10-*.json")).read_text(encoding="utf-8"))
    assert written["to"] == PHONES[10]
    assert written["sender"] == "Elektro"
    assert written["encoding"] == "ucs2"
    assert written["segments"] == 1
    assert written["cost"] == 2.45
    assert (report.sent, report.segments, report.cost) == (2, 2, 4.9)
    assert report.as_dict()["cost"] == 4.9
    assert report.summary().startswith("sms via sandbox: claimed 3, sent 2 (2 SMS segments, cost 4.90")


def test_sms_send_time_check_rechecks_consent_and_quiet_hours(sms_shop, signer, sender, tmp_path):
    plan(
        sms_shop,
        [sms_row("withdrawn", 10), sms_row("night", 11), sms_row("night-drop", 12, quiet_hours="drop")],
    )
    with sms_shop.begin() as conn:
        # consent withdrawn after planning
        conn.exec_driver_sql("UPDATE crm.customers SET sms_consent = FALSE WHERE customer_id = 10")
        # customers whose local time is now 21:00, when quiet hours begin
        conn.exec_driver_sql("UPDATE crm.customers SET timezone = 'Asia/Tokyo' WHERE customer_id IN (11, 12)")
    provider = SandboxProvider(tmp_path, sender)

    report = run_dispatch(sms_shop, provider, signer, "sms", policy=load_policy())

    rows = ledger(sms_shop)
    assert rows["withdrawn"]["state"] == "dropped"
    assert rows["withdrawn"]["hold_reason"] == "no_consent"
    assert rows["night"]["state"] == "planned"
    assert rows["night"]["hold_reason"] == "quiet_hours"
    # held until 09:00 in Tokyo, 00:00 UTC
    assert rows["night"]["send_after"] == datetime(2026, 3, 3, 0, 0)
    assert rows["night-drop"]["state"] == "dropped"
    assert report.sent == 0
    assert not (tmp_path / "sms").exists()


def test_a_message_over_the_segment_limit_is_not_sent_and_says_why(sms_shop, signer, sender, tmp_path):
    long_text = "{{ customer.first_name }}, " + "очень " * 20 + "{{ promo.code }}"
    templates = templates_with(tmp_path, {"max_segments": 1, "transliterate": "never"}, long_text)
    plan(sms_shop, [sms_row("long", 10)])

    report = run_dispatch(sms_shop, SandboxProvider(tmp_path, sender), signer, "sms", templates=templates)

    row = ledger(sms_shop)["long"]
    assert row["state"] == "failed"
    assert row["last_error"].startswith(
        "too_many_segments: win_back.sms_1 (ru/win_back/sms_1) needs 3 SMS segments (UCS-2, "
    )
    assert "the step allows 1 (messages.yaml steps.win_back.sms_1.sms.max_segments)" in row["last_error"]
    assert report.errors == {"too_many_segments": 1}
    assert not (tmp_path / "sms").exists()


def test_transliteration_to_fit_sends_latin_in_one_segment(sms_shop, signer, sender, tmp_path):
    offer = "{{ customer.first_name }}, ваш промокод {{ promo.code }} действует ещё 10 дней."
    text = f"{offer} Ждём вас в каталоге!"
    templates = templates_with(tmp_path, {"max_segments": 1, "transliterate": "to_fit"}, text)
    plan(sms_shop, [sms_row("latin", 10)])

    run_dispatch(sms_shop, SandboxProvider(tmp_path, sender), signer, "sms", templates=templates)

    written = json.loads(next((tmp_path / "sms").glob("latin-*.json")).read_text(encoding="utf-8"))
    assert written["text"].startswith("Anna, vash promokod BACK-")
    assert written["text"].endswith("deistvuet eshche 10 dnei. Zhdem vas v kataloge!")
    assert (written["encoding"], written["segments"], written["transliterated"]) == ("gsm7", 1, True)
    assert ledger(sms_shop)["latin"]["segments"] == 1


def test_the_cart_sms_repeats_the_code_of_the_promo_email(sms_shop, signer, sender, tmp_path):
    cart = {"product_id": 100, "cart_product_ids": [200]}
    plan(sms_shop, [ledger_row("cart-email", 10, "ru/abandoned_cart/email_4", cart)])
    provider = SandboxProvider(tmp_path, sender)
    assert run_dispatch(sms_shop, provider, signer, "email").sent == 1
    day = timedelta(days=1)  # the SMS of the same chain instance goes a day later
    sms = ledger_row("cart-sms", 10, "ru/abandoned_cart/sms_1", cart, channel="sms")
    times = ("planned_at", "send_after", "expires_at", "updated_at")
    plan(sms_shop, [sms | {k: sms[k] + day for k in times}])
    assert run_dispatch(sms_shop, provider, signer, "sms", Clock(NOW + day)).sent == 1

    email = next((tmp_path / "email").glob("cart-email-*.eml")).read_bytes().decode("utf-8", "replace")
    text = json.loads(next((tmp_path / "sms").glob("cart-sms-*.json")).read_text(encoding="utf-8"))["text"]
    with sms_shop.begin() as conn:
        codes = conn.exec_driver_sql("SELECT code, discount_percent, valid_until FROM crm.promo_codes").all()
    assert len(codes) == 1  # one code per chain instance, issued with the email
    code, percent, valid_until = codes[0]
    assert valid_until == datetime(2026, 3, 5, 23, 59, 59)  # the email's 3 days, not renewed by the SMS
    assert text == f"Анна, −{percent}% на корзину: код {code} до 05.03. shop.example"
    assert code in email


def test_a_retried_sms_run_never_sends_twice(sms_shop, signer, smsc):
    plan(sms_shop, [sms_row(f"s{cid}", cid) for cid in (10, 11)])
    provider = SmscProvider(smsc.login, smsc.password, "Elektro", smsc.url)
    run_dispatch(sms_shop, provider, signer, "sms")
    again = run_dispatch(sms_shop, provider, signer, "sms", Clock(NOW + timedelta(hours=1)))
    assert again.claimed == 0
    assert len(smsc.delivered) == 2


# --- delivery reports ---------------------------------------------------------------------------------------


@pytest.fixture
def webhook_client(sms_shop, signer, twilio):
    def settings():
        return WebhookSettings(
            Warehouse(sms_shop.url),
            signer,
            twilio_auth_token=twilio.auth_token,
            twilio_status_url=STATUS_URL,
            smsc_secret=SMSC_SECRET,
        )

    return TestClient(create_app(settings))


def report_rows(warehouse):
    with warehouse.begin() as conn:
        return conn.exec_driver_sql(
            "SELECT send_key, state, delivery_status FROM crm.send_ledger ORDER BY send_key"
        ).all()


def test_twilio_status_callbacks_reach_the_ledger(sms_shop, signer, twilio, webhook_client):
    plan(sms_shop, [sms_row("s10", 10), sms_row("s11", 11)])
    provider = TwilioProvider(
        twilio.account_sid, twilio.auth_token, "Elektro", base_url=twilio.url, status_callback=STATUS_URL
    )
    run_dispatch(sms_shop, provider, signer, "sms")
    rows = ledger(sms_shop)

    for key, status, error in (("s10", "delivered", None), ("s11", "undelivered", "30005")):
        url, form, headers = twilio.status_callback(rows[key]["provider_message_id"], status, error)
        assert url == STATUS_URL
        answer = webhook_client.post("/twilio/status", data=form, headers=headers)
        assert answer.status_code == 200, answer.text
        # Twilio retries a callback: stored once
        assert webhook_client.post("/twilio/status", data=form, headers=headers).status_code == 200

    assert report_rows(sms_shop) == [("s10", "sent", "delivered"), ("s11", "sent", "undelivered")]
    with sms_shop.begin() as conn:
        events = conn.exec_driver_sql(
            "SELECT provider, send_key, event_type FROM crm.message_events ORDER BY send_key"
        ).all()
        suppressed = conn.exec_driver_sql("SELECT channel, address, reason FROM crm.suppressions").all()
    assert events == [("twilio", "s10", "delivered"), ("twilio", "s11", "hard_bounce")]
    assert suppressed == [("sms", PHONES[11], "hard_bounce")]  # 30005: the number does not exist


def test_twilio_callbacks_with_a_bad_signature_are_refused(sms_shop, signer, twilio, webhook_client):
    plan(sms_shop, [sms_row("s10", 10)])
    provider = TwilioProvider(
        twilio.account_sid, twilio.auth_token, "Elektro", base_url=twilio.url, status_callback=STATUS_URL
    )
    run_dispatch(sms_shop, provider, signer, "sms")
    _, form, headers = twilio.status_callback(ledger(sms_shop)["s10"]["provider_message_id"], "delivered")

    tampered = {**form, "MessageStatus": "undelivered"}
    assert webhook_client.post("/twilio/status", data=tampered, headers=headers).status_code == 401
    assert webhook_client.post("/twilio/status", data=form).status_code == 401
    forged = {"X-Twilio-Signature": headers["X-Twilio-Signature"][::-1]}
    assert webhook_client.post("/twilio/status", data=form, headers=forged).status_code == 401
    assert report_rows(sms_shop) == [("s10", "sent", None)]


def smsc_report(message_id: str, phone: str, status: str, secret: str = SMSC_SECRET) -> dict:
    checksum = hashlib.md5(f"{message_id}:{phone}:{status}:{secret}".encode()).hexdigest()
    return {
        "id": message_id,
        "phone": phone,
        "status": status,
        "ts": "1772452800",
        "err": "0",
        "md5": checksum,
    }


def test_smsc_status_reports_reach_the_ledger(sms_shop, signer, smsc, webhook_client):
    plan(sms_shop, [sms_row("s10", 10), sms_row("s11", 11)])
    run_dispatch(sms_shop, SmscProvider(smsc.login, smsc.password, "Elektro", smsc.url), signer, "sms")
    message_id = ledger(sms_shop)["s10"]["provider_message_id"].split(":")[0]

    delivered = smsc_report(message_id, PHONES[10][1:], "1")
    assert webhook_client.post("/smsc/status", data=delivered).status_code == 200
    waiting = smsc_report(message_id, PHONES[11][1:], "-1")  # still queued: nothing to store
    assert webhook_client.post("/smsc/status", data=waiting).json() == {"received": 0}
    forged = smsc_report(message_id, PHONES[11][1:], "20", secret="guess")
    assert webhook_client.post("/smsc/status", data=forged).status_code == 401
    expired = smsc_report(message_id, PHONES[11][1:], "3")
    assert webhook_client.post("/smsc/status", data=expired).status_code == 200

    assert report_rows(sms_shop) == [("s10", "sent", "delivered"), ("s11", "sent", "undelivered")]


@pytest.mark.parametrize(
    ("rules", "field", "says"),
    [
        ({"max_segments": 0}, "steps.win_back.sms_1.sms.max_segments", "use 1 to 10"),
        ({"transliterate": "sometimes"}, "steps.win_back.sms_1.sms.transliterate", "to_fit"),
        ({"sender": "Электросфера"}, "steps.win_back.sms_1.sms.sender", "neither an alphanumeric name"),
        ({"segments": 2}, "steps.win_back.sms_1.sms", "max_segments, transliterate, sender"),
    ],
)
def test_bad_sms_rules_name_the_file_and_field(tmp_path, rules, field, says):
    from lifecycle.errors import ConfigError

    templates = templates_with(tmp_path, rules)
    with pytest.raises(ConfigError) as caught:
        templates.step_settings("win_back", "sms_1")
    assert caught.value.field == field
    assert caught.value.file.endswith("messages.yaml")
    assert says in str(caught.value)
