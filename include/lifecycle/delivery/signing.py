"""Signed links and signatures: the one-click unsubscribe link, promo codes, and webhook verification.

Every secret comes from the caller (the Airflow layer reads it from a Connection); nothing here reads the
environment. Tokens are HMAC-SHA256 with a purpose prefix: a token minted for one use is useless for another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass

#: Characters of a promo code: no 0/O, 1/I/L confusion when a customer types it at the till.
_PROMO_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class LinkSigner:
    """Mints and checks the links that go into messages. ``base_url`` is where the webhook app is served,
    e.g. ``https://crm.shop.example/lifecycle-webhooks``."""

    secret: bytes
    base_url: str

    def __post_init__(self):
        if len(self.secret) < 16:
            raise ValueError("the link signing secret must be at least 16 bytes")

    def _mac(self, purpose: str, value: str) -> bytes:
        return hmac.new(self.secret, f"{purpose}:{value}".encode(), hashlib.sha256).digest()

    def unsubscribe_token(self, send_key: str) -> str:
        return f"{_b64(send_key.encode())}.{_b64(self._mac('unsubscribe', send_key))}"

    def verify_unsubscribe(self, token: str) -> str | None:
        """The send key a token was minted for, or None when the token is forged or damaged."""
        try:
            payload, mac = token.split(".", 1)
            send_key = _unb64(payload).decode()
            given = _unb64(mac)
        except (ValueError, UnicodeDecodeError, binascii.Error):
            return None
        return send_key if hmac.compare_digest(given, self._mac("unsubscribe", send_key)) else None

    def unsubscribe_url(self, send_key: str) -> str:
        return f"{self.base_url.rstrip('/')}/unsubscribe/{self.unsubscribe_token(send_key)}"

    def promo_code(self, prefix: str, chain_id: str, instance_id: str) -> str:
        """A deterministic code, unique per chain instance and unguessable without the secret."""
        number = int.from_bytes(self._mac("promo", f"{chain_id}:{instance_id}")[:10], "big")
        chars = []
        for _ in range(10):
            number, index = divmod(number, len(_PROMO_ALPHABET))
            chars.append(_PROMO_ALPHABET[index])
        return f"{prefix}-{''.join(chars)}"


# --- generic HMAC webhook signature (sandbox and any provider that signs with a shared secret) -------------

SIGNATURE_HEADER = "X-Lifecycle-Signature"


def sign_webhook(secret: bytes, body: bytes, timestamp: int | None = None) -> str:
    """The value of :data:`SIGNATURE_HEADER`: ``t=<unix time>,v1=<hex HMAC-SHA256 of "t." + body>``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_timestamp_fresh(header: str | None, now: float | None = None, tolerance_s: int = 300) -> bool:
    """The ``t=`` of an ``X-Lifecycle-Signature`` header is within ``tolerance_s`` of now."""
    try:
        parts = dict(item.split("=", 1) for item in (header or "").split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    return abs(now - timestamp) <= tolerance_s


def verify_webhook(
    secret: bytes, header: str | None, body: bytes, now: float | None = None, tolerance_s: int = 300
) -> bool:
    """True when ``header`` signs exactly ``body`` with ``secret`` within ``tolerance_s`` (no replays)."""
    if not header:
        return False
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given, expected)


# --- SendGrid signed Event Webhook -------------------------------------------------------------------------

SENDGRID_SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def load_sendgrid_public_key(key: str):
    """The ECDSA public key SendGrid shows in Mail Settings: base64 DER, or the same wrapped as PEM."""
    from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

    key = key.strip()
    if key.startswith("-----BEGIN"):
        return load_pem_public_key(key.encode())
    return load_der_public_key(base64.b64decode(key))


#: Signed events older (or newer) than this are refused as replays; SendGrid signs every delivery attempt,
#: its retries included, with the time of that attempt.
SENDGRID_TOLERANCE_S = 600


def sendgrid_timestamp_fresh(
    timestamp: str | None, now: float | None = None, tolerance_s: int = SENDGRID_TOLERANCE_S
) -> bool:
    """The signed timestamp header is a number of seconds within ``tolerance_s`` of now."""
    try:
        signed_at = float(timestamp or "")
    except ValueError:
        return False
    now = time.time() if now is None else now
    return abs(now - signed_at) <= tolerance_s


def verify_sendgrid(
    public_key,
    signature_b64: str | None,
    timestamp: str | None,
    body: bytes,
    now: float | None = None,
    tolerance_s: int = SENDGRID_TOLERANCE_S,
) -> bool:
    """ECDSA P-256/SHA-256 over ``timestamp + raw body`` (sendgrid-python's EventWebhook.verify_signature),
    signed within ``tolerance_s`` of now (a captured request cannot be replayed later)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if not signature_b64 or not timestamp or not sendgrid_timestamp_fresh(timestamp, now, tolerance_s):
        return False
    try:
        public_key.verify(
            base64.b64decode(signature_b64), timestamp.encode() + body, ec.ECDSA(hashes.SHA256())
        )
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's request signature: HMAC-SHA1 keyed with the Auth Token over the full URL Twilio called
    followed by each POST parameter's name and value, sorted by name; base64-encoded."""
    data = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def verify_twilio(auth_token: str, signature: str | None, url: str, params: dict[str, str]) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(signature.encode(), twilio_signature(auth_token, url, params).encode())


def smsc_checksum(secret: str, message_id: str, phone: str, status: str) -> str:
    """The checksum of an SMSC status report: MD5 (hex) of ``<id>:<phone>:<status>:<secret>``."""
    return hashlib.md5(f"{message_id}:{phone}:{status}:{secret}".encode()).hexdigest()


def verify_smsc(secret: str, params: dict[str, str]) -> bool:
    given = params.get("md5") or ""
    expected = smsc_checksum(secret, params.get("id", ""), params.get("phone", ""), params.get("status", ""))
    return bool(given) and hmac.compare_digest(given.lower().encode(), expected.encode())
