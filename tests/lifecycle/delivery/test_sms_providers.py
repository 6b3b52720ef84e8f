"""SMSC.ru and Twilio Messaging against local stand-ins, through the real dispatcher on DuckDB: successes,
invalid numbers, partial success of a multi-recipient request, rate limits, refusals, costs."""

from datetime import timedelta

import httpx
import pytest
from delivery_shop import NOW, Clock, ledger, plan, run_dispatch
from provider_standins import Reply
from sms_shop import PHONES, sms_row
from sms_standins import SmscStandIn, billed_segments

from lifecycle.delivery.messages import ProviderConfigError
from lifecycle.delivery.providers.smsc import SmscProvider
from lifecycle.delivery.providers.twilio import TwilioProvider


def smsc_provider(server, **kwargs):
    kwargs.setdefault("price_per_segment", 9.99)  # SMSC answers the cost: the configured price is unused
    return SmscProvider(server.login, server.password, "Elektro", server.url, **kwargs)


def twilio_provider(server, **kwargs):
    kwargs.setdefault("sender", "Elektro")
    kwargs.setdefault("price_per_segment", 0.05)
    return TwilioProvider(server.account_sid, server.auth_token, base_url=server.url, **kwargs)


# --- SMSC.ru ------------------------------------------------------------------------------------------------


def test_smsc_sends_a_batch_in_one_request_and_fails_only_the_refused_numbers(sms_shop, signer, smsc):
    smsc.undeliverable.add(PHONES[12])
    plan(sms_shop, [sms_row(f"s{cid}", cid) for cid in PHONES])
    with sms_shop.begin() as conn:  # a number that is no phone at all (stored before validation existed)
        conn.exec_driver_sql("UPDATE crm.customers SET phone = '+7916' WHERE customer_id = 13")

    report = run_dispatch(sms_shop, smsc_provider(smsc), signer, "sms")

    rows = ledger(sms_shop)
    assert {k: r["state"] for k, r in rows.items()} == {
        "s10": "sent",
        "s11": "sent",
        "s12": "failed",
        "s13": "failed",
        "s14": "sent",
    }
    assert len(smsc.requests) == 1  # four messages, one 'list' request (the bad number never left)
    assert "list" in smsc.requests[0].body.decode()
    assert rows["s12"]["last_error"] == f"smsc refused {PHONES[12]}: 8"
    assert rows["s13"]["last_error"] == "unaddressable: invalid phone number '+7916'"
    assert [phone for phone, _, _ in smsc.delivered] == [PHONES[10], PHONES[11], PHONES[14]]
    text = smsc.delivered[0][1]
    assert text.startswith("Анна, промокод BACK-")
    assert "−15%" in text
    assert rows["s10"]["provider_message_id"] == f"100:{PHONES[10][1:]}"
    assert rows["s10"]["recipient"] == PHONES[10]
    assert rows["s10"]["segments"] == 1
    assert rows["s10"]["cost"] == pytest.approx(2.5)  # SMSC's answer, not the configured 9.99
    assert rows["s12"]["segments"] is None
    assert rows["s12"]["cost"] is None
    assert (report.sent, report.failed, report.segments, report.cost) == (3, 2, 3, 7.5)
    assert "(3 SMS segments, cost 7.50, 2.50 a message)" in report.summary()


def test_smsc_duplicate_or_too_many_requests_is_retried_after_a_minute(sms_shop, signer, smsc):
    plan(sms_shop, [sms_row("s10", 10)])
    smsc.script(SmscStandIn.error(9, "duplicate request, wait a minute"))
    clock = Clock()

    report = run_dispatch(sms_shop, smsc_provider(smsc), signer, "sms", clock)

    assert ledger(sms_shop)["s10"]["state"] == "sent"
    assert clock.waits == [60.0]
    assert (report.sent, report.released) == (1, 1)
    assert len(smsc.delivered) == 1


@pytest.mark.parametrize(("code", "needle"), [(2, "wrong login"), (3, "not enough money")])
def test_smsc_account_errors_stop_the_run_and_send_nothing(sms_shop, signer, smsc, code, needle):
    plan(sms_shop, [sms_row("s10", 10), sms_row("s11", 11)])
    smsc.script(SmscStandIn.error(code, "refused"))

    with pytest.raises(ProviderConfigError, match=needle):
        run_dispatch(sms_shop, smsc_provider(smsc), signer, "sms")

    rows = ledger(sms_shop)
    assert {r["state"] for r in rows.values()} == {"planned"}
    assert smsc.delivered == []


def test_smsc_forbidden_sender_and_whole_request_errors_fail_the_rows(sms_shop, signer, smsc):
    plan(sms_shop, [sms_row("s10", 10)])
    provider = SmscProvider(smsc.login, smsc.password, "Unknown", smsc.url)

    report = run_dispatch(sms_shop, provider, signer, "sms")

    assert report.failed == 1
    assert ledger(sms_shop)["s10"]["last_error"].startswith(
        "smsc error 6: message forbidden by its text or sender name"
    )


def test_smsc_timeout_after_sending_is_unknown_and_never_resent(sms_shop, signer, smsc):
    plan(sms_shop, [sms_row("s10", 10)])
    smsc.script(Reply(200, {"id": 1, "cnt": 1}, delay_s=1.0))

    report = run_dispatch(sms_shop, smsc_provider(smsc, timeout=0.3), signer, "sms")

    assert report.unknown == 1
    assert ledger(sms_shop)["s10"]["state"] == "unknown"
    assert len(smsc.requests) == 1


