"""What an HTTP answer or transport error means for the ledger, shared by the HTTP providers."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import httpx

from lifecycle.delivery.messages import ProviderConfigError, ProviderResponseError


def retry_after_seconds(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``X-RateLimit-Reset`` (epoch)."""
    now = time.time() if now is None else now
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = headers.get("x-ratelimit-reset")
    if reset:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            pass
    return None


def check(response: httpx.Response, provider: str) -> None:
    """Raise the ledger meaning of a non-2xx answer to a whole request."""
    status = response.status_code
    if status < 300:
        return
    detail = f"{provider} HTTP {status}: {response.text[:300]}"
    if status in (401, 403):
        raise ProviderConfigError(detail)
    if status in (429, 503):
        raise ProviderResponseError("retry", detail, retry_after_seconds(response.headers))
    if status >= 500:
        # The request may have been processed before the error: only an idempotent provider may resend.
        raise ProviderResponseError("ambiguous", detail, retry_after_seconds(response.headers))
    raise ProviderResponseError("failed", detail)


def post(client: httpx.Client, url: str, provider: str, **kwargs) -> httpx.Response:
    """POST, translating transport errors: not connected = safe to retry; sent but no answer = ambiguous."""
    try:
        return client.post(url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise ProviderResponseError("retry", f"{provider}: cannot connect ({exc!r})") from exc
    except httpx.TransportError as exc:
        raise ProviderResponseError("ambiguous", f"{provider}: no answer after sending ({exc!r})") from exc
