"""Dispatch SMS ledger rows through Twilio (connection ``lifecycle_twilio``, see ``hooks/twilio.py``)."""

from __future__ import annotations

from typing import Any

from lifecycle_providers.operators.dispatch import LedgerDispatchOperator


class TwilioDispatchOperator(LedgerDispatchOperator):
    hook_class_path = "lifecycle_providers.hooks.twilio.TwilioHook"

    def __init__(
        self, *, channel: str = "sms", provider_conn_id: str = "lifecycle_twilio", **kwargs: Any
    ) -> None:
        super().__init__(channel=channel, provider_conn_id=provider_conn_id, **kwargs)