def test_smsc_with_an_api_key_and_a_wrong_password(sms_shop, signer, smsc):
    plan(sms_shop, [sms_row("s10", 10)])
    with pytest.raises(ProviderConfigError, match="smsc error 2"):
        run_dispatch(sms_shop, SmscProvider(None, "not-the-key", "Elektro", smsc.url), signer, "sms")
    assert "apikey=not-the-key" in smsc.requests[0].body.decode()


# --- Twilio -------------------------------------------------------------------------------------------------


def test_twilio_sends_records_segments_and_cost(sms_shop, signer, twilio):
    plan(sms_shop, [sms_row("s10", 10), sms_row("s11", 11)])
    provider = twilio_provider(
        twilio, status_callback="https://crm.shop.example/lifecycle-webhooks/twilio/status"
    )

    report = run_dispatch(sms_shop, provider, signer, "sms")

    rows = ledger(sms_shop)
    assert {r["state"] for r in rows.values()} == {"sent"}
    assert len(twilio.created) == 2
    form = twilio.created[rows["s10"]["provider_message_id"]]
    assert form["To"] == PHONES[10]
    assert form["From"] == "Elektro"
    assert form["StatusCallback"].endswith("/twilio/status")
    assert rows["s10"]["segments"] == billed_segments(form["Body"]) == 1
    assert rows["s10"]["cost"] == pytest.approx(0.05)  # price still null in the answer: configured price
    assert (report.segments, report.cost) == (2, 0.1)


def test_twilio_invalid_number_fails_alone_and_an_unsubscribed_one_is_suppressed(sms_shop, signer, twilio):
    twilio.unsubscribed.add(PHONES[11])
    twilio.not_mobile.add(PHONES[12])
    plan(sms_shop, [sms_row("s10", 10), sms_row("s11", 11), sms_row("s12", 12)])

    report = run_dispatch(sms_shop, twilio_provider(twilio), signer, "sms")

    rows = ledger(sms_shop)
    assert [rows[k]["state"] for k in ("s10", "s11", "s12")] == ["sent", "failed", "failed"]
    assert rows["s11"]["last_error"].startswith("twilio 21610: the recipient has unsubscribed")
    assert rows["s12"]["last_error"].startswith("twilio 21614")
    assert report.opted_out == 1
    with sms_shop.begin() as conn:
        suppressed = conn.exec_driver_sql(
            "SELECT channel, address, customer_id, reason, source FROM crm.suppressions"
        ).fetchall()
    assert suppressed == [("sms", PHONES[11], 11, "unsubscribe", "twilio")]
    # the next plan for that number is dropped at send time
    plan(sms_shop, [sms_row("again", 11)])
    later = Clock(NOW + timedelta(hours=5))
    again = run_dispatch(sms_shop, twilio_provider(twilio), signer, "sms", later)
    assert again.dropped == {"suppressed_address": 1}


def test_twilio_rate_limit_is_retried_after_retry_after(sms_shop, signer, twilio):
    plan(sms_shop, [sms_row("s10", 10)])
    twilio.script(
        Reply(429, {"code": 20429, "message": "Too Many Requests", "status": 429}, {"Retry-After": "3"})
    )
    clock = Clock()

    report = run_dispatch(sms_shop, twilio_provider(twilio), signer, "sms", clock)

    assert ledger(sms_shop)["s10"]["state"] == "sent"
    assert clock.waits == [3.0]
    assert (report.sent, report.released) == (1, 1)
    assert len(twilio.created) == 1


def test_twilio_bad_credentials_or_sender_stop_the_run(sms_shop, signer, twilio):
    plan(sms_shop, [sms_row("s10", 10)])
    with pytest.raises(ProviderConfigError, match="twilio 21659"):
        run_dispatch(sms_shop, twilio_provider(twilio, sender="NotOurs"), signer, "sms")
    assert ledger(sms_shop)["s10"]["state"] == "planned"
    bad = TwilioProvider(twilio.account_sid, "wrong", sender="Elektro", base_url=twilio.url)
    with pytest.raises(ProviderConfigError, match="twilio 20003"):
        run_dispatch(sms_shop, bad, signer, "sms")
    assert twilio.created == {}


def test_twilio_server_error_is_unknown(sms_shop, signer, twilio):
    plan(sms_shop, [sms_row("s10", 10)])
    twilio.script(Reply(500, {"code": 20500, "message": "Internal Server Error", "status": 500}))
    report = run_dispatch(sms_shop, twilio_provider(twilio), signer, "sms")
    assert report.unknown == 1
    assert ledger(sms_shop)["s10"]["state"] == "unknown"


def test_the_stand_ins_refuse_what_the_services_refuse(twilio, smsc):
    client = httpx.Client(base_url=twilio.url, auth=(twilio.account_sid, twilio.auth_token))
    path = f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    answer = client.post(path, data={"To": "89161234567", "From": "Elektro", "Body": "x"})
    assert (answer.status_code, answer.json()["code"]) == (400, 21211)
    answer = client.post(path, data={"To": PHONES[10], "From": "Elektro", "Body": "x" * 1601})
    assert answer.json()["code"] == 21617
    form = {
        "login": "shop",
        "psw": "secret-psw",
        "fmt": "3",
        "charset": "utf-8",
        "op": "1",
        "sender": "Elektro",
    }
    both = {**form, "list": f"{PHONES[10]}:a", "phones": PHONES[11], "mes": "b"}
    answer = httpx.post(f"{smsc.url}/sys/send.php", data=both)
    assert (answer.status_code, answer.json()) == (200, {"error": "parameters error", "error_code": 1})
    answer = httpx.post(f"{smsc.url}/sys/send.php", data={**form, "phones": "89161234567", "mes": "b"})
    assert smsc.violations == ["numbers are sent with '+' (no auto-correction): 89161234567"]
    smsc.violations.clear()
