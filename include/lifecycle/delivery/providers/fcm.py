"""Firebase Cloud Messaging HTTP v1: one request per device token (the batch API is gone since 2024).

Auth is an OAuth2 bearer token of a service account (:mod:`.google_oauth`). A message to a customer goes to
each active token; it is 'sent' when any device accepted it. ``UNREGISTERED`` (404),
``SENDER_ID_MISMATCH`` and ``INVALID_ARGUMENT`` "not a valid FCM registration token" tokens are
retired. FCM has no idempotency key: a timeout or 500 is 'unknown'; 429/503 are retried after
``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from lifecycle.delivery.messages import Message, Outcome, ProviderConfigError, ProviderResponseError
from lifecycle.delivery.providers import http
from lifecycle.delivery.providers.base import Provider
from lifecycle.delivery.providers.google_oauth import ServiceAccountToken

DEAD_TOKEN_CODES = ("UNREGISTERED", "SENDER_ID_MISMATCH")


def _error(response: http.Response) -> tuple[str, str]:
    """FCM's error code (``details[].errorCode``, else ``status``) and message."""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        return "", ""
    if not isinstance(error, dict):
        return "", ""
    message = str(error.get("message") or "")
    for detail in error.get("details", []) or []:
        if isinstance(detail, dict) and detail.get("errorCode"):
            return detail["errorCode"], message
    return str(error.get("status") or ""), message


def is_dead_token(code: str, message: str) -> bool:
    """UNREGISTERED / SENDER_ID_MISMATCH, or INVALID_ARGUMENT about the registration token itself (FCM's
    token guidance lists it beside UNREGISTERED as a stale-token signal)."""
    if code in DEAD_TOKEN_CODES:
        return True
    return code == "INVALID_ARGUMENT" and "registration token" in message.lower()


class FcmProvider(Provider):
    name = "fcm"
    channels = frozenset({"push"})
    max_batch = 1

    def __init__(
        self,
        service_account: dict[str, Any],
        base_url: str = "https://fcm.googleapis.com",
        project_id: str | None = None,
        timeout: float = 10.0,
        concurrency: int = 20,
        requests_per_second: float | None = None,
    ):
        self.project_id = project_id or service_account.get("project_id")
        if not self.project_id:
            raise ProviderConfigError(
                "FCM needs a project_id (in the service account JSON or the connection)"
            )
        self.concurrency, self.requests_per_second = concurrency, requests_per_second
        self.client = http.Client(base_url, timeout, max_connections=max(concurrency, 1) * 2)
        self.token = ServiceAccountToken(service_account, self.client)

    def body(self, message: Message, token: str) -> dict[str, Any]:
        return {
            "message": {
                "token": token,
                "notification": {"title": message.push.title, "body": message.push.body},
                "data": {"send_key": message.send_key, "url": message.push.url, "chain": message.chain_id},
                "android": {"collapse_key": message.chain_id},
                "apns": {"headers": {"apns-collapse-id": message.chain_id[:64]}},
            }
        }

    def _post(self, message: Message, token: str) -> http.Response:
        url = f"/v1/projects/{self.project_id}/messages:send"
        response = None
        for refresh in (False, True):
            headers = {"Authorization": f"Bearer {self.token.get(refresh=refresh)}"}
            response = http.post(self.client, url, self.name, json=self.body(message, token), headers=headers)
            if response.status_code != 401:
                break
        return response

    def _send_one(self, message: Message) -> Outcome:
        sent, dead, errors = [], [], []
        unknown = retry = False
        retry_after = None
        for token in message.to:
            try:
                response = self._post(message, token)
                if response.status_code == 200:
                    sent.append(response.json().get("name", ""))
                    continue
                code, text = _error(response)
                if is_dead_token(code, text):
                    dead.append(token)
                    errors.append(f"token retired ({code})")
                    continue
                http.check(response, self.name)
            except ProviderResponseError as exc:
                errors.append(exc.detail)
                if exc.kind == "ambiguous":
                    unknown = True
                elif exc.kind == "retry":
                    retry = True
                    retry_after = max(retry_after or 0, exc.retry_after or 0) or None
        error = "; ".join(errors) or None
        if sent:
            return Outcome(message.send_key, "sent", ",".join(sent), error, dead_tokens=tuple(dead))
        state = "unknown" if unknown else "retry" if retry else "failed"
        return Outcome(message.send_key, state, error=error, retry_after=retry_after, dead_tokens=tuple(dead))

    def send(self, batch: list[Message]) -> list[Outcome]:
        outcomes = []
        for message in batch:
            try:
                outcomes.append(self._send_one(message))
            except ProviderConfigError as exc:
                raise ProviderConfigError(str(exc), outcomes) from exc
        return outcomes

    def close(self) -> None:
        self.client.close()
