"""Hook for Twilio Programmable Messaging (SMS).

Connection ``lifecycle_twilio`` (type ``twilio``): ``login`` = Account SID, ``password`` = Auth Token (it
also verifies the ``X-Twilio-Signature`` of the status callbacks); extras ``sender`` (the ``From``: an
alphanumeric sender id or a Twilio number) or ``messaging_service_sid``, ``status_callback`` (the public
URL of ``/lifecycle-webhooks/twilio/status``, exactly as Twilio will call it: the signature covers it),
``price_per_segment``, ``base_url`` (default ``https://api.twilio.com``), ``concurrency`` (default 4),
``requests_per_second``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lifecycle_providers.hooks.delivery import DeliveryHook

if TYPE_CHECKING:
    from lifecycle.delivery.providers.twilio import TwilioProvider


class TwilioHook(DeliveryHook):
    default_conn_name = "lifecycle_twilio"
    conn_type = "twilio"
    hook_name = "Lifecycle Twilio Messaging"

    def get_conn(self) -> TwilioProvider:
        from lifecycle.delivery.providers.twilio import TwilioProvider

        conn = self.connection
        if not conn.login or not conn.password:
            raise ValueError(
                f"connection {self.conn_id!r}: set login (Account SID) and password (Auth Token)"
            )
        return TwilioProvider(
            account_sid=conn.login,
            auth_token=conn.password,
            sender=self.extra("sender"),
            messaging_service_sid=self.extra("messaging_service_sid"),
            status_callback=self.extra("status_callback"),
            base_url=self.extra("base_url", "https://api.twilio.com"),
            price_per_segment=self.float_extra("price_per_segment", None),
            timeout=self.float_extra("timeout", 15.0),
            concurrency=self.int_extra("concurrency", 4),
            requests_per_second=self.float_extra("requests_per_second", None),
        )

    def webhook_settings(self) -> tuple[str, str | None] | None:
        """(Auth Token, the status callback URL as configured) for the webhook's signature check."""
        password = self.connection.password
        return (password, self.extra("status_callback")) if password else None
