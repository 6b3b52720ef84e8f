"""SendGrid v3 Mail Send (``POST /v3/mail/send``, ``Authorization: Bearer``).

SendGrid's ``content`` is per request, so personalised HTML needs either one request per message, or a
"pass-through" dynamic template (HTML ``{{{html}}}``, text ``{{{text}}}``, subject ``{{subject}}``) whose
``dynamic_template_data`` carries each message's rendering: then up to 1000 personalizations go in one
request. A 202 means queued; per-recipient results come through the Event Webhook, correlated by the
``send_key`` custom arg. There is no idempotency key: a timeout or 5xx is 'unknown', never resent. A 400
rejects the whole request without sending: errors naming a personalization fail that message and the rest
is sent again; an error about the request itself (an inactive template, error 60218; the sender) is a
configuration error. One request never carries the same address twice (SendGrid rejects it).
"""

from __future__ import annotations

import re
from typing import Any

from lifecycle.delivery.email_mime import Sender
from lifecycle.delivery.messages import (
    Message,
    Outcome,
    ProviderConfigError,
    ProviderResponseError,
    batch_outcomes,
)
from lifecycle.delivery.providers import http
from lifecycle.delivery.providers.base import Provider

MAX_PERSONALIZATIONS = 1000
#: Top-level fields of the request itself: a 400 about them is a configuration error, not a message's.
_REQUEST_FIELDS = {
    "template_id",
    "from",
    "reply_to",
    "reply_to_list",
    "asm",
    "mail_settings",
    "tracking_settings",
    "ip_pool_name",
    "batch_id",
    "categories",
    "send_at",
    "headers",
}
_PERSONALIZATION = re.compile(r"^personalizations\.(\d+)(?:\.|$)")


def _errors(response: http.Response) -> list[dict[str, Any]]:
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return []
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


class SendGridProvider(Provider):
    name = "sendgrid"
    channels = frozenset({"email"})
    unique_recipients = True

    def __init__(
        self,
        api_key: str,
        sender: Sender,
        base_url: str = "https://api.sendgrid.com",
        template_id: str | None = None,
        timeout: float = 30.0,
        concurrency: int = 4,
        requests_per_second: float | None = None,
    ):
        self.sender, self.template_id = sender, template_id
        self.max_batch = MAX_PERSONALIZATIONS if template_id else 1
        self.concurrency, self.requests_per_second = concurrency, requests_per_second
        self.client = http.Client(
            base_url,
            timeout,
            headers={"Authorization": f"Bearer {api_key}"},
            max_connections=max(concurrency, 1) * 2,
        )

    def _personalization(self, message: Message) -> dict[str, Any]:
        item: dict[str, Any] = {
            "to": [{"email": address} for address in message.to],
            "custom_args": {"send_key": message.send_key, "chain": message.chain_id, "step": message.step_id},
        }
        if message.headers:
            item["headers"] = dict(message.headers)
        if self.template_id:
            item["dynamic_template_data"] = {
                "subject": message.email.subject,
                "preheader": message.email.preheader,
                "html": message.email.html,
                "text": message.email.text,
            }
        else:
            item["subject"] = message.email.subject
        return item

    def payload(self, batch: list[Message]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "from": {"email": self.sender.from_email, "name": self.sender.from_name},
            "personalizations": [self._personalization(m) for m in batch],
        }
        if self.sender.reply_to:
            body["reply_to"] = {"email": self.sender.reply_to}
        if self.template_id:
            body["template_id"] = self.template_id
        else:
            (message,) = batch
            body["content"] = [
                {"type": "text/plain", "value": message.email.text},
                {"type": "text/html", "value": message.email.html},
            ]
        return body

    def send(self, batch: list[Message]) -> list[Outcome]:
        if not batch:
            return []
        response = http.post(self.client, "/v3/mail/send", self.name, json=self.payload(batch))
        if response.status_code == 400:
            return self._rejected(batch, response)
        try:
            http.check(response, self.name)
        except ProviderResponseError as exc:
            if exc.kind == "failed" and len(batch) > 1:  # 413: too large together; halves may pass
                return self._split(batch)
            raise
        message_id = response.headers.get("x-message-id")
        return [Outcome(m.send_key, "sent", provider_message_id=message_id) for m in batch]

    def _rejected(self, batch: list[Message], response: http.Response) -> list[Outcome]:
        """A 400 rejects the whole request and sends nothing. Errors that name a personalization fail that
        message and the rest is sent again; an error about the request itself (template, sender…) is a
        configuration error, which no splitting can fix."""
        errors = _errors(response)
        detail = (
            "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors)[:500] or response.text[:300]
        )
        fields = [str(e.get("field") or "") for e in errors]
        if any(f.split(".")[0] in _REQUEST_FIELDS for f in fields):
            raise ProviderConfigError(f"sendgrid rejected the request (HTTP 400): {detail}")
        indices = {int(m.group(1)) for f in fields if (m := _PERSONALIZATION.match(f))}
        if indices and all(_PERSONALIZATION.match(f) for f in fields):
            bad = [batch[i] for i in sorted(indices) if i < len(batch)]
            if bad:
                rest = [m for i, m in enumerate(batch) if i not in indices]
                failed = Outcome.for_batch(bad, "failed", f"sendgrid HTTP 400: {detail}")
                try:
                    return failed + self.send(rest)
                except ProviderResponseError as exc:
                    return failed + batch_outcomes(rest, exc, self.idempotent)
                except ProviderConfigError as exc:
                    raise ProviderConfigError(str(exc), failed + exc.outcomes) from exc
        if len(batch) == 1:
            return Outcome.for_batch(batch, "failed", f"sendgrid HTTP 400: {detail}")
        return self._split(batch)

    def close(self) -> None:
        self.client.close()
