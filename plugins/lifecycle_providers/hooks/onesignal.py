"""Hook for OneSignal push (Create Notification).

Connection ``lifecycle_onesignal`` (type ``onesignal``): ``login`` = app id, ``password`` = App API key;
extras ``base_url`` (default ``https://api.onesignal.com``), ``concurrency`` (default 10),
``requests_per_second`` (150 on the free plan).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lifecycle_providers.hooks.delivery import DeliveryHook

if TYPE_CHECKING:
    from lifecycle.delivery.providers.onesignal import OneSignalProvider


class OneSignalHook(DeliveryHook):
    default_conn_name = "lifecycle_onesignal"
    conn_type = "onesignal"
    hook_name = "Lifecycle OneSignal"

    def get_conn(self) -> OneSignalProvider:
        from lifecycle.delivery.providers.onesignal import OneSignalProvider

        conn = self.connection
        if not conn.login or not conn.password:
            raise ValueError(f"connection {self.conn_id!r}: set login (app id) and password (API key)")
        return OneSignalProvider(
            app_id=conn.login,
            api_key=conn.password,
            base_url=self.extra("base_url", "https://api.onesignal.com"),
            timeout=self.float_extra("timeout", 15.0),
            concurrency=self.int_extra("concurrency", 10),
            requests_per_second=self.float_extra("requests_per_second", None),
        )
