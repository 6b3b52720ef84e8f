"""Hook for Firebase Cloud Messaging HTTP v1 with a service account.

Connection ``lifecycle_fcm`` (type ``fcm``): ``password`` = the service-account key JSON (or extra
``service_account`` as an object); extras ``project_id`` (default: from the key), ``base_url`` (default
``https://fcm.googleapis.com``), ``token_uri`` (overrides the key's, e.g. for a local stand-in),
``concurrency`` (default 20), ``requests_per_second``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from lifecycle_providers.hooks.delivery import DeliveryHook

if TYPE_CHECKING:
    from lifecycle.delivery.providers.fcm import FcmProvider


class FcmHook(DeliveryHook):
    default_conn_name = "lifecycle_fcm"
    conn_type = "fcm"
    hook_name = "Lifecycle Firebase Cloud Messaging"

    def service_account(self) -> dict:
        info = self.extra("service_account") or self.connection.password
        if not info:
            raise ValueError(f"connection {self.conn_id!r}: put the service-account JSON in password")
        info = dict(json.loads(info) if isinstance(info, str) else info)
        if self.extra("token_uri"):
            info["token_uri"] = self.extra("token_uri")
        return info

    def get_conn(self) -> FcmProvider:
        from lifecycle.delivery.providers.fcm import FcmProvider

        return FcmProvider(
            service_account=self.service_account(),
            base_url=self.extra("base_url", "https://fcm.googleapis.com"),
            project_id=self.extra("project_id"),
            timeout=self.float_extra("timeout", 10.0),
            concurrency=self.int_extra("concurrency", 20),
            requests_per_second=self.float_extra("requests_per_second", None),
        )

    def test_connection(self) -> tuple[bool, str]:
        try:
            provider = self.get_conn()
            provider.token.get()
            provider.close()
        except Exception as exc:
            return False, str(exc)
        return True, "Service account accepted by the token endpoint"
