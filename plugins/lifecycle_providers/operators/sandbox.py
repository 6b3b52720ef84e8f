"""Dispatch ledger rows into the sandbox folder (connection ``lifecycle_sandbox``, hooks/sandbox.py)."""

from __future__ import annotations

from typing import Any

from lifecycle_providers.operators.dispatch import LedgerDispatchOperator


class SandboxDispatchOperator(LedgerDispatchOperator):
    hook_class_path = "lifecycle_providers.hooks.sandbox.SandboxHook"

    def __init__(self, *, channel: str, provider_conn_id: str = "lifecycle_sandbox", **kwargs: Any) -> None:
        super().__init__(channel=channel, provider_conn_id=provider_conn_id, **kwargs)
