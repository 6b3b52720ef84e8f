"""Dispatch SMS ledger rows through SMSC.ru (connection ``lifecycle_smsc``, see ``hooks/smsc.py``)."""

from __future__ import annotations

from typing import Any

from lifecycle_providers.operators.dispatch import LedgerDispatchOperator


class SmscDispatchOperator(LedgerDispatchOperator):
    hook_class_path = "lifecycle_providers.hooks.smsc.SmscHook"

    def __init__(
        self, *, channel: str = "sms", provider_conn_id: str = "lifecycle_smsc", **kwargs: Any
    ) -> None:
        super().__init__(channel=channel, provider_conn_id=provider_conn_id, **kwargs)
