"""SMSC.ru HTTP API (``POST /sys/send.php``): personalised SMS, many recipients per request.

Each request is a form POST with ``login`` and ``psw`` (or ``apikey``), ``fmt=3`` (JSON answers),
``charset=utf-8``, ``op=1`` (an answer per number), ``cost=3`` (send, and answer the cost and the new
balance) and ``sender``. One message goes as ``phones`` + ``mes``; several personalised messages as ``list``
(one ``phone:message`` per line), so a batch of different texts is one request. Numbers are passed with
their ``+``, which turns SMSC's "auto-correction" of numbers off. Our own segment count and
transliteration have already been applied: ``translit`` stays 0.

The answer is HTTP 200 either way. Success: ``{"id", "cnt", "cost", "balance", "phones": [{"phone",
"mccmnc", "cost", "status"?, "error"?}]}``; a number with an ``error`` was refused alone (a partial success:
only that row fails). A refusal of the request: ``{"error", "error_code"}`` (plus ``id`` for 3, 6, 7, 8):

=====  =========================================================  =======================================
code   meaning                                                    here
=====  =========================================================  =======================================
1      error in the parameters                                    failed (the request was malformed)
2      wrong login or password (or an IP not allowed)              the run stops (connection)
3      not enough money on the account                            the run stops; nothing was sent
4      the IP is blocked for a while after too many errors        retry later
5      wrong date format                                          failed
6      message forbidden (by its text or the sender name)         failed
7      wrong phone number format                                  failed
8      the message cannot be delivered to the number              failed
9      the same request twice within a minute, or too many        retry after a minute
       concurrent requests
=====  =========================================================  =======================================

SMSC takes no idempotency key: a timeout or a 5xx after the request left is 'unknown', never resent.
Delivery reports arrive at the status callback (``/smsc/status`` of the webhooks app) with the message id
and number; see :mod:`lifecycle.delivery.feedback`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from lifecycle.delivery.messages import (
    Message,
    Outcome,
    ProviderConfigError,
    ProviderResponseError,
    batch_outcomes,
)
from lifecycle.delivery.providers import http
from lifecycle.delivery.providers.base import Provider
from lifecycle.delivery.sms import cost as priced

#: Request-level error codes -> what the ledger may conclude.
ERRORS = {
    1: ("failed", "error in the parameters"),
    2: ("config", "wrong login or password, or this IP is not allowed"),
    3: ("config", "not enough money on the SMSC account"),
    4: ("retry", "the IP is blocked for a while after too many errors"),
    5: ("failed", "wrong date format"),
    6: ("failed", "message forbidden by its text or sender name"),
    7: ("failed", "wrong phone number format"),
    8: ("failed", "the message cannot be delivered to this number"),
    9: ("retry", "the same request twice within a minute, or too many concurrent requests"),
}
#: How long SMSC wants us to wait after error 4 or 9 (seconds).
RETRY_AFTER_S = 60.0


def digits(phone: str) -> str:
    return phone.lstrip("+")


def message_id(request_id: Any, phone: str) -> str:
    """Our provider_message_id: SMSC's request id and the number (a status report names both)."""
    return f"{request_id}:{digits(phone)}"


def _money(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


class SmscProvider(Provider):
    name = "smsc"
    channels = frozenset({"sms"})
    unique_recipients = True

    def __init__(
        self,
        login: str | None,
        password: str,
        sender: str,
        base_url: str = "https://smsc.ru",
        price_per_segment: float | None = None,
        max_batch: int = 50,
        timeout: float = 30.0,
        concurrency: int = 2,
        requests_per_second: float | None = None,
    ):
        if not password:
            raise ProviderConfigError("SMSC needs a password (or an API key without a login)")
        self.auth = {"login": login, "psw": password} if login else {"apikey": password}
        self.sender, self.price = sender, price_per_segment
        self.max_batch, self.concurrency = max_batch, concurrency
        self.requests_per_second = requests_per_second
        self.client = http.Client(base_url, timeout)

    def form(self, batch: list[Message], sender: str) -> dict[str, str]:
        form = {**self.auth, "fmt": "3", "charset": "utf-8", "op": "1", "cost": "3", "sender": sender}
        if len(batch) == 1:
            form["phones"], form["mes"] = batch[0].to[0], batch[0].sms.text
        else:
            form["list"] = "\n".join(f"{m.to[0]}:{m.sms.text}" for m in batch)
        return form

    def send(self, batch: list[Message]) -> list[Outcome]:
        by_sender: dict[str, list[Message]] = defaultdict(list)
        for message in batch:
            by_sender[message.sms.sender or self.sender].append(message)
        outcomes: list[Outcome] = []
        for sender, messages in by_sender.items():
            try:
                outcomes += self._request(messages, sender)
            except ProviderConfigError as exc:
                raise ProviderConfigError(str(exc), outcomes) from exc
            except ProviderResponseError as exc:
                outcomes += batch_outcomes(messages, exc, self.idempotent)
        return outcomes

    def _request(self, batch: list[Message], sender: str) -> list[Outcome]:
        response = http.post(self.client, "/sys/send.php", self.name, data=self.form(batch, sender))
        http.check(response, self.name)
        try:
            answer = response.json()
            if not isinstance(answer, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            # SMSC answered 200 but not in fmt=3: we cannot tell what it did.
            raise ProviderResponseError("ambiguous", f"smsc: unreadable answer ({exc})") from exc
        if "error_code" in answer or "error" in answer:
            return self._refused(batch, answer)
        return self._accepted(batch, answer)

    def _refused(self, batch: list[Message], answer: dict[str, Any]) -> list[Outcome]:
        try:
            code = int(answer.get("error_code"))
        except (TypeError, ValueError):
            code = 0
        kind, meaning = ERRORS.get(code, ("failed", "unknown error"))
        detail = f"smsc error {code}: {meaning} ({answer.get('error', '')})"
        if kind == "config":
            raise ProviderConfigError(detail)
        if kind == "retry":
            return Outcome.for_batch(batch, "retry", detail, RETRY_AFTER_S)
        return Outcome.for_batch(batch, "failed", detail)

    def _accepted(self, batch: list[Message], answer: dict[str, Any]) -> list[Outcome]:
        request_id = answer.get("id")
        if request_id is None:
            raise ProviderResponseError("ambiguous", f"smsc: an answer without an id ({str(answer)[:200]})")
        phones = {}
        for entry in answer.get("phones") or []:
            if isinstance(entry, dict) and entry.get("phone"):
                phones[digits(str(entry["phone"]))] = entry
        outcomes = []
        for message in batch:
            entry = phones.get(digits(message.to[0]))
            if entry is None:
                if len(batch) == 1 and not phones:
                    entry = {"cost": answer.get("cost")}
                else:
                    error = "smsc: the answer does not name this number"
                    outcomes.append(Outcome(message.send_key, "unknown", error=error))
                    continue
            error = entry.get("error") or entry.get("error_code")
            if error not in (None, "", 0, "0"):
                outcomes.append(
                    Outcome(message.send_key, "failed", error=f"smsc refused {message.to[0]}: {error}")
                )
                continue
            segments = message.sms.segments
            price = _money(entry.get("cost"))
            outcomes.append(
                Outcome(
                    message.send_key,
                    "sent",
                    provider_message_id=message_id(request_id, message.to[0]),
                    segments=segments,
                    cost=price if price is not None else priced(segments, self.price),
                )
            )
        return outcomes

    def close(self) -> None:
        self.client.close()
