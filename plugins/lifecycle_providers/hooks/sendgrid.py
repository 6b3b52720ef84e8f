"""Hook for SendGrid v3 Mail Send.

Connection ``lifecycle_sendgrid`` (type ``sendgrid``): ``password`` = API key; extras ``from_email``,
``from_name``, ``reply_to``, ``base_url`` (default ``https://api.sendgrid.com``; EU ``https://api.eu.sendgrid.com``),
``template_id`` (a pass-through dynamic template: batches of 1000; without it one request per message),
``concurrency`` (default 4), ``requests_per_second``, ``webhook_public_key`` (Event Webhook verification key).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lifecycle_providers.hooks.delivery import DeliveryHook

if TYPE_CHECKING:
    from lifecycle.delivery.providers.sendgrid import SendGridProvider


class SendGridHook(DeliveryHook):
    default_conn_name = "lifecycle_sendgrid"
    conn_type = "sendgrid"
    hook_name = "Lifecycle SendGrid"

    def get_conn(self) -> SendGridProvider:
        from lifecycle.delivery.providers.sendgrid import SendGridProvider

        api_key = self.connection.password
        if not api_key:
            raise ValueError(f"connection {self.conn_id!r}: set password to the SendGrid API key")
        return SendGridProvider(
            api_key=api_key,
            sender=self.sender(),
            base_url=self.extra("base_url", "https://api.sendgrid.com"),
            template_id=self.extra("template_id"),
            timeout=self.float_extra("timeout", 30.0),
            concurrency=self.int_extra("concurrency", 4),
            requests_per_second=self.float_extra("requests_per_second", None),
        )

    def webhook_public_key(self) -> str | None:
        return self.extra("webhook_public_key")
