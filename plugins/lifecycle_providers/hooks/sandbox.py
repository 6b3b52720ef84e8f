"""Hook for the sandbox provider: messages are written to a folder, nothing leaves the machine.

Connection ``lifecycle_sandbox`` (type ``lifecycle_sandbox``): extra ``path`` (folder for ``email/*.eml``,
``email/*.html``, ``push/*.json`` and ``sms/*.json``), ``from_email``, ``from_name``, ``sms_sender``
(default ``Shop``), ``sms_price_per_segment`` (optional, to show SMS costs); ``password`` = the HMAC secret
of the sandbox feedback webhook (optional).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lifecycle_providers.hooks.delivery import DeliveryHook

if TYPE_CHECKING:
    from lifecycle.delivery.providers.sandbox import SandboxProvider


class SandboxHook(DeliveryHook):
    default_conn_name = "lifecycle_sandbox"
    conn_type = "lifecycle_sandbox"
    hook_name = "Lifecycle sandbox (files)"

    def get_conn(self) -> SandboxProvider:
        from lifecycle.delivery.providers.sandbox import SandboxProvider

        path = self.extra("path")
        if not path:
            raise ValueError(f"connection {self.conn_id!r}: set extra 'path' to the output folder")
        return SandboxProvider(
            path,
            self.sender(),
            sms_sender=self.extra("sms_sender", "Shop"),
            sms_price_per_segment=self.float_extra("sms_price_per_segment", None),
        )

    def webhook_secret(self) -> bytes | None:
        password = self.connection.password
        return password.encode() if password else None
