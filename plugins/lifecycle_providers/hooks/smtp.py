"""Hook for sending email through any SMTP server.

Connection ``lifecycle_smtp`` (type ``smtp``): ``host``, ``port``, optional ``login``/``password``; extras
``starttls`` (bool), ``ssl`` (implicit TLS, bool), ``timeout`` (s), ``from_email``, ``from_name``,
``reply_to``, ``messages_per_connection`` (messages per SMTP session, default 50; ``max_batch`` is read as
the same), ``concurrency`` (sessions at once, default 1), ``requests_per_second`` (messages per second,
optional).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lifecycle_providers.hooks.delivery import DeliveryHook

if TYPE_CHECKING:
    from lifecycle.delivery.providers.smtp import SmtpProvider


class SmtpDeliveryHook(DeliveryHook):
    default_conn_name = "lifecycle_smtp"
    conn_type = "smtp"
    hook_name = "Lifecycle SMTP"

    def get_conn(self) -> SmtpProvider:
        from lifecycle.delivery.providers.smtp import SmtpProvider

        conn = self.connection
        use_ssl = self.bool_extra("ssl")
        return SmtpProvider(
            host=conn.host or "localhost",
            port=conn.port or (465 if use_ssl else 25),
            sender=self.sender(),
            login=conn.login or None,
            password=conn.password or None,
            starttls=self.bool_extra("starttls"),
            use_ssl=use_ssl,
            timeout=self.float_extra("timeout", 30.0),
            messages_per_connection=self.int_extra(
                "messages_per_connection", self.int_extra("max_batch", 50)
            ),
            concurrency=self.int_extra("concurrency", 1),
            requests_per_second=self.float_extra("requests_per_second", None),
        )

    def test_connection(self) -> tuple[bool, str]:
        try:
            client = self.get_conn()._connect()
            client.noop()
            client.quit()
        except Exception as exc:
            return False, str(exc)
        return True, "SMTP server reachable"
