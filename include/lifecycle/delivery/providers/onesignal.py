"""OneSignal Create Notification (``POST /notifications``, ``Authorization: Key``), one per message.

Messages are personalised, and OneSignal's content is per request, so each ledger row is its own
notification targeted at the customer's ``external_id`` alias. Every request carries
``idempotency_key`` = UUIDv5 of the ledger key: OneSignal returns the original result for a repeat within
30 days, so timeouts, 5xx and orphaned claims are safely resent. A ``200`` may carry an ``id`` and
``errors`` (``invalid_aliases`` / ``invalid_player_ids``: recipients no longer subscribed): with one
recipient per request nobody got it, so the row is 'failed', not 'sent'.
"""

from __future__ import annotations

import uuid
from typing import Any

from lifecycle.delivery.messages import (
    Message,
    Outcome,
    ProviderConfigError,
    ProviderResponseError,
    batch_outcomes,
)
from lifecycle.delivery.providers import http
from lifecycle.delivery.providers.base import Provider

#: Namespace of the idempotency keys; never change it, or keys already sent would be sent again.
IDEMPOTENCY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "lifecycle://warehouse/crm/send_ledger")


def idempotency_key(send_key: str) -> str:
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, send_key))


class OneSignalProvider(Provider):
    name = "onesignal"
    channels = frozenset({"push"})
    max_batch = 1
    idempotent = True
    needs_push_tokens = False

    def __init__(
        self,
        app_id: str,
        api_key: str,
        base_url: str = "https://api.onesignal.com",
        timeout: float = 15.0,
        concurrency: int = 10,
        requests_per_second: float | None = None,
    ):
        self.app_id = app_id
        self.concurrency, self.requests_per_second = concurrency, requests_per_second
        self.client = http.Client(
            base_url,
            timeout,
            headers={"Authorization": f"Key {api_key}"},
            max_connections=max(concurrency, 1) * 2,
        )

    def body(self, message: Message) -> dict[str, Any]:
        return {
            "app_id": self.app_id,
            "target_channel": "push",
            "include_aliases": {"external_id": [str(message.customer_id)]},
            "headings": {"en": message.push.title, "ru": message.push.title},
            "contents": {"en": message.push.body, "ru": message.push.body},
            "url": message.push.url,
            "data": {"send_key": message.send_key, "chain": message.chain_id},
            "idempotency_key": idempotency_key(message.send_key),
        }

    def _send_one(self, message: Message) -> Outcome:
        response = http.post(
            self.client, "/notifications", self.name, params={"c": "push"}, json=self.body(message)
        )
        http.check(response, self.name)
        try:
            answer = response.json()
        except ValueError:
            raise ProviderResponseError(
                "retry", f"onesignal: unreadable answer {response.text[:200]}"
            ) from None
        errors = answer.get("errors")
        if isinstance(errors, dict) and (errors.get("invalid_aliases") or errors.get("invalid_player_ids")):
            # 200 with an id *and* errors: those recipients exist but are not subscribed. One recipient per
            # request, so nobody got this notification.
            return Outcome(
                message.send_key,
                "failed",
                provider_message_id=answer.get("id") or None,
                error=f"onesignal: recipient not subscribed {errors}"[:500],
            )
        if answer.get("id"):
            return Outcome(message.send_key, "sent", provider_message_id=answer["id"])
        return Outcome(message.send_key, "failed", error=f"onesignal created nothing: {errors}")

    def send(self, batch: list[Message]) -> list[Outcome]:
        outcomes = []
        for message in batch:
            try:
                outcomes.append(self._send_one(message))
            except ProviderResponseError as exc:
                outcomes += batch_outcomes([message], exc, self.idempotent)
            except ProviderConfigError as exc:
                raise ProviderConfigError(str(exc), outcomes) from exc
        return outcomes

    def close(self) -> None:
        self.client.close()
