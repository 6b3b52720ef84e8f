"""Dispatch ledger rows through OneSignal (connection ``lifecycle_onesignal``, see ``hooks/onesignal.py``)."""

from __future__ import annotations

from typing import Any

from lifecycle_providers.operators.dispatch import LedgerDispatchOperator


class OneSignalDispatchOperator(LedgerDispatchOperator):
    hook_class_path = "lifecycle_providers.hooks.onesignal.OneSignalHook"

    def __init__(self, *, channel: str, provider_conn_id: str = "lifecycle_onesignal", **kwargs: Any) -> None:
        super().__init__(channel=channel, provider_conn_id=provider_conn_id, **kwargs)
