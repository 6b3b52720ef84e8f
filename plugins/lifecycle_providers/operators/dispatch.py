"""Send the due rows of ``crm.send_ledger`` for one channel through one provider.

:class:`LedgerDispatchOperator` picks the provider from the connection's type, so a deployment switches
from the sandbox to SendGrid by changing a connection id; the per-provider operators (``operators/smtp.py``
…) fix the hook. All the logic is :class:`lifecycle.delivery.dispatch.Dispatcher`; a retried task is safe:
it first settles the rows its crashed try left in 'sending' (back to 'planned' unless their request was in
flight) and never claims a row twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar

from airflow.sdk import BaseOperator

#: Connection type -> hook class path (imported in execute, never at parse time).
HOOKS_BY_CONN_TYPE = {
    "lifecycle_sandbox": "lifecycle_providers.hooks.sandbox.SandboxHook",
    "smtp": "lifecycle_providers.hooks.smtp.SmtpDeliveryHook",
    "sendgrid": "lifecycle_providers.hooks.sendgrid.SendGridHook",
    "fcm": "lifecycle_providers.hooks.fcm.FcmHook",
    "onesignal": "lifecycle_providers.hooks.onesignal.OneSignalHook",
    "smsc": "lifecycle_providers.hooks.smsc.SmscHook",
    "twilio": "lifecycle_providers.hooks.twilio.TwilioHook",
}


class LedgerDispatchOperator(BaseOperator):
    """Dispatch one channel's due ledger rows; returns the run's figures (claimed, sent, failed, held and
    dropped at send time by reason…)."""

    template_fields: Sequence[str] = ("channel", "provider_conn_id", "warehouse_conn_id", "links_conn_id")
    ui_color = "#dbeafe"
    #: Set by the per-provider subclasses; None resolves the hook from the connection type.
    hook_class_path: ClassVar[str | None] = None

    def __init__(
        self,
        *,
        channel: str,
        provider_conn_id: str,
        warehouse_conn_id: str = "lifecycle_warehouse",
        links_conn_id: str = "lifecycle_links",
        orphan_after: timedelta = timedelta(minutes=15),
        max_messages: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.channel = channel
        self.provider_conn_id = provider_conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.links_conn_id = links_conn_id
        self.orphan_after = orphan_after
        self.max_messages = max_messages

    def provider_hook(self):
        from importlib import import_module

        path = self.hook_class_path
        if path is None:
            from airflow.sdk import BaseHook

            conn_type = BaseHook.get_connection(self.provider_conn_id).conn_type
            path = HOOKS_BY_CONN_TYPE.get(conn_type)
            if path is None:
                raise ValueError(
                    f"connection {self.provider_conn_id!r} has type {conn_type!r}; "
                    f"use one of {', '.join(HOOKS_BY_CONN_TYPE)}"
                )
        module, _, name = path.rpartition(".")
        return getattr(import_module(module), name)(conn_id=self.provider_conn_id)

    def execute(self, context) -> dict[str, Any]:
        from lifecycle.delivery.dispatch import Dispatcher, DispatchSettings
        from lifecycle_providers.hooks.links import DeliveryLinksHook
        from lifecycle_providers.hooks.warehouse import WarehouseHook

        provider = self.provider_hook().get_conn()
        try:
            report = Dispatcher(
                WarehouseHook(self.warehouse_conn_id).get_conn(),
                provider,
                DeliveryLinksHook(self.links_conn_id).get_conn(),
                settings=DispatchSettings(orphan_after=self.orphan_after, max_messages=self.max_messages),
            ).run(self.channel)
        finally:
            provider.close()
        self.log.info("%s", report.summary())
        return report.as_dict()
