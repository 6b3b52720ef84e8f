"""Dispatch ledger rows through Firebase Cloud Messaging (connection ``lifecycle_fcm``, hooks/fcm.py)."""

from __future__ import annotations

from typing import Any

from lifecycle_providers.operators.dispatch import LedgerDispatchOperator


class FcmDispatchOperator(LedgerDispatchOperator):
    hook_class_path = "lifecycle_providers.hooks.fcm.FcmHook"

    def __init__(self, *, channel: str, provider_conn_id: str = "lifecycle_fcm", **kwargs: Any) -> None:
        super().__init__(channel=channel, provider_conn_id=provider_conn_id, **kwargs)
