"""Twilio Programmable Messaging (``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``), one per message.

HTTP Basic auth with the Account SID and Auth Token; a form with ``To`` (E.164), ``From`` (the sender: an
alphanumeric sender id or a Twilio number) or ``MessagingServiceSid``, ``Body`` and ``StatusCallback``
(where Twilio posts the delivery reports, signed with ``X-Twilio-Signature``). ``201 Created`` answers the
Message resource: ``sid``, ``status`` ('queued' / 'accepted'), ``num_segments`` and ``price`` (usually
still null; then the configured price per segment gives the cost).

Errors answer ``{"code", "message", "more_info", "status"}``:

* 400 with 21211 (invalid 'To'), 21614 (not a mobile number), 21612 / 21408 (cannot route there): this
  message fails alone; 21610 (the recipient replied STOP) fails it and suppresses the number;
* 400 with 21606 / 21659 / 21212 (the 'From' cannot send), 401 / 403 (20003): the run stops;
* 429 (20429 Too Many Requests) and 503: not taken, retried after ``Retry-After`` or a backoff;
* 5xx or a timeout after sending: 'unknown' (Twilio's Messages API takes no idempotency key).
"""

from __future__ import annotations

import contextlib
from typing import Any

from lifecycle.delivery.messages import Message, Outcome, ProviderConfigError, ProviderResponseError
from lifecycle.delivery.providers import http
from lifecycle.delivery.providers.base import Provider
from lifecycle.delivery.sms import cost as priced

#: Errors about this recipient only: the message fails, the run goes on.
RECIPIENT_ERRORS = {
    21211: "invalid 'To' phone number",
    21408: "no permission to send to this region",
    21610: "the recipient has unsubscribed (replied STOP)",
    21612: "cannot route to this number",
    21614: "'To' is not a mobile number",
}
#: Errors about our sender or account: nothing will go until the connection is fixed.
SENDER_ERRORS = {
    20003: "authentication failed",
    21212: "invalid 'From' number",
    21606: "the 'From' number cannot send to this destination",
    21659: "the 'From' is not a Twilio number or sender id of this account",
}
UNSUBSCRIBED = 21610


def _error(response: http.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
        return int(body.get("code")), str(body.get("message") or "")
    except (ValueError, TypeError, AttributeError):
        return None, response.text[:300]


class TwilioProvider(Provider):
    name = "twilio"
    channels = frozenset({"sms"})
    max_batch = 1

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        base_url: str = "https://api.twilio.com",
        price_per_segment: float | None = None,
        timeout: float = 15.0,
        concurrency: int = 4,
        requests_per_second: float | None = None,
    ):
        if not account_sid or not auth_token:
            raise ProviderConfigError("Twilio needs the Account SID and the Auth Token")
        if not sender and not messaging_service_sid:
            raise ProviderConfigError("Twilio needs a sender ('From') or a Messaging Service SID")
        self.account_sid, self.sender = account_sid, sender
        self.messaging_service_sid, self.status_callback = messaging_service_sid, status_callback
        self.price, self.concurrency = price_per_segment, concurrency
        self.requests_per_second = requests_per_second
        self.client = http.Client(base_url, timeout, auth=(account_sid, auth_token))

    @property
    def path(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def form(self, message: Message) -> dict[str, str]:
        form = {"To": message.to[0], "Body": message.sms.text}
        sender = message.sms.sender or self.sender
        if sender:
            form["From"] = sender
        else:
            form["MessagingServiceSid"] = self.messaging_service_sid
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        return form

    def _send_one(self, message: Message) -> Outcome:
        response = http.post(self.client, self.path, self.name, data=self.form(message))
        if response.status_code == 201:
            return self._created(message, response.json())
        code, text = _error(response)
        if code in SENDER_ERRORS or response.status_code in (401, 403):
            raise ProviderConfigError(f"twilio {code}: {SENDER_ERRORS.get(code, text)} ({text})")
        if response.status_code == 400 and code in RECIPIENT_ERRORS:
            return Outcome(
                message.send_key,
                "failed",
                error=f"twilio {code}: {RECIPIENT_ERRORS[code]} ({message.to[0]})",
                opted_out=code == UNSUBSCRIBED,
            )
        http.check(response, self.name)  # 429 / 503 retry, 5xx ambiguous, other 4xx failed
        raise ProviderResponseError("ambiguous", f"twilio HTTP {response.status_code}: {text}")

    def _created(self, message: Message, body: dict[str, Any]) -> Outcome:
        segments = message.sms.segments
        with contextlib.suppress(TypeError, ValueError):
            segments = int(body.get("num_segments") or segments)
        try:
            price = abs(float(body["price"])) if body.get("price") not in (None, "") else None
        except (TypeError, ValueError):
            price = None
        return Outcome(
            message.send_key,
            "sent",
            provider_message_id=str(body.get("sid") or ""),
            segments=segments,
            cost=price if price is not None else priced(segments, self.price),
        )

    def send(self, batch: list[Message]) -> list[Outcome]:
        outcomes = []
        for message in batch:
            try:
                outcomes.append(self._send_one(message))
            except ProviderConfigError as exc:
                raise ProviderConfigError(str(exc), outcomes) from exc
        return outcomes

    def close(self) -> None:
        self.client.close()
