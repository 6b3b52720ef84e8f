"""Hook for SMSC.ru (HTTP API ``/sys/send.php``).

Connection ``lifecycle_smsc`` (type ``smsc``): ``login`` and ``password`` (or only ``password`` = an API
key); extras ``sender`` (the registered sender name, required), ``price_per_segment`` (what one segment
costs, for the cost figures when SMSC does not answer it), ``base_url`` (default ``https://smsc.ru``),
``max_batch`` (messages per request, default 50), ``concurrency`` (default 2), ``requests_per_second``,
``callback_secret`` (the secret the status callback's checksum uses; default the password).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lifecycle_providers.hooks.delivery import DeliveryHook

if TYPE_CHECKING:
    from lifecycle.delivery.providers.smsc import SmscProvider


class SmscHook(DeliveryHook):
    default_conn_name = "lifecycle_smsc"
    conn_type = "smsc"
    hook_name = "Lifecycle SMSC.ru"

    def get_conn(self) -> SmscProvider:
        from lifecycle.delivery.providers.smsc import SmscProvider
        from lifecycle.delivery.sms import sender_problem

        conn = self.connection
        sender = self.extra("sender")
        if not conn.password or not sender:
            raise ValueError(f"connection {self.conn_id!r}: set password (or API key) and extra 'sender'")
        problem = sender_problem(str(sender))
        if problem:
            raise ValueError(f"connection {self.conn_id!r}: {problem}")
        return SmscProvider(
            login=conn.login or None,
            password=conn.password,
            sender=str(sender),
            base_url=self.extra("base_url", "https://smsc.ru"),
            price_per_segment=self.float_extra("price_per_segment", None),
            max_batch=self.int_extra("max_batch", 50),
            timeout=self.float_extra("timeout", 30.0),
            concurrency=self.int_extra("concurrency", 2),
            requests_per_second=self.float_extra("requests_per_second", None),
        )

    def callback_secret(self) -> str | None:
        return self.extra("callback_secret") or self.connection.password
