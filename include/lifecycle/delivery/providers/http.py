"""The HTTP providers' client, and what an answer or a transport error means for the ledger.

:class:`Client` is urllib3's thread-safe pool of keep-alive connections with nothing of its own on top: no
retries and no redirects (the ledger alone decides what may be sent again). A one-message provider makes a
request per message, so the client's CPU per request bounds how fast one process sends: about 0.4 ms of
interpreter time per FCM request, against 1.3 ms through httpx (docs/delivery.md, "Throughput").
"""

from __future__ import annotations

import base64
import json as jsonlib
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import urllib3
from urllib3 import exceptions as errors

from lifecycle.delivery.messages import ProviderConfigError, ProviderResponseError

#: Nothing was sent: the request may be made again whatever the provider.
_NOT_SENT = (
    errors.ConnectTimeoutError,  # NewConnectionError and NameResolutionError too
    errors.EmptyPoolError,
    errors.ClosedPoolError,
    errors.SSLError,
    errors.LocationParseError,
)


class Response:
    """An answer, read whole: ``status_code``, ``content``, ``text``, ``headers`` (any case), ``json()``."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, content: bytes, headers: Mapping[str, str]):
        self.status_code, self.content, self.headers = status_code, content, headers

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class Client:
    """POSTs to one API: paths are joined to ``base_url`` (an absolute URL is taken as it is), ``headers``
    go with every request, ``auth`` is HTTP Basic (user, password); at most ``max_connections`` are kept
    open for reuse."""

    def __init__(
        self,
        base_url: str = "",
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        max_connections: int = 10,
        auth: tuple[str, str] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        if auth is not None:
            pair = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            self.headers["Authorization"] = f"Basic {pair}"
        self.pool = urllib3.PoolManager(
            maxsize=max(max_connections, 1),
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            retries=False,
        )

    def post(
        self,
        url: str,
        *,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        target = url if "://" in url else self.base_url + url
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        sent = {**self.headers, **(headers or {})}
        body = None
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            sent.setdefault("Content-Type", "application/json")
        elif data is not None:
            body = urlencode(data).encode()
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        answer = self.pool.request("POST", target, body=body, headers=sent, redirect=False, retries=False)
        return Response(answer.status, answer.data, answer.headers)

    def close(self) -> None:
        self.pool.clear()


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
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


def check(response: Response, provider: str) -> None:
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


def post(client: Client, url: str, provider: str, **kwargs: Any) -> Response:
    """POST, translating transport errors: not connected = safe to retry; sent but no answer = ambiguous."""
    try:
        return client.post(url, **kwargs)
    except _NOT_SENT as exc:
        raise ProviderResponseError("retry", f"{provider}: cannot connect ({exc!r})") from exc
    except (errors.HTTPError, OSError) as exc:
        raise ProviderResponseError("ambiguous", f"{provider}: no answer after sending ({exc!r})") from exc
