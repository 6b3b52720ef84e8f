"""The sandbox provider's feedback, delivered as a production provider would: a signed webhook request.

:class:`RecordingSandbox` is the sandbox provider (messages written to the outbox folder) that also keeps the
messages it accepted, so the simulated customers can react to exactly what was sent. :class:`WebhookPoster`
sends their reactions (delivered, open, click, hard bounce, unsubscribe) to the project's webhook app
(``lifecycle.delivery.webhooks.create_app``, route ``POST /sandbox/events``) in the project's generic format,
HMAC-signed with the sandbox webhook secret: the app verifies the signature, parses and stores the events
(``crm.message_events``) and turns unsubscribes and hard bounces into suppressions, as it does for the
provider webhooks of a deployment. The request goes through an in-process ASGI client, not a socket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lifecycle.delivery.email_mime import Sender
from lifecycle.delivery.messages import Message, Outcome
from lifecycle.delivery.providers.sandbox import SandboxProvider


@dataclass(frozen=True)
class Sent:
    send_key: str
    channel: str
    customer_id: int
    chain_id: str
    step_id: str
    recipient: str | None


class RecordingSandbox(SandboxProvider):
    """The sandbox provider, keeping what it accepted until :meth:`take` is called."""

    def __init__(self, path: str | Path, sender: Sender, sms_price_per_segment: float | None = None):
        super().__init__(path, sender, sms_price_per_segment=sms_price_per_segment)
        self._sent: list[Sent] = []

    def send(self, batch: list[Message]) -> list[Outcome]:
        outcomes = super().send(batch)
        accepted = {o.send_key for o in outcomes if o.state == "sent"}
        self._sent += [
            Sent(m.send_key, m.channel, m.customer_id, m.chain_id, m.step_id, m.to[0] if m.to else None)
            for m in batch
            if m.send_key in accepted
        ]
        return outcomes

    def take(self) -> list[Sent]:
        sent, self._sent = self._sent, []
        return sent


class WebhookRefused(RuntimeError):
    """The webhook app did not accept a batch of feedback events."""


class WebhookPoster:
    """Posts event batches to ``/sandbox/events`` of the webhook app, signed with ``secret``."""

    def __init__(self, warehouse_url: str, secret: bytes, link_secret: bytes, links_url: str):
        import warnings

        with warnings.catch_warnings():
            # Starlette's notice about its test client's HTTP library; the client is only a transport here.
            warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
            from fastapi.testclient import TestClient

        from lifecycle.delivery.signing import LinkSigner
        from lifecycle.delivery.webhooks import WebhookSettings, create_app
        from lifecycle.warehouse import Warehouse

        self.secret = secret
        signer = LinkSigner(link_secret, links_url)
        # As in the deployment, each request resolves its settings and opens its own warehouse connection.
        app = create_app(
            lambda: WebhookSettings(warehouse=Warehouse(warehouse_url), signer=signer, sandbox_secret=secret)
        )
        self.client = TestClient(app)
        self.posted = 0

    def post(self, events: list[dict]) -> int:
        """Send the events (dicts of the generic format); returns how many the app stored."""
        from lifecycle.delivery.signing import SIGNATURE_HEADER, sign_webhook

        if not events:
            return 0
        body = json.dumps({"events": events}, ensure_ascii=False).encode()
        response = self.client.post(
            "/sandbox/events",
            content=body,
            headers={SIGNATURE_HEADER: sign_webhook(self.secret, body), "Content-Type": "application/json"},
        )
        if response.status_code != 200:
            raise WebhookRefused(f"the webhook app answered {response.status_code}: {response.text[:300]}")
        received = int(response.json()["received"])
        self.posted += received
        return received

    def close(self) -> None:
        self.client.close()


def event(send_key: str, kind: str, recipient: str | None, channel: str, at: datetime) -> dict:
    """One event of the generic format; the id makes a repeated post a no-op."""
    return {
        "id": f"sim:{send_key}:{kind}",
        "event": kind,
        "send_key": send_key,
        "recipient": recipient,
        "channel": channel,
        "timestamp": at.replace(tzinfo=UTC).timestamp(),
    }
