"""The SMTP message bytes (``mime_bytes``) against the email package's own message (``build_mime``): the
same headers and bodies once parsed, CRLF line ends, no line over 998 octets, 8-bit only when allowed."""

from datetime import datetime
from email import message_from_bytes, policy

import pytest

from lifecycle.delivery.email_mime import Sender, build_mime, mime_bytes
from lifecycle.delivery.messages import EmailContent, Message

NOW = datetime(2026, 11, 23, 9, 30)
SENDER = Sender("shop@shop.example", "Электросфера", reply_to="help@shop.example")
UNSUBSCRIBE = "<https://crm.shop.example/lifecycle-webhooks/unsubscribe/" + "x" * 150 + ">"


def _message(html: str, text: str, to: str = "anna@example.ru", subject: str = "Анна, ваша корзина ждёт"):
    return Message(
        send_key="abandoned_cart:42:email_1",
        channel="email",
        customer_id=42,
        chain_id="abandoned_cart",
        step_id="email_1",
        message_kind="trigger",
        to=(to,),
        email=EmailContent(subject=subject, preheader="", html=html, text=text),
        headers={"List-Unsubscribe": UNSUBSCRIBE, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )


def _parts(raw: bytes):
    parsed = message_from_bytes(raw, policy=policy.default)
    headers = {
        name: str(parsed[name])
        for name in ("Subject", "From", "To", "Reply-To", "Date", "Message-ID", "X-Lifecycle-Send-Key")
    }
    headers |= {name: str(parsed[name]) for name in ("List-Unsubscribe", "List-Unsubscribe-Post")}
    bodies = {
        kind: parsed.get_body((kind,)).get_content().replace("\r\n", "\n") for kind in ("plain", "html")
    }
    encodings = {p["Content-Transfer-Encoding"] for p in parsed.walk() if not p.is_multipart()}
    return headers, bodies, encodings


HTML = "<p>Привет, Анна! «Смартфон X» теперь 12 990 ₽.</p>\n" * 60
TEXT = "Привет, Анна!\n\nСмартфон X теперь 12 990 ₽.\n"


@pytest.mark.parametrize("seven_bit", [False, True])
def test_the_same_message_as_the_email_package_writes(seven_bit):
    message = _message(HTML, TEXT)
    ours = mime_bytes(message, SENDER, NOW, seven_bit=seven_bit)
    reference = build_mime(message, SENDER, NOW, seven_bit=seven_bit).as_bytes(
        policy=policy.default.clone(max_line_length=998, linesep="\r\n")
    )
    headers, bodies, encodings = _parts(ours)
    assert (headers, bodies) == _parts(reference)[:2]
    assert encodings == ({"base64"} if seven_bit else {"8bit"})
    lines = ours.split(b"\r\n")
    joined = b"".join(lines)
    assert b"\n" not in joined
    assert b"\r" not in joined
    assert max(map(len, lines)) <= 998
    # The unsubscribe URL stays literal on one line (an encoded word would break it).
    assert f"List-Unsubscribe: {UNSUBSCRIBE}".encode() in lines
    if seven_bit:
        assert ours.isascii()


def test_a_line_too_long_for_smtp_goes_as_base64_and_ascii_as_7bit():
    long_line = "<td>" + "Электросфера " * 100 + "</td>"
    _, bodies, encodings = _parts(mime_bytes(_message(long_line, "Hello\n"), SENDER, NOW))
    assert bodies == {"plain": "Hello\n", "html": long_line + "\n"}
    assert encodings == {"7bit", "base64"}


def test_an_address_it_cannot_write_plainly_falls_back_to_the_email_package():
    message = _message(HTML, TEXT, to="анна@пример.рф")
    headers, bodies, _ = _parts(mime_bytes(message, SENDER, NOW))
    assert headers["To"] == "анна@пример.рф"
    assert bodies["plain"] == TEXT
