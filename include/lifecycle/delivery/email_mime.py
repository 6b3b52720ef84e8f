"""The MIME message of a rendered email, shared by the SMTP and sandbox providers."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.header import Header
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


#: RFC 5322: a line is at most 998 octets, CRLF excluded.
_MAX_LINE = 998
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _is_ascii(value: str) -> bool:
    return value.isascii() and "\r" not in value and "\n" not in value


def _header(name: str, value: str) -> str:
    """One header line; a value that is not plain ASCII (or too long) as RFC 2047 encoded words."""
    if _is_ascii(value) and len(name) + 2 + len(value) <= _MAX_LINE:
        return f"{name}: {value}"
    return f"{name}: " + Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


def _part(content_type: str, text: str, seven_bit: bool) -> bytes:
    """A text part in UTF-8: 8-bit (or 7-bit when ASCII) with CRLF line ends while every line fits,
    otherwise base64."""
    body = _LINE_BREAK.sub("\r\n", text)
    if not body.endswith("\r\n"):
        body += "\r\n"
    raw = body.encode("utf-8")
    fits = max(map(len, raw.split(b"\r\n"))) <= _MAX_LINE
    if fits and (raw.isascii() or not seven_bit):
        encoding = "7bit" if raw.isascii() else "8bit"
    else:
        encoding = "base64"
        raw = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    head = f'Content-Type: {content_type}; charset="utf-8"\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n'
    return head.encode("ascii") + raw


def mime_bytes(
    message: Message, sender: Sender, now: datetime | None = None, seven_bit: bool = False
) -> bytes:
    """The message as :func:`build_mime` makes it (multipart/alternative, text then HTML), written
    straight to bytes with CRLF line ends, ready for SMTP ``DATA``: a fraction of the CPU the email
    package's generator takes per message. Addresses or header values it cannot write plainly (non-ASCII
    addresses) fall back to :func:`build_mime`."""
    if message.email is None:
        raise ValueError(f"{message.send_key}: not an email")
    addresses = [*message.to, sender.from_email, sender.reply_to or ""]
    extra = list(message.headers.items())
    if not all(_is_ascii(a) for a in addresses) or not all(_is_ascii(n + v) for n, v in extra):
        return build_mime(message, sender, now, seven_bit).as_bytes(policy=_mime_policy(seven_bit))
    send_key = message.send_key
    boundary = "=_" + hashlib.sha256(f"boundary:{send_key}".encode()).hexdigest()[:40]
    sender_header = formataddr((sender.from_name, sender.from_email), charset="utf-8")
    lines = [
        _header("Subject", message.email.subject),
        f"From: {sender_header}" if sender.from_name else f"From: {sender.from_email}",
        "To: " + ", ".join(message.to),
    ]
    if sender.reply_to:
        lines.append(f"Reply-To: {sender.reply_to}")
    lines += [
        f"Date: {format_datetime(now or datetime.now(UTC))}",
        f"Message-ID: {message_id(send_key, sender.domain)}",
        _header("X-Lifecycle-Send-Key", send_key),
        *(f"{name}: {value}" for name, value in extra),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
        "",
    ]
    # The CRLF before each delimiter belongs to the delimiter (RFC 2046), not to the part's text.
    return b"".join(
        (
            "\r\n".join(lines).encode("ascii"),
            f"--{boundary}\r\n".encode("ascii"),
            _part("text/plain", message.email.text, seven_bit),
            f"\r\n--{boundary}\r\n".encode("ascii"),
            _part("text/html", message.email.html, seven_bit),
            f"\r\n--{boundary}--\r\n".encode("ascii"),
        )
    )


def _mime_policy(seven_bit: bool) -> policy.Policy:
    return (_POLICY_7BIT if seven_bit else _POLICY).clone(linesep="\r\n")
