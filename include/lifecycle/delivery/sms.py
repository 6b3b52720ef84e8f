"""SMS text rules: segments (GSM-7 or UCS-2), transliteration, phone numbers, sender names, cost.

An SMS travels in 140-byte segments. Text made only of the GSM 03.38 default alphabet is packed in 7 bits:
160 characters in one segment, 153 per segment once the text is split (the concatenation header takes 7);
the characters of the extension table (``^ { } \\ [ ] ~ | €`` and the form feed) are sent as an escape
plus the character, so they count twice. Any other character (Cyrillic, «», —, ₽, emoji) makes the whole
text UCS-2: 70 UTF-16 units in one segment, 67 per segment when split; a character outside the Basic
Multilingual Plane (most emoji) takes two units. A part never ends in the middle of an escaped character or
a surrogate pair, so a split text may need one part more than the plain division says.

:func:`transliterate` rewrites Russian in Latin letters (the ICAO 9303 table Russian passports use since
2014) and the common typography (« » — … № ₽, no-break spaces) in GSM characters, so a message may fit
GSM-7: the same 140 characters cost one segment instead of two or three.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

#: GSM 03.38 default alphabet (one septet each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: GSM 03.38 extension table: sent as ESC + character, two septets each.
GSM7_EXTENSION = frozenset("^{}\\[]~|€\f")

SINGLE = {"gsm7": 160, "ucs2": 70}
PART = {"gsm7": 153, "ucs2": 67}

Encoding = Literal["gsm7", "ucs2"]


def encoding_of(text: str) -> Encoding:
    return "gsm7" if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else "ucs2"


def _units(char: str, encoding: Encoding) -> int:
    if encoding == "gsm7":
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


@dataclass(frozen=True)
class Segments:
    """How a text travels: its encoding, its length in septets (GSM-7) or UTF-16 units (UCS-2), and the
    number of segments the operator bills."""

    encoding: Encoding
    characters: int
    units: int
    count: int

    def describe(self) -> str:
        name = "GSM-7" if self.encoding == "gsm7" else "UCS-2"
        return f"{self.count} segment{'s' if self.count != 1 else ''} ({name}, {self.units} units)"


def segments(text: str) -> Segments:
    """The segments ``text`` needs. An empty text still costs one segment."""
    encoding = encoding_of(text)
    sizes = [_units(c, encoding) for c in text]
    units = sum(sizes)
    if units <= SINGLE[encoding]:
        return Segments(encoding, len(text), units, 1)
    # Split greedily, never cutting an escaped character or a surrogate pair in two.
    limit, parts, used = PART[encoding], 1, 0
    for size in sizes:
        if used + size > limit:
            parts, used = parts + 1, 0
        used += size
    assert parts >= math.ceil(units / limit)
    return Segments(encoding, len(text), units, parts)


# --- transliteration -------------------------------------------------------------------------------------

_RU_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "ie", "ы": "y",
    "ь": "", "э": "e", "ю": "iu", "я": "ia",
}  # fmt: skip
_TYPOGRAPHY = {
    "«": '"', "»": '"', "„": '"', "“": '"', "”": '"', "‘": "'", "’": "'", "—": "-", "–": "-", "−": "-",
    "…": "...", "№": "N", "₽": "rub.", "\u00a0": " ", "\u202f": " ", "\u2009": " ", "•": "*", "×": "x",
}  # fmt: skip


def _latin(char: str) -> str:
    lower = char.lower()
    if lower not in _RU_LATIN:
        return _TYPOGRAPHY.get(char, char)
    latin = _RU_LATIN[lower]
    return latin if char == lower else latin.capitalize()


def transliterate(text: str) -> str:
    """Russian letters in Latin (ICAO 9303) and typography in GSM characters; anything else is kept (an
    emoji keeps the text UCS-2, which :func:`segments` then says). A word in capitals stays in capitals
    (ЩИ -> SHCHI, not ShchI)."""

    def word(match: re.Match) -> str:
        original = match.group(0)
        latin = "".join(_latin(c) for c in original)
        return latin.upper() if len(original) > 1 and original.isupper() else latin

    return re.sub(r"\w+|\W", word, text)


TransliterateMode = Literal["never", "always", "to_fit"]
TRANSLITERATE_MODES = ("never", "always", "to_fit")


@dataclass(frozen=True)
class Fitted:
    text: str
    segments: Segments
    transliterated: bool


def fit(text: str, mode: TransliterateMode, max_segments: int) -> Fitted:
    """The text to send: as written, or transliterated (``always``; ``to_fit``: only when that is what
    keeps it within ``max_segments``, or saves segments when neither version fits)."""
    original = segments(text)
    if mode == "never" or (mode == "to_fit" and original.count <= max_segments):
        return Fitted(text, original, False)
    latin = transliterate(text)
    latin_segments = segments(latin)
    if mode == "to_fit" and latin_segments.count >= original.count:
        return Fitted(text, original, False)
    return Fitted(latin, latin_segments, True)


# --- phone numbers and sender names ------------------------------------------------------------------------

_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
#: What shops write between digits (ASCII whitespace, brackets, dots, dashes), as the ingest SQL drops them.
_SEPARATORS = re.compile(r"[ \t\n\r\f\v().\-]")


def normalize_phone(raw: str | None) -> str | None:
    """The E.164 form (``+79161234567``) of a phone number as shops store them, or None when it is not one.
    Spaces, dots, dashes and brackets are dropped; a Russian national number (``8 916 123-45-67``,
    11 digits from 8) or 11 digits from 7 gets ``+7``. Anything else must already start with ``+``."""
    if raw is None:
        return None
    digits = _SEPARATORS.sub("", raw)
    if re.fullmatch(r"[78][0-9]{10}", digits):
        digits = "+7" + digits[1:]
    return digits if _E164.match(digits) else None


def is_e164(phone: str | None) -> bool:
    return bool(phone) and _E164.match(phone) is not None


_ALPHA_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ._&-]{1,11}$")
_NUMERIC_SENDER = re.compile(r"^\+?[0-9]{3,15}$")


def sender_problem(sender: str) -> str | None:
    """Why a sender name cannot be used, or None: an alphanumeric sender is 1–11 Latin letters, digits,
    spaces and ``. _ & -`` with at least one letter (operators register it as such); a numeric one is a
    phone number (up to 15 digits)."""
    if _ALPHA_SENDER.match(sender) or _NUMERIC_SENDER.match(sender):
        return None
    return (
        f"sender {sender!r} is neither an alphanumeric name (1-11 Latin letters, digits, spaces, '._&-') "
        "nor a phone number"
    )


def cost(segment_count: int, price_per_segment: float | None) -> float | None:
    """What a message costs, in the provider's currency (None when no price is configured)."""
    if price_per_segment is None:
        return None
    return round(segment_count * price_per_segment, 4)
