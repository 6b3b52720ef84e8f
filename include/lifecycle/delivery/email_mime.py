"""The MIME message of a rendered email, shared by the SMTP and sandbox providers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from lifecycle.delivery.messages import Message

#: Long header values (the List-Unsubscribe URL) must stay literal: folding them at 78 characters would
#: turn the URL into an RFC 2047 encoded word that mail clients cannot use. RFC 5322 allows 998.
_POLICY = policy.default.clone(max_line_length=998)
#: For a server without 8BITMIME: bodies are base64 / quoted-printable, never raw 8-bit (RFC 6152).
_POLICY_7BIT = _POLICY.clone(cte_type="7bit")


@dataclass(frozen=True)
class Sender:
    from_email: str
    from_name: str = ""
    reply_to: str | None = None

    @property
    def domain(self) -> str:
        return self.from_email.rpartition("@")[2] or "localhost"


def message_id(send_key: str, domain: str) -> str:
    """Deterministic per ledger key, so the same message re-sent is recognisably the same (and threads)."""
    return f"<{hashlib.sha256(send_key.encode()).hexdigest()[:32]}@{domain}>"


def build_mime(
    message: Message, sender: Sender, now: datetime | None = None, seven_bit: bool = False
) -> EmailMessage:
    if message.email is None:
        raise ValueError(f"{message.send_key}: not an email")
    mime = EmailMessage(policy=_POLICY_7BIT if seven_bit else _POLICY)
    mime["Subject"] = message.email.subject
    mime["From"] = (
        formataddr((sender.from_name, sender.from_email)) if sender.from_name else sender.from_email
    )
    mime["To"] = ", ".join(message.to)
    if sender.reply_to:
        mime["Reply-To"] = sender.reply_to
    mime["Date"] = format_datetime(now or datetime.now(UTC))
    mime["Message-ID"] = message_id(message.send_key, sender.domain)
    mime["X-Lifecycle-Send-Key"] = message.send_key
    for name, value in message.headers.items():
        mime[name] = value
    mime.set_content(message.email.text)
    mime.add_alternative(message.email.html, subtype="html")
    return mime
