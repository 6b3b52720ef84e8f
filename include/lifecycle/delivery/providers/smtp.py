"""SMTP to any server (plain, STARTTLS or implicit TLS; AUTH optional), one connection per batch.

SMTP has no idempotency: a message whose transaction broke after DATA may or may not have been delivered,
so it is reported 'unknown'; the messages after it in the batch were not attempted and are retried.
"""

from __future__ import annotations

import smtplib
import ssl

from lifecycle.delivery.email_mime import Sender, build_mime, message_id
from lifecycle.delivery.messages import Message, Outcome, ProviderConfigError
from lifecycle.delivery.providers.base import Provider


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"


def _by_code(send_key: str, code: int, text: bytes | str) -> Outcome:
    # 4xx: transient, the server did not take it; 5xx: permanent for this recipient.
    return Outcome(send_key, "retry" if 400 <= code < 500 else "failed", error=f"smtp {_reply(code, text)}")


class SmtpProvider(Provider):
    name = "smtp"
    channels = frozenset({"email"})

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
        max_batch: int = 50,
        concurrency: int = 1,
        requests_per_second: float | None = None,
    ):
        self.host, self.port, self.sender = host, port, sender
        self.login, self.password = login, password
        self.starttls, self.use_ssl, self.timeout = starttls, use_ssl, timeout
        self.max_batch, self.concurrency, self.requests_per_second = (
            max_batch,
            concurrency,
            requests_per_second,
        )

    def _connect(self) -> smtplib.SMTP:
        if self.use_ssl:
            client = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
        if self.login:
            client.login(self.login, self.password or "")
        return client

    def send(self, batch: list[Message]) -> list[Outcome]:
        try:
            client = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            raise ProviderConfigError(f"smtp login refused: {_reply(exc.smtp_code, exc.smtp_error)}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            return Outcome.for_batch(
                batch, "retry", f"smtp cannot connect to {self.host}:{self.port}: {exc!r}"
            )
        outcomes: list[Outcome] = []
        try:
            for index, message in enumerate(batch):
                try:
                    refused = client.send_message(
                        build_mime(message, self.sender),
                        from_addr=self.sender.from_email,
                        to_addrs=list(message.to),
                    )
                except smtplib.SMTPRecipientsRefused as exc:
                    code, text = next(iter(exc.recipients.values()))
                    outcomes.append(_by_code(message.send_key, code, text))
                except smtplib.SMTPSenderRefused as exc:
                    if 400 <= exc.smtp_code < 500:
                        outcomes.append(_by_code(message.send_key, exc.smtp_code, exc.smtp_error))
                        continue
                    reply = _reply(exc.smtp_code, exc.smtp_error)
                    raise ProviderConfigError(
                        f"smtp refused the sender {self.sender.from_email}: {reply}", outcomes
                    ) from exc
                except smtplib.SMTPDataError as exc:
                    outcomes.append(_by_code(message.send_key, exc.smtp_code, exc.smtp_error))
                except (OSError, smtplib.SMTPException) as exc:
                    outcomes.append(
                        Outcome(message.send_key, "unknown", error=f"smtp connection lost: {exc!r}")
                    )
                    outcomes += Outcome.for_batch(batch[index + 1 :], "retry", "smtp connection lost earlier")
                    return outcomes
                else:
                    if refused and len(refused) == len(message.to):
                        code, text = next(iter(refused.values()))
                        outcomes.append(_by_code(message.send_key, code, text))
                    else:
                        mid = message_id(message.send_key, self.sender.domain)
                        outcomes.append(Outcome(message.send_key, "sent", provider_message_id=mid))
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        return outcomes
