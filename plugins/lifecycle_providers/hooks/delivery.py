"""What every delivery hook shares: typed access to connection extras and the sender identity.

Provider hooks subclass :class:`DeliveryHook`; each looks its connection up lazily in ``get_conn()`` and
returns a provider client from ``lifecycle.delivery.providers`` (imported there, not at module import,
because Airflow imports every module under plugins/ when it loads plugins).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from lifecycle.delivery.email_mime import Sender


class DeliveryHook(BaseHook):
    """Base of the provider hooks; ``conn_id`` names the Airflow Connection holding the secrets."""

    conn_name_attr = "conn_id"

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id or self.default_conn_name

    @property
    def connection(self):
        return self.get_connection(self.conn_id)

    def extra(self, name: str, default: Any = None) -> Any:
        value = self.connection.extra_dejson.get(name)
        return default if value in (None, "") else value

    def int_extra(self, name: str, default: int) -> int:
        return int(self.extra(name, default))

    def float_extra(self, name: str, default: float | None) -> float | None:
        value = self.extra(name, default)
        return None if value is None else float(value)

    def bool_extra(self, name: str, default: bool = False) -> bool:
        value = self.extra(name, default)
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")

    def sender(self) -> Sender:
        from lifecycle.delivery.email_mime import Sender

        from_email = self.extra("from_email")
        if not from_email:
            raise ValueError(f"connection {self.conn_id!r}: set extra 'from_email'")
        return Sender(from_email, self.extra("from_name", ""), self.extra("reply_to"))

    def test_connection(self) -> tuple[bool, str]:
        try:
            self.get_conn().close()
        except Exception as exc:
            return False, str(exc)
        return True, "Connection settings are complete"
