"""Dispatch ledger rows through SendGrid (connection ``lifecycle_sendgrid``, see ``hooks/sendgrid.py``)."""

from __future__ import annotations

from typing import Any

from lifecycle_providers.operators.dispatch import LedgerDispatchOperator


class SendGridDispatchOperator(LedgerDispatchOperator):
    hook_class_path = "lifecycle_providers.hooks.sendgrid.SendGridHook"

    def __init__(self, *, channel: str, provider_conn_id: str = "lifecycle_sendgrid", **kwargs: Any) -> None:
        super().__init__(channel=channel, provider_conn_id=provider_conn_id, **kwargs)
