"""What travels between rendering, providers and the ledger: messages, per-message outcomes, errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

#: Ledger states a provider may report for one message. ``retry`` means "certainly not delivered, or the
#: provider deduplicates": the dispatcher may send it again; once retries run out it goes back to 'planned'.
OutcomeState = Literal["sent", "failed", "unknown", "retry"]

# Deliberately simple: one @, no spaces, a dot in the domain. Providers validate fully; this catches the
# rows that would make a whole SendGrid batch fail with 400.
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;.]{2,}$")


def is_valid_email(address: str | None) -> bool:
    return bool(address) and len(address) <= 254 and _EMAIL.match(address) is not None


@dataclass(frozen=True)
class EmailContent:
    subject: str
    preheader: str
    html: str
    text: str


@dataclass(frozen=True)
class PushContent:
    title: str
    body: str
    url: str


@dataclass(frozen=True)
class SmsContent:
    """An SMS as it will leave: the text (transliterated if the step asked for it), its segment count and
    encoding, the sender name (None: the provider's default) and the step's segment limit."""

    text: str
    segments: int
    encoding: str
    transliterated: bool = False
    sender: str | None = None
    max_segments: int = 1


@dataclass(frozen=True)
class Message:
    """One ledger row, rendered and addressed. ``to`` is an email address, the customer's push tokens or
    the customer's phone number (E.164)."""

    send_key: str
    channel: Literal["email", "push", "sms"]
    customer_id: int
    chain_id: str
    step_id: str
    message_kind: str
    to: tuple[str, ...]
    email: EmailContent | None = None
    push: PushContent | None = None
    sms: SmsContent | None = None
    #: Extra email headers (List-Unsubscribe, List-Unsubscribe-Post).
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def recipient(self) -> str:
        return ",".join(self.to) if self.channel in ("email", "sms") else f"customer:{self.customer_id}"


@dataclass(frozen=True)
class Outcome:
    send_key: str
    state: OutcomeState
    provider_message_id: str | None = None
    error: str | None = None
    #: Seconds the provider asked us to wait (Retry-After / X-RateLimit-Reset), for ``retry`` outcomes.
    retry_after: float | None = None
    #: Push tokens the provider reported as dead; they are retired whatever the message's state.
    dead_tokens: tuple[str, ...] = ()
    #: SMS: the segments billed and what the message cost (the provider's answer, else segments x price).
    segments: int | None = None
    cost: float | None = None
    #: The provider says the recipient opted out on its side (Twilio 21610): suppress the address.
    opted_out: bool = False

    @classmethod
    def for_batch(
        cls, batch: list[Message], state: OutcomeState, error: str, retry_after: float | None = None
    ):
        return [cls(m.send_key, state, error=error, retry_after=retry_after) for m in batch]


class DeliveryError(Exception):
    """Base of delivery errors."""


class ProviderConfigError(DeliveryError):
    """Credentials or settings are wrong (401/403, sender refused): the run must fail. ``outcomes`` holds
    what the provider did settle before it noticed; every other message of the batch was not sent."""

    def __init__(self, detail: str, outcomes: list[Outcome] | None = None):
        super().__init__(detail)
        self.outcomes = outcomes or []


class ProviderResponseError(DeliveryError):
    """A whole request failed; ``kind`` says what the ledger may conclude (see :func:`batch_outcomes`)."""

    def __init__(
        self, kind: Literal["retry", "failed", "ambiguous"], detail: str, retry_after: float | None = None
    ):
        super().__init__(detail)
        self.kind, self.detail, self.retry_after = kind, detail, retry_after


def batch_outcomes(batch: list[Message], error: ProviderResponseError, idempotent: bool) -> list[Outcome]:
    """Per-message outcomes for a failed request. An ambiguous failure (timeout or 5xx after the request
    was sent) is retried only when the provider deduplicates by our key; otherwise it is 'unknown'."""
    if error.kind == "ambiguous":
        state: OutcomeState = "retry" if idempotent else "unknown"
    else:
        state = error.kind
    return Outcome.for_batch(batch, state, error.detail, error.retry_after)
