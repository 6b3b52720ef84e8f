"""Dispatch ledger rows through any SMTP server (connection ``lifecycle_smtp``, see ``hooks/smtp.py``)."""

from __future__ import annotations

from typing import Any

from lifecycle_providers.operators.dispatch import LedgerDispatchOperator


class SmtpDispatchOperator(LedgerDispatchOperator):
    hook_class_path = "lifecycle_providers.hooks.smtp.SmtpDeliveryHook"

    def __init__(self, *, channel: str, provider_conn_id: str = "lifecycle_smtp", **kwargs: Any) -> None:
        super().__init__(channel=channel, provider_conn_id=provider_conn_id, **kwargs)
