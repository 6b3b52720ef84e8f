"""The interface every provider client implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

from lifecycle.delivery.messages import Message, Outcome


class Provider(ABC):
    #: Stored in ``crm.send_ledger.provider``.
    name: str
    channels: frozenset[str]
    #: Messages per :meth:`send` call (the API's maximum per request, or 1 for one-message APIs).
    max_batch: int = 1
    #: Batches in flight at once (threads); Airflow pools bound how many tasks do this in parallel.
    concurrency: int = 1
    #: Requests per second the client allows itself (None: no client-side limit).
    requests_per_second: float | None = None
    #: True when the provider deduplicates by our ledger key, so an ambiguous failure may be resent.
    idempotent: bool = False
    #: Push providers that address devices by our stored tokens (FCM) rather than by customer (OneSignal).
    needs_push_tokens: bool = True
    #: True when one request may not carry the same address twice (SendGrid's personalizations).
    unique_recipients: bool = False

    @abstractmethod
    def send(self, batch: list[Message]) -> list[Outcome]:
        """One outcome per message. May raise ProviderResponseError (whole request) or ProviderConfigError."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
