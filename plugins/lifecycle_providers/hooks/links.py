"""Hook for the secret that signs the links in messages (one-click unsubscribe) and derives promo codes.

Connection ``lifecycle_links`` (type ``generic``): ``password`` = the signing secret (at least 16 bytes),
extra ``base_url`` = where the webhook app is reachable, e.g. ``https://crm.shop.example/lifecycle-webhooks``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from lifecycle.delivery.signing import LinkSigner


class DeliveryLinksHook(BaseHook):
    conn_name_attr = "links_conn_id"
    default_conn_name = "lifecycle_links"
    conn_type = "generic"
    hook_name = "Lifecycle signed links"

    def __init__(self, links_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.links_conn_id = links_conn_id

    def get_conn(self) -> LinkSigner:
        from lifecycle.delivery.signing import LinkSigner

        conn = self.get_connection(self.links_conn_id)
        base_url = conn.extra_dejson.get("base_url")
        if not conn.password or not base_url:
            raise ValueError(f"connection {self.links_conn_id!r}: set password (secret) and extra 'base_url'")
        return LinkSigner(conn.password.encode(), base_url)

    def test_connection(self) -> tuple[bool, str]:
        try:
            self.get_conn()
        except Exception as exc:
            return False, str(exc)
        return True, "Signing secret and base URL are set"
