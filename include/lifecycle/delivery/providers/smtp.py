"""SMTP to any server (plain, STARTTLS or implicit TLS; AUTH optional).

Each message is its own request (``max_batch = 1``), so the dispatcher hands over and records one message
at a time; the connection is kept open across messages (``messages_per_connection``, one per sending
thread). SMTP has no idempotency, so what a failure means depends on how far the transaction got:

* refused before the message body was sent (connect, MAIL FROM, RCPT TO, a ``421`` closing the
  connection, a connection the server dropped while idle): certainly not delivered — retried later;
* a ``4xx`` / ``5xx`` reply to the body: not taken (retry) / refused for good (failed);
* the connection broken after the body started: maybe delivered — 'unknown', never resent.

A ``421`` makes smtplib drop the connection; the next message opens a new one instead of failing.
Bodies are sent as 8-bit only to a server that advertises ``8BITMIME`` (then with ``BODY=8BITMIME``,
RFC 6152); to any other server they are base64 / quoted-printable encoded.
"""

from __future__ import annotations

import smtplib
import ssl
import threading

from lifecycle.delivery.email_mime import Sender, message_id, mime_bytes
from lifecycle.delivery.messages import Message, Outcome, ProviderConfigError
from lifecycle.delivery.providers.base import Provider


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"


def _by_code(send_key: str, code: int, text: bytes | str) -> Outcome:
    # 4xx (421 included): transient, the server did not take it; 5xx: permanent for this recipient.
    return Outcome(send_key, "retry" if 400 <= code < 500 else "failed", error=f"smtp {_reply(code, text)}")


class _Client:
    """One SMTP connection and how far the current transaction got."""

    def __init__(self, smtp: smtplib.SMTP):
        self.smtp = smtp
        self.sent = 0
        self.body_started = False
        original = smtp.data

        def data(msg):  # from here on the server may have taken the message
            self.body_started = True
            return original(msg)

        smtp.data = data

    @property
    def alive(self) -> bool:
        return getattr(self.smtp, "sock", None) is not None

    def close(self) -> None:
        try:
            self.smtp.quit()
        except (OSError, smtplib.SMTPException):
            self.smtp.close()


class SmtpProvider(Provider):
    name = "smtp"
    channels = frozenset({"email"})
    max_batch = 1

    def __init__(
        self,
        host: str,
        port: int,
        sender: Sender,
        login: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        use_ssl: bool = False,
        timeout: float = 30.0,
        messages_per_connection: int = 50,
        concurrency: int = 1,
        requests_per_second: float | None = None,
    ):
        self.host, self.port, self.sender = host, port, sender
        self.login, self.password = login, password
        self.starttls, self.use_ssl, self.timeout = starttls, use_ssl, timeout
        self.messages_per_connection = max(messages_per_connection, 1)
        self.concurrency, self.requests_per_second = concurrency, requests_per_second
        self._local = threading.local()
        self._clients: list[_Client] = []
        self._lock = threading.Lock()

    def _connect(self) -> smtplib.SMTP:
        if self.use_ssl:
            client = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
        client.ehlo_or_helo_if_needed()
        if self.login:
            client.login(self.login, self.password or "")
        return client

    def _client(self) -> _Client:
        """This thread's connection: reused while alive and under its message budget, else a new one."""
        client: _Client | None = getattr(self._local, "client", None)
        if client is not None and (not client.alive or client.sent >= self.messages_per_connection):
            client.close()
            client = None
        if client is None:
            client = _Client(self._connect())
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def _drop(self) -> None:
        client = getattr(self._local, "client", None)
        if client is not None:
            client.close()
            self._local.client = None

    def send(self, batch: list[Message]) -> list[Outcome]:
        return [self._send_one(message) for message in batch]

    def _send_one(self, message: Message) -> Outcome:
        try:
            client = self._client()
        except smtplib.SMTPAuthenticationError as exc:
            raise ProviderConfigError(f"smtp login refused: {_reply(exc.smtp_code, exc.smtp_error)}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            return Outcome(
                message.send_key, "retry", error=f"smtp cannot connect to {self.host}:{self.port}: {exc!r}"
            )
        client.body_started = False
        client.sent += 1
        eight_bit = client.smtp.has_extn("8bitmime")
        try:
            refused = client.smtp.sendmail(
                self.sender.from_email,
                list(message.to),
                mime_bytes(message, self.sender, seven_bit=not eight_bit),
                mail_options=["BODY=8BITMIME"] if eight_bit else [],
            )
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return _by_code(message.send_key, code, text)
        except smtplib.SMTPSenderRefused as exc:
            if 400 <= exc.smtp_code < 500:
                return _by_code(message.send_key, exc.smtp_code, exc.smtp_error)
            reply = _reply(exc.smtp_code, exc.smtp_error)
            raise ProviderConfigError(f"smtp refused the sender {self.sender.from_email}: {reply}") from exc
        except smtplib.SMTPDataError as exc:
            return _by_code(message.send_key, exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            if client.body_started:
                return Outcome(
                    message.send_key, "unknown", error=f"smtp connection lost while sending: {exc!r}"
                )
            return Outcome(message.send_key, "retry", error=f"smtp connection lost before sending: {exc!r}")
        if refused and len(refused) == len(message.to):
            code, text = next(iter(refused.values()))
            return _by_code(message.send_key, code, text)
        return Outcome(
            message.send_key, "sent", provider_message_id=message_id(message.send_key, self.sender.domain)
        )

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            if client.alive:
                client.close()
