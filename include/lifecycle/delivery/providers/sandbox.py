"""The sandbox provider: writes each message to a folder instead of sending it (the demo default).

Emails become real ``.eml`` files (open them in a mail client, or the ``.html`` beside them in a browser);
pushes and SMS become JSON (an SMS with its segments and, given a price per segment, its cost).
A file is named after the ledger key and written atomically, so writing a message twice leaves one file:
the sandbox is idempotent.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from lifecycle.delivery.email_mime import Sender, build_mime
from lifecycle.delivery.messages import Message, Outcome
from lifecycle.delivery.providers.base import Provider
from lifecycle.delivery.sms import cost


def file_stem(send_key: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", send_key)[:80]
    return f"{readable}-{hashlib.sha256(send_key.encode()).hexdigest()[:10]}"


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class SandboxProvider(Provider):
    name = "sandbox"
    channels = frozenset({"email", "push", "sms"})
    max_batch = 500
    idempotent = True

    def __init__(
        self,
        path: str | Path,
        sender: Sender,
        sms_sender: str = "Shop",
        sms_price_per_segment: float | None = None,
    ):
        self.path = Path(path)
        self.sender = sender
        self.sms_sender, self.sms_price = sms_sender, sms_price_per_segment

    def send(self, batch: list[Message]) -> list[Outcome]:
        outcomes = []
        for message in batch:
            folder = self.path / message.channel
            folder.mkdir(parents=True, exist_ok=True)
            stem = file_stem(message.send_key)
            if message.channel == "email":
                _write(folder / f"{stem}.eml", bytes(build_mime(message, self.sender)))
                _write(folder / f"{stem}.html", message.email.html.encode())
                written = folder / f"{stem}.eml"
            elif message.channel == "sms":
                price = cost(message.sms.segments, self.sms_price)
                payload = {
                    "send_key": message.send_key,
                    "customer_id": message.customer_id,
                    "to": message.to[0],
                    "sender": message.sms.sender or self.sms_sender,
                    "text": message.sms.text,
                    "segments": message.sms.segments,
                    "encoding": message.sms.encoding,
                    "transliterated": message.sms.transliterated,
                    "cost": price,
                }
                written = folder / f"{stem}.json"
                _write(written, json.dumps(payload, ensure_ascii=False, indent=2).encode())
                outcomes.append(
                    Outcome(
                        message.send_key,
                        "sent",
                        provider_message_id=written.name,
                        segments=message.sms.segments,
                        cost=price,
                    )
                )
                continue
            else:
                payload = {
                    "send_key": message.send_key,
                    "customer_id": message.customer_id,
                    "tokens": list(message.to),
                    "title": message.push.title,
                    "body": message.push.body,
                    "url": message.push.url,
                    "data": {
                        "send_key": message.send_key,
                        "chain": message.chain_id,
                        "step": message.step_id,
                    },
                }
                written = folder / f"{stem}.json"
                _write(written, json.dumps(payload, ensure_ascii=False, indent=2).encode())
            outcomes.append(Outcome(message.send_key, "sent", provider_message_id=written.name))
        return outcomes
