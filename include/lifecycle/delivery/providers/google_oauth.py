"""OAuth2 access tokens for a Google service account, without google-auth: a JWT signed with the key
from the service-account JSON (RS256, ``cryptography``), exchanged at the key file's ``token_uri``
(RFC 7523 JWT bearer grant). Tokens are cached until shortly before they expire."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from lifecycle.delivery.messages import ProviderConfigError, ProviderResponseError
from lifecycle.delivery.providers import http

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
_REQUIRED = ("client_email", "private_key", "token_uri")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class ServiceAccountToken:
    def __init__(
        self,
        info: dict[str, Any],
        client: http.Client,
        scope: str = FCM_SCOPE,
        clock: Callable[[], float] = time.time,
    ):
        missing = [key for key in _REQUIRED if not info.get(key)]
        if missing:
            raise ProviderConfigError(f"the service account JSON lacks {', '.join(missing)}")
        self.info, self.client, self.scope, self.clock = info, client, scope, clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def assertion(self, now: float) -> str:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"alg": "RS256", "typ": "JWT"}
        if self.info.get("private_key_id"):
            header["kid"] = self.info["private_key_id"]
        claims = {
            "iss": self.info["client_email"],
            "scope": self.scope,
            "aud": self.info["token_uri"],
            "iat": int(now),
            "exp": int(now) + 3600,
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        try:
            key = serialization.load_pem_private_key(self.info["private_key"].encode(), password=None)
        except ValueError as exc:
            raise ProviderConfigError(f"the service account private key cannot be read: {exc}") from None
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"

    def get(self, refresh: bool = False) -> str:
        with self._lock:
            now = self.clock()
            if self._token and not refresh and now < self._expires_at - 60:
                return self._token
            response = http.post(
                self.client,
                self.info["token_uri"],
                "oauth",
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": self.assertion(now),
                },
            )
            if response.status_code in (400, 401, 403):
                raise ProviderConfigError(
                    f"the token endpoint refused the service account: {response.text[:300]}"
                )
            try:
                http.check(response, "oauth")
                body = response.json()
                self._token = body["access_token"]
            except (ValueError, KeyError) as exc:
                raise ProviderResponseError("retry", f"oauth: unreadable token answer ({exc!r})") from exc
            self._expires_at = now + float(body.get("expires_in", 3600))
            return self._token
